"""Hand freed native memory back to the system: glibc's ``mallopt(M_MMAP_THRESHOLD)`` and ``malloc_trim``.

Frames (2.7 MB per 720p BGR image), FFmpeg's buffers and the detector's blobs are allocated and freed by
several threads many times a second. glibc keeps what they free inside its arenas (``MALLOC_ARENA_MAX=2`` in
the systemd unit bounds the number of arenas, not what each retains), so the agent's RSS stays at its
high-water mark. Two remedies, both applied by the agent at start / in its main loop:

- :func:`tune_malloc` fixes glibc's mmap threshold at 256 KiB. By default the threshold *rises* to the size
  of the largest block freed (up to 32 MB), so after the first frame is freed every later frame comes from
  the arenas, and the holes between live blocks stay resident. With a fixed threshold each frame-sized block
  is its own mapping, unmapped when freed. Measured: 4 x 720p cameras 281 -> 267-269 MB (docs/performance.md).
  An explicit ``MALLOC_MMAP_THRESHOLD_`` in the environment wins (then this does nothing).
- ``malloc_trim(0)`` returns the free pages of every arena to the kernel (madvise); the main loop calls it
  every few seconds (a few ms of one core).

On a C library without these (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

TRIM_EVERY_S = 5.0
MMAP_THRESHOLD = 256 * 1024  # bytes: a 720p BGR frame is 2.7 MB, a 160 px grey motion frame 14 kB
_M_MMAP_THRESHOLD = -3  # glibc malloc.h


def _libc_function(name: str, *argtypes: Any) -> Any:
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn


_trim = _libc_function("malloc_trim", ctypes.c_size_t)
_mallopt = _libc_function("mallopt", ctypes.c_int, ctypes.c_int)


def tune_malloc(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (see the module doc); True when set, False when the environment already
    sets it or the C library has no mallopt."""
    if _mallopt is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    ok = bool(_mallopt(_M_MMAP_THRESHOLD, threshold))
    log.debug("malloc mmap threshold %d bytes: %s", threshold, "set" if ok else "refused")
    return ok


def malloc_trim() -> bool:
    """Return free heap pages to the system; True when something was released (False: nothing or unsupported)."""
    return bool(_trim(0)) if _trim is not None else False


class Trimmer:
    """Calls :func:`malloc_trim` at most every ``every_s`` seconds of the monotonic clock passed to ``tick``."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self.every_s = every_s
        self._last = float("-inf")
        self.calls = 0

    def tick(self, now: float) -> None:
        if now - self._last < self.every_s:
            return
        self._last = now
        self.calls += 1
        malloc_trim()
