"""Mixed-load benchmark: a fleet writing while a dashboard queries, against each alone.

The target (issue 5): under mixed load, tsstore's query p95 is at most 2x its idle value while
ingest holds at least 50 % of its idle rate. This script measures it as a user lives it.

Workload
--------
* **Store.** TSBS ``cpu-only`` (``bench/tsbs.py``, variant ``tsbs``), ``--scale`` hosts; a
  preloaded history of ``--history`` (13 h), written in one ``write()`` and migrated by
  ``run_lifecycle()`` down to the memory retention (``--memory-retention``, 1 h), so that
  queries read both tiers.
* **Fleet (ingest).** The next 10 s tick of every host, one ``table.write(df, dimensions=<10
  tags>)`` per tick (``--ticks-per-write``), durable when it returns (write-ahead log fsync'ed).
  The store's clock is the data clock: before each write it is set to the end of the tick
  written, so time moves with the data (about 35 minutes of data per second of wall time at
  scale 100) and the lifecycle migrates to the magnetic tier as in production. The lifecycle
  runs every ``--lifecycle-interval`` (1 s) of wall time in a thread of this script that calls
  ``store.run_lifecycle()``, exactly the loop of tsstore's own ``lifecycle_interval`` thread,
  so that each run's start, end and work are recorded. The writer goes as fast as it can
  (no pacing): its rate is the measure.
* **Dashboard (queries).** A closed loop, no think time (``--think-ms``), over TSBS query types
  on recent windows: ``single-groupby-1-1-1``, ``single-groupby-5-8-1``, ``cpu-max-all-8``,
  ``high-cpu-1``, ``lastpoint-1h`` (light) and ``double-groupby-1`` (heavy), in turn. Each
  window ends at the newest acknowledged tick minus a random 0-60 s (microseconds, so every
  query text is new, as TSBS sends each query once: no prepared plan or parse is reused) and
  spans the type's TSBS length (1 h, 8 h, 12 h); hosts are drawn at random. ``lastpoint-1h``
  is TSBS's lastpoint restricted to the last hour and written with ``row_number()`` (the
  TSBS join form reads the table twice, which tsstore's planner does not prune, so its cost
  would grow with the whole history).
* **Phases**, interleaved A B C per round, ``--rounds`` times, ``--seconds`` each: A ingest
  alone (rows/s); B queries alone (latency per type); C both at once. Before B, the script
  waits for one whole lifecycle run after the last write (the store is then quiet: later runs
  find nothing to migrate); before A and C, for the run in progress to end; the
  ``tsstore-process`` reader then catches up (``table.refresh()``, untimed), so that the log
  frames of the previous phase are not charged to the next phase's first query. Peers' own
  background work (DuckDB's automatic checkpoints, chDB's merges) is not waited for. Batches
  are cut before each ingest phase, untimed (``refills`` counts those cut inside the timed
  loop because the prepared ones ran out). Reported: medians over rounds with their spread
  ((max - min) / median), p95 over all samples of a phase kind (rounds pooled), the ratios
  ``p95_mixed / p95_idle`` per type and ``rate_mixed / rate_idle``, write latencies, CPU
  seconds per wall second of each process, tsstore's time per query stage
  (``last_query_stats``: parse, plan, scan with the table lock wait, execute, other), the
  lifecycle runs of each phase and how the queries that overlapped one fared, and the
  magnetic segments at the start of each phase (each migration appends one; a query reads
  those of its window, so the count drifts up across rounds until a compaction).
* **Systems.** ``tsstore-thread``: writer and dashboard are two threads of one process (a
  notebook). ``tsstore-process``: the writer is another process, the dashboard queries a
  ``read_only=True`` reader, which sees every acknowledged write by reading the writer's log
  and magnetic snapshots. Peers under the same load: ``duckdb`` (file database;
  ``con.append`` of each tick, one commit with fdatasync; a second cursor queries) and
  ``chdb`` (MergeTree with ``fsync_after_insert``; ``INSERT ... FROM Python(df)`` per tick;
  the same session queries from the other thread).

Diagnosis options: ``--lifecycle-interval none`` (no lifecycle during the phases: the memory
tier keeps everything written), ``--switch-interval`` (``sys.setswitchinterval`` in every
process: GIL hand-offs), ``--ticks-per-write``, ``--think-ms``.

Correctness: after each system's run, every acknowledged row is in the store exactly once
with its values (counted by host and time against a DuckDB reference of the same stream),
and every ``--sample-every``-th query result of each type, taken under load, equals the
reference's answer for the same window. The exit status is 1 when a check fails or a system
errs (a missed target is reported, not an error).

Run::

    python bench/bench_mixed.py                 # scale 100, 6 s phases, 3 rounds (~5 min)
    python bench/bench_mixed.py --quick         # scale 20, 2 s phases, 2 rounds (~1 min)
    python bench/bench_mixed.py --peers none --modes thread --seconds 10
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_queries import (
    QUERY_TYPES,
    QueryType,
    Window,
    clickhouse_sql,
    compare,
    duckdb_sql,
    timestream_sql,
)
from common import import_tsstore, machine_info, median, p95, print_table, spread, write_results
from peers import ChDBPeer, DuckDBPeer, missing_peers
from tsbs import FIELDS, TAGS, generate_cpu_chunks

#: First timestamp of the stream (the TSBS default) and its tick.
START = pd.Timestamp("2016-01-01", tz="UTC")
INTERVAL_NS = 10 * 10**9
#: Database and table of the tsstore stores.
DATABASE = "benchmark"
TABLE = "cpu"
#: TSBS's lastpoint over the last hour (see the module docstring).
LASTPOINT = QueryType("lastpoint-1h", "lastpoint", 0, FIELDS, pd.Timedelta("1h"))
#: Query types of the dashboard, in the order of its loop.
DEFAULT_TYPES: tuple[str, ...] = (
    "single-groupby-1-1-1",
    "single-groupby-5-8-1",
    "cpu-max-all-8",
    "high-cpu-1",
    "lastpoint-1h",
    "double-groupby-1",
)
#: Every type this script can run.
TYPES: dict[str, QueryType] = {**QUERY_TYPES, LASTPOINT.name: LASTPOINT}
#: Window ends are drawn this far (at most) before the newest acknowledged tick.
END_JITTER_US = 60_000_000
#: Systems and tsstore modes.
MODES: tuple[str, ...] = ("thread", "process")
KNOWN_PEERS: tuple[str, ...] = ("duckdb", "chdb")
#: Targets of the issue.
P95_RATIO_TARGET = 2.0
RATE_RATIO_TARGET = 0.5
#: Span of the generated stream (generated lazily; only what is written is generated).
STREAM_DAYS = 3650.0
#: Ticks per generated chunk (the walk is vectorised over one chunk).
CHUNK_TICKS = 512
#: Phase names.
PHASES: tuple[str, ...] = ("ingest", "queries", "mixed")
#: At most this many query errors per phase before the loop gives up.
MAX_ERRORS = 5


# ---------------------------------------------------------------------------------- helpers


def _ts(ns: int) -> pd.Timestamp:
    """A UTC timestamp from integer nanoseconds."""
    return pd.Timestamp(ns, tz="UTC")


def _lit(ns: int) -> str:
    """A time as a SQL literal body, ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC)."""
    return _ts(ns).strftime("%Y-%m-%d %H:%M:%S.%f")


def _ms(xs: Sequence[float]) -> list[float]:
    return [x * 1e3 for x in xs]


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process so far, every thread included."""
    t = os.times()
    return t.user + t.system


def parse_seconds(value: str) -> float:
    """A duration such as ``"1s"``, ``"500ms"`` or ``"12h"`` in seconds."""
    return pd.Timedelta(value).total_seconds()


# ------------------------------------------------------------------------------ the stream


