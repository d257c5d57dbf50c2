"""``df.ts`` and ``ds.ts``: tsstore's time-series tools on any pandas frame and xarray cube.

Importing this module (``import tsstore`` does) registers two accessors:

- ``df.ts`` (:class:`TimeSeriesAccessor`) on every DataFrame of long-format time series: one
  row per point, a time column, dimension columns that name the series (strings) and measure
  columns (numbers). Methods are named after Timestream's SQL functions where one exists:
  ``bin``, ``interpolate`` (``interpolate_linear``, ``interpolate_locf``,
  ``interpolate_spline_cubic``, ``interpolate_fill``), ``derivative`` (``derivative_linear``);
  ``sql`` runs Timestream SQL over the frame itself, ``write`` stores it in a table.
- ``ds.ts`` (:class:`CubeAccessor`) on the ``(series, time)`` cubes that
  :meth:`tsstore.Table.to_xarray` and ``df.ts.to_xarray`` make: back to a long frame, into a
  table, onto a chart.

Conventions, the same for every method:

- the **time** column is ``time=`` when given, else a column named ``time``, else the one
  datetime column (or a ``DatetimeIndex``). Naive times are UTC; results are UTC;
- **dimensions** are the string (object, ``string``, categorical) columns unless
  ``dimensions=[...]`` says otherwise; one combination of their values is one series;
- **measures** are the numeric and boolean columns unless ``measures=[...]`` says otherwise;
- durations are written as in Timestream's SQL: ``"500ms"``, ``"10s"``, ``"15m"``, ``"1h"``,
  ``"1d"``; bins are aligned to the epoch, as ``bin(time, 15m)``.

Every method is a thin front end over a plain API: :meth:`tsstore.Table.write`,
:func:`tsstore.query.frames.query_frames`, :func:`tsstore.plot.chart`.

Examples
--------
>>> import pandas as pd
>>> import tsstore.accessor
>>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=4, freq="20s"),
...                    "device_id": ["m-1"] * 4, "cpu": [1.0, 2.0, 3.0, 5.0]})
>>> df.ts.bin("1m")
  device_id                      time  cpu
0       m-1 2024-01-01 00:00:00+00:00  2.0
1       m-1 2024-01-01 00:01:00+00:00  5.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from tsstore.errors import NotFoundError, ValidationError
from tsstore.model.durations import parse_duration
from tsstore.model.points import MEASURE_NAME
from tsstore.plot import chart, shade_events
from tsstore.query.frames import query_frames
from tsstore.query.timeseries import solve_tridiagonal
from tsstore.storage.store import Database, Store
from tsstore.storage.table import Table, WriteResult

if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy

__all__ = ["INTERPOLATIONS", "CubeAccessor", "TimeSeriesAccessor"]

#: The methods of :meth:`TimeSeriesAccessor.interpolate` (Timestream's ``interpolate_<method>``).
INTERPOLATIONS = ("linear", "locf", "spline_cubic", "fill")

# Timestream's names of aggregates that pandas spells differently.
_SQL_AGGREGATES = {
    "avg": "mean",
    "arbitrary": "first",
    "stddev": "std",
    "stddev_samp": "std",
    "variance": "var",
    "var_samp": "var",
}

Agg = str | Callable[..., Any] | Sequence[Any] | Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# Which columns are what
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """A frame (its time column resolved) and the roles of its columns."""

    frame: pd.DataFrame
    time: str
    dimensions: list[str]
    measures: list[str]


def _is_key_dtype(dtype: Any) -> bool:
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _is_measure_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _with_time(df: pd.DataFrame, time: str | None) -> tuple[pd.DataFrame, str]:
    """The frame with its time column (a time index moved into the columns) and its name."""
    if not isinstance(df, pd.DataFrame):  # pragma: no cover - pandas hands us frames
        raise ValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    columns = [str(c) for c in df.columns]
    if time is not None:
        if time in df.columns:
            return df, time
        if time in df.index.names:
            return df.reset_index(level=time), time
        raise ValidationError(
            f"time column {time!r} is not in the frame; its columns are {columns}: pass "
            "time='<the column of times>'"
        )
    if "time" in df.columns:
        return df, "time"
    found = [str(c) for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c].dtype)]
    if len(found) == 1:
        return df, found[0]
    if len(found) > 1:
        raise ValidationError(
            f"the frame has several datetime columns {found} and none is named 'time': pass "
            f"time={found[0]!r} (or another of them) to say which one holds the time of each "
            "point"
        )
    levels = [
        i
        for i in range(df.index.nlevels)
        if pd.api.types.is_datetime64_any_dtype(df.index.get_level_values(i).dtype)
    ]
    if len(levels) == 1:
        name = df.index.names[levels[0]]
        if name is None:
            name = "time"
            names = list(df.index.names)
            names[levels[0]] = name
            df = df.rename_axis(names)
        if name in df.columns:
            raise ValidationError(
                f"the frame's time index is named {name!r} like one of its columns; rename one"
            )
        return df.reset_index(level=levels[0]), str(name)
    raise ValidationError(
        f"the frame has no time column: no column is named 'time' and none holds datetimes "
        f"(columns: {columns}). Name the time column 'time' "
        "(df.rename(columns={'ts': 'time'})), convert it with pd.to_datetime, or pass "
        "time='<column>' to the method (df.ts.bin('1m', time='ts'))"
    )


def _names(value: Sequence[str] | None, what: str, df: pd.DataFrame) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ValidationError(
            f"{what} must be a list of column names, got the string {value!r}; write "
            f"{what}=[{value!r}]"
        )
    names = list(dict.fromkeys(value))
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ValidationError(
            f"{what} columns {missing} are not in the frame; its columns are "
            f"{[str(c) for c in df.columns]}"
        )
    return names


def _layout(
    df: pd.DataFrame,
    time: str | None,
    dimensions: Sequence[str] | None,
    measures: Sequence[str] | None,
    *,
    need_measures: bool = True,
) -> _Layout:
    df, t = _with_time(df, time)
    dims = _names(dimensions, "dimensions", df)
    if dims is None:
        dims = [str(c) for c in df.columns if c != t and _is_key_dtype(df[c].dtype)]
    elif t in dims:
        raise ValidationError(f"{t!r} is the time column; leave it out of dimensions=")
    meas = _names(measures, "measures", df)
    if meas is None:
        meas = [
            str(c)
            for c in df.columns
            if c != t and c not in dims and _is_measure_dtype(df[c].dtype)
        ]
    clash = [m for m in meas if m == t or m in dims]
    if clash:
        raise ValidationError(
            f"columns {clash} are the time or dimensions; they cannot also be measures"
        )
    if need_measures and not meas:
        raise ValidationError(
            f"the frame has no numeric measure column (columns: {[str(c) for c in df.columns]},"
            f" dimensions: {dims}); pass measures=[...]"
        )
    return _Layout(df, t, dims, meas)


def _utc(s: pd.Series, name: str) -> pd.Series:
    """A time column as ``datetime64[ns, UTC]`` (naive = UTC); NaT refused."""
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        raise ValidationError(
            f"time column {name!r} holds {s.dtype}, not datetimes; convert it with "
            f"df[{name!r}] = pd.to_datetime(df[{name!r}], utc=True)"
        )
    if getattr(s.dt, "tz", None) is None:
        s = s.dt.tz_localize("UTC")
    s = s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if s.isna().any():
        raise ValidationError(
            f"time column {name!r} has {int(s.isna().sum())} NaT values; a point needs a time: "
            f"drop them with df.dropna(subset=[{name!r}])"
        )
    return s


def _step(every: object, what: str) -> int:
    """A positive duration in nanoseconds."""
    ns = int(parse_duration(every, what).value)
    if ns <= 0:
        raise ValidationError(f"{what} must be a positive duration such as '10s', got {every!r}")
    return ns


def _ns(s: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(s).asi8


def _from_ns(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]")).tz_localize("UTC")


def _floats(s: pd.Series, name: str) -> np.ndarray:
    try:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise ValidationError(
            f"measure {name!r} holds {s.dtype}, not numbers; leave it out with measures=[...]"
        ) from e


def _agg(agg: Agg) -> Agg:
    return _SQL_AGGREGATES.get(agg, agg) if isinstance(agg, str) else agg


def _series_codes(df: pd.DataFrame, dims: list[str]) -> np.ndarray:
    """The series of each row as 0..k-1, in order of first appearance."""
    if not dims:
        return np.zeros(len(df), dtype=np.int64)
    codes = df.groupby(dims, sort=False, dropna=False, observed=True).ngroup()
    return codes.to_numpy(dtype=np.int64)


def _first_rows(codes: np.ndarray, k: int) -> np.ndarray:
    """The first row of each of the ``k`` series."""
    first = np.full(k, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first


# --------------------------------------------------------------------------------------------
# Analysis (plain functions over a layout)
# --------------------------------------------------------------------------------------------


def _bin(lay: _Layout, width: int, agg: Agg) -> pd.DataFrame:
    """One row per series per non-empty bin, sorted by series then time."""
    t = _ns(_utc(lay.frame[lay.time], lay.time))
    start = t - t % width  # floor (numpy's % has the divisor's sign: right before 1970 too)
    df = lay.frame[[*lay.dimensions, *lay.measures]].assign(**{lay.time: _from_ns(start)})
    grouped = df.groupby([*lay.dimensions, lay.time], sort=True, dropna=False, observed=True)
    out = grouped[lay.measures].agg(_agg(agg))
    if isinstance(out, pd.Series):  # "size": one count per bin, not per measure
        out = out.rename("size").to_frame()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = ["_".join(str(p) for p in c if str(p)) for c in out.columns]
    return out.reset_index()


@dataclass(frozen=True, slots=True)
class _Grid:
    """Every bin from each series' first bin to its last: the frame, and where each series
    starts in it (``starts[k]`` .. ``starts[k + 1]``)."""

    frame: pd.DataFrame
    starts: np.ndarray


def _grid(binned: pd.DataFrame, lay: _Layout, width: int) -> _Grid:
    """``binned`` (sorted by series then time) with its empty bins as missing values."""
    time = lay.time
    if binned.empty:
        return _Grid(binned.reset_index(drop=True), np.zeros(1, dtype=np.int64))
    codes = _series_codes(binned, lay.dimensions)
    k = int(codes.max()) + 1
    ns = _ns(binned[time])
    first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, codes, ns)
    np.maximum.at(last, codes, ns)
    counts = (last - first) // width + 1
    starts = np.concatenate(([0], np.cumsum(counts)))
    total = int(starts[-1])
    series = np.repeat(np.arange(k), counts)
    offset = np.arange(total, dtype=np.int64) - starts[series]
    position = starts[codes] + (ns - first[codes]) // width
    out = binned.iloc[_first_rows(codes, k)[series]][lay.dimensions].reset_index(drop=True)
    out[time] = _from_ns(first[series] + offset * width)
    positions = np.arange(total)
    for c in binned.columns:
        if c not in out.columns:  # a measure: its values at their bins, missing elsewhere
            out[c] = binned[c].set_axis(position).reindex(positions)
    return _Grid(out, starts)


def _natural_spline(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The natural cubic spline through ``(x, y)`` (``x`` increasing, 3 points or more) at
    ``at`` (inside ``[x[0], x[-1]]``)."""
    h = np.diff(x)
    slope = np.diff(y) / h
    n = len(x)
    moments = np.zeros(n)  # second derivatives; 0 at both ends (natural)
    moments[1:-1] = solve_tridiagonal(  # the SQL engine's solver (interpolate_spline_cubic)
        np.concatenate(([0.0], h[1:-1])),
        2.0 * (h[:-1] + h[1:]),
        np.concatenate((h[1:-1], [0.0])),
        6.0 * np.diff(slope),
    )
    j = np.clip(np.searchsorted(x, at, side="right") - 1, 0, n - 2)
    s0, s1, hj = at - x[j], x[j + 1] - at, h[j]
    return (
        (moments[j] * s1**3 + moments[j + 1] * s0**3) / (6.0 * hj)
        + (y[j] / hj - moments[j] * hj / 6.0) * s1
        + (y[j + 1] / hj - moments[j + 1] * hj / 6.0) * s0
    )


