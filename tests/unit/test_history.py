"""Score history and outputs on disk: append, same-date rerun, crash mid-write, why it
changed, formula neutralisation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthscore.scoring.explain import explanation_from_points
from healthscore.model import HealthScale
from healthscore.io import staging
from healthscore.scoring.changes import MODEL_CHANGED, OTHER_CHANGES, attribute_changes
from healthscore.scoring.history import make_history_rows, read_previous
from healthscore.scoring.outputs import DateOutputs, OutputLayout, write_date
from healthscore.scoring.points import make_points_frame, unclipped_of
from healthscore.scoring.risk_list import (
    build_risk_list, make_scoring_cutoffs, neutralise_formulas, write_risk_csv,
)
from healthscore.io.staging import LOCK
from healthscore.data.tables import Tables

SCALE = HealthScale(offset=35.0, pdo=10.0, red_below=50, green_from=70)
NAMES = ["events__active_users__30d", "tickets__open__now", "invoices__days_overdue__now"]
CATALOGUE = {
    NAMES[0]: {"label": "Active users (30 days)", "family": "usage"},
    NAMES[1]: {"label": "Open tickets", "family": "support"},
    NAMES[2]: {"label": "Days overdue", "family": "billing"},
}
ACCOUNTS = pd.DataFrame({"account_id": [1, 2, 3], "name": ["Acme", "=cmd|' /C calc'!A0", "Initech"],
                         "owner": ["ann", "bob", "-"], "segment": ["SMB", "SMB", "Enterprise"]})


def make_outputs(as_of: str, points: dict[int, list[float]], *, base: float = 40.0,
                 version: str = "1", previous=None) -> DateOutputs:
    """A date's outputs from hand-picked points (3 features), as the engine assembles them."""
    ids = np.array(list(points))
    matrix = np.array([points[i] for i in ids], dtype=float)
    expl = explanation_from_points(matrix, np.full(len(ids), base), np.zeros(len(ids)),
                                   feature_names=NAMES, scale=SCALE)
    values = pd.DataFrame(-matrix, columns=NAMES)  # any values: here minus the points
    history = make_history_rows(ids, expl, arr=np.full(len(ids), 1200.0), model_version=version,
                                catalogue=CATALOGUE)
    stored = make_points_frame(ids, values, expl, row_hash=np.arange(len(ids), dtype=np.uint64),
                               model_fingerprint=f"fp{version}")
    risk = build_risk_list(
        pd.DataFrame({"account_id": ids, "mrr": 100.0, "health_score": expl.health_score,
                      "band": expl.band, "risk_proba": expl.risk_proba}),
        ACCOUNTS, None if previous is None else previous.history,
        top_drivers=[f"driver {i}" for i in ids], model_version=version, as_of=pd.Timestamp(as_of))
    changes = attribute_changes(
        stored, previous.points if previous else stored.iloc[:0], current_scores=history,
        previous_scores=previous.history if previous else history.iloc[:0],
        model_changed=bool(previous) and previous.model_version != version,
        previous_as_of=previous.as_of if previous else pd.Timestamp(as_of), catalogue=CATALOGUE,
        top=2)
    return DateOutputs(pd.Timestamp(as_of), risk, history, stored, changes,
                       pd.DataFrame({"account_id": pd.Series([], dtype=np.int64)}),
                       {"as_of": as_of, "model_version": version})


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK}


def hidden(root: Path) -> list[Path]:
    """Hidden files left behind (the folder's lock file is meant to stay)."""
    return [p for p in root.rglob("*") if p.name.startswith(".") and p.name != LOCK]


# ------------------------------------------------------------------ on disk