class TickSource:
    """The TSBS stream of one seed: the history, then one batch of ticks per write.

    Every system reads its own source of the same seed, so all of them write the same rows
    in the same order. Batches are cut ahead of time (:meth:`prepare`, untimed) so that the
    writer's timed loop only writes; a batch asked for beyond those prepared is cut on the
    spot and counted in :attr:`refills`.

    Parameters
    ----------
    scale : int
        Hosts.
    seed : int
        Seed of the generator.
    ticks_per_write : int
        Ticks (of ``scale`` rows each) per write batch.
    """

    def __init__(self, scale: int, seed: int, ticks_per_write: int) -> None:
        self.scale = scale
        self.ticks_per_write = ticks_per_write
        self._gen: Iterator[pd.DataFrame] = generate_cpu_chunks(
            scale, STREAM_DAYS, seed=seed, variant="tsbs", chunk_rows=CHUNK_TICKS * scale
        )
        self._chunk: pd.DataFrame | None = None
        self._offset = 0
        self._ready: list[tuple[pd.DataFrame, int]] = []
        self._next = 0
        #: Ticks handed out so far (cut into batches or read as rows).
        self.ticks = 0
        #: Batches cut inside a timed loop because none was prepared.
        self.refills = 0

    def rows(self, n_ticks: int) -> pd.DataFrame:
        """The next ``n_ticks`` ticks of the stream as one frame (ordered by time, host)."""
        parts: list[pd.DataFrame] = []
        need = n_ticks * self.scale
        while need:
            if self._chunk is None or self._offset >= len(self._chunk):
                self._chunk = next(self._gen)
                self._offset = 0
            take = min(need, len(self._chunk) - self._offset)
            parts.append(self._chunk.iloc[self._offset : self._offset + take])
            self._offset += take
            need -= take
        self.ticks += n_ticks
        if len(parts) == 1:
            return parts[0].reset_index(drop=True)
        return pd.concat(parts, ignore_index=True)

    def _cut(self) -> tuple[pd.DataFrame, int]:
        batch = self.rows(self.ticks_per_write)
        return batch, START.value + self.ticks * INTERVAL_NS

    def prepare(self, n_batches: int) -> None:
        """Cut batches until ``n_batches`` are ready (untimed, before a phase)."""
        if self._next:
            self._ready = self._ready[self._next :]
            self._next = 0
        while len(self._ready) < n_batches:
            self._ready.append(self._cut())

    def pop(self) -> tuple[pd.DataFrame, int]:
        """The next batch and the end of its last tick (exclusive, ns): all rows before it are
        in this batch or an earlier one."""
        if self._next < len(self._ready):
            item = self._ready[self._next]
            self._ready[self._next] = (pd.DataFrame(), 0)  # let the frame go once written
            self._next += 1
            return item
        self.refills += 1
        return self._cut()


class DataClock:
    """The store's clock: the data time, moved by the writer (callable like ``clock=``)."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> pd.Timestamp:
        return _ts(self.ns)


# ------------------------------------------------------------------------------- lifecycle


@dataclass(slots=True)
class LifecycleRun:
    """One ``run_lifecycle()``: start and end (``perf_counter``), rows moved, partitions
    compacted."""

    t0: float
    t1: float
    moved: int
    compacted: int


class LifecycleThread:
    """Calls ``run()`` every ``interval_s`` seconds of wall time, as tsstore's own lifecycle
    thread does (at its lowered CPU priority, ``lower_thread_priority()``, then ``while not
    stop.wait(interval): store.run_lifecycle()``), and records each run."""

    def __init__(self, run: Callable[[], list[dict[str, Any]]], interval_s: float) -> None:
        self._run = run
        self._interval = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._runs: list[LifecycleRun] = []
        self.errors: list[str] = []
        self.busy = threading.Event()
        #: ``perf_counter`` at the start of the latest run.
        self.last_start = -math.inf
        self._thread = threading.Thread(target=self._loop, name="bench-lifecycle", daemon=True)

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def _loop(self) -> None:
        from tsstore.storage.store import lower_thread_priority

        lower_thread_priority()  # as tsstore's own lifecycle thread does
        while not self._stop.wait(self._interval):
            self.busy.set()
            t0 = self.last_start = time.perf_counter()
            try:
                out = self._run()
            except Exception as e:  # keep going, as tsstore's thread does; reported
                self.errors.append(f"{type(e).__name__}: {e}")
                out = []
            finally:
                self.busy.clear()
            t1 = time.perf_counter()
            moved = sum(int(r.get("migrated", 0)) for r in out)
            compacted = sum(int(r.get("compacted_partitions", 0)) for r in out)
            with self._lock:
                self._runs.append(LifecycleRun(t0, t1, moved, compacted))

    def take(self) -> list[LifecycleRun]:
        """The runs finished since the last call."""
        with self._lock:
            out, self._runs = self._runs, []
        return out

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no run is in progress (or after ``timeout``)."""
        deadline = time.perf_counter() + timeout
        while self.busy.is_set() and time.perf_counter() < deadline:
            time.sleep(0.005)

    def settle(self, timeout: float = 60.0) -> None:
        """Return once a run that started after this call has ended (or after ``timeout``):
        whatever was written before the call has been migrated by then."""
        t = time.perf_counter()
        deadline = t + timeout
        while (self.last_start <= t or self.busy.is_set()) and time.perf_counter() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop the loop and wait for the run in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)


# ---------------------------------------------------------------------------------- ingest


@dataclass(slots=True)
class IngestStats:
    """One ingest phase: rows and writes acknowledged, wall seconds, write latencies."""

    rows: int
    writes: int
    seconds: float
    latencies: list[float]
    refills: int
    cpu_s: float
    t0: float
    t1: float

    @property
    def rate(self) -> float:
        """Acknowledged rows per second of the phase."""
        return self.rows / self.seconds if self.seconds > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (latencies in ms)."""
        return {
            "rows": self.rows,
            "writes": self.writes,
            "seconds": self.seconds,
            "rows_per_s": self.rate,
            "write_ms_median": median(_ms(self.latencies)),
            "write_ms_p95": p95(_ms(self.latencies)),
            "write_ms_max": max(_ms(self.latencies)) if self.latencies else math.nan,
            "refills": self.refills,
            "cpu_s": self.cpu_s,
            "t0": self.t0,
            "t1": self.t1,
        }


def ingest_loop(
    write: Callable[[pd.DataFrame, int], None], source: TickSource, seconds: float
) -> IngestStats:
    """Write batches from ``source`` back to back for ``seconds``; each ``write(batch, end)``
    returns once the batch is durable."""
    latencies: list[float] = []
    rows = 0
    refills = source.refills
    cpu0 = _cpu_seconds()
    t_start = time.perf_counter()
    deadline = t_start + seconds
    while time.perf_counter() < deadline:
        batch, end_ns = source.pop()
        t0 = time.perf_counter()
        write(batch, end_ns)
        latencies.append(time.perf_counter() - t0)
        rows += len(batch)
    t_end = time.perf_counter()
    return IngestStats(
        rows,
        len(latencies),
        t_end - t_start,
        latencies,
        source.refills - refills,
        _cpu_seconds() - cpu0,
        t_start,
        t_end,
    )


# --------------------------------------------------------------------------------- queries


def mixed_sql(qt: QueryType, w: Window, dialect: str) -> str:
    """The query in ``"timestream"`` (tsstore), ``"duckdb"`` or ``"clickhouse"`` SQL.

    TSBS types come from ``bench_queries``; ``lastpoint-1h`` is the last row of each host
    in ``[start, end)`` by ``row_number()``, one read of the table in every dialect.
    """
    if qt.name != LASTPOINT.name:
        fn = {"timestream": timestream_sql, "duckdb": duckdb_sql, "clickhouse": clickhouse_sql}
        return fn[dialect](qt, w)
    assert w.start is not None and w.end is not None
    lo, hi = _lit(w.start.value), _lit(w.end.value)
    if dialect == "timestream":
        cond = f"time >= '{lo}' AND time < '{hi}'"
    elif dialect == "duckdb":
        cond = f"time >= TIMESTAMPTZ '{lo}+00' AND time < TIMESTAMPTZ '{hi}+00'"
    else:
        cond = f"time >= toDateTime64('{lo}', 6, 'UTC') AND time < toDateTime64('{hi}', 6, 'UTC')"
    return (
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY hostname ORDER BY time DESC) "
        f"AS rn FROM cpu WHERE {cond}) AS t WHERE rn = 1 ORDER BY hostname"
    )


def recent_window(qt: QueryType, acked_ns: int, rng: np.random.Generator, scale: int) -> Window:
    """A window of ``qt`` ending up to 60 s before ``acked_ns`` (all rows before it are
    acknowledged and no later write lands in it), with ``qt.n_hosts`` random hosts."""
    hosts: tuple[str, ...] = ()
    if qt.n_hosts:
        picks = rng.choice(scale, size=qt.n_hosts, replace=False)
        hosts = tuple(f"host_{int(i)}" for i in picks)
    end_us = acked_ns // 1000 - int(rng.integers(0, END_JITTER_US))
    end = _ts(end_us * 1000)
    if qt.window is None:
        return Window(None, end, hosts)
    start = None if qt.kind == "orderby-limit" else end - qt.window
    return Window(start, end, hosts)


@dataclass(slots=True)
class QuerySample:
    """One timed query: its type, start and end (``perf_counter``) and tsstore's stages."""

    type: str
    t0: float
    t1: float
    stages: dict[str, float] | None = None

    @property
    def seconds(self) -> float:
        """Latency."""
        return self.t1 - self.t0