def _fill_gaps(v: np.ndarray, method: str, value: float) -> np.ndarray:
    """One series' values on a regular grid (NaN: no value) with the gaps filled."""
    known = ~np.isnan(v)
    if method == "fill":
        return np.where(known, v, value)
    idx = np.flatnonzero(known)
    out = np.full(len(v), np.nan)
    if not len(idx):
        return out
    if method == "locf":
        last = np.maximum.accumulate(np.where(known, np.arange(len(v)), -1))
        return np.where(last >= 0, v[np.maximum(last, 0)], np.nan)
    inside = np.arange(idx[0], idx[-1] + 1)
    if method == "spline_cubic" and len(idx) >= 3:
        out[inside] = _natural_spline(idx.astype(np.float64), v[idx], inside.astype(np.float64))
        out[idx] = v[idx]
        if not np.isfinite(v[idx]).all():  # a series with infinities interpolates to NaN
            out[inside] = np.nan
    else:  # linear (and a spline through fewer than 3 points, which is a line)
        out[inside] = np.interp(inside, idx, v[idx])
    return out


def _interpolate(
    lay: _Layout, width: int, method: str, value: float | None, agg: Agg
) -> pd.DataFrame:
    grid = _grid(_bin(lay, width, agg), lay, width)
    out = grid.frame
    for m in lay.measures:
        v = _floats(out[m], m)
        filled = np.empty_like(v)
        for lo, hi in zip(grid.starts[:-1], grid.starts[1:], strict=True):
            filled[lo:hi] = _fill_gaps(v[lo:hi], method, np.nan if value is None else value)
        out[m] = filled
    return out


