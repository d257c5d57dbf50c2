"""The univariate detectors: scores in [0, 1], causal, streaming-exact, scikit-learn estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from tsstore.anomaly import ForecastResidual, RollingZScore, SeasonalResidual
from tsstore.anomaly.evaluate import evaluate_nab
from tsstore.anomaly.univariate import (
    NoveltyDetector,
    _holt_forecast,
    _novelty,
    _refractory,
    _rolling_median,
)
from tsstore.datasets import default_root, load_nab
from tsstore.errors import NotFoundError, ValidationError

try:
    DATA_ROOT = default_root()
except NotFoundError:  # pragma: no cover - depends on the machine
    DATA_ROOT = None

needs_data = pytest.mark.skipif(DATA_ROOT is None, reason="shared/datasets is not available")

DETECTORS = [
    RollingZScore(window=20),
    SeasonalResidual(period="240min", bins=24, seasons=3, window=50),
    ForecastResidual(window=50),
    NoveltyDetector(history=500, window=12, period="240min", seasons=3),
]
IDS = ["rolling", "seasonal", "forecast", "novelty"]


def _series(n: int = 4000, seed: int = 0) -> pd.Series:
    """A 240-minute cycle with noise, one point a minute."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    return pd.Series(np.sin(np.arange(n) * 2 * np.pi / 240) * 3 + rng.normal(0, 0.3, n), index=t)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_scores_lie_in_unit_interval_and_a_spike_scores_highest(det):
    x = _series()
    x.iloc[3500] += 8.0
    s = clone(det).fit(x).score_samples(x)
    assert s.shape == x.shape
    finite = s[np.isfinite(s)]
    assert len(finite) > 3900
    assert finite.min() >= 0.0 and finite.max() <= 1.0
    assert int(np.nanargmax(s)) == 3500
    assert s[3500] > 0.5


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_scores_are_causal(det):
    """The score of a point never depends on later points: a stream scores as the whole."""
    x = _series(3000, seed=1)
    whole = clone(det).fit(x).score_samples(x)
    head = clone(det).fit(x.iloc[:1900]).score_samples(x.iloc[:1900])
    np.testing.assert_allclose(head, whole[:1900], rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_lookback_rows_of_history_reproduce_the_full_scores(det):
    x = _series(4000, seed=2)
    whole = clone(det).fit(x).score_samples(x)
    start = 3500
    # lookback rows, and before them lookback_duration of time (one point a minute here)
    minutes = (getattr(det, "lookback_duration", None) or 0) // (60 * 10**9)
    lb = det.lookback + minutes
    piece = clone(det).fit(x).score_samples(x.iloc[start - lb :])
    np.testing.assert_allclose(piece[lb:], whole[start:], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_scikit_learn_contract(det):
    c = clone(det)
    assert c.get_params() == det.get_params()
    c.set_params(threshold=0.7)
    assert c.threshold_ == 0.7
    x = _series()
    x.iloc[3000] += 50
    pred = c.fit(x).predict(x)
    assert set(np.unique(pred)) <= {0, 1}
    assert pred[3000] == 1
    assert pred.sum() < 40


def test_predict_before_fit_says_how_to_fix():
    with pytest.raises(ValidationError, match="not fitted"):
        RollingZScore().score_samples(np.zeros(10))


def test_two_dimensional_input_is_refused_with_the_fix():
    with pytest.raises(ValidationError, match="one column"):
        RollingZScore().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}))
    with pytest.raises(ValidationError, match="window"):
        RollingZScore(window=1).fit(np.zeros(10))


def test_constant_series_any_change_is_an_anomaly():
    x = np.ones(300)
    x[200] = 1.5
    s = RollingZScore(window=50).fit(x).score_samples(x)
    assert s[200] == 1.0
    assert np.nanmax(np.delete(s, 200)) == 0.0


