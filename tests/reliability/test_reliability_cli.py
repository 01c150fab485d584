"""Reliability of the command line (issue 12, deliverables 5 and 6, and its tracebacks).

Injection payloads in account names reach neither a CSV reader (one row per account,
no formula) nor the terminal (no control character, no escape sequence); every model,
calibration, score and date parameter out of range is a ConfigError naming its key;
``--set`` keys a command ignores say so; the commands the probe saw end in a traceback
end in one line and a non-zero exit, or now work.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import ignored_overrides, main, unexpected_line
from healthscore.config import ScorecardParams, make_params, read_params
from healthscore.errors import ConfigError
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.baselines import RuleScorecard
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.scoring.risk_list import write_risk_csv
from healthscore.sim.simulate import SimulationSpec, write_simulation
from healthscore.terminal import UNSAFE_CHARACTER, CleanStream, clean_text

AS_OF = "2023-12-01"

#: Names a hostile or careless source may hold: terminal escapes (clear screen, window
#: title, hyperlink), a bare CR before a formula, NUL, LF, tab, Unicode line breaks.
PAYLOADS = (
    "Evil\x1b[2J\x1b]0;pwned\x07Corp\nFAKE LINE",
    "\r=cmd|' /C calc'!A0",
    "Nul\x00Byte\rCR only",
    '=HYPERLINK("http://x.test")',
    "Link\x1b]8;;http://x.test\x1b\\here\x1b]8;;\x1b\\",
    "tab\tname\x85nel\u2028ls",
    "+SUM(1)\r\n-2",
    "@bidi\u202eevil",
)


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "healthscore.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A tiny simulated source whose every account name (and some owners) holds a
    payload, a rule-scorecard model folder, and one scored date."""
    root = tmp_path_factory.mktemp("reliability-cli")
    data = root / "data"
    write_simulation(SimulationSpec(n_accounts=40, months=12, seed=5), data)
    accounts = pd.read_parquet(data / "accounts.parquet")
    accounts["name"] = [PAYLOADS[i % len(PAYLOADS)] + f" {i}" for i in range(len(accounts))]
    accounts.loc[accounts.index[::3], "owner"] = "ow\x1b[31mner\u2028x"
    accounts.to_parquet(data / "accounts.parquet", index=False)
    rules = ScorecardParams().rules
    X = pd.DataFrame({r.feature: np.linspace(r.bad, r.good, 6) for r in rules})
    card = RuleScorecard(rules, scale=HealthScale()).fit(X)
    save_bundle(ExportedModel(card, HealthScale(),
                              catalogue=catalogue_dict(list(X.columns))), root / "model")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no params.yaml here: defaults
        assert main(["-q", "score", "--as-of", AS_OF, "--data", "data", "--model", "model",
                     "--out", "out", "--no-report"]) == 0
    return {"root": root, "data": data, "model": root / "model", "out": root / "out",
            "accounts": accounts}


# ------------------------------------------------------------------ CSV injection


def _assert_one_row_per_account(path, expected_ids):
    text = path.read_text(encoding="utf-8")
    assert UNSAFE_CHARACTER.search(text.replace("\n", "")) is None  # no CR, NUL, ESC, ...
    assert len(text.splitlines()) == len(expected_ids) + 1  # str.splitlines: every break
    assert len(path.read_bytes().splitlines()) == len(expected_ids) + 1  # wc -l, CR-aware
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["account_id"]) for r in rows] == list(expected_ids)
    back = pd.read_csv(path)
    assert back["account_id"].tolist() == list(expected_ids)
    return rows


def test_hostile_names_written_as_csv_stay_one_row_each(tmp_path):
    frame = pd.DataFrame({"account_id": range(len(PAYLOADS)), "name": list(PAYLOADS),
                          "arr": np.arange(len(PAYLOADS), dtype=float) - 3.0})
    path = tmp_path / "risk.csv"
    write_risk_csv(frame, path)
    rows = _assert_one_row_per_account(path, range(len(PAYLOADS)))
    names = [r["name"] for r in rows]
    assert not any(n.lstrip(" ").startswith(("=", "+", "-", "@")) for n in names)
    assert names[0] == "EvilCorp FAKE LINE"
    assert names[1] == "' =cmd|' /C calc'!A0"  # the CR is a space; the formula is quoted
    assert names[2] == "NulByte CR only"
    assert names[3].startswith("'=HYPERLINK")
    assert names[4] == "Linkhere"
    assert names[6] == "'+SUM(1)  -2"
    assert [float(r["arr"]) for r in rows] == list(frame["arr"])  # numbers untouched


def test_scored_risk_list_csv_has_one_row_per_account(scored):
    risk = pd.read_parquet(scored["out"] / "risk_list" / f"{AS_OF}.parquet")
    assert len(risk) > 10
    rows = _assert_one_row_per_account(scored["out"] / "risk_list" / f"{AS_OF}.csv",
                                       risk["account_id"].tolist())
    for row in rows:
        for column in ("name", "owner", "top_drivers"):
            assert not row[column].lstrip(" ").startswith(("=", "+", "-", "@")), row[column]
    assert risk["name"].str.contains("\x1b").any()  # the Parquet keeps the data as it is