def test_history_appends_and_a_rerun_replaces_only_its_date(tmp_path):
    layout = OutputLayout(tmp_path)
    write_date(layout, make_outputs("2024-01-31", {1: [-5, 0, 0], 2: [3, 0, 0]}),
               write_csv=write_risk_csv, update_latest=True)
    previous = read_previous(layout, "2024-02-29")
    write_date(layout, make_outputs("2024-02-29", {1: [-9, 1, 0], 2: [3, 0, 0], 3: [0, 0, 0]},
                                    previous=previous),
               write_csv=write_risk_csv, update_latest=True)
    history = layout.read_history()
    assert history.groupby("as_of").size().to_dict() == {
        pd.Timestamp("2024-01-31"): 2, pd.Timestamp("2024-02-29"): 3}
    february = {p: b for p, b in snapshot(tmp_path).items() if "2024-02-29" in p}
    latest = layout.latest_risk_list.read_bytes()

    # rerun January with other scores; February and latest (February's) stay as they were
    write_date(layout, make_outputs("2024-01-31", {1: [-20, 0, 0], 2: [3, 0, 0]}),
               write_csv=write_risk_csv, update_latest=False)
    history = layout.read_history()
    january = history[history["as_of"] == "2024-01-31"].set_index("account_id")
    assert january.loc[1, "unclipped_score"] == pytest.approx(20.0)
    assert len(history) == 5
    after = snapshot(tmp_path)
    assert {p: b for p, b in after.items() if "2024-02-29" in p} == february
    assert layout.latest_risk_list.read_bytes() == latest
    assert hidden(tmp_path) == []


def test_a_crash_mid_write_leaves_earlier_outputs_untouched(tmp_path, monkeypatch):
    layout = OutputLayout(tmp_path)
    write_date(layout, make_outputs("2024-01-31", {1: [-5, 0, 0], 2: [3, 0, 0]}),
               write_csv=write_risk_csv, update_latest=True)
    before = snapshot(tmp_path)
    written = []

    def crashing_csv(frame, path):
        # the CSV is written in a thread beside the Parquet files: crash once the risk
        # list's Parquet is staged, so that the crash lands in the middle of the write
        staged = path.with_suffix(".parquet")
        for _ in range(3000):  # at most 30 s; the main thread writes it in milliseconds
            if staged.exists():
                break
            time.sleep(0.01)
        written.append(sorted(p.name for p in path.parent.iterdir()))  # the Parquet is there
        raise OSError("disk full")

    for as_of in ("2024-02-29", "2024-01-31"):  # a new date, and a rerun of the old one
        with pytest.raises(OSError, match="disk full"):
            write_date(layout, make_outputs(as_of, {1: [-30, 0, 0], 2: [0, 0, 0]}),
                       write_csv=crashing_csv, update_latest=True)
        assert snapshot(tmp_path) == before
        assert hidden(tmp_path) == []
    assert all(any(n.endswith(".parquet") for n in names) for names in written)
    assert layout.dates() == [pd.Timestamp("2024-01-31")]


def test_a_failure_while_committing_is_finished_by_the_next_reader(tmp_path, monkeypatch):
    layout = OutputLayout(tmp_path)
    write_date(layout, make_outputs("2024-01-31", {1: [-5, 0, 0]}), write_csv=write_risk_csv,
               update_latest=True)
    real = staging.os.replace

    def failing(src, dst):  # the history partition's rename, after the points' one
        if Path(src).name == "as_of=2024-02-29" and Path(src).parent.name == "history":
            raise OSError("power cut")
        return real(src, dst)

    monkeypatch.setattr(staging.os, "replace", failing)
    with pytest.raises(OSError, match="power cut"):
        write_date(layout, make_outputs("2024-02-29", {1: [-9, 0, 0]}), write_csv=write_risk_csv,
                   update_latest=True)
    monkeypatch.undo()
    assert (layout.points_partition("2024-02-29") / "part-0.parquet").exists()  # half in place
    assert not layout.run("2024-02-29").exists()
    # past the commit point the date is decided: the next reader finishes the commit
    assert layout.dates() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]
    assert read_previous(layout, "2024-03-31").as_of == pd.Timestamp("2024-02-29")
    assert hidden(tmp_path) == []


# ----------------------------------------------------------- why it changed


