"""TSBS ``iot`` benchmark of tsstore: trucks with dirty data, ingest to queries.

The workload
    TSBS's ``iot`` use case (``bench/tsbs_iot.py``): ``--scale`` trucks, each sending a
    ``readings`` row (7 float fields: position, elevation, velocity, heading, grade, fuel
    consumption) and a ``diagnostics`` row (fuel_state, current_load, status) every 10 s, with
    8 tags (name, fleet, driver, model, device_version, load_capacity, fuel_capacity,
    nominal_fuel_consumption). Unlike ``cpu-only`` the data are dirty, as TSBS makes them: 1 %
    of batches and 10 % of entries missing, 30 % of entries and 5 % of batches sent out of
    order (they come back a few simulator batches later, so with 100 trucks, 20 batches per
    10 s epoch, few of them cross into a newer timestamp), some only at the end (late), 10 %
    of entries with a missing field, 1 % with a nil tag.

Phases
    1. **ingest**: the rows in TSBS's emission order, cut into loader batches of
       ``--batch-size`` entries (``tsbs_load``'s default, 10,000), each batch written with
       ``table.write`` to ``readings`` and ``diagnostics`` (tags as dimensions), so out-of-order
       and late rows arrive as they would. A nil tag is a missing value in its column, which
       ``write`` takes as an *absent dimension*, as Timestream takes a record that does not
       list it (it reads back as NULL): one ``write`` per table and batch. Rows/s = rows /
       seconds of all ``write`` calls (durable: WAL fsynced per call). Also
       ``tsstore-bulk``: the whole frames, one ``write`` per table and dimension set. Each on
       a fresh store (one per tier), after an untimed warm-up into a store thrown away.
       DuckDB's and chDB's bulk loads (below) are shown for reference.
    2. **migration**: both tables to the magnetic tier (``memory_retention`` cut to 1 h, clock
       a day past the data, ``store.run_lifecycle()`` timed); points/s, where a point is one
       field value present (missing fields are not points).
    3. **bytes/point**: ``describe()["magnetic_bytes"]`` of both tables (every file: chunks,
       metadata, icechunk snapshots) / points; DuckDB's file and chDB's folder likewise.
    4. **queries**: the 13 TSBS iot query types in Timestream SQL through ``store.query`` on
       the memory tier and on the magnetic tier, ``--windows`` seeded random instances each
       (window, fleet, truck as TSBS's ``RandWindow``, ``GetRandomFleet``,
       ``GetRandomTrucks``), interleaved per instance with DuckDB (file database, ``ORDER BY
       name, time``, read-only), chDB (``MergeTree ORDER BY (name, time)``) and pandas
       (vectorised groupby on the frames sorted by time, with a series id per tag set computed
       at load, TSBS's ``tags_id``). tsstore's caches of parsed SQL and prepared plans are
       cleared (untimed) before each call. Median and p95 per type and system; ratio =
       tsstore / best peer. Every result is checked against DuckDB's (rows sorted, strings
       exact, numbers within a relative 1e-9, durations as seconds); a mismatch is printed
       as ``MISMATCH`` and makes the exit status 1.

The queries
    TSBS has no Timestream generator for ``iot`` (its Timestream target covers ``cpu-only``
    only), so the SQL translates TSBS's TimescaleDB queries (``databases/timescaledb/iot.go``)
    to Timestream's model, where the tags are dimensions of each row instead of a ``tags``
    table: TSBS's ``tags_id`` (one per tag set) is the series, i.e. all 8 dimensions; a
    ``LATERAL (... ORDER BY time DESC LIMIT 1)`` per tag set is ``row_number() OVER
    (PARTITION BY <8 tags> ORDER BY time DESC) = 1``; a join to ``tags`` filtered on tags is
    the same filter on the rows. Numeric tags are VARCHAR dimensions, so ``load_capacity`` and
    ``nominal_fuel_consumption`` are ``CAST(... AS double)`` where TSBS divides or averages
    them. Integer arithmetic is kept: ``count(*) / 6`` divides as integers (PostgreSQL and
    Timestream alike; DuckDB ``//``, ClickHouse ``intDiv``); PostgreSQL's ``sum(bigint) / 144``
    is numeric division, hence ``CAST(sum(...) AS double) / 144``. TSBS's own quirks are
    kept: breakdown-frequency's ``count(status = 0) / count(*) >= 0.5`` counts non-NULL
    statuses (so a 10-minute bucket is "broken down" when it has no missing status); with one
    day of data the 24-hour window of long-daily-sessions is the whole day (TSBS's
    ``RandWindow`` refuses a window as long as the data). One difference from TSBS's
    TimescaleDB loader: it keys its ``tags`` cache by truck name, so a row with a nil tag is
    filed under the tag set first seen for its truck, and a row with a nil name under
    ``tags_id`` 0, which no query joins; here every row keeps its own tags (Timestream's and
    InfluxDB's model), and the same data and SQL semantics are given to every system.
    ClickHouse's ``lag``/``lead`` return the type's default instead of NULL past a
    partition's ends unless the argument is Nullable, so its SQL wraps them in
    ``toNullable``; its durations are ``dateDiff('second', ...)`` (compared as seconds).

Run::

    python bench/bench_iot.py                      # 100 trucks x 1 day, 10 instances per type
    python bench/bench_iot.py --quick              # 10 trucks x 1 day, 3 instances
    python bench/bench_iot.py --peers duckdb --types last-loc,avg-load
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_queries import compare, parse_cache_clearer
from common import (
    dir_bytes,
    import_tsstore,
    machine_info,
    measure_interleaved,
    median,
    print_table,
    report_checks,
    verdict,
    write_results,
)
from tsbs_iot import (
    DIAGNOSTICS_FIELDS,
    FLEET_CHOICES,
    READINGS_FIELDS,
    TAGS,
    IotData,
    generate_iot,
)

#: First timestamp of the generated data (the TSBS default).
START = pd.Timestamp("2016-01-01", tz="UTC")
#: Tiers tsstore is measured on.
TIERS: tuple[str, ...] = ("memory", "magnetic")
#: Peers this script knows how to query.
KNOWN_PEERS: tuple[str, ...] = ("duckdb", "chdb", "pandas")
#: The peer every result is checked against.
REFERENCE = "duckdb"
#: Relative tolerance of the correctness check.
RTOL = 1e-9
#: ``tsbs_load``'s default ``--batch-size``.
DEFAULT_BATCH = 10_000
#: Database of the tsstore tables.
DATABASE = "benchmark"
FIELDS: dict[str, tuple[str, ...]] = {
    "readings": READINGS_FIELDS,
    "diagnostics": DIAGNOSTICS_FIELDS,
}
#: The series key: TSBS's ``tags_id``, one per tag set.
SERIES = ", ".join(TAGS)
_G8 = ", ".join(str(i) for i in range(1, 9))
_G9 = ", ".join(str(i) for i in range(1, 10))


# ------------------------------------------------------------------------------ query types


def _ten_minute_periods(minutes_per_hour: float, duration: pd.Timedelta) -> int:
    """TSBS ``tenMinutePeriods``: 10-minute periods left in ``duration`` after resting
    ``minutes_per_hour`` every hour."""
    hours = duration / pd.Timedelta("1h")
    return int((hours * 60 - minutes_per_hour * hours) / 10)


@dataclass(frozen=True, slots=True)
class QueryType:
    """One TSBS iot query type: what its random instances draw."""

    name: str
    table: str
    fleet: bool  # draws a random fleet
    trucks: int  # random trucks named (0: none)
    window: pd.Timedelta | None  # random time window (None: the whole table)


QUERY_TYPES: dict[str, QueryType] = {
    q.name: q
    for q in (
        QueryType("last-loc", "readings", True, 0, None),
        QueryType("single-last-loc", "readings", False, 1, None),
        QueryType("low-fuel", "diagnostics", True, 0, None),
        QueryType("high-load", "diagnostics", True, 0, None),
        QueryType("stationary-trucks", "readings", True, 0, pd.Timedelta("10min")),
        QueryType("long-driving-sessions", "readings", True, 0, pd.Timedelta("4h")),
        QueryType("long-daily-sessions", "readings", True, 0, pd.Timedelta("24h")),
        QueryType("avg-vs-projected-fuel-consumption", "readings", False, 0, None),
        QueryType("avg-daily-driving-duration", "readings", False, 0, None),
        QueryType("avg-daily-driving-session", "readings", False, 0, None),
        QueryType("avg-load", "diagnostics", False, 0, None),
        QueryType("daily-activity", "diagnostics", False, 0, None),
        QueryType("breakdown-frequency", "diagnostics", False, 0, None),
    )
}


@dataclass(frozen=True, slots=True)
class Instance:
    """One random instance of a query type: ``[start, end)``, the fleet, the trucks."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    fleet: str | None
    trucks: tuple[str, ...]


