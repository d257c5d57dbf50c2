"""From scores to alarms a person acts on: thresholds and events.

A score per point is not an alarm. An operator asks two questions: *how often will this page
me?* (:func:`threshold_for_budget`: the lowest threshold that raises at most so many alarms per
machine per week on normal data) and *how good is it on the faults we know?*
(:func:`threshold_from_labels`: the threshold with the best F1 on a labelled validation set).
Then the points over the threshold are grouped into :func:`events`, one per incident, with its
start, end, peak and the measures that contributed most.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tsstore.errors import ValidationError
from tsstore.model.durations import parse_duration

__all__ = ["EVENT_COLUMNS", "events", "threshold_for_budget", "threshold_from_labels"]

#: Columns of the frame :func:`events` returns.
EVENT_COLUMNS = ("start", "end", "peak_time", "peak_score", "points", "measures")

_WEEK_NS = 7 * 24 * 3600 * 10**9


def _scores(scores: Any) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValidationError(f"scores have shape {s.shape}; expected one score per point (1-D)")
    return s


def _times_ns(times: Any, n: int) -> np.ndarray | None:
    if times is None:
        return None
    t = pd.DatetimeIndex(times)
    if len(t) != n:
        raise ValidationError(f"{len(t)} times for {n} scores: pass one time per score")
    if t.tz is None:
        t = t.tz_localize("UTC")
    return np.asarray(t.asi8)


def _gap(gap: object, has_times: bool) -> tuple[int, bool]:
    """(the gap, whether it is a duration in ns rather than a number of points)."""
    if isinstance(gap, str | pd.Timedelta):
        if not has_times:
            raise ValidationError(f"gap={gap!r} is a duration: pass times=, or give gap in points")
        ns = int(parse_duration(gap, "gap").value) if isinstance(gap, str) else int(gap.value)
        return ns, True
    if isinstance(gap, bool) or int(gap) != gap or gap < 0:  # type: ignore[call-overload]
        raise ValidationError(f"gap={gap!r}: a number of points >= 0 or a duration string")
    return int(gap), False


def _runs(alarm: np.ndarray, pos: np.ndarray, max_step: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) row of each group of alarms whose consecutive positions are at most
    ``max_step`` apart (positions: row numbers, or times in ns)."""
    idx = np.flatnonzero(alarm)
    if len(idx) == 0:
        return idx, idx
    breaks = np.diff(pos[idx]) > max_step
    starts = np.r_[0, np.flatnonzero(breaks) + 1]
    ends = np.r_[starts[1:] - 1, len(idx) - 1]
    return idx[starts], idx[ends]


def _positions(t: np.ndarray | None, n: int, gap: tuple[int, bool]) -> tuple[np.ndarray, int]:
    """Positions and the largest step within an event: rows (``gap`` points may lie between
    two alarms of one event), or times when the gap is a duration."""
    value, is_duration = gap
    if t is not None and is_duration:
        return t, value
    return np.arange(n, dtype=np.int64), value + 1


def events(
    scores: Any,
    times: Any = None,
    *,
    threshold: float = 0.5,
    gap: object = 0,
    min_points: int = 1,
    contributions: pd.DataFrame | None = None,
    top: int = 3,
) -> pd.DataFrame:
    """Group the points at or over ``threshold`` into events.

    Parameters
    ----------
    scores : array-like
        One anomaly score per point, in time order (NaN: not scored, never an alarm).
    times : array-like of datetimes, optional
        The points' times; without them, event bounds are row positions.
    threshold : float, default 0.5
    gap : int or str, default 0
        Alarms this close belong to one event: at most ``gap`` normal points between them
        (0: consecutive alarmed points only), or, with ``times``, a duration ("10min") between
        two alarms.
    min_points : int, default 1
        Events with fewer alarmed points are dropped (a one-point blip is often noise).
    contributions : DataFrame, optional
        Per point and measure, how much each measure contributed to the score (the
        multivariate detectors' ``contributions(X)``): each event names its ``top`` measures
        by their summed contribution over the event's alarmed points.
    top : int, default 3

    Returns
    -------
    DataFrame
        One row per event: ``start``, ``end`` (times, or row positions), ``peak_time``,
        ``peak_score``, ``points`` (alarmed points in the event) and ``measures`` (a
        comma-separated string, empty without contributions).

    Examples
    --------
    >>> events([0.1, 0.7, 0.9, 0.2, 0.6, 0.1, 0.1, 0.6], gap=1).drop(columns="measures")
       start  end  peak_time  peak_score  points
    0      1    4          2         0.9       3
    1      7    7          7         0.6       1
    """
    s = _scores(scores)
    t = _times_ns(times, len(s))
    gap_n = _gap(gap, t is not None)
    alarm = np.nan_to_num(s, nan=-np.inf) >= threshold
    first, last = _runs(alarm, *_positions(t, len(s), gap_n))
    pos = t if t is not None else np.arange(len(s), dtype=np.int64)
    cum = np.r_[0, np.cumsum(alarm)]
    count = cum[last + 1] - cum[first]
    keep = count >= max(1, int(min_points))
    first, last, count = first[keep], last[keep], count[keep]
    masked = np.where(alarm, s, -np.inf)
    peaks = np.array(
        [f + int(np.argmax(masked[f : e + 1])) for f, e in zip(first, last, strict=True)],
        dtype=np.int64,
    )
    names: list[str] = [""] * len(first)
    if contributions is not None:
        if len(contributions) != len(s):
            raise ValidationError(
                f"contributions have {len(contributions)} rows for {len(s)} scores: pass the "
                "detector's contributions(X) for the same X"
            )
        c = contributions.to_numpy(dtype=np.float64, na_value=0.0) * alarm[:, None]
        csum = np.vstack([np.zeros(c.shape[1]), np.cumsum(c, axis=0)])
        cols = np.asarray(contributions.columns, dtype=object)
        for i, (f, e) in enumerate(zip(first, last, strict=True)):
            total = csum[e + 1] - csum[f]
            order = np.argsort(-total, kind="stable")[: max(0, int(top))]
            names[i] = ", ".join(str(cols[j]) for j in order if total[j] > 0)
    as_time = (lambda i: pd.to_datetime(pos[i], utc=True)) if t is not None else (lambda i: pos[i])
    return pd.DataFrame(
        {
            "start": as_time(first),
            "end": as_time(last),
            "peak_time": as_time(peaks),
            "peak_score": s[peaks] if len(peaks) else np.array([], dtype=np.float64),
            "points": count.astype(np.int64),
            "measures": pd.Series(names, dtype=object),
        }
    )


