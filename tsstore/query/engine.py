"""The query engine: Timestream SQL over both tiers of a store, DuckDB as the SQL kernel.

Plan of a query (``docs/query.md``):

1. parse with the Timestream dialect, bind ``:name`` parameters through the AST, and bind
   ``now()`` / ``ago()`` once, on the client;
2. resolve every table (unqualified names against the connection's default database) and,
   for a table read once, derive a *pruned scan* from the WHERE clause: the time range from
   ``time`` comparisons and ``BETWEEN``, the allowed values of dimensions from ``=`` and ``IN``,
   and only the measures the query names. Pruning only ever narrows the scan to a superset
   of the rows the WHERE keeps; the whole WHERE still runs in the kernel;
3. scan each table across both tiers into Arrow (dictionary-encoded dimensions, ``time`` as
   ``timestamp[ns, UTC]``), register it with a per-thread DuckDB connection, and run the
   query translated to DuckDB's SQL.

This first stage runs in the calling process; Dask partitioning and the distributed plan come
next (see the issue tracker and ``docs/query.md``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from sqlglot import exp

from tsstore.errors import NotFoundError, QueryError
from tsstore.model.durations import to_utc_timestamp
from tsstore.model.points import MEASURE_NAME
from tsstore.model.schema import MeasureType, RowFilter
from tsstore.query import kernel, progress
from tsstore.query.derived import allowed, derived_joins
from tsstore.query.dialect import Describe, Select, Show, bind_params, parse_statement
from tsstore.query.distributed import (
    DaskQuery,
    ScanInput,
    TablePart,
    active_client,
    table_bytes,
)
from tsstore.query.latest import newest_only, newest_rows_only
from tsstore.query.planner import Stages, split
from tsstore.query.serieskey import use_series_keys
from tsstore.query.timelimit import TRUNC_NS, TimeLimit, ranges, time_limit
from tsstore.query.translate import duckdb_sql, integer_divisions, to_duckdb, to_duckdb_sql
from tsstore.storage.parts import ArrowPart, MagneticPart, ScanPart

if TYPE_CHECKING:
    import dask.dataframe as dd

    from tsstore.storage.store import Store
    from tsstore.storage.table import Table, TableState

__all__ = ["QueryEngine", "QueryPage", "QueryStats", "ScanPlan"]


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """How one table of a query is read."""

    table: str
    alias: str
    time_range: tuple[pd.Timestamp | None, pd.Timestamp | None]
    where: dict[str, list[str]]
    measures: list[str] | None  # None: every measure
    dimensions: list[str] | None = None  # None: every dimension
    filters: tuple[RowFilter, ...] = ()  # measure comparisons the tiers apply early
    #: Read only each series' newest time (``Table.latest_times``; :mod:`.latest`).
    newest: bool = False
    #: Add the series key column (``Table.scan(series_key=True)``; :mod:`.serieskey`).
    series_key: bool = False
    #: The query keeps each partition's newest row only (:func:`.latest.newest_rows_only`):
    #: read each series' newest rows (``Table.scan(newest_rows=True)``).
    from_newest: bool = False
    #: The table's state to read (None: the latest).
    state: TableState | None = field(default=None, repr=False, compare=False)

    def read_args(self, as_of: object | None) -> dict[str, Any]:
        """Keyword arguments of ``Table.scan`` / ``Table.scan_parts`` for this scan."""
        return {
            "state": self.state,
            "where": self.where or None,
            "measures": self.measures,
            "dimensions": self.dimensions,
            "as_of": as_of,
            "distinct_dictionaries": False,  # the kernel reads values, not codes
            "filters": self.filters,
        }

    def describe(self) -> str:
        lo, hi = self.time_range
        rng = f"time in [{lo if lo is not None else '-inf'}, {hi if hi is not None else '+inf'})"
        meas = "all measures" if self.measures is None else f"measures {self.measures}"
        flt = f", {self.where}" if self.where else ""
        rows = "".join(f", {f.measure} {f.op} {f.value}" for f in self.filters)
        if self.newest:
            return f"scan {self.table} as {self.alias}: {rng}{flt}, newest time per series"
        key = ", series key" if self.series_key else ""
        since = ", each series' newest rows" if self.from_newest else ""
        return f"scan {self.table} as {self.alias}: {rng}{flt}{rows}, {meas}{key}{since}"

    def read(self, table: Table, as_of: object | None) -> pa.Table:
        """This scan of ``table`` (its rows, or each series' newest time)."""
        if self.newest and as_of is None:
            return table.latest_times(
                self.time_range,
                where=self.where or None,
                dimensions=self.dimensions,
                state=self.state,
            )
        if self.from_newest and as_of is None:
            # each series' newest rows (and a few more): the query ranks them as it would
            # rank every row (see .latest.newest_rows_only)
            return table.scan(
                self.time_range,
                series_key=self.series_key,
                newest_rows=True,
                **self.read_args(as_of),
            )
        return table.scan(self.time_range, series_key=self.series_key, **self.read_args(as_of))


@dataclass(frozen=True, slots=True)
class _Derived:
    """A derived table run before its query (:mod:`tsstore.query.derived`).

    ``name``: its result's table in the outer query; ``ast`` / ``sql``: its planned query and
    that query's kernel SQL; ``scans``: the scans only it reads; ``keys``: ``(scan alias,
    column, derived column)``, each a scan of the outer query narrowed by its result.
    """

    name: str
    alias: str
    ast: exp.Expression
    sql: str
    scans: list[ScanPlan]
    keys: tuple[tuple[str, str, str], ...]


@dataclass(slots=True)
class QueryStats:
    """What a query did, like Timestream's ``QueryStatus``."""

    rows_scanned: int = 0
    bytes_scanned: int = 0
    rows_scanned_memory: int = 0
    rows_scanned_magnetic: int = 0
    bytes_scanned_memory: int = 0
    bytes_scanned_magnetic: int = 0
    #: Magnetic partitions opened, and those stored (the difference was pruned by time).
    partitions_scanned: int = 0
    partitions_total: int = 0
    scans: list[ScanPlan] = field(default_factory=list)
    parse_s: float = 0.0
    plan_s: float = 0.0
    scan_s: float = 0.0
    execute_s: float = 0.0
    duckdb_sql: str = ""
    #: How the distributed plan split the query ("" when it ran in one stage).
    distributed: str = ""
    #: Cuts of a LIMIT over time buckets that ran, newest (or oldest) first; 0: none
    #: (:mod:`tsstore.query.timelimit`).
    time_limit_rounds: int = 0


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One page of a result, like a response of Timestream's ``Query`` API.

    Attributes
    ----------
    rows : DataFrame
        At most ``max_rows`` rows.
    next_token : str or None
        Token of the next page (None on the last page).
    stats : QueryStats
        The query's statistics (the same object on every page).
    """

    rows: pd.DataFrame
    next_token: str | None
    stats: QueryStats


#: Prepared plans kept per engine (least recently used dropped first).
PLAN_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A query's plan, kept for its next run: the scans, the tables and the kernel SQL."""

    scans: list[ScanPlan]
    tables: dict[str, Table]
    sql: str
    limit: TimeLimit | None = None
    derived: tuple[_Derived, ...] = ()
    schemas: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        schemas = tuple((t.full_name, t.schema) for t in self.tables.values())
        object.__setattr__(self, "schemas", schemas)

    def valid(self, store: Store) -> bool:
        """The same tables, with the same schemas (a new measure changes a SELECT *)."""
        try:
            return all(store.table(name).schema == schema for name, schema in self.schemas)
        except NotFoundError:
            return False


#: Functions whose value is the query's ``now``: a plan using one is not reused.
_NOW_FUNCTIONS = frozenset(
    {
        "now",
        "ago",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
        "current_timezone",
    }
)


_NOW_NODES = (
    exp.CurrentTimestamp,
    exp.CurrentDate,
    exp.CurrentTime,
    exp.Localtimestamp,
    exp.Localtime,
)


def _uses_now(ast: exp.Expression) -> bool:
    for node in ast.walk():
        if isinstance(node, _NOW_NODES):
            return True
        if isinstance(node, exp.Func) and node.name.lower() in _NOW_FUNCTIONS:
            return True
    return False


def _freeze(value: Any) -> Any:
    """A hashable form of query parameters (with their types: 1 and 1.0 plan differently)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    return (type(value).__name__, value)


@functools.lru_cache(maxsize=512)
def _parse(sql: str) -> Select | Show | Describe:
    """Parsed statements, cached by text: a repeated query skips sqlglot's parser (its AST is
    copied before anything changes it)."""
    return parse_statement(sql)


class QueryEngine:
    """Answers Timestream SQL over a store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.last_stats: QueryStats | None = None
        self._plans: OrderedDict[tuple[Any, ...], _Prepared] = OrderedDict()
        self._plans_lock = threading.Lock()

    def clear_caches(self) -> None:
        """Forget parsed statements and prepared plans (the next query starts cold)."""
        _parse.cache_clear()
        with self._plans_lock:
            self._plans.clear()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return kernel.connection()

    # -- public -------------------------------------------------------------------------
    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        as_of: object | None = None,
        distributed: bool | None = None,
    ) -> pd.DataFrame:
        """Run a Timestream SQL statement; the result as a pandas DataFrame.

        ``distributed``: None runs the Dask plan when a ``dask.distributed`` client is
        active and the single-stage in-process plan otherwise; True always runs the Dask plan
        (on Dask's threads without a client); False never does.
        """
        stats = QueryStats()
        t0 = time.perf_counter()
        stmt = _parse(sql)
        stats.parse_s = time.perf_counter() - t0
        if isinstance(stmt, Show | Describe):
            self.last_stats = stats
            return self._metadata(stmt)
        table = self._run(stmt.ast, params, as_of, stats, distributed, sql)
        self.last_stats = stats
        df = _to_pandas(table)
        df.attrs["query_stats"] = stats  # every result carries its QueryStatus-like stats
        return df

    def query_pages(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_rows: int = 1000,
        as_of: object | None = None,
    ) -> Iterator[QueryPage]:
        """The result of one query in pages of at most ``max_rows`` rows.

        The query runs now (errors raise here, not at the first page); pages are slices of its
        Arrow result, converted to pandas one at a time, so a large result is never held as
        one DataFrame.
        """
        if not isinstance(max_rows, int) or max_rows < 1:
            raise QueryError(f"max_rows must be a positive integer, got {max_rows!r}")
        stats = QueryStats()
        stmt = _parse(sql)
        if isinstance(stmt, Show | Describe):
            table = pa.Table.from_pandas(self._metadata(stmt), preserve_index=False)
        else:
            table = self._run(stmt.ast, params, as_of, stats, text=sql)
        self.last_stats = stats
        return _pages(table, max_rows, stats)

    def query_lazy(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        as_of: object | None = None,
    ) -> dd.DataFrame:
        """A query as a Dask DataFrame, computed by the distributed plan.

        A scan (no aggregate, ORDER BY, LIMIT or DISTINCT) has one partition per part of the
        table's scan (a magnetic partition, the memory tier); any other query has one
        partition, its result. All parts read one consistent state of the table, captured when
        this returns. The graph runs on the active ``dask.distributed`` client (worker
        processes included) or Dask's threaded scheduler.
        """
        import dask.dataframe as dd
        from dask.delayed import Delayed

        stmt = _parse(sql)
        if isinstance(stmt, Show | Describe):
            raise QueryError("lazy=True answers queries, not SHOW or DESCRIBE")
        stats = QueryStats()
        ast, scans, resolved, now, derived = self._plan(stmt.ast, params, stats)
        scans, extra = self._derive_dask(derived, scans, resolved, now, as_of, stats)
        query, meta = self._dask_query(ast, scans, resolved, now, as_of, stats, extra)
        if meta is None:
            tables = {i.alias: i.empty for i in query.scans}
            meta = _kernel(query.sql["final"], tables, list(resolved.values()))
        graph = dict(query.graph)
        keys = query.partition_keys()
        outs = []
        for i, key in enumerate(keys):
            out = (f"{query.name}-pandas", i)
            graph[out] = (_result_to_pandas, key)
            outs.append(Delayed(out, graph))
        return dd.from_delayed(outs, meta=_to_pandas(meta), verify_meta=False)

    def explain(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """The plan of a query: the pruned scan of each table and the SQL the kernel runs."""
        stmt = _parse(sql)
        if isinstance(stmt, Show | Describe):
            return f"metadata: {stmt}"
        stats = QueryStats()
        ast, scans, resolved, now, derived = self._plan(stmt.ast, params, stats)
        kernel_sql, keyed = _kernel_sql(ast, scans, resolved, now, copy=True)
        lines = []
        extra = {}
        for d in derived:
            narrows = ", ".join(f"{alias}.{column}" for alias, column, _ in d.keys) or "nothing"
            lines.append(f"derived table {d.alias} as {d.name}, run first (narrows {narrows}):")
            for scan in d.scans:
                lines.append("  " + scan.describe())
                lines.append("    " + _pruning(resolved[scan.alias], scan))
            lines.append(f"  kernel (DuckDB): {d.sql}")
            empties = {s.alias: _empty_scan(resolved[s.alias], s) for s in d.scans}
            extra[d.name] = _kernel(d.sql, empties, list(resolved.values()))
        for scan in keyed:
            lines.append(scan.describe())
            lines.append("  " + _pruning(resolved[scan.alias], scan))
        limit = _time_limit(ast, scans, resolved)
        if limit is not None:
            lines.append(limit.describe())
        lines.append(f"kernel (DuckDB): {kernel_sql}")
        stages, sql, _, _ = self._split(ast, scans, resolved, now, extra)
        lines.append(f"distributed plan ({stages.reason}):")
        lines += [f"  {stage} (DuckDB): {text}" for stage, text in sql.items()]
        return "\n".join(lines)

    # -- planning -------------------------------------------------------------------------
    def _now(self) -> pd.Timestamp:
        return to_utc_timestamp(self._store.clock(), "clock()")

    def _plan(
        self, ast: exp.Expression, params: Mapping[str, Any] | None, stats: QueryStats
    ) -> tuple[exp.Expression, list[ScanPlan], dict[str, Table], pd.Timestamp, list[_Derived]]:
        """Bind parameters, resolve and prune every table; ``now`` is bound here, once.

        A derived table run first (:mod:`tsstore.query.derived`) comes back on its own, with
        its own scans, and the outer query reads its result by name. Within the outer query,
        and within each derived table, a table read twice is scanned once.
        """
        t0 = time.perf_counter()
        ast = bind_params(ast, dict(params or {}))  # a copy: the cached parse stays intact
        now = self._now()
        ctes = {c.alias_or_name for c in ast.find_all(exp.CTE)}
        nodes = [t for t in ast.find_all(exp.Table) if t.db or t.name not in ctes]
        first = derived_joins(ast)
        scope = {id(t): i for i, d in enumerate(first) for t in d.query.find_all(exp.Table)}
        counts: dict[tuple[int | None, str, str], int] = {}
        resolved = []
        for node in nodes:
            table = self._resolve(node)
            resolved.append(table)
            key = (scope.get(id(node)), table.database, table.name)
            counts[key] = counts.get(key, 0) + 1
        scans: list[ScanPlan] = []
        tables: dict[str, Table] = {}
        shared: dict[tuple[int | None, str, str], ScanPlan] = {}  # read twice, scanned once
        # columns named anywhere (in the scope): a superset, right for any reference
        named = {None: _named_columns(ast)}
        named |= {i: _named_columns(d.query) for i, d in enumerate(first)}
        scope_of: dict[str, int | None] = {}  # scan alias -> derived table (None: outer)
        outer: dict[str, str] = {}  # outer table alias as written -> scan alias
        reads: dict[str, int] = {}  # outer scan alias -> tables of the outer query it reads
        for node, table in zip(nodes, resolved, strict=True):
            key = (scope.get(id(node)), table.database, table.name)
            alias = node.alias_or_name
            scan = shared.get(key)
            if scan is None:
                select = node.find_ancestor(exp.Select)
                source = select.args.get("from_") if select is not None else None
                simple = (
                    counts[key] == 1
                    and select is not None
                    and not select.args.get("joins")
                    and source is not None
                    and source.this is node
                )
                where = select.args.get("where") if simple and select is not None else None
                rng, dims, filters = (
                    _pushdown(where, table, now, self)
                    if where is not None
                    else ((None, None), {}, ())
                )
                measures = _referenced(named[key[0]], list(table.schema.measures))
                used_dims = _referenced(named[key[0]], list(table.schema.dimensions))
                alias_name = f"__tsstore_{len(scans)}"
                keys = {*table.schema.dimensions, MEASURE_NAME}
                newest = simple and newest_only(select, keys)
                from_newest = simple and not newest and newest_rows_only(select, keys)
                scan = ScanPlan(
                    table.full_name,
                    alias_name,
                    rng,
                    dims,
                    measures,
                    used_dims,
                    filters,
                    newest,
                    from_newest=from_newest,
                )
                scans.append(scan)
                tables[alias_name] = table
                shared[key] = scan
                scope_of[alias_name] = key[0]
            if key[0] is None:
                reads[scan.alias] = reads.get(scan.alias, 0) + 1
                if isinstance(node.parent, exp.From | exp.Join) and node.parent.parent is ast:
                    outer[alias] = scan.alias  # a source of the top-level SELECT
            node.replace(
                exp.Table(
                    this=exp.to_identifier(scan.alias),
                    alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
                )
            )
        ast = integer_divisions(ast, _column_types(tables))
        ast, derived = _split_derived(ast, [d.alias for d in first], scans, scope_of, now)
        derived = [
            dataclasses.replace(
                d,
                keys=tuple(
                    (outer[t], column, other)
                    for t, column, other in d.keys
                    if t in outer and reads[outer[t]] == 1  # a scan read once: safe to narrow
                ),
            )
            for d in derived
        ]
        owned = {s.alias for d in derived for s in d.scans}
        scans = [s for s in scans if s.alias not in owned]
        stats.plan_s = time.perf_counter() - t0
        stats.scans = scans + [s for d in derived for s in d.scans]
        return ast, scans, tables, now, derived

    def _split(
        self,
        ast: exp.Expression,
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        now: pd.Timestamp,
        extra: Mapping[str, pa.Table] | None = None,
    ) -> tuple[Stages, dict[str, str], pa.Table, dict[str, pa.Table]]:
        """The query's distributed stages and their DuckDB SQL, the result's empty table
        (names and types: the query run over no rows) and each scan's empty table (and each
        ``extra`` table's: derived tables' results)."""
        empties = {s.alias: _empty_scan(resolved[s.alias], s) for s in scans}
        empties |= {name: t.slice(0, 0) for name, t in (extra or {}).items()}
        full = to_duckdb_sql(ast, now=now, name_columns=True)
        meta = _kernel(full, empties, list(resolved.values()))
        stages = split(ast, {a: t.column_names for a, t in empties.items()}, meta.column_names)
        sql = {
            stage: to_duckdb_sql(node, now=now, name_columns=True)
            for stage in ("fragment", "combine", "bucket", "final")
            if (node := getattr(stages, stage)) is not None
        }
        return stages, sql, meta, empties

    def _dask_query(
        self,
        ast: exp.Expression,
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        now: pd.Timestamp,
        as_of: object | None,
        stats: QueryStats,
        extra: Mapping[str, pa.Table] | None = None,
    ) -> tuple[DaskQuery, pa.Table]:
        """The query's Dask graph over the parts of its scans (and the ``extra`` tables,
        derived tables' results, as one part each), and its empty result (None when the graph
        is one task: the result then has the single-stage types already)."""
        t0 = time.perf_counter()
        parts: dict[str, list[ScanPart]] = {
            s.alias: [ArrowPart(s.read(resolved[s.alias], as_of))]
            if s.newest and as_of is None
            else resolved[s.alias].scan_parts(s.time_range, **s.read_args(as_of))
            for s in scans
        }
        parts |= {name: [TablePart(t)] for name, t in (extra or {}).items()}
        meta: pa.Table | None
        if all(len(p) <= 1 for p in parts.values()):
            # One part per scan: splitting could only add stages. The query runs once, as one
            # task (on a worker when there is a cluster).
            stages = Stages("gather", ast.copy(), reason="gather: one part per scan")
            sql = {"final": to_duckdb_sql(ast, now=now, name_columns=True)}
            empties = {s.alias: _empty_scan(resolved[s.alias], s) for s in scans}
            empties |= {name: t.slice(0, 0) for name, t in (extra or {}).items()}
            meta = None
        else:
            stages, sql, meta, empties = self._split(ast, scans, resolved, now, extra)
        inputs = [ScanInput(alias, parts[alias], empties[alias]) for alias in parts]
        for scan_parts in parts.values():  # partitions stored, for the pruning statistics
            snap = next((p.snapshot for p in scan_parts if isinstance(p, MagneticPart)), None)
            stats.partitions_total += len(snap.manifest_partitions()) if snap is not None else 0
        stats.plan_s += time.perf_counter() - t0
        stats.duckdb_sql = sql["final"]
        stats.distributed = stages.reason
        return DaskQuery(stages, sql, inputs), meta

    def _run_dask(
        self,
        ast: exp.Expression,
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        now: pd.Timestamp,
        as_of: object | None,
        stats: QueryStats,
        extra: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        query, meta = self._dask_query(ast, scans, resolved, now, as_of, stats, extra)
        t0 = time.perf_counter()
        out, counts = query.compute()
        stats.execute_s += time.perf_counter() - t0
        if meta is None:
            meta = out
        stats.rows_scanned_memory += counts.get("rows_memory", 0)
        stats.rows_scanned_magnetic += counts.get("rows_magnetic", 0)
        stats.rows_scanned += counts.get("rows_memory", 0) + counts.get("rows_magnetic", 0)
        stats.bytes_scanned += counts.get("bytes", 0)
        stats.bytes_scanned_memory += counts.get("bytes_memory", 0)
        stats.bytes_scanned_magnetic += counts.get("bytes_magnetic", 0)
        stats.partitions_scanned += counts.get("partitions", 0)
        return out if out.schema.equals(meta.schema) else _cast_like(out, meta)

    def _resolve(self, node: exp.Table) -> Table:
        db = node.db or self._store.default_database
        if db is None:
            raise QueryError(
                f'table {node.name!r} has no database: write "database"."{node.name}" or '
                "connect with database=..."
            )
        try:
            return self._store.table(f"{db}.{node.name}")
        except NotFoundError as e:
            raise QueryError(str(e)) from e

    def _prepared(
        self,
        text: str | None,
        ast: exp.Expression,
        params: Mapping[str, Any] | None,
        stats: QueryStats,
    ) -> tuple[
        list[ScanPlan], dict[str, Table], pd.Timestamp, str, TimeLimit | None, list[_Derived]
    ]:
        """The plan, kernel SQL and time limit of a query, from the cache of prepared plans
        when it holds one for the same text, parameters and default database, over tables
        whose schemas have not changed since. A plan that depends on ``now()`` (``ago``, ``now``,
        ``current_*``) is never cached: its pruning and SQL change with the clock."""
        t0 = time.perf_counter()
        key = None
        if text is not None:
            try:
                key = (text, _freeze(params), self._store.default_database)
                hash(key)
            except TypeError:  # an unhashable parameter value: plan afresh
                key = None
        if key is not None:
            with self._plans_lock:
                hit = self._plans.get(key)
                if hit is not None:
                    self._plans.move_to_end(key)
            if hit is not None and hit.valid(self._store):
                stats.plan_s = time.perf_counter() - t0
                stats.scans = hit.scans + [s for d in hit.derived for s in d.scans]
                return hit.scans, hit.tables, self._now(), hit.sql, hit.limit, list(hit.derived)
        ast, scans, resolved, now, derived = self._plan(ast, params, stats)
        keep = key is not None and not _uses_now(ast) and not any(_uses_now(d.ast) for d in derived)
        limit = _time_limit(ast, scans, resolved)  # before the translation changes the tree
        # the same now() as the pruning; the bound tree is ours (a copy): translated in place
        sql, scans = _kernel_sql(ast, scans, resolved, now, copy=False)
        if keep:
            prepared = _Prepared(scans, resolved, sql, limit, tuple(derived))
            with self._plans_lock:
                self._plans[key] = prepared
                while len(self._plans) > PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
        stats.plan_s = time.perf_counter() - t0
        return scans, resolved, now, sql, limit, derived

    def _run(
        self,
        ast: exp.Expression,
        params: Mapping[str, Any] | None,
        as_of: object | None,
        stats: QueryStats,
        distributed: bool | None = None,
        text: str | None = None,
    ) -> pa.Table:
        if distributed or (distributed is None and active_client() is not None):
            ast, scans, resolved, now, derived = self._plan(ast, params, stats)
            scans, extra = self._derive_dask(derived, scans, resolved, now, as_of, stats)
            limit = _time_limit(ast, scans, resolved)
            return self._limited(
                limit,
                scans,
                resolved,
                as_of,
                stats,
                lambda cut: self._run_dask(ast, cut, resolved, now, as_of, stats, extra),
            )
        scans, resolved, now, sql, limit, derived = self._prepared(text, ast, params, stats)
        steps = len(scans) + 1 + sum(len(d.scans) + 1 for d in derived)
        with progress.tracking(steps) as advance:
            scans, extra = self._derive(
                derived,
                scans,
                resolved,
                as_of,
                stats,
                lambda d, cut: self._run_single(cut, resolved, d.sql, as_of, stats, advance),
            )
            return self._limited(
                limit,
                scans,
                resolved,
                as_of,
                stats,
                lambda cut: self._run_single(cut, resolved, sql, as_of, stats, advance, extra),
            )

    def _derive_dask(
        self,
        derived: list[_Derived],
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        now: pd.Timestamp,
        as_of: object | None,
        stats: QueryStats,
    ) -> tuple[list[ScanPlan], dict[str, pa.Table]]:
        """:meth:`_derive`, each derived table run by the Dask plan."""
        return self._derive(
            derived,
            scans,
            resolved,
            as_of,
            stats,
            lambda d, cut: self._run_dask(d.ast, cut, resolved, now, as_of, stats),
        )

    def _derive(
        self,
        derived: list[_Derived],
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        as_of: object | None,
        stats: QueryStats,
        run: Callable[[_Derived, list[ScanPlan]], pa.Table],
    ) -> tuple[list[ScanPlan], dict[str, pa.Table]]:
        """Run each derived table (``run(derived, its scans)``) and narrow the outer scans
        by its result (:mod:`tsstore.query.derived`); the narrowed scans and the results by
        name. Every scan reads one state of its table, captured here, so the derived tables
        and the outer query agree whatever is written meanwhile."""
        if not derived:
            return scans, {}
        states: dict[str, TableState] = {}

        def pinned(scan: ScanPlan) -> ScanPlan:
            if as_of is not None:  # an old snapshot is one state already
                return scan
            table = resolved[scan.alias]
            if table.full_name not in states:
                states[table.full_name] = table.state()
            return dataclasses.replace(scan, state=states[table.full_name])

        scans = [pinned(s) for s in scans]
        extra: dict[str, pa.Table] = {}
        ran: list[ScanPlan] = []
        for d in derived:
            own = [pinned(s) for s in d.scans]
            out = run(d, own)
            ran += own
            extra[d.name] = out
            scans = [_narrowed(s, resolved[s.alias], d.keys, out) for s in scans]
        stats.scans = [dataclasses.replace(s, state=None) for s in scans + ran]  # no locks
        return scans, extra

    def _limited(
        self,
        limit: TimeLimit | None,
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        as_of: object | None,
        stats: QueryStats,
        run: Callable[[list[ScanPlan]], pa.Table],
    ) -> pa.Table:
        """``run(scans)``; for a LIMIT over time buckets, ``run`` on cuts of the scan's time
        range, newest (or oldest) first, until one returns the LIMIT's rows
        (:mod:`tsstore.query.timelimit`). A time-travel read runs whole: the stored extent
        bounds the latest state, not an old snapshot."""
        if limit is None or as_of is not None:
            return run(scans)
        (scan,) = scans
        tmin, tmax, stored = resolved[scan.alias].extent()
        lo, hi = (None if t is None else t.value for t in scan.time_range)
        cuts = list(ranges(limit, lo, hi, tmin, tmax, stored))
        for i, (a, b) in enumerate(cuts):
            cut = dataclasses.replace(
                scan,
                time_range=tuple(None if t is None else pd.Timestamp(t, tz="UTC") for t in (a, b)),
            )
            stats.time_limit_rounds = i + 1
            out = run([cut])
            stats.scans = [dataclasses.replace(cut, state=None)]
            if out.num_rows >= limit.limit or i == len(cuts) - 1:
                return out
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_single(
        self,
        scans: list[ScanPlan],
        resolved: dict[str, Table],
        sql: str,
        as_of: object | None,
        stats: QueryStats,
        advance: Callable[[], None],
        extra: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        """The single-stage plan: scan each table into Arrow, then one kernel statement
        over them and the ``extra`` tables (derived tables' results; ``advance`` marks each
        of these steps done, for a progress bar)."""
        t0 = time.perf_counter()
        tables: dict[str, pa.Table] = dict(extra or {})
        for scan in scans:
            data = scan.read(resolved[scan.alias], as_of)
            stats.rows_scanned += data.num_rows
            stats.bytes_scanned += table_bytes(data)
            meta = data.schema.metadata or {}
            stats.rows_scanned_memory += int(meta.get(b"tsstore.rows_memory", 0))
            stats.rows_scanned_magnetic += int(meta.get(b"tsstore.rows_magnetic", 0))
            stats.bytes_scanned_memory += int(meta.get(b"tsstore.bytes_memory", 0))
            stats.bytes_scanned_magnetic += int(meta.get(b"tsstore.bytes_magnetic", 0))
            stats.partitions_scanned += int(meta.get(b"tsstore.partitions_scanned", 0))
            stats.partitions_total += int(meta.get(b"tsstore.partitions_total", 0))
            tables[scan.alias] = data
            advance()
        stats.scan_s += time.perf_counter() - t0
        stats.duckdb_sql = sql
        t1 = time.perf_counter()
        out = _kernel(sql, tables, list(resolved.values())) if sql else pa.table({})
        stats.execute_s += time.perf_counter() - t1
        return out

    # -- metadata -------------------------------------------------------------------------
    def _metadata(self, stmt: Show | Describe) -> pd.DataFrame:
        store = self._store
        if isinstance(stmt, Describe):
            table = self._resolve(
                exp.Table(
                    this=exp.to_identifier(stmt.table),
                    db=exp.to_identifier(stmt.database) if stmt.database else None,
                )
            )
            rows = [(d, "varchar", "DIMENSION") for d in table.schema.dimensions]
            rows.append((MEASURE_NAME, "varchar", "MEASURE_NAME"))
            rows.append(("time", "timestamp", "TIMESTAMP"))
            from tsstore.query.dialect import MEASURE_VALUE_COLUMNS

            rows += [
                (m, t.value.lower(), "MEASURE_VALUE" if m in MEASURE_VALUE_COLUMNS else "MULTI")
                for m, t in table.schema.measures.items()
            ]
            return pd.DataFrame(rows, columns=["Column", "Type", "Timestream attribute type"])
        kind = stmt.kind.upper()
        if kind == "DATABASES":
            names = store.list_databases()
            return pd.DataFrame({"Database": _like(names, stmt.like)})
        if kind == "TABLES":
            db = stmt.database or store.default_database
            if db is None:
                raise QueryError("SHOW TABLES needs a database: SHOW TABLES FROM db")
            try:
                names = store.database(db).list_tables()
            except NotFoundError as e:
                raise QueryError(str(e)) from e
            return pd.DataFrame({"Table": _like(names, stmt.like)})
        if kind == "MEASURES":
            if stmt.table is None:
                raise QueryError("SHOW MEASURES needs a table: SHOW MEASURES FROM db.table")
            table = self._resolve(
                exp.Table(
                    this=exp.to_identifier(stmt.table),
                    db=exp.to_identifier(stmt.database) if stmt.database else None,
                )
            )
            rows = _measures(table)
            keep = set(_like([r[0] for r in rows], stmt.like))
            rows = [r for r in rows if r[0] in keep]
            return pd.DataFrame(rows, columns=["measure_name", "data_type", "dimensions"])
        raise QueryError(f"SHOW {stmt.kind} is not supported; use DATABASES, TABLES or MEASURES")


def _pages(table: pa.Table, max_rows: int, stats: QueryStats) -> Iterator[QueryPage]:
    token = uuid.uuid4().hex
    n = table.num_rows
    for page, start in enumerate(range(0, max(n, 1), max_rows)):
        last = start + max_rows >= n
        yield QueryPage(
            _to_pandas(table.slice(start, max_rows)),
            None if last else f"{token}:{page + 1}",
            stats,
        )


def _pruning(table: Table, scan: ScanPlan) -> str:
    """What a scan would read, from metadata only: magnetic partitions kept and pruned by
    time, memory runs, and an upper bound of the rows and decoded bytes before the series
    and row filters."""
    lo, hi = (None if t is None else int(t.value) for t in scan.time_range)
    snap = table.magnetic.snapshot()
    total = len(snap.manifest_partitions())
    kept = snap.partitions((lo, hi))
    mag_rows = sum(p.rows for p in kept)
    view = table.memory.view()
    floor = snap.watermark if lo is None else max(lo, snap.watermark)
    runs = [r for r in view.runs if r.tmax >= floor and (hi is None or r.tmin < hi)]
    mem_rows = sum(r.live_rows for r in runs)
    measures = scan.measures if scan.measures is not None else list(table.schema.measures)
    row_bytes = 12 + sum(table.schema.measures[m].dtype.itemsize for m in measures)
    if scan.newest:
        return (
            f"newest time of each series from metadata (segment indexes of {len(kept)} of "
            f"{total} partitions, the last row per series of {len(runs)} memory runs)"
        )
    return (
        f"magnetic: {len(kept)} of {total} partitions (pruned {total - len(kept)} by time), "
        f"<= {mag_rows:,} rows; memory: {len(runs)} of {len(view.runs)} runs, "
        f"<= {mem_rows:,} rows; <= {(mag_rows + mem_rows) * row_bytes / 1e6:.2f} MB to scan "
        "(decoded, before series and row filters)"
    )


def _column_types(tables: Mapping[str, Table]) -> dict[str, dict[str, str]]:
    """The Trino type of every column of each scan alias (for the translation's typing)."""
    out: dict[str, dict[str, str]] = {}
    for alias, table in tables.items():
        cols = dict.fromkeys(table.schema.dimensions, "VARCHAR")
        cols[MEASURE_NAME] = "VARCHAR"
        cols["time"] = "TIMESTAMP"
        cols.update({m: t.value for m, t in table.schema.measures.items()})
        out[alias] = cols
    return out


def _narrowed(
    scan: ScanPlan, table: Table, keys: tuple[tuple[str, str, str], ...], result: pa.Table
) -> ScanPlan:
    """``scan`` read only where a derived table's ``result`` lets its rows join: for each
    key ``(scan alias, column, derived column)``, ``time`` within the range of the values it
    equals, a dimension among them (:func:`tsstore.query.derived.allowed`)."""
    lo, hi = (None if t is None else t.value for t in scan.time_range)
    where = dict(scan.where)
    changed = False
    for alias, column, other in keys:
        if alias != scan.alias:
            continue
        if column.lower() == "time":
            bounds = allowed(result, other, is_time=True)
            if bounds is None:
                continue
            a, b = bounds[0], bounds[1] + 1  # closed -> half-open
            lo = a if lo is None else max(lo, a)
            hi = b if hi is None else min(hi, b)
            hi = max(hi, lo)  # nothing can match: an empty range
            changed = True
        elif column in table.schema.dimensions:
            values = allowed(result, other, is_time=False)
            if values is None:
                continue
            if column in where:
                before = set(where[column])
                values = [v for v in values if v in before]
            where[column] = values
            changed = True
    if not changed:
        return scan
    rng = tuple(None if t is None else pd.Timestamp(t, tz="UTC") for t in (lo, hi))
    return dataclasses.replace(scan, time_range=rng, where=where)


def _split_derived(
    ast: exp.Expression,
    expected: list[str],
    scans: list[ScanPlan],
    scope_of: Mapping[str, int | None],
    now: pd.Timestamp,
) -> tuple[exp.Expression, list[_Derived]]:
    """The planned query with each derived table run first (those named ``expected``, found
    before planning) replaced by its result's name, and those derived tables (their keys
    still name the outer tables as written)."""
    if not expected:
        return ast, []
    found = derived_joins(ast)
    if [d.alias for d in found] != expected:  # not expected: run it as one query
        return ast, []
    derived = []
    for i, d in enumerate(found):
        name = f"__tsstore_d{i}"
        d.node.replace(
            exp.Table(
                this=exp.to_identifier(name),
                alias=exp.TableAlias(this=exp.to_identifier(d.alias, quoted=True)),
            )
        )
        if d.cte is not None:
            with_ = d.cte.parent
            d.cte.pop()
            if with_ is not None and not with_.expressions:
                with_.pop()
        query = d.query.pop() if d.query.parent is not None else d.query
        own = [s for s in scans if scope_of[s.alias] == i]
        sql = to_duckdb_sql(query, now=now, name_columns=True)
        derived.append(_Derived(name, d.alias, query, sql, own, d.keys))
    return ast, derived


def _kernel_sql(
    ast: exp.Expression,
    scans: list[ScanPlan],
    resolved: dict[str, Table],
    now: pd.Timestamp,
    *,
    copy: bool,
) -> tuple[str, list[ScanPlan]]:
    """The single-stage plan's kernel SQL, grouping and partitioning by series keys where it
    can (:mod:`tsstore.query.serieskey`), and the scans, those that must carry the key marked.
    ``copy=False`` consumes ``ast``."""
    tree = to_duckdb(ast, now=now, name_columns=True, copy=copy)
    dims = {}
    for scan in scans:
        all_dims = list(resolved[scan.alias].schema.dimensions)
        if not scan.newest and (scan.dimensions is None or set(all_dims) <= set(scan.dimensions)):
            dims[scan.alias] = all_dims
    keyed = use_series_keys(tree, dims)
    sql = duckdb_sql(tree)
    return sql, [dataclasses.replace(s, series_key=True) if s.alias in keyed else s for s in scans]


def _time_limit(
    ast: exp.Expression, scans: list[ScanPlan], resolved: dict[str, Table]
) -> TimeLimit | None:
    """The query's LIMIT over time buckets of its one scan, if it is one."""
    if len(scans) != 1:
        return None
    table = resolved[scans[0].alias]
    columns = [*table.schema.dimensions, MEASURE_NAME, "time", *table.schema.measures]
    return time_limit(ast, {scans[0].alias: columns})


def _empty_scan(table: Table, scan: ScanPlan) -> pa.Table:
    """A scan of no rows with the columns of ``scan`` (the schema of its parts)."""
    epoch = (pd.Timestamp(0, tz="UTC"), pd.Timestamp(0, tz="UTC"))
    if scan.newest:
        return table.latest_times(epoch, dimensions=scan.dimensions)
    return table.scan(epoch, measures=scan.measures, dimensions=scan.dimensions)


def _result_to_pandas(result: tuple[pa.Table, Any]) -> pd.DataFrame:
    return _to_pandas(result[0])


def _kernel(sql: str, tables: dict[str, pa.Table], resolved: list[Table]) -> pa.Table:
    """``sql`` over ``tables`` on this thread's kernel connection; errors as user messages."""
    try:
        return kernel.run(sql, tables)
    except duckdb.Error as e:
        raise QueryError(_explain_error(e, resolved)) from e


def _cast_like(table: pa.Table, meta: pa.Table) -> pa.Table:
    """A distributed result with the single-stage result's column types where they differ."""
    try:
        return table.cast(meta.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return table


def _explain_error(e: Exception, tables: list[Table]) -> str:
    """A kernel error as a user message; unknown columns get "did you mean"."""
    msg = str(e).split("\n")[0]
    m = (
        re.search(r'[Cc]olumn "([^"]+)" not found', msg)
        or re.search(r'Referenced column "([^"]+)"', msg)
        or re.search(r'does not have a column named "([^"]+)"', msg)  # alias.column
    )
    if m:
        names: list[str] = []
        for t in tables:
            names += ["time", MEASURE_NAME, *t.schema.dimensions, *t.schema.measures]
        close = difflib.get_close_matches(m.group(1), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {sorted(set(names))}"
        return f"column {m.group(1)!r} does not exist{hint}"
    return f"query failed: {msg}"


def _measures(table: Table) -> list[tuple[str, str, list[str]]]:
    """Timestream's SHOW MEASURES: ``(measure_name, data_type, dimensions)`` per measure name.

    Single-measure records are listed by their ``measure_name`` with the type of their value
    column (``measure_value::double`` ...); multi-measure records with a ``measure_name`` as
    ``multi``; multi-measure rows written without one (a DataFrame) by their measure columns.
    """
    dims = list(table.schema.dimensions)
    single = {m: t for m, t in table.schema.measures.items() if m.startswith("measure_value::")}
    multi = [m for m in table.schema.measures if m not in single]
    data = table.scan(measures=list(table.schema.measures)).to_pandas()
    rows: list[tuple[str, str, list[str]]] = []
    seen: set[tuple[str, str]] = set()
    names = data[MEASURE_NAME]
    for col, mtype in single.items():
        for name in sorted(names[data[col].notna() & names.notna()].unique()):
            seen.add((name, mtype.value.lower()))
    if multi:
        has_multi = data[multi].notna().any(axis=1)
        for name in sorted(names[has_multi & names.notna()].unique()):
            seen.add((name, "multi"))
        unnamed = has_multi & names.isna()
        for m in multi:
            if data.loc[unnamed, m].notna().any():
                seen.add((m, table.schema.measures[m].value.lower()))
    rows = [(name, dtype, dims) for name, dtype in sorted(seen)]
    return rows


def _like(names: list[str], pattern: str | None) -> list[str]:
    if pattern is None:
        return sorted(names)
    rx = re.compile(
        "^"
        + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        + "$"
    )
    return sorted(n for n in names if rx.match(n))


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Where) else node
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _column_name(node: exp.Expression) -> str | None:
    return node.name if isinstance(node, exp.Column) else None


def _is_constant(node: exp.Expression) -> bool:
    return not any(True for _ in node.find_all(exp.Column)) and not node.find(exp.Select)


_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def _pushdown(
    where: exp.Expression, table: Table, now: pd.Timestamp, engine: QueryEngine
) -> tuple[
    tuple[pd.Timestamp | None, pd.Timestamp | None], dict[str, list[str]], tuple[RowFilter, ...]
]:
    """Time range ``[lo, hi)``, dimension filters and measure comparisons implied by the
    WHERE's conjuncts."""
    lo: pd.Timestamp | None = None
    hi: pd.Timestamp | None = None
    dims: dict[str, list[str]] = {}
    filters: list[RowFilter] = []
    numeric = {
        m for m, t in table.schema.measures.items() if t in (MeasureType.DOUBLE, MeasureType.BIGINT)
    }
    keys = {*table.schema.dimensions, MEASURE_NAME}
    tick = pd.Timedelta(microseconds=1)  # the kernel compares at µs or ns: widen by a µs

    def value(node: exp.Expression) -> pd.Timestamp | None:
        quick = _time_constant(node, now)
        if quick is not None:
            return quick
        try:
            sql = to_duckdb_sql(exp.select(node.copy()), now=now)
            rows = engine._connection().sql(sql).fetchall()
        except Exception:  # not a time constant we can evaluate: no pruning from it
            return None
        if len(rows) != 1 or rows[0][0] is None:
            return None
        try:
            return to_utc_timestamp(rows[0][0])
        except Exception:
            return None

    for c in _conjuncts(where):
        if isinstance(c, exp.Between) and _column_name(c.this) == "time":
            a, b = value(c.args["low"]), value(c.args["high"])
            if a is not None:
                lo = a - tick if lo is None else max(lo, a - tick)
            if b is not None:
                hi = b + tick if hi is None else min(hi, b + tick)
            continue
        if type(c) in _FLIP:
            left, right, kind = c.left, c.right, type(c)
            if _column_name(right) is not None and _column_name(left) is None:
                left, right, kind = right, left, _FLIP[kind]
            name = _column_name(left)
            if name == "time" and _is_constant(right):
                v = value(right)
                if v is None:
                    continue
                if kind in (exp.GT, exp.GTE, exp.EQ):
                    lo = v - tick if lo is None else max(lo, v - tick)
                if kind in (exp.LT, exp.LTE, exp.EQ):
                    hi = v + tick if hi is None else min(hi, v + tick)
            elif (
                name in keys
                and kind is exp.EQ
                and isinstance(right, exp.Literal)
                and right.is_string
            ):
                dims[name] = sorted(set(dims.get(name, [right.this])) & {right.this})
            elif name in numeric and (number := _number(right)) is not None:
                filters.append(RowFilter(name, _OPS[kind], number))
        else:
            allowed = _allowed_values(c, keys)
            if allowed is not None:
                name, new = allowed
                dims[name] = sorted(new & set(dims[name])) if name in dims else sorted(new)
    return (lo, hi), dims, tuple(filters)


_OPS = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=", exp.EQ: "="}


def _number(node: exp.Expression) -> float | int | None:
    """The value of a numeric literal (``90``, ``-1.5``), else None."""
    sign = 1
    while isinstance(node, exp.Paren | exp.Neg):
        if isinstance(node, exp.Neg):
            sign = -sign
        node = node.this
    if not isinstance(node, exp.Literal) or node.is_string:
        return None
    try:
        value = int(node.this)
    except ValueError:
        try:
            value = float(node.this)
        except ValueError:
            return None
    return sign * value


def _allowed_values(node: exp.Expression, keys: set[str]) -> tuple[str, set[str]] | None:
    """``(column, values)`` when ``node`` restricts one key column to string values:
    ``c IN ('a', 'b')``, ``c = 'a'`` or an OR of those on the same column (TSBS writes
    ``hostname = 'a' OR hostname = 'b'``)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.In) and _column_name(node.this) in keys:
        vals = node.expressions
        if vals and all(isinstance(v, exp.Literal) and v.is_string for v in vals):
            return node.this.name, {v.this for v in vals}
        return None
    if isinstance(node, exp.EQ):
        left, right = node.left, node.right
        if _column_name(right) in keys and _column_name(left) is None:
            left, right = right, left
        if _column_name(left) in keys and isinstance(right, exp.Literal) and right.is_string:
            return left.name, {right.this}
        return None
    if isinstance(node, exp.Or):
        a, b = _allowed_values(node.left, keys), _allowed_values(node.right, keys)
        if a is not None and b is not None and a[0] == b[0]:
            return a[0], a[1] | b[1]
    return None


_UNIT_NS = {"NANOSECOND": 1, **TRUNC_NS}


def _time_constant(node: exp.Expression, now: pd.Timestamp) -> pd.Timestamp | None:
    """The value of the usual time constants, computed here without a kernel round trip:
    ``now()``, ``ago(d)``, ``from_iso8601_timestamp('...')``, timestamp strings and casts,
    and those plus or minus a duration. None for anything else (the kernel evaluates it)."""

    def duration(n: exp.Expression) -> pd.Timedelta | None:
        if isinstance(n, exp.Interval) and n.unit is not None:
            unit = n.unit.name.upper().rstrip("S")
            if unit in _UNIT_NS and isinstance(n.this, exp.Literal):
                try:
                    return pd.Timedelta(int(float(n.this.this) * _UNIT_NS[unit]), unit="ns")
                except ValueError:
                    return None
        return None

    def ts(n: exp.Expression) -> pd.Timestamp | None:
        while isinstance(n, exp.Paren):
            n = n.this
        name = n.name.lower() if isinstance(n, exp.Func) else ""
        if isinstance(n, exp.CurrentTimestamp) or (
            isinstance(n, exp.Anonymous) and name in ("now", "current_timestamp")
        ):
            return now
        if isinstance(n, exp.Anonymous) and n.name.lower() == "ago" and len(n.expressions) == 1:
            d = duration(n.expressions[0])
            return None if d is None else now - d
        if isinstance(n, exp.Literal) and n.is_string:  # compared with time: a timestamp
            return _timestamp(n.this)
        if isinstance(n, exp.FromISO8601Timestamp):
            arg = n.this
            if isinstance(arg, exp.Literal) and arg.is_string:
                return _timestamp(arg.this)
        if (
            isinstance(n, exp.Cast | exp.TryCast)
            and isinstance(n.this, exp.Literal)
            and n.this.is_string
            and n.to.is_type(*exp.DataType.TEMPORAL_TYPES)
        ):
            return _timestamp(n.this.this)
        if isinstance(n, exp.Add | exp.Sub):
            base, d = ts(n.left), duration(n.right)
            if base is not None and d is not None:
                return base + d if isinstance(n, exp.Add) else base - d
        return None

    return ts(node)


def _timestamp(text: str) -> pd.Timestamp | None:
    try:
        return to_utc_timestamp(text)
    except Exception:
        return None


def _named_columns(ast: exp.Expression) -> set[str] | None:
    """Names of the columns a query names, in one walk (None when it needs them all: ``*``)."""
    names: set[str] = set()
    for node in ast.walk():
        if isinstance(node, exp.Column):
            names.add(node.name)
        elif isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            return None  # count(*) names no column; SELECT * and t.* need every column
    return names


def _referenced(named: set[str] | None, columns: list[str]) -> list[str] | None:
    """The ``columns`` among ``named`` (None: every column, for ``*``)."""
    return None if named is None else [m for m in columns if m in named]


#: Strings come back as pandas' ``str`` dtype (Arrow-backed; the default in pandas 3): the
#: values stay in Arrow's buffers, where ``object`` would build a Python str per value (80 ms
#: for the 4M dimension values of a 410,000-row ``SELECT *``, against 10 ms).
STRING_DTYPE: Final = pd.StringDtype("pyarrow", na_value=np.nan)
_STRING_TYPES: Final = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The kernel's Arrow result as pandas: timestamps tz-aware UTC, nullable where null.

    Beyond Arrow's default conversion: an integer column with nulls is pandas' nullable
    ``Int64`` (exact beyond 2**53, not float64), an interval without months (Timestream's
    ``interval day to second``) is ``timedelta64[ns]`` (not ``DateOffset``), and timestamps
    nested in lists and structs (a timeseries) are tz-aware ``pd.Timestamp`` (not integers).
    Flat results without those pay nothing more than a scan of the schema.
    """
    strings = any(f.type in _STRING_TYPES for f in table.schema)  # a mapper costs 0.1 ms
    df = table.to_pandas(types_mapper=_STRING_TYPES.get if strings else None)
    for i, dtype in enumerate(df.dtypes):  # the dtypes alone: no column is boxed to look
        if pd.api.types.is_datetime64_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype):
            df.isetitem(i, df.iloc[:, i].dt.tz_localize("UTC"))
    for i, fld in enumerate(table.schema):
        kind = fld.type
        if pa.types.is_integer(kind):
            column = table.column(i)
            if column.null_count and pa.types.is_signed_integer(kind):
                df.isetitem(i, column.to_pandas(types_mapper={kind: pd.Int64Dtype()}.get))
        elif pa.types.is_interval(kind):
            converted = _interval_to_timedelta(table.column(i))
            if converted is not None:
                df.isetitem(i, converted)
        elif pa.types.is_nested(kind) and _has_nested_timestamp(kind):
            df.isetitem(i, df.iloc[:, i].map(lambda v, t=kind: _nested_timestamps(v, t)))
    return df


_DAY_NS = 86_400_000_000_000


def _interval_to_timedelta(column: pa.ChunkedArray) -> pd.Series | None:
    """A month_day_nano interval column as ``timedelta64[ns]`` (a day is 24 h); None when a
    value has months (no fixed length)."""
    layout = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
    parts = []
    for chunk in column.chunks:
        buf = chunk.buffers()[1]
        values = (
            np.frombuffer(buf, dtype=layout)[chunk.offset : chunk.offset + len(chunk)]
            if buf is not None
            else np.zeros(len(chunk), dtype=layout)
        )
        valid = ~np.asarray(chunk.is_null(), dtype=bool)
        if values["months"][valid].any():
            return None
        ns = values["days"].astype("i8") * _DAY_NS + values["nanos"]
        parts.append(pa.array(ns, type=pa.duration("ns"), mask=~valid))
    if not parts:
        return pd.Series([], dtype="timedelta64[ns]")
    return pa.chunked_array(parts, type=pa.duration("ns")).to_pandas()


def _has_nested_timestamp(kind: pa.DataType) -> bool:
    if pa.types.is_timestamp(kind):
        return True
    return pa.types.is_nested(kind) and any(
        _has_nested_timestamp(kind.field(j).type) for j in range(kind.num_fields)
    )


def _nested_timestamps(value: Any, kind: pa.DataType) -> Any:
    """``value`` (Arrow's pandas form of a nested ``kind``) with its timestamps, which Arrow
    gives as integers, as ``pd.Timestamp`` (UTC)."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    if pa.types.is_timestamp(kind):
        if isinstance(value, pd.Timestamp):
            return value
        ts = pd.Timestamp(value, unit=kind.unit) if isinstance(value, int) else pd.Timestamp(value)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if pa.types.is_struct(kind):
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for j in range(kind.num_fields):
            sub = kind.field(j)
            if sub.name in out and _has_nested_timestamp(sub.type):
                out[sub.name] = _nested_timestamps(out[sub.name], sub.type)
        return out
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        item = kind.value_type
        if pa.types.is_timestamp(item):
            return (
                pd.DatetimeIndex(value).tz_localize("UTC").to_numpy(dtype=object)
                if len(value) and not isinstance(value[0], pd.Timestamp)
                else value
            )
        return (
            type(value)([_nested_timestamps(v, item) for v in value])
            if isinstance(value, list)
            else _object_array([_nested_timestamps(v, item) for v in value])
        )
    return value


def _object_array(items: list[Any]) -> Any:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