def test_change_lines_sum_to_the_score_change():
    first = make_outputs("2024-01-31", {1: [-5, 2, 0.5], 2: [3, 0, 0], 9: [1, 1, 1]})
    second = make_outputs("2024-02-29", {1: [-9, 3, -1.0], 2: [3, 0, 0], 3: [0, 0, 0]},
                          previous=read_previous_from(first))
    changes = second.changes
    assert set(changes["account_id"]) == {1}  # 2 unchanged, 3 and 9 on one date only
    lines = changes[changes["account_id"] == 1]
    # named by size: -4 (active users), then -1.5 (overdue); the rest is "other changes"
    assert list(lines["feature"]) == [NAMES[0], NAMES[2], OTHER_CHANGES]
    np.testing.assert_allclose(lines["points_change"], [-4.0, -1.5, 1.0])
    cur = second.points.set_index("account_id")
    prev = first.points.set_index("account_id")
    expected = unclipped_of(cur.loc[[1]].reset_index()) - unclipped_of(prev.loc[[1]].reset_index())
    assert lines["points_change"].sum() == pytest.approx(expected[0], abs=1e-9)
    assert lines["unclipped_change"].iloc[0] == pytest.approx(expected[0], abs=1e-9)
    assert lines["value_before"].iloc[0] == "5" and lines["value_after"].iloc[0] == "9"
    # the history agrees with the points
    np.testing.assert_allclose(second.history["unclipped_score"], unclipped_of(second.points))


def test_changes_match_accounts_by_id_not_by_row():
    first = make_outputs("2024-01-31", {1: [-5, 2, 0.5], 2: [3, 0, 0]})
    second = make_outputs("2024-02-29", {9: [0, 0, 0], 2: [3, 1, 0], 1: [-9, 2, 0.5]},
                          previous=read_previous_from(first))
    lines = second.changes.set_index(["account_id", "feature"])
    assert lines.loc[(1, NAMES[0]), "points_change"] == pytest.approx(-4.0)
    assert (lines.loc[(1, NAMES[0]), "value_before"], lines.loc[(1, NAMES[0]), "value_after"]) == ("5", "9")
    assert lines.loc[(2, NAMES[1]), "points_change"] == pytest.approx(1.0)
    assert set(second.changes["account_id"]) == {1, 2}


def test_a_value_that_moved_the_healthy_way_yet_cost_points_is_said_so():
    from healthscore.scoring.changes import describe_change

    first = make_outputs("2024-01-31", {1: [-5, 0, 0.5], 2: [1, 0, 0]})
    second = make_outputs("2024-02-29", {1: [-9, 0, -1.0], 2: [2, 0, 0]})
    directed = {NAMES[0]: {**CATALOGUE[NAMES[0]], "healthy_direction": 1},
                NAMES[2]: {**CATALOGUE[NAMES[2]], "healthy_direction": -1}}
    lines = attribute_changes(second.points, first.points, current_scores=second.history,
                              previous_scores=first.history, model_changed=False,
                              previous_as_of=first.as_of, catalogue={**CATALOGUE, **directed})
    flags = lines.set_index(["account_id", "feature"])["against_direction"]
    # values are minus the points: account 1's active users 5 -> 9 (better) cost 4 points
    assert flags[(1, NAMES[0])]
    # days overdue -0.5 -> 1 (worse, lower is healthier) cost 1.5 points: as expected
    assert not flags[(1, NAMES[2])]
    # account 2's active users -1 -> -2 (worse) added a point
    assert flags[(2, NAMES[0])]
    # the flag is for the data-science views; CSM views leave such lines out (profile.split_changes)
    words = {key: describe_change(row) for key, row in zip(flags.index, lines.to_dict("records"))}
    assert not any("yet" in w for w in words.values())
    # without a direction in the catalogue nothing is flagged
    plain = attribute_changes(second.points, first.points, current_scores=second.history,
                              previous_scores=first.history, model_changed=False,
                              previous_as_of=first.as_of, catalogue=CATALOGUE)
    assert not plain["against_direction"].any()


