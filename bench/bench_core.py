"""Core benchmark of tsstore on TSBS ``cpu-only`` data: the six figures that matter most.

Phases (each printed as a table and stored in ``bench/results/core-*.json``):

1. **ingest**: rows/s of ``table.write(df)`` (durable: the write-ahead log is fsynced when it
   returns) from one DataFrame, in one call and in hourly chunks, interleaved A B A B ... with
   ArcticDB and DuckDB (``bench/peers.py``), each run into a fresh folder; median and spread.
   ``--peers`` adds others, e.g. the server peers of ``bench/servers.py`` (victoriametrics,
   influxdb, clickhouse, postgres): each server starts once per run (data under the run's
   scratch folder) and each round loads into a fresh database of it.
2. **migration**: points/s of ``store.run_lifecycle()`` moving the whole memory tier to the
   magnetic tier (clock set a day past the data, memory retention cut to 1 h).
3. **bytes/point**: ``magnetic_bytes / (rows * 10)`` after that migration, per data variant
   (tsbs, float, jitter), next to ArcticDB's and DuckDB's bytes on disk for the same frame.
4. **memory tier**: ``memory_bytes`` and the process RSS growth around the write (and its peak
   during the write) against the raw column bytes ``rows * (8 + 8 * 10)``.
5. **recovery**: time of ``connect()`` + first ``describe()`` of a table whose write-ahead log
   holds 1M rows x 10 fields (the replay into RAM).
6. **scale run** (``--scale-run`` only): TSBS scale 4000 x 3 days (103.7M rows) streamed in
   chunks, migrating as it goes; ingest rate, total time, bytes/point and peak RSS.

Phases 2-4 and 6 run in child processes (this script with ``--worker``), so their RSS figures
start from a clean heap. Run ``python bench/bench_core.py --help`` for the options::

    python bench/bench_core.py --scale 100 --days 1 --rounds 3     # make bench
    python bench/bench_core.py --quick                             # make bench-quick
    python bench/bench_core.py --scale-run --phases none           # only the scale run
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import (
    dir_bytes,
    import_tsstore,
    malloc_trim,
    median,
    peak_rss_bytes,
    print_table,
    reset_rss_high_water,
    rss_bytes,
    rss_high_water,
    run_interleaved,
    spread,
    write_results,
)
from peers import SERVER_PEERS, available_peers, missing_peers
from tsbs import FIELDS, TAGS, VARIANTS, generate_cpu, generate_cpu_chunks

#: First timestamp of the generated data (the TSBS default).
START = pd.Timestamp("2016-01-01", tz="UTC")
#: TSBS sampling interval.
INTERVAL = pd.Timedelta("10s")
#: Raw column bytes per row: 8 B of time plus 8 B per field.
RAW_BYTES_PER_ROW = 8 + 8 * len(FIELDS)
#: The peers measured next to tsstore.
DEFAULT_PEERS: tuple[str, ...] = ("arcticdb", "duckdb")
#: Phases run by default (the scale run needs ``--scale-run``).
PHASES: tuple[str, ...] = ("ingest", "tiers", "recovery")

#: The targets, as (comparison, value); printed next to every measured figure.
TARGETS: dict[str, tuple[str, float]] = {
    "ingest_rows_per_s": (">=", 3e6),
    "ingest_vs_arcticdb": (">=", 2.0),
    "migration_points_per_s": (">=", 20e6),
    "magnetic_bytes_per_point_tsbs": ("<", 0.44),
    "memory_vs_raw": ("<=", 1.5),
    "recovery_s": ("<=", 2.0),
}


# ------------------------------------------------------------------------------- helpers


def _met(key: str, value: float | None) -> bool | None:
    """Whether ``value`` meets the target ``key`` (None when there is no value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    op, target = TARGETS[key]
    return {
        ">=": value >= target,
        ">": value > target,
        "<=": value <= target,
        "<": value < target,
    }[op]


def _target_text(key: str, unit: str = "", scale: float = 1.0) -> str:
    """The target ``key`` as text, e.g. ``">= 3 M rows/s"``."""
    op, target = TARGETS[key]
    return f"{op} {target / scale:g}{(' ' + unit) if unit else ''}"


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine makes timings noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _log(msg: str) -> None:
    """Progress message on stderr (the tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)


def _new_table(
    root: Path, now: pd.Timestamp, memory_retention: str = "8766h"
) -> tuple[Any, Any, dict[str, pd.Timestamp]]:
    """A fresh store at ``root`` with table ``bench.cpu`` on a settable clock.

    Returns ``(store, table, clock)``; set ``clock["t"]`` to move the store's "now".
    """
    tsstore = import_tsstore()
    clock = {"t": now}
    store = tsstore.connect(root, clock=lambda: clock["t"], lifecycle_interval=None)
    table = store.create_database("bench").create_table(
        "cpu", memory_retention=memory_retention, magnetic_retention="73000d"
    )
    return store, table, clock


def _times_ns(df: pd.DataFrame) -> np.ndarray:
    """The ``time`` column as int64 nanoseconds since the epoch."""
    return pd.DatetimeIndex(df["time"]).asi8


def _clock_after(df: pd.DataFrame) -> pd.Timestamp:
    """A "now" just after the frame's newest point (so every row is inside the memory tier)."""
    return pd.Timestamp(int(_times_ns(df).max()), tz="UTC") + pd.Timedelta("1s")


def _hourly_slices(df: pd.DataFrame) -> list[slice]:
    """Row slices of a time-sorted frame, one per clock hour."""
    t = _times_ns(df)
    hour = pd.Timedelta("1h").value
    edges = np.arange((int(t[0]) // hour) * hour, int(t[-1]) + hour + 1, hour)
    pos = np.searchsorted(t, edges, side="left")
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(pos) if b > a]


def _write(table: Any, df: pd.DataFrame) -> None:
    """``table.write`` with the TSBS tags as dimensions and every field as a measure."""
    table.write(df, dimensions=list(TAGS), time="time")


def _fresh_dir(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch))


def _points(rows: int) -> int:
    return rows * len(FIELDS)


def _fmt_rate(x: float | None, unit: str) -> str:
    return "-" if x is None or math.isnan(x) else f"{x / 1e6:.2f} M {unit}"


# ------------------------------------------------------------------------ phase 1: ingest


def _tsstore_ingest_once(
    df: pd.DataFrame, slices: list[slice] | None, scratch: Path, sink: list[dict[str, Any]]
) -> float:
    """Fresh store (untimed), timed durable write(s) of ``df``, accounting, clean-up."""
    workdir = _fresh_dir(scratch)
    parts = [df] if slices is None else [df.iloc[s] for s in slices]  # untimed slicing
    store, table, _clock = _new_table(workdir / "store", _clock_after(df))
    try:
        gc.collect()
        t0 = time.perf_counter()
        for part in parts:
            _write(table, part)
        dt = time.perf_counter() - t0
        d = table.describe()
        sink.append(
            {
                "seconds": dt,
                "writes": len(parts),
                "memory_rows": d["memory_rows"],
                "memory_bytes": d["memory_bytes"],
                "wal_bytes": d["wal_bytes"],
                "bytes": dir_bytes(workdir),
            }
        )
        return dt
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _peer_ingest_once(
    factory: Callable[[], Any], df: pd.DataFrame, scratch: Path, sink: list[dict[str, Any]]
) -> float:
    """Fresh folder, peer set-up (untimed), timed ``ingest``, size, close, delete."""
    workdir = _fresh_dir(scratch)
    peer = factory()
    try:
        peer.setup(workdir)
        t0 = time.perf_counter()
        peer.ingest(df)
        dt = time.perf_counter() - t0
        run: dict[str, Any] = {
            "seconds": dt,
            "bytes": peer.bytes_on_disk(),
            "mode": getattr(peer, "mode", None),
            "version": peer.version,
        }
        # server peers: client-side serialisation time, compaction (untimed), size detail, and
        # a row count against the frame (untimed)
        for key in ("last_ingest", "last_size"):
            if getattr(peer, key, None):
                run[key.removeprefix("last_")] = dict(getattr(peer, key))
        counter = getattr(peer, "row_count", None)
        if callable(counter):
            run["rows_stored"] = int(counter())
            if run["rows_stored"] != len(df):
                raise RuntimeError(f"{peer.name} holds {run['rows_stored']} rows, not {len(df)}")
        sink.append(run)
        return dt
    finally:
        peer.close()
        shutil.rmtree(workdir, ignore_errors=True)


def phase_ingest(
    df: pd.DataFrame, peers: Sequence[str], rounds: int, warmup: int, scratch: Path
) -> dict[str, Any]:
    """Phase 1: interleaved durable ingest of ``df`` by tsstore (1 call, hourly) and peers."""
    n = len(df)
    slices = _hourly_slices(df)
    factories = available_peers(peers)
    sinks: dict[str, list[dict[str, Any]]] = {
        "tsstore": [],
        "tsstore-hourly": [],
        **{p: [] for p in factories},
    }
    systems: dict[str, Callable[[], float]] = {
        "tsstore": partial(_tsstore_ingest_once, df, None, scratch, sinks["tsstore"]),
        "tsstore-hourly": partial(
            _tsstore_ingest_once, df, slices, scratch, sinks["tsstore-hourly"]
        ),
    }
    for p, f in factories.items():
        systems[p] = partial(_peer_ingest_once, f, df, scratch, sinks[p])
    failed: dict[str, str] = {}
    for _ in range(warmup):
        for name, fn in list(systems.items()):
            _log(f"  ingest warm-up: {name}")
            try:
                fn()
            except Exception as e:  # a failing peer is reported and left out, not hidden
                if name.startswith("tsstore"):
                    raise
                failed[name] = f"{type(e).__name__}: {e}"
                _log(f"  {name} FAILED in warm-up, left out: {failed[name]}")
                traceback.print_exc()
                del systems[name], factories[name], sinks[name]
    for s in sinks.values():
        s.clear()
    _log(f"  ingest: {rounds} interleaved round(s) of {', '.join(systems)}")
    timings = run_interleaved(systems, rounds)

    results: list[dict[str, Any]] = []
    for name, ts in timings.items():
        runs = sinks[name]
        sec = median(ts)
        row: dict[str, Any] = {
            "system": name,
            "mode": (
                "one write() call"
                if name == "tsstore"
                else f"{len(slices)} hourly write() calls"
                if name == "tsstore-hourly"
                else runs[0]["mode"]
            ),
            "version": runs[0].get("version"),
            "rows": n,
            "seconds_all": ts,
            "seconds_median": sec,
            "seconds_min": min(ts),
            "seconds_max": max(ts),
            "spread": spread(ts),
            "rows_per_s": n / sec,
            "rows_per_s_best": n / min(ts),
            "bytes": median([r["bytes"] for r in runs]),
            "bytes_per_point": median([r["bytes"] for r in runs]) / _points(n),
            "runs": runs,
        }
        if name.startswith("tsstore"):
            row["rows_ok"] = all(r["memory_rows"] == n for r in runs)
        results.append(row)
    by = {r["system"]: r for r in results}
    peer_rates = {p: by[p]["rows_per_s"] for p in factories}
    best_peer = max(peer_rates, key=lambda p: peer_rates[p]) if peer_rates else None
    for r in results:
        if not r["system"].startswith("tsstore"):
            continue
        r["vs_arcticdb"] = (
            r["rows_per_s"] / peer_rates["arcticdb"] if "arcticdb" in peer_rates else None
        )
        r["vs_best_peer"] = r["rows_per_s"] / peer_rates[best_peer] if best_peer else None
    return {
        "rows": n,
        "points": _points(n),
        "hourly_writes": len(slices),
        "rounds": rounds,
        "warmup_rounds": warmup,
        "best_peer": best_peer,
        "missing_peers": {**missing_peers(list(peers)), **failed},
        "timed": "table.write(df) / peer.ingest(df) only: the durable write of the whole frame",
        "results": results,
    }


def print_ingest(ph: dict[str, Any]) -> None:
    """Print phase 1."""
    print(
        f"\n[1] Ingest, durable, TSBS cpu-only (tsbs variant), {ph['rows']:,} rows, median of "
        f"{ph['rounds']} interleaved rounds (+{ph['warmup_rounds']} warm-up)"
    )
    rows = []
    for r in ph["results"]:
        rows.append(
            {
                **r,
                "mrps": r["rows_per_s"] / 1e6,
                "spread_pct": 100 * r["spread"],
                "target": (
                    f"{_target_text('ingest_rows_per_s', 'M', 1e6)}, "
                    f"{_target_text('ingest_vs_arcticdb')}x arcticdb"
                    if r["system"] == "tsstore"
                    else ""
                ),
            }
        )
    print_table(
        rows,
        [
            ("system", "system"),
            ("mode", "mode"),
            ("seconds_median", "median s", ".3f"),
            ("seconds_min", "min s", ".3f"),
            ("seconds_max", "max s", ".3f"),
            ("spread_pct", "spread %", ".1f"),
            ("mrps", "M rows/s", ".2f"),
            ("vs_arcticdb", "x arcticdb", ".2f"),
            ("vs_best_peer", "x best peer", ".2f"),
            ("bytes", "bytes on disk"),
            ("target", "target"),
        ],
    )
    for r in ph["results"]:
        details = [x["ingest"] for x in r.get("runs", []) if x.get("ingest")]
        if not details:
            continue
        parts = []
        for key, text in (
            ("client_build_s", "client-side serialisation (inside the timing)"),
            ("copy_s", "COPY"),
            ("index_s", "CREATE INDEX"),
            ("vacuum_analyze_s", "VACUUM ANALYZE"),
            ("compact_s", "compaction before sizing (untimed)"),
        ):
            vals = [d[key] for d in details if key in d]
            if vals:
                parts.append(f"{text} {median(vals):.2f} s")
        print(f"  {r['system']}: " + "; ".join(parts))
    if ph["missing_peers"]:
        print("not run: " + "; ".join(f"{k}: {v}" for k, v in ph["missing_peers"].items()))


# ------------------------------------------------------------- phases 2-4: tiers (worker)


def _worker_tiers(a: argparse.Namespace) -> dict[str, Any]:
    """Child process: per round, fresh store, write (RSS around it), migrate, sizes."""
    t0 = time.perf_counter()
    df = generate_cpu(a.scale, a.days, seed=a.seed, variant=a.variant)
    gen_s = time.perf_counter() - t0
    n = len(df)
    end = _clock_after(df)
    import_tsstore()
    warm = _warm_up(df, Path(a.scratch))
    import pyarrow as pa

    pool = pa.default_memory_pool()
    rounds: list[dict[str, Any]] = []
    for r in range(a.rounds):
        workdir = _fresh_dir(Path(a.scratch))
        root = workdir / "store"
        store, table, clock = _new_table(root, end)
        try:
            gc.collect()
            malloc_trim()
            rss0 = rss_bytes()
            reset_rss_high_water()
            t0 = time.perf_counter()
            _write(table, df)
            write_s = time.perf_counter() - t0
            peak = rss_high_water()
            gc.collect()
            rss1 = rss_bytes()
            pool_bytes = pool.bytes_allocated()
            malloc_trim()
            pool.release_unused()
            rss1_trim = rss_bytes()
            d1 = table.describe()
            clock["t"] = end + pd.Timedelta(days=1)
            table.update(memory_retention="1h")
            gc.collect()
            t0 = time.perf_counter()
            life = store.run_lifecycle()
            migrate_s = time.perf_counter() - t0
            d2 = table.describe()
            store_bytes = dir_bytes(root)
            tables_bytes = dir_bytes(root / "tables") if (root / "tables").exists() else None
        finally:
            store.close()
            shutil.rmtree(workdir, ignore_errors=True)
        migrated = sum(int(x.get("migrated", 0)) for x in life)
        rounds.append(
            {
                "round": r,
                "write_s": write_s,
                "rss_before": rss0,
                "rss_growth": rss1 - rss0,
                "rss_growth_trimmed": rss1_trim - rss0,
                "rss_peak_growth": peak - rss0,
                "arrow_pool": pool.backend_name,
                "arrow_pool_bytes_after_write": pool_bytes,
                "memory_rows": d1["memory_rows"],
                "memory_bytes": d1["memory_bytes"],
                "wal_bytes": d1["wal_bytes"],
                "migrate_s": migrate_s,
                "migrated_rows": migrated,
                "magnetic_rows": d2["magnetic_rows"],
                "magnetic_bytes": d2["magnetic_bytes"],
                "memory_rows_after": d2["memory_rows"],
                "wal_bytes_after": d2["wal_bytes"],
                "store_dir_bytes": store_bytes,
                "tables_dir_bytes": tables_bytes,
            }
        )
        _log(
            f"  tiers {a.variant} round {r + 1}/{a.rounds}: write {write_s:.2f} s, "
            f"migrate {migrate_s:.2f} s ({migrated:,} rows)"
        )
    return {
        "variant": a.variant,
        "rows": n,
        "generate_s": gen_s,
        "warm_up": warm,
        "rounds": rounds,
    }


def _warm_up(df: pd.DataFrame, scratch: Path, rows: int = 2_000) -> dict[str, Any]:
    """Write and migrate ``rows`` rows in a throwaway store, so that the measured write does
    not pay for first-use imports and caches; returns the RSS that cost (one-time)."""
    gc.collect()
    malloc_trim()
    rss0 = rss_bytes()
    workdir = _fresh_dir(scratch)
    part = df.iloc[:rows]
    end = _clock_after(part)
    store, table, clock = _new_table(workdir / "store", end)
    try:
        _write(table, part)
        table.describe()
        clock["t"] = end + pd.Timedelta(days=1)
        table.update(memory_retention="1h")
        store.run_lifecycle()
        table.describe()
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    gc.collect()
    malloc_trim()
    return {"rows": len(part), "rss_growth": rss_bytes() - rss0}


def _run_worker(kind: str, args: list[str], scratch: Path) -> dict[str, Any]:
    """Run this script as a child ``--worker kind`` and return the JSON it writes."""
    out = Path(tempfile.mkstemp(prefix=f"worker-{kind}-", suffix=".json", dir=scratch)[1])
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--worker-out",
        str(out),
        "--scratch",
        str(scratch),
        *args,
    ]
    subprocess.run(cmd, check=True)
    try:
        return json.loads(out.read_text(encoding="utf-8"))
    finally:
        out.unlink(missing_ok=True)


