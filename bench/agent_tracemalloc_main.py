"""``maskwatch agent`` under tracemalloc (bench/agent_smaps.py --tracemalloc): after DELAY seconds, write the
largest Python allocations (numpy arrays included: numpy reports its buffers to tracemalloc) to OUT."""

import sys
import threading
import tracemalloc

config, delay, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
tracemalloc.start(8)


def dump() -> None:
    snap = tracemalloc.take_snapshot()
    with open(out, "w") as f:
        cur, peak = tracemalloc.get_traced_memory()
        f.write(f"traced now {cur / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB\n")
        for stat in snap.statistics("traceback")[:15]:
            f.write(f"{stat.size / 2**20:8.2f} MB {stat.count:6d} blocks\n")
            for line in stat.traceback.format()[-8:]:
                f.write(f"    {line}\n")


threading.Timer(delay, dump).start()
from edge_agent.cli import main  # noqa: E402

raise SystemExit(main(["agent", "--config", config]))