def test_seasonal_profile_needs_timestamps_for_a_duration_period():
    t = pd.date_range("2024-01-01", periods=24 * 21, freq="h", tz="UTC")
    base = np.where(t.hour == 9, 10.0, 1.0) + np.random.default_rng(0).normal(0, 0.1, len(t))
    x = pd.Series(base, index=t)
    x.iloc[-30] = 10.0  # a 9:00 level at another hour
    det = SeasonalResidual(period="1d", seasons=3).fit(x)
    s = det.score_samples(x)
    # the daily peak at 9:00 is normal once the profile has seen it
    nine = np.flatnonzero((t.hour == 9) & (np.arange(len(t)) > 24 * 4))
    assert np.nanmax(s[nine]) < 0.5
    assert int(np.nanargmax(s)) == len(x) - 30
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        det.score_samples(x.to_numpy())
    assert det.lookback_duration == 4 * 24 * 3600 * 10**9


def test_seasonal_integer_period_counts_phases_from_the_first_row():
    x = np.tile(np.r_[np.zeros(9), 5.0], 30)
    x[255] = 5.0
    det = SeasonalResidual(period=10, bins=10, seasons=3, window=30).fit(x)
    s = det.score_samples(x)
    assert int(np.nanargmax(s)) == 255
    assert det.lookback % 10 == 0


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(0.01, 1.0),
    beta=st.floats(0.0, 1.0),
    values=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60),
)
def test_holt_filter_equals_the_recursion(alpha, beta, values):
    x = np.asarray(values)
    level, trend, expected = x[0], 0.0, [np.nan]
    for v in x[1:]:
        expected.append(level + trend)
        new = alpha * v + (1 - alpha) * (level + trend)
        trend = beta * (new - level) + (1 - beta) * trend
        level = new
    np.testing.assert_allclose(
        _holt_forecast(x, alpha, beta), expected, rtol=1e-7, atol=1e-6, equal_nan=True
    )


def test_forecast_residual_follows_a_trend_that_a_median_lags():
    x = np.arange(2000, dtype=float) * 0.05 + np.random.default_rng(3).normal(0, 0.05, 2000)
    x[1200:] += np.arange(800) * 0.05  # the slope doubles: both notice, neither alarms for long
    x[1800] += 3.0
    f = ForecastResidual(window=100).fit(x).score_samples(x)
    assert int(np.nanargmax(f)) == 1800


# -- speed-ups that must not change a score ---------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    window=st.integers(1, 60),
    min_periods=st.integers(1, 60),
    n=st.integers(0, 3000),
    nans=st.lists(st.integers(0, 2999), max_size=4),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fast_rolling_median_is_pandas_bit_for_bit(window, min_periods, n, nans, ties, seed):
    x = np.random.default_rng(seed).normal(size=n)
    if ties:
        x = np.round(x * 2)
    x[[i for i in nans if i < n]] = np.nan
    mp = min(min_periods, window)
    expected = pd.Series(x).rolling(window, min_periods=mp).median().to_numpy()
    np.testing.assert_array_equal(_rolling_median(x, window, mp), expected)


def _time_window_profile(x: pd.Series, period: str, bins: int, seasons: int) -> np.ndarray:
    """The definition: per phase, the median over a left-closed time window of seasons periods."""
    p = pd.Timedelta(period).value
    phase = (x.index.asi8 % p) * bins // p
    out = np.full(len(x), np.nan)
    for ph in np.unique(phase):
        rows = np.flatnonzero(phase == ph)
        s = pd.Series(x.to_numpy()[rows], index=x.index[rows])
        out[rows] = s.rolling(pd.Timedelta(seasons * p), closed="left").median().to_numpy()
    return out


@pytest.mark.parametrize(
    ("freq", "start", "period", "bins", "seasons"),
    [
        ("5min", "2024-01-01 00:03", "1d", 24, 4),  # the count path, phases not aligned
        ("1min", "2024-01-01", "240min", 7, 3),  # uneven points per phase
        ("7min", "2024-01-01", "1d", 24, 2),  # not a whole number of steps a day: time path
        ("1h", "2024-01-01", "7d", 168, 2),
    ],
)
def test_seasonal_profile_equals_the_time_window_definition(freq, start, period, bins, seasons):
    n = 6000
    t = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    x = pd.Series(np.random.default_rng(4).normal(size=n), index=t)
    det = SeasonalResidual(period, bins=bins, seasons=seasons)
    expected = _time_window_profile(x, period, bins, seasons)
    np.testing.assert_array_equal(det.profile(x), expected)
    gap = x.drop(x.index[3000:3017])  # irregular: the time path
    np.testing.assert_array_equal(
        det.profile(gap), _time_window_profile(gap, period, bins, seasons)
    )


