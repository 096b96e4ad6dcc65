"""Where the agent's resident memory is: ``maskwatch agent`` with N 720p RTSP cameras, /proc/<pid>/smaps grouped.

    MALLOC_ARENA_MAX=2 python bench/agent_smaps.py --cameras 4 --seconds 15

Prints RSS by kind of mapping (heap/anonymous = malloc arenas and large mmaps: FFmpeg buffers, frames, net
buffers; each shared library's resident pages; stacks) - the native-memory view that tracemalloc lacks.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_harness import (  # noqa: E402,E501
    AgentProcess,
    free_port,
    mosquitto,
    proc_sample,
    rtsp,
    shipped_detector,
    wait_for,
    write_agent_config,
)


def smaps(pid: int) -> dict[str, float]:
    """RSS in MB per mapping name (anonymous mappings: '[anon]'), largest first."""
    out: collections.Counter[str] = collections.Counter()
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                name = parts[5] if len(parts) > 5 else "[anon]"
                name = name.rsplit("/", 1)[-1] if name.startswith("/") else name
            elif parts[0] == "Rss:":
                out[name] += int(parts[1]) / 1024
    return dict(out.most_common())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--fps", type=int, default=5)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--tracemalloc", type=Path, help="also write the largest Python allocations to this file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-smaps-") as tmp:
        work = Path(tmp)
        frames = rtsp.render_frames(work / "frames", seconds=8, fps=args.fps, width=1280, height=720)
        broker = mosquitto.Mosquitto(work / "broker", persistence=False).start()
        server = rtsp.RtspServer(frames, fps=args.fps).start()
        try:
            cams = [{"name": f"cam{i + 1}", "source": {"type": "rtsp", "url": server.url}, "detect_fps": args.fps,
                     "open_timeout_s": 10, "read_timeout_s": 5} for i in range(args.cameras)]
            port = free_port()
            config = write_agent_config(work / "agent", broker.port, cams, port, log_level="WARNING",
                                        detector=shipped_detector())
            agent = AgentProcess(config, port)
            if args.tracemalloc is not None:
                agent.args = ["--script", str(Path(__file__).with_name("agent_tracemalloc_main.py")), str(config),
                              str(args.seconds + 10), str(args.tracemalloc)]
            agent.start()
            try:
                wait_for(lambda: bool(h := agent.try_health()) and len(h["cameras"]) == args.cameras
                         and all(c["frames"] >= 3 for c in h["cameras"].values()), 120, interval=0.5, what="cameras")
                rss_max = 0.0
                end = time.monotonic() + args.seconds + (12 if args.tracemalloc else 0)
                while time.monotonic() < end:
                    time.sleep(0.5)
                    rss_max = max(rss_max, proc_sample(agent.pid).rss_mb)
                groups = smaps(agent.pid)
                h = agent.health()
            finally:
                agent.stop()
        finally:
            server.stop()
            broker.stop()
    print(f"{args.cameras} camera(s): RSS max {rss_max:.1f} MB, smaps total {sum(groups.values()):.1f} MB, "
          f"frames {[c['frames'] for c in h['cameras'].values()]}")
    for name, mb in list(groups.items())[:args.top]:
        print(f"{mb:8.1f} MB  {name}")


if __name__ == "__main__":
    main()