# ---------------------------------------------------------------------- terminal


@pytest.mark.parametrize("text, shown", [
    ("Acme\x1b[31mRed\x1b[0m", "AcmeRed"),
    ("a\x1b]0;pwned\x07b", "ab"),
    ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),
    ("\x9b2Jc1", "c1"),
    ("x\r\nforged", "x  forged"),
    ("nul\x00\x7fhere\x1b", "nulhere"),
    ("bidi\u202eevil", "bidievil"),
    ("plain é 中", "plain é 中"),
])
def test_clean_text_removes_escapes_and_controls(text, shown):
    assert clean_text(text) == shown


def test_clean_stream_keeps_its_own_layout_only():
    buffer = io.StringIO()
    stream = CleanStream(buffer)
    print("title\x1b[2J\tcol\nnext\r", file=stream)
    assert buffer.getvalue() == "title\tcol\nnext \n"


def test_explain_prints_no_escape_from_a_name(scored):
    accounts = scored["accounts"]
    risk = pd.read_parquet(scored["out"] / "risk_list" / f"{AS_OF}.parquet")
    evil = [i for i, n in zip(accounts["account_id"], accounts["name"])
            if n.startswith("Evil") and i in set(risk["account_id"])][0]
    proc = _cli("explain", str(evil), "--out", str(scored["out"]), cwd=scored["root"])
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout + proc.stderr
    assert "EvilCorp FAKE LINE" in proc.stdout
    assert not any(line.startswith("FAKE LINE") for line in proc.stdout.splitlines())
    assert UNSAFE_CHARACTER.search(shown.replace("\n", "").replace("\t", "")) is None