@dataclass(slots=True)
class KeptResult:
    """A query result kept for the correctness check."""

    type: str
    window: Window
    result: pd.DataFrame
    phase: str


@dataclass(slots=True)
class QueryPhase:
    """One query phase: the samples, the kept results, errors, CPU seconds of the process."""

    samples: list[QuerySample]
    kept: list[KeptResult]
    errors: list[str]
    seconds: float
    cpu_s: float


def _stages(res: pd.DataFrame) -> dict[str, float] | None:
    """tsstore's time per stage of the query that returned ``res`` (None for peers)."""
    st = res.attrs.get("query_stats") if hasattr(res, "attrs") else None
    if st is None:
        return None
    return {k: float(getattr(st, f"{k}_s", math.nan)) for k in ("parse", "plan", "scan", "execute")}


def query_loop(
    run: Callable[[QueryType, Window], pd.DataFrame],
    acked_ns: Callable[[], int],
    types: Sequence[QueryType],
    seconds: float,
    *,
    rng: np.random.Generator,
    scale: int,
    sample_every: int,
    phase: str,
    think_s: float = 0.0,
) -> QueryPhase:
    """The dashboard: the types in turn, each on a fresh recent window, for ``seconds``."""
    samples: list[QuerySample] = []
    kept: list[KeptResult] = []
    errors: list[str] = []
    counts = dict.fromkeys((q.name for q in types), 0)
    cpu0 = _cpu_seconds()
    t_start = time.perf_counter()
    deadline = t_start + seconds
    i = 0
    while time.perf_counter() < deadline and len(errors) < MAX_ERRORS:
        qt = types[i % len(types)]
        i += 1
        w = recent_window(qt, acked_ns(), rng, scale)
        t0 = time.perf_counter()
        try:
            res = run(qt, w)
        except Exception as e:  # reported, and the run fails
            errors.append(f"{qt.name}: {type(e).__name__}: {e}")
            traceback.print_exc()
            continue
        t1 = time.perf_counter()
        samples.append(QuerySample(qt.name, t0, t1, _stages(res)))
        if sample_every and counts[qt.name] % sample_every == 0:
            kept.append(KeptResult(qt.name, w, res, phase))
        counts[qt.name] += 1
        if think_s:
            time.sleep(think_s)
    return QueryPhase(samples, kept, errors, time.perf_counter() - t_start, _cpu_seconds() - cpu0)


# --------------------------------------------------------------------------------- systems


@dataclass(slots=True)
class Config:
    """What every system needs to build its store and run (picklable for the writer process)."""

    scale: int
    seed: int
    history_ticks: int
    ticks_per_write: int
    memory_retention: str
    lifecycle_interval_s: float | None  # None: no lifecycle during the phases (diagnosis)
    switch_interval: float | None


class System:
    """A system under test: set-up, the two loops, accounting, the final check.

    Subclasses run the writer in a thread of this process (:meth:`write`) or elsewhere
    (:class:`TsstoreProcess`).
    """

    name = "system"
    description = ""

    def __init__(self, cfg: Config, root: Path) -> None:
        self.cfg = cfg
        self.root = root
        self.source = TickSource(cfg.scale, cfg.seed, cfg.ticks_per_write)
        self.acked = START.value
        self.setup_info: dict[str, Any] = {}

    # set-up and the writer
    def setup(self) -> None:
        """Create the store and load the history (untimed)."""
        raise NotImplementedError

    def write(self, batch: pd.DataFrame, end_ns: int) -> None:
        """One durable write of ``batch``; then every row before ``end_ns`` is acknowledged."""
        raise NotImplementedError

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """Answer one query."""
        raise NotImplementedError

    def acked_ns(self) -> int:
        """End (exclusive) of the acknowledged ticks."""
        return self.acked

    def prepare(self, n_batches: int) -> None:
        """Cut the batches of the next ingest phase (untimed)."""
        self.source.prepare(n_batches)

    def start_ingest(self, seconds: float) -> Callable[[], IngestStats]:
        """Start an ingest phase in a thread; the returned call waits for its result."""
        out: dict[str, Any] = {}

        def body() -> None:
            try:
                out["stats"] = ingest_loop(self.write, self.source, seconds)
            except BaseException as e:  # handed to the caller
                out["error"] = e

        th = threading.Thread(target=body, name="bench-writer")
        th.start()

        def join() -> IngestStats:
            th.join()
            if "error" in out:
                raise out["error"]
            return out["stats"]

        return join

    def lifecycle_runs(self) -> list[LifecycleRun]:
        """Lifecycle runs finished since the last call (none for peers)."""
        return []

    def segments(self) -> int | None:
        """Magnetic segments stored, over all partitions (None for peers)."""
        return None

    def wait_idle(self) -> None:
        """Wait for background work in progress to end before a phase."""

    def settle(self) -> None:
        """Wait until background work has caught up with the writes (before queries alone)."""

    def rows_for_check(self) -> Any:
        """Every stored row (hostname, time, fields) as Arrow, for the final check."""
        raise NotImplementedError

    def errors(self) -> list[str]:
        """Errors of background work (the lifecycle)."""
        return []

    def close(self) -> None:
        """Release the store."""


