"""Points <-> Arrow tables for the write-ahead log (see ``docs/format.md``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tsstore.model.points import Points, keys_frame
from tsstore.model.schema import MeasureType

__all__ = ["compact_keys", "points_from_arrow", "points_to_arrow"]


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
    uniq, inverse = np.unique(p.series, return_inverse=True)
    keys = p.keys.iloc[uniq].reset_index(drop=True)
    return Points(keys, inverse.astype(np.int32), p.time, p.columns, p.types, p.version, p.row)


def points_to_arrow(p: Points) -> tuple[pa.Table, dict[str, Any]]:
    """An Arrow table of the rows plus JSON metadata (series keys and measure types)."""
    p = compact_keys(p)
    arrays: dict[str, pa.Array] = {
        "series": pa.array(p.series, type=pa.int32()),
        "time": pa.array(p.time, type=pa.int64()),
    }
    if p.version is not None:
        arrays["version"] = pa.array(p.version, type=pa.int64())
    for name, values in p.columns.items():
        if p.types[name] is MeasureType.VARCHAR:
            arrays[f"m:{name}"] = pa.array(values, type=pa.string())
        else:
            arrays[f"m:{name}"] = pa.array(values)
    meta = {
        "keys": {c: p.keys[c].tolist() for c in p.keys.columns},
        "types": {k: t.value for k, t in p.types.items()},
    }
    return pa.table(arrays), meta


def points_from_arrow(table: pa.Table, meta: dict[str, Any]) -> Points:
    """Inverse of :func:`points_to_arrow`."""
    types = {k: MeasureType(v) for k, v in meta["types"].items()}
    columns = {}
    for name, mtype in types.items():
        col = table.column(f"m:{name}")
        if mtype is MeasureType.VARCHAR:  # str objects, None for null
            columns[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
        else:
            columns[name] = col.to_numpy()
    version = table.column("version").to_numpy() if "version" in table.column_names else None
    return Points(
        keys=keys_frame(meta["keys"]) if meta["keys"] else pd.DataFrame(),
        series=table.column("series").to_numpy().astype(np.int32, copy=False),
        time=table.column("time").to_numpy(),
        columns=columns,
        types=types,
        version=version,
    )
