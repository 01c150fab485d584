"""Runs that cannot collide or lose a date (issue 12, deliverable 4).

Two real `healthscore score` processes on one output folder take turns; a second run
told not to wait names the pid holding the folder; the previous date is the latest
complete one before the as-of date whatever the order dates are scored in; a real
commit killed at every one of its steps leaves the old or the new date complete, never
neither, and the next run works; leftovers of killed runs are cleaned; `simulate`
refuses a folder it did not write unless `--force`; `score --out FILE` and
`--as-of ''` are one-line errors.

The data are small (160 accounts, 18 months) and seeded; the model is a tiny LightGBM
trained here, as in tests/integration/test_score_cli.py.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import healthscore
from healthscore.cli import main
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.report.writer import MARKER
from healthscore.scoring.outputs import DateOutputs, OutputLayout
from healthscore.sim.simulate import SimulationSpec, write_simulation
from healthscore.io.staging import CRASH_ENV, CRASH_EXIT, LOCK, folder_lock, has_pending_commit

D1, D2, D3 = "2024-04-01", "2024-05-01", "2024-06-01"
SRC = str(Path(healthscore.__file__).resolve().parents[1])  # the tree under test
ENV = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ENV.pop(CRASH_ENV, None)
CLI = "import sys; from healthscore.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """Simulated tables and two small LightGBM models (different sizes) on their renewals."""
    root = tmp_path_factory.mktemp("runs")
    data, _, labelled, names = simulated_renewals(root, accounts=160, months=18, seed=3)
    for folder, trees in (("model", 40), ("model2", 15)):
        model = simulated_renewals.fit(labelled, names, trees)
        save_bundle(ExportedModel(model, HealthScale(),
                                  catalogue=catalogue_dict(names)), root / folder)
    return {"data": data, "model": root / "model", "model2": root / "model2", "root": root}


def error_line(err: str) -> str:
    """The CLI's one error line (log lines aside); fails unless there is exactly one."""
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def score_args(world, out, as_of, *extra, model="model"):
    return ["--set", f"score.out_dir={out}", "score", "--as-of", as_of, "--data", str(world["data"]),
            "--model", str(world[model]), *extra]


def score(world, out, as_of, *extra, model="model") -> int:
    """One in-process `healthscore score` (no report unless asked)."""
    return main(score_args(world, out, as_of, "--no-report", *extra, model=model))


def visible(root: Path) -> dict[str, bytes]:
    """Every file a reader sees under ``root`` (hidden names and the report left out)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") for part in rel.parts)
        if path.is_file() and not hidden and rel.parts[0] != "report":
            found[rel.as_posix()] = path.read_bytes()
    return found


def leftovers(root: Path) -> list[str]:
    """Hidden names under ``root`` other than the lock files and the report's marker."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*") if p.name not in (LOCK, MARKER))


@pytest.fixture(scope="module")
def scored(world):
    """A folder with D1 and D2 scored in order by the first model."""
    out = world["root"] / "scored"
    cwd = os.getcwd()
    os.chdir(world["root"])  # no params.yaml here: defaults
    try:
        assert score(world, out, D1) == 0 and score(world, out, D2) == 0
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture(autouse=True)
def _no_params_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------ the lock


def test_two_concurrent_runs_on_one_folder_take_turns(world, tmp_path):
    out = tmp_path / "out"
    runs = {as_of: subprocess.Popen([sys.executable, "-c", CLI, *score_args(world, out, as_of)],
                                    cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            for as_of in (D2, D1)}
    for as_of, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-2000:]
        assert f"on {as_of} with model" in stdout
    layout = OutputLayout(out)
    assert layout.dates() == [pd.Timestamp(D1), pd.Timestamp(D2)]
    assert leftovers(out) == []
    # the lock file names the run that held the folder last: it ran after the other one
    last = next(d for d, p in runs.items() if (out / LOCK).read_text().strip() == str(p.pid))
    assert layout.read_run(D1)["previous_as_of"] is None
    index = (out / "report" / "index.html").read_text()
    if last == D2:  # D1 was complete when D2 started: D2 compares with it
        assert layout.read_run(D2)["previous_as_of"] == D1
        changes = layout.read_table("changes", D2)
        assert len(changes) and (changes["previous_as_of"] == pd.Timestamp(D1)).all()
        assert f"<title>Portfolio {D2} |" in index
    else:  # D2 ran first, with nothing before it; D1 came after, and its report is the last
        assert layout.read_run(D2)["previous_as_of"] is None
        assert f"<title>Portfolio {D1} |" in index and D2 not in index