class TsstoreThread(System):
    """tsstore, writer and dashboard as two threads of this process (a notebook)."""

    name = "tsstore-thread"
    description = "writer thread + query thread, one process"

    def setup(self) -> None:
        """Create the store, write and migrate the history, start the lifecycle."""
        tsstore = import_tsstore()
        self.clock = DataClock(START.value)
        self.store = tsstore.connect(
            self.root, clock=self.clock, database=DATABASE, lifecycle_interval=None
        )
        self.store.create_database(DATABASE)
        self.table = self.store.database(DATABASE).create_table(
            TABLE, memory_retention=self.cfg.memory_retention
        )
        history = self.source.rows(self.cfg.history_ticks)
        end = START.value + self.cfg.history_ticks * INTERVAL_NS
        t0 = time.perf_counter()
        self.write(history, end)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.store.run_lifecycle()
        migrate_s = time.perf_counter() - t0
        d = self.table.describe()
        self.setup_info = {
            "history_rows": len(history),
            "load_s": load_s,
            "migrate_s": migrate_s,
            "memory_rows": d["memory_rows"],
            "magnetic_rows": d["magnetic_rows"],
        }
        self.lifecycle: LifecycleThread | None = None
        if self.cfg.lifecycle_interval_s is not None:
            self.lifecycle = LifecycleThread(
                self.store.run_lifecycle, self.cfg.lifecycle_interval_s
            )
            self.lifecycle.start()

    def write(self, batch: pd.DataFrame, end_ns: int) -> None:
        """Move the data clock to the end of the batch, then ``table.write`` it."""
        self.clock.ns = end_ns
        self.table.write(batch, dimensions=list(TAGS))
        self.acked = end_ns

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """``store.query`` of the Timestream SQL."""
        return self.store.query(mixed_sql(qt, w, "timestream"))

    def lifecycle_runs(self) -> list[LifecycleRun]:
        """Runs since the last call."""
        return self.lifecycle.take() if self.lifecycle is not None else []

    def segments(self) -> int | None:
        """Segments of the newest magnetic snapshot (a query reads those of its window)."""
        return sum(len(p.segments) for p in self.table.magnetic.snapshot().partitions())

    def wait_idle(self) -> None:
        """Wait for a lifecycle run in progress."""
        if self.lifecycle is not None:
            self.lifecycle.wait_idle()

    def settle(self) -> None:
        """Wait for a whole lifecycle run after the last write."""
        if self.lifecycle is not None:
            self.lifecycle.settle()

    def describe(self) -> dict[str, Any]:
        """The table's ``describe()``."""
        return dict(self.table.describe())

    def rows_for_check(self) -> Any:
        """``table.scan`` of every row."""
        return self.table.scan(dimensions=["hostname"], measures=list(FIELDS))

    def errors(self) -> list[str]:
        """Lifecycle errors."""
        return list(self.lifecycle.errors) if self.lifecycle is not None else []

    def close(self) -> None:
        """Stop the lifecycle and close the store."""
        if getattr(self, "lifecycle", None) is not None:
            self.lifecycle.stop()
        if hasattr(self, "store"):
            self.store.close()


def _writer_process(conn: Any, acked: Any, root: str, cfg: Config) -> None:
    """The writer process of ``tsstore-process``: serves commands from ``conn``.

    Commands: ``("ingest", seconds)``, ``("prepare", n)``, ``("runs",)``,
    ``("wait_idle",)``, ``("settle",)``, ``("segments",)``, ``("describe",)``, ``("close",)``.
    Each answer is
    ``("ok", value)`` or ``("error", traceback)``. ``acked`` (a shared int64) holds the end of
    the acknowledged ticks.
    """
    if cfg.switch_interval:
        sys.setswitchinterval(cfg.switch_interval)

    class Writer(TsstoreThread):
        def write(self, batch: pd.DataFrame, end_ns: int) -> None:
            super().write(batch, end_ns)
            acked.value = end_ns

    w = Writer(cfg, Path(root))
    try:
        w.setup()
        conn.send(("ok", w.setup_info))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        cmd = conn.recv()
        try:
            if cmd[0] == "ingest":
                stats = ingest_loop(w.write, w.source, cmd[1])
                conn.send(("ok", stats))
            elif cmd[0] == "prepare":
                w.prepare(cmd[1])
                conn.send(("ok", None))
            elif cmd[0] == "runs":
                conn.send(("ok", w.lifecycle_runs()))
            elif cmd[0] == "segments":
                conn.send(("ok", w.segments()))
            elif cmd[0] == "wait_idle":
                w.wait_idle()
                conn.send(("ok", None))
            elif cmd[0] == "settle":
                w.settle()
                conn.send(("ok", None))
            elif cmd[0] == "describe":
                conn.send(("ok", (w.describe(), w.errors())))
            elif cmd[0] == "close":
                w.close()
                conn.send(("ok", None))
                return
            else:
                conn.send(("error", f"unknown command {cmd!r}"))
        except BaseException:
            conn.send(("error", traceback.format_exc()))


class TsstoreProcess(System):
    """tsstore, the writer in another process, the dashboard on a ``read_only=True`` reader."""

    name = "tsstore-process"
    description = "writer process + read-only reader process"

    def _call(self, *cmd: Any) -> Any:
        self.conn.send(cmd)
        return self._answer()

    def _answer(self) -> Any:
        status, value = self.conn.recv()
        if status != "ok":
            raise RuntimeError(f"writer process: {value}")
        return value

    def setup(self) -> None:
        """Start the writer process (it builds the store), then open the reader."""
        tsstore = import_tsstore()
        ctx = mp.get_context("spawn")
        self.shared = ctx.RawValue("q", START.value)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_writer_process,
            args=(child, self.shared, str(self.root), self.cfg),
            name="bench-writer-process",
        )
        self.proc.start()
        self.setup_info = self._answer()
        self.reader = tsstore.connect(self.root, read_only=True, database=DATABASE)

    def acked_ns(self) -> int:
        """The writer's acknowledged end, from shared memory."""
        return int(self.shared.value)

    def prepare(self, n_batches: int) -> None:
        """Cut the batches in the writer process."""
        self._call("prepare", n_batches)

    def start_ingest(self, seconds: float) -> Callable[[], IngestStats]:
        """Start an ingest phase in the writer process."""
        self.conn.send(("ingest", seconds))
        return self._answer

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """``reader.query`` of the Timestream SQL."""
        return self.reader.query(mixed_sql(qt, w, "timestream"))

    def lifecycle_runs(self) -> list[LifecycleRun]:
        """The writer's lifecycle runs since the last call."""
        return self._call("runs")

    def segments(self) -> int | None:
        """Magnetic segments, as the writer sees them."""
        return self._call("segments")

    def wait_idle(self) -> None:
        """Wait for a lifecycle run in progress in the writer; the reader catches up."""
        self._call("wait_idle")
        self._catch_up()

    def settle(self) -> None:
        """Wait for a whole lifecycle run after the last write, in the writer; the reader
        catches up."""
        self._call("settle")
        self._catch_up()

    def _catch_up(self) -> None:
        """``table.refresh()`` of the reader, untimed: the log frames of the previous phase
        are replayed here, not charged to the next phase's first query."""
        self.reader.table(f"{DATABASE}.{TABLE}").refresh()

    def describe(self) -> dict[str, Any]:
        """The writer's ``describe()``."""
        d, self._lc_errors = self._call("describe")
        return d

    def errors(self) -> list[str]:
        """Lifecycle errors in the writer."""
        return list(getattr(self, "_lc_errors", []))

    def finish_writer(self) -> None:
        """Stop the writer (its lifecycle and store) before the check."""
        if getattr(self, "proc", None) is not None and self.proc.is_alive():
            self.describe()
            self._call("close")
            self.proc.join(timeout=60)

    def rows_for_check(self) -> Any:
        """What the reader sees of every row (``table.scan``), after the writer closed."""
        self.finish_writer()
        table = self.reader.table(f"{DATABASE}.{TABLE}")
        return table.scan(dimensions=["hostname"], measures=list(FIELDS))

    def close(self) -> None:
        """Close the reader and the writer process."""
        if hasattr(self, "reader"):
            self.reader.close()
        if getattr(self, "proc", None) is not None:
            try:
                self.finish_writer()
            except Exception:
                traceback.print_exc()
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(timeout=10)


