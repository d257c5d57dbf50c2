"""Univariate detectors: one series in, one anomaly score in [0, 1] per point out.

Every detector here is *causal*: the score of point ``t`` depends only on points ``<= t``, so
scoring a stream piece by piece (with :attr:`lookback` points of history before each piece) gives
the same scores as scoring the whole history at once. That is what lets
:func:`tsstore.anomaly.detect` score only new points (``since=``).

- :class:`RollingZScore`: distance from the rolling median in rolling MADs.
- :class:`SeasonalResidual`: distance from the series' own daily or weekly profile.
- :class:`ForecastResidual`: distance from a Holt (level + trend) one-step-ahead forecast.

Each turns its robust z (a deviation in units of the residuals' rolling MAD) into a score with
``z / (z + scale)``: a deviation of ``scale`` robust sigmas scores 0.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from tsstore.anomaly.base import Detector, as_values, squash
from tsstore.errors import ValidationError
from tsstore.model.durations import parse_duration

__all__ = ["ForecastResidual", "RollingZScore", "SeasonalResidual"]

#: MAD * 1.4826 estimates the standard deviation of normal data.
_MAD_TO_SIGMA = 1.482602218505602


def _check_window(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < least:
        raise ValidationError(f"{name}={value!r}: expected an integer number of points >= {least}")
    return int(value)


def _trailing_median(x: pd.Series, window: int, min_periods: int) -> np.ndarray:
    """Median of the ``window`` points before each point (the point itself left out)."""
    return x.rolling(window, min_periods=min_periods).median().shift(1).to_numpy()


def _robust_z(residual: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``|residual|`` in units of the rolling MAD of the residuals before it.

    Where the residuals have been constant (MAD 0), their rolling mean absolute value stands
    in, and where that is 0 too any change is infinitely surprising (z = inf, score 1).
    """
    a = pd.Series(np.abs(residual))
    mad = _trailing_median(a, window, min_periods) * _MAD_TO_SIGMA
    mean_abs = a.rolling(window, min_periods=min_periods).mean().shift(1).to_numpy() * 1.2533
    sigma = np.where(mad > 0, mad, mean_abs)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(residual) / sigma
    z[(sigma == 0) & (residual == 0)] = 0.0
    return z


class _Univariate(Detector):
    """Shared ``fit`` / checks of the univariate detectors."""

    window: int
    min_periods: int | None

    def _periods(self) -> tuple[int, int]:
        window = _check_window("window", self.window, 3)
        mp = window // 4 if self.min_periods is None else self.min_periods
        return window, _check_window("min_periods", max(int(mp), 2), 2)

    def fit(self, X: Any, y: Any = None) -> _Univariate:
        """Check the parameters and the input; these detectors learn as they go.

        They need no training data: every score is relative to the series' own recent past.
        ``fit`` exists so that they are scikit-learn estimators (pipelines, ``clone``,
        ``GridSearchCV``).
        """
        as_values(X)
        self._periods()
        self.n_features_in_ = 1
        return self

    @property
    def lookback(self) -> int:
        """Points of history before the first new point that make incremental scores exact."""
        window, _ = self._periods()
        return 2 * window + 1