def _event_count(alarm: np.ndarray, groups: Sequence[slice], t: np.ndarray, gap: int) -> int:
    n = 0
    for g in groups:
        first, _ = _runs(alarm[g], *_positions(t[g], g.stop - g.start, gap))
        n += len(first)
    return n


def _weeks(t: np.ndarray) -> float:
    """Weeks one machine's points cover (its span plus one typical step; at least a day)."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return max((float(t[-1] - t[0]) + step) / _WEEK_NS, 1 / 7)


def threshold_for_budget(
    scores: Any,
    times: Any,
    *,
    alarms_per_week: float,
    series: Any = None,
    gap: object = 0,
    candidates: int = 400,
) -> float:
    """The lowest threshold that raises at most ``alarms_per_week`` events per machine per week.

    Give it the scores of a stretch of normal operation (or a validation period the team
    accepts as normal): the threshold it returns would have paged at most the budget there.

    Parameters
    ----------
    scores : array-like
        Scores in time order (per series, when ``series`` is given).
    times : array-like of datetimes
        The points' times (the weeks are measured from them).
    alarms_per_week : float
        Events per machine per week the operators accept (e.g. 0.5).
    series : array-like, optional
        The machine of each point (events and weeks are counted per machine).
    gap : int or str, default 0
        As in :func:`events`.
    candidates : int, default 400
        Thresholds tried: the quantiles of the scores' upper tail, plus its highest values.

    Returns
    -------
    float
        A threshold in (0, 1]; 1.0 when even the highest score would exceed the budget
        (nothing alarms then, except a score of exactly 1).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=7 * 24 * 60, freq="min", tz="UTC")
    >>> s = np.random.default_rng(0).uniform(0, 0.4, len(t)); s[[100, 5000]] = [0.9, 0.8]
    >>> threshold_for_budget(s, t, alarms_per_week=1)
    0.9
    """
    s = _scores(scores)
    t = _times_ns(times, len(s))
    if t is None:
        raise ValidationError("threshold_for_budget needs the times of the scores (times=)")
    if not alarms_per_week >= 0:
        raise ValidationError(f"alarms_per_week={alarms_per_week!r}: expected a number >= 0")
    gap_n = _gap(gap, True)
    if series is None:
        groups = [slice(0, len(s))]
    else:
        labels = pd.factorize(np.asarray(series))[0]
        order = np.argsort(labels, kind="stable")
        s, t, labels = s[order], t[order], labels[order]
        bounds = np.r_[0, np.flatnonzero(np.diff(labels)) + 1, len(s)]
        groups = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    weeks = sum(_weeks(t[g]) for g in groups if g.stop > g.start)
    allowed = alarms_per_week * weeks
    finite = s[np.isfinite(s)]
    if len(finite) == 0:
        return 1.0
    tail = np.quantile(finite, np.linspace(0.5, 1.0, candidates), method="inverted_cdf")
    top = np.sort(finite)[-candidates:]
    cands = np.unique(np.r_[tail, top])  # ascending
    best = 1.0
    # scan from the top down: the lowest candidate still within budget, stopping at the first
    # that is not (event counts can rise and fall as the threshold drops: merging)
    for c in cands[::-1]:
        if _event_count(np.nan_to_num(s, nan=-np.inf) >= c, groups, t, gap_n) > allowed:
            break
        best = float(c)
    return best


def threshold_from_labels(scores: Any, labels: Any) -> float:
    """The threshold with the best point-wise F1 on labelled data (1 = anomaly).

    Use a validation set, never the data you report results on.

    Examples
    --------
    >>> threshold_from_labels([0.1, 0.2, 0.8, 0.9, 0.3], [0, 0, 1, 1, 0])
    0.8
    """
    s = _scores(scores)
    y = np.asarray(labels).astype(bool)
    if len(y) != len(s):
        raise ValidationError(f"{len(y)} labels for {len(s)} scores: pass one label per score")
    ok = np.isfinite(s)
    s, y = s[ok], y[ok]
    if not y.any():
        raise ValidationError("the labels hold no anomaly: F1 needs at least one labelled point")
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    tp = np.cumsum(yy)
    fp = np.cumsum(~yy)
    # only the last row of each run of equal scores is a threshold we can set
    last = np.r_[ss[1:] != ss[:-1], True]
    f1 = 2 * tp / (tp + fp + y.sum())
    f1 = np.where(last, f1, -1.0)
    return float(ss[int(np.argmax(f1))])
