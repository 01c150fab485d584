"""Progress of long work (:mod:`healthscore.progress`): a bar on a terminal's stderr, plain
log lines when stderr is not a terminal, nothing with ``-q``; stdout the same each way."""

from __future__ import annotations

import logging
import os
import re
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from healthscore.progress import Progress, progress, progress_callback

SRC = Path(__file__).resolve().parents[2] / "src"
SIMULATE = ["simulate", "--accounts", "200", "--months", "6", "--out", "data"]
MONTHS = 12 + 6  # the simulator's burn-in and the months asked for


def run_cli(cwd: Path, *argv: str, terminal: bool) -> tuple[int, str, str]:
    """``healthscore argv`` in a subprocess; stderr a pseudo-terminal when ``terminal``."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    env.pop("TQDM_DISABLE", None)
    command = [sys.executable, "-m", "healthscore.cli", *argv]
    if not terminal:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower,
                            stdin=subprocess.DEVNULL)
    os.close(follower)
    err = bytearray()
    while True:  # drain the terminal while the command runs (a full pty would block it)
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command closed its end
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=300), out, err.decode(errors="replace")


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """``simulate`` on a terminal, into a pipe, and into a pipe with ``-q``."""
    runs = {}
    for name, terminal, extra in (("terminal", True, []), ("pipe", False, []), ("quiet", False, ["-q"])):
        cwd = tmp_path_factory.mktemp(name)
        runs[name] = run_cli(cwd, *extra, *SIMULATE, terminal=terminal)
    return runs


def test_a_terminal_gets_a_bar_with_counts_and_time_left(three_runs):
    rc, _, err = three_runs["terminal"]
    assert rc == 0, err
    assert "\r" in err and "simulate:" in err
    assert f"0/{MONTHS} [" in err and "months/s" in err  # the count of months done
    assert "[00:00<" in err  # tqdm's [elapsed<left]
    assert "INFO simulate:" not in err  # no plain lines on a terminal


def test_a_pipe_gets_plain_lines(three_runs):
    rc, _, err = three_runs["pipe"]
    assert rc == 0, err
    lines = [line for line in err.splitlines() if line.startswith("INFO simulate:")]
    assert lines and "\r" not in err and "\x1b" not in err
    assert lines[-1].startswith(f"INFO simulate: {MONTHS} of {MONTHS} months (100%)")
    assert any("left" in line for line in lines[:-1])
    assert len(lines) <= 11 < MONTHS  # a line per tenth, not per month


def test_quiet_shows_no_progress(three_runs):
    rc, _, err = three_runs["quiet"]
    assert rc == 0, err
    assert "simulate:" not in err and "\r" not in err


def test_stdout_is_the_same_every_way(three_runs):
    outs = {name: run[1] for name, run in three_runs.items()}
    assert outs["terminal"] == outs["pipe"] == outs["quiet"]
    assert "wrote" in outs["pipe"]


@pytest.fixture()
def info(caplog):
    caplog.set_level(logging.INFO, logger="healthscore.progress")
    return caplog


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "healthscore.progress"]


def test_plain_lines_come_at_each_tenth_and_at_the_end(info):
    assert list(progress(range(35), what="work", unit="items")) == list(range(35))
    lines = messages(info)
    assert lines[0].startswith("work: 1 of 35 items (2%)")
    assert lines[-1].startswith("work: 35 of 35 items (100%)") and "left" not in lines[-1]
    assert 10 <= len(lines) <= 12


def test_only_the_outermost_logs_plain_lines(info):
    for _ in progress(range(2), what="outer", unit="buckets"):
        with Progress(4, what="inner") as bar:
            bar.advance(4)
    assert messages(info) and all(m.startswith("outer:") for m in messages(info))


def test_a_callback_opens_at_the_first_call_and_closes_at_the_last(info):
    callback = progress_callback(what="features", unit="partitions")
    for done in range(1, 4):
        callback(done, 3)
    assert messages(info)[-1].startswith("features: 3 of 3 partitions (100%)")
    with Progress(2, what="after") as bar:  # nothing left open: this one is outermost again
        bar.advance(2)
    assert messages(info)[-1].startswith("after: 2 of 2 steps")


def test_started_stages_close_themselves(info):
    bar = Progress(3, what="train").start()
    for _ in range(3):
        bar.advance()
    assert messages(info)[-1].startswith("train: 3 of 3 steps (100%)")
    with Progress(1, what="next") as again:
        again.advance()
    assert messages(info)[-1].startswith("next: 1 of 1 steps")


def test_above_info_nothing_is_logged(caplog):
    caplog.set_level(logging.WARNING)
    list(progress(range(5), what="quiet work"))
    assert not messages(caplog)


def test_log_lines_during_a_bar_are_written_above_it(monkeypatch):
    leader, follower = pty.openpty()
    terminal = os.fdopen(follower, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", terminal)
    root = logging.getLogger()
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        for i in progress(range(2), what="work", unit="dates"):
            logging.getLogger("healthscore.test").info("line %d", i)
            assert handler.stream is not terminal  # routed around the bar meanwhile
        assert handler.stream is terminal  # and put back
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
        terminal.close()
    out = b""
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    text = out.decode(errors="replace")
    assert "work:" in text
    for i in range(2):  # the bar is cleared (carriage return, blanks, carriage return) first
        assert re.search(rf"\r +\rline {i}", text), text