def test_seasonal_profile_takes_timestamps_that_step_back():
    t = pd.date_range("2024-01-01", periods=24 * 30, freq="h", tz="UTC").to_numpy().copy()
    t[400], t[401] = t[401], t[400]  # NAB has files like this
    x = pd.Series(np.random.default_rng(5).normal(size=len(t)), index=pd.DatetimeIndex(t))
    s = SeasonalResidual("1d", seasons=3).fit(x).score_samples(x)
    assert np.isfinite(s[24 * 4 :]).all()


# -- NoveltyDetector --------------------------------------------------------------------------


def _steady(n: int = 3000, seed: int = 6) -> pd.Series:
    """Bounded noise around 10 (its range is soon seen), a point every 5 minutes."""
    t = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.Series(10 + np.random.default_rng(seed).uniform(-1, 1, n), index=t)


def test_novelty_a_value_beyond_the_range_alarms_and_one_inside_it_does_not():
    x = _steady()
    x.iloc[2000] = x.iloc[:2000].max() + 0.5 * np.ptp(x.iloc[:2000])  # far above the range
    x.iloc[2500] = x.iloc[:2000].max() - 0.1  # high, but the series has been there
    det = NoveltyDetector(history=1000, period=None).fit(x)
    s = det.score_samples(x)
    c = det.components(x)
    assert s[2000] > 0.9 and c["value"].iloc[2000] == s[2000]
    assert s[2500] == 0.0
    assert list(c.columns) == ["value", "level", "seasonal"] and c["seasonal"].isna().all()


def test_novelty_a_sustained_level_alarms_where_a_lone_spike_does_not_move_it():
    x = _steady()
    lo, hi = x.iloc[:1500].min(), x.iloc[:1500].max()
    x.iloc[1500] = hi  # a lone spike to the top of the range: no new level
    x.iloc[2000:2300] = hi - 0.1 + np.random.default_rng(7).uniform(-0.05, 0.05, 300)
    det = NoveltyDetector(history=1000, period=None).fit(x)
    c = det.components(x)
    assert c["level"].iloc[1490:1530].max() == 0.0  # the median ignored the spike
    assert c["value"].iloc[2000:2300].max() < 0.5  # no value outside the range...
    assert c["level"].iloc[2000:2300].max() > 0.5  # ...but a level never held before
    assert lo < x.iloc[2000:2300].min()


def test_novelty_forgets_extremes_older_than_its_history():
    x = _steady()
    x.iloc[500] = 40.0  # an old spike widens the range...
    x.iloc[2500] = 30.0  # ...for `history` points only
    short = NoveltyDetector(history=1000, period=None).fit(x).score_samples(x)
    long = NoveltyDetector(history=2500, period=None).fit(x).score_samples(x)
    assert short[2500] > 0.9
    assert long[2500] == 0.0


def test_refractory_one_alarm_per_incident_and_another_when_it_grows():
    s = np.zeros(400)
    s[100:120] = 0.8  # an incident: one alarm at its start
    s[110] = 0.9  # it grows: a second alarm
    s[300:310] = 0.8  # a new incident, more than `refractory` points later
    s[5] = np.nan
    out = _refractory(s, 24)
    assert np.flatnonzero(out > 0).tolist() == [100, 110, 300]
    assert np.isnan(out[5]) and (out[np.isfinite(out)] <= s[np.isfinite(out)]).all()
    np.testing.assert_array_equal(_refractory(s, 0), s)


def test_novelty_detector_alarms_once_for_a_step():
    x = _steady()
    x.iloc[2000:] += 20.0  # a step to a level never seen, that stays
    det = NoveltyDetector(history=1000, period=None).fit(x)
    s = det.score_samples(x)
    alarms = np.flatnonzero(np.nan_to_num(s[2000:]) >= 0.5) + 2000
    assert alarms[0] == 2000
    assert len(alarms) <= 3  # the step, and at most its level catching up
    no_rule = NoveltyDetector(history=1000, period=None, refractory=0).fit(x).score_samples(x)
    assert (np.nan_to_num(no_rule[2000:]) >= 0.5).sum() > len(alarms)


