"""Scoring detectors on the labelled benchmarks: NAB, SKAB and C-MAPSS.

NAB (Lavin & Ahmad 2015, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark") rewards early detection inside labelled anomaly windows and charges false
positives; :func:`nab_score` scores boolean detections, :func:`nab_optimise` picks the one
corpus-wide threshold that maximises the score of a detector's anomaly scores, and
:func:`nab_evaluate` does that for the three application profiles and the loaded corpus.

SKAB (Katser & Kozitsin 2020) scores outlier detection point-wise: :func:`skab_metrics`,
:func:`skab_evaluate`. C-MAPSS remaining-useful-life predictions are scored by :func:`rmse` and
the PHM08 :func:`cmapss_score`.

NAB's scoring, as implemented here (NAB v1.1's sweeper, rewritten from its definition)
------------------------------------------------------------------------------------------
Positions are row positions within each file. A window ``(s, e)`` holds rows ``s..e``
inclusive, ``w = e - s + 1`` rows. The scaled sigmoid is ``sigma(y) = 2 / (1 + exp(5 y)) - 1``
(``-1`` for ``y > 3``).

* The first ``min(floor(0.15 n), 0.15 * 5000)`` rows of an ``n``-row file are a probationary
  period: detections there are ignored, and a window lying wholly inside it is not scored.
* A detection at row ``i`` of a window is worth ``A_TP * sigma(y) / sigma(-1)`` with
  ``y = -(e - i + 1) / w``: exactly ``A_TP`` at the window's first row, falling towards 0 at its
  end. Only the earliest detection of a window counts; later ones in it are ignored.
* A window without a detection costs ``A_FN``.
* A detection outside every window costs ``A_FP`` if no window precedes it, else
  ``A_FP * sigma(y)`` (negative) with ``y = (i - e_prev) / (w_prev - 1)``, its distance after
  the end of the preceding window: a detection just after a window costs little, one far after
  it (``y >= 1``) nearly ``A_FP``. (NAB divides by zero for a one-row window; here the
  denominator is at least 1.)
* A file's raw score is the sum; the corpus's raw score is the sum over files.
* Normalised score: ``100 * (raw - null) / (perfect - null)``, where the null detector detects
  nothing (``null = -A_FN * windows``) and the perfect one detects each window at its first
  scored row (``perfect = A_TP * windows`` when no window reaches into a probationary period,
  as on NAB).
* A detector gives an anomaly score per row; a row is a detection when its score is at least
  the threshold. NAB chooses one threshold per detector and profile, for the whole corpus,
  maximising the raw score; :func:`nab_optimise` sweeps every distinct score exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tsstore.datasets import SKAB_SENSORS
from tsstore.errors import ValidationError

if TYPE_CHECKING:
    from tsstore.datasets import NABSeries, SKABFile

__all__ = [
    "NAB_PROFILES",
    "PROBATION_PERCENT",
    "RUL_CAP",
    "SKAB_SENSORS",
    "SKAB_TRAIN_ROWS",
    "BinaryMetrics",
    "NABProfile",
    "NABResult",
    "cmapss_score",
    "evaluate_nab",
    "nab_detector_scores",
    "nab_evaluate",
    "nab_optimise",
    "nab_probation_length",
    "nab_score",
    "nab_windows_to_index",
    "rmse",
    "scaled_sigmoid",
    "skab_evaluate",
    "skab_metrics",
]

PROBATION_PERCENT = 0.15
"""NAB's probationary fraction: the first 15% of each file (at most 750 rows) is not scored."""

SKAB_TRAIN_ROWS = 400
"""SKAB's protocol fits each detector on the first 400 rows of each file."""

RUL_CAP = 125
"""The usual cap of C-MAPSS remaining useful life (cycles): targets are ``min(RUL, 125)``."""


# --------------------------------------------------------------------------------------------
# NAB
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NABProfile:
    """A NAB application profile: the weights of true/false positives and negatives.

    Attributes
    ----------
    tp, fp, tn, fn : float
        ``A_TP``, ``A_FP``, ``A_TN``, ``A_FN`` (``A_TN`` is part of NAB's profiles but does not
        enter the score).
    name : str
        A label for reports.
    """

    tp: float
    fp: float
    tn: float
    fn: float
    name: str = "custom"


