"""TSBS query benchmark of tsstore: the 15 ``cpu-only`` query types in Timestream SQL.

What it does (``bench/README.md``, section "Queries (TSBS)"):

1. Generates TSBS ``cpu-only`` data (variant ``tsbs``: integer fields, aligned 10 s clock) and
   loads it into tsstore, once per tier: a store whose rows stay in the memory tier, and a
   store whose rows were all migrated to the magnetic tier by ``store.run_lifecycle()``.
2. Draws ``--windows`` random windows (and random hosts) per query type from a fixed seed;
   every system answers the very same windows.
3. Runs each query type as Timestream SQL through ``store.query`` and, on the same data, in the
   peers: DuckDB (file database, the frame sorted by hostname, time), pandas (vectorised
   groupby on the in-memory frame), ArcticDB (``QueryBuilder``, the types it can express),
   chDB (in-process ClickHouse, ``MergeTree ORDER BY (hostname, time)``, ClickHouse SQL) and
   the server peers of ``bench/servers.py`` (VictoriaMetrics: MetricsQL over HTTP; InfluxDB
   1.x: InfluxQL over HTTP; ClickHouse server 18.16: SQL over HTTP; PostgreSQL 15: SQL through
   psycopg), each started once for the run on 127.0.0.1 and stopped at its end.
   Systems are interleaved per window (tsstore-memory, tsstore-magnetic, duckdb, pandas,
   arcticdb, chdb, servers), after one untimed warm-up per type and system.
4. Checks every tsstore and peer result against DuckDB's (rows sorted, values within a relative
   1e-9; times compared as UTC nanoseconds, so a bucket label's type does not matter).
5. Reports median and p95 latency per type and tier, the ratio tsstore / best peer, the targets,
   tsstore's time per stage (``store.last_query_stats``) and a cProfile of two queries.

Run::

    python bench/bench_queries.py --scale 100 --days 1 --windows 10
    python bench/bench_queries.py --quick            # scale 10, 3 windows
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import pstats
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from common import (
    import_tsstore,
    machine_info,
    measure_interleaved,
    median,
    print_table,
    report_checks,
    run_interleaved,
    verdict,
    write_results,
)
from peers import SERVER_PEERS, ChDBPeer, DuckDBPeer, missing_peers
from tsbs import FIELDS, TAGS, generate_cpu

#: First timestamp of the generated data (the TSBS default).
START = pd.Timestamp("2016-01-01", tz="UTC")
#: Tiers tsstore is measured on.
#: ``magnetic-dask`` is the magnetic tier queried through the distributed plan on Dask's threads.
TIERS: tuple[str, ...] = ("memory", "magnetic", "magnetic-dask")
#: Peers this script knows how to query.
KNOWN_PEERS: tuple[str, ...] = ("duckdb", "pandas", "arcticdb", "chdb", *SERVER_PEERS)
#: The peer every result is checked against.
REFERENCE = "duckdb"
#: Relative tolerance of the correctness check.
RTOL = 1e-9
#: TSBS's "light" query types (the memory tier's 2 ms target applies to them).
LIGHT: frozenset[str] = frozenset(
    {
        "single-groupby-1-1-1",
        "single-groupby-1-1-12",
        "single-groupby-1-8-1",
        "single-groupby-5-1-1",
        "single-groupby-5-1-12",
        "single-groupby-5-8-1",
        "cpu-max-all-1",
        "cpu-max-all-8",
        "high-cpu-1",
    }
)
#: Absolute latency targets in ms, per (tier, query type), from the SQL engine issue.
ABS_TARGETS_MS: dict[tuple[str, str], float] = {
    **{("memory", q): 2.0 for q in LIGHT},
    ("memory", "double-groupby-all"): 10.0,
    ("memory", "lastpoint"): 1.0,
    ("magnetic", "double-groupby-1"): 25.0,
    ("magnetic-dask", "double-groupby-1"): 25.0,
}
#: Full-day scan throughput target (points/s), magnetic tier.
SCAN_TARGET_POINTS_S = 100e6


# ------------------------------------------------------------------------------ query types


@dataclass(frozen=True, slots=True)
class QueryType:
    """One TSBS query type: its family, hosts, metrics and window length."""

    name: str
    kind: str  # single-groupby, cpu-max-all, double-groupby, high-cpu, lastpoint, orderby-limit
    n_hosts: int  # 0: every host
    metrics: tuple[str, ...]
    window: pd.Timedelta | None  # None: no time range (lastpoint)


def _query_types() -> list[QueryType]:
    """The 15 TSBS ``cpu-only`` query types, in TSBS's order."""
    h1, h12, h8 = pd.Timedelta("1h"), pd.Timedelta("12h"), pd.Timedelta("8h")
    f1, f5 = FIELDS[:1], FIELDS[:5]
    out = [
        QueryType(f"single-groupby-{m}-{h}-{w}", "single-groupby", h, fs, win)
        for m, fs in ((1, f1), (5, f5))
        for h, w, win in ((1, 1, h1), (1, 12, h12), (8, 1, h1))
    ]
    out += [
        QueryType("cpu-max-all-1", "cpu-max-all", 1, FIELDS, h8),
        QueryType("cpu-max-all-8", "cpu-max-all", 8, FIELDS, h8),
        QueryType("double-groupby-1", "double-groupby", 0, FIELDS[:1], h12),
        QueryType("double-groupby-5", "double-groupby", 0, FIELDS[:5], h12),
        QueryType("double-groupby-all", "double-groupby", 0, FIELDS, h12),
        QueryType("high-cpu-1", "high-cpu", 1, FIELDS, h12),
        QueryType("high-cpu-all", "high-cpu", 0, FIELDS, h12),
        QueryType("lastpoint", "lastpoint", 0, FIELDS, None),
        QueryType("groupby-orderby-limit", "orderby-limit", 0, FIELDS[:1], h1),
    ]
    return out


