"""The simulator's expansion oracle: the true chance of an MRR rise within the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from healthscore.cli import main
from healthscore.errors import ConfigError, DataError
from healthscore.io.files import read_oracle
from healthscore.model.expansion import oracle_expansion
from healthscore.sim import expansion_oracle as eo
from healthscore.sim import oracle, world
from healthscore.sim.simulate import SimulationSpec, simulate, write_simulation

DAY = int(np.datetime64("2023-01-01", "D").astype(np.int64))
NEVER = DAY + 10_000
BASE = dict(n_accounts=240, months=14, seed=4, chunk_accounts=100, oracle_horizon_days=365)


def _state(z, *, renewal, drawn, team=False, cut=False, seats=20.0, plan=1, term=12):
    """``len(z)`` accounts at the 2023-01-01 cutoff, each with one renewal (day
    offsets ``renewal``), its decision drawn with probability ``drawn`` (NaN: not yet)."""
    n = len(z)
    renewal_day = np.stack([DAY + np.asarray(renewal), np.full(n, NEVER)], axis=1)
    month = np.where(np.asarray(renewal) < 31, 0, 3)
    lag = np.zeros((len(world.CAUSES), n))
    state = oracle.CutoffState(
        month=0, day=DAY, renewal_day=renewal_day,
        notice_month=np.stack([month - 3, np.full(n, 99)], axis=1),
        base_logit=np.full((n, 2), -3.0), drawn_proba=np.stack([drawn, np.full(n, np.nan)], axis=1),
        segment=np.zeros(n, dtype=np.int64), mu=np.zeros(n), z=np.asarray(z, dtype=float),
        intensity=lag, intensity_lag=lag, last_release=-2)
    price = np.round(seats * world.PLAN_PRICE[plan] * (1 - 0.1), 2)
    grow = eo.ExpansionState(
        min_increase=0.10, renewal_month=np.stack([month, np.full(n, 999)], axis=1),
        term=np.full(n, term), seats=np.full(n, seats), discount=np.full(n, 0.1),
        mrr=np.full(n, price), plan=np.full(n, plan), pending_team=np.full(n, team),
        pending_cut=np.full(n, cut))
    return state, grow


def _score(state, grow, horizon=365, seed=0):
    spec = SimulationSpec(oracle_horizon_days=horizon, oracle_expansion_increase=0.10)
    return eo.expansion_cutoff(state, grow, spec, random_state=np.random.default_rng(seed))


def _engine_rule(z, *, seats, team, cut, plan, rng, n):
    """The engine's renewal (ChunkEngine._renew) for an annual contract, drawn ``n`` times."""
    z = np.clip(z, -2, 2)
    change = rng.normal(0.03 + 0.06 * z, 0.07, n) + 0.25 * team - 0.35 * cut
    new_seats = np.clip(np.round(seats * np.exp(change)), 1, 5000)
    up = (z > 0.5) & (rng.random(n) < 0.06)
    down = cut & (rng.random(n) < 0.3)
    new_plan = np.clip(plan + up - down, 0, 3)
    return np.round(new_seats * world.PLAN_PRICE[new_plan] * (1 - 0.1), 2)


# ----------------------------------------------------------- one cutoff, by hand


def test_a_renewal_decided_this_month_gives_the_exact_chance_of_the_engines_rule():
    z = np.array([-1.0, 0.2, 0.8, 0.8, 0.8])
    state, grow = _state(z, renewal=[10, 10, 10, 10, 10], drawn=np.full(5, 0.2),
                         team=False, cut=False)
    got = _score(state, grow)
    rng = np.random.default_rng(1)
    before = grow.mrr[0]
    for i, zi in enumerate(z):
        mrr = _engine_rule(zi, seats=20.0, team=False, cut=False, plan=1, rng=rng, n=400_000)
        want = 0.8 * np.mean(mrr >= 1.1 * before - 1e-9)  # kept (p 0.2 of a loss) and risen
        assert got[i] == pytest.approx(want, abs=0.004), i
    assert got[0] < got[1] < got[2]  # healthier accounts buy more seats


def test_pending_news_move_the_chance_the_way_the_engine_does():
    z = np.zeros(3)
    plain, grow = _state(z, renewal=[10] * 3, drawn=np.zeros(3))
    team = _score(*_state(z, renewal=[10] * 3, drawn=np.zeros(3), team=True))
    cut = _score(*_state(z, renewal=[10] * 3, drawn=np.zeros(3), cut=True))
    base = _score(plain, grow)
    # +0.25 log-seats after a new team: the 10 % bar is then nearly certain
    bar = np.log(21.5 / 20)  # 22 seats are +10 %: round(20 exp(change)) >= 22
    np.testing.assert_allclose(base, ndtr((0.03 - bar) / 0.07), atol=1e-9)
    assert (team > 0.99).all() and (cut < 1e-6).all()


def test_no_renewal_in_the_window_or_a_certain_loss_gives_zero():
    state, grow = _state(np.full(3, 1.5), renewal=[400, 10, 100], drawn=np.array([np.nan, 1.0, np.nan]))
    got = _score(state, grow)
    assert got[0] == 0.0  # the renewal is after the horizon: the MRR cannot move
    assert got[1] == 0.0  # the renewal is lost for sure
    assert 0.0 < got[2] < 1.0  # decided later, on the paths


