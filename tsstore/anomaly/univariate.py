"""Univariate detectors: one series in, one anomaly score in [0, 1] per point out.

Every detector here is *causal*: the score of point ``t`` depends only on points ``<= t``, so
scoring a stream piece by piece (with :attr:`lookback` points of history before each piece) gives
the same scores as scoring the whole history at once. That is what lets
:func:`tsstore.anomaly.detect` score only new points (``since=``).

- :class:`RollingZScore`: distance from the rolling median in rolling MADs.
- :class:`SeasonalResidual`: distance from the series' own daily or weekly profile.
- :class:`ForecastResidual`: distance from a Holt (level + trend) one-step-ahead forecast.
- :class:`NoveltyDetector`: a value, a sustained level or a seasonal deviation beyond anything
  in the recent history, raised once per incident (the one for NAB-like monitoring data).

The first three turn their robust z (a deviation in units of the residuals' rolling MAD) into a
score with ``z / (z + scale)``: a deviation of ``scale`` robust sigmas scores 0.5.

Speed: rolling medians run as ``scipy.ndimage`` rank filters where their window holds no NaN
(bit for bit pandas' result), and the seasonal profile of regularly sampled data as one
count-based rolling median per phase; about 4-7 million points a second on one core.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.signal import lfilter

from tsstore.anomaly.base import Detector, as_values, squash
from tsstore.errors import ValidationError
from tsstore.model.durations import parse_duration

__all__ = ["ForecastResidual", "NoveltyDetector", "RollingZScore", "SeasonalResidual"]

#: MAD * 1.4826 estimates the standard deviation of normal data.
_MAD_TO_SIGMA = 1.482602218505602


def _check_window(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < least:
        raise ValidationError(f"{name}={value!r}: expected an integer number of points >= {least}")
    return int(value)


def _rolling_median(a: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``pd.Series(a).rolling(window, min_periods).median()``, bit for bit, faster.

    Where the trailing window holds no NaN, the median is a rank filter (``scipy.ndimage``:
    a running selection in C, several times faster than pandas' skiplist; for an even window
    the mean of the two middle ranks, as pandas computes it). The first ``window - 1`` points,
    and every window that reaches back to a NaN, are pandas' own (it skips NaNs and honours
    ``min_periods``).
    """
    n = len(a)
    nan = np.isnan(a)
    clean = int(np.flatnonzero(nan)[-1]) + 1 if nan.any() else 0  # a[clean:] has no NaN
    head = min(n, clean + window - 1)  # points whose window may reach a NaN or the start
    if n - head < 64 or window < 2:
        return pd.Series(a).rolling(window, min_periods=min_periods).median().to_numpy()
    out = np.empty(n)
    out[:head] = pd.Series(a[:head]).rolling(window, min_periods=min_periods).median().to_numpy()
    tail = a[clean:]
    origin = (window - 1) // 2  # the window ends at the point: [i - window + 1, i]
    if window % 2:
        med = ndimage.rank_filter(tail, window // 2, size=window, origin=origin, mode="nearest")
    else:
        lo = ndimage.rank_filter(tail, window // 2 - 1, size=window, origin=origin, mode="nearest")
        hi = ndimage.rank_filter(tail, window // 2, size=window, origin=origin, mode="nearest")
        med = (hi + lo) / 2
    out[head:] = med[head - clean :]
    return out


def _shift(a: np.ndarray) -> np.ndarray:
    """``a`` one point later: ``out[i] = a[i - 1]``, NaN first."""
    out = np.empty(len(a))
    if len(a):
        out[0] = np.nan
        out[1:] = a[:-1]
    return out


def _trailing_median(x: pd.Series | np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Median of the ``window`` points before each point (the point itself left out)."""
    return _shift(_rolling_median(np.asarray(x, dtype=np.float64), window, min_periods))


def _robust_z(residual: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``|residual|`` in units of the rolling MAD of the residuals before it.

    Where the residuals have been constant (MAD 0), their rolling mean absolute value stands
    in, and where that is 0 too any change is infinitely surprising (z = inf, score 1).
    """
    a = np.abs(residual)
    mad = _trailing_median(a, window, min_periods) * _MAD_TO_SIGMA
    mean_abs = _shift(pd.Series(a).rolling(window, min_periods=min_periods).mean().to_numpy())
    sigma = np.where(mad > 0, mad, mean_abs * 1.2533)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = a / sigma
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


def _points_per_phase(clock: np.ndarray, period: int, bins: int) -> np.ndarray | None:
    """Points of each phase in one period of a regular clock, or None if it is not regular.

    Regular: at least two points, one positive step between all of them, and a whole number
    of steps per period. Then any ``k`` whole periods (a span ``[t - k * period, t)``) hold
    exactly ``k`` times these counts of each phase's points, wherever they start.
    """
    if len(clock) < 2:
        return None
    step = int(clock[1] - clock[0])
    if step <= 0 or period % step or period // step > max(len(clock), 1 << 16):
        return None
    if not bool((np.diff(clock) == step).all()):
        return None
    residues = int(clock[0]) % step + np.arange(period // step, dtype=np.int64) * step
    return np.bincount(residues * bins // period, minlength=bins)


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
        in the ``seasons`` periods before it (NaN for a phase not seen yet).

        The window is a span of time (``seasons`` periods, left-closed: the point itself is
        left out), whatever the sampling. When the timestamps are regular (one step, a whole
        number of steps per period; always so for an integer period) that span holds a fixed
        number of points of each phase, and the profile is a count-based rolling median per
        phase (the same values, several times faster). Otherwise each phase's median runs on
        a time window; timestamps that step back are taken as the latest time seen so far.
        """
        x = as_values(X)
        phase = self._phases(X, len(x))
        seasons = _check_window("seasons", self.seasons, 1)
        if isinstance(self.period, str):
            clock = np.asarray(X.index.asi8, dtype=np.int64)
            period = _period_ns(self.period)
        else:
            clock = np.arange(len(x), dtype=np.int64)
            period = int(self.period)
        bins = int(self.bins)
        per_period = _points_per_phase(clock, period, bins)
        out = np.full(len(x), np.nan)
        small = phase.astype(np.int16) if bins < 2**15 else phase  # radix sort
        order = np.argsort(small, kind="stable")
        sorted_phase = phase[order]
        starts = np.flatnonzero(np.r_[True, sorted_phase[1:] != sorted_phase[:-1]])
        ends = np.r_[starts[1:], len(order)]
        if per_period is None:
            clock = np.maximum.accumulate(clock)  # causal: a step back is "no time passed"
        for a, b in zip(starts, ends, strict=True):
            rows = order[a:b]
            if per_period is not None:
                # regular sampling: the span before a point holds the last `seasons` periods'
                # points of its phase, a fixed count
                w = seasons * int(per_period[sorted_phase[a]])
                out[rows] = _trailing_median(x[rows], w, 1)
            else:
                s = pd.Series(x[rows], index=pd.to_datetime(clock[rows], unit="ns"))
                span = pd.Timedelta(seasons * period, "ns")
                out[rows] = s.rolling(span, closed="left").median().to_numpy()
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


#: Points in the trailing window of the seasonal residuals' scale in :class:`NoveltyDetector`
#: (:class:`SeasonalResidual`'s default).
_SEASONAL_WINDOW = 100


def _novelty(f: np.ndarray, history: int, *, two_sided: bool = True) -> np.ndarray:
    """How far ``f`` lies beyond the range of its previous ``history`` values, as a fraction
    of that range.

    0 inside the range (or on its edge), ``inf`` when the range is a single value and ``f``
    differs from it, NaN where ``f`` is NaN or has no history yet. ``two_sided=False`` is for
    a non-negative ``f`` (a z): only above the range counts, and the range is ``[0, max]``.
    """
    s = pd.Series(f)
    hi = _shift(s.rolling(history, min_periods=1).max().to_numpy())
    with np.errstate(invalid="ignore"):
        excess = f - hi
        span = hi
        if two_sided:
            lo = _shift(s.rolling(history, min_periods=1).min().to_numpy())
            excess = np.fmax(excess, lo - f)
            span = hi - lo
        excess = np.where(np.isnan(hi) | np.isnan(f), np.nan, np.maximum(excess, 0.0))
        with np.errstate(divide="ignore"):
            out = excess / span
    out[excess == 0] = 0.0
    return out


def _refractory(score: np.ndarray, points: int) -> np.ndarray:
    """Keep a score only where it beats every score of the ``points`` before it; 0 elsewhere.

    The first (and any larger) score of an incident survives; the scores that follow it,
    while the incident goes on at the same strength, are silenced. Whatever the threshold,
    an incident then raises one alarm, and one more each time it grows. NaN stays NaN.
    """
    if points < 1:
        return score
    before = _shift(pd.Series(score).rolling(points, min_periods=1).max().to_numpy())
    with np.errstate(invalid="ignore"):
        keep = np.isnan(before) | (score > before)
    return np.where(np.isnan(score), np.nan, np.where(keep, score, 0.0))


class NoveltyDetector(_Univariate):
    """Novelty: a value, a sustained level or a seasonal deviation the series has not shown
    in its recent history, raised once per incident.

    For streams where an anomaly is *something new*: a value above anything seen for weeks,
    a level the series has never held (not a lone spike), a deviation from the daily profile
    larger than any before. It is the detector to use with NAB-like monitoring data (server
    metrics, traffic, social-media volumes), where it reaches a NAB standard score of about
    71 (see below). Three scores, each in [0, 1], are combined by their maximum:

    - **value**: how far the point lies outside the range ``[min, max]`` of the ``history``
      points before it, as a fraction of that range ``e``; scored ``e / (e + margin)``.
    - **level**: the same for the median of the last ``window`` points (the level the series
      holds; a single spike does not move it), against the range of that median over the
      ``history`` points before.
    - **seasonal** (``period`` not None): the robust z of the point's residual from its
      seasonal profile (:class:`SeasonalResidual` with ``period``, ``bins``, ``seasons``),
      above the largest such z of the ``history`` points before, as a fraction of it ``e``;
      scored ``e / (e + seasonal_margin)``.

    Then a **refractory** rule: a score is kept only where it beats every combined score of
    the ``refractory`` points before it, else it is 0. An incident raises its first alarm
    and a new one only when it grows, whatever threshold is applied later; a burst of new
    extremes in a row counts once. Causal: the score of point ``t`` uses points ``<= t``.

    Parameters
    ----------
    history : int, default 4032
        Points of the trailing history whose range is "normal" (4032: two weeks of 5-minute
        samples). Older extremes are forgotten, so a series that once spiked can alarm again.
    window : int, default 24
        Points in the rolling median of the level (24: two hours of 5-minute samples).
    margin : float, default 0.05
        Excess beyond the range, as a fraction of the range, that scores 0.5 (value and
        level).
    period : str, int or None, default "1d"
        The seasonal component's period, as :class:`SeasonalResidual` (a duration needs a
        Series with a DatetimeIndex); None leaves the seasonal component out.
    bins, seasons : int, default 24, 4
        As :class:`SeasonalResidual` (its scale window is its default, 100 points).
    seasonal_margin : float, default 0.5
        Excess of the seasonal z above the largest one in the history, as a fraction of
        it, that scores 0.5.
    refractory : int, optional
        Points after a score during which only a higher score counts (default ``window``).
    min_periods : int, optional
        Points before scoring starts (default ``window``); earlier points score NaN.
    threshold : float, default 0.5
        ``predict`` reports scores at or above it.

    Notes
    -----
    How the defaults were chosen: one configuration for every series, never per file. The
    structure follows what the best NAB detectors share (HTM and ARTime flag a value outside
    the range seen so far, and both stay quiet for a while after an alarm); ``history``,
    ``window`` and ``refractory`` are round numbers of 5-minute samples (two weeks, two hours),
    the sampling of most NAB files; the margins are round fractions. On the 58 NAB files
    (:func:`tsstore.anomaly.evaluate.evaluate_nab`: NAB's corpus-wide threshold per profile)
    the defaults score 70.8 standard, 64.3 low-FP, 75.1 low-FN (HTM's published 70.5, 62.6,
    75.2). The standard score stays within 1 point of that for ``history`` 4000 to 8000,
    ``refractory`` 12 to 100, ``margin`` 0.02 to 0.1 and ``seasonal_margin`` 0.25 to 1, and
    within 3 points for ``window`` 12 to 48; without the seasonal component it is 68.0,
    without the refractory rule 66.6, without the level 62.4.

    Lookback: a piece scores as the whole series when it is preceded by :attr:`lookback`
    points and, before those, :attr:`lookback_duration` of time (the seasonal profile of the
    oldest point).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=3000, freq="5min", tz="UTC")
    >>> x = pd.Series(np.sin(np.arange(3000) * 2 * np.pi / 288), index=t)
    >>> x.iloc[2500:2600] += 1.5  # a level the series never held
    >>> s = NoveltyDetector().fit(x).score_samples(x)
    >>> int(np.nanargmax(s[1000:])) + 1000 >= 2500, bool(s[2500:2600].max() > 0.5)
    (True, True)
    """

    def __init__(
        self,
        history: int = 4032,
        *,
        window: int = 24,
        margin: float = 0.05,
        period: str | int | None = "1d",
        bins: int = 24,
        seasons: int = 4,
        seasonal_margin: float = 0.5,
        refractory: int | None = None,
        min_periods: int | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.history = history
        self.window = window
        self.margin = margin
        self.period = period
        self.bins = bins
        self.seasons = seasons
        self.seasonal_margin = seasonal_margin
        self.refractory = refractory
        self.min_periods = min_periods
        self.threshold = threshold

    def _periods(self) -> tuple[int, int]:
        window = _check_window("window", self.window, 1)
        mp = window if self.min_periods is None else self.min_periods
        return window, _check_window("min_periods", mp, 1)

    def _settings(self) -> tuple[int, int, int]:
        """(history, window, refractory), checked."""
        window, _ = self._periods()
        history = _check_window("history", self.history, 2)
        refractory = window if self.refractory is None else self.refractory
        refractory = _check_window("refractory", refractory, 0)
        for name in ("margin", "seasonal_margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise ValidationError(f"{name}={v!r}: expected a number > 0")
        return history, window, refractory

    def _seasonal(self) -> SeasonalResidual | None:
        if self.period is None:
            return None
        return SeasonalResidual(
            self.period, bins=self.bins, seasons=self.seasons, window=_SEASONAL_WINDOW
        )

    def fit(self, X: Any, y: Any = None) -> NoveltyDetector:
        """Check the parameters and the input; the detector learns as it goes (no training)."""
        as_values(X)
        self._settings()
        seasonal = self._seasonal()
        if seasonal is not None:
            seasonal._phases(X, len(as_values(X)))  # a duration period needs timestamps
            _check_window("seasons", seasonal.seasons, 1)
        self.n_features_in_ = 1
        return self

    @property
    def lookback(self) -> int:
        """Points of history before the first new point that make incremental scores exact
        (refractory + history + level window or seasonal scale; see :attr:`lookback_duration`
        for the seasonal profile before them)."""
        history, window, refractory = self._settings()
        _, mp = self._periods()
        seasonal = self._seasonal()
        inner = max(window, seasonal.lookback if seasonal is not None else 0)
        return refractory + max(history + inner, mp)

    @property
    def lookback_duration(self) -> int | None:
        """Nanoseconds of history the seasonal profile needs before the :attr:`lookback`
        points, for a duration period (None otherwise)."""
        seasonal = self._seasonal()
        return None if seasonal is None else seasonal.lookback_duration

    def components(self, X: Any) -> pd.DataFrame:
        """The three novelty scores of each point, before the refractory rule.

        Columns ``value``, ``level`` and ``seasonal`` (all NaN without a period), in [0, 1];
        NaN before ``min_periods``, at a missing value, or where a component has no history
        yet. Their maximum,
        after the refractory rule, is :meth:`score_samples`; the largest tells which kind of
        novelty raised an alarm.
        """
        x = as_values(X)
        history, window, _ = self._settings()
        _, mp = self._periods()
        margin = float(self.margin)
        level = _rolling_median(x, window, 1)
        out = {
            "value": squash(_novelty(x, history), margin),
            "level": squash(_novelty(level, history), margin),
        }
        seasonal = self._seasonal()
        if seasonal is not None:
            z = seasonal.robust_z(X)
            z = np.nan_to_num(z, nan=np.nan, posinf=np.finfo(np.float64).max)
            out["seasonal"] = squash(
                _novelty(z, history, two_sided=False), float(self.seasonal_margin)
            )
        else:
            out["seasonal"] = np.full(len(x), np.nan)
        frame = pd.DataFrame(out, index=getattr(X, "index", None))
        frame.iloc[:mp] = np.nan
        frame.iloc[np.flatnonzero(np.isnan(x))] = np.nan  # a missing value is not scored
        return frame

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score in [0, 1] per point: the largest novelty score, after the
        refractory rule."""
        self._check_fitted()
        _, _, refractory = self._settings()
        c = self.components(X).to_numpy()
        with np.errstate(invalid="ignore"):
            combined = np.fmax(np.fmax(c[:, 0], c[:, 1]), c[:, 2])
        return _refractory(combined, refractory)
