"""Keeping a scoring run's resident memory bounded on glibc (Linux): no-ops elsewhere.

glibc keeps freed heap pages resident, and it serves blocks up to a moving threshold (raised to
the largest block ever freed, at most 32 MiB) from the heap. Two consequences matter to a run
that streams millions of passages or meets one huge record:

* freed chunks accumulate between commits (:func:`release_memory` hands them back), and
* reading a 20 MB record makes several transient copies (the raw line, its decoded text, the
  parsed string while it grows) that, once freed, stay resident as heap fragments while the
  model runs (:func:`mapped_reads` reads with big blocks mapped, so they go back at once).

Measured with ``bench/score_memory.py``; the setting is global to the process, so it is only
switched on around reading, never while the model computes (where mapping every big tensor
would cost ~28% speed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["mapped_reads", "release_memory"]

T = TypeVar("T")

#: glibc's ``mallopt`` parameter number for the mmap threshold
M_MMAP_THRESHOLD = -3
#: while reading: blocks from 1 MiB up are mapped, so a huge record's copies are freed at once
READ_THRESHOLD = 1 << 20
#: while computing: glibc's own ceiling, so tensors of a batch are reused from the heap
COMPUTE_THRESHOLD = 32 << 20
_LIBC: Any = None


def _libc() -> Any:
    """glibc, or ``None`` where the C library is another (macOS, musl) or cannot be loaded."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC = lib if hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else False
        except OSError:
            _LIBC = False
    return _LIBC or None


def release_memory() -> None:
    """Hand freed heap pages back to the system (``malloc_trim``)."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)


def mapped_reads(items: Iterable[T]) -> Iterator[T]:
    """``items``, each produced with blocks of 1 MiB or more served as their own mappings.

    Wrap a record reader with it: the copies made while reading a huge record are returned to
    the system when freed instead of staying resident beside the model's working memory.
    """
    lib = _libc()
    it = iter(items)
    while True:
        if lib is not None:
            lib.mallopt(M_MMAP_THRESHOLD, READ_THRESHOLD)
        try:
            item = next(it)
        except StopIteration:
            return
        finally:
            if lib is not None:
                lib.mallopt(M_MMAP_THRESHOLD, COMPUTE_THRESHOLD)
        yield item