QUERY_TYPES: dict[str, QueryType] = {q.name: q for q in _query_types()}


@dataclass(frozen=True, slots=True)
class Window:
    """One random instance of a query type: ``[start, end)`` and the hosts it names."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    hosts: tuple[str, ...]


def draw_windows(
    qt: QueryType, n: int, *, seed: int, scale: int, t0: pd.Timestamp, t1: pd.Timestamp
) -> list[Window]:
    """``n`` windows of ``qt`` inside ``[t0, t1)``, from a stream of its own (seed, type).

    As TSBS's ``RandWindow``: the start is uniform in ``[t0, t1 - window)`` (here at microsecond
    resolution), the end is start + window; hosts are distinct, uniform among ``host_0`` ..
    ``host_<scale-1>``. ``groupby-orderby-limit`` keeps only the end (``time < end``).
    """
    idx = list(QUERY_TYPES).index(qt.name)
    rng = np.random.default_rng([seed, idx])
    out = []
    for _ in range(n):
        hosts: tuple[str, ...] = ()
        if qt.n_hosts:
            if qt.n_hosts > scale:
                raise ValueError(f"{qt.name} needs {qt.n_hosts} hosts; scale is {scale}")
            picks = rng.choice(scale, size=qt.n_hosts, replace=False)
            hosts = tuple(f"host_{int(i)}" for i in picks)
        if qt.window is None:
            out.append(Window(None, None, hosts))
            continue
        room_us = (t1 - t0 - qt.window) // pd.Timedelta("1us")
        if room_us <= 0:
            raise ValueError(f"{qt.name} needs more than {qt.window} of data")
        start = t0 + pd.Timedelta(int(rng.integers(0, room_us)), "us")
        end = start + qt.window
        out.append(Window(None if qt.kind == "orderby-limit" else start, end, hosts))
    return out


def _lit(ts: pd.Timestamp) -> str:
    """A timestamp as TSBS writes it in Timestream SQL: ``'YYYY-MM-DD HH:MM:SS.ffffff'`` (UTC)."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


def _hosts_sql(w: Window) -> str:
    return "hostname IN (" + ", ".join(f"'{h}'" for h in w.hosts) + ")"


def _where(w: Window, time_lit: Callable[[pd.Timestamp], str], extra: Sequence[str] = ()) -> str:
    conds = list(extra)
    if w.hosts:
        conds.append(_hosts_sql(w))
    if w.start is not None:
        conds.append(f"time >= {time_lit(w.start)}")
    if w.end is not None:
        conds.append(f"time < {time_lit(w.end)}")
    return " AND ".join(conds)


def _sql(qt: QueryType, w: Window, dialect: str) -> str:
    """The query in Timestream SQL (``dialect="timestream"``), DuckDB SQL (``"duckdb"``) or
    ClickHouse SQL (``"clickhouse"``).

    Timestream: ``bin(time, 1m)`` and string time literals compared with ``time``, as TSBS's
    Timestream generator writes them; DuckDB: ``time_bucket`` and ``TIMESTAMPTZ`` literals;
    ClickHouse: ``toStartOfMinute`` / ``toStartOfHour`` (labels typed ``DateTime``, UTC) and
    ``toDateTime64('...', 6, 'UTC')`` literals. All use the wide (multi-measure) table ``cpu``,
    so TSBS's single-measure ``CASE WHEN measure_name = ...`` pivots become plain columns.
    """
    if dialect not in ("timestream", "duckdb", "clickhouse"):
        raise ValueError(f"unknown dialect {dialect!r}")
    ts = dialect == "timestream"
    ch = dialect == "clickhouse"

    def time_lit(t: pd.Timestamp) -> str:
        if ch:
            return f"toDateTime64('{_lit(t)}', 6, 'UTC')"
        return f"'{_lit(t)}'" if ts else f"TIMESTAMPTZ '{_lit(t)}+00'"

    def bucket(unit: str) -> str:
        if ts:
            return f"bin(time, 1{unit[0]})"
        if ch:
            return "toStartOfMinute(time)" if unit == "minute" else "toStartOfHour(time)"
        return f"time_bucket(INTERVAL '1 {unit}', time)"

    if qt.kind in ("single-groupby", "cpu-max-all"):
        unit, label = ("minute", "minute") if qt.kind == "single-groupby" else ("hour", "hour")
        aggs = ", ".join(f"max({m}) AS max_{m}" for m in qt.metrics)
        return (
            f"SELECT {bucket(unit)} AS {label}, {aggs} FROM cpu "
            f"WHERE {_where(w, time_lit)} GROUP BY 1 ORDER BY 1"
        )
    if qt.kind == "double-groupby":
        aggs = ", ".join(f"avg({m}) AS mean_{m}" for m in qt.metrics)
        return (
            f"SELECT {bucket('hour')} AS hour, hostname, {aggs} FROM cpu "
            f"WHERE {_where(w, time_lit)} GROUP BY 1, 2 ORDER BY 1, 2"
        )
    if qt.kind == "high-cpu":
        return f"SELECT * FROM cpu WHERE {_where(w, time_lit, ['usage_user > 90'])}"
    if qt.kind == "lastpoint":
        # The join on max(time) per host (TSBS's Timestream form is this join as a CTE; its
        # TimescaleDB form, DISTINCT ON (hostname) ... ORDER BY hostname, time DESC, takes
        # DuckDB about 100x longer). ClickHouse runs the same join (INNER JOIN, hash join).
        return (
            "SELECT c.* FROM cpu c JOIN (SELECT hostname, max(time) AS max_time FROM cpu "
            "GROUP BY hostname) m ON c.hostname = m.hostname AND c.time = m.max_time "
            "ORDER BY c.hostname"
        )
    if qt.kind == "orderby-limit":
        return (
            f"SELECT {bucket('minute')} AS minute, max(usage_user) AS max_usage_user FROM cpu "
            f"WHERE {_where(w, time_lit)} GROUP BY 1 ORDER BY 1 DESC LIMIT 5"
        )
    raise ValueError(f"unknown query kind {qt.kind!r}")