NAB_PROFILES: Mapping[str, NABProfile] = MappingProxyType(
    {
        "standard": NABProfile(1.0, 0.11, 1.0, 1.0, "standard"),
        "reward_low_FP_rate": NABProfile(1.0, 0.22, 1.0, 1.0, "reward_low_FP_rate"),
        "reward_low_FN_rate": NABProfile(1.0, 0.11, 1.0, 2.0, "reward_low_FN_rate"),
    }
)
"""NAB's three application profiles (NAB ``config/profiles.json``)."""


@dataclass(frozen=True, slots=True)
class NABResult:
    """The NAB score of a detector on a set of files, for one profile.

    Attributes
    ----------
    profile : NABProfile
        The weights used.
    raw : float
        The raw score (sum over files).
    normalised : float
        ``100 * (raw - null) / (perfect - null)``: 0 for no detections, 100 for a perfect
        detector; NaN when no window is scored.
    null, perfect : float
        The raw scores of the null and of the perfect detector.
    tp : int
        Windows detected.
    fn : int
        Windows missed.
    fp : int
        False-positive detections (rows outside every window, after the probationary period).
    threshold : float or None
        The threshold applied to anomaly scores (``score >= threshold``), when scores were
        given; ``inf`` when detecting nothing scores best.
    """

    profile: NABProfile
    raw: float
    normalised: float
    null: float
    perfect: float
    tp: int
    fn: int
    fp: int
    threshold: float | None = None


def scaled_sigmoid(y: Any) -> Any:
    """NAB's scaled sigmoid ``2 / (1 + exp(5 y)) - 1``, and ``-1`` for ``y > 3``.

    Parameters
    ----------
    y : float or array
        Relative position: ``-1`` at a window's start, ``0`` at its end, positive after it.

    Returns
    -------
    float or ndarray
        In ``(-1, 1)``; a float for a scalar ``y``.

    Examples
    --------
    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), round(scaled_sigmoid(1.0), 5)
    (0.98661, 0.0, -0.98661)
    >>> float(scaled_sigmoid(3.5))
    -1.0
    """
    arr = np.asarray(y, dtype=np.float64)
    out = np.where(arr > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(arr, 3.0))) - 1.0)
    return float(out) if out.ndim == 0 else out


_SIGMA_START = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # sigma(-1), NAB's maxTP


