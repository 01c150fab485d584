"""The ARR range under a shared level shock, and how the shock is measured (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from healthscore.model.calibration import level_spread
from healthscore.model.exposure import recency_weights, refit_hazard_level
from healthscore.scoring.arr_range import arr_at_risk


def _book(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"arr": rng.lognormal(9.5, 1.0, n), "risk_proba": rng.uniform(0.02, 0.35, n)})


def _coverage(frame: pd.DataFrame, *, true_sd: float, logit_sd: float, repeats: int, seed: int) -> tuple[float, float]:
    """Share of seeded repetitions whose realised ARR lost / count lost falls in the range
    computed once from ``risk_proba`` with ``logit_sd``, when every repetition's outcomes
    share one logit shift of sd ``true_sd``."""
    row = arr_at_risk(frame, n_draws=4000, logit_sd=logit_sd, random_state=3).iloc[-1]
    rng = np.random.default_rng(seed)
    base = logit(frame["risk_proba"].to_numpy())
    amounts = frame["arr"].to_numpy()
    arr_in = count_in = 0
    for _ in range(repeats):
        lost = rng.random(len(frame)) < expit(base + rng.normal(0.0, true_sd))
        arr_in += row["arr_lost_low"] <= amounts[lost].sum() <= row["arr_lost_high"]
        count_in += row["accounts_lost_low"] <= lost.sum() <= row["accounts_lost_high"]
    return arr_in / repeats, count_in / repeats


def test_a_planted_shared_shock_is_covered_about_80_percent_when_its_sd_is_given():
    frame = _book(1500, seed=1)
    arr_cover, count_cover = _coverage(frame, true_sd=0.3, logit_sd=0.3, repeats=300, seed=2)
    # 300 repetitions: a binomial standard error of 0.023 around 0.8
    assert 0.72 <= arr_cover <= 0.88
    assert 0.72 <= count_cover <= 0.88
    # the independent accounts' range misses a shared shock most of the time
    arr_alone, count_alone = _coverage(frame, true_sd=0.3, logit_sd=0.0, repeats=300, seed=2)
    assert arr_alone < 0.6 and count_alone < 0.5


def test_without_a_shock_the_count_range_is_the_exact_poisson_binomial_and_covers():
    frame = _book(60, seed=4)
    p = frame["risk_proba"].to_numpy()
    pmf = np.ones(1)
    for q in p:  # the Poisson-binomial by direct recursion
        pmf = np.convolve(pmf, [1 - q, q])
    cdf = np.cumsum(pmf)
    low, high = int(np.searchsorted(cdf, 0.1 - 1e-9)), int(np.searchsorted(cdf, 0.9 - 1e-9))
    row = arr_at_risk(frame, logit_sd=0.0).iloc[-1]
    assert (row["accounts_lost_low"], row["accounts_lost_high"]) == (low, high)
    assert cdf[high] - (cdf[low - 1] if low else 0.0) >= 0.8
    arr_cover, count_cover = _coverage(frame, true_sd=0.0, logit_sd=0.0, repeats=400, seed=5)
    assert 0.74 <= arr_cover <= 0.87 and count_cover >= 0.78


def test_the_range_with_a_shock_is_deterministic_by_seed_and_chunking():
    frame = _book(700, seed=6).assign(segment=lambda f: np.where(f.index % 3 == 0, "SMB", "Enterprise"))
    one = arr_at_risk(frame, by="segment", logit_sd=0.25, random_state=9, chunk_accounts=256)
    two = arr_at_risk(frame, by="segment", logit_sd=0.25, random_state=9, chunk_accounts=4096)
    pd.testing.assert_frame_equal(one, two)
    other = arr_at_risk(frame, by="segment", logit_sd=0.25, random_state=10)
    assert not one["arr_lost_high"].equals(other["arr_lost_high"])


def _dates_with_shift(sd: float, *, sizes: list[int], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(len(sizes)), sizes)
    p = rng.uniform(0.05, 0.3, len(dates))
    shift = rng.normal(0.0, sd, len(sizes))[dates]
    lost = rng.random(len(dates)) < expit(logit(p) + shift)
    return p, lost, dates


def test_the_level_spread_takes_the_noise_out_and_weighs_small_dates_little():
    # twelve large dates and eight small ones (noise sd of their logit about 0.35)
    sizes = [4000] * 12 + [250] * 8
    estimates = [level_spread(*_dates_with_shift(0.0, sizes=sizes, seed=s)) for s in range(20)]
    assert np.mean(estimates) < 0.06
    shifted = [level_spread(*_dates_with_shift(0.3, sizes=sizes, seed=s)) for s in range(20)]
    assert 0.22 < np.median(shifted) < 0.38


def test_a_level_off_on_every_date_counts_as_error():
    p, lost, dates = _dates_with_shift(0.0, sizes=[3000] * 6, seed=3)
    off = expit(logit(p) - 0.4)  # every date predicted too low by 0.4 in logit
    assert 0.3 < level_spread(off, lost, dates) < 0.5


def test_the_recency_weighted_level_follows_the_latest_cutoffs():
    rng = np.random.default_rng(8)
    cutoffs = pd.date_range("2023-01-01", periods=24, freq="MS").to_numpy().repeat(2000)
    recent = cutoffs >= np.datetime64("2024-07-01")
    model_logit = rng.normal(-2.5, 0.8, len(cutoffs))
    truth = model_logit + np.where(recent, -0.5, 0.2)  # the level fell in the last six months
    label = (rng.random(len(cutoffs)) < expit(truth)).astype(float)
    weights = recency_weights(cutoffs, half_life_months=3.0)
    assert weights.max() == 1.0 and weights.min() < 0.01
    shift = refit_hazard_level(model_logit, label, weights)
    flat = refit_hazard_level(model_logit, label, np.ones(len(cutoffs)))
    assert shift < -0.25 < flat
    assert refit_hazard_level(model_logit, np.zeros(len(cutoffs)), weights) == 0.0


def test_a_negative_shock_sd_is_refused():
    with pytest.raises(ValueError, match="logit_sd"):
        arr_at_risk(_book(10, seed=0), logit_sd=float("nan"))


def test_the_replayed_level_error_finds_a_drift_the_fitted_dates_hide():
    from healthscore.model.exposure import Horizon
    from healthscore.model.hazard_level import replayed_spread

    rng = np.random.default_rng(12)
    horizon = Horizon(horizon_days=365, lead_days=0, grace_days=30)
    months = pd.date_range("2023-01-01", periods=30, freq="MS")
    rows, per = [], 1200
    for m, cutoff in enumerate(months):  # one interval a window, renewing within the year
        lead_days = rng.integers(10, 300, per)
        margin = rng.normal(-2.0, 0.7, per)
        rows.append(pd.DataFrame({"cutoff_time": cutoff, "margin": margin, "lead": lead_days / 365.0,
                                  "drift": 0.06 * m}))
    frame = pd.concat(rows, ignore_index=True)
    steady = (rng.random(len(frame)) < expit(frame["margin"])).astype(float)
    drifting = (rng.random(len(frame)) < expit(frame["margin"] + frame["drift"])).astype(float)
    cutoffs = frame["cutoff_time"].to_numpy("datetime64[us]")
    recent = pd.Timestamp("2024-12-01")
    # only intervals over by the end of the data are known
    ends = cutoffs + (np.round(frame["lead"].to_numpy() * 365) * 86_400_000_000).astype("timedelta64[us]")
    known = ends <= np.datetime64("2025-06-01")
    args = dict(window=np.arange(known.sum()), dates=cutoffs[known], recent_from=recent, horizon=horizon)
    sd = {name: replayed_spread(frame["margin"].to_numpy()[known], frame["lead"].to_numpy()[known],
                                 y[known], cutoffs[known], lost=y[known] > 0, **args)
          for name, y in (("steady", steady), ("drifting", drifting))}
    assert sd["steady"] < 0.1
    assert sd["drifting"] > 0.15
