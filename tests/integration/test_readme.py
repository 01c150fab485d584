"""The README cannot drift: its commands parse with the real command line, its command
table names real options and choices, and every terminal example it shows is what the
demo prints (``docs/readme_examples.py``; ``write`` regenerates them after a change).

The demo runs once, as ``make demo`` does (default size and seed), in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from healthscore.cli import COMMANDS, make_parser, parse

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.xdist_group("readme")


def _examples_module():
    spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "docs" / "readme_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


examples = _examples_module()


def _code_lines() -> list[str]:
    """Every ``healthscore ...`` line inside a fenced block, ``$`` prompts stripped."""
    lines, inside = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        text = line.strip().removeprefix("$ ")
        text = re.sub(r"^\S*/healthscore ", "healthscore ", text)
        if inside and text.startswith("healthscore "):
            lines.append(text)
    return lines


def _subparsers():
    parser = make_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return parser, action.choices


def test_the_two_commands_come_first():
    head = README.split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("line", _code_lines())
def test_every_command_line_parses(line):
    argv = shlex.split(line, comments=True)[1:]
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse's error (exit 2) or --help (exit 0)
        assert exc.code == 0, f"README command does not parse: {line}"
        return
    assert args.command in COMMANDS


def _table_rows() -> list[str]:
    return re.findall(r"^\| `healthscore ([^`]*)` \|", README, flags=re.M)


def test_the_command_table_names_every_command_and_only_real_options():
    _, subs = _subparsers()
    rows = _table_rows()
    named = {row.split()[0] for row in rows}
    assert named == set(COMMANDS), f"table vs commands: {sorted(named ^ set(COMMANDS))}"
    for row in rows:
        name, text = row.split()[0], row.replace("\\|", "|")
        options = subs[name]._option_string_actions
        for flag, choices in re.findall(r"(--[a-z-]+)(?: ([a-z-]+(?:\|[a-z-]+)+))?", text):
            assert flag in options, f"`healthscore {name}` has no option {flag} (README table)"
            if choices:
                real = options[flag].choices
                assert real is not None and set(choices.split("|")) == set(real), (
                    f"`healthscore {name} {flag}`: README says {choices}, the command takes {real}")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A folder where ``healthscore demo`` ran with the repository's params.yaml."""
    where = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    shutil.copy(ROOT / "params.yaml", where / "params.yaml")
    exe = [sys.executable, "-c", "import sys; from healthscore.cli import main; sys.exit(main())"]
    done = subprocess.run([*exe, "-q", "demo"], cwd=where, capture_output=True, text=True,
                          timeout=1200, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return where, env


def test_every_terminal_example_is_what_the_demo_prints(demo_dir):
    where, env = demo_dir
    found = examples.examples(README)
    assert len(found) >= 2, "the README lost its terminal examples"
    problems = [why for ex in found if (why := examples.mismatch(ex, examples.run(ex.command, where, env)))]
    assert not problems, ("README examples differ from the demo (regenerate: python docs/readme_examples.py "
                          "write DEMO_DIR after make demo):\n" + "\n".join(problems))


def test_a_changed_example_is_caught():
    example = examples.Example("healthscore explain 1", ("Account 1", "...", "Trend: 40"), 0, 0)
    assert examples.mismatch(example, ["Account 1", "x", "Trend: 40"]) is None
    assert examples.mismatch(example, ["Account 2", "x", "Trend: 40"]) is not None
    assert examples.mismatch(example, ["Account 1", "x", "Trend: 41"]) is not None
    assert examples.rewritten(example, ["Account 2", "x", "y"]) == ["Account 2", "..."]