def nab_probation_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that NAB does not score.

    ``min(floor(probation_percent * n_rows), probation_percent * 5000)``, rounded up to whole
    rows (NAB scores row ``i`` when ``i`` is at least this bound).

    Examples
    --------
    >>> nab_probation_length(4032), nab_probation_length(22695)
    (604, 750)
    """
    _check_probation(probation_percent)
    return math.ceil(min(math.floor(probation_percent * n_rows), probation_percent * 5000))


def _check_probation(probation_percent: float) -> None:
    if not 0.0 <= probation_percent < 1.0:
        raise ValidationError(
            f"probation_percent must be in [0, 1); got {probation_percent} (NAB uses 0.15)"
        )


def nab_windows_to_index(times: Any, windows: Iterable[tuple[Any, Any]]) -> list[tuple[int, int]]:
    """Convert time windows into inclusive row-index windows of one file.

    A window ``(t1, t2)`` becomes ``(i, j)``: ``i`` is the first row at or after ``t1``,
    ``j`` the last row before the first row after ``t2`` that follows ``i`` (rows stay in file
    order, so repeated or backwards timestamps elsewhere in the file do not matter). Naive
    times are read as UTC.

    Parameters
    ----------
    times : array-like of datetime
        The file's timestamps in row order (e.g. ``NABSeries.data["time"]``).
    windows : iterable of (time, time)
        E.g. ``NABSeries.windows``.

    Returns
    -------
    list of (int, int)

    Raises
    ------
    ValidationError
        If a window ends before it starts, or holds no row of the file.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    >>> nab_windows_to_index(t, [("2024-01-01 02:00", "2024-01-01 04:30")])
    [(2, 4)]
    """
    idx = pd.DatetimeIndex(times)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    ns = idx.asi8
    out: list[tuple[int, int]] = []
    for a, b in windows:
        ta, tb = _utc_ns(a), _utc_ns(b)
        if tb < ta:
            raise ValidationError(f"window ({a}, {b}) ends before it starts; give (start, end)")
        after = np.flatnonzero(ns >= ta)
        if len(after) == 0 or ns[after[0]] > tb:
            raise ValidationError(
                f"window ({a}, {b}) holds no row of the file (rows span {idx.min()} to "
                f"{idx.max()}); check the window and the file belong together"
            )
        start = int(after[0])
        beyond = np.flatnonzero(ns[start:] > tb)
        end = start + int(beyond[0]) - 1 if len(beyond) else len(ns) - 1
        out.append((start, end))
    return out


def _utc_ns(t: Any) -> int:
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _profile(profile: str | NABProfile) -> NABProfile:
    if isinstance(profile, NABProfile):
        return profile
    try:
        return NAB_PROFILES[profile]
    except KeyError:
        raise ValidationError(
            f"unknown NAB profile {profile!r}; use one of {list(NAB_PROFILES)} or a NABProfile"
        ) from None


@dataclass(slots=True)
class _File:
    """Profile-independent scoring table of one file (scored rows only)."""

    n: int
    probation: int
    windows: list[tuple[int, int]]
    window_of_row: np.ndarray  # int64 [n]: local window number, -1 outside
    unit: np.ndarray  # float64 [n]: sigma(y)/sigma(-1) inside windows, sigma(y) or -1 outside
    scored_windows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def _file_table(name: str, n: int, windows: Sequence[tuple[int, int]], pp: float) -> _File:
    wins = [(int(s), int(e)) for s, e in windows]
    prev_end = -1
    for s, e in wins:
        if not 0 <= s <= e < n:
            raise ValidationError(
                f"{name}: window ({s}, {e}) is not inside the file's {n} rows; windows are "
                "inclusive row positions (use nab_windows_to_index for timestamps)"
            )
        if s <= prev_end:
            raise ValidationError(
                f"{name}: windows must be sorted and must not overlap; ({s}, {e}) starts at or "
                f"before the previous window's end {prev_end}"
            )
        prev_end = e
    rows = np.arange(n, dtype=np.int64)
    window_of_row = np.full(n, -1, dtype=np.int64)
    unit = np.empty(n, dtype=np.float64)
    starts = np.array([s for s, _ in wins], dtype=np.int64)
    ends = np.array([e for _, e in wins], dtype=np.int64)
    for k, (s, e) in enumerate(wins):
        window_of_row[s : e + 1] = k
        width = e - s + 1
        y = -(e - rows[s : e + 1] + 1) / width
        unit[s : e + 1] = scaled_sigmoid(y) / _SIGMA_START
    outside = window_of_row < 0
    prev = np.searchsorted(ends, rows[outside], side="left") - 1  # last window ending before
    fp_unit = np.full(prev.shape, -1.0)
    has_prev = prev >= 0
    if has_prev.any():
        pe = ends[prev[has_prev]]
        pw = ends[prev[has_prev]] - starts[prev[has_prev]] + 1
        y = (rows[outside][has_prev] - pe) / np.maximum(pw - 1, 1)
        fp_unit[has_prev] = scaled_sigmoid(y)
    unit[outside] = fp_unit
    probation = nab_probation_length(n, pp)
    scored = np.flatnonzero(ends >= probation) if len(wins) else np.empty(0, np.int64)
    return _File(n, probation, wins, window_of_row, unit, scored)


def _tables(
    lengths: Mapping[str, int], windows: Mapping[str, Sequence[tuple[int, int]]], pp: float
) -> dict[str, _File]:
    _check_probation(pp)
    missing = [k for k in lengths if k not in windows]
    if missing:
        raise ValidationError(
            f"no windows for file(s) {missing[:5]}; give windows (maybe empty) for every file "
            "scored"
        )
    return {k: _file_table(k, n, windows[k], pp) for k, n in lengths.items()}


def _null_perfect(tables: Mapping[str, _File], p: NABProfile) -> tuple[float, float, int]:
    n_windows = 0
    perfect = 0.0
    for t in tables.values():
        for k in t.scored_windows:
            s, _ = t.windows[k]
            perfect += p.tp * float(t.unit[max(s, t.probation)])
        n_windows += len(t.scored_windows)
    return -p.fn * n_windows, perfect, n_windows


def _normalise(raw: float, null: float, perfect: float) -> float:
    if perfect == null:
        return math.nan
    return 100.0 * (raw - null) / (perfect - null)


def _as_1d(x: Any, name: str, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValidationError(f"{what} of {name!r} has shape {arr.shape}; give one value per row")
    return arr


def _score_tables(
    tables: Mapping[str, _File], det: Mapping[str, np.ndarray], p: NABProfile
) -> tuple[float, int, int, int]:
    raw = 0.0
    tp = fp = fn = 0
    for name, t in tables.items():
        d = det[name].copy()
        d[: t.probation] = False
        hits = np.flatnonzero(d)
        win = t.window_of_row[hits]
        outside = win < 0
        raw += p.fp * float(t.unit[hits[outside]].sum())
        fp += int(outside.sum())
        # hits are in row order, so the first hit of each window is its earliest detection
        detected, first = np.unique(win[~outside], return_index=True)
        raw += p.tp * float(t.unit[hits[~outside][first]].sum())
        tp += len(detected)
        fn += len(t.scored_windows) - len(detected)
    raw -= p.fn * fn
    return raw, tp, fn, fp


def nab_score(
    detections: Mapping[str, Any],
    windows: Mapping[str, Sequence[tuple[int, int]]],
    profile: str | NABProfile = "standard",
    *,
    probation_percent: float = PROBATION_PERCENT,
) -> NABResult:
    """NAB score of boolean detections.

    Parameters
    ----------
    detections : mapping of str to array of bool
        Per file, one flag per row (True: the detector reports an anomaly at that row).
    windows : mapping of str to list of (int, int)
        Per file, the anomaly windows as inclusive row positions, sorted (see
        :func:`nab_windows_to_index`); every file of ``detections`` needs an entry.
    profile : str or NABProfile
        A name of :data:`NAB_PROFILES` or custom weights.
    probation_percent : float
        Fraction of each file not scored (NAB: 0.15, at most ``0.15 * 5000`` rows).

    Returns
    -------
    NABResult
        Over the files of ``detections`` (``threshold`` is None).

    Raises
    ------
    ValidationError
        For a file without windows, a window outside its file, overlapping windows, or
        detections that are not one flag per row.

    Examples
    --------
    One 20-row file, one window on rows 5..9, no probation; a detection at the window's first
    row earns ``A_TP``, a detection before any window costs ``A_FP``:

    >>> w = {"f": [(5, 9)]}
    >>> d = np.zeros(20, dtype=bool)
    >>> d[[2, 5]] = True
    >>> r = nab_score({"f": d}, w, probation_percent=0.0)
    >>> round(r.raw, 4), r.tp, r.fp, r.fn, round(r.normalised, 2)
    (0.89, 1, 1, 0, 94.5)
    """
    p = _profile(profile)
    det: dict[str, np.ndarray] = {}
    for name, d in detections.items():
        arr = _as_1d(d, name, "detections")
        if arr.dtype != np.bool_:
            if not np.isin(arr, (0, 1)).all():
                raise ValidationError(
                    f"detections of {name!r} must be booleans (or 0/1); threshold anomaly "
                    "scores first (scores >= threshold) or use nab_optimise"
                )
            arr = arr.astype(bool)
        det[name] = arr
    tables = _tables({k: len(v) for k, v in det.items()}, windows, probation_percent)
    null, perfect, _ = _null_perfect(tables, p)
    raw, tp, fn, fp = _score_tables(tables, det, p)
    return NABResult(p, raw, _normalise(raw, null, perfect), null, perfect, tp, fn, fp)


@dataclass(slots=True)
class _Sweep:
    """Profile-independent part of the threshold sweep over a corpus's scored rows."""

    tables: dict[str, _File]
    scores: dict[str, np.ndarray]
    sorted_scores: np.ndarray  # descending
    unit_sorted: np.ndarray  # unit value of each row in sweep order
    outside: np.ndarray  # bool, sweep order: row outside every window
    win_slots: np.ndarray  # sweep positions of the window rows, grouped by window
    new_min: np.ndarray  # per window row (grouped): earliest detected row once it is detected
    prev_min: np.ndarray  # the earliest detected row before it (-1: none)
    unit_all: np.ndarray  # unit value by concatenated row position
    n_windows: int