def draw_instances(
    qt: QueryType, n: int, *, seed: int, scale: int, t0: pd.Timestamp, t1: pd.Timestamp
) -> tuple[list[Instance], str | None]:
    """``n`` instances of ``qt`` from a stream of its own ``(seed, type)``.

    As TSBS: the window start is uniform in ``[t0, t1 - window)`` (microseconds), the fleet
    uniform among the four, the trucks distinct and uniform among ``truck_0 ..``. A window as
    long as the data is the whole span (TSBS would refuse it); longer ones raise.

    Returns
    -------
    instances : list of Instance
        The instances, in order.
    note : str or None
        Set when the window had to be the whole span.
    """
    rng = np.random.default_rng([seed, list(QUERY_TYPES).index(qt.name)])
    note = None
    out = []
    for _ in range(n):
        fleet = str(rng.choice(FLEET_CHOICES)) if qt.fleet else None
        trucks: tuple[str, ...] = ()
        if qt.trucks:
            picks = rng.choice(scale, size=qt.trucks, replace=False)
            trucks = tuple(f"truck_{int(i)}" for i in picks)
        start = end = None
        if qt.window is not None:
            room_us = (t1 - t0 - qt.window) // pd.Timedelta("1us")
            if room_us < 0:
                raise ValueError(f"{qt.name} needs {qt.window} of data; there is {t1 - t0}")
            if room_us == 0:
                note = f"{qt.window} window = the whole data span (TSBS RandWindow would refuse)"
                start = t0
            else:
                start = t0 + pd.Timedelta(int(rng.integers(0, room_us)), "us")
            end = start + qt.window
        out.append(Instance(start, end, fleet, trucks))
    return out, note


# -------------------------------------------------------------------------------- dialects


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one SQL engine spells what the queries need."""

    name: str
    bucket: Callable[[str, str], str]  # (column, "10m" | "1d")
    lit: Callable[[pd.Timestamp], str]
    idiv: Callable[[str, str], str]
    to_double: Callable[[str], str]
    avg_duration: Callable[[str, str], str]  # (stop, start)
    nullable: Callable[[str], str] = lambda x: x  # argument of lag/lead: NULL past the ends


def _ts_lit(t: pd.Timestamp) -> str:
    return t.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


TIMESTREAM = Dialect(
    "timestream",
    bucket=lambda col, unit: f"bin({col}, {unit})",
    lit=lambda t: f"'{_ts_lit(t)}'",
    idiv=lambda a, b: f"{a} / {b}",  # bigint / integer divides as integers, as in PostgreSQL
    to_double=lambda x: f"CAST({x} AS double)",
    avg_duration=lambda stop, start: f"avg({stop} - {start})",
)
DUCKDB = Dialect(
    "duckdb",
    bucket=lambda col, unit: (
        f"time_bucket(INTERVAL '{'10 minutes' if unit == '10m' else '1 day'}', {col})"
    ),
    lit=lambda t: f"TIMESTAMPTZ '{_ts_lit(t)}+00'",
    idiv=lambda a, b: f"{a} // {b}",
    to_double=lambda x: f"CAST({x} AS DOUBLE)",
    avg_duration=lambda stop, start: f"avg({stop} - {start})",
)
CLICKHOUSE = Dialect(
    "clickhouse",
    bucket=lambda col, unit: (
        f"toStartOfInterval({col}, INTERVAL {'10 MINUTE' if unit == '10m' else '1 DAY'})"
    ),
    lit=lambda t: f"toDateTime64('{_ts_lit(t)}', 9, 'UTC')",
    idiv=lambda a, b: f"intDiv({a}, {b})",
    to_double=lambda x: f"toFloat64({x})",
    avg_duration=lambda stop, start: f"avg(dateDiff('second', {start}, {stop}))",
    # ClickHouse's lag/lead give the type's default (0, 1970-01-01) past the partition's ends
    # unless the argument is Nullable; SQL's give NULL.
    nullable=lambda x: f"toNullable({x})",
)
DIALECTS: dict[str, Dialect] = {d.name: d for d in (TIMESTREAM, DUCKDB, CLICKHOUSE)}


def _last_per_series(
    d: Dialect, table: str, cols: str, where: str, outer: str = "", extra: str = ""
) -> str:
    """TSBS's ``LATERAL (SELECT ... ORDER BY time DESC LIMIT 1)`` per tag set."""
    sql = (
        f"SELECT {cols} FROM (SELECT {cols}{extra}, row_number() OVER (PARTITION BY {SERIES} "
        f"ORDER BY time DESC) AS rn FROM {table} WHERE {where}) WHERE rn = 1"
    )
    return sql + (f" AND {outer}" if outer else "")