class DuckDBSystem(System):
    """DuckDB file database: ``peers.DuckDBPeer`` loads the history (sorted by hostname,
    time, checkpointed), then ``con.append(...)`` per batch (a commit with fdatasync) and a
    second cursor queries."""

    name = "duckdb"
    description = "append thread + cursor thread"

    def setup(self) -> None:
        """Load the history, reopen the file with a writer connection and a query cursor."""
        import duckdb

        history = self.source.rows(self.cfg.history_ticks)
        peer = DuckDBPeer()
        peer.setup(self.root)
        t0 = time.perf_counter()
        peer.ingest(history)
        load_s = time.perf_counter() - t0
        peer.close()
        self.con = duckdb.connect(str(peer.file))
        self.con.execute("SET TimeZone = 'UTC'")
        self.cur = self.con.cursor()
        self.cur.execute("SET TimeZone = 'UTC'")
        self.acked = START.value + self.cfg.history_ticks * INTERVAL_NS
        self.version = str(duckdb.__version__)
        self.setup_info = {"history_rows": len(history), "load_s": load_s}

    def write(self, batch: pd.DataFrame, end_ns: int) -> None:
        """``con.append("cpu", batch)``: one transaction, committed (fdatasync)."""
        self.con.append(TABLE, batch)
        self.acked = end_ns

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """``cursor.sql(...).df()``."""
        return self.cur.sql(mixed_sql(qt, w, "duckdb")).df()

    def rows_for_check(self) -> Any:
        """Every row, as Arrow."""
        cols = ", ".join(["hostname", "time", *FIELDS])
        return self.con.sql(f"SELECT {cols} FROM {TABLE}").to_arrow_table()

    def close(self) -> None:
        """Close both connections."""
        for c in ("cur", "con"):
            if hasattr(self, c):
                getattr(self, c).close()


class ChDBSystem(System):
    """chDB: ``peers.ChDBPeer`` loads the history (MergeTree, ``fsync_after_insert``,
    optimised), then ``INSERT ... SELECT * FROM Python(batch)`` per batch; the same session
    answers queries from the other thread (chDB has one session per process)."""

    name = "chdb"
    description = "insert thread + query thread, one session"

    def setup(self) -> None:
        """Load the history."""
        history = self.source.rows(self.cfg.history_ticks)
        self.peer = ChDBPeer()
        self.peer.setup(self.root)
        t0 = time.perf_counter()
        self.peer.ingest(history)
        load_s = time.perf_counter() - t0
        self.acked = START.value + self.cfg.history_ticks * INTERVAL_NS
        self.version = self.peer.version
        self.setup_info = {"history_rows": len(history), "load_s": load_s}
        self._insert = f"INSERT INTO {TABLE} SELECT * FROM Python(batch)"

    def write(self, batch: pd.DataFrame, end_ns: int) -> None:
        """One ``INSERT`` (a new part, fsync'ed)."""
        self.peer.session.query(self._insert)  # Python(batch): this frame's local ``batch``
        self.acked = end_ns

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """``session.query(sql, "DataFrame")``."""
        return self.peer.query(mixed_sql(qt, w, "clickhouse"), "DataFrame")

    def rows_for_check(self) -> Any:
        """Every row, as Arrow."""
        cols = ", ".join(["hostname", "time", *FIELDS])
        return self.peer.query(f"SELECT {cols} FROM {TABLE}", "ArrowTable")

    def close(self) -> None:
        """Close the session."""
        if hasattr(self, "peer"):
            self.peer.close()


# ----------------------------------------------------------------------------- correctness