class RollingZScore(_Univariate):
    """Robust rolling z-score: distance from the rolling median, in rolling MADs.

    The reference for point ``t`` is the median of the ``window`` points before it; the scale
    is the rolling median absolute residual (MAD) of the ``window`` residuals before it,
    times 1.4826 (a standard deviation for normal data). Robust: a spike does not move the
    median, and a burst of spikes does not inflate the scale until it is half the window.

    Parameters
    ----------
    window : int, default 100
        Points in each trailing window.
    scale : float, default 4.0
        Robust z that scores 0.5 (``score = z / (z + scale)``).
    min_periods : int, optional
        Points needed before scoring (default ``window // 4``); earlier points score NaN.
    threshold : float, default 0.5
        ``predict`` reports scores at or above it.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=300)
    >>> x[250] += 8.0
    >>> det = RollingZScore(window=50).fit(x)
    >>> s = det.score_samples(x)
    >>> int(np.nanargmax(s)), bool(s[250] > 0.5)
    (250, True)
    """

    def __init__(
        self,
        window: int = 100,
        *,
        scale: float = 4.0,
        min_periods: int | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.window = window
        self.scale = scale
        self.min_periods = min_periods
        self.threshold = threshold

    def robust_z(self, X: Any) -> np.ndarray:
        """The robust z of each point (NaN before ``min_periods``)."""
        x = as_values(X)
        window, mp = self._periods()
        s = pd.Series(x)
        residual = x - _trailing_median(s, window, mp)
        return _robust_z(residual, window, mp)

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score in [0, 1] per point: ``z / (z + scale)``."""
        self._check_fitted()
        return squash(self.robust_z(X), float(self.scale))


def _period_ns(period: str) -> int:
    return int(parse_duration(period, "period").value)


def _phase(index: pd.DatetimeIndex, period_ns: int, bins: int) -> np.ndarray:
    ns = index.asi8
    return ((ns % period_ns) * bins // period_ns).astype(np.int64)


class SeasonalResidual(_Univariate):
    """Distance from the series' own seasonal profile (daily or weekly), in rolling MADs.

    The day (or week) is cut into ``bins`` phases; the profile value of a point is the median
    of the last ``seasons`` periods' points of the same phase, before it. The residual from the
    profile is scored as :class:`RollingZScore` scores its residual. A load that is high every
    weekday at 9:00 is normal; the same load at 3:00 on a Sunday is not.

    Parameters
    ----------
    period : str or int, default "1d"
        A duration ("1d", "7d", "12h") for series with timestamps, or a number of points.
    bins : int, default 24
        Phases per period (24 bins of a day are hours).
    seasons : int, default 4
        Past periods the profile looks at.
    window : int, default 100
        Points of residuals in the scale's trailing window.
    scale, min_periods, threshold
        As :class:`RollingZScore`.

    Notes
    -----
    ``X`` is a Series (or one-column DataFrame) with a DatetimeIndex when ``period`` is a
    duration: phases are then times of day (or week), whatever the sampling, and a stream
    scored piece by piece gives the same scores. With an integer period, any 1-D array, and
    the phase counts from its first row. Until a phase has been seen its points score NaN.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=24 * 14, freq="h", tz="UTC")
    >>> x = pd.Series(np.where(t.hour == 9, 10.0, 1.0), index=t)
    >>> x.iloc[-5] = 10.0  # a 9:00 level at 19:00
    >>> s = SeasonalResidual().fit(x).score_samples(x)
    >>> int(np.nanargmax(s)) == len(x) - 5
    True
    """

    def __init__(
        self,
        period: str | int = "1d",
        *,
        bins: int = 24,
        seasons: int = 4,
        window: int = 100,
        scale: float = 4.0,
        min_periods: int | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.period = period
        self.bins = bins
        self.seasons = seasons
        self.window = window
        self.scale = scale
        self.min_periods = min_periods
        self.threshold = threshold

    def _phases(self, X: Any, n: int) -> np.ndarray:
        bins = _check_window("bins", self.bins, 1)
        if isinstance(self.period, str):
            index = getattr(X, "index", None)
            if not isinstance(index, pd.DatetimeIndex):
                raise ValidationError(
                    f"period={self.period!r} needs timestamps: pass a Series with a "
                    "DatetimeIndex (df.set_index('time')['value']), or give period as a "
                    "number of points"
                )
            return _phase(index, _period_ns(self.period), bins)
        period = _check_window("period", self.period, 2)
        return (np.arange(n) % period) * bins // period

    def profile(self, X: Any) -> np.ndarray:
        """The seasonal profile value of each point: the median of the points of its phase
        in the ``seasons`` periods before it (NaN for a phase not seen yet)."""
        x = as_values(X)
        phase = self._phases(X, len(x))
        seasons = _check_window("seasons", self.seasons, 1)
        if isinstance(self.period, str):
            clock = np.asarray(X.index.asi8, dtype=np.int64)
            span = seasons * _period_ns(self.period)
        else:
            clock = np.arange(len(x), dtype=np.int64)
            span = seasons * int(self.period)
        out = np.full(len(x), np.nan)
        order = np.argsort(phase, kind="stable")
        sorted_phase = phase[order]
        starts = np.flatnonzero(np.r_[True, sorted_phase[1:] != sorted_phase[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for a, b in zip(starts, ends, strict=True):
            rows = order[a:b]
            # the points of this phase in the span before each point (a time-based window,
            # left-closed: the point itself is left out), whatever the sampling
            s = pd.Series(x[rows], index=pd.to_datetime(clock[rows], unit="ns"))
            out[rows] = s.rolling(pd.Timedelta(span, "ns"), closed="left").median().to_numpy()
        return out

    @property
    def lookback(self) -> int:
        """Points of history that make incremental scores exact (profile + scale windows).

        For a duration period this is counted in points of the scale window only; the
        profile needs ``seasons`` periods, which :func:`~tsstore.anomaly.detect` adds as a
        duration (see :attr:`lookback_duration`).
        """
        window, _ = self._periods()
        if isinstance(self.period, str):
            return 2 * window + 1
        period = int(self.period)
        rows = 2 * window + 1 + _check_window("seasons", self.seasons, 1) * period
        return -(-rows // period) * period  # whole periods, so that phases line up

    @property
    def lookback_duration(self) -> int | None:
        """Nanoseconds of history the profile needs, for a duration period: ``seasons + 1``
        periods (the extra period covers the scale window's residuals when a period holds
        at least ``2 * window + 1`` points)."""
        if isinstance(self.period, str):
            return (int(self.seasons) + 1) * _period_ns(self.period)
        return None

    def robust_z(self, X: Any) -> np.ndarray:
        """The robust z of each point's residual from its profile."""
        x = as_values(X)
        window, mp = self._periods()
        residual = x - self.profile(X)
        return _robust_z(residual, window, mp)

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score in [0, 1] per point: ``z / (z + scale)``."""
        self._check_fitted()
        return squash(self.robust_z(X), float(self.scale))


def _holt_forecast(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """One-step-ahead forecasts of Holt's linear method, as one linear filter.

    The state ``(level, trend)`` evolves linearly in the input, so the forecast is an IIR
    filter of the series (``scipy.signal.lfilter``: C speed, no Python loop). The series is
    shifted to start at 0, so level = first value and trend = 0 is the zero initial state.
    """
    if len(x) == 0:
        return x.copy()
    a, b = alpha, beta
    # s_t = A s_{t-1} + B x_t with s = (level, trend); y_t = level_t + trend_t = forecast of t+1
    # transfer function of y from x: (c0 + c1 z^-1) / (1 + d1 z^-1 + d2 z^-2)
    A = np.array([[1 - a, 1 - a], [-a * b, 1 - a * b]])
    B = np.array([a, a * b])
    C = np.array([1.0, 1.0])
    # y_t = C s_t = C A s_{t-1} + C B x_t; characteristic polynomial of A
    tr, det = np.trace(A), np.linalg.det(A)
    den = np.array([1.0, -tr, det])
    # numerator from the Markov parameters h0 = CB, h1 = CAB, with den
    h0 = C @ B
    h1 = C @ A @ B
    num = np.array([h0, h1 + den[1] * h0])
    origin = x[0]
    filled = pd.Series(x - origin).ffill().fillna(0.0).to_numpy()
    y = lfilter(num, den, filled) + origin
    forecast = np.empty_like(y)
    forecast[0] = np.nan
    forecast[1:] = y[:-1]
    return forecast


class ForecastResidual(_Univariate):
    """Distance from a Holt (level + trend) one-step-ahead forecast, in rolling MADs.

    Suited to series that drift or trend, where a rolling median lags: the forecast follows
    the trend, and a point the trend did not predict stands out.

    Parameters
    ----------
    alpha : float, default 0.3
        Smoothing of the level (0 < alpha <= 1; higher follows the data faster).
    beta : float, default 0.05
        Smoothing of the trend (0 <= beta <= 1).
    window, scale, min_periods, threshold
        As :class:`RollingZScore` (the scale is the rolling MAD of forecast errors).

    Examples
    --------
    >>> x = np.arange(400, dtype=float) * 0.5 + np.sin(np.arange(400))
    >>> x[300] += 8.0
    >>> s = ForecastResidual().fit(x).score_samples(x)
    >>> int(np.nanargmax(s))
    300
    """

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        beta: float = 0.05,
        window: int = 100,
        scale: float = 4.0,
        min_periods: int | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.window = window
        self.scale = scale
        self.min_periods = min_periods
        self.threshold = threshold

    def _smoothing(self) -> tuple[float, float]:
        a, b = float(self.alpha), float(self.beta)
        if not 0 < a <= 1 or not 0 <= b <= 1:
            raise ValidationError(
                f"alpha={self.alpha!r}, beta={self.beta!r}: expected 0 < alpha <= 1 and "
                "0 <= beta <= 1"
            )
        return a, b

    @property
    def lookback(self) -> int:
        """Points of history for incremental scores exact to ~1e-9 (the filter forgets)."""
        a, b = self._smoothing()
        window, _ = self._periods()
        slowest = max(1 - a, 1 - a * b, 1e-12)
        forget = int(np.ceil(np.log(1e-9) / np.log(slowest))) if slowest < 1 else 10**6
        return 2 * window + 1 + min(forget, 10**6)

    def forecast(self, X: Any) -> np.ndarray:
        """The one-step-ahead forecast of each point (NaN for the first)."""
        a, b = self._smoothing()
        return _holt_forecast(as_values(X), a, b)

    def robust_z(self, X: Any) -> np.ndarray:
        """The robust z of each point's forecast error."""
        x = as_values(X)
        window, mp = self._periods()
        return _robust_z(x - self.forecast(x), window, mp)

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score in [0, 1] per point: ``z / (z + scale)``."""
        self._check_fitted()
        return squash(self.robust_z(X), float(self.scale))