def query_sql(qt: QueryType, w: Instance, dialect: str) -> str:
    """The query of ``qt`` for instance ``w`` in ``dialect`` (timestream, duckdb, clickhouse)."""
    d = DIALECTS[dialect]
    fleet = f"fleet = '{w.fleet}'" if w.fleet else ""
    window = f"time >= {d.lit(w.start)} AND time < {d.lit(w.end)}" if w.start is not None else ""
    b10 = d.bucket("time", "10m")
    name = qt.name
    if name == "last-loc":
        return _last_per_series(
            d, "readings", "name, driver, longitude, latitude", f"name IS NOT NULL AND {fleet}"
        )
    if name == "single-last-loc":
        trucks = ", ".join(f"'{t}'" for t in w.trucks)
        return _last_per_series(
            d, "readings", "name, driver, longitude, latitude", f"name IN ({trucks})"
        )
    if name == "low-fuel":
        return _last_per_series(
            d,
            "diagnostics",
            "name, driver, fuel_state",
            f"name IS NOT NULL AND {fleet}",
            outer="fuel_state < 0.1",
        )
    if name == "high-load":
        return (
            "SELECT name, driver, current_load FROM ("
            + _last_per_series(
                d,
                "diagnostics",
                "name, driver, current_load, load_capacity",
                f"name IS NOT NULL AND {fleet}",
                outer=f"current_load / {d.to_double('load_capacity')} > 0.9",
            )
            + ")"
        )
    if name == "stationary-trucks":
        return (
            f"SELECT name, driver FROM readings WHERE {window} AND name IS NOT NULL AND {fleet} "
            "GROUP BY 1, 2 HAVING avg(velocity) < 1"
        )
    if name in ("long-driving-sessions", "long-daily-sessions"):
        rest = 5 if name == "long-driving-sessions" else 35
        periods = _ten_minute_periods(rest, qt.window)  # type: ignore[arg-type]
        return (
            f"SELECT name, driver FROM (SELECT {b10} AS ten_minutes, {SERIES} FROM readings "
            f"WHERE {window} AND name IS NOT NULL AND {fleet} GROUP BY {_G9} "
            f"HAVING avg(velocity) > 1) GROUP BY name, driver "
            f"HAVING count(ten_minutes) > {periods}"
        )
    if name == "avg-vs-projected-fuel-consumption":
        return (
            "SELECT fleet, avg(fuel_consumption) AS avg_fuel_consumption, "
            f"avg({d.to_double('nominal_fuel_consumption')}) AS projected_fuel_consumption "
            "FROM readings WHERE velocity > 1 AND fleet IS NOT NULL "
            "AND nominal_fuel_consumption IS NOT NULL AND name IS NOT NULL GROUP BY fleet"
        )
    if name == "avg-daily-driving-duration":
        return (
            f"WITH ten_minute_driving_sessions AS (SELECT {b10} AS ten_minutes, {SERIES} "
            f"FROM readings GROUP BY {_G9} HAVING avg(velocity) > 1), "
            f"daily_total_session AS (SELECT {d.bucket('ten_minutes', '1d')} AS day, {SERIES}, "
            f"{d.idiv('count(*)', '6')} AS hours FROM ten_minute_driving_sessions "
            f"GROUP BY {_G9}) "
            "SELECT fleet, name, driver, avg(hours) AS avg_daily_hours FROM daily_total_session "
            "GROUP BY fleet, name, driver"
        )
    if name == "avg-daily-driving-session":
        return (
            f"WITH driver_status AS (SELECT {SERIES}, {b10} AS ten_minutes, "
            f"avg(velocity) > 5 AS driving FROM readings GROUP BY {_G9}), "
            f"driver_status_change AS (SELECT {SERIES}, ten_minutes AS start, "
            f"lead({d.nullable('ten_minutes')}) OVER (PARTITION BY {SERIES} ORDER BY ten_minutes) "
            f"AS stop, driving FROM (SELECT {SERIES}, ten_minutes, driving, "
            f"lag({d.nullable('driving')}) OVER "
            f"(PARTITION BY {SERIES} ORDER BY ten_minutes) AS prev_driving FROM driver_status) x "
            "WHERE x.driving <> x.prev_driving) "
            f"SELECT name, {d.bucket('start', '1d')} AS day, "
            f"{d.avg_duration('stop', 'start')} AS duration FROM driver_status_change "
            "WHERE name IS NOT NULL AND driving = true GROUP BY 1, 2 ORDER BY 1, 2"
        )
    if name == "avg-load":
        return (
            "SELECT fleet, model, load_capacity, "
            f"avg(avg_load / {d.to_double('load_capacity')}) AS avg_load_percentage "
            f"FROM (SELECT {SERIES}, avg(current_load) AS avg_load FROM diagnostics "
            f"WHERE name IS NOT NULL GROUP BY {_G8}) GROUP BY fleet, model, load_capacity"
        )
    if name == "daily-activity":
        return (
            f"SELECT fleet, model, day, {d.to_double('sum(ten_mins_per_day)')} / 144 "
            f"AS daily_activity FROM (SELECT {d.bucket('time', '1d')} AS day, {b10} "
            f"AS ten_minutes, {SERIES}, count(*) AS ten_mins_per_day FROM diagnostics "
            f"WHERE name IS NOT NULL GROUP BY {_G9}, 10 HAVING avg(status) < 1) "
            "GROUP BY fleet, model, day ORDER BY day"
        )
    if name == "breakdown-frequency":
        return (
            f"WITH breakdown_per_truck_per_ten_minutes AS (SELECT {b10} AS ten_minutes, "
            f"{SERIES}, {d.idiv('count(status = 0)', 'count(*)')} >= 0.5 AS broken_down "
            f"FROM diagnostics GROUP BY {_G9}), breakdowns_per_truck AS (SELECT ten_minutes, "
            f"{SERIES}, broken_down, lead({d.nullable('broken_down')}) OVER (PARTITION BY {SERIES} "
            "ORDER BY ten_minutes) AS next_broken_down FROM breakdown_per_truck_per_ten_minutes) "
            "SELECT model, count(*) AS breakdowns FROM breakdowns_per_truck "
            "WHERE name IS NOT NULL AND broken_down = false AND next_broken_down = true "
            "GROUP BY model"
        )
    raise ValueError(f"unknown query type {name!r}")