def _prepare_sweep(
    scores: Mapping[str, Any],
    windows: Mapping[str, Sequence[tuple[int, int]]],
    pp: float,
) -> _Sweep:
    sc: dict[str, np.ndarray] = {}
    for name, s in scores.items():
        arr = _as_1d(s, name, "scores")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"scores of {name!r} must be numbers; found {e}") from e
        if np.isinf(arr).any():
            raise ValidationError(
                f"scores of {name!r} hold infinities; anomaly scores are finite (NaN means "
                "'not scored' and never detects)"
            )
        sc[name] = arr
    tables = _tables({k: len(v) for k, v in sc.items()}, windows, pp)
    score_parts, win_parts, unit_parts = [], [], []
    n_windows = 0
    for name, t in tables.items():
        keep = np.zeros(t.n, dtype=bool)
        keep[t.probation :] = True
        keep &= ~np.isnan(sc[name])
        score_parts.append(sc[name][keep])
        w = t.window_of_row[keep]
        # global window numbers; unscored windows have no kept rows, so numbering them is harmless
        win_parts.append(np.where(w >= 0, w + n_windows, -1))
        unit_parts.append(t.unit[keep])
        n_windows += len(t.windows)
    score = np.concatenate(score_parts) if score_parts else np.empty(0)
    win = np.concatenate(win_parts) if win_parts else np.empty(0, np.int64)
    unit = np.concatenate(unit_parts) if unit_parts else np.empty(0)
    order = np.argsort(-score, kind="stable")
    win_s = win[order]
    outside = win_s < 0
    k_idx = np.flatnonzero(~outside)
    group = win_s[k_idx]
    by_group = np.argsort(group, kind="stable")  # windows in turn, sweep order kept inside
    g = group[by_group]
    pos = order[k_idx][by_group]  # concatenated row positions: row order within a window
    big = len(score) + 1
    new_min = np.minimum.accumulate(pos - g * big) + g * big if len(pos) else pos
    prev_min = np.empty_like(new_min)
    if len(new_min):
        prev_min[0] = -1
        prev_min[1:] = new_min[:-1]
        prev_min[1:][g[1:] != g[:-1]] = -1
    return _Sweep(
        tables=tables,
        scores=sc,
        sorted_scores=score[order],
        unit_sorted=unit[order],
        outside=outside,
        win_slots=k_idx[by_group],
        new_min=new_min,
        prev_min=prev_min,
        unit_all=unit,
        n_windows=n_windows,
    )


