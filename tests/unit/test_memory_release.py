"""healthscore.memory.release_memory gives freed heap pages back to the system: blocks
below glibc's mmap threshold stay resident after they are freed while a live block sits
above them, until the allocator is asked to trim (what a bucketed ``score`` does between
buckets and before its report)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from healthscore.memory import _malloc_trim, release_memory


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    pytest.skip("no /proc/self/status")


@pytest.mark.skipif(_malloc_trim() is None, reason="not glibc: no malloc_trim")
def test_freed_heap_blocks_go_back_after_release():
    blocks = [np.ones(4000) for _ in range(8000)]  # 32 KB each: 250 MiB on the heap
    pinned = blocks[-1]  # a live block at the top keeps the heap from shrinking by itself
    del blocks
    gc.collect()
    before = _rss_mib()
    release_memory()
    after = _rss_mib()
    assert before - after > 150, (before, after)
    assert pinned.sum() == 4000  # still alive and intact


def test_release_changes_no_live_data():
    frame = {"a": np.arange(1000.0), "b": [str(i) for i in range(1000)]}
    release_memory()
    assert frame["a"].sum() == 499500.0 and frame["b"][-1] == "999"
