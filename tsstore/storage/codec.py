"""Points <-> Arrow tables for the write-ahead log (see ``docs/format.md``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import MeasureType, empty_column, has_null, null_mask

__all__ = [
    "SERIES_KEY",
    "compact_keys",
    "kernel_dictionaries",
    "narrow_int",
    "points_from_arrow",
    "points_to_arrow",
    "points_to_query_table",
    "series_key_ids",
]

#: The query table's column of series keys (``points_to_query_table(series_key=...)``): an
#: int32 per row, equal for rows of equal dimension values. The SQL kernel groups and
#: partitions by it instead of by the dimensions' strings (:mod:`tsstore.query.serieskey`).
SERIES_KEY = "__tsstore_series"


def compact_keys(p: Points) -> Points:
    """The same points with ``keys`` reduced to the series they use (ids renumbered 0..k-1)."""
    if len(p) == 0:
        return Points(
            p.keys.iloc[:0].reset_index(drop=True),
            p.series,
            p.time,
            p.columns,
            p.types,
            p.version,
            p.row,
        )
    present = np.zeros(max(len(p.keys), int(p.series.max()) + 1), dtype=bool)
    present[p.series] = True  # O(n) scatter and gather: no sort
    uniq = np.flatnonzero(present)
    if len(uniq) == len(p.keys):
        return p
    renumber = np.cumsum(present, dtype=np.int32) - 1
    keys = p.keys.iloc[uniq].reset_index(drop=True)
    return Points(keys, renumber[p.series], p.time, p.columns, p.types, p.version, p.row)


def narrow_int(values: np.ndarray) -> np.ndarray:
    """An integer array in the smallest signed dtype that holds its values (a copy or itself).

    The write-ahead log stores BIGINT measures and series ids narrowed: TSBS-like counters
    shrink 8x, so a frame costs less to compress, write and fsync. Readers widen them back.
    """
    if not len(values) or values.dtype.kind != "i":
        return values
    lo, hi = int(values.min()), int(values.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype) if np.dtype(dtype).itemsize < values.itemsize else values
    return values


def points_to_arrow(p: Points) -> tuple[pa.Table, dict[str, Any]]:
    """An Arrow table of the rows plus JSON metadata (series keys and measure types)."""
    p = compact_keys(p)
    arrays: dict[str, pa.Array] = {
        "series": pa.array(narrow_int(p.series)),
        "time": pa.array(p.time, type=pa.int64()),
    }
    if p.version is not None:
        arrays["version"] = pa.array(p.version, type=pa.int64())
    for name, values in p.columns.items():
        if p.types[name] is MeasureType.VARCHAR:
            arrays[f"m:{name}"] = pa.array(values, type=pa.string())
        elif p.types[name] is MeasureType.BIGINT:
            arrays[f"m:{name}"] = pa.array(narrow_int(values))
        else:
            arrays[f"m:{name}"] = pa.array(values)
    meta = {
        "keys": {c: p.keys[c].tolist() for c in p.keys.columns},
        "types": {k: t.value for k, t in p.types.items()},
    }
    return pa.table(arrays), meta


def points_from_arrow(table: pa.Table, meta: dict[str, Any], *, keys: bool = True) -> Points:
    """Inverse of :func:`points_to_arrow`.

    ``keys=False`` leaves the key table empty, for a caller that maps the series ids itself
    (from ``meta["keys"]``).
    """
    types = {k: MeasureType(v) for k, v in meta["types"].items()}
    columns = {}
    for name, mtype in types.items():
        col = table.column(f"m:{name}")
        if mtype is MeasureType.VARCHAR:  # str objects, None for null
            columns[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
        else:
            columns[name] = col.to_numpy().astype(mtype.dtype, copy=False)  # widen narrowed ints
    version = table.column("version").to_numpy() if "version" in table.column_names else None
    return Points(
        keys=keys_frame(meta["keys"]) if keys and meta["keys"] else pd.DataFrame(),
        series=table.column("series").to_numpy().astype(np.int32, copy=False),
        time=table.column("time").to_numpy(),
        columns=columns,
        types=types,
        version=version,
    )


def _key_column(
    values: np.ndarray, series: pa.Array, series_np: np.ndarray, distinct: bool
) -> pa.Array:
    """A dictionary-encoded string column of a key (None = null).

    With ``distinct`` the dictionary holds distinct values (pandas' Categorical needs that):
    the series ids are mapped to codes of the distinct values, one gather over the rows; a
    missing value is a null index. Else the dictionary holds one entry per series, null where
    the series has no value, and ``series`` (the Arrow series ids, shared by every key column)
    serves as the indices as they are: no work per row, for consumers that read values (the
    SQL kernel: DuckDB reads a null dictionary entry as NULL). Such a column's ``null_count``
    is 0 whatever it holds, and pandas cannot convert it.
    """
    if not distinct:
        return _kernel_key_column(pa.array(values, type=pa.string(), from_pandas=True), series)
    absent = np.equal(values, None)
    if absent.all():
        return pa.nulls(len(series_np), pa.dictionary(pa.int32(), pa.string()))
    codes, uniques = pd.factorize(np.where(absent, "", values).astype(object))
    dictionary = pa.array(np.asarray(uniques, dtype=object), type=pa.string())
    if len(uniques) == len(values) and np.array_equal(codes, np.arange(len(values))):
        indices = series
    else:
        indices = pa.array(codes.astype(np.int32)[series_np], type=pa.int32())
    if absent.any():
        indices = pa.array(
            indices.to_numpy(zero_copy_only=False), type=pa.int32(), mask=absent[series_np]
        )
    return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)  # ids < len(keys)


_FIXED_WIDTH = {
    MeasureType.DOUBLE: pa.float64(),
    MeasureType.BIGINT: pa.int64(),
    MeasureType.TIMESTAMP: pa.timestamp("ns", tz="UTC"),
}


def _kernel_key_column(dictionary: pa.Array, series: pa.Array) -> pa.Array:
    """A key column with one dictionary entry per series (see :func:`_key_column`). A key
    no series has is a dictionary of nulls too: ``pa.nulls`` would allocate every row (1 ms
    for TSBS's 8.64M rows, on every query)."""
    return pa.DictionaryArray.from_arrays(series, dictionary, safe=False)  # ids < len(keys)


def kernel_dictionaries(keys: pd.DataFrame, columns: Sequence[str]) -> dict[str, pa.Array]:
    """Key ``columns`` of ``keys`` (those it has) as dictionaries for
    ``points_to_query_table(distinct_dictionaries=False, dictionaries=...)``: one string per
    series, null where it has none. A reader of many runs of one key frame builds them once."""
    return {
        d: pa.array(keys[d].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        for d in columns
        if d in keys.columns
    }


def _measure_column(values: np.ndarray, mtype: MeasureType, nonnull: bool = False) -> pa.Array:
    """A storage column as an Arrow array with real nulls (see tsstore.model.schema);
    ``nonnull``: the caller knows it holds none (no scan for them)."""
    if mtype is MeasureType.VARCHAR:
        return pa.array(values, type=pa.string())  # None is null
    # without nulls no mask is allocated: numbers travel zero-copy below
    known = nonnull or not has_null(values, mtype)
    mask_or_none = None if known else null_mask(values, mtype)
    if mask_or_none is not None and mtype in _FIXED_WIDTH:
        # the validity bitmap packed here: ``pa.array(values, mask=...)`` takes 6x as long
        values = np.ascontiguousarray(values, dtype=mtype.dtype)
        valid = pa.py_buffer(np.packbits(~mask_or_none, bitorder="little"))
        return pa.Array.from_buffers(
            _FIXED_WIDTH[mtype], len(values), [valid, pa.py_buffer(values)]
        )
    if mtype is MeasureType.BOOLEAN:
        return pa.array(values == 1, type=pa.bool_(), mask=mask_or_none)
    if mtype is MeasureType.TIMESTAMP:
        return pa.array(values, type=pa.timestamp("ns", tz="UTC"), mask=mask_or_none)
    return pa.array(values, mask=mask_or_none)


def series_key_ids(
    frames: Sequence[pd.DataFrame | None], dimensions: Sequence[str]
) -> list[np.ndarray]:
    """Per key frame (``Points.keys``; None: no rows), each series' id of its values of
    ``dimensions``, numbered across all ``frames`` at once: two series get the same id exactly
    when they have the same value (or both none) of every one of ``dimensions``, whatever
    their ``measure_name`` and whichever frame holds them. Ids are ``0 .. distinct - 1``."""
    sizes = [0 if f is None else len(f) for f in frames]
    total = sum(sizes)
    if not total or not dimensions:
        return [np.zeros(n, dtype=np.int32) for n in sizes]
    columns = [
        np.concatenate(
            [
                np.full(n, None, dtype=object)
                if f is None or d not in f.columns
                else f[d].to_numpy(dtype=object)
                for f, n in zip(frames, sizes, strict=True)
            ]
        )
        for d in dimensions
    ]
    if total <= 256:  # few series: a dictionary of tuples beats pandas' per-call cost
        seen: dict[tuple[Any, ...], int] = {}
        tuples = zip(*(np.where(pd.isna(c), None, c) for c in columns), strict=True)
        ids = np.fromiter((seen.setdefault(t, len(seen)) for t in tuples), np.int32, total)
        return list(np.split(ids, np.cumsum(sizes)[:-1]))
    combined = np.zeros(total, dtype=np.int64)
    span = 1  # combined < span
    for values in columns:  # mixed-radix codes of the values (a missing value: code 0)
        codes, uniques = pd.factorize(values)  # None, NaN: -1
        base = len(uniques) + 1
        if span * base >= 2**62:  # renumber before the product could overflow
            combined, distinct = pd.factorize(combined)
            span = len(distinct)
        combined = combined * base + (codes + 1)
        span *= base
    ids = pd.factorize(combined)[0]
    return list(np.split(ids.astype(np.int32), np.cumsum(sizes)[:-1]))


def points_to_query_table(
    p: Points,
    dimensions: list[str],
    measures: dict[str, MeasureType],
    *,
    distinct_dictionaries: bool = True,
    series_key: np.ndarray | None = None,
    dictionaries: Mapping[str, pa.Array] | None = None,
) -> pa.Table:
    """Rows as the query engine sees a table: dimensions (dictionary-encoded strings),
    ``measure_name``, ``time`` (timestamp[ns, UTC]) and measures with real nulls.

    Every dimension and measure of ``dimensions``/``measures`` is a column, all-null where the
    rows have none, so that every query sees the table's whole schema. Key dictionaries hold
    distinct values unless ``distinct_dictionaries`` is false (see :func:`_key_column`).
    ``series_key`` (each series' id from :func:`series_key_ids`) adds the :data:`SERIES_KEY`
    column, last. ``dictionaries`` (from :func:`kernel_dictionaries` of ``p.keys``) spares
    building the key dictionaries again when they are not distinct.
    """
    n = len(p)
    if not distinct_dictionaries and 2 * n < len(p.keys):
        # fewer rows than series (a newest-rows read, a few devices of thousands): key
        # dictionaries of the rows' series only, not one entry per series of the table
        used, inverse = np.unique(p.series, return_inverse=True)
        p = dataclasses.replace(
            p,
            keys=p.keys.iloc[used].reset_index(drop=True),
            series=inverse.astype(np.int32).reshape(-1),
        )
        series_key = None if series_key is None else series_key[used]
        dictionaries = None
    cols: dict[str, pa.Array] = {}
    indices = pa.array(p.series, type=pa.int32())
    for d in [*dimensions, MEASURE_NAME]:
        if dictionaries is not None and not distinct_dictionaries and d in dictionaries and n:
            cols[d] = _kernel_key_column(dictionaries[d], indices)
        elif d in p.keys.columns and n:
            cols[d] = _key_column(
                p.keys[d].to_numpy(dtype=object), indices, p.series, distinct_dictionaries
            )
        else:
            cols[d] = pa.nulls(n, type=pa.string())
    cols["time"] = pa.array(p.time, type=pa.timestamp("ns", tz="UTC"))
    for name, mtype in measures.items():
        if name in p.columns:
            cols[name] = _measure_column(p.columns[name], mtype, name in p.nonnull)
        else:
            cols[name] = _measure_column(empty_column(mtype, n), mtype)
    if series_key is not None:
        cols[SERIES_KEY] = pa.array(series_key[p.series], type=pa.int32())
    return pa.table(cols)


def concat_query_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Query tables of one scan (see :func:`points_to_query_table`) as one, without copying:
    each part keeps its own key dictionaries. A key column that is dictionary-encoded in one
    part and plain (all null) in another is decoded to plain strings in all of them."""
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    mixed = {f.name for t in tables[1:] for f in t.schema if f.type != first.field(f.name).type}
    out = list(tables)
    for name in mixed:
        out = [
            t.set_column(t.schema.get_field_index(name), name, t.column(name).cast(pa.string()))
            for t in out
        ]
    return pa.concat_tables(out)