def _best_threshold(sw: _Sweep, p: NABProfile, n_scored_windows: int) -> float:
    m = len(sw.sorted_scores)
    if m == 0:
        return math.inf
    delta = np.zeros(m, dtype=np.float64)
    delta[sw.outside] = p.fp * sw.unit_sorted[sw.outside]
    new_val = p.tp * sw.unit_all[sw.new_min]
    prev_val = np.where(sw.prev_min < 0, -p.fn, p.tp * sw.unit_all[np.maximum(sw.prev_min, 0)])
    delta[sw.win_slots] = new_val - prev_val
    total = -p.fn * n_scored_windows + np.cumsum(delta)
    s = sw.sorted_scores
    last_of_tie = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    objective = np.r_[-p.fn * n_scored_windows, total[last_of_tie]]
    thresholds = np.r_[math.inf, s[last_of_tie]]
    return float(thresholds[int(np.argmax(objective))])  # ties: the highest threshold


def _optimise(sw: _Sweep, p: NABProfile) -> NABResult:
    null, perfect, n_scored = _null_perfect(sw.tables, p)
    threshold = _best_threshold(sw, p, n_scored)
    det = {k: np.nan_to_num(v, nan=-np.inf) >= threshold for k, v in sw.scores.items()}
    raw, tp, fn, fp = _score_tables(sw.tables, det, p)
    return NABResult(p, raw, _normalise(raw, null, perfect), null, perfect, tp, fn, fp, threshold)