class Reference:
    """An in-memory DuckDB table ``cpu`` holding the stream's first ticks (grown on demand)."""

    def __init__(self, scale: int, seed: int) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.source = TickSource(scale, seed, 1)
        self.ticks = 0

    def ensure(self, n_ticks: int) -> None:
        """Hold at least the first ``n_ticks`` ticks."""
        while self.ticks < n_ticks:
            step = min(n_ticks - self.ticks, 20 * CHUNK_TICKS)
            frame = self.source.rows(step)
            if self.ticks == 0:
                self.con.execute("CREATE TABLE cpu AS SELECT * FROM frame")
            else:
                self.con.append("cpu", frame)
            self.ticks += step

    def query(self, qt: QueryType, w: Window) -> pd.DataFrame:
        """DuckDB's answer on the reference rows."""
        return self.con.sql(mixed_sql(qt, w, "duckdb")).df()

    def check_rows(self, got: Any, end_ns: int) -> dict[str, Any]:
        """Compare every stored row with the stream's rows before ``end_ns``."""
        self.ensure((end_ns - START.value) // INTERVAL_NS)
        self.con.register("got", got)
        try:
            diff = " OR ".join(f"r.{f} IS DISTINCT FROM g.{f}" for f in FIELDS)
            row = self.con.sql(
                f"""WITH r AS (SELECT * FROM cpu WHERE time < TIMESTAMPTZ '{_lit(end_ns)}+00')
                SELECT
                  (SELECT count(*) FROM r) AS expected,
                  (SELECT count(*) FROM got) AS stored,
                  (SELECT count(*) FROM (SELECT hostname, time FROM got GROUP BY ALL
                                         HAVING count(*) > 1)) AS duplicated,
                  (SELECT count(*) FROM r ANTI JOIN got g USING (hostname, time)) AS missing,
                  (SELECT count(*) FROM got g ANTI JOIN r USING (hostname, time)) AS unexpected,
                  (SELECT count(*) FROM r JOIN got g USING (hostname, time)
                   WHERE {diff}) AS differing"""
            ).fetchall()[0]
        finally:
            self.con.unregister("got")
        out = dict(
            zip(
                ("expected", "stored", "duplicated", "missing", "unexpected", "differing"),
                (int(x) for x in row),
                strict=True,
            )
        )
        out["ok"] = (
            out["expected"] == out["stored"]
            and out["duplicated"] == out["missing"] == out["unexpected"] == out["differing"] == 0
        )
        return out

    def check_results(self, kept: Sequence[KeptResult]) -> list[dict[str, Any]]:
        """Compare each kept result with the reference's answer; the mismatches."""
        bad = []
        for k in kept:
            qt = TYPES[k.type]
            assert k.window.end is not None
            self.ensure((k.window.end.value - START.value) // INTERVAL_NS + 1)
            diff = compare(k.result, self.query(qt, k.window))
            if diff is not None:
                bad.append(
                    {
                        "type": k.type,
                        "phase": k.phase,
                        "window": [k.window.start, k.window.end, list(k.window.hosts)],
                        "diff": diff,
                    }
                )
        return bad

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


# ------------------------------------------------------------------------------------ runs


@dataclass(slots=True)
class Round:
    """The three phases of one round."""

    ingest: IngestStats
    queries: QueryPhase
    mixed_ingest: IngestStats
    mixed_queries: QueryPhase
    lifecycle: dict[str, list[LifecycleRun]] = field(default_factory=dict)
    #: Magnetic segments at the start of each phase (tsstore).
    segments: dict[str, int | None] = field(default_factory=dict)


def _batches_needed(rate_writes_s: float, seconds: float) -> int:
    return int(rate_writes_s * seconds * 2.5) + 200


def run_system(
    system: System,
    types: Sequence[QueryType],
    *,
    rounds: int,
    seconds: float,
    seed: int,
    index: int,
    sample_every: int,
    think_s: float,
) -> list[Round]:
    """Warm up, then ``rounds`` x (ingest alone, queries alone, both at once)."""
    scale = system.cfg.scale

    def rng(r: int, phase: int) -> np.random.Generator:
        return np.random.default_rng([seed, index, r + 1, phase])  # r = -1: warm-up

    # Warm-up (untimed): every query type once, and writes for about half a second.
    for qt in types:
        system.query(qt, recent_window(qt, system.acked_ns(), rng(-1, 9), scale))
    system.prepare(_batches_needed(1000.0, 0.5))
    warm = system.start_ingest(0.5)()
    est = warm.writes / warm.seconds
    system.lifecycle_runs()

    out: list[Round] = []
    for r in range(rounds):
        phases: dict[str, Any] = {}
        lifecycle: dict[str, list[LifecycleRun]] = {}
        segments: dict[str, int | None] = {}
        for p, phase in enumerate(PHASES):
            if phase != "queries":
                system.prepare(_batches_needed(est, seconds))
            if phase == "queries":
                system.settle()  # queries alone: the lifecycle has caught up with the writes
            else:
                system.wait_idle()
            system.lifecycle_runs()
            segments[phase] = system.segments()
            gc.collect()
            ingest = system.start_ingest(seconds) if phase != "queries" else None
            if phase != "ingest":
                q = query_loop(
                    system.query,
                    system.acked_ns,
                    types,
                    seconds,
                    rng=rng(r, p),
                    scale=scale,
                    sample_every=sample_every,
                    phase=phase,
                    think_s=think_s,
                )
                phases[f"{phase}_q"] = q
            if ingest is not None:
                stats = ingest()
                phases[f"{phase}_i"] = stats
                est = max(est, stats.writes / stats.seconds)
            lifecycle[phase] = system.lifecycle_runs()
        rnd = Round(phases["ingest_i"], phases["queries_q"], phases["mixed_i"], phases["mixed_q"])
        rnd.lifecycle = lifecycle
        rnd.segments = segments
        out.append(rnd)
        q_idle, q_mix = rnd.queries, rnd.mixed_queries
        print(
            f"  {system.name} round {r + 1}: ingest {rnd.ingest.rate:,.0f} rows/s alone, "
            f"{rnd.mixed_ingest.rate:,.0f} mixed; queries {len(q_idle.samples)} alone, "
            f"{len(q_mix.samples)} mixed; p95 {_p95_ms(q_idle.samples):.1f} ms alone, "
            f"{_p95_ms(q_mix.samples):.1f} ms mixed (all types)"
            + (
                ""
                if segments["ingest"] is None
                else f"; magnetic segments {segments['ingest']} -> {segments['queries']} -> "
                f"{segments['mixed']}"
            ),
            flush=True,
        )
    return out


def _p95_ms(samples: Sequence[QuerySample], qtype: str | None = None) -> float:
    return p95([s.seconds * 1e3 for s in samples if qtype is None or s.type == qtype])


def _median_ms(samples: Sequence[QuerySample], qtype: str | None = None) -> float:
    return median([s.seconds * 1e3 for s in samples if qtype is None or s.type == qtype])


# ------------------------------------------------------------------------------- reporting


def _overlaps(s: QuerySample, runs: Sequence[LifecycleRun]) -> bool:
    return any(r.t0 < s.t1 and r.t1 > s.t0 for r in runs)


def summarise_system(name: str, rounds: Sequence[Round], types: Sequence[str]) -> dict[str, Any]:
    """Medians over rounds, pooled p95s, the ratios and the target verdict of one system."""
    idle_rates = [r.ingest.rate for r in rounds]
    mixed_rates = [r.mixed_ingest.rate for r in rounds]
    rate_ratio = median(mixed_rates) / median(idle_rates)
    ingest = {
        "system": name,
        "idle_rows_s": median(idle_rates),
        "idle_spread": spread(idle_rates),
        "mixed_rows_s": median(mixed_rates),
        "mixed_spread": spread(mixed_rates),
        "ratio": rate_ratio,
        "round_ratios": [m / i for m, i in zip(mixed_rates, idle_rates, strict=True)],
        "write_ms_idle": median(_ms([x for r in rounds for x in r.ingest.latencies])),
        "write_p95_ms_idle": p95(_ms([x for r in rounds for x in r.ingest.latencies])),
        "write_ms_mixed": median(_ms([x for r in rounds for x in r.mixed_ingest.latencies])),
        "write_p95_ms_mixed": p95(_ms([x for r in rounds for x in r.mixed_ingest.latencies])),
        "refills": sum(r.ingest.refills + r.mixed_ingest.refills for r in rounds),
        "met": bool(rate_ratio >= RATE_RATIO_TARGET),
    }
    qrows = []
    for t in types:
        idle = [s for r in rounds for s in r.queries.samples if s.type == t]
        mixed = [s for r in rounds for s in r.mixed_queries.samples if s.type == t]
        p_idle, p_mixed = _p95_ms(idle), _p95_ms(mixed)
        per_round = [
            _p95_ms(r.mixed_queries.samples, t) / _p95_ms(r.queries.samples, t) for r in rounds
        ]
        qrows.append(
            {
                "type": t,
                "idle_median_ms": _median_ms(idle),
                "idle_p95_ms": p_idle,
                "mixed_median_ms": _median_ms(mixed),
                "mixed_p95_ms": p_mixed,
                "p95_ratio": p_mixed / p_idle,
                "round_p95_ratios": per_round,
                "ratio_spread": spread(per_round),
                "n_idle": len(idle),
                "n_mixed": len(mixed),
                "met": bool(p_mixed / p_idle <= P95_RATIO_TARGET),
            }
        )
    worst = max(qrows, key=lambda q: q["p95_ratio"])
    n_idle = sum(len(r.queries.samples) for r in rounds)
    n_mixed = sum(len(r.mixed_queries.samples) for r in rounds)
    secs_idle = sum(r.queries.seconds for r in rounds)
    secs_mixed = sum(r.mixed_queries.seconds for r in rounds)
    summary = {
        "system": name,
        "rate_ratio": rate_ratio,
        "worst_p95_ratio": worst["p95_ratio"],
        "worst_type": worst["type"],
        "queries_s_idle": n_idle / secs_idle,
        "queries_s_mixed": n_mixed / secs_mixed,
        "met": bool(ingest["met"] and all(q["met"] for q in qrows)),
    }
    return {"ingest": ingest, "queries": qrows, "summary": summary}


def stage_rows(rounds: Sequence[Round], types: Sequence[str]) -> list[dict[str, Any]]:
    """tsstore's median time per stage, per type, queries alone vs mixed (ms)."""
    out = []
    for t in types:
        for phase in ("idle", "mixed"):
            ss = [
                s
                for r in rounds
                for s in (r.queries if phase == "idle" else r.mixed_queries).samples
                if s.type == t and s.stages is not None
            ]
            if not ss:
                continue
            row: dict[str, Any] = {
                "type": t,
                "phase": phase,
                "wall_ms": median([s.seconds * 1e3 for s in ss]),
            }
            for k in ("parse", "plan", "scan", "execute"):
                row[f"{k}_ms"] = median([s.stages[k] * 1e3 for s in ss if s.stages])
            row["other_ms"] = median(
                [(s.seconds - sum(s.stages.values())) * 1e3 for s in ss if s.stages is not None]
            )
            out.append(row)
    return out


def _phase_seconds(r: Round, phase: str) -> float:
    """Wall seconds of one phase of a round."""
    if phase == "ingest":
        return r.ingest.seconds
    if phase == "queries":
        return r.queries.seconds
    return max(r.mixed_ingest.seconds, r.mixed_queries.seconds)


def lifecycle_rows(name: str, rounds: Sequence[Round]) -> list[dict[str, Any]]:
    """Lifecycle runs per phase, and how the queries that overlapped one fared."""
    out = []
    for phase in PHASES:
        runs = [x for r in rounds for x in r.lifecycle.get(phase, [])]
        secs = sum(_phase_seconds(r, phase) for r in rounds)
        durs = [x.t1 - x.t0 for x in runs]
        row: dict[str, Any] = {
            "system": name,
            "phase": phase,
            "runs": len(runs),
            "median_ms": median(_ms(durs)),
            "max_ms": max(_ms(durs)) if durs else math.nan,
            "busy_pct": 100 * sum(durs) / secs if secs else math.nan,
            "rows_moved": sum(x.moved for x in runs),
            "compactions": sum(x.compacted for x in runs),
        }
        if phase != "ingest":
            over: list[float] = []
            clear: list[float] = []
            for r in rounds:
                qs = r.queries if phase == "queries" else r.mixed_queries
                lc = r.lifecycle.get(phase, [])
                for s in qs.samples:
                    (over if _overlaps(s, lc) else clear).append(s.seconds * 1e3)
            row["queries_overlapping_pct"] = 100 * len(over) / max(1, len(over) + len(clear))
            row["p95_ms_overlapping"] = p95(over)
            row["p95_ms_clear"] = p95(clear)
        out.append(row)
    return out


def cpu_rows(name: str, rounds: Sequence[Round]) -> list[dict[str, Any]]:
    """CPU seconds per wall second (cores busy) of the writer's and the dashboard's process
    in each phase (one and the same process except for ``tsstore-process``)."""
    rows = []
    for phase in PHASES:
        ing = {"ingest": [r.ingest for r in rounds], "mixed": [r.mixed_ingest for r in rounds]}
        qs = {"queries": [r.queries for r in rounds], "mixed": [r.mixed_queries for r in rounds]}
        row: dict[str, Any] = {"system": name, "phase": phase}
        if phase in ing:
            row["writer_cores"] = median([i.cpu_s / i.seconds for i in ing[phase]])
        if phase in qs:
            row["query_cores"] = median([q.cpu_s / q.seconds for q in qs[phase]])
        rows.append(row)
    return rows


def _round_json(r: Round) -> dict[str, Any]:
    def qphase(q: QueryPhase) -> dict[str, Any]:
        by: dict[str, list[float]] = {}
        for s in q.samples:
            by.setdefault(s.type, []).append(round(s.seconds * 1e3, 3))
        return {
            "seconds": q.seconds,
            "cpu_s": q.cpu_s,
            "latency_ms": by,
            "errors": q.errors,
            "kept": len(q.kept),
        }

    return {
        "ingest": r.ingest.to_dict(),
        "queries": qphase(r.queries),
        "mixed_ingest": r.mixed_ingest.to_dict(),
        "mixed_queries": qphase(r.mixed_queries),
        "lifecycle": {
            k: [[x.t0, x.t1, x.moved, x.compacted] for x in v] for k, v in r.lifecycle.items()
        },
        "segments_at_start": r.segments,
    }


# ------------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=None, help="hosts (default 100; 20 with --quick)")
    p.add_argument("--seconds", type=float, default=None, help="seconds per phase (6; quick 2)")
    p.add_argument("--rounds", type=int, default=None, help="rounds of A B C (3; quick 2)")
    p.add_argument("--history", default="13h", help="preloaded history (default 13h)")
    p.add_argument("--memory-retention", default="1h", help="the table's memory retention")
    p.add_argument(
        "--lifecycle-interval",
        default="1s",
        help="wall time between lifecycle runs; none: no lifecycle during the phases",
    )
    p.add_argument("--ticks-per-write", type=int, default=1, help="10 s ticks per write()")
    p.add_argument("--types", default=",".join(DEFAULT_TYPES), help="query types, in turn")
    p.add_argument("--modes", default=",".join(MODES), help="tsstore modes: thread,process")
    p.add_argument("--peers", default=",".join(KNOWN_PEERS), help="duckdb,chdb or none")
    p.add_argument("--think-ms", type=float, default=0.0, help="dashboard pause between queries")
    p.add_argument(
        "--sample-every", type=int, default=5, help="check every N-th result of each type"
    )
    p.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in every process (a diagnosis of GIL hand-offs)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the windows")
    p.add_argument("--quick", action="store_true", help="scale 20, 2 s phases, 2 rounds")
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    return p


def _make(name: str, cfg: Config, root: Path) -> System:
    cls: dict[str, type[System]] = {
        "tsstore-thread": TsstoreThread,
        "tsstore-process": TsstoreProcess,
        "duckdb": DuckDBSystem,
        "chdb": ChDBSystem,
    }
    return cls[name](cfg, root)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a correctness check fails or a system errs."""
    a = _parser().parse_args(argv)
    scale = a.scale if a.scale is not None else (20 if a.quick else 100)
    seconds = a.seconds if a.seconds is not None else (2.0 if a.quick else 6.0)
    rounds = a.rounds if a.rounds is not None else (2 if a.quick else 3)
    types = [t for t in a.types.split(",") if t]
    if bad := [t for t in types if t not in TYPES]:
        sys.exit(f"unknown query types {bad}; known: {list(TYPES)}")
    modes = [m for m in a.modes.split(",") if m and m != "none"]
    if bad := [m for m in modes if m not in MODES]:
        sys.exit(f"unknown modes {bad}; known: {MODES}")
    peer_names = [p for p in a.peers.split(",") if p and p != "none"]
    if bad := [p for p in peer_names if p not in KNOWN_PEERS]:
        sys.exit(f"unknown peers {bad}; known: {KNOWN_PEERS}")
    not_run = missing_peers([*peer_names, "duckdb"])
    if "duckdb" in not_run:
        sys.exit(f"DuckDB (the correctness reference) cannot run: {not_run['duckdb']}")
    peer_names = [p for p in peer_names if p not in not_run]
    history_ns = pd.Timedelta(a.history).value
    longest = max((TYPES[t].window or pd.Timedelta(0)).value for t in types)
    if history_ns < longest + END_JITTER_US * 1000:
        sys.exit(f"--history {a.history} is shorter than the longest window plus 60 s")
    if a.switch_interval:
        sys.setswitchinterval(a.switch_interval)
    import_tsstore()
    cfg = Config(
        scale=scale,
        seed=a.seed,
        history_ticks=history_ns // INTERVAL_NS,
        ticks_per_write=a.ticks_per_write,
        memory_retention=a.memory_retention,
        lifecycle_interval_s=None
        if a.lifecycle_interval == "none"
        else parse_seconds(a.lifecycle_interval),
        switch_interval=a.switch_interval,
    )
    qtypes = [TYPES[t] for t in types]
    systems = [f"tsstore-{m}" for m in modes] + peer_names
    load_start = os.getloadavg()
    t_all = time.perf_counter()
    print(
        f"Mixed load: TSBS cpu-only, scale {scale}, history {a.history} "
        f"({cfg.history_ticks * scale:,} rows), memory retention {a.memory_retention}, "
        f"lifecycle every {a.lifecycle_interval}, {a.ticks_per_write} tick(s) per write; "
        f"{rounds} rounds x (ingest, queries, mixed) x {seconds:g} s; types {', '.join(types)}",
        flush=True,
    )

    scratch = Path(tempfile.mkdtemp(prefix="tsstore-bench-mixed-", dir=a.scratch))
    ref = Reference(scale, a.seed)
    results: dict[str, Any] = {}
    all_rounds: dict[str, list[Round]] = {}
    checks: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    setup_rows: list[dict[str, Any]] = []
    try:
        for i, name in enumerate(systems):
            system = _make(name, cfg, scratch / name)
            (scratch / name).mkdir(parents=True, exist_ok=True)
            try:
                t0 = time.perf_counter()
                system.setup()
                setup_rows.append(
                    {"system": name, "setup_s": time.perf_counter() - t0, **system.setup_info}
                )
                rds = run_system(
                    system,
                    qtypes,
                    rounds=rounds,
                    seconds=seconds,
                    seed=a.seed,
                    index=i,
                    sample_every=a.sample_every,
                    think_s=a.think_ms / 1e3,
                )
                all_rounds[name] = rds
                describe = system.describe() if hasattr(system, "describe") else None
                got = system.rows_for_check()
                row_check = ref.check_rows(got, system.acked_ns())
                del got
                kept = [k for r in rds for q in (r.queries, r.mixed_queries) for k in q.kept]
                bad = ref.check_results(kept)
                q_errors = [e for r in rds for q in (r.queries, r.mixed_queries) for e in q.errors]
                checks[name] = {
                    "rows": row_check,
                    "results_checked": len(kept),
                    "results_mismatched": len(bad),
                    "mismatches": bad[:20],
                    "query_errors": q_errors,
                    "lifecycle_errors": system.errors(),
                }
                for e in q_errors + system.errors():
                    errors.append({"system": name, "error": e})
                results[name] = {
                    "description": system.description,
                    "version": getattr(system, "version", None),
                    "summary": summarise_system(name, rds, types),
                    "describe_after": describe,
                    "rounds": [_round_json(r) for r in rds],
                }
            except Exception as e:  # a failing system is reported; the others still run
                traceback.print_exc()
                errors.append({"system": name, "error": f"{type(e).__name__}: {e}"})
            finally:
                system.close()
                shutil.rmtree(scratch / name, ignore_errors=True)
    finally:
        ref.close()
        shutil.rmtree(scratch, ignore_errors=True)

    ran = [s for s in systems if s in results]
    setup_cols: list[Any] = [
        ("system", "system"),
        ("history_rows", "history rows"),
        ("setup_s", "setup s", ".2f"),
        ("load_s", "load s", ".2f"),
        ("migrate_s", "migrate s", ".2f"),
        ("memory_rows", "memory rows"),
        ("magnetic_rows", "magnetic rows"),
    ]
    print("\nSet-up (untimed for the phases)")
    print_table(setup_rows, setup_cols)

    print(
        f"\nIngest: acknowledged rows/s, median over {rounds} rounds (spread = (max-min)/median);"
        " write latency ms over all writes"
    )
    print_table(
        [results[s]["summary"]["ingest"] for s in ran],
        [
            ("system", "system"),
            ("idle_rows_s", "alone rows/s", ",.0f"),
            ("idle_spread", "spread", ".2f"),
            ("mixed_rows_s", "mixed rows/s", ",.0f"),
            ("mixed_spread", "spread", ".2f"),
            ("ratio", "mixed/alone", ".2f"),
            ("write_ms_idle", "write ms alone", ".2f"),
            ("write_p95_ms_idle", "p95", ".2f"),
            ("write_ms_mixed", "write ms mixed", ".2f"),
            ("write_p95_ms_mixed", "p95", ".2f"),
            ("refills", "refills"),
            ("met", f">= {RATE_RATIO_TARGET:g}"),
        ],
    )
    qcols: list[Any] = [
        ("type", "query type"),
        ("idle_median_ms", "alone ms", ".1f"),
        ("idle_p95_ms", "p95", ".1f"),
        ("mixed_median_ms", "mixed ms", ".1f"),
        ("mixed_p95_ms", "p95", ".1f"),
        ("p95_ratio", "p95 mixed/alone", ".2f"),
        ("ratio_spread", "spread", ".2f"),
        ("n_idle", "n alone"),
        ("n_mixed", "n mixed"),
        ("met", f"<= {P95_RATIO_TARGET:g}"),
    ]
    for s in ran:
        print(f"\n{s} ({results[s]['description']}): query latency, all rounds pooled")
        print_table(results[s]["summary"]["queries"], qcols)

    print("\nSummary (target: p95 mixed/alone <= 2 for every type, ingest mixed/alone >= 0.5)")
    print_table(
        [results[s]["summary"]["summary"] for s in ran],
        [
            ("system", "system"),
            ("rate_ratio", "ingest mixed/alone", ".2f"),
            ("worst_p95_ratio", "worst p95 ratio", ".2f"),
            ("worst_type", "type"),
            ("queries_s_idle", "queries/s alone", ".1f"),
            ("queries_s_mixed", "queries/s mixed", ".1f"),
            ("met", "target met"),
        ],
    )
    cpu = [row for s in ran for row in cpu_rows(s, all_rounds[s])]
    print(
        "\nCPU seconds per wall second (cores busy) of the writer's process and of the "
        "dashboard's (the same process but for tsstore-process)"
    )
    print_table(
        cpu,
        [
            ("system", "system"),
            ("phase", "phase"),
            ("writer_cores", "writer process", ".2f"),
            ("query_cores", "dashboard process", ".2f"),
        ],
    )

    stages: dict[str, list[dict[str, Any]]] = {}
    lifecycle: list[dict[str, Any]] = []
    for s in ran:
        if not s.startswith("tsstore"):
            continue
        stages[s] = stage_rows(all_rounds[s], types)
        print(f"\n{s}: time per stage, median ms (other = wall - stages)")
        print_table(
            stages[s],
            [
                ("type", "query type"),
                ("phase", "phase"),
                ("wall_ms", "wall", ".1f"),
                ("parse_ms", "parse", ".2f"),
                ("plan_ms", "plan", ".2f"),
                ("scan_ms", "scan", ".2f"),
                ("execute_ms", "execute", ".2f"),
                ("other_ms", "other", ".2f"),
            ],
        )
        lifecycle += lifecycle_rows(s, all_rounds[s])
    if lifecycle:
        print("\nLifecycle runs per phase kind (all rounds) and the queries that overlapped one")
        print_table(
            lifecycle,
            [
                ("system", "system"),
                ("phase", "phase"),
                ("runs", "runs"),
                ("median_ms", "median ms", ".0f"),
                ("max_ms", "max ms", ".0f"),
                ("busy_pct", "busy %", ".1f"),
                ("rows_moved", "rows moved"),
                ("compactions", "compactions"),
                ("queries_overlapping_pct", "queries overlapping %", ".1f"),
                ("p95_ms_overlapping", "p95 ms overlapping", ".1f"),
                ("p95_ms_clear", "p95 ms clear", ".1f"),
            ],
        )

    print("\nCorrectness")
    crow = []
    failed = False
    for s in systems:
        c = checks.get(s)
        if c is None:
            crow.append({"system": s, "ok": False})
            failed = True
            continue
        ok = c["rows"]["ok"] and c["results_mismatched"] == 0
        failed |= not ok
        crow.append(
            {
                "system": s,
                **{k: v for k, v in c["rows"].items() if k != "ok"},
                "results": f"{c['results_checked'] - c['results_mismatched']}/"
                f"{c['results_checked']} equal",
                "ok": ok,
            }
        )
        for m in c["mismatches"][:5]:
            print(f"  MISMATCH {s} {m['type']} ({m['phase']}): {m['diff']}")
    print_table(
        crow,
        [
            ("system", "system"),
            ("expected", "rows expected"),
            ("stored", "stored"),
            ("duplicated", "duplicated"),
            ("missing", "missing"),
            ("unexpected", "unexpected"),
            ("differing", "differing"),
            ("results", "results vs reference"),
            ("ok", "ok"),
        ],
    )
    for p, why in not_run.items():
        print(f"not run: {p}: {why}")
    for e in errors:
        print(f"  ERROR {e['system']}: {e['error']}")

    total_s = time.perf_counter() - t_all
    load_end = os.getloadavg()
    print(
        f"\nTotal {total_s:.0f} s; load average at start {load_start[0]:.2f}, "
        f"at end {load_end[0]:.2f}"
    )
    payload: dict[str, Any] = {
        "args": {
            **vars(a),
            "scale": scale,
            "seconds": seconds,
            "rounds": rounds,
            "types": types,
            "systems": systems,
        },
        "config": {
            "history_ticks": cfg.history_ticks,
            "lifecycle_interval_s": cfg.lifecycle_interval_s,
            "switch_interval": sys.getswitchinterval(),
        },
        "targets": {"p95_ratio_max": P95_RATIO_TARGET, "rate_ratio_min": RATE_RATIO_TARGET},
        "total_s": total_s,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "setup": setup_rows,
        "systems": results,
        "stages": stages,
        "lifecycle": lifecycle,
        "cpu": cpu,
        "checks": checks,
        "errors": errors,
        "not_run": not_run,
        "machine": machine_info(),
    }
    if not a.no_write:
        path = write_results("mixed", payload)
        print(f"Results: {path}")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
