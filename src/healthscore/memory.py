"""Give freed memory back to the system between the large steps of a run.

A bucketed ``score`` frees each bucket's frames before the next, but the C allocators
keep the freed pages: glibc's heap (pandas and NumPy arrays below its mmap threshold,
which grows after large frees) and Arrow's memory pool. The resident set then grows
bucket after bucket and the report starts on top of it. :func:`release_memory` runs
the garbage collector and asks both to return what they hold unused. It changes no
result; where an allocator has no such call (not glibc, an older Arrow) it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_memory() -> None:
    """Collect garbage and return the allocators' unused memory to the system."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
