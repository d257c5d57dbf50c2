"""Helpers for testing tsstore and code built on it: comparisons, a reference model of
Timestream's upsert rules, and hypothesis strategies for points, frames and records.

The strategies need ``hypothesis`` (the ``dev`` extra); nothing in the package imports this
module.

Examples
--------
>>> ref = ReferenceTable()
>>> ident = ((("device_id", "m-1"),), "cpu", 0)
>>> ref.write([(ident, (("x", 1.0),), 1, 0), (ident, (("x", 2.0),), 1, 1)])
[(1, 1)]
>>> ref.state[ident]
((('x', 1.0),), 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType, null_mask

__all__ = [
    "ReferenceTable",
    "assert_points_equal",
    "assert_results_equal",
    "duckdb_reference",
    "frame_rows",
    "measure_values",
    "point_rows",
    "points",
    "valid_frames",
]

#: A point as plain Python values: ``(dimensions, measure_name, time, values, version)`` with
#: ``dimensions`` and ``values`` sorted ``(name, value)`` tuples that leave out absent entries.
Row = tuple[tuple[tuple[str, str], ...], Any, int, tuple[tuple[str, Any], ...], int]
Identity = tuple[tuple[tuple[str, str], ...], Any, int]
Values = tuple[tuple[str, Any], ...]


def _scalar(value: Any, mtype: MeasureType) -> Any:
    if mtype is MeasureType.DOUBLE:
        return float(value)
    if mtype is MeasureType.BOOLEAN:
        return bool(value == 1)
    if mtype is MeasureType.VARCHAR:
        return str(value)
    return int(value)


def point_rows(p: Points, *, with_version: bool = True) -> list[Row]:
    """Every row of ``p`` as a hashable :data:`Row`, in row order.

    Key columns holding None and null measures are left out, so two Points with different key
    tables or measure sets compare by content.
    """
    key_cols = [c for c in p.keys.columns if c != MEASURE_NAME]
    key_rows = []
    mnames = (
        p.keys[MEASURE_NAME].tolist() if MEASURE_NAME in p.keys.columns else [None] * len(p.keys)
    )
    for i in range(len(p.keys)):
        dims = tuple(
            sorted((c, p.keys[c].iat[i]) for c in key_cols if p.keys[c].iat[i] is not None)
        )
        key_rows.append((dims, mnames[i]))
    masks = {k: ~null_mask(v, p.types[k]) for k, v in p.columns.items()}
    versions = p.versions()
    out: list[Row] = []
    for j in range(len(p)):
        dims, mname = key_rows[int(p.series[j])]
        values = tuple(
            sorted((k, _scalar(v[j], p.types[k])) for k, v in p.columns.items() if masks[k][j])
        )
        out.append((dims, mname, int(p.time[j]), values, int(versions[j]) if with_version else 1))
    return out


def assert_points_equal(
    actual: Points, expected: Points, *, check_order: bool = False, check_version: bool = True
) -> None:
    """Assert two Points hold the same rows (as a multiset unless ``check_order``)."""
    a = point_rows(actual, with_version=check_version)
    e = point_rows(expected, with_version=check_version)
    if check_order:
        assert a == e, f"rows differ:\n actual   {a[:10]}\n expected {e[:10]}"
        return
    ca, ce = Counter(a), Counter(e)
    assert ca == ce, (
        f"rows differ: {len(a)} vs {len(e)} rows; only in actual {list((ca - ce).elements())[:5]}"
        f", only in expected {list((ce - ca).elements())[:5]}"
    )


def duckdb_reference(
    tables: dict[str, pd.DataFrame],
    sql: str,
    now: pd.Timestamp,
    dimensions: Sequence[str] = ("device_id", "factory"),
) -> pd.DataFrame:
    """Timestream SQL run by DuckDB straight over DataFrames (no tsstore storage): the
    reference of differential tests. ``tables`` maps each table name of ``sql`` to its rows;
    columns are ordered as a tsstore table orders them (``dimensions``, ``measure_name``,
    ``time``, measures), a ``measure_name`` column added where missing."""
    import duckdb

    from tsstore.query.dialect import parse_statement
    from tsstore.query.translate import DUCKDB_SESSION_SQL, to_duckdb_sql

    con = duckdb.connect()
    con.execute(DUCKDB_SESSION_SQL)
    for name, frame in tables.items():
        if MEASURE_NAME not in frame.columns:
            frame = frame.assign(**{MEASURE_NAME: pd.Series([None] * len(frame), dtype="string")})
        first = [c for c in [*dimensions, MEASURE_NAME, "time"] if c in frame.columns]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
    out = con.sql(to_duckdb_sql(parse_statement(sql).ast, now=now, name_columns=True))
    out = out.to_arrow_table().to_pandas()
    for c in out.columns:
        if pd.api.types.is_datetime64_dtype(out[c].dtype) and out[c].dt.tz is None:
            out[c] = out[c].dt.tz_localize("UTC")
    return out


def assert_results_equal(got: pd.DataFrame, want: pd.DataFrame, *, ordered: bool) -> None:
    """Equal query results: same columns and rows (in order when ``ordered``), floats within
    1e-9 relative, everything else equal as text (a missing value is missing whether None or
    NaN: ``str`` columns hold NaN)."""
    assert list(got.columns) == list(want.columns), (list(got.columns), list(want.columns))
    assert len(got) == len(want), (len(got), len(want))
    if not ordered:
        got = got.sort_values(list(got.columns)).reset_index(drop=True)
        want = want.sort_values(list(want.columns)).reset_index(drop=True)
    for c in got.columns:
        a, b = got[c], want[c]
        if pd.api.types.is_float_dtype(a.dtype) or pd.api.types.is_float_dtype(b.dtype):
            np.testing.assert_allclose(
                a.to_numpy(float, na_value=np.nan),
                b.to_numpy(float, na_value=np.nan),
                rtol=1e-9,
                equal_nan=True,
            )
        else:
            assert _text(a) == _text(b), c


def _text(s: pd.Series) -> list[str]:
    """Values as text, every missing value (None, NaN of a ``str`` column, NA) as ``'None'``."""
    return s.astype(object).where(s.notna(), None).astype(str).tolist()


def frame_rows(
    df: pd.DataFrame,
    *,
    dimensions: Sequence[str],
    measures: Sequence[str],
    time: str = "time",
    measure_name: Any = None,
) -> list[Row]:
    """The rows of a user's frame (or of :meth:`Points.to_pandas`) as :data:`Row` values.

    Times become int64 ns UTC (naive = UTC); dimension values ``str``; measure values Python
    scalars (TIMESTAMP as int ns); absent values (None, NaN, NaT, <NA>) are left out. The
    measure name is ``measure_name``, else the frame's ``measure_name`` column, else None.
    """
    has_mname = measure_name is None and MEASURE_NAME in df.columns
    out: list[Row] = []
    for j in range(len(df)):
        dims = tuple(
            sorted((d, str(df[d].iat[j])) for d in dimensions if not _absent(df[d].iat[j]))
        )
        values = tuple(
            sorted((m, _py(df[m].iat[j])) for m in measures if not _absent(df[m].iat[j]))
        )
        mname = df[MEASURE_NAME].iat[j] if has_mname else measure_name
        out.append((dims, mname, _py(pd.Timestamp(df[time].iat[j])), values, 1))
    return out


def _absent(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and bool(np.isnan(v))


def _py(v: Any) -> Any:
    if isinstance(v, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(v)
        return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts).value)
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v)
    return str(v)


@dataclass
class ReferenceTable:
    """Timestream's upsert rules applied one record at a time to a dict.

    ``state`` maps an identity ``(dimensions, measure_name, time)`` to ``(values, version)``.
    :meth:`write` takes records in write order and returns the rejections as
    ``(row, ExistingVersion)`` pairs.
    """

    state: dict[Identity, tuple[Values, int]] = field(default_factory=dict)

    def write(self, records: Iterable[tuple[Identity, Values, int, Hashable]]) -> list[tuple]:
        rejected = []
        for ident, values, version, row in records:
            cur = self.state.get(ident)
            if cur is None or version > cur[1]:
                self.state[ident] = (values, version)  # new, replaced, or version bumped
            elif values != cur[0]:
                rejected.append((row, cur[1]))
            # else: the same value with a lower or equal version is de-duplicated
        return rejected

    def write_points(self, p: Points) -> list[tuple]:
        """Write the rows of ``p`` in the order of ``p.row`` (else position)."""
        rows = point_rows(p)
        order = np.argsort(p.row, kind="stable") if p.row is not None else range(len(p))
        labels = p.row if p.row is not None else np.arange(len(p))
        return self.write((r[:3], r[3], r[4], int(labels[j])) for j in order for r in [rows[j]])

    def drop_before(self, watermark: int) -> None:
        self.state = {k: v for k, v in self.state.items() if k[2] >= watermark}

    def rows(self) -> Counter:
        return Counter((*k, v[0], v[1]) for k, v in self.state.items())


# ------------------------------------------------------------------------------ strategies
_NS_MIN, _NS_MAX = INT64_NULL + 1, int(np.iinfo(np.int64).max)


def measure_values(mtype: MeasureType, *, small: bool = False) -> st.SearchStrategy[Any]:
    """Valid non-null storage values of a type (``small``: from a few values, to collide)."""
    if small:
        pools: dict[MeasureType, list[Any]] = {
            MeasureType.DOUBLE: [0.0, -1.5, 2.25],
            MeasureType.BIGINT: [0, 7, -(2**40)],
            MeasureType.BOOLEAN: [0, 1],
            MeasureType.TIMESTAMP: [0, 10**18, -(10**9)],
            MeasureType.VARCHAR: ["", "a", "ünï"],
        }
        return st.sampled_from(pools[mtype])
    if mtype is MeasureType.DOUBLE:
        return st.floats(allow_nan=False, allow_infinity=False)
    if mtype is MeasureType.BIGINT:
        return st.integers(_NS_MIN, _NS_MAX)
    if mtype is MeasureType.BOOLEAN:
        return st.sampled_from([0, 1])
    if mtype is MeasureType.TIMESTAMP:
        return st.integers(_NS_MIN, _NS_MAX)
    return st.text(max_size=8)


_names = st.text("abcdefgh_", min_size=1, max_size=6).map(lambda s: "c" + s)


@st.composite
def points(
    draw: st.DrawFn,
    *,
    max_rows: int = 30,
    types: dict[str, MeasureType] | None = None,
    series_keys: list[dict[str, Any]] | None = None,
    times: st.SearchStrategy[int] | None = None,
    versions: st.SearchStrategy[int] | None = None,
    small_values: bool = False,
) -> Points:
    """Points of one table: random series keys, times, typed measures with nulls, versions.

    Every row carries at least one measure value. ``series_keys`` (dicts of dimension values
    and ``measure_name``) and ``types`` fix the table's shape across draws.
    """
    if types is None:
        names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
        types = {n: draw(st.sampled_from(list(MeasureType))) for n in names}
    if series_keys is None:
        dims = draw(st.lists(_names.map(lambda s: "d" + s), max_size=3, unique=True))
        series_keys = draw(
            st.lists(
                st.fixed_dictionaries(
                    {d: st.one_of(st.none(), st.sampled_from(["a", "b", "ü"])) for d in dims}
                    | {MEASURE_NAME: st.sampled_from(["m1", "m2"])}
                ),
                min_size=1,
                max_size=4,
            )
        )
    n = draw(st.integers(0, max_rows))
    used = draw(st.lists(st.integers(0, len(series_keys) - 1), min_size=n, max_size=n))
    uniq = sorted(set(used))
    local = {g: i for i, g in enumerate(uniq)}
    cols = sorted({c for k in series_keys for c in k}, key=lambda c: (c == MEASURE_NAME, c))
    cols = draw(st.permutations(cols)) if cols else cols
    keys = keys_frame({c: [series_keys[g].get(c) for g in uniq] for c in cols})
    time_st = times if times is not None else st.integers(_NS_MIN, _NS_MAX)
    time = np.array(draw(st.lists(time_st, min_size=n, max_size=n)), dtype=np.int64)
    columns: dict[str, np.ndarray] = {}
    present = np.zeros(n, dtype=bool)
    for name, mtype in types.items():
        vals = draw(
            st.lists(
                st.one_of(st.none(), measure_values(mtype, small=small_values)),
                min_size=n,
                max_size=n,
            )
        )
        col = np.array([mtype.null if v is None else v for v in vals], dtype=mtype.dtype)
        if mtype is MeasureType.VARCHAR:
            col = np.array(vals, dtype=object)
        columns[name] = col
        present |= np.array([v is not None for v in vals], dtype=bool)
    first = next(iter(types))
    for j in np.flatnonzero(~present):  # every row needs a value
        columns[first][j] = draw(measure_values(types[first], small=small_values))
    version = None
    if versions is not None or draw(st.booleans()):
        vs = versions if versions is not None else st.integers(1, 2**63 - 1)
        version = np.array(draw(st.lists(vs, min_size=n, max_size=n)), dtype=np.int64)
    return Points(
        keys=keys,
        series=np.array([local[g] for g in used], dtype=np.int32),
        time=time,
        columns=columns,
        types=dict(types),
        version=version,
        row=np.arange(n, dtype=np.int64),
    )


_FLAVOURS: dict[MeasureType, list[str]] = {
    MeasureType.DOUBLE: ["float64", "Float64", "double[pyarrow]"],
    MeasureType.BIGINT: ["int64", "Int64", "int64[pyarrow]", "uint32"],
    MeasureType.BOOLEAN: ["bool", "boolean", "bool[pyarrow]"],
    MeasureType.TIMESTAMP: ["datetime64[ns]", "datetime64[ns, UTC]", "timestamp[us][pyarrow]"],
    MeasureType.VARCHAR: ["object", "string", "string[pyarrow]"],
}
_NULLABLE = {
    "Float64",
    "double[pyarrow]",
    "Int64",
    "int64[pyarrow]",
    "boolean",
    "bool[pyarrow]",
    "datetime64[ns]",
    "datetime64[ns, UTC]",
    "timestamp[us][pyarrow]",
    "object",
    "string",
    "string[pyarrow]",
}


def _typed_column(values: list[Any], flavour: str) -> pd.Series:
    if flavour == "timestamp[us][pyarrow]":
        arr = pa.array([None if v is None else v // 1000 for v in values], pa.timestamp("us"))
        return pd.Series(arr, dtype=pd.ArrowDtype(pa.timestamp("us")))
    if flavour.startswith("datetime64"):
        s = pd.Series(pd.to_datetime([INT64_NULL if v is None else v for v in values], unit="ns"))
        return s.dt.tz_localize("UTC") if "UTC" in flavour else s
    if flavour in ("bool", "boolean", "bool[pyarrow]"):
        values = [None if v is None else bool(v) for v in values]
    if flavour == "object":
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=flavour)


@st.composite
def valid_frames(draw: st.DrawFn, *, max_rows: int = 20) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A DataFrame that ``points_from_frame`` accepts, and the keyword arguments to pass.

    Dimensions are strings, integers or categoricals; measures cover every type in NumPy,
    nullable and Arrow flavours, with <NA> where the flavour allows; times are tz-naive,
    tz-aware (any zone) or Arrow timestamps.
    """
    n = draw(st.integers(0, max_rows))
    names = draw(st.lists(_names, min_size=2, max_size=6, unique=True))
    n_dims = draw(st.integers(0, min(3, len(names) - 1)))
    dims, meas = names[:n_dims], names[n_dims:]
    data: dict[str, Any] = {}
    t = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    zone = draw(st.sampled_from([None, "UTC", "Asia/Kolkata", "America/New_York", "arrow"]))
    if zone == "arrow":
        data["time"] = pd.Series(
            pa.array(t, pa.timestamp("ns", "UTC")), dtype=pd.ArrowDtype(pa.timestamp("ns", "UTC"))
        )
    else:
        times = pd.Series(pd.to_datetime(t, unit="ns"))
        data["time"] = times if zone is None else times.dt.tz_localize("UTC").dt.tz_convert(zone)
    for d in dims:
        kind = draw(st.sampled_from(["str", "int", "category"]))
        pool = ["x", "y", "zé"] if kind != "int" else [1, 22, 333]
        vals = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        data[d] = pd.Series(vals, dtype="category" if kind == "category" else None)
    present = np.zeros(n, dtype=bool)
    cols: dict[str, tuple[list[Any], str]] = {}
    for m in meas:
        mtype = draw(st.sampled_from(list(MeasureType)))
        flavour = draw(st.sampled_from(_FLAVOURS[mtype]))
        value_st = measure_values(mtype)
        if flavour == "uint32":
            value_st = st.integers(0, 2**32 - 1)
        elif mtype is MeasureType.TIMESTAMP:
            value_st = st.integers(-(2**62), 2**62).map(lambda v: v - v % 1000)
        elif mtype is MeasureType.DOUBLE and flavour != "float64":
            value_st = st.floats(allow_nan=False, allow_infinity=False, width=64)
        elif mtype is MeasureType.VARCHAR:
            value_st = st.text(max_size=5)
        if flavour in _NULLABLE:
            value_st = st.one_of(st.none(), value_st)
        vals = draw(st.lists(value_st, min_size=n, max_size=n))
        cols[m] = (vals, flavour)
        present |= np.array([v is not None for v in vals], dtype=bool)
    if n and not present.all():  # give rows without any value one, in the first measure
        vals, flavour = cols[meas[0]]
        mtype = next(t for t, fl in _FLAVOURS.items() if flavour in fl)
        for j in np.flatnonzero(~present):
            vals[j] = 1 if mtype is not MeasureType.VARCHAR else "v"
    for m, (vals, flavour) in cols.items():
        data[m] = _typed_column(vals, flavour)
    df = pd.DataFrame(data)
    if draw(st.booleans()):  # a non-default index must not matter
        df.index = pd.Index([f"r{i}" for i in range(n)])
    kwargs = {"dimensions": dims, "measure_name": draw(st.sampled_from([None, "metrics"]))}
    return df, kwargs
