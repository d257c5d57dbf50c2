"""Run the stages of a query (:mod:`tsstore.query.planner`) as a Dask graph.

The graph is built by hand (a plain task dict, no Dask DataFrame machinery, so that its cost is
the tasks' and not the collection's): one *fragment* task per part of a scan, then

- ``partial``: combine tasks merging at most :data:`FAN_IN` partials each, in a tree, then the
  final task;
- ``shuffle``: each fragment splits its rows into buckets by a hash of the keys; one task per
  bucket gathers its rows from every fragment and runs the whole query; the final task orders
  and limits the buckets' results;
- ``scan``: the final task concatenates the fragments, orders and limits;
- ``gather``: the final task runs the query over every scan's (filtered) parts.

Each task runs DuckDB on its thread's kernel connection (:func:`tsstore.query.kernel.connection`)
over Arrow tables; tasks pass Arrow tables along. The graph runs on the active
``dask.distributed`` client when there is one (its workers may be other processes: magnetic
parts reopen the store there, memory parts travel as rows), on Dask's threaded scheduler
otherwise. Every task returns ``(table, counts)``: the rows scanned per tier travel with the
data so that the query's statistics are exact wherever the tasks ran.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from tsstore.errors import QueryError
from tsstore.query import kernel, progress
from tsstore.query.planner import PARTS, Stages
from tsstore.storage.parts import ScanPart

__all__ = ["FAN_IN", "DaskQuery", "TablePart", "active_client"]

#: Partials merged by one combine task.
FAN_IN = 8
#: Most shuffle buckets of a query.
MAX_BUCKETS = 16

Counts = dict[str, int]
Result = tuple[pa.Table, Counts]


def active_client() -> Any | None:
    """The active ``dask.distributed`` client, or None (without importing distributed)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


@dataclass
class ScanInput:
    """The parts of one scan of a query and an empty table of its schema."""

    alias: str
    parts: list[ScanPart]
    empty: pa.Table