def _peer_bytes_once(factory: Callable[[], Any], df: pd.DataFrame, scratch: Path) -> dict[str, Any]:
    sink: list[dict[str, Any]] = []
    _peer_ingest_once(factory, df, scratch, sink)
    return sink[0]


def phase_tiers(
    scale: int,
    days: float,
    variants: Sequence[str],
    rounds: int,
    seed: int,
    peers: Sequence[str],
    scratch: Path,
    ingest: dict[str, Any] | None,
) -> dict[str, Any]:
    """Phases 2-4: migration points/s, magnetic bytes/point (with peers), memory-tier bytes."""
    out: dict[str, Any] = {"variants": {}, "rounds": rounds}
    factories = available_peers(peers)
    for v in variants:
        _log(f"  tiers: variant {v} (child process)")
        w = _run_worker(
            "tiers",
            [
                "--variant",
                v,
                "--scale",
                str(scale),
                "--days",
                str(days),
                "--seed",
                str(seed),
                "--rounds",
                str(rounds),
            ],
            scratch,
        )
        n = w["rows"]
        rs = w["rounds"]
        first = rs[0]
        raw = n * RAW_BYTES_PER_ROW
        mig = [r["migrate_s"] for r in rs]
        peer_bytes: dict[str, dict[str, Any]] = {}
        if v == "tsbs" and ingest is not None:
            for r in ingest["results"]:
                if r["system"] in factories:
                    peer_bytes[r["system"]] = {"bytes": r["bytes"], "from": "ingest phase"}
        missing = [p for p in factories if p not in peer_bytes]
        peer_errors: dict[str, str] = {}
        if missing:
            df = generate_cpu(scale, days, seed=seed, variant=v)  # type: ignore[arg-type]
            for p in missing:
                _log(f"  bytes: {p} on {v}")
                try:
                    peer_bytes[p] = _peer_bytes_once(factories[p], df, scratch)
                except Exception as e:  # e.g. a server that cannot hold this variant's times
                    peer_errors[p] = f"{type(e).__name__}: {e}"
                    _log(f"  bytes: {p} on {v} FAILED: {peer_errors[p]}")
            del df
        for p in peer_bytes.values():
            p["bytes_per_point"] = p["bytes"] / _points(n)
        out["variants"][v] = {
            "rows": n,
            "points": _points(n),
            "generate_s": w["generate_s"],
            "rows_ok": all(
                r["memory_rows"] == n and r["migrated_rows"] == n and r["magnetic_rows"] == n
                for r in rs
            ),
            "write_s_median": median([r["write_s"] for r in rs]),
            "migrate_s_all": mig,
            "migrate_s_median": median(mig),
            "migrate_spread": spread(mig),
            "migration_points_per_s": _points(n) / median(mig),
            "magnetic_bytes": median([r["magnetic_bytes"] for r in rs]),
            "magnetic_bytes_per_point": median([r["magnetic_bytes"] for r in rs]) / _points(n),
            "tables_dir_bytes_per_point": (
                None
                if first["tables_dir_bytes"] is None
                else first["tables_dir_bytes"] / _points(n)
            ),
            "raw_bytes": raw,
            "memory_bytes": first["memory_bytes"],
            "memory_vs_raw": first["memory_bytes"] / raw,
            "rss_growth": first["rss_growth"],
            "rss_growth_vs_raw": first["rss_growth"] / raw,
            "rss_growth_trimmed": first["rss_growth_trimmed"],
            "rss_growth_trimmed_vs_raw": first["rss_growth_trimmed"] / raw,
            "rss_peak_growth": first["rss_peak_growth"],
            "rss_peak_growth_vs_raw": first["rss_peak_growth"] / raw,
            "rss_warm_up_growth": w["warm_up"]["rss_growth"],
            "peers": peer_bytes,
            "peer_errors": peer_errors,
            "rounds": rs,
        }
    return out


