"""The README's terminal examples, checked against (or rewritten from) a demo run.

A README example is a ```text block whose first line is ``$ healthscore ...``: the
command, then what it prints. A line ``...`` stands for lines left out; every other line
must be printed by the command, in order, and the lines between two ``...`` together.
Commands run in the folder where ``healthscore demo`` ran (its data, models and outputs).

    .venv/bin/python docs/readme_examples.py check DEMO_DIR    # after `make demo`: DEMO_DIR=.
    .venv/bin/python docs/readme_examples.py write DEMO_DIR    # rewrite the examples' lines

``tests/integration/test_readme.py`` runs the demo and the check; ``write`` keeps each
example's length (the lines shown before its first ``...``).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
GAP = "..."
_BLOCK = re.compile(r"^```text\n(\$ healthscore [^\n]*)\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Example:
    """One README example: the command line (without ``$``), the lines shown and where
    the shown lines sit in the README's text."""

    command: str
    lines: tuple[str, ...]
    start: int
    end: int


def examples(text: str) -> list[Example]:
    """The terminal examples of a README's ``text``."""
    return [Example(m.group(1)[2:], tuple(m.group(2).rstrip("\n").split("\n")), m.start(2), m.end(2))
            for m in _BLOCK.finditer(text)]


def run(command: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """What ``command`` (a ``healthscore ...`` line) prints on stdout, run in ``cwd``
    with this Python's ``healthscore`` (and ``env``, default: this process's)."""
    argv = shlex.split(command)
    exe = [sys.executable, "-c", "import sys; from healthscore.cli import main; sys.exit(main())"]
    done = subprocess.run([*exe, *argv[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"README example `{command}` exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return [line.rstrip() for line in done.stdout.splitlines()]


def mismatch(example: Example, printed: list[str]) -> str | None:
    """Why the ``printed`` lines do not show ``example`` (None when they do)."""
    segments, current = [], []
    for line in example.lines:
        if line.strip() == GAP:
            segments.append(current)
            current = []
        else:
            current.append(line.rstrip())
    segments.append(current)
    at = 0
    for i, segment in enumerate(segments):
        if not segment:
            continue
        if i == 0:  # the first segment starts the output
            found = 0 if printed[: len(segment)] == segment else -1
        else:
            found = next((k for k in range(at, len(printed) - len(segment) + 1)
                          if printed[k: k + len(segment)] == segment), -1)
        if found < 0:
            near = printed[at: at + len(segment)]
            return (f"`{example.command}`: the README shows\n  " + "\n  ".join(segment)
                    + "\nbut the demo prints\n  " + "\n  ".join(near))
        at = found + len(segment)
    if segments[-1] and at != len(printed):
        return f"`{example.command}`: the README's example ends before the output does (add `...`)"
    return None


def rewritten(example: Example, printed: list[str]) -> list[str]:
    """The example's lines as the demo prints them: as many as it showed before its
    first ``...``, then ``...`` when the output goes on."""
    shown = next((i for i, line in enumerate(example.lines) if line.strip() == GAP), len(example.lines))
    head = printed[:shown]
    return head + [GAP] if len(printed) > shown else head


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "write"):
        print(__doc__)
        return 2
    mode, cwd = argv[0], Path(argv[1])
    text = README.read_text()
    found = examples(text)
    problems = []
    for example in reversed(found):  # from the end, so earlier offsets stay valid
        printed = run(example.command, cwd)
        if mode == "write":
            body = "\n".join(rewritten(example, printed)) + "\n"
            text = text[: example.start] + body + text[example.end:]
        elif (why := mismatch(example, printed)) is not None:
            problems.append(why)
    if mode == "write":
        README.write_text(text)
        print(f"rewrote {len(found)} example(s) in {README}")
        return 0
    for why in problems:
        print(why)
    print(f"{len(found) - len(problems)} of {len(found)} README example(s) match the demo")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