def test_error_line_carries_no_escape(scored, capsys):
    assert main(["explain", "\x1b[2J\x1b]0;x\x07nobody\nFAKE", "--out", str(scored["out"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("healthscore explain: error:")
    assert "\x1b" not in err and "\x07" not in err and "nobody FAKE" in err


# ------------------------------------------------------------------ config ranges


BAD_PARAMS = [
    ("model.num_leaves=0", "model.num_leaves"),
    ("model.num_leaves=1", "model.num_leaves"),
    ("model.learning_rate=0", "model.learning_rate"),
    ("model.learning_rate=-0.1", "model.learning_rate"),
    ("model.subsample=1.5", "model.subsample"),
    ("model.subsample=0", "model.subsample"),
    ("model.colsample_bytree=2", "model.colsample_bytree"),
    ("model.n_estimators=0", "model.n_estimators"),
    ("model.max_depth=0", "model.max_depth"),
    ("model.min_child_samples=-1", "model.min_child_samples"),
    ("model.reg_lambda=-1", "model.reg_lambda"),
    ("model.early_stopping_rounds=-1", "model.early_stopping_rounds"),
    ("model.holdout_share=1", "model.holdout_share"),
    ("model.random_state=-1", "model.random_state"),
    ("model.learning_rate=.nan", "model.learning_rate"),
    ("calibration.ece_bins=0", "calibration.ece_bins"),
    ("timeline.horizon_days=0", "timeline.horizon_days"),
    ("timeline.lead_time_days=-7", "timeline.lead_time_days"),
    ("timeline.cadence=fortnightly", "timeline.cadence"),
    ("labels.grace_days=-1", "labels.grace_days"),
    ("labels.contraction_share=1.5", "labels.contraction_share"),
    ("split.test_months=0", "split.test_months"),
    ("split.validation_months=-1", "split.validation_months"),
    ("features.windows=[30, 0]", "features.windows[1]"),
    ("score.pdo=0", "score.pdo"),
    ("score.pdo=-10", "score.pdo"),
    ("score.offset=.inf", "score.offset"),
    ("score.red_below=0", "score.red_below"),
    ("score.green_from=101", "score.green_from"),
    ("score.red_below=80", "score.red_below"),  # above green_from (70)
    ("score.top_drivers=0", "score.top_drivers"),
    ("score.chunk_rows=0", "score.chunk_rows"),
    ("scorecard.missing_points=101", "scorecard.missing_points"),
    ("scorecard.rules=[]", "scorecard.rules"),
    ("scorecard.rules=[{feature: x, good: 1, bad: 1, weight: 1}]", "scorecard.rules[0].good"),
    ("scorecard.rules=[{feature: x, good: 1, bad: 0, weight: 0}]", "scorecard.rules[0].weight"),
    ("alerts.drop_points=-1", "alerts.drop_points"),
    ("tracking.gates.max_ece=2", "tracking.gates.max_ece"),
    ("tune.n_trials=0", "tune.n_trials"),
    ("data.observed_until=yesterday", "data.observed_until"),
    ("data.observed_until=31/12/2024", "data.observed_until"),
    ("data.observed_until='2024-12-31T00:00+02:00'", "data.observed_until"),
    ("timeline.start=2024-13-01", "timeline.start"),
    ("timeline.end=soon", "timeline.end"),
]


@pytest.mark.parametrize("override, key", BAD_PARAMS)
def test_bad_param_is_a_config_error_naming_the_key(override, key):
    with pytest.raises(ConfigError) as caught:
        make_params({}, [override])
    assert str(caught.value).startswith(key)


@pytest.mark.parametrize("override, key", BAD_PARAMS[::6])
def test_bad_param_on_the_command_line_is_one_line(override, key, tmp_path, capsys):
    assert main(["--set", override, "validate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"healthscore validate: error: {key}")


def test_bad_params_file_names_the_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  observed_until: yesterday\n")
    with pytest.raises(ConfigError, match=r"^data\.observed_until: expected an ISO date.*'yesterday'"):
        read_params(path)
    path.write_text("timeline:\n  start: 2024-06-01\n  end: 2024-01-01\n")
    with pytest.raises(ConfigError, match=r"^timeline\.end: 2024-01-01 is before timeline\.start"):
        read_params(path)


@pytest.mark.parametrize("override", [
    "model.max_depth=-1", "model.early_stopping_rounds=0", "model.holdout_share=0",
    "score.red_below=70", "score.green_from=100", "timeline.cadence=W",
    "data.observed_until=2024-12-31", "labels.contraction_share=1",
])
def test_edge_values_in_range_load(override):
    make_params({}, [override])


def test_overrides_a_command_ignores_are_named():
    [line] = ignored_overrides("score", ["score.pdo=20", "score.top_drivers=3"])
    assert line.startswith("--set score.pdo=20 is ignored by score:") and "scale" in line
    assert ignored_overrides("train", ["score.pdo=20", "model.num_leaves=5"]) == []
    [line] = ignored_overrides("train", ["timeline.horizon_days=90"])
    assert "build-dataset" in line


def test_score_warns_of_an_ignored_scale_key_and_ignores_it(scored, caplog):
    out = scored["root"] / "out-pdo"
    assert main(["--set", "score.pdo=40", "-q", "score", "--as-of", AS_OF, "--data", str(scored["data"]),
                 "--model", str(scored["model"]), "--out", str(out), "--no-report"]) == 0
    assert any("--set score.pdo=40 is ignored by score" in r.getMessage() for r in caplog.records)
    before = pd.read_parquet(scored["out"] / "risk_list" / f"{AS_OF}.parquet")
    after = pd.read_parquet(out / "risk_list" / f"{AS_OF}.parquet")
    pd.testing.assert_series_equal(after["health_score"], before["health_score"])


# --------------------------------------------------------------------- tracebacks


def test_build_dataset_into_a_folder_is_one_line(scored, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()
    proc = _cli("build-dataset", "--data", str(scored["data"]), "--out", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert f"--out {folder}" in proc.stderr and "is a folder" in proc.stderr
    assert list(folder.iterdir()) == []


def test_train_scorecard_on_single_class_data_works(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "simulate", "--accounts", "60", "--months", "20", "--seed", "1",
                 "--churn-scale", "1e-6", "--out", "src"]) == 0
    assert main(["-q", "--set", "timeline.horizon_days=90", "build-dataset", "--data", "src",
                 "--out", "ds.parquet"]) == 0
    assert "(0 churned" in capsys.readouterr().out  # one class: the case under test
    split = ["--set", "split.test_months=3", "--set", "split.validation_months=3"]
    assert main(["-q", *split, "train", "--data", "ds.parquet"]) == 2  # ml refuses, names the way out
    assert "--mode scorecard" in capsys.readouterr().err
    proc = _cli(*split, "--set", f"tracking.uri=sqlite:///{tmp_path / 'mlruns.db'}",
                "--set", f"tracking.artifact_location={tmp_path / 'mlartifacts'}",
                "-q", "train", "--data", "ds.parquet", "--mode", "scorecard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("trained (scorecard)")


def test_an_unnamed_failure_is_one_line_and_debug_shows_it(scored, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    args = ["score", "--as-of", AS_OF, "--data", str(scored["data"]), "--model", str(scored["model"]),
            "--out", str(a_file), "--no-report"]
    assert main(["-q", *args]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("healthscore score: ")
    with pytest.raises(Exception):  # --debug: the exception itself, for its traceback
        main(["-q", "--debug", *args])
    assert a_file.read_text() == "not a folder"


def test_unexpected_line_names_the_command_and_the_way_to_the_traceback(tmp_path):
    try:
        open(tmp_path)  # a real OSError: a folder opened as a file
    except OSError as exc:
        line = unexpected_line("train", exc)
    assert line.startswith("healthscore train: error: Is a directory: ")
    assert str(tmp_path) in line and line.endswith("(rerun with --debug for the traceback)")
    try:
        int("x\x1b[2J")
    except ValueError as exc:
        line = unexpected_line("score", exc)
    assert line.startswith("healthscore score: unexpected error: ValueError: invalid literal")
    assert "\x1b" not in line and "--debug" in line