def print_tiers(ph: dict[str, Any]) -> None:
    """Print phases 2, 3 and 4."""
    vs = ph["variants"]
    print(
        f"\n[2] Migration memory -> magnetic (store.run_lifecycle(), clock 1 day past the data, "
        f"memory retention 1h), median of {ph['rounds']} fresh store(s)"
    )
    print_table(
        [
            {
                "variant": v,
                "rows": x["rows"],
                "points": x["points"],
                "s": x["migrate_s_median"],
                "sp": 100 * x["migrate_spread"],
                "mpps": x["migration_points_per_s"] / 1e6,
                "ok": x["rows_ok"],
                "target": _target_text("migration_points_per_s", "M", 1e6),
            }
            for v, x in vs.items()
        ],
        [
            ("variant", "variant"),
            ("rows", "rows"),
            ("points", "points"),
            ("s", "median s", ".3f"),
            ("sp", "spread %", ".1f"),
            ("mpps", "M points/s", ".2f"),
            ("ok", "rows ok"),
            ("target", "target"),
        ],
    )
    print("\n[3] Bytes per point on disk (points = rows x 10 fields)")
    rows: list[dict[str, Any]] = []
    for v, x in vs.items():
        rows.append(
            {
                "variant": v,
                "system": "tsstore (magnetic_bytes)",
                "bytes": x["magnetic_bytes"],
                "bpp": x["magnetic_bytes_per_point"],
                "target": _target_text("magnetic_bytes_per_point_tsbs") if v == "tsbs" else "",
            }
        )
        for p, pb in x["peers"].items():
            rows.append(
                {
                    "variant": v,
                    "system": p,
                    "bytes": pb["bytes"],
                    "bpp": pb["bytes_per_point"],
                    "target": "",
                }
            )
    print_table(
        rows,
        [
            ("variant", "variant"),
            ("system", "system"),
            ("bytes", "bytes"),
            ("bpp", "bytes/point", ".3f"),
            ("target", "target"),
        ],
    )
    for v, x in vs.items():
        for p, why in x.get("peer_errors", {}).items():
            print(f"not run: {p} on {v}: {why}")
    print(
        "\n[4] Memory tier after one write (raw = rows x (8 B time + 10 x 8 B fields); RSS from "
        "/proc/self/statm in a fresh child process; trimmed = after glibc malloc_trim(0) and "
        "pyarrow's memory pool release_unused(); peak = VmHWM during the write)"
    )
    print_table(
        [
            {
                "variant": v,
                "rows": x["rows"],
                "raw": x["raw_bytes"] / 2**20,
                "mem": x["memory_bytes"] / 2**20,
                "mr": x["memory_vs_raw"],
                "rss": x["rss_growth"] / 2**20,
                "rr": x["rss_growth_vs_raw"],
                "rsst": x["rss_growth_trimmed_vs_raw"],
                "peak": x["rss_peak_growth_vs_raw"],
                "target": _target_text("memory_vs_raw", "x raw"),
            }
            for v, x in vs.items()
        ],
        [
            ("variant", "variant"),
            ("rows", "rows"),
            ("raw", "raw MiB", ".1f"),
            ("mem", "memory_bytes MiB", ".1f"),
            ("mr", "mem/raw", ".2f"),
            ("rss", "RSS growth MiB", ".1f"),
            ("rr", "RSS/raw", ".2f"),
            ("rsst", "RSS/raw trimmed", ".2f"),
            ("peak", "peak RSS/raw in write", ".2f"),
            ("target", "target"),
        ],
    )