def _derivative(lay: _Layout, unit: int, non_negative: bool) -> pd.DataFrame:
    df = lay.frame.assign(**{lay.time: _utc(lay.frame[lay.time], lay.time)})
    df = df.sort_values([*lay.dimensions, lay.time], kind="stable").reset_index(drop=True)
    codes = _series_codes(df, lay.dimensions)
    t = _ns(df[lay.time])
    first_at_time = np.ones(len(df), dtype=bool)  # of points at one time, the first counts
    first_at_time[1:] = (codes[1:] != codes[:-1]) | (t[1:] != t[:-1])
    rates: dict[str, np.ndarray] = {}
    for m in lay.measures:
        v = _floats(df[m], m)
        idx = np.flatnonzero(~np.isnan(v) & first_at_time)
        same = codes[idx[1:]] == codes[idx[:-1]]
        i, p = idx[1:][same], idx[:-1][same]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rate = (v[i] - v[p]) * (unit / (t[i] - t[p]).astype(np.float64))
        if non_negative:
            i, rate = i[rate >= 0], rate[rate >= 0]
        column = np.full(len(df), np.nan)
        column[i] = rate
        rates[m] = column
    keep = np.zeros(len(df), dtype=bool)
    for column in rates.values():
        keep |= ~np.isnan(column)
    out = df.loc[keep, [*lay.dimensions, lay.time]].reset_index(drop=True)
    for m, column in rates.items():
        out[m] = column[keep]
    return out