def nab_optimise(
    scores: Mapping[str, Any],
    windows: Mapping[str, Sequence[tuple[int, int]]],
    profile: str | NABProfile = "standard",
    *,
    probation_percent: float = PROBATION_PERCENT,
) -> NABResult:
    """NAB score of anomaly scores at the best corpus-wide threshold.

    Every distinct score value is a candidate threshold (a row is a detection when its score is
    at least the threshold), plus ``inf`` (no detection); the raw score of all of them comes
    from one sweep down the sorted scores (``O(n log n)`` for ``n`` rows), and the highest
    threshold among equal best scores is chosen.

    Parameters
    ----------
    scores : mapping of str to array of float
        Per file, one anomaly score per row (NAB's detectors give [0, 1]; any finite values
        work). NaN means "not scored": never a detection.
    windows : mapping of str to list of (int, int)
        As for :func:`nab_score`.
    profile : str or NABProfile
        A name of :data:`NAB_PROFILES` or custom weights.
    probation_percent : float
        As for :func:`nab_score`.

    Returns
    -------
    NABResult
        At the chosen ``threshold``.

    Examples
    --------
    >>> s = np.zeros(20)
    >>> s[6], s[15] = 0.9, 0.5
    >>> r = nab_optimise({"f": s}, {"f": [(5, 9)]}, probation_percent=0.0)
    >>> r.threshold, r.tp, r.fp
    (0.9, 1, 0)
    """
    return _optimise(_prepare_sweep(scores, windows, probation_percent), _profile(profile))


def nab_evaluate(
    scores: Mapping[str, Any],
    series: Mapping[str, NABSeries],
    *,
    profiles: Iterable[str | NABProfile] | None = None,
    probation_percent: float = PROBATION_PERCENT,
) -> dict[str, NABResult]:
    """NAB scores of a detector on loaded NAB files, one optimised threshold per profile.

    Parameters
    ----------
    scores : mapping of str to array of float
        Per file name (as in :func:`tsstore.datasets.load_nab`), one anomaly score per row.
        Only these files are scored: to compare with NAB's published results, score all 58.
    series : mapping of str to NABSeries
        ``load_nab()``'s result (it supplies the windows).
    profiles : iterable of str or NABProfile, optional
        Default: NAB's three profiles.
    probation_percent : float
        As for :func:`nab_score`.

    Returns
    -------
    dict of str to NABResult
        Keyed by profile name.

    Raises
    ------
    ValidationError
        If a scored file is not in ``series`` or its scores do not have one value per row.
    """
    unknown = [k for k in scores if k not in series]
    if unknown:
        raise ValidationError(
            f"no NAB series for scored file(s) {unknown[:5]}; score the names of load_nab()"
        )
    windows: dict[str, list[tuple[int, int]]] = {}
    for name, s in scores.items():
        data = series[name].data
        if len(s) != len(data):
            raise ValidationError(
                f"scores of {name!r} have {len(s)} values for {len(data)} rows; give one score "
                "per row, in file order (NaN where the detector has none)"
            )
        windows[name] = nab_windows_to_index(data["time"], series[name].windows)
    sweep = _prepare_sweep(scores, windows, probation_percent)
    chosen = [_profile(p) for p in (profiles if profiles is not None else NAB_PROFILES)]
    return {p.name: _optimise(sweep, p) for p in chosen}