# ---------------------------------------------------------------------- phase 5: recovery


def phase_recovery(
    scale: int, rows: int, batches: int, rounds: int, seed: int, scratch: Path
) -> dict[str, Any]:
    """Phase 5: fill the write-ahead log with ``rows`` rows, close, time reopen + replay."""
    tsstore = import_tsstore()
    epochs = math.ceil(rows / scale)
    days = (epochs + 0.5) * INTERVAL.total_seconds() / 86_400
    df = generate_cpu(scale, days, seed=seed).iloc[:rows]
    n = len(df)
    end = _clock_after(df)
    workdir = _fresh_dir(scratch)
    root = workdir / "store"
    try:
        store, table, _ = _new_table(root, end)
        edges = np.linspace(0, n, batches + 1).astype(int)
        t0 = time.perf_counter()
        for a, b in itertools.pairwise(edges):
            _write(table, df.iloc[a:b])
        write_s = time.perf_counter() - t0
        d0 = table.describe()
        store.close()
        del df, store, table
        gc.collect()
        timings: list[dict[str, float]] = []
        ok = True
        for r in range(rounds):
            gc.collect()
            t0 = time.perf_counter()
            store = tsstore.connect(root, clock=lambda: end, lifecycle_interval=None)
            t1 = time.perf_counter()
            table = store.table("bench.cpu")
            t2 = time.perf_counter()
            d = table.describe()
            t3 = time.perf_counter()
            ok = ok and d["memory_rows"] == n
            store.close()
            del store, table
            timings.append(
                {
                    "connect_s": t1 - t0,
                    "open_table_s": t2 - t1,
                    "describe_s": t3 - t2,
                    "total_s": t3 - t0,
                }
            )
            _log(f"  recovery round {r + 1}/{rounds}: {t3 - t0:.3f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    totals = [t["total_s"] for t in timings]
    return {
        "rows": n,
        "points": _points(n),
        "scale": scale,
        "batches": batches,
        "write_s": write_s,
        "wal_bytes": d0["wal_bytes"],
        "memory_rows_ok": ok,
        "rounds": timings,
        "total_s_median": median(totals),
        "total_s_all": totals,
        "spread": spread(totals),
        "connect_s_median": median([t["connect_s"] for t in timings]),
        "open_table_s_median": median([t["open_table_s"] for t in timings]),
        "describe_s_median": median([t["describe_s"] for t in timings]),
        "points_per_s": _points(n) / median(totals),
        "note": "the write-ahead log was just written: its pages are in the OS page cache",
    }


def print_recovery(ph: dict[str, Any]) -> None:
    """Print phase 5."""
    print(
        f"\n[5] Recovery: connect() + first describe() replaying a write-ahead log of "
        f"{ph['rows']:,} rows ({ph['points']:,} points, {ph['batches']} writes), median of "
        f"{len(ph['rounds'])} (warm page cache)"
    )
    print_table(
        [
            {
                "wal": ph["wal_bytes"] / 2**20,
                "c": ph["connect_s_median"],
                "o": ph["open_table_s_median"],
                "d": ph["describe_s_median"],
                "t": ph["total_s_median"],
                "sp": 100 * ph["spread"],
                "mpps": ph["points_per_s"] / 1e6,
                "ok": ph["memory_rows_ok"],
                "target": _target_text("recovery_s", "s"),
            }
        ],
        [
            ("wal", "WAL MiB", ".1f"),
            ("c", "connect s", ".3f"),
            ("o", "store.table s", ".3f"),
            ("d", "describe s", ".3f"),
            ("t", "total s", ".3f"),
            ("sp", "spread %", ".1f"),
            ("mpps", "M points/s", ".2f"),
            ("ok", "rows ok"),
            ("target", "target"),
        ],
    )


# -------------------------------------------------------------------- phase 6: scale run


def _scale_retention(epochs_per_chunk: int) -> pd.Timedelta:
    """Smallest whole-hour memory retention (>= 1 h) whose ingestion window holds one chunk.

    With "now" at the chunk's first point plus the retention, the window
    ``[now - retention, now + 15 min)`` holds the chunk when its span minus 15 min fits.
    """
    span = epochs_per_chunk * INTERVAL
    hours = math.ceil((span - pd.Timedelta("15min")) / pd.Timedelta("1h"))
    return pd.Timedelta(hours=max(1, hours))


def _worker_scale(a: argparse.Namespace) -> dict[str, Any]:
    """Child process: stream TSBS scale x days in chunks, write, migrate as it goes."""
    import_tsstore()
    epochs = max(1, a.chunk_rows // a.scale)
    chunk_rows = epochs * a.scale
    retention = _scale_retention(epochs)
    hours = int(retention / pd.Timedelta("1h"))
    workdir = _fresh_dir(Path(a.scratch))
    root = workdir / "store"
    store, table, clock = _new_table(root, START, memory_retention=f"{hours}h")
    gen_s = write_s = life_s = 0.0
    rows = chunks = 0
    last = START
    t_start = time.perf_counter()
    try:
        it = generate_cpu_chunks(a.scale, a.days, seed=a.seed, chunk_rows=chunk_rows)
        while True:
            t0 = time.perf_counter()
            chunk = next(it, None)
            gen_s += time.perf_counter() - t0
            if chunk is None:
                break
            t = _times_ns(chunk)
            clock["t"] = pd.Timestamp(int(t[0]), tz="UTC") + retention
            last = pd.Timestamp(int(t[-1]), tz="UTC")
            t0 = time.perf_counter()
            _write(table, chunk)
            t1 = time.perf_counter()
            store.run_lifecycle()
            t2 = time.perf_counter()
            write_s += t1 - t0
            life_s += t2 - t1
            rows += len(chunk)
            chunks += 1
            del chunk
            if chunks % 10 == 0:
                el = time.perf_counter() - t_start
                _log(
                    f"  scale run: {chunks} chunks, {rows:,} rows, {el:.0f} s, "
                    f"write {rows / write_s / 1e6:.2f} M rows/s, "
                    f"RSS {rss_bytes() / 2**30:.2f} GiB"
                )
        clock["t"] = last + retention + pd.Timedelta(days=1)
        t0 = time.perf_counter()
        store.run_lifecycle()
        final_s = time.perf_counter() - t0
        total_s = time.perf_counter() - t_start
        bytes_before_gc = table.describe()["magnetic_bytes"]
        # Compactions leave the segments they replaced for time travel until snapshots expire;
        # count the steady state, as the hourly maintenance leaves it (untimed).
        table.maintain(keep_snapshots="0s")
        d = table.describe()
        store_bytes = dir_bytes(root)
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "scale": a.scale,
        "days": a.days,
        "rows": rows,
        "points": _points(rows),
        "chunks": chunks,
        "chunk_rows": chunk_rows,
        "memory_retention_h": hours,
        "generate_s": gen_s,
        "write_s": write_s,
        "lifecycle_s": life_s,
        "final_migration_s": final_s,
        "total_s": total_s,
        "total_s_without_generation": total_s - gen_s,
        "ingest_rows_per_s": rows / write_s,
        "ingest_and_migrate_rows_per_s": rows / (write_s + life_s + final_s),
        "magnetic_rows": d["magnetic_rows"],
        "rows_ok": d["magnetic_rows"] == rows,
        "magnetic_bytes": d["magnetic_bytes"],
        "bytes_per_point": d["magnetic_bytes"] / _points(rows),
        "bytes_per_point_before_maintenance": bytes_before_gc / _points(rows),
        "store_dir_bytes": store_bytes,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def _scale_migration_rate(ph: dict[str, Any]) -> float:
    """Points/s of the scale run's lifecycle passes (per chunk and the final one)."""
    return ph["points"] / (ph["lifecycle_s"] + ph["final_migration_s"])


def print_scale(ph: dict[str, Any]) -> None:
    """Print phase 6."""
    print(
        f"\n[6] Scale run: TSBS scale {ph['scale']} x {ph['days']:g} days streamed in "
        f"{ph['chunks']} chunks of {ph['chunk_rows']:,} rows, memory retention "
        f"{ph['memory_retention_h']} h, migrating after every chunk"
    )
    print_table(
        [
            {
                **ph,
                "w": ph["ingest_rows_per_s"] / 1e6,
                "wm": ph["ingest_and_migrate_rows_per_s"] / 1e6,
                "mig": _scale_migration_rate(ph) / 1e6,
                "rss": ph["peak_rss_bytes"] / 2**30,
            }
        ],
        [
            ("rows", "rows"),
            ("write_s", "write s", ".1f"),
            ("lifecycle_s", "migrate s", ".1f"),
            ("generate_s", "generate s", ".1f"),
            ("total_s", "total s", ".1f"),
            ("w", "M rows/s write", ".2f"),
            ("wm", "M rows/s write+migrate", ".2f"),
            ("mig", "M points/s migrate", ".1f"),
            ("bytes_per_point", "bytes/point", ".3f"),
            ("rss", "peak RSS GiB", ".2f"),
            ("rows_ok", "rows ok"),
        ],
    )


# ------------------------------------------------------------------------------- summary


def summary(phases: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: measured value, target and whether it is met."""
    rows: list[dict[str, Any]] = []

    def add(phase: str, metric: str, key: str, value: float | None, text: str, tt: str) -> None:
        rows.append(
            {
                "phase": phase,
                "metric": metric,
                "measured": text,
                "value": value,
                "target": tt,
                "met": _met(key, value),
            }
        )

    ing = phases.get("ingest")
    if ing:
        by = {r["system"]: r for r in ing["results"]}
        for name in ("tsstore", "tsstore-hourly"):
            r = by[name]
            add(
                "1 ingest",
                f"{name} rows/s",
                "ingest_rows_per_s",
                r["rows_per_s"],
                _fmt_rate(r["rows_per_s"], "rows/s"),
                _target_text("ingest_rows_per_s", "M rows/s", 1e6),
            )
            if r.get("vs_arcticdb") is not None:
                add(
                    "1 ingest",
                    f"{name} / arcticdb",
                    "ingest_vs_arcticdb",
                    r["vs_arcticdb"],
                    f"{r['vs_arcticdb']:.2f}x",
                    _target_text("ingest_vs_arcticdb", "x"),
                )
            if r.get("vs_best_peer") is not None:
                rows.append(
                    {
                        "phase": "1 ingest",
                        "metric": f"{name} / best peer ({ing['best_peer']})",
                        "measured": f"{r['vs_best_peer']:.2f}x",
                        "value": r["vs_best_peer"],
                        "target": "",
                        "met": None,
                    }
                )
    tiers = phases.get("tiers")
    if tiers:
        for v, x in tiers["variants"].items():
            add(
                "2 migration",
                f"{v} points/s",
                "migration_points_per_s",
                x["migration_points_per_s"],
                _fmt_rate(x["migration_points_per_s"], "points/s"),
                _target_text("migration_points_per_s", "M points/s", 1e6),
            )
        for v, x in tiers["variants"].items():
            peers = ", ".join(f"{p} {pb['bytes_per_point']:.2f}" for p, pb in x["peers"].items())
            rows.append(
                {
                    "phase": "3 bytes/point",
                    "metric": f"{v} magnetic",
                    "measured": f"{x['magnetic_bytes_per_point']:.3f}"
                    + (f" ({peers})" if peers else ""),
                    "value": x["magnetic_bytes_per_point"],
                    "target": _target_text("magnetic_bytes_per_point_tsbs") if v == "tsbs" else "",
                    "met": _met("magnetic_bytes_per_point_tsbs", x["magnetic_bytes_per_point"])
                    if v == "tsbs"
                    else None,
                }
            )
        for v, x in tiers["variants"].items():
            add(
                "4 memory tier",
                f"{v} memory_bytes / raw",
                "memory_vs_raw",
                x["memory_vs_raw"],
                f"{x['memory_vs_raw']:.2f}x",
                _target_text("memory_vs_raw", "x"),
            )
            add(
                "4 memory tier",
                f"{v} RSS growth / raw",
                "memory_vs_raw",
                x["rss_growth_vs_raw"],
                f"{x['rss_growth_vs_raw']:.2f}x",
                _target_text("memory_vs_raw", "x"),
            )
            add(
                "4 memory tier",
                f"{v} RSS growth / raw, allocators trimmed",
                "memory_vs_raw",
                x["rss_growth_trimmed_vs_raw"],
                f"{x['rss_growth_trimmed_vs_raw']:.2f}x",
                _target_text("memory_vs_raw", "x"),
            )
    rec = phases.get("recovery")
    if rec:
        add(
            "5 recovery",
            f"replay {rec['points'] / 1e6:g}M points",
            "recovery_s",
            rec["total_s_median"],
            f"{rec['total_s_median']:.3f} s",
            _target_text("recovery_s", "s"),
        )
    sc = phases.get("scale_run")
    if sc:
        for metric, text in (
            ("write rows/s", _fmt_rate(sc["ingest_rows_per_s"], "rows/s")),
            ("write+migrate rows/s", _fmt_rate(sc["ingest_and_migrate_rows_per_s"], "rows/s")),
            ("migration points/s", _fmt_rate(_scale_migration_rate(sc), "points/s")),
            ("total time", f"{sc['total_s']:.0f} s"),
            ("bytes/point", f"{sc['bytes_per_point']:.3f}"),
            ("peak RSS", f"{sc['peak_rss_bytes'] / 2**30:.2f} GiB"),
        ):
            rows.append(
                {
                    "phase": "6 scale run",
                    "metric": metric,
                    "measured": text,
                    "value": None,
                    "target": "",
                    "met": None,
                }
            )
    return rows


# ----------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=None, help="hosts (default 100; 20 with --quick)")
    p.add_argument("--days", type=float, default=1.0, help="span of the data in days")
    p.add_argument("--quick", action="store_true", help="scale 20, 1 round: a couple of minutes")
    p.add_argument("--variants", default=",".join(VARIANTS), help="data variants of phases 2-4")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    p.add_argument("--warmup", type=int, default=1, help="untimed ingest rounds first")
    p.add_argument("--peers", default=",".join(DEFAULT_PEERS), help="peers next to tsstore")
    p.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma list of {', '.join(PHASES)} (or none)"
    )
    p.add_argument("--recovery-rows", type=int, default=1_000_000, help="rows in the WAL")
    p.add_argument("--recovery-batches", type=int, default=10, help="writes that fill the WAL")
    p.add_argument("--scale-run", action="store_true", help="also run phase 6 (long)")
    p.add_argument("--scale-run-scale", type=int, default=4000)
    p.add_argument("--scale-run-days", type=float, default=3.0)
    p.add_argument(
        "--scale-run-chunk-rows",
        type=int,
        default=None,
        help="rows per chunk (default: 75 minutes of data, the most a 1 h retention holds)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    # Internal: this script re-run as a child process for one phase.
    p.add_argument("--worker", choices=("tiers", "scale"), help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--variant", default="tsbs", help=argparse.SUPPRESS)
    p.add_argument("--chunk-rows", type=int, default=0, help=argparse.SUPPRESS)
    return p


def _worker_main(a: argparse.Namespace) -> int:
    result = _worker_tiers(a) if a.worker == "tiers" else _worker_scale(a)
    a.worker_out.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    a = _parser().parse_args(argv)
    if a.worker:
        return _worker_main(a)
    scale = a.scale if a.scale is not None else (20 if a.quick else 100)
    rounds = a.rounds if a.rounds is not None else (1 if a.quick else 3)
    variants = [v for v in a.variants.split(",") if v]
    peers = [x for x in a.peers.split(",") if x]
    phases_wanted = [x for x in a.phases.split(",") if x and x != "none"]
    unknown = [x for x in [*variants] if x not in VARIANTS] + [
        x for x in phases_wanted if x not in PHASES
    ]
    if unknown:
        sys.exit(f"unknown variant or phase: {unknown}")
    for name, reason in missing_peers(peers).items():
        _log(f"peer {name} NOT RUN: {reason}")
    tsstore = import_tsstore()
    params = {
        "scale": scale,
        "days": a.days,
        "quick": a.quick,
        "variants": variants,
        "rounds": rounds,
        "warmup": a.warmup,
        "peers": peers,
        "phases": phases_wanted + (["scale_run"] if a.scale_run else []),
        "recovery_rows": a.recovery_rows,
        "recovery_batches": a.recovery_batches,
        "seed": a.seed,
        "tsstore_version": getattr(tsstore, "__version__", None),
    }
    phases: dict[str, Any] = {}
    load_start = _load_average()
    t_all = time.perf_counter()
    if a.scratch is not None:
        a.scratch.mkdir(parents=True, exist_ok=True)
    errors: dict[str, str] = {}

    def guarded(name: str, fn: Callable[[], dict[str, Any]], show: Callable[..., None]) -> None:
        """Run one phase; a failure is reported and recorded, and the other phases still run."""
        try:
            phases[name] = fn()
        except Exception as e:  # report the failed phase, run the others
            errors[name] = f"{type(e).__name__}: {e}"
            _log(f"PHASE {name} FAILED: {errors[name]}\n{traceback.format_exc()}")
            print(f"\nphase {name} FAILED: {errors[name]}")
            return
        show(phases[name])

    def ingest() -> dict[str, Any]:
        _log(f"[1] ingest: generating TSBS scale {scale} x {a.days:g} day(s)")
        df = generate_cpu(scale, a.days, seed=a.seed, variant="tsbs")
        try:
            return phase_ingest(df, peers, rounds, a.warmup, scratch)
        finally:
            del df
            gc.collect()

    def tiers() -> dict[str, Any]:
        _log("[2-4] migration, bytes/point, memory tier")
        return phase_tiers(
            scale, a.days, variants, rounds, a.seed, peers, scratch, phases.get("ingest")
        )

    def recovery() -> dict[str, Any]:
        _log(f"[5] recovery: {a.recovery_rows:,} rows in the write-ahead log")
        return phase_recovery(
            scale, a.recovery_rows, a.recovery_batches, max(rounds, 3), a.seed, scratch
        )

    def scale_run() -> dict[str, Any]:
        chunk_rows = a.scale_run_chunk_rows or a.scale_run_scale * int(
            pd.Timedelta("75min") / INTERVAL
        )
        _log(
            f"[6] scale run: {a.scale_run_scale} x {a.scale_run_days:g} days, "
            f"chunks of {chunk_rows:,} rows (child process)"
        )
        args = ["--scale", str(a.scale_run_scale), "--days", str(a.scale_run_days)]
        args += ["--seed", str(a.seed), "--chunk-rows", str(chunk_rows)]
        return _run_worker("scale", args, scratch)

    with tempfile.TemporaryDirectory(prefix="bench-core-", dir=a.scratch) as td:
        scratch = Path(td)
        pool = None
        if any(p in SERVER_PEERS for p in peers):
            import servers

            pool = servers.POOL
            pool.set_root(scratch / "servers")  # each server starts once, on first use
        try:
            if "ingest" in phases_wanted:
                guarded("ingest", ingest, print_ingest)
            if "tiers" in phases_wanted:
                guarded("tiers", tiers, print_tiers)
            if "recovery" in phases_wanted:
                guarded("recovery", recovery, print_recovery)
            if a.scale_run:
                guarded("scale_run", scale_run, print_scale)
        finally:
            if pool is not None:
                pool.stop_all()  # before the scratch folder (their data) goes
    elapsed = time.perf_counter() - t_all
    rows = summary(phases)
    if rows:
        print(f"\nSummary vs targets (scale {scale} x {a.days:g} day(s), {rounds} round(s))")
        print_table(
            rows,
            [
                ("phase", "phase"),
                ("metric", "metric"),
                ("measured", "measured"),
                ("target", "target"),
                ("met", "met"),
            ],
        )
    print(f"\nbenchmark time: {elapsed:.0f} s; load average {load_start} -> {_load_average()}")
    if not a.no_write:
        path = write_results(
            "core",
            {
                "params": params,
                "targets": TARGETS,
                "summary": rows,
                "phases": phases,
                "errors": errors,
                "elapsed_s": elapsed,
                "load_average": {"start": load_start, "end": _load_average()},
            },
        )
        print(f"results: {path}")
    if errors:
        print("FAILED phases: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
