"""The quality runner end to end on tiny data: a small simulation (one out-of-time split,
oracle, fidelity) and a sample of socialnet7 (explicit cutoffs, TimeSeriesSplit)."""

from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOCIALNET = (ROOT / ".." / "shared" / "data" / "socialnet7-dev").resolve()
COLUMNS = "| predictor | ROC-AUC | PR-AUC | log loss | Brier | ECE | top-decile lift |"


def _load_runner():
    spec = importlib.util.spec_from_file_location("quality_benchmark", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quality():
    return _load_runner()


@pytest.fixture(scope="module")
def results(quality, tmp_path_factory):
    """One results folder: the simulator section, then (when the data is here) socialnet7."""
    out = tmp_path_factory.mktemp("quality")
    assert quality.main([
        "--simulate", "300", "--months", "24", "--seed", "7",
        "--params", str(ROOT / "configs" / "renewal-task.yaml"),
        "--set", "model.min_churned_rows=10", "--set", "small_data.select=false",  # LightGBM's drivers
        "--out", str(out), "--cache", str(out / "cache"),
    ]) == 0
    sections = ["simulator"]
    if SOCIALNET.is_dir():
        book = pd.read_parquet(SOCIALNET / "observation.parquet")
        book.loc[book["account_id"] % 4 == 0].to_parquet(out / "sample.parquet")  # ~2,000 rows
        assert quality.main([
            "--data", str(SOCIALNET), "--params", str(ROOT / "configs" / "socialnet7.yaml"),
            "--cutoffs", str(out / "sample.parquet"), "--cv", "3", "--name", "socialnet7-sample",
            "--out", str(out),
        ]) == 0
        sections.append("socialnet7-sample")
    record = json.loads((out / "quality.json").read_text())
    return out, record, (out / "quality.md").read_text(), sections


def test_both_sections_are_written_and_kept(results):
    _, record, markdown, sections = results
    assert list(record["sections"]) == sections  # the second run kept the first's section
    for name in sections:
        assert f"## {name}: " in markdown
    assert sum(line == COLUMNS for line in markdown.splitlines()) == len(sections)


def test_simulator_table_has_every_predictor_and_sane_figures(results):
    _, record, markdown, _ = results
    section = record["sections"]["simulator"]
    assert set(section["table"]) == {"model", "logistic", "scorecard", "base_rate", "oracle"}
    for name, row in section["table"].items():
        assert set(row) == {"roc_auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift"}
        assert 0.0 <= row["roc_auc"] <= 1.0 and row["log_loss"] > 0 and 0.0 <= row["ece"] <= 1.0
        assert f"| {name} | " in markdown
    assert section["table"]["base_rate"]["roc_auc"] == 0.5
    assert section["auc_to_oracle"] == pytest.approx(
        section["table"]["model"]["roc_auc"] / section["table"]["oracle"]["roc_auc"], abs=1e-3)
    counts = {c["window"]: c for c in section["counts"]}
    assert counts["train"]["last_cutoff"] < counts["test"]["first_cutoff"]  # out of time
    assert section["data"]["labelled"] == sum(counts[w]["rows"] for w in ("train", "validation", "test"))


def test_simulator_bars_fidelity_drivers_and_leak_check(results):
    _, record, markdown, _ = results
    section = record["sections"]["simulator"]
    bars = {b["bar"]: b for b in section["bars"]}
    assert {"model AUC / oracle AUC", "model ECE", "explanation fidelity",
            "model beats scorecard on AUC", "model beats logistic on log loss"} <= set(bars)
    assert bars["explanation fidelity"]["passed"] == (section["fidelity"] >= 0.80)
    assert 0.0 <= section["fidelity"] <= 1.0 and section["fidelity_renewals"] > 0
    # the part whose cause left its trace in the simulator's tables by the cutoff
    assert 0 < section["fidelity_traced_renewals"] <= section["fidelity_renewals"]
    assert 0.0 <= section["fidelity_traced"] <= 1.0 and "direct trace" in markdown
    assert "### Bars" in markdown and ("| PASS |" in markdown or "| FAIL |" in markdown)
    drivers = section["drivers"]
    assert drivers and drivers[0]["mean_abs_points"] > 0
    strengths = [d["mean_abs_logit"] for d in drivers]
    assert strengths == sorted(strengths, reverse=True)
    assert "global drivers" in markdown
    leak = section["leak_check"]
    excluded = section["params"]["model"]["exclude_features"]
    assert leak["threshold"] == 0.95 and len(leak["auc"]) == section["data"]["features"] - len(excluded)
    assert not set(excluded) & set(leak["auc"])
    assert leak["flagged"] == [n for n, a in leak["auc"].items() if a is not None and a > 0.95]
    assert "### Leak check" in markdown


def test_section_records_its_one_line_command_seed_and_versions(results, quality):
    _, record, markdown, _ = results
    section = record["sections"]["simulator"]
    command = section["command"]
    assert "\n" not in command and f"    {command}" in markdown
    args = quality.make_parser().parse_args(shlex.split(command)[2:])
    assert (args.simulate, args.months, args.seed) == (300, 24, 7)
    assert args.overrides == ["model.min_churned_rows=10", "small_data.select=false"]
    assert section["seed"] == {"model.random_state": 42, "simulator": 7}
    assert {"healthscore", "lightgbm", "scikit-learn", "pandas", "numpy"} <= set(section["versions"])


def test_socialnet_sample_uses_the_book_rows_and_time_series_folds(results):
    _, record, markdown, sections = results
    if "socialnet7-sample" not in sections:
        pytest.skip(f"{SOCIALNET} is not here")
    section = record["sections"]["socialnet7-sample"]
    book = pd.read_parquet(SOCIALNET / "observation.parquet")
    book = book.loc[book["account_id"] % 4 == 0]
    assert section["data"]["rows"] == len(book)
    assert section["data"]["positives"] == int(book["is_churn"].sum())
    assert section["split"]["kind"] == "TimeSeriesSplit" and len(section["folds"]) == 3
    trained = [f for f in section["folds"] if "skipped" not in f]
    assert section["split"]["folds_used"] == len(trained) >= 1
    for fold in trained:  # validation is the latest slice of the training part, before the test fold
        assert fold["fit_last_cutoff"] < fold["validation_first_cutoff"]
        assert fold["validation_last_cutoff"] <= fold["test_first_cutoff"]
    assert {r["fold"] for r in section["per_fold"]} == {f["fold"] for f in trained}
    assert "oracle" not in section["table"] and "TimeSeriesSplit(n_splits=3)" in markdown
    assert " ± " in markdown  # mean ± standard deviation over folds


def test_a_flagged_feature_is_named_in_the_markdown(results, quality):
    _, record, _, _ = results
    section = json.loads(json.dumps(record["sections"]["simulator"]))
    section["leak_check"]["auc"] = {"events__leaky__30d": 0.991, **section["leak_check"]["auc"]}
    section["leak_check"]["flagged"] = ["events__leaky__30d"]
    text = "\n".join(quality.render_section(section))
    assert "**FLAGGED**" in text and "`events__leaky__30d` 0.991" in text
