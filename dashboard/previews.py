"""Latest preview frame per camera, kept as ONE file per camera so every web worker (any process) can read it.

The ingest replaces ``<preview_dir>/<site>__<camera>.jpg`` atomically on each preview message (never a second
frame, never a history); the web's live view answers polls by the file's modification time (ETag). Names are topic-safe (no
``/``), so they are safe file names. ``preview_dir`` is outside the snapshot directory so backups of the
snapshots never hold previews (the installer puts it under /var/cache), and a retention run deletes frames
older than ``retention.preview_max_age_s`` (docs/privacy.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dashboard.store import write_file_atomic
from edge_agent.core.topics import check_name


def default_preview_dir(snapshot_dir: Path) -> Path:
    """Where previews go when no ``preview_dir`` is given: ``live`` beside (not inside) the snapshots."""
    return Path(snapshot_dir).resolve().parent / "live"


@dataclass(frozen=True, slots=True)
class Frame:
    version: tuple[int, int]  # (st_mtime_ns, st_ino): every atomic replace gives a new inode
    jpeg: bytes


class PreviewStore:
    def __init__(self, preview_dir: Path) -> None:
        self.directory = Path(preview_dir)

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

    def purge_stale(self, max_age_s: float, now: float | None = None) -> int:
        """Delete frames not replaced for ``max_age_s`` (a camera that stopped sending); returns how many."""
        import time

        cutoff = (time.time() if now is None else now) - max_age_s
        n = 0
        for p in self.directory.glob("*.jpg") if self.directory.is_dir() else ():
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    n += 1
            except OSError:
                continue
        return n