# -------------------------------------------------------------------------------- tsstore


Write = tuple[str, pd.DataFrame, list[str]]


def _nil_tag(df: pd.DataFrame) -> np.ndarray:
    """Per row, the index in ``TAGS`` of its nil tag, or -1 (TSBS clears at most one)."""
    isnull = df[list(TAGS)].isna().to_numpy()
    if (isnull.sum(1) > 1).any():
        raise ValueError("a row has more than one nil tag")
    return np.where(isnull.any(1), isnull.argmax(1), -1)


def split_by_dimensions(table: str, df: pd.DataFrame, nil: np.ndarray) -> list[Write]:
    """``df`` as ``write`` calls: one, with every tag a dimension. A nil tag is a missing
    value, which ``write`` takes as an absent dimension (it reads back as NULL), as Timestream
    takes a record that does not list it. (``nil``, each row's nil tag, is kept for the
    statistics of the data.)"""
    del nil
    return [(table, df, list(TAGS))]


def plan_writes(data: IotData, batch_size: int | None) -> list[Write]:
    """The ``write`` calls of an ingest: per loader batch (``None``: the whole frames), the
    readings then the diagnostics, split by dimension set."""
    nil = {"readings": _nil_tag(data.readings), "diagnostics": _nil_tag(data.diagnostics)}
    if batch_size is None:
        return split_by_dimensions(
            "readings", data.readings, nil["readings"]
        ) + split_by_dimensions("diagnostics", data.diagnostics, nil["diagnostics"])
    writes: list[Write] = []
    pos = {"readings": 0, "diagnostics": 0}
    for chunks in data.batches(batch_size):
        for table, chunk in zip(("readings", "diagnostics"), chunks, strict=True):
            if len(chunk):
                i = pos[table]
                writes += split_by_dimensions(table, chunk, nil[table][i : i + len(chunk)])
                pos[table] += len(chunk)
    return writes


def points_of(df: pd.DataFrame, table: str) -> int:
    """Field values present (missing fields are not points)."""
    return int(sum(int(df[f].notna().sum()) for f in FIELDS[table]))


def build_store(
    root: Path, data: IotData, writes: list[Write], tier: str | None, *, check: bool = True
) -> tuple[Any, dict[str, Any]]:
    """A store at ``root`` holding ``data`` as ``benchmark.readings`` and
    ``benchmark.diagnostics``, written by ``writes`` (timed); for ``tier == "magnetic"`` then
    migrated (timed). ``tier=None``: ingest only.

    The clock is the newest point + 1 minute (every row in the ingestion window, memory
    retention 8766 h); for the magnetic tier the memory retention is then cut to 1 h and the
    clock moved a day on before ``run_lifecycle()``. Each ``write`` is timed on its own, so
    that the calls with every tag and those of the nil-tag rows are reported apart. ``check``:
    verify that every row is stored (and migrated). Returns the store and its figures.
    """
    tsstore = import_tsstore()
    end = max(data.readings["time"].max(), data.diagnostics["time"].max())
    clock = {"t": end + pd.Timedelta("1min")}
    store = tsstore.connect(
        root, clock=lambda: clock["t"], database=DATABASE, lifecycle_interval=None
    )
    db = store.create_database(DATABASE)
    tables = {t: db.create_table(t, memory_retention="8766h") for t in FIELDS}
    rows = len(data.readings) + len(data.diagnostics)
    secs = np.empty(len(writes))
    gc.collect()
    for i, (table, frame, dims) in enumerate(writes):
        t0 = time.perf_counter()
        tables[table].write(frame, dimensions=dims)
        secs[i] = time.perf_counter() - t0
    ingest_s = float(secs.sum())
    nil = np.array([len(dims) < len(TAGS) for _, _, dims in writes], dtype=bool)
    info: dict[str, Any] = {
        "writes": len(writes),
        "rows": rows,
        "ingest_s": ingest_s,
        "ingest_rows_per_s": rows / ingest_s,
        "nil_tag_writes": int(nil.sum()),
        "nil_tag_rows": int(sum(len(f) for (_, f, _), n in zip(writes, nil, strict=True) if n)),
        "nil_tag_writes_s": float(secs[nil].sum()),
        "full_tag_writes_s": float(secs[~nil].sum()),
        "write_ms_median": float(np.median(secs) * 1e3) if len(secs) else math.nan,
    }
    if tier == "magnetic":
        for t in tables.values():
            t.update(memory_retention="1h")
        clock["t"] = end + pd.Timedelta(days=1)
        gc.collect()
        t0 = time.perf_counter()
        store.run_lifecycle()
        info["migrate_s"] = time.perf_counter() - t0
    desc = {name: t.describe() for name, t in tables.items()}
    for name, dsc in desc.items() if check else ():
        want = len(getattr(data, name))
        got = dsc["memory_rows"] + dsc["magnetic_rows"]
        if got != want or (tier == "magnetic" and dsc["memory_rows"]):
            raise RuntimeError(f"{tier} store, {name}: {got} rows ({dsc}), expected {want}")
    for k in ("memory_rows", "magnetic_rows", "memory_bytes", "magnetic_bytes", "series"):
        info[k] = sum(int(dsc[k]) for dsc in desc.values())
    return store, info


# ------------------------------------------------------------------------------- the peers


