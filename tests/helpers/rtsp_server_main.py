"""GStreamer RTSP server for tests, run by Debian's /usr/bin/python3 (python3-gi is not in the venv).

Serves a folder of JPEG frames (f0000.jpg, f0001.jpg, ...) looped forever as H.264 over RTSP:
    /usr/bin/python3 rtsp_server_main.py --port 8554 --frames DIR --fps 10 --path /cam
Prints "ready" when listening.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--path", default="/cam")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( multifilesrc location="{args.frames}/f%04d.jpg" index=0 loop=true '
        f'caps="image/jpeg,framerate={args.fps}/1" ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! '
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} bitrate=1500 threads=1 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr, flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