# --------------------------------------------------------------------------------------------
# SKAB
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BinaryMetrics:
    """Point-wise binary classification metrics (SKAB's outlier-detection table).

    Attributes
    ----------
    f1 : float
        ``2 TP / (2 TP + FP + FN)``.
    far : float
        False-alarm rate ``FP / (FP + TN)``, a fraction (SKAB's tables print percent).
    mar : float
        Missed-alarm rate ``FN / (FN + TP)``, a fraction.
    precision, recall : float
        ``TP / (TP + FP)``, ``TP / (TP + FN)``.
    tp, fp, tn, fn : int
        The confusion counts.

    A ratio whose denominator is 0 is NaN.
    """

    f1: float
    far: float
    mar: float
    precision: float
    recall: float
    tp: int
    fp: int
    tn: int
    fn: int


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def _binary(x: Any, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValidationError(f"{what} has shape {arr.shape}; give one label per row (1-D)")
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValidationError(f"{what} holds NaN; fill it first (SKAB counts NaN as 0)")
    if not np.isin(arr, (0, 1)).all():
        raise ValidationError(f"{what} must be 0/1 or booleans (1 = anomaly)")
    return arr.astype(bool)


def skab_metrics(y_true: Any, y_pred: Any) -> BinaryMetrics:
    """F1, false-alarm and missed-alarm rates of point-wise anomaly labels.

    Parameters
    ----------
    y_true, y_pred : array-like of bool or 0/1
        True and predicted labels, one per row (1 = anomaly).

    Returns
    -------
    BinaryMetrics

    Raises
    ------
    ValidationError
        For different lengths, or labels that are not 0/1.

    Examples
    --------
    >>> m = skab_metrics([0, 0, 1, 1, 0], [0, 1, 1, 0, 0])
    >>> m.f1, round(m.far, 3), m.mar, (m.tp, m.fp, m.tn, m.fn)
    (0.5, 0.333, 0.5, (1, 1, 2, 1))
    """
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValidationError(
            f"y_true has {len(t)} labels and y_pred {len(p)}; give one prediction per row"
        )
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    tn = int(np.sum(~t & ~p))
    fn = int(np.sum(t & ~p))
    return BinaryMetrics(
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        far=_ratio(fp, fp + tn),
        mar=_ratio(fn, fn + tp),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def skab_evaluate(
    predict: Callable[[pd.DataFrame, pd.DataFrame], Any],
    files: Iterable[SKABFile],
    *,
    train_rows: int = SKAB_TRAIN_ROWS,
    score_train_rows: bool = True,
) -> BinaryMetrics:
    """SKAB's outlier-detection protocol: fit on each file's start, predict, pool, score.

    For each file, ``predict(train, test)`` gets the first ``train_rows`` rows as ``train`` and
    returns one label per row of ``test``. Following SKAB's published notebooks (which fit on
    ``df[:400]`` and then label and score the *whole* file), ``test`` is the whole file by
    default; ``score_train_rows=False`` makes it the rows after ``train_rows`` only (a strict
    hold-out, not comparable with SKAB's tables). The labels of all files are concatenated and
    scored point-wise with :func:`skab_metrics`.

    Parameters
    ----------
    predict : callable (train DataFrame, test DataFrame) -> array of bool or 0/1
        Both frames hold ``time`` and the :data:`SKAB_SENSORS` columns, not the labels.
    files : iterable of SKABFile
        E.g. ``load_skab()`` (SKAB uses all 34 labelled files).
    train_rows : int
        Rows of each file given as ``train``.
    score_train_rows : bool
        Whether ``test`` (and the score) includes the training rows, as SKAB does.

    Returns
    -------
    BinaryMetrics

    Raises
    ------
    ValidationError
        If a prediction does not have one label per test row, or a file has no ``anomaly``
        column or no more than ``train_rows`` rows.
    """
    if train_rows < 1:
        raise ValidationError(f"train_rows must be >= 1; got {train_rows}")
    truths, preds = [], []
    inputs = ["time", *SKAB_SENSORS]
    for f in files:
        df = f.data
        if "anomaly" not in df.columns:
            raise ValidationError(f"SKAB file {f.name!r} has no 'anomaly' column to score")
        if len(df) <= train_rows:
            raise ValidationError(
                f"SKAB file {f.name!r} has {len(df)} rows, not more than train_rows={train_rows}"
            )
        cols = [c for c in inputs if c in df.columns]
        train = df.iloc[:train_rows][cols].reset_index(drop=True)
        test_df = df if score_train_rows else df.iloc[train_rows:]
        pred = np.asarray(predict(train, test_df[cols].reset_index(drop=True)))
        if pred.shape != (len(test_df),):
            raise ValidationError(
                f"predict returned shape {pred.shape} for {f.name!r}; expected one label per "
                f"test row ({len(test_df)},)"
            )
        truths.append(_binary(test_df["anomaly"].to_numpy(), f"'anomaly' of {f.name!r}"))
        preds.append(_binary(pred, f"the prediction for {f.name!r}"))
    if not truths:
        raise ValidationError("no SKAB files given; pass load_skab()")
    return skab_metrics(np.concatenate(truths), np.concatenate(preds))


# --------------------------------------------------------------------------------------------
# C-MAPSS
# --------------------------------------------------------------------------------------------


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(t) != len(p):
        raise ValidationError(
            f"y_true has {len(t)} values and y_pred {len(p)}; give one prediction per engine"
        )
    if len(t) == 0:
        raise ValidationError("y_true is empty; give at least one engine")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValidationError("y_true and y_pred must be finite (no NaN or inf)")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, in cycles for remaining useful life.

    On C-MAPSS the usual test protocol scores one prediction per test engine (after its last
    cycle) against ``test_rul``; capping the truth at :data:`RUL_CAP` is the caller's choice.

    Examples
    --------
    >>> rmse([10, 20], [13, 16])
    3.5355339059327378
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def cmapss_score(y_true: Any, y_pred: Any) -> float:
    """The PHM08 challenge score: an asymmetric exponential penalty, lower is better.

    With ``d = y_pred - y_true``, each engine adds ``exp(-d / 13) - 1`` when ``d < 0`` (early
    prediction) and ``exp(d / 10) - 1`` otherwise (late prediction, penalised harder). The
    score is the sum (not the mean), so it grows with the number of engines.

    Examples
    --------
    >>> round(cmapss_score([50, 50], [37, 60]), 4)
    3.4366
    """
    t, p = _pair(y_true, y_pred)
    d = p - t
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


# --------------------------------------------------------------------------------------------
# Running a detector on NAB
# --------------------------------------------------------------------------------------------


def nab_detector_scores(detector: Any, series: Mapping[str, NABSeries]) -> dict[str, np.ndarray]:
    """One anomaly score per row of each NAB file, from a fresh clone of ``detector``.

    Each file's values are given as a Series indexed by its timestamps (a DatetimeIndex, UTC),
    so that detectors with duration parameters (a daily profile) work; every file gets its
    own ``sklearn.base.clone`` of the detector, fitted and scored on that file alone (NAB's
    detectors see each file as one stream, from its first row).

    Parameters
    ----------
    detector : Detector
        Any estimator with ``fit`` and ``score_samples`` (one score per row).
    series : mapping of str to NABSeries
        E.g. ``load_nab()``.

    Returns
    -------
    dict of str to ndarray
        Keyed like ``series``; infinite scores are clipped to the largest finite float (NaN
        stays NaN: not scored).
    """
    from sklearn.base import clone

    out: dict[str, np.ndarray] = {}
    for name, s in series.items():
        x = pd.Series(
            s.data["value"].to_numpy(dtype=np.float64),
            index=pd.DatetimeIndex(s.data["time"]),
            name="value",
        )
        det = clone(detector).fit(x)
        sc = np.asarray(det.score_samples(x), dtype=np.float64)
        if sc.shape != (len(x),):
            raise ValidationError(
                f"{type(detector).__name__}.score_samples returned shape {sc.shape} for "
                f"{name!r}; expected one score per row ({len(x)},)"
            )
        big = np.finfo(np.float64).max
        out[name] = np.nan_to_num(sc, nan=np.nan, posinf=big, neginf=-big)
    return out


def evaluate_nab(
    detector: Any,
    series: Mapping[str, NABSeries] | None = None,
    *,
    profiles: Iterable[str | NABProfile] | None = None,
) -> dict[str, NABResult]:
    """NAB scores of a detector: score every file with a clone of it, then :func:`nab_evaluate`.

    This is NAB's protocol: one configuration of the detector for the whole corpus (the same
    parameters on every file), each file scored as a stream from its first row, and one
    threshold per profile optimised over the corpus by NAB's scorer.

    Parameters
    ----------
    detector : Detector
        E.g. ``RollingZScore()``; it is cloned per file, never fitted in place.
    series : mapping of str to NABSeries, optional
        The files to score (default: all 58 of ``load_nab()``). Only these files are scored;
        compare with NAB's published results on the whole corpus only.
    profiles : iterable of str or NABProfile, optional
        Default: NAB's three profiles.

    Returns
    -------
    dict of str to NABResult
        Keyed by profile name (``"standard"``, ``"reward_low_FP_rate"``,
        ``"reward_low_FN_rate"``).

    Examples
    --------
    >>> from tsstore.anomaly import RollingZScore
    >>> res = evaluate_nab(RollingZScore())  # doctest: +SKIP
    >>> round(res["standard"].normalised, 1)  # doctest: +SKIP
    """
    if series is None:
        from tsstore.datasets import load_nab

        series = load_nab()
    scores = nab_detector_scores(detector, series)
    return nab_evaluate(scores, series, profiles=profiles)