class DuckDBBaseline:
    """DuckDB file database: ``CREATE TABLE <t> AS SELECT * FROM df ORDER BY name, time`` per
    table (tags VARCHAR, NULL where nil; fields DOUBLE/BIGINT, NULL where missing), then
    ``CHECKPOINT``; reopened read-only with ``TimeZone = 'UTC'``, queried with
    ``con.sql(q).df()``."""

    name = "duckdb"

    def __init__(self, data: IotData, workdir: Path) -> None:
        import duckdb

        self.version = str(duckdb.__version__)
        self.path = workdir / "duckdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.file = self.path / "iot.duckdb"
        t0 = time.perf_counter()
        con = duckdb.connect(str(self.file))
        for table in FIELDS:
            con.register("_frame", getattr(data, table))
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM _frame ORDER BY name, time")
            con.unregister("_frame")
        con.execute("CHECKPOINT")
        con.close()
        self.load_s = time.perf_counter() - t0
        self.bytes = dir_bytes(self.path)
        self.con = duckdb.connect(str(self.file), read_only=True)
        self.con.execute("SET TimeZone = 'UTC'")
        self.threads = int(self.con.sql("SELECT current_setting('threads')").fetchall()[0][0])

    def run(self, qt: QueryType, w: Instance) -> pd.DataFrame:
        """Answer one query."""
        return self.con.sql(query_sql(qt, w, "duckdb")).df()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


class ChDBBaseline:
    """chDB (in-process ClickHouse): per table ``MergeTree ORDER BY (name, time)`` (with
    ``allow_nullable_key``), tags ``LowCardinality(Nullable(String))``, ``time
    DateTime64(9, 'UTC')``, fields ``Nullable(Float64)`` / ``Nullable(Int64)``; one ``INSERT
    ... FROM Python(arrow table)``, then ``OPTIMIZE TABLE ... FINAL``; queries in ClickHouse
    SQL through ``session.query(sql, "DataFrame")``."""

    name = "chdb"

    def __init__(self, data: IotData, workdir: Path) -> None:
        import chdb
        import pyarrow as pa
        from chdb import session

        engine = getattr(chdb, "engine_version", None)
        self.version = str(chdb.__version__) + (f" (ClickHouse {engine})" if engine else "")
        self.path = workdir / "chdb"
        self.path.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.session = session.Session(str(self.path))
        for table, fields in FIELDS.items():
            df = getattr(data, table)
            cols = ["`time` DateTime64(9, 'UTC')"]
            cols += [f"`{t}` LowCardinality(Nullable(String))" for t in TAGS]
            cols += [f"`{f}` Nullable({'Int64' if f == 'status' else 'Float64'})" for f in fields]
            self.session.query(
                f"CREATE TABLE {table} ({', '.join(cols)}) ENGINE = MergeTree "
                "ORDER BY (name, time) SETTINGS allow_nullable_key = 1, "
                "fsync_after_insert = 1, fsync_part_directory = 1"
            )
            arrow = pa.Table.from_pandas(df, preserve_index=False)  # noqa: F841 (Python())
            self.session.query(f"INSERT INTO {table} SELECT * FROM Python(arrow)")
            self.session.query(f"OPTIMIZE TABLE {table} FINAL")
            n = int(self.session.query(f"SELECT count() FROM {table}", "DataFrame").iat[0, 0])
            if n != len(df):
                raise RuntimeError(f"chDB holds {n} rows of {table}, expected {len(df)}")
        self.load_s = time.perf_counter() - t0
        self.bytes = dir_bytes(self.path)

    def run(self, qt: QueryType, w: Instance) -> pd.DataFrame:
        """Answer one query."""
        return self.session.query(query_sql(qt, w, "clickhouse"), "DataFrame")

    def close(self) -> None:
        """Close the session."""
        self.session.close()


_NS_10M = 600 * 10**9
_NS_DAY = 86_400 * 10**9


