"""The univariate detectors: scores in [0, 1], causal, streaming-exact, scikit-learn estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from tsstore.anomaly import ForecastResidual, RollingZScore, SeasonalResidual
from tsstore.anomaly.univariate import _holt_forecast
from tsstore.errors import ValidationError

DETECTORS = [
    RollingZScore(window=20),
    SeasonalResidual(period="240min", bins=24, seasons=3, window=50),
    ForecastResidual(window=50),
]
IDS = ["rolling", "seasonal", "forecast"]


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
    minutes = (getattr(det, "lookback_duration", None) or 0) // (60 * 10**9)
    lb = max(det.lookback, minutes)
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
