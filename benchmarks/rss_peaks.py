"""Where a command's peak RSS is: run a module's ``main`` in this process while a thread
samples the resident set every ``--every`` seconds and, at each new peak (by at least
``--step`` MiB), logs the main thread's innermost healthscore frames.

    PYTHONPATH=src python benchmarks/rss_peaks.py [--every 0.2] [--step 64] -- \
        -m healthscore.cli -q --params params.yaml score --as-of DATE ...

A profiling aid for the memory bounds of issue 16 (no timing, no record).
"""

from __future__ import annotations

import argparse
import runpy
import sys
import threading
import time
import traceback


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def where(thread_id: int, depth: int = 4) -> str:
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "?"
    stack = [f for f in traceback.extract_stack(frame) if "healthscore" in f.filename]
    return " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in reversed(stack[-depth:]))


def watch(main_id: int, every: float, step: float, stop: threading.Event) -> None:
    peak, clock = 0.0, time.perf_counter()
    while not stop.wait(every):
        now = rss_mib()
        if now >= peak + step:
            peak = now
            sys.stderr.write(f"[rss] {time.perf_counter() - clock:7.1f}s {now:7.0f} MiB  {where(main_id)}\n")
    sys.stderr.write(f"[rss] end {rss_mib():.0f} MiB, peak logged {peak:.0f} MiB\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=float, default=0.2)
    parser.add_argument("--step", type=float, default=64.0)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if rest[:1] != ["-m"] or len(rest) < 2:
        raise SystemExit("usage: rss_peaks.py [options] -- -m MODULE ARGS...")
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(threading.get_ident(), args.every, args.step, stop),
                              daemon=True)
    thread.start()
    sys.argv = [rest[1], *rest[2:]]
    try:
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    finally:
        stop.set()
        thread.join()


if __name__ == "__main__":
    main()