class PandasBaseline:
    """Vectorised pandas on the frames, sorted by time, fields as float64 (NaN where
    missing). At load, each row gets ``sid``, the id of its tag set (TSBS's ``tags_id``, nil
    tags included), and ``tags`` holds one row of tags per ``sid``: per-series steps group by
    ``sid``, then attach the tags they report."""

    name = "pandas"

    def __init__(self, data: IotData) -> None:
        t0 = time.perf_counter()
        self.version = pd.__version__
        self.t: dict[str, pd.DataFrame] = {}
        for table, fields in FIELDS.items():
            df = getattr(data, table)
            order = np.argsort(pd.DatetimeIndex(df["time"]).asi8, kind="stable")
            df = df.iloc[order].reset_index(drop=True)
            sid = df.groupby(list(TAGS), dropna=False, sort=False).ngroup().to_numpy()
            cols: dict[str, Any] = {"t": pd.DatetimeIndex(df["time"]).asi8, "sid": sid}
            cols.update({t: df[t].to_numpy(dtype=object) for t in TAGS})
            cols.update({f: df[f].to_numpy(dtype=np.float64, na_value=np.nan) for f in fields})
            self.t[table] = pd.DataFrame(cols)
        self.tags = (
            self.t["readings"][["sid", *TAGS]].drop_duplicates("sid").set_index("sid"),
            self.t["diagnostics"][["sid", *TAGS]].drop_duplicates("sid").set_index("sid"),
        )
        self.load_s = time.perf_counter() - t0

    def _tags(self, table: str) -> pd.DataFrame:
        return self.tags[0 if table == "readings" else 1]

    def _rows(self, table: str, w: Instance) -> pd.DataFrame:
        df = self.t[table]
        if w.start is None:
            return df
        t = df["t"].to_numpy()
        i, j = np.searchsorted(t, [w.start.value, w.end.value])  # type: ignore[union-attr]
        return df.iloc[i:j]

    def _last(self, table: str, sids: np.ndarray, cols: list[str]) -> pd.DataFrame:
        df = self.t[table]
        sub = df[np.isin(df["sid"].to_numpy(), sids)]
        return sub.drop_duplicates("sid", keep="last")[cols]  # rows are in time order

    def run(self, qt: QueryType, w: Instance) -> pd.DataFrame:
        """Answer one query; a frame with the SQL's columns (durations in seconds)."""
        name = qt.name
        tags = self._tags(qt.table)
        if name in ("last-loc", "low-fuel", "high-load", "single-last-loc"):
            if w.trucks:
                sids = tags.index[tags["name"].isin(w.trucks)].to_numpy()
            else:
                ok = tags["name"].notna() & (tags["fleet"] == w.fleet)
                sids = tags.index[ok].to_numpy()
            if qt.table == "readings":
                return self._last("readings", sids, ["name", "driver", "longitude", "latitude"])
            last = self._last("diagnostics", sids, ["sid", "name", "driver", *DIAGNOSTICS_FIELDS])
            if name == "low-fuel":
                return last.loc[last["fuel_state"] < 0.1, ["name", "driver", "fuel_state"]]
            cap = tags.loc[last["sid"], "load_capacity"].astype(float).to_numpy()
            ratio = last["current_load"].to_numpy() / cap
            return last.loc[ratio > 0.9, ["name", "driver", "current_load"]]
        df = self._rows(qt.table, w)
        if name == "stationary-trucks":
            sub = df[df["name"].notna().to_numpy() & (df["fleet"] == w.fleet).to_numpy()]
            g = sub.groupby(["name", "driver"], dropna=False, sort=False)["velocity"].mean()
            return g[g < 1].index.to_frame(index=False)
        if name in ("long-driving-sessions", "long-daily-sessions"):
            rest = 5 if name == "long-driving-sessions" else 35
            periods = _ten_minute_periods(rest, qt.window)  # type: ignore[arg-type]
            sub = df[df["name"].notna().to_numpy() & (df["fleet"] == w.fleet).to_numpy()]
            g = sub.groupby([sub["sid"], sub["t"] // _NS_10M])["velocity"].mean()
            sids = g[g > 1].index.get_level_values(0)
            per = tags.loc[sids, ["name", "driver"]]
            n = per.groupby(["name", "driver"], dropna=False).size()
            return n[n > periods].index.to_frame(index=False)
        if name == "avg-vs-projected-fuel-consumption":
            ok = (
                (df["velocity"] > 1)
                & df["fleet"].notna()
                & df["nominal_fuel_consumption"].notna()
                & df["name"].notna()
            )
            sub = df[ok]
            out = pd.DataFrame(
                {
                    "fleet": sub["fleet"],
                    "avg_fuel_consumption": sub["fuel_consumption"],
                    "projected_fuel_consumption": sub["nominal_fuel_consumption"].astype(float),
                }
            )
            return out.groupby("fleet", sort=False).mean().reset_index()
        b10 = df["t"] // _NS_10M
        if name == "avg-daily-driving-duration":
            g = df.groupby([df["sid"], b10])["velocity"].mean()
            g = g[g > 1].reset_index()
            g["day"] = g["t"] * _NS_10M // _NS_DAY
            hours = g.groupby(["sid", "day"]).size() // 6
            per = tags.loc[hours.index.get_level_values(0), ["fleet", "name", "driver"]]
            per = per.assign(avg_daily_hours=hours.to_numpy().astype(float))
            return per.groupby(["fleet", "name", "driver"], dropna=False).mean().reset_index()
        if name == "avg-daily-driving-session":
            v = df.groupby([df["sid"], b10])["velocity"].mean()  # sorted by (sid, bucket)
            driving = (v > 5).astype(float).where(v.notna())
            sid = v.index.get_level_values(0)
            prev = driving.groupby(sid).shift(1)
            change = driving.notna() & prev.notna() & (driving != prev)
            ch = driving[change].reset_index()
            ch.columns = ["sid", "start", "driving"]
            ch["stop"] = ch.groupby("sid")["start"].shift(-1)
            ch = ch[(ch["driving"] == 1.0).to_numpy()]
            ch["name"] = tags.loc[ch["sid"], "name"].to_numpy()
            ch = ch[ch["name"].notna().to_numpy()]
            ch["day"] = ch["start"] * _NS_10M // _NS_DAY * _NS_DAY
            ch["duration"] = (ch["stop"] - ch["start"]) * 600.0
            out = ch.groupby(["name", "day"])["duration"].mean().reset_index()
            out["day"] = pd.to_datetime(out["day"], utc=True)
            return out
        if name == "avg-load":
            g = df.groupby("sid")["current_load"].mean()
            per = tags.loc[g.index, ["name", "fleet", "model", "load_capacity"]]
            per = per.assign(
                avg_load_percentage=g.to_numpy() / per["load_capacity"].astype(float).to_numpy()
            )
            per = per[per["name"].notna()].drop(columns="name")
            return (
                per.groupby(["fleet", "model", "load_capacity"], dropna=False).mean().reset_index()
            )
        if name == "daily-activity":
            sub = df[df["name"].notna().to_numpy()]
            g = sub.groupby([sub["sid"], sub["t"] // _NS_10M])["status"].agg(["size", "mean"])
            g = g[g["mean"] < 1].reset_index()
            g.columns = ["sid", "b10", "n", "mean"]
            per = tags.loc[g["sid"], ["fleet", "model"]].reset_index(drop=True)
            per["day"] = g["b10"].to_numpy() * _NS_10M // _NS_DAY * _NS_DAY
            per["n"] = g["n"].to_numpy()
            out = per.groupby(["fleet", "model", "day"], dropna=False)["n"].sum() / 144
            out = out.rename("daily_activity").reset_index()
            out["day"] = pd.to_datetime(out["day"], utc=True)
            return out
        if name == "breakdown-frequency":
            g = df.groupby([df["sid"], b10])["status"].agg(["count", "size"])
            broken = ((g["count"] // g["size"]) >= 0.5).astype(float)
            nxt = broken.groupby(level=0).shift(-1)
            hit = (broken == 0.0) & (nxt == 1.0)
            sids = g.index.get_level_values(0)[hit.to_numpy()]
            per = tags.loc[sids, ["name", "model"]]
            per = per[per["name"].notna()]
            return per.groupby("model", dropna=False).size().rename("breakdowns").reset_index()
        raise ValueError(f"unknown query type {name!r}")

    def close(self) -> None:
        """Drop the frames."""
        self.t = {}


# ---------------------------------------------------------------------------- measurement


def _prep(df: pd.DataFrame) -> pd.DataFrame:
    """Durations as float seconds (chDB and pandas answer seconds, DuckDB and tsstore
    intervals), so that ``compare`` sees numbers everywhere."""
    conv = {
        c: df[c].dt.total_seconds()
        for c in df.columns
        if pd.api.types.is_timedelta64_dtype(df[c].dtype)
    }
    return df.assign(**conv) if conv else df


#: Called (untimed) before each tsstore query: clears tsstore's caches of parsed SQL.
_BEFORE_TSSTORE_QUERY: list[Callable[[], None]] = []


def _stats(store: Any) -> dict[str, Any]:
    s = store.last_query_stats
    return {
        k: getattr(s, k, math.nan)
        for k in ("parse_s", "plan_s", "scan_s", "execute_s", "rows_scanned", "bytes_scanned")
    }


def _before_tsstore_query(store: Any) -> None:
    """Untimed, before every timed tsstore query: ``_BEFORE_TSSTORE_QUERY``'s hooks, then
    ``store.clear_query_caches()``."""
    for fn in _BEFORE_TSSTORE_QUERY:
        fn()
    store.clear_query_caches()


def _compare(got: pd.DataFrame | None, want: pd.DataFrame) -> str | None:
    """``bench_queries.compare`` of the results with durations as seconds (``_prep``)."""
    return compare(_prep(got), _prep(want), RTOL) if got is not None else "no result"


def measure_type(
    qt: QueryType,
    instances: list[Instance],
    stores: dict[str, Any],
    peers: dict[str, Any],
) -> dict[str, Any]:
    """Warm up every system once, then time them interleaved on every instance; check each
    result against DuckDB's (``common.measure_interleaved``)."""
    systems: dict[str, Callable[[Instance], pd.DataFrame]] = {}
    before: dict[str, Callable[[], None]] = {}
    warm_up: dict[str, Callable[[], None]] = {}
    stats: dict[str, Callable[[], dict[str, Any]]] = {}
    for tier, store in stores.items():
        name = f"tsstore-{tier}"
        systems[name] = lambda w, s=store: s.query(query_sql(qt, w, "timestream"))
        before[name] = partial(_before_tsstore_query, store)
        warm_up[name] = store.clear_query_caches  # the warm-up starts from empty caches too
        stats[name] = partial(_stats, store)
    for name, peer in peers.items():
        systems[name] = partial(peer.run, qt)
    m = measure_interleaved(
        systems,
        instances,
        reference=REFERENCE,
        compare=_compare,
        before=before,
        before_warmup=warm_up,
        stats=stats,
    )
    return {
        "type": qt.name,
        "sql_timestream": query_sql(qt, instances[0], "timestream"),
        "sql_duckdb": query_sql(qt, instances[0], "duckdb"),
        "sql_clickhouse": query_sql(qt, instances[0], "clickhouse"),
        "instances": [(w.start, w.end, w.fleet, list(w.trucks)) for w in instances],
        "seconds": m["seconds"],
        "median_ms": m["median_ms"],
        "p95_ms": m["p95_ms"],
        "stages": m["stages"],
        "checks": m["checks"],
        "result_rows": m["result_rows"],
        "errors": m["errors"],
    }


# ------------------------------------------------------------------------------- reporting


def summarise(
    results: list[dict[str, Any]], tiers: Sequence[str], peers: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Rows of the per-tier tables: tsstore's median and p95, each peer's median, the best
    peer and the ratio, the check."""
    out: dict[str, list[dict[str, Any]]] = {}
    for tier in tiers:
        name = f"tsstore-{tier}"
        rows = []
        for r in results:
            med = r["median_ms"].get(name, math.nan)
            peer_meds = {p: r["median_ms"][p] for p in peers if p in r["median_ms"]}
            best = min(peer_meds, key=lambda p: peer_meds[p]) if peer_meds else None
            row: dict[str, Any] = {
                "type": r["type"],
                "tsstore_ms": med,
                "tsstore_p95_ms": r["p95_ms"].get(name, math.nan),
            }
            for p in peers:
                row[f"{p}_ms"] = r["median_ms"].get(p)
                row[f"ratio_{p}"] = med / r["median_ms"][p] if p in r["median_ms"] else None
            row["best_peer"] = best
            row["ratio"] = med / peer_meds[best] if best else math.nan
            row["check"] = verdict(r["checks"].get(name, []))
            row["rows"] = int(median(r["result_rows"])) if r["result_rows"] else None
            rows.append(row)
        out[tier] = rows
    return out


# ------------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=None, help="trucks (default 100; 10 with --quick)")
    p.add_argument("--days", type=float, default=1.0, help="span of the data in days")
    p.add_argument("--windows", type=int, default=None, help="instances per type (10; 3 quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the instances")
    p.add_argument("--quick", action="store_true", help="scale 10, 3 instances per type")
    p.add_argument(
        "--peers",
        default=",".join(KNOWN_PEERS),
        help="peers: duckdb (always: the reference), chdb, pandas",
    )
    p.add_argument("--types", default="all", help="comma-separated query types (default all)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="entries per loader batch")
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a check fails or a system errs."""
    a = _parser().parse_args(argv)
    scale = a.scale if a.scale is not None else (10 if a.quick else 100)
    n_inst = a.windows if a.windows is not None else (3 if a.quick else 10)
    peer_names = [p for p in a.peers.split(",") if p]
    if REFERENCE not in peer_names:
        peer_names.insert(0, REFERENCE)
    if bad := [p for p in peer_names if p not in KNOWN_PEERS]:
        sys.exit(f"unknown peers {bad}; known: {KNOWN_PEERS}")
    types = list(QUERY_TYPES) if a.types == "all" else a.types.split(",")
    if bad := [t for t in types if t not in QUERY_TYPES]:
        sys.exit(f"unknown query types {bad}; known: {list(QUERY_TYPES)}")
    import_tsstore()
    clearer = parse_cache_clearer()
    _BEFORE_TSSTORE_QUERY[:] = [clearer] if clearer is not None else []

    load_start = os.getloadavg()
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    data = generate_iot(scale, a.days, a.seed)
    gen_s = time.perf_counter() - t0
    rows = len(data.readings) + len(data.diagnostics)
    points = points_of(data.readings, "readings") + points_of(data.diagnostics, "diagnostics")
    c = data.counts
    print(
        f"TSBS iot, {scale} trucks x {a.days:g} days: {rows:,} rows, {points:,} points "
        f"(generated in {gen_s:.2f} s); of {c['base_points']:,} simulated entries: "
        f"{c['missing_batches']:,} batches and {c['missing_entries']:,} entries missing, "
        f"{c['out_of_order_entries']:,} entries and {c['out_of_order_batches']:,} batches out "
        f"of order, {c['late_rows']:,} late rows, {c['zeroed_fields']:,} missing fields, "
        f"{c['nil_tags']:,} nil tags; {n_inst} instances per type, seed {a.seed}",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(prefix="tsstore-bench-iot-", dir=a.scratch))
    stores: dict[str, Any] = {}
    peers: dict[str, Any] = {}
    load: dict[str, dict[str, Any]] = {}
    not_run: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    try:
        writes = plan_writes(data, a.batch_size)
        bulk = plan_writes(data, None)
        # Untimed warm-up (first-use imports and caches), into a store thrown away.
        warm, _ = build_store(scratch / "warm-up", data, writes[:40], None, check=False)
        warm.close()
        shutil.rmtree(scratch / "warm-up", ignore_errors=True)
        for tier in TIERS:
            stores[tier], load[f"tsstore-{tier}"] = build_store(scratch / tier, data, writes, tier)
            print(f"  tsstore-{tier}: loaded", flush=True)
        bulk_store, load["tsstore-bulk"] = build_store(scratch / "bulk", data, bulk, None)
        bulk_store.close()
        shutil.rmtree(scratch / "bulk", ignore_errors=True)
        # Thousands of small frames: gc.collect() (before every timed call) would walk them.
        del writes, bulk
        gc.collect()
        for p in peer_names:
            try:
                if p == "duckdb":
                    peers[p] = DuckDBBaseline(data, scratch)
                elif p == "chdb":
                    peers[p] = ChDBBaseline(data, scratch)
                elif p == "pandas":
                    peers[p] = PandasBaseline(data)
            except Exception as e:  # reported, not hidden
                traceback.print_exc()
                not_run[p] = f"{type(e).__name__}: {e}"
                if p == REFERENCE:
                    raise
                continue
            load[p] = {
                "load_s": peers[p].load_s,
                "version": peers[p].version,
                "bytes": getattr(peers[p], "bytes", None),
            }
        ingest_rows = []
        for name, info in load.items():
            if name == "pandas":
                continue  # frames in RAM: no ingest to speak of
            mig = info.get("migrate_s")
            mag = info.get("magnetic_bytes") if name == "tsstore-magnetic" else info.get("bytes")
            ingest_rows.append(
                {
                    "system": name,
                    "writes": info.get("writes"),
                    "seconds": info.get("ingest_s", info.get("load_s")),
                    "rows_per_s": rows / info.get("ingest_s", info.get("load_s", math.nan)),
                    "nil_writes": info.get("nil_tag_writes"),
                    "nil_s": info.get("nil_tag_writes_s"),
                    "write_ms": info.get("write_ms_median"),
                    "migrate_s": mig,
                    "mpts_per_s": points / mig / 1e6 if mig else None,
                    "bytes_per_point": mag / points if mag else None,
                }
            )
        print(
            "\nIngest (tsstore: write() calls in TSBS batch order; peers: bulk load), "
            "migration, bytes/point (tsstore: magnetic tier, all files)"
        )
        print_table(
            ingest_rows,
            [
                ("system", "system"),
                ("writes", "writes"),
                ("seconds", "seconds", ".2f"),
                ("rows_per_s", "rows/s", ",.0f"),
                ("write_ms", "ms/write", ".2f"),
                ("nil_writes", "nil-tag writes"),
                ("nil_s", "their s", ".2f"),
                ("migrate_s", "migrate s", ".2f"),
                ("mpts_per_s", "M points/s", ".1f"),
                ("bytes_per_point", "bytes/point", ".3f"),
            ],
        )
        t_first = START
        t_last = START + pd.Timedelta(days=a.days)
        print()
        for name in types:
            qt = QUERY_TYPES[name]
            try:
                inst, note = draw_instances(
                    qt, n_inst, seed=a.seed, scale=scale, t0=t_first, t1=t_last
                )
            except ValueError as e:
                not_run[name] = str(e)
                print(f"  {name:<34} not run: {e}")
                continue
            if note:
                notes[name] = note
            t0 = time.perf_counter()
            r = measure_type(qt, inst, stores, peers)
            results.append(r)
            meds = ", ".join(f"{k} {v:.1f}" for k, v in r["median_ms"].items())
            print(f"  {name:<34} {time.perf_counter() - t0:5.1f} s  median ms: {meds}", flush=True)
    finally:
        for s in stores.values():
            s.close()
        for p in peers.values():
            p.close()
        shutil.rmtree(scratch, ignore_errors=True)

    ran_peers = [p for p in peer_names if p in load]
    tables = summarise(results, TIERS, ran_peers)
    cols: list[Any] = [
        ("type", "query type"),
        ("rows", "rows"),
        ("tsstore_ms", "tsstore ms", ".1f"),
        ("tsstore_p95_ms", "p95", ".1f"),
    ]
    cols += [(f"{p}_ms", f"{p} ms", ".1f") for p in ran_peers]
    cols += [("best_peer", "best"), ("ratio", "ratio", ".2f"), ("check", "vs duckdb")]
    for tier in TIERS:
        print(f"\nTier {tier}: median over {n_inst} instances (ratio = tsstore / best peer)")
        print_table(tables[tier], cols)
    for name, note in notes.items():
        print(f"note: {name}: {note}")
    for p, why in not_run.items():
        print(f"not run: {p}: {why}")

    mismatches, errors = report_checks(results, unit="instance", rtol=RTOL, limit=40)

    total_s = time.perf_counter() - t_all
    load_end = os.getloadavg()
    print(
        f"\nTotal {total_s:.0f} s; load average at start {load_start[0]:.2f}, "
        f"at end {load_end[0]:.2f}"
    )
    payload: dict[str, Any] = {
        "args": {**vars(a), "scale": scale, "windows": n_inst},
        "rows": rows,
        "points": points,
        "rows_per_table": {"readings": len(data.readings), "diagnostics": len(data.diagnostics)},
        "simulation": data.counts,
        "generate_s": gen_s,
        "total_s": total_s,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "load": load,
        "ingest": ingest_rows,
        "peers": ran_peers,
        "not_run": not_run,
        "notes": notes,
        "duckdb_threads": getattr(peers.get("duckdb"), "threads", None),
        "tables": tables,
        "mismatches": mismatches,
        "errors": errors,
        "results": results,
        "machine": machine_info(),
    }
    if not a.no_write:
        path = write_results("iot", payload)
        print(f"Results: {path}")
    return 1 if mismatches or errors else 0


if __name__ == "__main__":
    sys.exit(main())