def test_a_run_told_not_to_wait_names_the_pid_holding_the_folder(world, tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom healthscore.io.staging import folder_lock\n"
         "with folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.readline()\n",
         str(out)], env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert score(world, out, D1, "--wait", "0") == 2
        err = error_line(capsys.readouterr().err)
        assert str(out) in err and f"pid {holder.pid}" in err and "waited 0 s" in err
        assert OutputLayout(out).dates() == []
    finally:
        holder.send_signal(signal.SIGKILL)  # killed, not released: the kernel drops the lock
        holder.wait(timeout=60)
    assert score(world, out, D1, "--wait", "0") == 0
    assert OutputLayout(out).dates() == [pd.Timestamp(D1)]


# -------------------------------------------------------- the previous date


def test_the_previous_date_is_the_latest_complete_one_before_the_as_of_date(world, tmp_path):
    out = tmp_path / "out"
    layout = OutputLayout(out)
    assert score(world, out, D3) == 0 and score(world, out, D1) == 0
    # an incomplete date between D1 and D2 (a history partition, no run file) ...
    shutil.copytree(layout.history_partition(D1), layout.history_partition("2024-04-15"))
    # ... and a killed run's staging folder for a date just before D2
    ghost = out / ".staging-score-2024-04-20-0badc0de" / "new" / "run"
    ghost.mkdir(parents=True)
    (ghost / "2024-04-20.json").write_text("{}")
    assert score(world, out, D2) == 0
    assert layout.dates() == [pd.Timestamp(d) for d in (D1, D2, D3)]
    assert layout.read_run(D1)["previous_as_of"] is None
    assert layout.read_run(D2)["previous_as_of"] == D1  # not D3 (latest on disk), not 04-15 or 04-20
    changes = layout.read_table("changes", D2)
    assert len(changes) and (changes["previous_as_of"] == pd.Timestamp(D1)).all()
    assert not (out / ".staging-score-2024-04-20-0badc0de").exists()
    # D3 stays the latest risk list although D2 was scored after it
    pd.testing.assert_frame_equal(pd.read_parquet(layout.latest_risk_list),
                                  pd.read_parquet(layout.risk_list(D3)))


# ----------------------------------------------------- a kill at every step

#: Run in a subprocess: import once, then for k = 1, 2, ... fork a child that runs the
#: real commit with HEALTHSCORE_CRASH_AT=k on a fresh copy of the template, until a
#: child reaches the end without meeting step k (that copy is the new state).
KILLER = textwrap.dedent("""
    import os, pickle, shutil, sys
    from pathlib import Path
    from healthscore.report.writer import write_files
    from healthscore.scoring import write_risk_csv
    from healthscore.scoring.outputs import OutputLayout, write_date

    template, payload, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    job, value = pickle.loads(payload.read_bytes())
    for k in range(1, 100):
        root = work / f"k{k:03d}"
        shutil.copytree(template, root)
        pid = os.fork()
        if pid == 0:
            os.environ["{env}"] = str(k)
            if job == "date":
                write_date(OutputLayout(root), value, write_csv=write_risk_csv, update_latest=True)
            else:
                write_files(value, root / "report")
            os._exit(0)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        print(k, code, flush=True)
        if code != {crash}:
            break
""").replace("{env}", CRASH_ENV).replace("{crash}", str(CRASH_EXIT))


