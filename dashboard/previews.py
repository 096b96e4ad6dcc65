"""Latest preview frame per camera, kept as a file so every web worker (any process) can read it.

The ingest replaces ``<dir>/<site>__<camera>.jpg`` atomically on each preview message; the web's MJPEG relay
polls the file's modification time. Names are topic-safe (no ``/``), so they are safe file names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dashboard.store import write_file_atomic
from edge_agent.core.topics import check_name

LIVE_DIR = "_live"  # under the snapshot directory; a site name cannot start with "_"


@dataclass(frozen=True, slots=True)
class Frame:
    version: tuple[int, int]  # (st_mtime_ns, st_ino): every atomic replace gives a new inode
    jpeg: bytes


class PreviewStore:
    def __init__(self, snapshot_dir: Path) -> None:
        self.directory = Path(snapshot_dir) / LIVE_DIR

    def path(self, site: str, camera: str) -> Path:
        return self.directory / f"{check_name('site', site)}__{check_name('camera', camera)}.jpg"

    def put(self, site: str, camera: str, jpeg: bytes) -> None:
        write_file_atomic(self.path(site, camera), jpeg)

    def version(self, site: str, camera: str) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path(site, camera))
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def get(self, site: str, camera: str) -> Frame | None:
        p = self.path(site, camera)
        try:
            with open(p, "rb") as fh:
                st = os.fstat(fh.fileno())
                return Frame((st.st_mtime_ns, st.st_ino), fh.read())
        except OSError:
            return None