def test_a_new_model_puts_the_base_change_on_its_own_line():
    first = make_outputs("2024-01-31", {1: [-5, 0, 0]}, base=40.0, version="1")
    second = make_outputs("2024-02-29", {1: [-5, -2, 0]}, base=37.0, version="2",
                          previous=read_previous_from(first))
    lines = second.changes
    model_line = lines[lines["feature"] == MODEL_CHANGED]
    assert model_line["points_change"].tolist() == [pytest.approx(-3.0)]
    assert lines["points_change"].sum() == pytest.approx(-5.0)
    assert lines["unclipped_change"].iloc[0] == pytest.approx(-5.0)


def read_previous_from(outputs: DateOutputs):
    from healthscore.scoring.history import Previous

    return Previous(outputs.as_of, outputs.history, outputs.points, outputs.run["model_version"])


# ---------------------------------------------------------------- risk list


def test_formula_cells_are_neutralised_and_numbers_untouched(tmp_path):
    frame = pd.DataFrame({
        "name": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None],
        "arr": [-100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "score_change": pd.array([-3, 1, 2, 3, 4, 5, 6, None], dtype="Int64"),
    })
    out = neutralise_formulas(frame)
    assert out["name"].tolist()[:7] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", " x",
                                        " x", "plain"]  # a tab or CR is a space (one line per row)
    assert pd.isna(out["name"].iloc[7])
    pd.testing.assert_series_equal(out["arr"], frame["arr"])
    pd.testing.assert_series_equal(out["score_change"], frame["score_change"])
    path = tmp_path / "r.csv"
    write_risk_csv(frame, path)
    back = pd.read_csv(path)
    assert back["arr"].iloc[0] == -100.0 and back["score_change"].iloc[0] == -3
    assert back["name"].iloc[0].startswith("'=")