def test_a_later_renewal_is_averaged_over_the_health_paths():
    # Decided in month 0 (notice), renewed in month 3: health moves in between.
    z = np.array([-1.5, 0.0, 1.5])
    state, grow = _state(z, renewal=[100, 100, 100], drawn=np.full(3, np.nan))
    got = _score(state, grow)
    assert got[0] < got[1] < got[2]
    again = _score(state, grow, seed=1)
    np.testing.assert_allclose(got, again, atol=0.05)  # Monte Carlo noise only


# ------------------------------------------------------------ the simulation


@pytest.fixture(scope="module")
def pair():
    """The same small market without and with the expansion oracle."""
    return (simulate(SimulationSpec(**BASE)),
            simulate(SimulationSpec(**BASE, oracle_expansion_increase=0.10)))


def test_expansion_proba_is_a_probability_and_every_other_output_is_unchanged(pair):
    without, with_ = pair
    assert set(without) == set(with_)
    for name, frame in without.items():
        other = with_[name]
        if name == "oracle":
            assert list(other.columns) == [*frame.columns, "expansion_proba"]
            other = other[frame.columns]
        pd.testing.assert_frame_equal(frame, other, check_exact=True, obj=name)
    p = with_["oracle"]["expansion_proba"]
    assert p.notna().all() and p.between(0, 1).all()
    assert 0.15 < p.mean() < 0.5 and p.std() > 0.1


def test_files_of_every_other_table_are_byte_identical(tmp_path):
    plain = write_simulation(SimulationSpec(**BASE), tmp_path / "a")
    grown = write_simulation(SimulationSpec(**BASE, oracle_expansion_increase=0.10), tmp_path / "b")
    for name, path in plain.items():
        if name not in ("oracle", "readme"):
            assert path.read_bytes() == grown[name].read_bytes(), name
    assert "expansion_proba" not in plain["readme"].read_text()
    assert "oracle_expansion_increase" not in plain["readme"].read_text()
    assert "`expansion_proba` is the true probability" in grown["readme"].read_text()
    for fmt in ("csv",):
        path = write_simulation(SimulationSpec(**BASE, oracle_expansion_increase=0.10),
                                tmp_path / fmt, format=fmt)["oracle"]
        np.testing.assert_allclose(read_oracle(path)["expansion_proba"],
                                   read_oracle(grown["oracle"])["expansion_proba"])


def test_it_ranks_the_realised_expansions(pair):
    """Higher oracle, more expansions: annual renewals in their cutoff's month, realised."""
    frames = pair[1]
    rows, subs = frames["oracle"], frames["subscriptions"]
    month_end = rows["cutoff_time"] + pd.offsets.MonthBegin(1)
    rows = rows[(rows["next_renewal_date"] < month_end) & (month_end <= pd.Timestamp("2024-03-01"))
                & (rows["term_months"] == 12)]
    old = subs.rename(columns={"end_date": "next_renewal_date", "mrr": "before"})
    new = subs.rename(columns={"start_date": "next_renewal_date", "mrr": "after"})
    keys = ["account_id", "next_renewal_date"]
    joined = rows.merge(old[[*keys, "before"]], on=keys).merge(new[[*keys, "after"]], on=keys, how="left")
    grew = (joined["after"] >= 1.1 * joined["before"] - 1e-9).to_numpy()
    p = joined["expansion_proba"].to_numpy()
    high = p >= np.median(p)
    assert len(p) >= 100
    assert grew[high].mean() > grew[~high].mean() + 0.1


def test_spec_and_cli_refuse_an_expansion_oracle_without_a_horizon(tmp_path, monkeypatch, capsys):
    for value in (0, -0.1, 11, True):
        with pytest.raises(ConfigError, match="oracle_expansion_increase"):
            SimulationSpec(oracle_horizon_days=365, oracle_expansion_increase=value)
    with pytest.raises(ConfigError, match="oracle_expansion_increase"):
        SimulationSpec(oracle_expansion_increase=0.1)
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--accounts", "30", "--months", "3", "--out", "x", "--oracle-expansion"]) != 0
    assert "--oracle-expansion needs --oracle-horizon-days" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["simulate", "--accounts", "30", "--months", "3", "--out", "y",
                 "--oracle-horizon-days", "365", "--oracle-expansion"]) == 0
    assert "expansion_proba" in read_oracle(tmp_path / "y" / "oracle.parquet").columns


def test_the_model_refuses_an_oracle_of_another_horizon(pair):
    truth = pair[1]["oracle"]
    rows = truth[["account_id", "cutoff_time"]].head(5)
    np.testing.assert_allclose(oracle_expansion(rows, truth, horizon_days=365),
                               truth["expansion_proba"].head(5))
    with pytest.raises(DataError, match="horizon_days is 365.*expansion.horizon_days is 180"):
        oracle_expansion(rows, truth, horizon_days=180)
    with pytest.raises(DataError, match="--oracle-expansion"):
        oracle_expansion(rows, pair[0]["oracle"])