def test_novelty_seasonal_component_flags_a_value_at_the_wrong_hour():
    t = pd.date_range("2024-01-01", periods=288 * 14, freq="5min", tz="UTC")
    rng = np.random.default_rng(8)
    x = pd.Series(np.where(t.hour < 12, 20.0, 80.0) + rng.normal(0, 1, len(t)), index=t)
    night = np.flatnonzero((t.hour == 3) & (np.arange(len(t)) > 288 * 11))[:24]
    x.iloc[night] = 80.0 + rng.normal(0, 1, len(night))  # a day level in the night
    det = NoveltyDetector().fit(x)
    c = det.components(x)
    assert c["value"].iloc[night].max() < 0.5  # 80 is in the range
    assert c["seasonal"].iloc[night].max() > 0.5  # but not at 3:00
    assert NoveltyDetector(period=None).fit(x).score_samples(x)[night].max() < 0.5
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        NoveltyDetector().fit(x.to_numpy())
    assert NoveltyDetector(period=None).fit(x.to_numpy()).lookback_duration is None


def test_novelty_helper_edges():
    f = np.array([np.nan, 1.0, 1.0, 2.0, 1.5, np.nan, 0.0, 5.0])
    r = _novelty(f, 10)
    assert np.isnan(r[0]) and np.isnan(r[1]) and np.isnan(r[5])  # no history / NaN
    assert r[2] == 0.0 and r[3] == np.inf and r[4] == 0.0  # a one-value range: any change
    assert r[6] == 1.0 and r[7] == 1.5  # below [1, 2] by 1; above [0, 2] by 3 = 1.5 ranges
    up = _novelty(f, 10, two_sided=False)
    assert up[6] == 0.0


def test_novelty_parameters_are_checked():
    x = _steady(200)
    for bad in (
        {"history": 1},
        {"window": 0},
        {"margin": 0},
        {"seasonal_margin": -1.0},
        {"refractory": -1},
        {"min_periods": 0},
    ):
        with pytest.raises(ValidationError):
            NoveltyDetector(period=None, **bad).fit(x)
    assert NoveltyDetector().lookback == 24 + 4032 + 201


# -- NAB --------------------------------------------------------------------------------------

# Measured with the defaults (one configuration for every file, NAB's corpus-wide threshold
# per profile); the floors leave about 2 points for numerical noise across platforms.


@needs_data
def test_novelty_detector_nab_known_cause_floor():
    nab = load_nab(DATA_ROOT)
    known = {k: v for k, v in nab.items() if k.startswith("realKnownCause/")}
    res = evaluate_nab(NoveltyDetector(), known)
    # measured 61.2 / 49.8 / 68.9
    assert res["standard"].normalised > 59.0
    assert res["reward_low_FP_rate"].normalised > 47.5
    assert res["reward_low_FN_rate"].normalised > 66.5


@needs_data
def test_novelty_detector_full_nab_corpus():
    nab = load_nab(DATA_ROOT)
    assert len(nab) == 58
    res = evaluate_nab(NoveltyDetector(), nab)
    # measured 70.8 / 64.3 / 75.1 (HTM's published 70.5 / 62.6 / 75.2)
    assert res["standard"].normalised > 69.0
    assert res["reward_low_FP_rate"].normalised > 62.0
    assert res["reward_low_FN_rate"].normalised > 73.0
    assert res["standard"].tp >= 90
    # the robust z detectors are not made for NAB: its flat stretches make a MAD of 0
    assert evaluate_nab(RollingZScore(), nab)["standard"].normalised < 20.0


def test_novelty_missing_values_are_not_scored_and_do_not_break_the_rest():
    x = _steady()
    x.iloc[[100, 1500, 1501]] = np.nan
    x.iloc[2000] = 30.0
    s = NoveltyDetector(history=1000, period=None).fit(x).score_samples(x)
    assert np.isnan(s[[100, 1500, 1501]]).all()
    assert s[2000] > 0.9
    assert np.isfinite(s[1502:]).all()