def timestream_sql(qt: QueryType, w: Window) -> str:
    """The query as tsstore (Timestream SQL) runs it."""
    return _sql(qt, w, "timestream")


def duckdb_sql(qt: QueryType, w: Window) -> str:
    """The query as DuckDB runs it."""
    return _sql(qt, w, "duckdb")


def clickhouse_sql(qt: QueryType, w: Window) -> str:
    """The query as chDB (ClickHouse) runs it."""
    return _sql(qt, w, "clickhouse")


# ------------------------------------------------------------------------------- systems


class PandasBaseline:
    """Vectorised pandas on the in-memory frame (sorted by time; tags as ``category``).

    Time ranges are row slices found by ``searchsorted`` on the sorted times; buckets are
    integer divisions of the nanosecond times; aggregates are ``groupby`` on them.
    """

    name = "pandas"

    def __init__(self, df: pd.DataFrame) -> None:
        self.version = pd.__version__
        cats = {t: df[t].astype("category") for t in TAGS}
        self.df = df.assign(**cats)
        self.t = pd.DatetimeIndex(self.df["time"]).asi8
        if not (np.diff(self.t) >= 0).all():
            raise ValueError("the frame must be sorted by time")

    def _slice(self, w: Window) -> pd.DataFrame:
        i = 0 if w.start is None else int(np.searchsorted(self.t, w.start.value, "left"))
        j = len(self.t) if w.end is None else int(np.searchsorted(self.t, w.end.value, "left"))
        sub = self.df.iloc[i:j]
        if w.hosts:
            sub = sub[sub["hostname"].isin(w.hosts)]
        return sub

    @staticmethod
    def _bucket(sub: pd.DataFrame, unit: str) -> np.ndarray:
        width = pd.Timedelta(f"1{unit}").value
        return pd.DatetimeIndex(sub["time"]).asi8 // width * width

    @staticmethod
    def _times(ns: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(ns.astype("M8[ns]")).tz_localize("UTC")

    def run(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query; a frame with the same columns as the SQL's."""
        sub = self._slice(w)
        if qt.kind in ("single-groupby", "cpu-max-all", "orderby-limit"):
            label = "hour" if qt.kind == "cpu-max-all" else "minute"
            key = self._bucket(sub, "h" if label == "hour" else "min")
            g = sub[list(qt.metrics)].groupby(key).max()
            if qt.kind == "orderby-limit":
                g = g.iloc[::-1].iloc[:5]
            out = g.add_prefix("max_").reset_index(drop=True)
            out.insert(0, label, self._times(g.index.to_numpy()))
            return out
        if qt.kind == "double-groupby":
            key = self._bucket(sub, "h")
            g = (
                sub[list(qt.metrics)]
                .groupby([key, sub["hostname"]], observed=True, sort=True)
                .mean()
                .add_prefix("mean_")
            )
            out = g.reset_index(drop=True)
            out.insert(0, "hostname", g.index.get_level_values(1))
            out.insert(0, "hour", self._times(g.index.get_level_values(0).to_numpy()))
            return out
        if qt.kind == "high-cpu":
            return sub[sub["usage_user"].to_numpy() > 90]
        if qt.kind == "lastpoint":
            last = sub.drop_duplicates("hostname", keep="last")  # rows are in time order
            return last.sort_values("hostname")
        raise ValueError(f"unknown query kind {qt.kind!r}")

    def close(self) -> None:
        """Drop the frame."""
        self.df = pd.DataFrame()


class ArcticDBBaseline:
    """ArcticDB (LMDB) with ``QueryBuilder``: one symbol, the frame indexed by time.

    ``date_range`` (inclusive, so ``end - 1 ns``) selects the window, ``isin`` the hosts,
    ``resample(...).agg`` the per-minute or per-hour maxima. QueryBuilder cannot group by time
    bucket and host together (double-groupby) nor pick the last row per group (lastpoint):
    those types are not run.
    """

    name = "arcticdb"
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "double-groupby": "QueryBuilder cannot group by (time bucket, hostname): resample and "
        "groupby do not combine",
        "lastpoint": "QueryBuilder has no last/first aggregation and cannot group on the index",
    }

    def __init__(self, df: pd.DataFrame, workdir: Path) -> None:
        import arcticdb

        self.version = str(arcticdb.__version__)
        self.path = workdir / "arcticdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self._ac = arcticdb.Arctic(f"lmdb://{self.path}?map_size=4GB")
        self._lib = self._ac.get_library("tsbs", create_if_missing=True)
        self._lib.write("cpu", df.set_index("time"))

    def supports(self, qt: QueryType) -> str | None:
        """None when the type runs here, else why not."""
        return self.UNSUPPORTED.get(qt.kind)

    def run(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query; a frame with the same columns as the SQL's."""
        from arcticdb import QueryBuilder

        q = QueryBuilder()
        if qt.kind == "high-cpu":
            cond = q.usage_user > 90
            q = q[(cond & q.hostname.isin(list(w.hosts))) if w.hosts else cond]
        else:
            if w.hosts:
                q = q[q.hostname.isin(list(w.hosts))]
            rule = "1h" if qt.kind == "cpu-max-all" else "1min"
            q = q.resample(rule).agg({m: "max" for m in qt.metrics})
        end = None if w.end is None else w.end - pd.Timedelta(1, "ns")
        data = self._lib.read("cpu", date_range=(w.start, end), query_builder=q).data
        if qt.kind == "high-cpu":
            return data.reset_index()
        label = "hour" if qt.kind == "cpu-max-all" else "minute"
        out = data.add_prefix("max_").rename_axis(label).reset_index()
        if qt.kind == "orderby-limit":
            out = out.iloc[::-1].iloc[:5]
        return out

    def close(self) -> None:
        """Drop the handles (ArcticDB has no explicit close)."""
        self._lib = None
        self._ac = None
        gc.collect()


class DuckDBBaseline:
    """DuckDB file database built by ``peers.DuckDBPeer`` (``CREATE TABLE cpu AS SELECT ...
    ORDER BY hostname, time`` + ``CHECKPOINT``), reopened read-only with the time zone UTC."""

    name = "duckdb"

    def __init__(self, df: pd.DataFrame, workdir: Path) -> None:
        import duckdb

        peer = DuckDBPeer()
        peer.setup(workdir)
        peer.ingest(df)
        peer.close()
        self.version = str(duckdb.__version__)
        self.file = peer.file
        self.con = duckdb.connect(str(peer.file), read_only=True)
        self.con.execute("SET TimeZone = 'UTC'")
        self.threads = int(self.con.sql("SELECT current_setting('threads')").fetchall()[0][0])

    def run(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query through ``con.sql(...).df()``."""
        return self.con.sql(duckdb_sql(qt, w)).df()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


class ChDBBaseline:
    """chDB (in-process ClickHouse) with the table built by ``peers.ChDBPeer``: ``MergeTree
    ORDER BY (hostname, time)``, tags ``LowCardinality(String)``, ``time DateTime64(9, 'UTC')
    CODEC(Delta, ZSTD)``, fields ``Int64 CODEC(T64, ZSTD)`` (``peers.CHDB_TSBS_CODECS``); one
    ``INSERT ... FROM Python(df)`` then ``OPTIMIZE TABLE cpu FINAL``.

    Queries are ``clickhouse_sql`` through ``session.query(sql, "DataFrame")`` (the conversion
    to pandas is timed, as DuckDB's ``.df()`` is). lastpoint is the same join on max(time) per
    host as DuckDB's.
    """

    name = "chdb"

    def __init__(self, df: pd.DataFrame, workdir: Path) -> None:
        self.peer = ChDBPeer()
        self.peer.setup(workdir)
        self.peer.ingest(df)
        self.version = self.peer.version
        n = int(self.peer.query("SELECT count() FROM cpu", "DataFrame").iat[0, 0])
        if n != len(df):
            raise RuntimeError(f"chDB holds {n} rows, expected {len(df)}")

    def run(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query as a DataFrame."""
        return self.peer.query(clickhouse_sql(qt, w), "DataFrame")

    def close(self) -> None:
        """Close the session."""
        self.peer.close()


class ServerBaseline:
    """A server peer of ``bench/servers.py`` loaded with the frame, for queries.

    ``setup`` (the server starts on first use, once per run), ``ingest`` (the peer's bulk-load
    best practice, durable), ``compact`` (its documented flush/compaction step, so that no
    background merge runs during the queries), and a row count checked against the frame.
    Queries are the peer's own language (``query_text``) over its client protocol, timed from
    the request to the DataFrame.
    """

    def __init__(self, name: str, df: pd.DataFrame, workdir: Path) -> None:
        import servers

        self.name = name
        self.peer = servers.make_server_peer(name)
        self.peer.setup(workdir)
        t0 = time.perf_counter()
        self.peer.ingest(df)
        self.ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.peer.compact()
        self.compact_s = time.perf_counter() - t0
        self.version = self.peer.version
        self.bytes = self.peer.bytes_on_disk()
        n = self.peer.row_count()
        if n != len(df):
            raise RuntimeError(f"{name} holds {n} rows, expected {len(df)}")

    def supports(self, qt: QueryType) -> str | None:
        """None when the type runs here, else why not."""
        return self.peer.supports(qt)

    def run(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query as a DataFrame."""
        return self.peer.run(qt, w)

    def query_text(self, qt: QueryType, w: Window) -> str:
        """The query as sent."""
        return self.peer.query_text(qt, w)

    def close(self) -> None:
        """Release the connection (the server stops at the end of the run)."""
        self.peer.close()


def build_store(root: Path, df: pd.DataFrame, tier: str) -> tuple[Any, dict[str, Any]]:
    """A store at ``root`` holding ``df`` as ``benchmark.cpu`` entirely in ``tier``.

    The clock is set to the newest point + 1 minute; for ``"magnetic"`` the memory retention is
    then cut to 1 h, the clock moved a day on, and ``run_lifecycle()`` migrates every row.
    Returns the store and the table's ``describe()`` plus the load and migration seconds.
    """
    tsstore = import_tsstore()
    end = pd.Timestamp(df["time"].max())
    clock = {"t": end + pd.Timedelta("1min")}
    store = tsstore.connect(
        root, clock=lambda: clock["t"], database="benchmark", lifecycle_interval=None
    )
    store.create_database("benchmark")
    table = store.database("benchmark").create_table("cpu", memory_retention="8766h")
    t0 = time.perf_counter()
    table.write(df, dimensions=list(TAGS))
    load_s = time.perf_counter() - t0
    migrate_s = None
    if tier.startswith("magnetic"):
        table.update(memory_retention="1h")
        clock["t"] = end + pd.Timedelta(days=1)
        t0 = time.perf_counter()
        store.run_lifecycle()
        migrate_s = time.perf_counter() - t0
    d = table.describe()
    want = (len(df), 0) if tier == "memory" else (0, len(df))  # magnetic, magnetic-dask
    if (d["memory_rows"], d["magnetic_rows"]) != want:
        raise RuntimeError(f"{tier} store: (memory_rows, magnetic_rows) should be {want}: {d}")
    info = {k: d[k] for k in ("memory_rows", "magnetic_rows", "memory_bytes", "magnetic_bytes")}
    return store, {**info, "load_s": load_s, "migrate_s": migrate_s, "now": clock["t"]}


# ---------------------------------------------------------------------------- correctness


def _normalise(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Columns as comparable numpy: times as int64 ns UTC, numbers float64, the rest str."""
    out: dict[str, Any] = {}
    for c in columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
            idx = pd.DatetimeIndex(s)
            idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
            out[c] = idx.as_unit("ns").asi8
        elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[c] = s.astype(object).where(s.notna(), None).astype(str).to_numpy()
    return pd.DataFrame(out, columns=list(columns))


def compare(got: pd.DataFrame, ref: pd.DataFrame, rtol: float = RTOL) -> str | None:
    """None when ``got`` has ``ref``'s rows (in any order) with equal values, else the first
    difference. Floats compare within ``rtol``; columns only ``got`` has are ignored."""
    missing = [c for c in ref.columns if c not in got.columns]
    if missing:
        return f"columns missing: {missing} (got {list(got.columns)})"
    if len(got) != len(ref):
        return f"{len(got)} rows, expected {len(ref)}"
    cols = list(ref.columns)
    a, b = _normalise(got, cols), _normalise(ref, cols)
    floats = [c for c in cols if a[c].dtype == np.float64]
    keys = [c for c in cols if c not in floats] + floats
    if keys:
        a = a.sort_values(keys, kind="stable").reset_index(drop=True)
        b = b.sort_values(keys, kind="stable").reset_index(drop=True)
    for c in cols:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if c in floats:
            ok = np.isclose(x, y, rtol=rtol, atol=0.0) | (np.isnan(x) & np.isnan(y))
        else:
            ok = x == y
        if not ok.all():
            i = int(np.argmin(ok))
            return (
                f"column {c!r}: {int((~ok).sum())} rows differ, e.g. row {i}: {x[i]!r} != {y[i]!r}"
            )
    return None


# ---------------------------------------------------------------------------- measurement


def _stats_dict(store: Any) -> dict[str, Any]:
    """The fields of ``store.last_query_stats`` this report uses (NaN where one is absent)."""
    s = store.last_query_stats
    out: dict[str, Any] = {
        k: getattr(s, k, math.nan)
        for k in ("parse_s", "plan_s", "scan_s", "execute_s", "rows_scanned", "bytes_scanned")
    }
    out["scans"] = len(getattr(s, "scans", []) or [])
    return out


def parse_cache_clearer() -> Callable[[], None] | None:
    """``cache_clear`` of tsstore's cache of parsed SQL by text, if the engine has one.

    TSBS sends every query once (each window differs), so each query is measured with a cold
    parse: cleared, untimed, before every tsstore call. Without this the magnetic tier's call
    would reuse the parse of the memory tier's call of the very same text just before it.
    """
    try:
        from tsstore.query import engine
    except ImportError:
        return None
    fn = getattr(getattr(engine, "_parse", None), "cache_clear", None)
    return fn if callable(fn) else None


#: Set by ``main``: called (untimed) before every tsstore query; empty keeps the caches.
_BEFORE_TSSTORE_QUERY: list[Callable[[], None]] = []


def _before_tsstore_query(store: Any) -> None:
    """Untimed, before every timed tsstore query: the hooks of ``_BEFORE_TSSTORE_QUERY`` (cold
    parse) and, when there are any, ``store.clear_query_caches()`` (prepared plans too)."""
    for fn in _BEFORE_TSSTORE_QUERY:
        fn()
    if _BEFORE_TSSTORE_QUERY and hasattr(store, "clear_query_caches"):
        store.clear_query_caches()  # cold: prepared plans too


def _ms(x: float) -> float:
    return x * 1e3


def measure_type(
    qt: QueryType,
    windows: list[Window],
    stores: dict[str, Any],
    peers: dict[str, Any],
) -> dict[str, Any]:
    """Warm up, then time every system on every window (interleaved); check the results
    (``common.measure_interleaved``)."""
    systems: dict[str, Callable[[Window], pd.DataFrame]] = {}
    before: dict[str, Callable[[], None]] = {}
    stats: dict[str, Callable[[], dict[str, Any]]] = {}
    for tier, store in stores.items():
        dask = tier.endswith("dask")
        name = f"tsstore-{tier}"
        systems[name] = lambda w, s=store, d=dask: s.query(timestream_sql(qt, w), distributed=d)
        before[name] = partial(_before_tsstore_query, store)
        stats[name] = partial(_stats_dict, store)
    skipped: dict[str, str] = {}
    for name, peer in peers.items():
        reason = peer.supports(qt) if hasattr(peer, "supports") else None
        if reason:
            skipped[name] = reason
            continue
        systems[name] = partial(peer.run, qt)
    m = measure_interleaved(
        systems, windows, reference=REFERENCE, compare=compare, before=before, stats=stats
    )
    return {
        "type": qt.name,
        "sql_timestream": timestream_sql(qt, windows[0]),
        "sql_duckdb": duckdb_sql(qt, windows[0]),
        "sql_clickhouse": clickhouse_sql(qt, windows[0]),
        "queries": {
            n: p.query_text(qt, windows[0])
            for n, p in peers.items()
            if hasattr(p, "query_text") and n not in skipped
        },
        "windows": [(w.start, w.end, list(w.hosts)) for w in windows],
        "seconds": m["seconds"],
        "median_ms": m["median_ms"],
        "p95_ms": m["p95_ms"],
        "stages": m["stages"],
        "checks": m["checks"],
        "result_rows": m["result_rows"],
        "skipped": skipped,
        "errors": m["errors"],
    }


def measure_scan(
    stores: dict[str, Any], peers: dict[str, Any], day: pd.Timestamp, rows: int, reps: int = 5
) -> dict[str, Any]:
    """Full-day scan: every field of every host over one day (``max`` of each field), points
    per second per system, interleaved ``reps`` times; DuckDB's file database as the peer."""

    lo, hi = day, day + pd.Timedelta(days=1)
    fields = ", ".join(f"max({f}) AS {f}" for f in FIELDS)
    ts_sql = (
        f"SELECT count(*) AS n, {fields} FROM cpu "
        f"WHERE time >= '{_lit(lo)}' AND time < '{_lit(hi)}'"
    )
    dd_sql = (
        f"SELECT count(*) AS n, {fields} FROM cpu WHERE time >= TIMESTAMPTZ '{lo.isoformat()}' "
        f"AND time < TIMESTAMPTZ '{hi.isoformat()}'"
    )
    calls: dict[str, Callable[[], Any]] = {
        f"tsstore-{tier}": partial(s.query, ts_sql, distributed=tier.endswith("dask"))
        for tier, s in stores.items()
    }
    if "duckdb" in peers:
        calls["duckdb"] = partial(lambda q: peers["duckdb"].con.sql(q).df(), dd_sql)

    def timed(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    times = run_interleaved(
        {n: partial(timed, fn) for n, fn in calls.items()}, rounds=reps, warmup=1
    )
    points = rows * len(FIELDS)
    return {
        "sql_timestream": ts_sql,
        "points": points,
        "median_ms": {n: _ms(median(v)) for n, v in times.items()},
        "points_per_s": {n: points / median(v) for n, v in times.items()},
        "target_points_per_s": SCAN_TARGET_POINTS_S,
    }


def profile_query(store: Any, qt: QueryType, w: Window, reps: int, top: int = 15) -> dict[str, Any]:
    """cProfile ``reps`` runs of one query; the top functions by own and by cumulative time."""
    sql = timestream_sql(qt, w)
    store.query(sql)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(reps):
        for fn in _BEFORE_TSSTORE_QUERY:
            fn()
        store.query(sql)
    prof.disable()
    wall = time.perf_counter() - t0
    st = pstats.Stats(prof)
    entries = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        entries.append(
            {
                "where": f"{_short(file)}:{line}({func})",
                "calls_per_query": nc / reps,
                "own_ms_per_query": tt / reps * 1e3,
                "cum_ms_per_query": ct / reps * 1e3,
            }
        )
    own = sorted(entries, key=lambda e: -e["own_ms_per_query"])[:top]
    cum = sorted(entries, key=lambda e: -e["cum_ms_per_query"])[:top]
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return {
        "type": qt.name,
        "sql": sql,
        "reps": reps,
        "wall_ms_per_query_profiled": wall / reps * 1e3,
        "top_own": own,
        "top_cumulative": cum,
    }


def _short(path: str) -> str:
    """A path made readable: from ``tsstore/`` or ``site-packages/`` on."""
    for marker in ("/tsstore/", "site-packages/"):
        i = path.rfind(marker)
        if i >= 0:
            return path[i + 1 :] if marker.startswith("/") else path[i + len(marker) :]
    return path


# ------------------------------------------------------------------------------- reporting


def summarise(
    results: list[dict[str, Any]], tiers: Sequence[str], peers: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Rows of the per-tier tables: latency, best peer, ratio, targets."""
    out: dict[str, list[dict[str, Any]]] = {}
    for tier in tiers:
        name = f"tsstore-{tier}"
        rows = []
        for r in results:
            med = r["median_ms"].get(name, math.nan)
            peer_meds = {p: r["median_ms"][p] for p in peers if p in r["median_ms"]}
            best = min(peer_meds, key=lambda p: peer_meds[p]) if peer_meds else None
            best_ms = peer_meds[best] if best else math.nan
            ratio = med / best_ms if best else math.nan
            abs_t = ABS_TARGETS_MS.get((tier, r["type"]))
            target = "<= best peer" + (f", <= {abs_t:g} ms" if abs_t is not None else "")
            met = bool(ratio <= 1.0) and (abs_t is None or med <= abs_t)
            row: dict[str, Any] = {
                "type": r["type"],
                "tsstore_ms": med,
                "tsstore_p95_ms": r["p95_ms"].get(name, math.nan),
            }
            for p in peers:
                row[f"{p}_ms"] = r["median_ms"].get(p)
            row.update(
                {
                    "best_peer": best,
                    "ratio": ratio,
                    "target": target,
                    "met": met,
                    "check": verdict(r["checks"].get(name, [])),
                }
            )
            rows.append(row)
        out[tier] = rows
    return out


def stage_rows(results: list[dict[str, Any]], tier: str) -> list[dict[str, Any]]:
    """Median time per stage of tsstore's query path, per type (ms), and rows scanned."""
    name = f"tsstore-{tier}"
    rows = []
    for r in results:
        st = r["stages"].get(name)
        if not st:
            continue
        wall = _ms(median(r["seconds"][name]))
        row: dict[str, Any] = {"type": r["type"], "wall_ms": wall}
        for k in ("parse_s", "plan_s", "scan_s", "execute_s"):
            row[k.replace("_s", "_ms")] = _ms(median([s[k] for s in st]))
        staged = sum(row[k] for k in ("parse_ms", "plan_ms", "scan_ms", "execute_ms"))
        row["other_ms"] = wall - staged
        row["rows_scanned"] = int(median([s["rows_scanned"] for s in st]))
        row["mb_scanned"] = median([s["bytes_scanned"] for s in st]) / 1e6
        row["scans"] = st[0]["scans"]
        rows.append(row)
    return rows


def _print_profile(p: dict[str, Any], tier: str, n: int = 12) -> None:
    print(
        f"\ncProfile, tsstore-{tier}, {p['type']} ({p['reps']} runs, "
        f"{p['wall_ms_per_query_profiled']:.2f} ms/query under the profiler): top by own time"
    )
    print_table(
        p["top_own"][:n],
        [
            ("where", "function"),
            ("calls_per_query", "calls/q", ".0f"),
            ("own_ms_per_query", "own ms/q", ".3f"),
            ("cum_ms_per_query", "cum ms/q", ".3f"),
        ],
    )


# ------------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=None, help="hosts (default 100; 10 with --quick)")
    p.add_argument("--days", type=float, default=1.0, help="span of the data in days")
    p.add_argument("--windows", type=int, default=None, help="windows per type (10; 3 quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the windows")
    p.add_argument("--tiers", default=",".join(TIERS), help="tsstore tiers: memory,magnetic")
    p.add_argument(
        "--peers",
        default=",".join(KNOWN_PEERS),
        help="peers: duckdb (always), pandas, arcticdb, chdb, " + ", ".join(SERVER_PEERS),
    )
    p.add_argument("--types", default="all", help="comma-separated query types (default all)")
    p.add_argument("--quick", action="store_true", help="scale 10, 3 windows")
    p.add_argument("--profile-reps", type=int, default=20, help="cProfile runs (0: no profile)")
    p.add_argument(
        "--warm-parse",
        action="store_true",
        help="keep tsstore's cache of parsed SQL (default: clear it before each query)",
    )
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a correctness check fails or a system errs."""
    a = _parser().parse_args(argv)
    scale = a.scale if a.scale is not None else (10 if a.quick else 100)
    n_windows = a.windows if a.windows is not None else (3 if a.quick else 10)
    tiers = [t for t in a.tiers.split(",") if t]
    if bad := [t for t in tiers if t not in TIERS]:
        sys.exit(f"unknown tiers {bad}; known: {TIERS}")
    peer_names = [p for p in a.peers.split(",") if p]
    if REFERENCE not in peer_names:
        peer_names.insert(0, REFERENCE)  # the correctness reference always runs
    if bad := [p for p in peer_names if p not in KNOWN_PEERS]:
        sys.exit(f"unknown peers {bad}; known: {KNOWN_PEERS}")
    types = list(QUERY_TYPES) if a.types == "all" else a.types.split(",")
    if bad := [t for t in types if t not in QUERY_TYPES]:
        sys.exit(f"unknown query types {bad}; known: {list(QUERY_TYPES)}")
    not_run: dict[str, str] = {}
    missing = missing_peers(
        [p for p in peer_names if p in ("duckdb", "arcticdb", "chdb", *SERVER_PEERS)]
    )
    for p, why in missing.items():
        not_run[p] = why
    peer_names = [p for p in peer_names if p not in missing]
    if REFERENCE not in peer_names:
        sys.exit(f"the reference peer {REFERENCE} cannot run: {not_run[REFERENCE]}")

    import_tsstore()
    clearer = None if a.warm_parse else parse_cache_clearer()
    _BEFORE_TSSTORE_QUERY[:] = [clearer] if clearer is not None else []
    if a.warm_parse:
        parse_mode = "warm: tsstore's cache of parsed SQL kept"
    elif clearer is not None:
        parse_mode = (
            "cold: tsstore's caches of parsed SQL and prepared plans cleared (untimed) "
            "before each query"
        )
    else:
        parse_mode = "cold: tsstore has no cache of parsed SQL"

    load_start = os.getloadavg()
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    df = generate_cpu(scale, a.days, seed=a.seed, variant="tsbs")
    gen_s = time.perf_counter() - t0
    t_first, t_last = START, START + pd.Timedelta(days=a.days)
    print(
        f"TSBS cpu-only, scale {scale} x {a.days:g} days: {len(df):,} rows "
        f"(generated in {gen_s:.1f} s); {n_windows} windows per type, seed {a.seed}; "
        f"parse {parse_mode}",
        flush=True,
    )

    scratch = Path(tempfile.mkdtemp(prefix="tsstore-bench-queries-", dir=a.scratch))
    servers_pool = None
    if any(p in SERVER_PEERS for p in peer_names):
        import servers

        servers_pool = servers.POOL
        servers_pool.set_root(scratch / "servers")
    stores: dict[str, Any] = {}
    peers: dict[str, Any] = {}
    load: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    profiles: dict[str, list[dict[str, Any]]] = {}
    try:
        for tier in tiers:
            stores[tier], load[f"tsstore-{tier}"] = build_store(scratch / tier, df, tier)
        for p in peer_names:
            t0 = time.perf_counter()
            try:
                if p == "duckdb":
                    peers[p] = DuckDBBaseline(df, scratch)
                elif p == "pandas":
                    peers[p] = PandasBaseline(df)
                elif p == "arcticdb":
                    peers[p] = ArcticDBBaseline(df, scratch)
                elif p == "chdb":
                    peers[p] = ChDBBaseline(df, scratch)
                elif p in SERVER_PEERS:
                    peers[p] = ServerBaseline(p, df, scratch)
            except Exception as e:  # reported, not hidden
                traceback.print_exc()
                not_run[p] = f"{type(e).__name__}: {e}"
                if p == REFERENCE:
                    raise
                continue
            load[p] = {"load_s": time.perf_counter() - t0, "version": peers[p].version}
            if isinstance(peers[p], ServerBaseline):
                sp = peers[p]
                load[p].update(
                    ingest_s=sp.ingest_s,
                    compact_s=sp.compact_s,
                    bytes=sp.bytes,
                    bytes_per_point=sp.bytes / (len(df) * len(FIELDS)),
                    ingest=sp.peer.last_ingest,
                    size=sp.peer.last_size,
                )
        print_table(
            [{"system": k, **v} for k, v in load.items()],
            [
                ("system", "system"),
                ("version", "version"),
                ("load_s", "load s", ".2f"),
                ("ingest_s", "ingest s", ".2f"),
                ("compact_s", "compact s", ".2f"),
                ("bytes_per_point", "bytes/point", ".3f"),
                ("migrate_s", "migrate s", ".2f"),
                ("memory_rows", "memory rows"),
                ("magnetic_rows", "magnetic rows"),
            ],
        )
        for name in types:
            qt = QUERY_TYPES[name]
            wins = draw_windows(qt, n_windows, seed=a.seed, scale=scale, t0=t_first, t1=t_last)
            t0 = time.perf_counter()
            r = measure_type(qt, wins, stores, peers)
            results.append(r)
            meds = ", ".join(f"{k} {v:.2f}" for k, v in r["median_ms"].items())
            print(f"  {name:<24} {time.perf_counter() - t0:5.1f} s   median ms: {meds}", flush=True)
        day_rows = int(
            ((df["time"] >= t_first) & (df["time"] < t_first + pd.Timedelta(days=1))).sum()
        )
        scan = measure_scan(stores, peers, t_first, day_rows)
        print("\nFull-day scan (max of every field, one day): points/s")
        print_table(
            [
                {"system": n, "ms": ms, "mpts": scan["points_per_s"][n] / 1e6}
                for n, ms in scan["median_ms"].items()
            ],
            [("system", "system"), ("ms", "median ms", ".1f"), ("mpts", "M points/s", ".1f")],
        )
        if a.profile_reps > 0:
            for tier, store in stores.items():
                profiles[tier] = []
                for name in ("single-groupby-1-1-1", "double-groupby-all"):
                    qt = QUERY_TYPES[name]
                    w = draw_windows(qt, 1, seed=a.seed, scale=scale, t0=t_first, t1=t_last)[0]
                    profiles[tier].append(profile_query(store, qt, w, a.profile_reps))
    finally:
        for s in stores.values():
            s.close()
        for p in peers.values():
            p.close()
        if servers_pool is not None:
            servers_pool.stop_all()  # every server started for this run
        shutil.rmtree(scratch, ignore_errors=True)

    ran_peers = [p for p in peer_names if p in load]
    tables = summarise(results, tiers, ran_peers)
    cols: list[Any] = [
        ("type", "query type"),
        ("tsstore_ms", "tsstore ms", ".2f"),
        ("tsstore_p95_ms", "p95", ".2f"),
    ]
    cols += [(f"{p}_ms", f"{p} ms", ".2f") for p in ran_peers]
    cols += [
        ("ratio", "ratio", ".2f"),
        ("target", "target"),
        ("met", "met"),
        ("check", "vs duckdb"),
    ]
    for tier in tiers:
        print(f"\nTier {tier}: median over {n_windows} windows (ratio = tsstore / best peer)")
        print_table(tables[tier], cols)
    for p, why in not_run.items():
        print(f"not run: {p}: {why}")
    skipped = {(p, why) for r in results for p, why in r["skipped"].items()}
    for p, why in sorted(skipped):
        kinds = [r["type"] for r in results if r["skipped"].get(p) == why]
        print(f"not run: {p} on {', '.join(kinds)}: {why}")

    mismatches, errors = report_checks(results, rtol=RTOL)

    stage_tables = {tier: stage_rows(results, tier) for tier in tiers}
    for tier in tiers:
        print(f"\ntsstore-{tier}: time per stage (median over windows, ms; other = wall - stages)")
        print_table(
            stage_tables[tier],
            [
                ("type", "query type"),
                ("wall_ms", "wall", ".2f"),
                ("parse_ms", "parse", ".2f"),
                ("plan_ms", "plan", ".2f"),
                ("scan_ms", "scan", ".2f"),
                ("execute_ms", "execute", ".2f"),
                ("other_ms", "other", ".2f"),
                ("rows_scanned", "rows scanned"),
                ("mb_scanned", "MB scanned", ".2f"),
            ],
        )
    for tier, profs in profiles.items():
        for prof in profs:
            _print_profile(prof, tier)

    total_s = time.perf_counter() - t_all
    load_end = os.getloadavg()
    print(
        f"\nTotal {total_s:.0f} s; load average at start {load_start[0]:.2f}, "
        f"at end {load_end[0]:.2f}"
    )
    payload: dict[str, Any] = {
        "args": {**vars(a), "scale": scale, "windows": n_windows},
        "rows": len(df),
        "generate_s": gen_s,
        "total_s": total_s,
        "parse_mode": parse_mode,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "load": load,
        "peers": ran_peers,
        "not_run": not_run,
        "duckdb_threads": getattr(peers.get("duckdb"), "threads", None),
        "light_types": sorted(LIGHT),
        "targets_ms": {f"{t}/{q}": v for (t, q), v in ABS_TARGETS_MS.items()},
        "tables": tables,
        "stages": stage_tables,
        "mismatches": mismatches,
        "errors": errors,
        "profiles": profiles,
        "results": results,
        "full_day_scan": scan,
        "machine": machine_info(),
    }
    if not a.no_write:
        path = write_results("queries", payload)
        print(f"Results: {path}")
    return 1 if mismatches or errors else 0


if __name__ == "__main__":
    sys.exit(main())