def test_risk_list_is_sorted_by_arr_at_risk_with_changes(tmp_path):
    first = make_outputs("2024-01-31", {1: [-5, 0, 0], 2: [30, 0, 0]})
    second = make_outputs("2024-02-29", {1: [-25, 0, 0], 2: [30, 0, 0], 3: [-40, 0, 0]},
                          previous=read_previous_from(first))
    risk = second.risk_list
    assert list(risk["account_id"]) == [3, 1, 2]
    assert risk["arr_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(risk["arr_at_risk"], risk["arr"] * risk["risk_proba"])
    by_id = risk.set_index("account_id")
    assert by_id.loc[1, "score_change"] == -20 and by_id.loc[1, "previous_band"] == "red"
    assert pd.isna(by_id.loc[3, "score_change"]) and pd.isna(by_id.loc[3, "previous_band"])


def test_active_accounts_follow_the_time_rule():
    t = pd.Timestamp("2024-03-01")
    subs = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 4],
        "start_date": pd.to_datetime(["2023-03-01", "2024-03-01", "2023-01-01", "2023-06-01",
                                      "2023-09-01"]).astype("datetime64[us]"),
        "end_date": pd.to_datetime(["2024-03-01", "2025-03-01", "2024-02-29", "2024-06-01",
                                    "2024-09-01"]).astype("datetime64[us]"),
        "mrr": [100.0, 50.0, 70.0, 10.0, 20.0],
    })
    accounts = pd.DataFrame({"account_id": [1, 2, 3, 4]})
    rows = make_scoring_cutoffs(Tables({"accounts": accounts, "subscriptions": subs},
                                       pd.Timestamp("2024-03-02")), t)
    # 1 renews today (its subscription ends at t), 2 starts at t (invisible), 3 ended
    assert rows["account_id"].tolist() == [1, 4]
    assert rows["mrr"].tolist() == [100.0, 30.0]
    # the latest end of the covering contracts: the first date the account can be lost
    assert rows["renewal_date"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-09-01")]
    assert rows["term_days"].tolist() == [366.0, 366.0]
    assert (rows["cutoff_time"] == t).all()


# ------------------------------------------------------- engine: reuse, scorecard


def _tiny_exported(kind: str):
    from healthscore.config import ScorecardRule
    from healthscore.model import ExportedModel, HealthScoreModel, RuleScorecard

    rng = np.random.default_rng(0)
    X = pd.DataFrame({NAMES[0]: rng.poisson(10, 200).astype(float),
                      NAMES[1]: rng.poisson(1, 200).astype(float),
                      NAMES[2]: rng.exponential(10, 200)})
    y = (rng.random(200) < 1 / (1 + np.exp(0.3 * X[NAMES[0]] - 3 - X[NAMES[1]]))).astype(int)
    if kind == "lightgbm":
        model = HealthScoreModel(n_estimators=20, num_leaves=4, min_child_samples=5,
                                 early_stopping_rounds=0, n_jobs=1).fit(X, y)
        return ExportedModel(model, SCALE, catalogue=CATALOGUE), X
    card = RuleScorecard([ScorecardRule(NAMES[0], good=15, bad=2, weight=2.0),
                          ScorecardRule(NAMES[1], good=0, bad=4, weight=1.0)],
                         scale=SCALE).fit(X, y)
    return ExportedModel(card, SCALE, catalogue=CATALOGUE), X


def test_incremental_reuses_unchanged_rows_and_explains_the_rest():
    from healthscore.scoring.engine import explain_rows

    exported, X = _tiny_exported("lightgbm")
    ids = np.arange(len(X))
    full, hashes, reused = explain_rows(exported, X, chunk_rows=64, account_ids=ids)
    assert reused == 0
    stored = make_points_frame(ids, X, full, row_hash=hashes, model_fingerprint="fp")
    changed = X.copy()
    changed.loc[:9, NAMES[0]] += 50  # ten accounts moved
    again, _, reused = explain_rows(exported, changed, chunk_rows=64, reuse=stored, account_ids=ids)
    fresh, _, _ = explain_rows(exported, changed, chunk_rows=1000, account_ids=ids)
    assert reused == len(X) - 10
    np.testing.assert_allclose(again.points, fresh.points, atol=1e-12)
    np.testing.assert_array_equal(again.health_score, fresh.health_score)
    np.testing.assert_allclose(again.risk_proba, exported.predict_risk(changed), atol=1e-12)
    assert not np.allclose(again.points[:10], full.points[:10])


def test_a_scorecard_export_is_scored_and_explained_by_rule_points():
    from healthscore.scoring.engine import explain_rows

    exported, X = _tiny_exported("scorecard")
    expl, _, _ = explain_rows(exported, X[exported.feature_names], chunk_rows=70,
                              account_ids=np.arange(len(X)))
    np.testing.assert_array_equal(expl.health_score, exported.health_score(X))
    np.testing.assert_allclose(expl.risk_proba, exported.predict_risk(X))
    np.testing.assert_allclose(expl.base + expl.points.sum(axis=1), expl.unclipped)
    # a rule at its best value helps by its weight's share of 50 points
    best = X.index[(X[NAMES[0]] >= 15) & (X[NAMES[1]] == 0)][0]
    np.testing.assert_allclose(expl.points[X.index.get_loc(best)], [2 / 3 * 50, 1 / 3 * 50])


@pytest.mark.parametrize("version", ["1", "2"])  # the same model, and a new one (its own line)
def test_change_lines_worked_out_a_few_accounts_at_a_time_are_the_same_table(monkeypatch, version):
    import healthscore.scoring.changes as changes_module

    rng = np.random.default_rng(8)
    ids = rng.permutation(40) + 1
    before = {int(i): list(np.round(rng.normal(0, 4, 3), 1)) for i in ids[:33]}
    after = {int(i): list(np.round(rng.normal(0, 4, 3), 1)) for i in ids[5:]}
    first = read_previous_from(make_outputs("2024-01-31", before))
    second = make_outputs("2024-02-29", after, base=38.0, version=version)

    def lines():
        return attribute_changes(second.points, first.points, current_scores=second.history,
                                 previous_scores=first.history, model_changed=first.model_version != version,
                                 previous_as_of=first.as_of, catalogue=CATALOGUE, top=2)

    whole = lines()
    assert whole["account_id"].nunique() > 20
    monkeypatch.setattr(changes_module, "CHANGE_ACCOUNTS", 3)  # 10 parts, the last one short
    pd.testing.assert_frame_equal(lines(), whole)
