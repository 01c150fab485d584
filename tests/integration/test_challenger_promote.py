"""Champion and challenger end to end on a real MLflow store: simulated data, two
registered LightGBM versions (the second trained on shuffled labels), ``score
--challenger 2`` on two dates whose outcomes have matured, then ``promote 2``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.io.datasets import read_dataset, write_dataset
from healthscore.scoring import OutputLayout

D1, D2, RECENT = "2024-03-01", "2024-06-01", "2025-12-01"
FAST = ["--set", "model.n_estimators=30"]
#: the test-window gates out of the way: the matured-outcome gates decide here
LOOSE = ["--set", "tracking.gates.max_ece=0.5", "--set", "tracking.gates.max_auc_drop=1"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with its own MLflow store: simulated data, version 1 (the
    champion, exported) and version 2 (shuffled labels: no better than chance)."""
    root = tmp_path_factory.mktemp("challenger-promote")
    store = ["--set", f"tracking.uri=sqlite:///{root / 'mlruns.db'}"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        assert main(["simulate", "--accounts", "300", "--months", "36", "--seed", "11", "--out", "data"]) == 0
        assert main(["build-dataset", "--data", "data", "--out", "ds.parquet"]) == 0
        frame, meta = read_dataset("ds.parquet")
        order = np.random.default_rng(0).permutation(len(frame))
        for column in ("label", "lost_at"):
            frame[column] = frame[column].to_numpy()[order]
        write_dataset(frame, "shuffled.parquet", meta=meta)
        assert main([*store, *FAST, "train", "--data", "ds.parquet"]) == 0
        assert main([*store, *FAST, "train", "--data", "shuffled.parquet"]) == 0
        assert main([*store, *LOOSE, "promote", "1"]) == 0
    return root, store


def score(store, out, as_of, *extra):
    return main([*store, "score", "--as-of", as_of, "--data", "data", "--out", str(out), "--no-report",
                 *extra])


def files_of(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and "challenger" not in p.parts
            and p.parent.name != "run"}


def test_challenger_outputs_aside_and_the_champion_unchanged_then_promote_refuses(project, monkeypatch, capsys):
    root, store = project
    monkeypatch.chdir(root)
    for as_of in (D1, D2):
        assert score(store, root / "plain", as_of) == 0
        assert score(store, root / "both", as_of, "--challenger", "2") == 0
    plain, both = OutputLayout(root / "plain"), OutputLayout(root / "both")
    for as_of in (D1, D2):
        aside = both.challenger_risk_list("2", as_of)
        assert aside.exists() and not plain.challenger_risk_list("2", as_of).parent.exists()
        theirs, ours = both.read_table("risk_list", as_of), pd.read_parquet(aside)
        assert set(theirs["account_id"]) == set(ours["account_id"])
        assert (ours["model_version"] == "2").all() and (theirs["model_version"] == "1").all()
        run = both.read_run(as_of)
        assert run["challenger"]["model_version"] == "2"
        assert run["challenger"]["risk_list"] == f"challenger/2/risk_list/{as_of}.parquet"
        bare = plain.read_run(as_of)
        for key in ("counts", "model_version", "model_fingerprint", "arr_at_risk"):
            assert run[key] == bare[key]
    # every file of the champion (risk lists, history, points, changes, alerts, tasks,
    # calls, drift) byte for byte the same with and without --challenger
    a, b = files_of(root / "plain"), files_of(root / "both")
    assert a.keys() == b.keys() and len(a) > 10
    assert [k for k in a if a[k] != b[k]] == []
    capsys.readouterr()

    assert main([*store, *LOOSE, "promote", "2", "--out", str(root / "both"), "--data", "data"]) == 2
    said = capsys.readouterr()
    line = [x for x in said.out.splitlines() if x.startswith("matured outcomes")]
    assert len(line) == 1 and "2 date(s) 2024-03-01..2024-06-01" in line[0]
    assert "champion (version 1)" in line[0] and "challenger version 2" in line[0]
    assert "version 2 not promoted: gate matured_auc failed: ROC-AUC on" in said.err
    # nothing changed: version 1 still the champion
    registry = json.loads((root / "models" / "healthscore" / "registry.json").read_text())
    assert registry["model_version"] == "1"


def test_no_matured_outcomes_yet_falls_back_to_the_test_window_gates(project, monkeypatch, capsys):
    root, store = project
    monkeypatch.chdir(root)
    out = root / "recent"
    assert score(store, out, RECENT, "--challenger", "2") == 0
    capsys.readouterr()
    # a strict matured gate that would refuse: not applied, nothing has matured
    assert main([*store, *LOOSE, "--set", "challenger.max_auc_drop=0", "promote", "2", "--no-export",
                 "--out", str(out), "--data", "data"]) == 0
    said = capsys.readouterr().out
    assert "matured outcomes: no matured outcomes yet: 1 date(s) scored by both, the first 2025-12-01" in said
    assert "gate matured" not in said  # no matured gate was checked
    assert "version 2 is the champion (was version 1)" in said


def test_a_challenger_that_cannot_be_loaded_or_is_the_champion_is_a_one_line_error(project, monkeypatch, capsys):
    root, store = project
    monkeypatch.chdir(root)
    out = root / "bad"
    assert score(store, out, D1, "--challenger", "99") == 2
    assert "models:/healthscore/99" in capsys.readouterr().err
    assert score(store, out, D1, "--challenger", "1") == 2
    assert "--challenger 1: that is the champion's version (1)" in capsys.readouterr().err
    assert OutputLayout(out).dates() == []  # nothing written