class DaskQuery:
    """The task graph of one query.

    Parameters
    ----------
    stages : Stages
        The query's stages.
    sql : dict
        The DuckDB SQL of each stage present: ``fragment``, ``combine``, ``bucket``,
        ``final``.
    scans : list of ScanInput
        Every scan of the query.
    """

    def __init__(self, stages: Stages, sql: dict[str, str], scans: list[ScanInput]) -> None:
        self.stages, self.sql, self.scans = stages, sql, scans
        self.name = f"tsstore-{uuid.uuid4().hex[:12]}"
        self.graph: dict[Any, Any] = {}
        self.key = self._build()

    # -- graph ----------------------------------------------------------------------------------
    def _parts(self, scan: ScanInput) -> list[Any]:
        return scan.parts or [TablePart(scan.empty)]

    def _build(self) -> Any:
        kind, g, sql = self.stages.kind, self.graph, self.sql
        if kind == "gather":
            inputs = []
            for s, scan in enumerate(self.scans):
                keys = []
                for i, part in enumerate(self._parts(scan)):
                    key = (f"{self.name}-read-{s}", i)
                    g[key] = (_fragment, part, scan.alias, sql.get("fragment"))
                    keys.append(key)
                inputs.append((scan.alias, keys))
            key = (f"{self.name}-final", 0)
            g[key] = (
                _gather,
                [alias for alias, _ in inputs],
                [list(keys) for _, keys in inputs],
                sql["final"],
            )
            return key
        (scan,) = self.scans
        parts = self._parts(scan)
        if kind == "shuffle":
            buckets = max(1, min(MAX_BUCKETS, len(parts)))
            frags = []
            for i, part in enumerate(parts):
                key = (f"{self.name}-fragment", i)
                g[key] = (
                    _split,
                    part,
                    scan.alias,
                    sql["fragment"],
                    self.stages.keys,
                    buckets,
                )
                frags.append(key)
            outs = []
            for b in range(buckets):
                key = (f"{self.name}-bucket", b)
                g[key] = (_bucket, frags, b, scan.alias, sql["bucket"])
                outs.append(key)
            key = (f"{self.name}-final", 0)
            g[key] = (_stage, outs, sql["final"])
            return key
        frags = []
        for i, part in enumerate(parts):
            key = (f"{self.name}-fragment", i)
            g[key] = (_fragment, part, scan.alias, sql["fragment"])
            frags.append(key)
        level = 0
        while kind == "partial" and len(frags) > FAN_IN:
            merged = []
            for i in range(0, len(frags), FAN_IN):
                key = (f"{self.name}-combine-{level}", i // FAN_IN)
                g[key] = (_stage, frags[i : i + FAN_IN], sql["combine"])
                merged.append(key)
            frags, level = merged, level + 1
        key = (f"{self.name}-final", 0)
        g[key] = (_stage, frags, sql["final"])
        return key

    # -- running ----------------------------------------------------------------------------------
    def compute(self) -> Result:
        """Run the graph: on the active distributed client, else on Dask's threads."""
        client = active_client()
        if client is not None:
            if progress.active():
                return self._compute_watched(client)
            return client.get(self.graph, self.key, sync=True)
        from dask.threaded import get

        return get(self.graph, self.key)

    def _compute_watched(self, client: Any) -> Result:
        """Run the graph on ``client``, counting its tasks as their futures finish for the
        active progress bars. Each future is let go as soon as it is counted, so the cluster
        frees a task's output when its dependents have run, as without a bar."""
        from distributed import as_completed

        keys = list(self.graph)
        futures = client.get(self.graph, keys, sync=False)
        final = futures[keys.index(self.key)]
        others = [f for f in futures if f is not final]
        del futures
        with progress.tracking(len(keys)) as advance:
            try:
                finished = as_completed(others)
                del others
                for future in finished:
                    advance()
                    future.release()
                result = final.result()
                advance()
                return result
            except BaseException:
                final.cancel()
                raise

    def partition_keys(self) -> list[Any]:
        """The fragment keys when the result is their concatenation (a scan with no ORDER BY,
        LIMIT or DISTINCT), else the final key: the partitions of a lazy result."""
        if self.stages.kind == "scan" and self.stages.trivial_final:
            return [k for k in self.graph if k[0] == f"{self.name}-fragment"]
        return [self.key]


# -- tasks ---------------------------------------------------------------------------------------
class TablePart(ScanPart):
    """Rows the query has already, counted as no scan: the one empty table a scan with no
    parts reads (a global aggregate still gives a row), a derived table's result."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __call__(self) -> pa.Table:
        return self.table


def _run(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    try:
        return kernel.run(sql, tables)
    except duckdb.Error as e:
        raise QueryError(f"query failed: {str(e).splitlines()[0]}") from e


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    """One table from tables of the same columns (dictionaries may differ, a column may be
    plain in one and dictionary-encoded in another)."""
    tables = [t for t in tables if t.num_columns] or list(tables[:1])
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables)
    except pa.ArrowInvalid:
        pass
    fields = tables[0].schema
    plain = []
    for t in tables:
        cols = []
        for f, col in zip(fields, t.columns, strict=True):
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            elif pa.types.is_dictionary(f.type):
                col = col.cast(f.type.value_type)
            cols.append(col)
        plain.append(pa.table(cols, names=t.column_names))
    return pa.concat_tables(plain, promote_options="permissive")


def table_bytes(table: pa.Table) -> int:
    """The bytes of a scan's table: fixed-width values and dictionary indices by their width,
    each column's dictionary once. ``pa.Table.nbytes`` walks every chunk and counts a
    dictionary per chunk: 30 ms and 4x the bytes on a scan of 1000 slices of a memory run."""
    n = 0
    for column in table.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            n += table.num_rows * kind.index_type.bit_width // 8
            n += column.chunk(0).dictionary.nbytes if column.num_chunks else 0
        elif column.num_chunks > 1 and _bit_width(kind) >= 8:  # fixed width: no walk
            n += table.num_rows * _bit_width(kind) // 8
        else:
            n += column.nbytes
    return n


def _bit_width(kind: pa.DataType) -> int:
    try:
        return kind.bit_width
    except ValueError:  # variable width (strings, lists)
        return 0


def _count(part: Any, data: pa.Table) -> Counts:
    tier = getattr(part, "tier", "memory") or "memory"
    if isinstance(part, TablePart):
        return {}
    nbytes = table_bytes(data)
    counts = {f"rows_{tier}": data.num_rows, "bytes": nbytes, f"bytes_{tier}": nbytes}
    if tier == "magnetic":
        counts["partitions"] = 1
    return counts


def _merge(counts: Sequence[Counts]) -> Counts:
    out: Counts = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _fragment(part: ScanPart, alias: str, sql: str | None) -> Result:
    data = part()
    counts = _count(part, data)
    if sql is None:
        return data, counts
    return _run(sql, {alias: data}), counts


def _split(
    part: ScanPart, alias: str, sql: str, nkeys: int, buckets: int
) -> tuple[list[pa.Table], Counts]:
    """A fragment's rows cut into ``buckets`` by a hash of its ``__k<i>`` columns."""
    data = part()
    counts = _count(part, data)
    keys = ", ".join(f'"__k{i}"' for i in range(nkeys))
    wrapped = (
        f"SELECT * EXCLUDE ({keys}), CAST(hash({keys}) % {buckets} AS INTEGER) AS __bucket "
        f"FROM ({sql}) ORDER BY __bucket"
    )
    out = _run(wrapped, {alias: data})
    b = out.column("__bucket").to_numpy()
    out = out.drop_columns(["__bucket"])
    bounds = np.searchsorted(b, np.arange(buckets + 1))
    pieces = [out.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i])) for i in range(buckets)]
    return pieces, counts


def _bucket(frags: list[tuple[list[pa.Table], Counts]], b: int, alias: str, sql: str) -> Result:
    """Bucket ``b``'s rows from every fragment, and the whole query over them (the scan
    counts travel with bucket 0 only)."""
    data = _concat([pieces[b] for pieces, _ in frags])
    counts = _merge([c for _, c in frags]) if b == 0 else {}
    return _run(sql, {alias: data}), counts


def _stage(inputs: list[Result], sql: str) -> Result:
    data = _concat([t for t, _ in inputs])
    return _run(sql, {PARTS: data}), _merge([c for _, c in inputs])


def _gather(aliases: list[str], inputs: list[list[Result]], sql: str) -> Result:
    tables = {a: _concat([t for t, _ in rows]) for a, rows in zip(aliases, inputs, strict=True)}
    counts = _merge([c for rows in inputs for _, c in rows])
    return _run(sql, tables), counts
