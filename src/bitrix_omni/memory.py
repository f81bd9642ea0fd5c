"""Handing freed memory back to the operating system between the phases of a big step.

Arrow's memory pool (mimalloc or jemalloc) and glibc's ``malloc`` keep freed blocks for
reuse. Within one phase that is what makes them fast; between phases of the identity step
it means the temporaries of a finished phase (hash tables, sort keys, decoded strings)
still count in the process's resident memory while the next phase allocates its own, so
the peak is the sum of the phases instead of the largest one. :func:`release_unused`
returns those blocks; it changes no data and costs a few milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa

__all__ = ["release_unused"]


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's ``malloc_trim``, or None on a C library without it (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_unused() -> None:
    """Return the freed blocks of Arrow's memory pool and of ``malloc`` to the system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