def kill_at_every_step(template: Path, job: str, value, work: Path) -> list[Path]:
    """Folders left by the commit killed at step 1, 2, ..., then the completed one."""
    work.mkdir()
    payload = work.parent / f"{work.name}.pickle"
    payload.write_bytes(pickle.dumps((job, value)))
    done = subprocess.run([sys.executable, "-c", KILLER, str(template), str(payload), str(work)],
                          env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    codes = [int(line.split()[1]) for line in done.stdout.splitlines()]
    assert codes[:-1] == [CRASH_EXIT] * (len(codes) - 1) and codes[-1] == 0, done.stdout
    assert len(codes) > 5  # staged, committed, and a rename per entry
    return sorted(work.iterdir())


def read_outputs(root: Path, as_of: str) -> DateOutputs:
    """A scored date's outputs read back, as `write_date` takes them."""
    layout = OutputLayout(root)
    return DateOutputs(pd.Timestamp(as_of), layout.read_table("risk_list", as_of),
                       layout.read_partition("history", as_of), layout.read_partition("points", as_of),
                       layout.read_table("changes", as_of), layout.read_table("alerts", as_of),
                       layout.read_run(as_of))


@pytest.mark.parametrize("case", ["rescore D2 with another model", "score a new date D3"])
def test_a_commit_killed_at_any_step_leaves_the_old_or_the_new_date(world, scored, tmp_path, case):
    other = tmp_path / "other"
    shutil.copytree(scored, other)
    as_of = D2 if case.startswith("rescore") else D3
    assert score(world, other, as_of, model="model2" if as_of == D2 else "model") == 0
    new_outputs = read_outputs(other, as_of)
    old = visible(scored)

    folders = kill_at_every_step(scored, "date", new_outputs, tmp_path / "killed")
    new = visible(folders[-1])
    changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    assert any("history" in p for p in changed) and any(p.startswith("run/") for p in changed)
    seen, pending = [], 0
    for root in folders:
        pending += has_pending_commit(root)
        layout = OutputLayout(root)
        dates = layout.dates()  # a reader: finishes a commit the kill left past its commit point
        state = visible(root)
        assert state in (old, new), f"{root.name}: neither the old nor the new outputs"
        seen.append("old" if state == old else "new")
        assert pd.Timestamp(as_of) in dates or (state == old and as_of == D3)
        assert pd.Timestamp(D1) in dates and layout.read_history()["as_of"].nunique() == len(dates)
        with folder_lock(root):  # the next run starts: leftovers go, the state stays
            pass
        assert leftovers(root) == [] and visible(root) == state
    assert seen[0] == "old" and seen[-1] == "new" and seen == sorted(seen, key=["old", "new"].index)
    assert pending > 0  # some kills fell past the commit point, mid-install: the reader finished them

    # a following real run on a folder killed mid-install works and ends in the new state
    middle = folders[len(folders) // 2]
    assert score(world, middle, as_of, model="model2" if as_of == D2 else "model") == 0
    assert OutputLayout(middle).read_run(as_of)["previous_as_of"] == new_outputs.run["previous_as_of"]
    assert leftovers(middle) == []


def test_a_report_killed_at_any_step_is_the_old_or_the_new_report(tmp_path):
    from healthscore.report.writer import write_files

    template = tmp_path / "template"
    write_files({"index.html": "old index", "accounts/1.html": "one", "accounts/2.html": "two"},
                template / "report")
    new_files = {"index.html": "new index", "accounts/1.html": "one, again", "model.html": "model"}
    folders = kill_at_every_step(template, "report", new_files, tmp_path / "killed")

    def report(root):
        folder = root / "report"
        return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
                if p.is_file() and not any(s.startswith(".") for s in p.relative_to(folder).parts)}

    old = report(template)
    new = {**new_files}
    seen = []
    for root in folders:
        with folder_lock(root / "report"):  # the next report starts here
            pass
        assert report(root) in (old, new), root.name
        seen.append(report(root) == new)
        assert leftovers(root) == []
    assert seen[0] is False and seen[-1] is True


# ------------------------------------------------------------ leftovers


def test_leftovers_of_killed_runs_are_cleaned_by_the_next_run(world, scored, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(scored, out)
    layout = OutputLayout(out)
    # an uncommitted staging folder, and what the older writers left when killed:
    # D1's history moved aside with nothing in its place, a second copy aside of D2's,
    # a temporary file, and the report's staging folder beside it
    (out / ".staging-score-2024-05-01-0badc0de" / "new" / "alerts").mkdir(parents=True)
    history_d1 = layout.history_partition(D1)
    os.replace(history_d1, history_d1.with_name(f".{history_d1.name}.old-1234abcd"))
    d2 = layout.history_partition(D2)
    shutil.copytree(d2, d2.with_name(f".{d2.name}.old-5678abcd"))
    (out / "risk_list" / ".latest.parquet.x1y2z3.tmp").write_bytes(b"half")
    (out / ".report.staging-q9w8e7").mkdir()
    assert layout.dates() == [pd.Timestamp(D2)]  # readers do not touch these
    assert score(world, out, D3) == 0
    assert leftovers(out) == []
    assert layout.dates() == [pd.Timestamp(d) for d in (D1, D2, D3)]  # D1's history put back
    assert (history_d1 / "part-0.parquet").read_bytes() == (
        OutputLayout(scored).history_partition(D1) / "part-0.parquet").read_bytes()


# ------------------------------------------------------------ simulate


def test_simulate_refuses_a_folder_it_did_not_write_unless_forced(tmp_path, capsys):
    real = tmp_path / "warehouse"
    real.mkdir()
    (real / "accounts.parquet").write_bytes(b"the customer's own table")
    (real / "notes.txt").write_text("mine")
    args = ["simulate", "--accounts", "30", "--months", "6", "--seed", "1", "--out", str(real)]
    capsys.readouterr()
    assert main(args) == 2
    err = error_line(capsys.readouterr().err)
    assert str(real) in err and "accounts.parquet" in err and "--force" in err
    assert sorted(p.name for p in real.iterdir()) == ["accounts.parquet", "notes.txt"]  # untouched
    assert (real / "accounts.parquet").read_bytes() == b"the customer's own table"

    assert main([*args, "--force"]) == 0
    assert len(pd.read_parquet(real / "accounts.parquet")) == 30
    assert (real / "notes.txt").read_text() == "mine"
    # written by a simulation now: a rerun needs no --force, and csv tables replace the Parquet
    assert main([*args, "--format", "csv"]) == 0
    assert not list(real.glob("*.parquet")) and len(pd.read_csv(real / "accounts.csv")) == 30
    assert (real / "notes.txt").read_text() == "mine" and leftovers(real) == []

    bucketed = tmp_path / "other"
    bucketed.mkdir()
    (bucketed / "notes.txt").write_text("mine")
    assert main(["simulate", "--accounts", "30", "--months", "6", "--out", str(bucketed),
                 "--buckets", "2"]) == 2
    assert "not a bucketed source" in capsys.readouterr().err
    assert main(["simulate", "--accounts", "30", "--months", "6", "--out", str(bucketed),
                 "--buckets", "2", "--force"]) == 0
    assert (bucketed / "notes.txt").read_text() == "mine" and (bucketed / "buckets.json").exists()


def test_an_empty_folder_with_only_a_lock_counts_as_empty(tmp_path):
    out = tmp_path / "sim"
    with folder_lock(out):
        pass
    paths = write_simulation(SimulationSpec(n_accounts=20, months=6, seed=2), out)
    assert paths["accounts"].exists()


# ------------------------------------------------------------ one-line errors


def test_score_out_file_and_an_empty_as_of_are_one_line_errors(world, tmp_path, capsys):
    target = tmp_path / "results.csv"
    target.write_text("keep me")
    capsys.readouterr()
    assert score(world, target, D1) == 2
    err = error_line(capsys.readouterr().err)
    assert str(target) in err and "is a file" in err
    assert target.read_text() == "keep me"
    assert main(score_args(world, tmp_path / "out", "", "--no-report")) == 2
    err = error_line(capsys.readouterr().err)
    assert "--as-of ''" in err and "expected a date" in err
    assert not (tmp_path / "out").exists()