def _cube(binned: pd.DataFrame, lay: _Layout, width: int, attrs: dict[str, Any]) -> xr.Dataset:
    """The ``(series, time)`` cube of binned rows (as :meth:`tsstore.Table.to_xarray`)."""
    codes = _series_codes(binned, lay.dimensions)
    k = int(codes.max()) + 1 if len(codes) else 0
    ns = _ns(binned[lay.time]) if len(binned) else np.zeros(0, dtype=np.int64)
    times = (
        _from_ns(np.arange(ns.min(), ns.max() + 1, width))
        if len(ns)
        else pd.DatetimeIndex([], tz="UTC")
    )
    column = (ns - ns.min()) // width if len(ns) else ns
    data = {}
    for m in lay.measures:
        values = np.full((k, len(times)), np.nan)
        values[codes, column] = _floats(binned[m], m)
        data[m] = (("series", "time"), values)
    first = _first_rows(codes, k)
    coords: dict[str, Any] = {"series": np.arange(k), "time": times}
    for d in lay.dimensions:
        coords[d] = ("series", binned[d].to_numpy(dtype=object)[first])
    return xr.Dataset(data, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _target_table(target: object, table: str | None) -> Table:
    """The table to write to; a missing database or table is created."""
    if isinstance(target, Table):
        if table is not None and table not in (target.name, target.full_name):
            raise ValidationError(
                f"table={table!r} names another table than the target {target.full_name}; "
                "pass a store as the target to name the table, or leave table= out"
            )
        return target
    if isinstance(target, Database):
        if table is None:
            raise ValidationError("writing to a database needs the table: pass table='name'")
        return target.create_table(table, exist_ok=True)
    if not isinstance(target, Store):
        raise ValidationError(
            f"write() writes to a tsstore store (tsstore.connect(...)), a database or a "
            f"table, not a {type(target).__name__}"
        )
    if table is None:
        raise ValidationError(
            "writing to a store needs the table: pass table='database.table' "
            "(database and table are created if missing)"
        )
    if not isinstance(table, str):
        raise ValidationError(f"table must be a 'database.table' string, got {table!r}")
    try:
        return target.table(table)
    except NotFoundError:
        pass
    dbs = target.list_databases()
    if "." in table:
        db, name = table.split(".", 1)
        for i, c in enumerate(table):  # database names may hold dots: a known prefix wins
            if c == "." and table[:i] in dbs:
                db, name = table[:i], table[i + 1 :]
                break
    else:
        if target.default_database is None:  # pragma: no cover - target.table raised already
            raise ValidationError(f"table {table!r} has no database: write 'database.{table}'")
        db, name = target.default_database, table
    return target.create_database(db, exist_ok=True).create_table(name, exist_ok=True)


def _write(
    df: pd.DataFrame,
    target: object,
    table: str | None,
    *,
    dimensions: Sequence[str] | None,
    time: str | None,
    measure_name: str | None,
    measures: Sequence[str] | None,
    version: str | int | None,
) -> WriteResult:
    df, t = _with_time(df, time)
    version_col = [version] if isinstance(version, str) else []
    dims = _names(dimensions, "dimensions", df)
    if dims is None:
        dims = [
            str(c)
            for c in df.columns
            if c not in (t, MEASURE_NAME, *version_col) and _is_key_dtype(df[c].dtype)
        ]
    tbl = _target_table(target, table)
    kwargs: dict[str, Any] = {
        "dimensions": dims,
        "time": t,
        "measures": measures,
        "version": version,
    }
    if MEASURE_NAME not in df.columns:
        return tbl.write(df, measure_name=measure_name, **kwargs)
    if measure_name is not None:
        raise ValidationError(
            f"the frame has a {MEASURE_NAME!r} column and measure_name={measure_name!r} was "
            f"passed; drop one of them (df.drop(columns={MEASURE_NAME!r}))"
        )
    # A measure_name column (as table.read() returns): one write per measure name.
    names = df[MEASURE_NAME].astype(object).where(df[MEASURE_NAME].notna(), None)
    total = {"Total": 0, "MemoryStore": 0, "MagneticStore": 0}
    rejected: list[dict[str, Any]] = []
    rest = df.drop(columns=MEASURE_NAME)
    for value in pd.unique(names.to_numpy(dtype=object)):
        mask = (names == value).to_numpy() if value is not None else names.isna().to_numpy()
        rows = np.flatnonzero(mask)
        result = tbl.write(
            rest.iloc[rows], measure_name=None if value is None else str(value), **kwargs
        )
        for key, n in result.records_ingested.items():
            total[key] = total.get(key, 0) + n
        for r in result.rejected_records:
            rejected.append({**r, "RecordIndex": int(rows[r["RecordIndex"]])})
    return WriteResult(total, sorted(rejected, key=lambda r: r["RecordIndex"]))


# --------------------------------------------------------------------------------------------
# The accessors
# --------------------------------------------------------------------------------------------


@pd.api.extensions.register_dataframe_accessor("ts")
class TimeSeriesAccessor:
    """``df.ts``: time-series tools on a long-format frame (see the module docstring).

    Parameters
    ----------
    obj : DataFrame
        The frame (pandas passes it). Its columns are read when a method runs: the frame may
        change between calls.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=3, freq="10s"),
    ...                    "device_id": "m-1", "cpu": [1.0, 5.0, 3.0]})
    >>> df.ts.derivative()["cpu"].tolist()
    [0.4, -0.2]
    >>> df.ts.sql("SELECT max(cpu) AS top FROM df")["top"].tolist()
    [5.0]
    """

    def __init__(self, obj: pd.DataFrame) -> None:
        self._obj = obj

    # -- helpers --------------------------------------------------------------------------
    def _layout(
        self,
        time: str | None,
        dimensions: Sequence[str] | None,
        measures: Sequence[str] | None = None,
        *,
        need_measures: bool = True,
    ) -> _Layout:
        return _layout(self._obj, time, dimensions, measures, need_measures=need_measures)

    # -- identity -------------------------------------------------------------------------
    def time_column(self, time: str | None = None) -> str:
        """The name of the frame's time column (see the module docstring).

        Raises
        ------
        ValidationError
            No time column (the message lists the columns and the fix), or several datetime
            columns and none named ``time``.
        """
        return _with_time(self._obj, time)[1]

    def dimensions(self, time: str | None = None) -> list[str]:
        """The default dimensions: the string, object and categorical columns but the time."""
        return self._layout(time, None, need_measures=False).dimensions

    def measures(
        self, time: str | None = None, dimensions: Sequence[str] | None = None
    ) -> list[str]:
        """The default measures: the numeric and boolean columns but the time and dimensions."""
        return self._layout(time, dimensions, need_measures=False).measures

    # -- writing --------------------------------------------------------------------------
    def write(
        self,
        target: Store | Database | Table,
        table: str | None = None,
        *,
        dimensions: Sequence[str] | None = None,
        time: str | None = None,
        measure_name: str | None = None,
        measures: Sequence[str] | None = None,
        version: str | int | None = None,
    ) -> WriteResult:
        """Write the frame into a table (:meth:`tsstore.Table.write`).

        Parameters
        ----------
        target : Client or Store, Database, or Table
            Where to write. A store needs ``table="database.table"``, a database
            ``table="name"``; **the database and the table are created when missing** (with
            the default retentions: 6 h memory, 73000 d magnetic, magnetic writes on).
        table : str, optional
            The table's name, for a store or database target.
        dimensions : list of str, optional
            Columns that identify a series; default the string, object and categorical
            columns (but ``measure_name`` and the version column).
        time : str, optional
            The time column (default: ``time``, else the one datetime column).
        measure_name : str, optional
            Timestream's measure name of every row. A ``measure_name`` column (as
            ``table.read()`` returns) is used instead when the frame has one: one write per
            value.
        measures : list of str, optional
            Measure columns (default: every other column).
        version : str or int, optional
            A version column or one version for every row (see :meth:`tsstore.Table.write`).

        Returns
        -------
        WriteResult
            Rows stored per tier and rows rejected by the version rules (``RecordIndex`` is
            the row's position in this frame).

        Raises
        ------
        ValidationError
            No time column, a target that is not a store, database or table, a missing
            ``table=``, and everything :meth:`tsstore.Table.write` refuses (NaN measures: use
            a nullable dtype such as ``Float64`` for "no value").

        Examples
        --------
        >>> df.ts.write(store, table="iot.metrics")  # doctest: +SKIP
        """
        return _write(
            self._obj,
            target,
            table,
            dimensions=dimensions,
            time=time,
            measure_name=measure_name,
            measures=measures,
            version=version,
        )

    # -- analysis -------------------------------------------------------------------------
    def bin(
        self,
        every: object,
        agg: Agg = "mean",
        *,
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Aggregate every series into bins, as ``GROUP BY dims, bin(time, every)`` in SQL.

        Parameters
        ----------
        every : str or timedelta
            The bins' width: ``"15m"``, ``"1h"``, ``"500ms"`` ... Bins start at multiples of
            ``every`` since 1970-01-01 UTC, as Timestream's ``bin()``.
        agg : str, callable, list or dict, default "mean"
            Any pandas groupby aggregation (``"mean"``, ``"max"``, ``"last"``, ``"count"``,
            ``"median"`` ...; a list gives columns ``<measure>_<agg>``); the SQL names
            ``avg``, ``stddev``, ``variance`` and ``arbitrary`` are understood too.
        time, dimensions, measures
            Override the defaults (see the module docstring).

        Returns
        -------
        DataFrame
            One row per series per bin that has points: the dimensions, the bin's start (in
            the time column, UTC) and the aggregated measures, sorted by series then time.

        Examples
        --------
        >>> df.ts.bin("15m", agg="max")  # doctest: +SKIP
        """
        lay = self._layout(time, dimensions, measures)
        return _bin(lay, _step(every, "every"), agg)

    def resample(
        self,
        every: object,
        agg: Agg = "mean",
        *,
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """:meth:`bin`, with the empty bins too: every bin from each series' first bin to its
        last, missing values (NaN / ``<NA>``) where a bin has no point.

        ``count`` and ``size`` are 0 in an empty bin. Arguments as in :meth:`bin`.

        Returns
        -------
        DataFrame
            One row per series per bin, sorted by series then time.
        """
        lay = self._layout(time, dimensions, measures)
        width = _step(every, "every")
        out = _grid(_bin(lay, width, agg), lay, width).frame
        if isinstance(agg, str) and _agg(agg) in ("count", "size"):
            for c in out.columns:
                if c not in (*lay.dimensions, lay.time):
                    out[c] = out[c].fillna(0).astype(np.int64)
        return out

    def interpolate(
        self,
        method: str = "linear",
        every: object = "10s",
        *,
        value: float | None = None,
        agg: Agg = "mean",
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Fill the gaps of every series on a regular grid, like Timestream's gap filling.

        Each series is binned every ``every`` (``agg`` of the points of a bin, as
        ``bin(time, every)`` with ``avg``), then every bin from the series' first to its
        last is given a value: what the SQL
        ``interpolate_<method>(create_time_series(t, v), sequence(min(t), max(t), every))``
        returns over those bins. Each measure is filled on its own.

        Parameters
        ----------
        method : {"linear", "locf", "spline_cubic", "fill"}, default "linear"
            ``linear``: straight lines between the known bins; ``locf``: the last known value
            carried forward; ``spline_cubic``: the natural cubic spline through the known bins
            (computed with numpy: scipy is not needed); ``fill``: ``value`` in every empty
            bin. No method extrapolates: before a measure's first known bin (and, but for
            ``locf`` and ``fill``, after its last) the value is NaN.
        every : str or timedelta, default "10s"
            The grid's step (``"10s"``, ``"1m"`` ...), aligned to the epoch.
        value : float, optional
            The fill value of ``method="fill"`` (required there).
        agg : str or callable, default "mean"
            How the points of one bin become its value.
        time, dimensions, measures
            Override the defaults (see the module docstring).

        Returns
        -------
        DataFrame
            Dimensions, time (every bin of the series' span) and the measures as ``float64``,
            sorted by series then time.

        Raises
        ------
        ValidationError
            An unknown method, ``fill`` without ``value``, a bad duration, a measure that is
            not numeric.
        """
        if method not in INTERPOLATIONS:
            raise ValidationError(
                f"unknown interpolation {method!r}; use one of {', '.join(INTERPOLATIONS)}"
            )
        if method == "fill":
            if value is None:
                raise ValidationError("interpolate(method='fill') needs the fill value: value=0")
            value = float(value)
        lay = self._layout(time, dimensions, measures)
        return _interpolate(lay, _step(every, "every"), method, value, agg)

    def derivative(
        self,
        unit: object = "1s",
        *,
        non_negative: bool = False,
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The rate of change of every series per ``unit``, as ``derivative_linear``.

        At every point but the first of a series (points in time order; of several at one
        time, the first in the frame's order): ``(v[i] - v[i-1]) / (t[i] - t[i-1]) * unit``.
        Each measure skips its own missing values.

        Parameters
        ----------
        unit : str or timedelta, default "1s"
            The rate's time unit: ``"1s"`` per second, ``"1h"`` per hour ...
        non_negative : bool, default False
            Keep only the rates >= 0 (``non_negative_derivative_linear``: counters that reset).
        time, dimensions, measures
            Override the defaults (see the module docstring).

        Returns
        -------
        DataFrame
            Dimensions, time and the rates (``float64``; NaN where a measure has no rate at
            that time), sorted by series then time.
        """
        lay = self._layout(time, dimensions, measures)
        return _derivative(lay, _step(unit, "unit"), bool(non_negative))

    def series(
        self, *, time: str | None = None, dimensions: Sequence[str] | None = None
    ) -> DataFrameGroupBy:
        """The frame grouped into its series, each group in time order.

        Parameters
        ----------
        time, dimensions
            Override the defaults (see the module docstring).

        Returns
        -------
        pandas.core.groupby.DataFrameGroupBy
            One group per combination of the dimensions' values (missing values are a value
            too); ``for key, points in df.ts.series(): ...``, ``len(df.ts.series())`` counts
            the series. Keys are tuples of the dimensions' values; a frame without dimensions
            is one series, key ``0``.
        """
        lay = self._layout(time, dimensions, need_measures=False)
        df = lay.frame.sort_values(lay.time, kind="stable")
        if not lay.dimensions:
            return df.groupby(np.zeros(len(df), dtype=np.int64), sort=False)
        return df.groupby(lay.dimensions, sort=True, dropna=False, observed=True)

    def to_xarray(
        self,
        freq: object = "10s",
        agg: Agg = "mean",
        *,
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> xr.Dataset:
        """The regular-grid cube ``(series, time)`` of the measures, as
        :meth:`tsstore.Table.to_xarray` makes it.

        Parameters
        ----------
        freq : str or timedelta, default "10s"
            The bins' width (aligned to the epoch).
        agg : str or callable, default "mean"
            How the points of a bin become its value (see :meth:`bin`).
        time, dimensions, measures
            Override the defaults (see the module docstring).

        Returns
        -------
        xarray.Dataset
            Dimensions ``series`` (0..k-1, with one coordinate per dimension column) and
            ``time`` (every bin from the frame's first to its last, UTC); one ``float64``
            variable per measure, NaN in empty bins; attributes ``freq`` and ``agg``.
        """
        lay = self._layout(time, dimensions, measures)
        width = _step(freq, "freq")
        label = agg if isinstance(agg, str) else getattr(agg, "__name__", repr(agg))
        return _cube(_bin(lay, width, agg), lay, width, {"freq": str(freq), "agg": label})

    # -- charts and SQL -------------------------------------------------------------------
    def plot(
        self,
        kind: str = "line",
        *,
        time: str | None = None,
        anomalies: Any = None,
        **options: Any,
    ) -> Any:
        """An hvplot chart of the frame (:func:`tsstore.plot.chart`), one line per series.

        Parameters
        ----------
        kind : str, default "line"
            One of :data:`tsstore.plot.KINDS`.
        time : str, optional
            The x axis (default the time column).
        anomalies : DataFrame, detector or True, optional
            Shade anomaly events: a frame of events (``start``, ``end``: what
            :meth:`anomalies` with ``events=True`` or ``detect`` return), a detector to find
            them with (:meth:`anomalies`), or True for the default detector.
        **options
            ``y=``, ``by=``, ``title=``, ``width=`` ... (see :func:`tsstore.plot.chart`).
        """
        df, t = _with_time(self._obj, time)
        options.setdefault("x", t)
        figure = chart(df, kind, **options)
        if anomalies is None or anomalies is False:
            return figure
        if isinstance(anomalies, pd.DataFrame):
            found = anomalies
        else:
            model = None if anomalies is True else anomalies
            y = options.get("y")
            found = self.anomalies(
                model, time=t, measures=[y] if isinstance(y, str) else y, events=True
            )
        return shade_events(figure, found)

    def anomalies(
        self,
        model: Any = None,
        *,
        time: str | None = None,
        dimensions: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
        threshold: float | None = None,
        gap: object = 0,
        min_points: int = 1,
        events: bool = False,
    ) -> pd.DataFrame:
        """Anomaly scores of every series of the frame, or the events they make.

        A front end over :func:`tsstore.anomaly.score_frame` (scikit-learn is needed:
        ``pip install 'tsstore[ml]'``).

        Parameters
        ----------
        model : detector, optional
            A :mod:`tsstore.anomaly` detector (default ``RollingZScore()``). Not fitted, a
            copy is fitted on each series; fitted, it is applied as it is.
        time, dimensions, measures
            As everywhere in ``df.ts`` (see the module docstring).
        threshold : float, optional
            Alarm threshold (default the model's).
        gap, min_points
            How alarms group into events (:func:`tsstore.anomaly.events`).
        events : bool, default False
            Return the events (one row per incident: dimensions, ``start``, ``end``,
            ``peak_time``, ``peak_score``, ``points``, ``measures``) instead of the scores.

        Returns
        -------
        DataFrame
            Scores: dimensions, the time column, ``score`` (in [0, 1]), ``score_<measure>``
            when several measures were scored one by one, and ``alarm``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=300, freq="min"),
        ...                    "device_id": "m-1", "temp": np.r_[np.zeros(250), 9.0, np.zeros(49)]})
        >>> df.ts.anomalies(events=True)[["device_id", "start", "peak_score"]]
          device_id                     start  peak_score
        0       m-1 2024-01-01 04:10:00+00:00         1.0
        """
        from tsstore.anomaly import RollingZScore, score_frame

        lay = self._layout(time, dimensions, measures)
        frame = lay.frame[[*lay.dimensions, lay.time, *lay.measures]]
        if lay.time != "time":
            if "time" in frame.columns:
                raise ValidationError(
                    f"the frame has a column 'time' besides its time column {lay.time!r}; "
                    "rename one"
                )
            frame = frame.rename(columns={lay.time: "time"})
        scores, found = score_frame(
            frame,
            RollingZScore() if model is None else model,
            dimensions=lay.dimensions,
            measures=lay.measures,
            threshold=threshold,
            gap=gap,
            min_points=min_points,
        )
        if events:
            return found
        return scores.rename(columns={"time": lay.time}) if lay.time != "time" else scores

    def sql(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        name: str = "df",
        now: object | None = None,
    ) -> pd.DataFrame:
        """Run Timestream SQL over this frame (:func:`tsstore.query.frames.query_frames`).

        Parameters
        ----------
        query : str
            One query over the table ``name`` (``SELECT ... FROM df``), with everything of
            tsstore's dialect: ``bin(time, 1m)``, ``ago(1h)``, ``:name`` parameters,
            time-series functions.
        params : Mapping, optional
            Values of the ``:name`` parameters.
        name : str, default "df"
            The frame's table name in the query.
        now : Timestamp-like, optional
            The query's ``now()`` (default the wall clock).

        Returns
        -------
        DataFrame

        Raises
        ------
        QueryError
            Syntax errors (with a caret), unknown tables or columns (with the nearest name).

        Examples
        --------
        >>> df.ts.sql("SELECT device_id, avg(cpu) FROM df WHERE time > ago(1h) "
        ...           "GROUP BY device_id")  # doctest: +SKIP
        """
        df = self._obj
        with contextlib.suppress(ValidationError):  # SQL needs no time column
            df, _ = _with_time(df, None)  # a time index becomes the time column
        return query_frames(query, {name: df}, params, now=now)


@xr.register_dataset_accessor("ts")
class CubeAccessor:
    """``ds.ts``: a ``(series, time)`` cube back to long format, into a table, onto a chart.

    The cube is laid out as :meth:`tsstore.Table.to_xarray` and ``df.ts.to_xarray`` make it:
    a ``time`` dimension, a ``series`` dimension whose coordinates (``device_id`` ...) are the
    series' dimensions, one variable per measure. Any other dimension (``device_id`` as a
    dimension of its own) is a dimension column of the long frame too.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=3, freq="10s"),
    ...                    "device_id": "m-1", "cpu": [1.0, 4.0, 2.0]})
    >>> ds = df.ts.to_xarray("10s")
    >>> dict(ds.sizes)
    {'series': 1, 'time': 3}
    >>> ds.ts.to_frame()["cpu"].tolist()
    [1.0, 4.0, 2.0]
    """

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def _keys(self) -> list[str]:
        ds = self._obj
        return [
            str(c)
            for c, v in ds.coords.items()
            if c not in ds.dims and v.dims and "time" not in v.dims
        ]

    def to_frame(self, *, dropna: bool = True) -> pd.DataFrame:
        """The cube as a long frame: the series' coordinates as dimension columns, ``time``
        (UTC) and one column per variable.

        Parameters
        ----------
        dropna : bool, default True
            Leave out the rows where every variable is missing (the cube's empty bins).

        Returns
        -------
        DataFrame
            Sorted by series then time. The ``series`` number itself is left out when
            coordinates name the series.

        Raises
        ------
        ValidationError
            A dataset without a ``time`` dimension.
        """
        ds = self._obj
        if "time" not in ds.dims:
            raise ValidationError(
                f"the dataset has no 'time' dimension (dimensions: {list(map(str, ds.dims))}); "
                "rename its time dimension: ds.rename({'t': 'time'})"
            )
        keys = self._keys()
        variables = [str(v) for v in ds.data_vars]
        other_dims = [str(d) for d in ds.dims if d != "time"]
        df = ds.reset_coords(keys).to_dataframe().reset_index() if len(ds.dims) else pd.DataFrame()
        if "series" in other_dims and keys:
            other_dims.remove("series")
            df = df.drop(columns="series")
        if dropna and variables:
            df = df.dropna(subset=variables, how="all")
        t = df["time"]
        if pd.api.types.is_datetime64_any_dtype(t.dtype):
            df["time"] = _utc(t, "time")
        first = [*keys, *other_dims, "time"]
        df = df[first + [c for c in df.columns if c not in first]]
        return df.reset_index(drop=True)

    def write(
        self,
        target: Store | Database | Table,
        table: str | None = None,
        *,
        dimensions: Sequence[str] | None = None,
        measure_name: str | None = None,
    ) -> WriteResult:
        """Write the cube's points into a table (see :meth:`TimeSeriesAccessor.write`).

        Empty bins are left out; a bin where some variables are missing stores the others
        (missing values become ``<NA>``, "no value" in a table). A missing database or table
        is created.

        Parameters
        ----------
        target : Client or Store, Database, or Table
            Where to write; a store needs ``table="database.table"``.
        table : str, optional
            The table's name, for a store or database target.
        dimensions : list of str, optional
            Default: the series' coordinates (but ``measure_name``, which becomes the
            rows' measure name) and any other dimension of the cube.
        measure_name : str, optional
            The measure name of every row.

        Returns
        -------
        WriteResult
        """
        df = self.to_frame()
        for v in self._obj.data_vars:
            col = df[str(v)]
            if pd.api.types.is_float_dtype(col.dtype) and col.isna().any():
                df[str(v)] = col.astype("Float64")  # NaN: no value
        if dimensions is None:
            dimensions = [c for c in df.columns[: list(df.columns).index("time")]]
            dimensions = [d for d in dimensions if d != MEASURE_NAME]
        return _write(
            df,
            target,
            table,
            dimensions=dimensions,
            time="time",
            measure_name=measure_name,
            measures=None,
            version=None,
        )

    def plot(self, kind: str = "line", **options: Any) -> Any:
        """An hvplot chart of the cube (:func:`tsstore.plot.chart` of :meth:`to_frame`), one
        line per series.

        Parameters
        ----------
        kind : str, default "line"
            One of :data:`tsstore.plot.KINDS`; ``"heatmap"`` is series x time.
        **options
            ``y=``, ``by=``, ``title=`` ... (see :func:`tsstore.plot.chart`).
        """
        df = self.to_frame()
        options.setdefault("x", "time")
        keys = [c for c in df.columns[: list(df.columns).index("time")]]
        if "by" not in options and len(keys) == 1:
            options["by"] = keys[0]
        return chart(df, kind, **options)
