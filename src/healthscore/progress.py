"""Progress of long work: a bar with counts and time left on a terminal, plain log lines
otherwise, nothing with ``-q``.

One home for every long loop (simulation months, feature partitions, score buckets,
backtest dates, training steps)::

    with Progress(total, what="simulate", unit="months") as bar:
        for ...:
            bar.advance()

    for k in progress(range(buckets), what="score", unit="buckets"): ...

The mode is chosen when a :class:`Progress` starts: ``-q`` (logging above INFO) shows
nothing; a terminal on stderr gets a ``tqdm`` bar, written to the terminal itself (the
command line's :class:`~healthscore.terminal.CleanStream` would strip its carriage
returns); anything else gets an INFO log line at every tenth of the work and at its end.
Inside another one (a bucket's feature partitions within the score's buckets) a bar is
drawn below the outer one and plain lines are left to the outer one. Nothing is ever
written to stdout, which the README examples compare.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable, Iterable, Iterator, TypeVar

log = logging.getLogger("healthscore.progress")

T = TypeVar("T")

#: How many Progress objects are open now (the outermost one logs the plain lines).
_open = [0]


def terminal_stream() -> Any | None:
    """The terminal behind ``sys.stderr`` (unwrapping CleanStream), or None."""
    stream = getattr(sys.stderr, "stream", sys.stderr)
    try:
        return stream if stream.isatty() else None
    except (AttributeError, ValueError):  # closed or not a file
        return None


def _size(stream: Any) -> tuple[int, int]:
    """The terminal's (columns, lines); 0 where it does not say."""
    try:
        return tuple(os.get_terminal_size(stream.fileno()))  # type: ignore[return-value]
    except (AttributeError, OSError, ValueError):
        return 0, 0


class _AboveBars:
    """A log handler's stream that clears the bars drawn on ``terminal`` while it writes
    (then redraws them), so a log line never lands at the end of a bar."""

    def __init__(self, stream: Any, terminal: Any) -> None:
        self.stream, self.terminal = stream, terminal

    def write(self, text: str) -> int:
        from tqdm import tqdm

        with tqdm.external_write_mode(file=self.terminal):
            self.stream.write(text)
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _logs_above_bars(terminal: Any) -> list[tuple[logging.StreamHandler, Any]]:
    """Route the root logger's handlers that write to ``terminal`` (directly or through
    CleanStream) through :class:`_AboveBars`; returns what to put back."""
    swapped = []
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "stream", stream) is terminal:
            swapped.append((handler, handler.setStream(_AboveBars(stream, terminal))))
    return swapped


class Progress:
    """Counts of done work out of ``total`` (None: unknown), shown as the module says."""

    def __init__(self, total: int | None, *, what: str, unit: str = "steps") -> None:
        self.total, self.what, self.unit = total, what, unit
        self.done = 0
        self._bar: Any = None
        self._plain = False
        self._logged = -1
        self._started = time.monotonic()
        self._depth = 0
        self._auto = self._closed = False
        self._restore: list[tuple[logging.StreamHandler, Any]] = []

    def __enter__(self) -> "Progress":
        self._depth = _open[0]
        _open[0] += 1
        self._started = time.monotonic()
        if not log.isEnabledFor(logging.INFO):
            return self
        stream = terminal_stream()
        if stream is not None:
            from tqdm import tqdm

            if self._depth == 0:  # log lines above the bars, not glued to their end
                self._restore = _logs_above_bars(stream)
            # a terminal that reports no size (0 x 0, or LINES=0) would get no bar at all
            width, height = _size(stream)
            self._bar = tqdm(total=self.total, desc=self.what, unit=f" {self.unit}", file=stream,
                             leave=False, dynamic_ncols=width > 0, ncols=None if width > 0 else 80,
                             nrows=height if height > 0 else 24, mininterval=0.2)
        else:
            self._plain = self._depth == 0
        return self

    def start(self) -> "Progress":
        """Open without a ``with`` block: it closes itself when ``done`` reaches ``total``
        (for stages spread over one function, e.g. training's fits)."""
        self._auto = True
        return self.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._closed:
            return
        self._closed = True
        _open[0] -= 1
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            for handler, stream in self._restore:
                handler.setStream(stream)
        elif self._plain and exc[0] is None and self.done != self._logged:
            self._line()

    def advance(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.update_to(self.done + n)

    def update_to(self, done: int, total: int | None = None) -> None:
        """``done`` units done so far (of ``total``, when it is learnt only now)."""
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
        step, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(step)
        elif self._plain and self._tenth(done) != self._tenth(self._logged):
            self._line()
        if self._auto and self.total is not None and done >= self.total:
            self.__exit__(None, None, None)

    def _tenth(self, done: int) -> int:
        if done < 0:
            return -1
        return done if not self.total else done * 10 // self.total

    def _line(self) -> None:
        from tqdm import tqdm

        self._logged = self.done
        elapsed = time.monotonic() - self._started
        if self.total:
            left = elapsed * (self.total - self.done) / self.done if self.done else None
            tail = (f", about {tqdm.format_interval(left)} left" if left is not None and self.done < self.total
                    else "")
            log.info("%s: %d of %d %s (%d%%), %s elapsed%s", self.what, self.done, self.total, self.unit,
                     100 * self.done // self.total, tqdm.format_interval(elapsed), tail)
        else:
            log.info("%s: %d %s, %s elapsed", self.what, self.done, self.unit, tqdm.format_interval(elapsed))


def progress(items: Iterable[T], *, what: str, unit: str = "steps", total: int | None = None) -> Iterator[T]:
    """``items`` one by one, with a :class:`Progress` over them."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total, what=what, unit=unit) as bar:
        for item in items:
            yield item
            bar.advance()


class ProgressCallback:
    """A ``progress(done, total)`` callback (as :func:`healthscore.features.build_features`
    calls it) shown as a :class:`Progress`, opened at the first call and closed at
    ``done == total``."""

    def __init__(self, *, what: str, unit: str = "steps") -> None:
        self.what, self.unit = what, unit
        self._bar: Progress | None = None

    def __enter__(self) -> "ProgressCallback":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __call__(self, done: int, total: int, *_more: Any) -> None:
        if self._bar is None:
            self._bar = Progress(total, what=self.what, unit=self.unit).__enter__()
        self._bar.update_to(done, total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.__exit__(None, None, None)


def progress_callback(*, what: str, unit: str = "steps") -> Callable[..., None]:
    """A fresh :class:`ProgressCallback`."""
    return ProgressCallback(what=what, unit=unit)
