"""Timestream's time-series functions in the DuckDB kernel.

Timestream's ``timeseries`` type is an ``array(row(time timestamp, value T))`` sorted by time.
In the kernel it is a DuckDB ``STRUCT("time" TIMESTAMPTZ_NS, "value" T)[]`` (nanoseconds, UTC),
built by ``create_time_series``, read with ``CROSS JOIN UNNEST(ts) AS t(time, value)``, and
filtered or mapped with ``filter``, ``transform`` and ``reduce`` (``x.time``, ``x.value``).

:func:`install` registers, once per kernel connection:

- SQL macros named in :data:`KERNEL_NAMES` (what :mod:`tsstore.query.translate` emits for each
  Timestream function) and ``ts_sequence`` (``sequence`` over timestamps, nanoseconds kept);
- vectorised Python UDFs over Arrow. DuckDB calls one per chunk of up to 2048 rows; the list
  arrays of the chunk are flattened into one array of points plus per-row offsets, and every
  step (sorting, searching the requested times, the spline's tridiagonal solve, per-row sums)
  is one numpy operation over all the points of all the rows. No Python loop per row or point.

Semantics, following the AWS Timestream documentation, and choices where it says nothing:

- ``create_time_series(time, value)``: aggregate; sorted by time; points whose time or value is
  NULL are skipped (Timestream requires a non-NULL value); no point at all gives NULL.
- Points of an input series with a NULL time or value are ignored, an unsorted input is sorted,
  and of several points at the same time only the first is kept.
- ``interpolate_linear(ts, times)`` and ``interpolate_spline_cubic`` (natural cubic spline) do not
  extrapolate: a requested time outside ``[first, last]`` of the series has no point in the
  result (the scalar form returns NULL). A single-point series answers only its own time.
- ``interpolate_locf``: the last value at or before the requested time, carried forward past the
  last point; nothing before the first point.
- ``interpolate_fill(ts, times, fill)``: the series' value at a requested time that it has, the
  fill value at every other requested time (inside or outside the series' range).
- Interpolations return ``DOUBLE`` values, at the requested times sorted ascending (NULL times
  dropped); the scalar form (``interpolate_*(ts, timestamp)``) returns a ``DOUBLE``.
- ``derivative_linear(ts, interval)``: at every point but the first,
  ``(v[i] - v[i-1]) / (t[i] - t[i-1]) * interval``; ``non_negative_derivative_linear`` keeps
  only the points whose derivative is >= 0.
- ``integral_trapezoidal(ts[, interval])``: the trapezoidal rule in units of ``interval``
  (default 1s, as Timestream's); a single point gives 0, an empty series NULL.
- ``correlate_pearson(ts1, ts2)`` and ``correlate_spearman`` (ranks, ties averaged): over the
  points at timestamps present in both series (Timestream requires the same timestamps); NULL
  with fewer than two such points or a constant series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "KERNEL_NAMES",
    "MAX_SEQUENCE_LENGTH",
    "SEQUENCE",
    "TIMESERIES_TYPE",
    "install",
    "solve_tridiagonal",
]

#: The kernel's type of a Timestream ``timeseries`` of doubles (what interpolations return).
TIMESERIES_TYPE: Final = 'STRUCT("time" TIMESTAMPTZ_NS, "value" DOUBLE)[]'

#: The kernel function (macro) that runs each Timestream time-series function.
KERNEL_NAMES: Final[dict[str, str]] = {
    "create_time_series": "ts_create_time_series",
    "interpolate_linear": "ts_interpolate_linear",
    "interpolate_spline_cubic": "ts_interpolate_spline_cubic",
    "interpolate_locf": "ts_interpolate_locf",
    "interpolate_fill": "ts_interpolate_fill",
    "derivative_linear": "ts_derivative_linear",
    "non_negative_derivative_linear": "ts_non_negative_derivative_linear",
    "integral_trapezoidal": "ts_integral_trapezoidal",
    "correlate_pearson": "ts_correlate_pearson",
    "correlate_spearman": "ts_correlate_spearman",
}

#: ``sequence(start, stop, step)`` over timestamps, in the kernel.
SEQUENCE: Final = "ts_sequence"

#: The most timestamps one ``sequence`` may generate (a guard against ``sequence(a, b, 1ns)``
#: over hours; Trino's own limit is 10,000).
MAX_SEQUENCE_LENGTH: Final = 1_000_000

_NS_PER_S: Final = 1_000_000_000
_UTC_NS: Final = pa.timestamp("ns", tz="UTC")

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# Arrow <-> flat numpy
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Points:
    """The time series of a batch of rows, flattened.

    Row ``r`` owns points ``offsets[r]:offsets[r + 1]``, sorted by time, one per time; ``rows``
    is each point's row; ``valid`` tells which rows are not NULL (a NULL row has no points).
    """

    offsets: Int64Array
    rows: Int64Array
    times: Int64Array
    values: FloatArray
    valid: BoolArray

    @property
    def n_rows(self) -> int:
        return len(self.valid)


def _one_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _validity(arr: pa.Array) -> BoolArray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=np.bool_)
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _list_parts(arr: pa.Array | pa.ChunkedArray) -> tuple[BoolArray, Int64Array, pa.Array]:
    """``(row validity, offsets from 0, child values)`` of a list array, slicing resolved."""
    lists = _one_array(arr)
    valid = _validity(lists)
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    start, stop = int(offsets[0]), int(offsets[-1])
    child = lists.values.slice(start, stop - start)
    return valid, offsets - start, child


def _row_ids(offsets: Int64Array) -> Int64Array:
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def _offsets(rows: Int64Array, n_rows: int) -> Int64Array:
    out = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=out[1:])
    return out


def _int64(arr: pa.Array) -> tuple[Int64Array, BoolArray]:
    """Values (NULL as 0) and validity of an integer or timestamp array."""
    valid = _validity(arr)
    ints = arr.cast(pa.int64()) if arr.type != pa.int64() else arr
    if arr.null_count:
        ints = ints.fill_null(0)
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64), valid


def _float64(arr: pa.Array) -> tuple[FloatArray, BoolArray]:
    valid = _validity(arr)
    floats = arr.cast(pa.float64()) if arr.type != pa.float64() else arr
    if arr.null_count:
        floats = floats.fill_null(np.nan)
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64), valid


def _read_series(arr: pa.Array | pa.ChunkedArray) -> _Points:
    """A timeseries argument as :class:`_Points` (sorted, one point per time, no NULLs)."""
    valid, offsets, child = _list_parts(arr)
    fields = child.flatten()  # struct nulls merged into the fields'
    times, time_ok = _int64(fields[child.type.get_field_index("time")])
    values, value_ok = _float64(fields[child.type.get_field_index("value")])
    rows = _row_ids(offsets)
    keep = time_ok & value_ok & valid[rows]
    if not keep.all():
        rows, times, values = rows[keep], times[keep], values[keep]
    if len(times) > 1:
        same = rows[1:] == rows[:-1]
        if np.any(same & (times[1:] < times[:-1])):
            order = np.lexsort((times, rows))  # stable; rows are already in order
            times, values = times[order], values[order]
        dup = same & (times[1:] == times[:-1])
        if dup.any():
            first = np.concatenate(([True], ~dup))
            rows, times, values = rows[first], times[first], values[first]
    return _Points(_offsets(rows, len(valid)), rows, times, values, valid)


@dataclass(frozen=True, slots=True)
class _Times:
    """Requested times of a batch of rows: sorted within each row, NULLs dropped."""

    rows: Int64Array
    times: Int64Array
    valid: BoolArray


def _read_times(arr: pa.Array | pa.ChunkedArray) -> _Times:
    valid, offsets, child = _list_parts(arr)
    times, ok = _int64(child)
    rows = _row_ids(offsets)
    keep = ok & valid[rows]
    if not keep.all():
        rows, times = rows[keep], times[keep]
    if len(times) > 1 and np.any((rows[1:] == rows[:-1]) & (times[1:] < times[:-1])):
        order = np.lexsort((times, rows))
        times = times[order]
    return _Times(rows, times, valid)


def _series_array(
    row_valid: BoolArray,
    rows: Int64Array,
    times: Int64Array,
    values: FloatArray,
    value_valid: BoolArray | None = None,
) -> pa.Array:
    """A ``STRUCT(time, value DOUBLE)[]`` Arrow array; points grouped by row, in row order."""
    offsets = _offsets(rows, len(row_valid))
    mask = None if value_valid is None or value_valid.all() else ~value_valid
    points = pa.StructArray.from_arrays(
        [pa.array(times, type=_UTC_NS), pa.array(values, type=pa.float64(), mask=mask)],
        names=["time", "value"],
    )
    row_mask = None if row_valid.all() else pa.array(~row_valid)
    if offsets[-1] < np.iinfo(np.int32).max:
        return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), points, mask=row_mask)
    return pa.LargeListArray.from_arrays(pa.array(offsets), points, mask=row_mask)


def _double_array(values: FloatArray, valid: BoolArray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=None if valid.all() else ~valid)


# --------------------------------------------------------------------------------------------
# Numerical kernels (all rows of a batch at once)
# --------------------------------------------------------------------------------------------


def _first_last(
    rows: Int64Array, times: Int64Array, n_rows: int
) -> tuple[Int64Array, Int64Array, BoolArray]:
    """First and last time of each row of ``(rows, times)`` sorted by (row, time)."""
    offsets = _offsets(rows, n_rows)
    has = offsets[1:] > offsets[:-1]
    first = np.zeros(n_rows, dtype=np.int64)
    last = np.zeros(n_rows, dtype=np.int64)
    first[has] = times[offsets[:-1][has]]
    last[has] = times[offsets[1:][has] - 1]
    return first, last, has


def _row_keys(
    points: _Points, rows: Int64Array, times: Int64Array
) -> tuple[Int64Array, Int64Array] | None:
    """One increasing int64 key for the (row, time) of points and queries: ``row * width +
    (time - row's first time)``; None when the rows' spans are too wide for int64."""
    n_rows = points.n_rows
    p_first, p_last, p_has = _first_last(points.rows, points.times, n_rows)
    q_first, q_last, q_has = _first_last(rows, times, n_rows)
    first = np.where(p_has & q_has, np.minimum(p_first, q_first), np.where(p_has, p_first, q_first))
    last = np.where(p_has & q_has, np.maximum(p_last, q_last), np.where(p_has, p_last, q_last))
    span = float(np.max(last.astype(np.float64) - first.astype(np.float64), initial=0.0))
    if span >= 2.0**61 or (int(span) + 2) * (n_rows + 1) >= 2**62:
        return None
    width = np.int64(int(span) + 1)
    point_keys = points.rows * width + (points.times - first[points.rows])
    query_keys = rows * width + (times - first[rows])
    return point_keys, query_keys


def _searchsorted(points: _Points, rows: Int64Array, times: Int64Array, side: str) -> Int64Array:
    """For each query ``(row, time)``, numpy's ``searchsorted`` within its row, as a global
    index into the points (between ``offsets[row]`` and ``offsets[row + 1]``).

    The queries must be sorted by (row, time). ``side="left"``: the first point of the row at
    or after the time; ``"right"``: strictly after. Rows become disjoint ranges of one int64
    key, so one ``np.searchsorted`` answers every row (a merge of the two sorted by (row, time)
    when the rows' spans are too wide for that).
    """
    n = len(points.times)
    if n == 0 or len(times) == 0:
        return np.zeros(len(times), dtype=np.int64)
    keys = _row_keys(points, rows, times)
    if keys is not None:
        return np.searchsorted(keys[0], keys[1], side=side).astype(np.int64, copy=False)
    point_first = side == "right"
    kind = np.concatenate(
        (
            np.full(n, 0 if point_first else 1, np.int8),
            np.full(len(times), 1 if point_first else 0, np.int8),
        )
    )
    order = np.lexsort(
        (kind, np.concatenate((points.times, times)), np.concatenate((points.rows, rows)))
    )
    # Points are unique per (row, time) and already in that order: the k-th point met in the
    # merge is point k, so the points met before a query are the index of the next one.
    points_before = np.cumsum(order < n)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return points_before[position[n:]]


def _neighbours(
    points: _Points, rows: Int64Array, times: Int64Array
) -> tuple[Int64Array, Int64Array, BoolArray, BoolArray, BoolArray]:
    """``(lo, hi, exact, between, after_first)`` of each query: ``lo`` the last point at or
    before it, ``hi`` the next (both clipped to valid indexes), ``exact`` when ``lo`` is at the
    query's time, ``between`` when ``lo`` and ``hi`` are in its row and straddle it."""
    hi = _searchsorted(points, rows, times, "right")
    lo = hi - 1
    after_first = lo >= points.offsets[rows]
    has_hi = hi < points.offsets[rows + 1]
    last = max(len(points.times) - 1, 0)
    lo_c, hi_c = np.clip(lo, 0, last), np.clip(hi, 0, last)
    if len(points.times) == 0:
        none = np.zeros(len(times), dtype=np.bool_)
        return lo_c, hi_c, none, none, none
    exact = after_first & (points.times[lo_c] == times)
    between = after_first & has_hi & ~exact
    return lo_c, hi_c, exact, between, after_first


def _linear(points: _Points, rows: Int64Array, times: Int64Array) -> tuple[BoolArray, FloatArray]:
    lo, _, exact, between, _ = _neighbours(points, rows, times)
    n = len(points.times)
    if n == 0:
        return exact, np.zeros(len(times))
    slope = np.zeros(n)  # per point: to the next point of its row, per nanosecond
    i = np.flatnonzero(points.rows[1:] == points.rows[:-1])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope[i] = (points.values[i + 1] - points.values[i]) / (
            points.times[i + 1] - points.times[i]
        ).astype(np.float64)
        v0 = points.values[lo]
        out = v0 + slope[lo] * (times - points.times[lo]).astype(np.float64)
    if not np.isfinite(slope).all():  # inf * 0 at an exact time
        out = np.where(exact, v0, out)
    return exact | between, out


def solve_tridiagonal(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> FloatArray:
    """Solve ``a[i] x[i-1] + b[i] x[i] + c[i] x[i+1] = d[i]`` by cyclic reduction.

    ``a[0]`` and ``c[-1]`` are ignored. Each level eliminates the odd unknowns in a few numpy
    operations over the whole system, so ``log2(n)`` levels solve it; stable for diagonally
    dominant systems like a spline's. Independent systems can be solved together, laid end to
    end, as long as the coefficients that would couple them are zero.
    """
    n = len(b)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return d / b
    ae, be, ce, de = a[0::2], b[0::2], c[0::2], d[0::2]
    ao, bo, co, do = a[1::2], b[1::2], c[1::2], d[1::2]
    ne, no = len(be), len(bo)
    alpha = np.zeros(ne)
    gamma = np.zeros(ne)
    alpha[1:] = -ae[1:] / bo[: ne - 1]  # even 2k from its left neighbour 2k-1 (odd k-1)
    gamma[:no] = -ce[:no] / bo  # ... and from its right neighbour 2k+1 (odd k)
    a2 = np.zeros(ne)
    c2 = np.zeros(ne)
    a2[1:] = alpha[1:] * ao[: ne - 1]
    c2[:no] = gamma[:no] * co
    b2 = be.copy()
    b2[1:] += alpha[1:] * co[: ne - 1]
    b2[:no] += gamma[:no] * ao
    d2 = de.copy()
    d2[1:] += alpha[1:] * do[: ne - 1]
    d2[:no] += gamma[:no] * do
    xe = solve_tridiagonal(a2, b2, c2, d2)
    right = np.append(xe, 0.0)[1 : no + 1]
    x = np.empty(n)
    x[0::2] = xe
    x[1::2] = (do - ao * xe[:no] - co * right) / bo
    return x


def _spline_moments(points: _Points) -> tuple[FloatArray, BoolArray]:
    """Second derivatives (per second squared) of each row's natural cubic spline, and which
    rows have only finite values (a row with NaN or infinity interpolates to NaN)."""
    n = len(points.times)
    rows, values = points.rows, points.values
    finite = np.isfinite(values)
    good_rows = np.ones(points.n_rows, dtype=np.bool_)
    if not finite.all():
        good_rows[rows[~finite]] = False
        values = np.where(good_rows[rows], values, 0.0)
    if n < 3:
        return np.zeros(n), good_rows
    same_next = np.zeros(n, dtype=np.bool_)
    same_next[:-1] = rows[1:] == rows[:-1]
    interior = np.zeros(n, dtype=np.bool_)
    interior[1:] = same_next[:-1] & same_next[1:]
    h = np.zeros(n)  # h[i]: seconds from point i to point i+1 (same row)
    h[:-1] = np.where(same_next[:-1], np.diff(points.times) / _NS_PER_S, 0.0)
    slope = np.zeros(n)
    np.divide(np.diff(values), h[:-1], out=slope[:-1], where=same_next[:-1])
    i = np.flatnonzero(interior)
    a = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    b = np.ones(n)  # first and last point of a row: natural end, moment 0
    a[i], c[i] = h[i - 1], h[i]
    b[i] = 2.0 * (h[i - 1] + h[i])
    d[i] = 6.0 * (slope[i] - slope[i - 1])
    return solve_tridiagonal(a, b, c, d), good_rows


def _spline(points: _Points, rows: Int64Array, times: Int64Array) -> tuple[BoolArray, FloatArray]:
    lo, hi, exact, between, _ = _neighbours(points, rows, times)
    if len(points.times) == 0:
        return exact, np.zeros(len(times))
    moments, good_rows = _spline_moments(points)
    t0, t1 = points.times[lo], points.times[hi]
    v0, v1, m0, m1 = points.values[lo], points.values[hi], moments[lo], moments[hi]
    h = np.where(between, (t1 - t0) / _NS_PER_S, 1.0)
    s0 = (times - t0) / _NS_PER_S  # seconds since the point before
    s1 = (t1 - times) / _NS_PER_S  # seconds to the point after
    with np.errstate(invalid="ignore", over="ignore"):
        cubic = (
            (m0 * s1**3 + m1 * s0**3) / (6.0 * h)
            + (v0 / h - m0 * h / 6.0) * s1
            + (v1 / h - m1 * h / 6.0) * s0
        )
        out = np.where(exact, v0, cubic)
    out = np.where(good_rows[rows], out, np.nan)
    return exact | between, out


def _locf(points: _Points, rows: Int64Array, times: Int64Array) -> tuple[BoolArray, FloatArray]:
    lo, _, _, _, after_first = _neighbours(points, rows, times)
    values = points.values[lo] if len(points.times) else np.zeros(len(times))
    return after_first, values


def _fill(
    points: _Points, rows: Int64Array, times: Int64Array, fill: FloatArray, fill_ok: BoolArray
) -> tuple[FloatArray, BoolArray]:
    at = _searchsorted(points, rows, times, "left")
    if len(points.times) == 0:
        return fill[rows], fill_ok[rows]
    at_c = np.clip(at, 0, len(points.times) - 1)
    exact = (at < points.offsets[rows + 1]) & (points.times[at_c] == times)
    return np.where(exact, points.values[at_c], fill[rows]), exact | fill_ok[rows]


def _pairs(points: _Points) -> tuple[Int64Array, Int64Array]:
    """Indexes ``(i, i - 1)`` of every point that has a previous point in its row."""
    i = np.flatnonzero(points.rows[1:] == points.rows[:-1]) + 1
    return i, i - 1


def _pearson(
    rows: Int64Array, x: FloatArray, y: FloatArray, n_rows: int
) -> tuple[FloatArray, BoolArray]:
    count = np.bincount(rows, minlength=n_rows).astype(np.float64)
    safe = np.maximum(count, 1.0)
    dx = x - (np.bincount(rows, x, n_rows) / safe)[rows]
    dy = y - (np.bincount(rows, y, n_rows) / safe)[rows]
    sxy = np.bincount(rows, dx * dy, n_rows)
    sxx = np.bincount(rows, dx * dx, n_rows)
    syy = np.bincount(rows, dy * dy, n_rows)
    ok = (count >= 2) & (sxx > 0) & (syy > 0)
    r = np.divide(sxy, np.sqrt(sxx * syy), out=np.zeros(n_rows), where=ok)
    return np.clip(r, -1.0, 1.0), ok


def _ranks(rows: Int64Array, values: FloatArray) -> FloatArray:
    """Ranks of the values within each row, ties averaged; offset by a constant per row (the
    row's first position), which a correlation ignores."""
    order = np.lexsort((values, rows))
    v, r = values[order], rows[order]
    new_run = np.ones(len(order), dtype=np.bool_)
    new_run[1:] = (r[1:] != r[:-1]) | (v[1:] != v[:-1])
    run = np.cumsum(new_run) - 1
    mean_position = np.bincount(run, np.arange(len(order), dtype=np.float64)) / np.bincount(run)
    ranks = np.empty(len(order))
    ranks[order] = mean_position[run]
    return ranks


def _matched(a: _Points, b: _Points) -> tuple[Int64Array, FloatArray, FloatArray]:
    """``(row, value in a, value in b)`` at every time present in both series of a row."""
    n = len(a.times)
    rows = np.concatenate((a.rows, b.rows))
    times = np.concatenate((a.times, b.times))
    which = np.concatenate((np.zeros(n, np.int8), np.ones(len(b.times), np.int8)))
    order = np.lexsort((which, times, rows))
    r, t, w = rows[order], times[order], which[order]
    k = np.flatnonzero((w[:-1] == 0) & (w[1:] == 1) & (r[:-1] == r[1:]) & (t[:-1] == t[1:]))
    x, y = a.values[order[k]], b.values[order[k + 1] - n]
    finite = np.isfinite(x) & np.isfinite(y)
    return r[k][finite], x[finite], y[finite]


# --------------------------------------------------------------------------------------------
# The UDFs (Arrow in, Arrow out)
# --------------------------------------------------------------------------------------------

_Method = Callable[[_Points, Int64Array, Int64Array], tuple[BoolArray, FloatArray]]


def _interpolation(method: _Method) -> Callable[[pa.ChunkedArray, pa.ChunkedArray], pa.Array]:
    def udf(ts: pa.ChunkedArray, times: pa.ChunkedArray) -> pa.Array:
        points, query = _read_series(ts), _read_times(times)
        row_valid = points.valid & query.valid
        keep = row_valid[query.rows]
        rows, at = query.rows[keep], query.times[keep]
        found, values = method(points, rows, at)
        return _series_array(row_valid, rows[found], at[found], values[found])

    return udf


def _interpolate_fill(
    ts: pa.ChunkedArray, times: pa.ChunkedArray, fill: pa.ChunkedArray
) -> pa.Array:
    points, query = _read_series(ts), _read_times(times)
    fill_values, fill_ok = _float64(_one_array(fill))
    row_valid = points.valid & query.valid
    keep = row_valid[query.rows]
    rows, at = query.rows[keep], query.times[keep]
    values, value_ok = _fill(points, rows, at, fill_values, fill_ok)
    return _series_array(row_valid, rows, at, values, value_ok)


def _units(unit: pa.ChunkedArray, function: str) -> tuple[Int64Array, BoolArray]:
    """The interval argument in nanoseconds (1 where NULL) and where it is not NULL."""
    ns, ok = _int64(_one_array(unit))
    if np.any(ok & (ns <= 0)):
        raise ValueError(
            f"{function}: the interval must be positive, e.g. 1s or 5m; got "
            f"{int(ns[ok & (ns <= 0)][0])} ns"
        )
    return np.where(ok, ns, 1), ok


def _derivative(
    ts: pa.ChunkedArray, unit: pa.ChunkedArray, non_negative: pa.ChunkedArray
) -> pa.Array:
    points = _read_series(ts)
    ns, unit_ok = _units(unit, "derivative_linear")
    i, prev = _pairs(points)
    rows = points.rows[i]
    dt = (points.times[i] - points.times[prev]).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        rate = (points.values[i] - points.values[prev]) * (ns[rows] / dt)
    flags, flags_ok = _int64(_one_array(non_negative))
    keep = ~((flags[rows] != 0) & flags_ok[rows] & ~(rate >= 0))
    return _series_array(points.valid & unit_ok, rows[keep], points.times[i][keep], rate[keep])


def _integral(ts: pa.ChunkedArray, unit: pa.ChunkedArray) -> pa.Array:
    points = _read_series(ts)
    ns, unit_ok = _units(unit, "integral_trapezoidal")
    i, prev = _pairs(points)
    rows = points.rows[i]
    dt = (points.times[i] - points.times[prev]).astype(np.float64)
    area = (points.values[i] + points.values[prev]) * 0.5 * (dt / ns[rows])
    total = np.bincount(rows, area, points.n_rows)
    has_points = np.diff(points.offsets) > 0
    return _double_array(total, points.valid & unit_ok & has_points)


def _correlation(rank: bool) -> Callable[[pa.ChunkedArray, pa.ChunkedArray], pa.Array]:
    def udf(ts1: pa.ChunkedArray, ts2: pa.ChunkedArray) -> pa.Array:
        a, b = _read_series(ts1), _read_series(ts2)
        rows, x, y = _matched(a, b)
        if rank:
            x, y = _ranks(rows, x), _ranks(rows, y)
        r, ok = _pearson(rows, x, y, a.n_rows)
        return _double_array(r, ok & a.valid & b.valid)

    return udf


def _sequence(start: pa.ChunkedArray, stop: pa.ChunkedArray, step: pa.ChunkedArray) -> pa.Array:
    """``sequence(start, stop, step)``: ``start + i * step`` up to ``stop``, in nanoseconds."""
    a, a_ok = _int64(_one_array(start))
    b, b_ok = _int64(_one_array(stop))
    s, s_ok = _int64(_one_array(step))
    ok = a_ok & b_ok & s_ok
    if np.any(ok & (s == 0)):
        raise ValueError("sequence: the step must not be zero; use a duration such as 15s")
    span = np.where(ok, b - a, 0)
    s = np.where(ok, s, 1)
    if np.any((span != 0) & (np.sign(span) != np.sign(s))):
        raise ValueError(
            "sequence: stop must be at or after start for a positive step, at or before it "
            "for a negative step"
        )
    steps = span // s
    if np.any(steps >= MAX_SEQUENCE_LENGTH):
        raise ValueError(
            f"sequence: more than {MAX_SEQUENCE_LENGTH} timestamps; use a larger step or a "
            "shorter range"
        )
    counts = np.where(ok, steps + 1, 0)
    rows = np.repeat(np.arange(len(ok), dtype=np.int64), counts)
    offsets = _offsets(rows, len(ok))
    times = a[rows] + (np.arange(len(rows), dtype=np.int64) - offsets[rows]) * s[rows]
    return pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int64() if offsets[-1] >= 2**31 else pa.int32()),
        pa.array(times, type=_UTC_NS),
        mask=None if ok.all() else pa.array(~ok),
    )


# --------------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------------

_TS = TIMESERIES_TYPE
_TIMES = "TIMESTAMPTZ_NS[]"

# name -> (function, parameter types, return type)
_UDFS: Final[dict[str, tuple[Callable[..., pa.Array], list[str], str]]] = {
    "ts_interpolate_linear_series": (_interpolation(_linear), [_TS, _TIMES], _TS),
    "ts_interpolate_spline_cubic_series": (_interpolation(_spline), [_TS, _TIMES], _TS),
    "ts_interpolate_locf_series": (_interpolation(_locf), [_TS, _TIMES], _TS),
    "ts_interpolate_fill_series": (_interpolate_fill, [_TS, _TIMES, "DOUBLE"], _TS),
    "ts_derivative": (_derivative, [_TS, "BIGINT", "BOOLEAN"], _TS),
    "ts_integral": (_integral, [_TS, "BIGINT"], "DOUBLE"),
    "ts_correlate_pearson": (_correlation(rank=False), [_TS, _TS], "DOUBLE"),
    "ts_correlate_spearman": (_correlation(rank=True), [_TS, _TS], "DOUBLE"),
    "ts_sequence_ns": (_sequence, ["TIMESTAMPTZ_NS", "TIMESTAMPTZ_NS", "BIGINT"], _TIMES),
}


def _macros() -> str:
    statements = [
        # The aggregate. ORDER BY sorts; FILTER skips points without a time or a value.
        "CREATE OR REPLACE MACRO ts_create_time_series(t, v) AS "
        'list(struct_pack("time" := CAST(t AS TIMESTAMPTZ_NS), "value" := v) ORDER BY t) '
        "FILTER (WHERE t IS NOT NULL AND v IS NOT NULL)",
        # sequence(start, stop, step) over timestamps: start + i * step, in nanoseconds, and
        # by the calendar for a step with months (Trino's; Timestream's durations have none).
        "CREATE OR REPLACE MACRO ts_sequence_months(s) AS "
        "datepart('year', s) * 12 + datepart('month', s)",
        f"CREATE OR REPLACE MACRO {SEQUENCE}(a, b, step) AS (CASE "
        "WHEN ts_sequence_months(step) <> 0 THEN list_filter(list_transform(range(least("
        "abs(date_diff('month', CAST(a AS TIMESTAMPTZ), CAST(b AS TIMESTAMPTZ))) "
        f"// abs(ts_sequence_months(step)) + 1, {MAX_SEQUENCE_LENGTH})), "
        "lambda i: CAST(CAST(a AS TIMESTAMPTZ) + step * i AS TIMESTAMPTZ_NS)), "
        "lambda x: CASE WHEN ts_sequence_months(step) > 0 THEN x <= b ELSE x >= b END) "
        "ELSE ts_sequence_ns(a, b, epoch_ns(step)) END)",
    ]
    for name in ("linear", "spline_cubic", "locf"):
        fn = f"ts_interpolate_{name}"
        statements += [
            f"CREATE OR REPLACE MACRO {fn}_at(ts, t) AS {fn}_series(ts, [t])[1].value",
            # Chosen by the type of t when the translation cannot tell from the syntax.
            f"CREATE OR REPLACE MACRO {fn}(ts, t {_TIMES}) AS {fn}_series(ts, t), "
            f"(ts, t TIMESTAMPTZ_NS) AS {fn}_at(ts, t)",
        ]
    fn = "ts_interpolate_fill"
    statements += [
        f"CREATE OR REPLACE MACRO {fn}_at(ts, t, fill) AS {fn}_series(ts, [t], fill)[1].value",
        f"CREATE OR REPLACE MACRO {fn}(ts, t {_TIMES}, fill) AS {fn}_series(ts, t, fill), "
        f"(ts, t TIMESTAMPTZ_NS, fill) AS {fn}_at(ts, t, fill)",
        "CREATE OR REPLACE MACRO ts_derivative_linear(ts, d) AS "
        "ts_derivative(ts, epoch_ns(d), false)",
        "CREATE OR REPLACE MACRO ts_non_negative_derivative_linear(ts, d) AS "
        "ts_derivative(ts, epoch_ns(d), true)",
        "CREATE OR REPLACE MACRO ts_integral_trapezoidal(ts, d) AS ts_integral(ts, epoch_ns(d))",
    ]
    return ";\n".join(statements)


_MACROS_SQL: Final = _macros()


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Register the time-series functions on ``con`` (a kernel connection).

    Registers the Arrow UDFs and the SQL macros the translation names (:data:`KERNEL_NAMES`,
    :data:`SEQUENCE`). Idempotent: a UDF already on ``con`` is kept.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection; its session time zone should be UTC (the kernel's).
    """
    for name, (fn, params, returns) in _UDFS.items():
        try:
            con.create_function(
                name,
                fn,
                [con.sqltype(p) for p in params],
                con.sqltype(returns),
                type="arrow",
                null_handling="special",
                side_effects=False,
            )
        except duckdb.NotImplementedException as e:  # already there: install ran before
            if "already created" not in str(e):
                raise
    con.execute(_MACROS_SQL)
