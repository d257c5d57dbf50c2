"""Real sensor data benchmark: NAB, SKAB and C-MAPSS FD001 in tsstore and its peers.

The three labelled datasets of ``../shared/datasets`` (read in place, never copied) are loaded as
they are, one tsstore table per dataset, and measured side by side with DuckDB, ArcticDB and chDB
on the very same frames:

1. **ingest**: durable ``table.write(df, dimensions=...)`` of each dataset (one call per dataset,
   and one call per CSV file / engine unit, ``tsstore-per-series``), interleaved A B C ... with
   each peer's ingest into a fresh folder, ``--rounds`` times; rows/s and points/s.
2. **migration**: ``table.run_lifecycle()`` of each table after its memory retention is cut to 1 h
   and the clock moved a day past the data: points/s into the magnetic tier.
3. **bytes/point**: all-in bytes of the magnetic tier (``describe()["magnetic_bytes"]``) per
   dataset, and every file each peer wrote for that dataset, over the points (non-empty values).
4. **lossless**: every value read back from tsstore (``table.read()``, memory tier and magnetic
   tier) equals the CSV's bit for bit, parsed a second time without pandas (Python's ``float``);
   an empty CSV cell (or a column a file lacks) must read back as missing.
5. **queries**: six queries a data scientist runs on such data, in Timestream SQL on tsstore
   (memory tier and magnetic tier) and the equivalent SQL in DuckDB and chDB, and pandas;
   ``--windows`` seeded windows each, systems interleaved per window, median and p95, every
   result checked against DuckDB's.

Data
----
* **NAB** (``nab``): 58 CSVs ``data/<group>/<file>.csv`` (``timestamp,value``); dimensions
  ``folder`` (the group) and ``file`` (the name without ``.csv``); measure ``value``. Times are
  naive and taken as UTC. Eight files repeat a timestamp (49 rows; partly daylight-saving
  artefacts, and one overlapping stretch of ``machine_temperature_system_failure``): a point's
  identity is (series, time) in Timestream, so the k-th repeat of a timestamp within a series
  is moved by k microseconds (every system gets the moved times; microseconds, not
  nanoseconds, because DuckDB's ``TIMESTAMPTZ`` keeps microseconds). Every CSV value is kept.
* **SKAB** (``skab``): 35 ``;``-separated CSVs in ``anomaly-free/``, ``valve1/``, ``valve2/``,
  ``other/``; dimensions ``folder`` and ``file``; measures the 8 sensors plus ``anomaly`` and
  ``changepoint`` (``anomaly-free.csv`` has neither: missing there). Times naive, taken as UTC.
* **C-MAPSS FD001** (``cmapss``): ``train_FD001.txt`` and ``test_FD001.txt``; dimensions
  ``subset`` (``train``/``test``) and ``unit``; measures ``cycle``, ``setting_1..3`` and
  ``sensor_1..21``. Time axis: one cycle is one flight, eight flights a day (a short-haul
  airliner), so cycle c of every unit is at 2008-01-01 00:00 UTC + (c - 1) x 3 h.

Every measure is float64, exactly the value the CSV holds (a missing cell is ``<NA>`` for
tsstore, NULL for DuckDB and chDB, NaN for ArcticDB). A *point* is one non-missing value.

Run::

    python bench/bench_real.py --quick          # a subset of each dataset, 1 round, 3 windows
    python bench/bench_real.py                  # everything, 3 rounds, 10 windows
    python bench/bench_real.py --datasets nab --peers duckdb,chdb --windows 5 --no-write

README section (text for ``bench/README.md``, "Real sensor data")
-----------------------------------------------------------------
``bench/bench_real.py`` loads NAB (58 series), SKAB (35 experiments x 10 columns) and C-MAPSS
FD001 (200 engines x 25 columns): 446,091 rows, 1,657,983 values, read in place from
``../shared/datasets`` (``--data DIR``). Options: ``--quick`` (first file per NAB folder, two per
SKAB folder, engines 1-10; 1 round, 3 windows), ``--datasets nab,skab,cmapss``, ``--peers
duckdb,arcticdb,chdb,chdb-fpc,chdb-lz4,pandas`` (DuckDB always runs: the reference),
``--rounds 3``, ``--windows 10``, ``--seed 0``, ``--scratch DIR``, ``--no-write``. Results:
``bench/results/real-<date>-<time>.json`` and ``real-latest.json``; exit status 1 when a value
read back differs from the CSV, a query result differs from DuckDB's, or a system fails.

* tsstore: ``connect(dir, clock=..., lifecycle_interval=None)``, database ``real``, tables
  ``nab``, ``skab``, ``cmapss`` (memory retention 8766 h), clock one minute after the newest
  point. ``tsstore`` writes each dataset in one ``write()``; ``tsstore-per-series`` in one
  ``write()`` per CSV file or engine unit (what a file-by-file loader does).
* Peers, each dataset into a folder of its own: DuckDB (``peers.DuckDBPeer``: one file, dims
  ``VARCHAR``, ``ORDER BY <dims>, time``, DuckDB's default lightweight compression (ALP or ALPRD for
  doubles), ``CHECKPOINT``); ArcticDB (``peers.ArcticDBPeer``: LMDB, one symbol indexed by
  time, defaults); chDB (``RealChDB``, a ``peers.ChDBPeer`` subclass: ``MergeTree ORDER BY
  (<dims>, time)``, dims ``LowCardinality(String)``, floats ``CODEC(Gorilla, ZSTD)``, time
  ``DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD)``); ``chdb-fpc`` (floats ``CODEC(FPC,
  ZSTD)``) and ``chdb-lz4`` (ClickHouse's default codec) for bytes and ingest only.
* Ingest: ``--rounds`` interleaved rounds after an untimed warm-up; per system, fresh folders,
  only the writes timed. Migration: in each ``tsstore`` round, clock + 1 day, memory retention
  1 h, ``table.run_lifecycle()`` timed per table. Bytes/point: tsstore's
  ``describe()["magnetic_bytes"]`` after that migration (every file of the magnetic tier),
  each peer's files (chDB: less inactive parts left by ``OPTIMIZE``, which runs only when an
  insert left several parts); over the non-missing values; "raw" = 8 B per value + 8 B of time
  per row.
* Lossless: a store in each tier (``memory``; ``magnetic`` after migration), every table read
  whole with ``table.read()`` and compared with a second parse of the CSVs (``csv`` and Python's
  ``float``, no pandas): same series, times and 64-bit patterns (-0.0 included; C-MAPSS has
  2,037), missing exactly where the CSV has no value. The pandas loader is checked the same way.
* Queries (Timestream SQL on tsstore; DuckDB SQL on the file databases reopened read-only;
  ClickHouse SQL on one chDB session; pandas on the frames sorted by series and time with row
  ranges per series), ``--windows`` windows from ``numpy.random.default_rng([seed, query])``:
  ``nab-hourly`` (``bin(time, 1h)``, avg/min/max/count of one series over a random week),
  ``nab-raw-day`` (one series' points over a day), ``nab-top10-max`` (top 10 series by max in a
  random 30-day window holding a random row), ``skab-file-stats`` (per file: count, avg, min,
  max, ``stddev`` of the sensors over a random 6-hour window), ``skab-minute-pct``
  (``bin(time, 1m)`` + ``approx_percentile`` of three sensors over one experiment; tsstore's
  ``approx_percentile`` is exact, so DuckDB runs ``quantile_cont``, chDB
  ``quantileExactInclusive``, pandas ``quantile``), ``cmapss-fleet`` (as of a random time, per
  engine: last cycle and means of the 14 informative sensors over its last 30 cycles, a window
  ``max(cycle) OVER (PARTITION BY subset, unit)`` in a subquery). One untimed warm-up per
  system and query, then per window tsstore-memory, tsstore-magnetic, duckdb, chdb, pandas in
  turn (``gc.collect()`` before each; tsstore's caches of parsed SQL and prepared plans cleared,
  untimed, before each call, since each window's text is sent once). Every result is checked
  against DuckDB's (``bench_queries.compare``: rows sorted, rtol 1e-9).
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_queries import compare, parse_cache_clearer
from common import (
    import_tsstore,
    measure_interleaved,
    median,
    print_table,
    report_checks,
    run_interleaved,
    spread,
    write_results,
)
from peers import ArcticDBPeer, ChDBPeer, DuckDBPeer, missing_peers, peer_dir_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout
#: Where the datasets live by default (``../shared/datasets`` from the project root).
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets"
#: The datasets, in the order they are loaded.
DATASETS: tuple[str, ...] = ("nab", "skab", "cmapss")
#: C-MAPSS time axis: cycle 1 of every unit, and the time between cycles (one flight).
CMAPSS_T0 = pd.Timestamp("2008-01-01", tz="UTC")
CMAPSS_CYCLE = pd.Timedelta("3h")
#: How far the k-th repeat of a timestamp within one series is moved (k times this).
DUPLICATE_STEP = pd.Timedelta("1us")
#: SKAB's sensors (measures besides ``anomaly`` and ``changepoint``).
SKAB_SENSORS: tuple[str, ...] = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
#: C-MAPSS's 26 columns.
CMAPSS_COLUMNS: tuple[str, ...] = (
    "unit",
    "cycle",
    "setting_1",
    "setting_2",
    "setting_3",
    *(f"sensor_{i}" for i in range(1, 22)),
)
#: The 14 FD001 sensors that change over an engine's life (the usual features for RUL models).
CMAPSS_FEATURES: tuple[str, ...] = tuple(
    f"sensor_{i}" for i in (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)
)
#: Peers of the ingest and bytes phases (chdb-fpc and chdb-lz4: other codecs, bytes and ingest).
KNOWN_PEERS: tuple[str, ...] = ("duckdb", "arcticdb", "chdb", "chdb-fpc", "chdb-lz4", "pandas")
#: Peers that answer the queries.
QUERY_PEERS: tuple[str, ...] = ("duckdb", "chdb", "pandas")
#: The correctness reference of the queries.
REFERENCE = "duckdb"
#: Relative tolerance of the query checks (as bench_queries).
RTOL = 1e-9
#: tsstore tiers the queries run on.
TIERS: tuple[str, ...] = ("memory", "magnetic")


def _log(msg: str) -> None:
    """Progress on stderr (the tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- datasets


@dataclass(slots=True)
class Dataset:
    """One dataset as every system receives it.

    Attributes
    ----------
    name : str
        Table name (``nab``, ``skab``, ``cmapss``).
    dims : tuple of str
        Dimension columns (strings), naming the series.
    measures : tuple of str
        Measure columns, float64, NaN where the CSV has no value.
    parts : list of pandas.DataFrame
        One frame per CSV file (NAB, SKAB) or engine unit (C-MAPSS): ``time``, dims, measures.
    frame : pandas.DataFrame
        The parts concatenated, sorted by dims then time.
    sources : list of str
        The files read.
    moved_duplicates : int
        Rows whose repeated timestamp was moved by ``DUPLICATE_STEP`` (see the module doc).
    time_axis : str
        How the ``time`` column was made.
    """

    name: str
    dims: tuple[str, ...]
    measures: tuple[str, ...]
    parts: list[pd.DataFrame]
    frame: pd.DataFrame = field(init=False)
    sources: list[str] = field(default_factory=list)
    moved_duplicates: int = 0
    time_axis: str = ""

    def __post_init__(self) -> None:
        cols = ["time", *self.dims, *self.measures]
        self.parts = [p.reindex(columns=cols) for p in self.parts]  # absent measure: NaN
        df = pd.concat(self.parts, ignore_index=True)
        df = df.sort_values([*self.dims, "time"], kind="stable").reset_index(drop=True)
        self.frame = df

    @property
    def rows(self) -> int:
        """Rows (one per CSV line)."""
        return len(self.frame)

    @property
    def points(self) -> int:
        """Non-missing measure values."""
        return int(self.frame[list(self.measures)].notna().to_numpy().sum())

    @property
    def series(self) -> int:
        """Distinct dimension tuples."""
        return len(self.parts)

    @property
    def raw_bytes(self) -> int:
        """8 B of time per row plus 8 B per point."""
        return 8 * self.rows + 8 * self.points


def _unique_times(t: pd.Series) -> tuple[pd.Series, int]:
    """Move the k-th repeat of a timestamp by k x ``DUPLICATE_STEP``; return it and the count."""
    k = t.groupby(t).cumcount().to_numpy()
    moved = int((k > 0).sum())
    if moved:
        t = t + pd.to_timedelta(k * DUPLICATE_STEP.value, unit="ns")
        if t.duplicated().any():
            raise ValueError("moving repeated timestamps made new repeats")
    return t, moved


def _read_floats(path: Path, sep: str, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` keeping every value exact: round-trip float parsing, only an empty cell
    is missing (``"NA"`` or ``"nan"`` text would fail as a number instead)."""
    return pd.read_csv(
        path,
        sep=sep,
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
        **kw,
    )


def _quick_pick(paths: list[Path], per_folder: int) -> list[Path]:
    """The first ``per_folder`` files of every folder (sorted), for ``--quick``."""
    out: list[Path] = []
    seen: dict[str, int] = {}
    for p in paths:
        n = seen.get(p.parent.name, 0)
        if n < per_folder:
            out.append(p)
        seen[p.parent.name] = n + 1
    return out


def load_nab(root: Path, quick: bool) -> Dataset:
    """NAB: one series per CSV, dimensions ``folder``, ``file``; measure ``value``."""
    paths = sorted((root / "nab" / "data").glob("*/*.csv"))
    if quick:
        paths = _quick_pick(paths, 1)
    parts, moved = [], 0
    for p in paths:
        raw = _read_floats(p, ",", dtype={"timestamp": str, "value": "float64"})
        t = pd.to_datetime(raw["timestamp"], format="%Y-%m-%d %H:%M:%S", utc=True)
        t, n = _unique_times(t)
        moved += n
        parts.append(
            pd.DataFrame(
                {
                    "time": t.reset_index(drop=True),
                    "folder": p.parent.name,
                    "file": p.stem,
                    "value": raw["value"].to_numpy(dtype=np.float64),
                }
            )
        )
    return Dataset(
        "nab",
        ("folder", "file"),
        ("value",),
        parts,
        sources=[str(p) for p in paths],
        moved_duplicates=moved,
        time_axis="CSV timestamps, naive, taken as UTC",
    )


def load_skab(root: Path, quick: bool) -> Dataset:
    """SKAB: one series per CSV, dimensions ``folder``, ``file``; 8 sensors, anomaly labels."""
    paths = sorted((root / "skab" / "data").glob("*/*.csv"), key=lambda p: (p.parent.name, p.stem))
    if quick:
        paths = _quick_pick(paths, 2)
    measures = (*SKAB_SENSORS, "anomaly", "changepoint")
    parts, moved = [], 0
    for p in paths:
        raw = _read_floats(p, ";", dtype={"datetime": str})
        unknown = [c for c in raw.columns if c != "datetime" and c not in measures]
        if unknown:
            raise ValueError(f"{p}: unexpected columns {unknown}")
        t = pd.to_datetime(raw["datetime"], format="%Y-%m-%d %H:%M:%S", utc=True)
        t, n = _unique_times(t)
        moved += n
        cols: dict[str, Any] = {"time": t.reset_index(drop=True), "folder": p.parent.name}
        cols["file"] = p.stem
        for m in measures:
            if m in raw.columns:
                cols[m] = raw[m].to_numpy(dtype=np.float64)
        parts.append(pd.DataFrame(cols))
    return Dataset(
        "skab",
        ("folder", "file"),
        measures,
        parts,
        sources=[str(p) for p in paths],
        moved_duplicates=moved,
        time_axis="CSV datetimes, naive, taken as UTC",
    )


def load_cmapss(root: Path, quick: bool) -> Dataset:
    """C-MAPSS FD001 train and test: dimensions ``subset``, ``unit``; cycle, settings, sensors."""
    parts, sources = [], []
    for subset in ("train", "test"):
        path = root / "cmapss" / f"{subset}_FD001.txt"
        sources.append(str(path))
        raw = _read_floats(
            path,
            r"\s+",
            header=None,
            names=list(CMAPSS_COLUMNS),
            dtype={c: str if c == "unit" else "float64" for c in CMAPSS_COLUMNS},
        )
        if quick:
            raw = raw[raw["unit"].astype(int) <= 10]
        for unit, g in raw.groupby("unit", sort=False):
            cycle = g["cycle"].to_numpy(dtype=np.float64)
            t = CMAPSS_T0 + pd.to_timedelta((cycle - 1).astype(np.int64) * CMAPSS_CYCLE.value)
            cols: dict[str, Any] = {"time": t, "subset": subset, "unit": str(unit)}
            for c in CMAPSS_COLUMNS[1:]:
                cols[c] = g[c].to_numpy(dtype=np.float64)
            part = pd.DataFrame(cols)
            if part["time"].duplicated().any():
                raise ValueError(f"{path}: unit {unit} repeats a cycle")
            parts.append(part)
    return Dataset(
        "cmapss",
        ("subset", "unit"),
        CMAPSS_COLUMNS[1:],
        parts,
        sources=sources,
        time_axis=(
            f"one cycle = one flight, {pd.Timedelta('1D') // CMAPSS_CYCLE} a day: cycle c at "
            f"{CMAPSS_T0:%Y-%m-%d %H:%M} UTC + (c - 1) x {CMAPSS_CYCLE // pd.Timedelta('1h')} h"
        ),
    )


LOADERS: dict[str, Callable[[Path, bool], Dataset]] = {
    "nab": load_nab,
    "skab": load_skab,
    "cmapss": load_cmapss,
}


# --------------------------------------------------------------- reference parse and check


def _float_or_nan(s: str) -> float:
    return float(s) if s.strip() != "" else math.nan


def reference_frame(ds: Dataset) -> pd.DataFrame:
    """The dataset parsed a second time without pandas' parser: ``csv``/``str.split`` and
    Python's ``float`` for values, numpy for times (the same moves of repeated timestamps).

    Returns a frame with ``time`` as int64 ns, the dims and float64 measures, sorted like
    ``ds.frame`` (dims, then time).
    """
    cols: dict[str, list[Any]] = {c: [] for c in ("time", *ds.dims, *ds.measures)}

    def add(dims: tuple[str, ...], times_ns: list[int], rows: list[dict[str, float]]) -> None:
        seen: dict[int, int] = {}
        for t, r in zip(times_ns, rows, strict=True):
            k = seen.get(t, 0)
            seen[t] = k + 1
            cols["time"].append(t + k * DUPLICATE_STEP.value)
            for d, v in zip(ds.dims, dims, strict=True):
                cols[d].append(v)
            for m in ds.measures:
                cols[m].append(r.get(m, math.nan))

    def ns(stamps: list[str]) -> list[int]:
        return np.array(stamps, dtype="datetime64[ns]").astype(np.int64).tolist()

    if ds.name in ("nab", "skab"):
        sep = "," if ds.name == "nab" else ";"
        for src in ds.sources:
            p = Path(src)
            with p.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh, delimiter=sep)
                header = next(reader)
                lines = [r for r in reader if r]
            names = ["value"] if ds.name == "nab" else header[1:]
            rows = [{n: _float_or_nan(v) for n, v in zip(names, r[1:], strict=True)} for r in lines]
            add((p.parent.name, p.stem), ns([r[0] for r in lines]), rows)
    else:
        wanted = set(zip(ds.frame["subset"], ds.frame["unit"], strict=True))
        for src in ds.sources:
            subset = Path(src).name.split("_")[0]
            by_unit: dict[str, list[list[str]]] = {}
            with open(src, encoding="utf-8") as fh:
                for line in fh:
                    f = line.split()
                    if f:
                        by_unit.setdefault(f[0], []).append(f)
            for unit, lines in by_unit.items():
                if (subset, unit) not in wanted:
                    continue
                times = [CMAPSS_T0.value + (int(f[1]) - 1) * CMAPSS_CYCLE.value for f in lines]
                rows = [
                    {n: float(v) for n, v in zip(CMAPSS_COLUMNS[1:], f[1:], strict=True)}
                    for f in lines
                ]
                add((subset, unit), times, rows)
    out = pd.DataFrame(
        {c: np.asarray(v, dtype=np.float64) if c in ds.measures else v for c, v in cols.items()}
    )
    out["time"] = out["time"].astype(np.int64)
    return out.sort_values([*ds.dims, "time"], kind="stable").reset_index(drop=True)


def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: both missing (NaN), or the same 64 bits (so -0.0 differs from 0.0)."""
    an, bn = np.isnan(a), np.isnan(b)
    same = a.view(np.uint64) == b.view(np.uint64)
    return (an & bn) | (~an & ~bn & same)


def check_lossless(got: pd.DataFrame, ref: pd.DataFrame, ds: Dataset) -> dict[str, Any]:
    """Compare a frame read back (``time``, dims, measures; any order, any NA flavour) with the
    reference parse, bit for bit; return counts and the first differences."""
    out: dict[str, Any] = {"rows_expected": len(ref), "rows_read": len(got), "problems": []}
    missing = [c for c in ("time", *ds.dims, *ds.measures) if c not in got.columns]
    if missing:
        out["problems"].append(f"columns missing: {missing}")
        out["ok"] = False
        return out
    g = pd.DataFrame({"time": pd.DatetimeIndex(got["time"]).as_unit("ns").asi8})
    for d in ds.dims:
        g[d] = got[d].astype(str).to_numpy()
    for m in ds.measures:
        g[m] = pd.to_numeric(got[m]).to_numpy(dtype=np.float64, na_value=np.nan)
    g = g.sort_values([*ds.dims, "time"], kind="stable").reset_index(drop=True)
    if len(g) != len(ref):
        out["problems"].append(f"{len(g)} rows read, {len(ref)} in the CSVs")
        out["ok"] = False
        return out
    keys_ok = (g["time"].to_numpy() == ref["time"].to_numpy()).all() and all(
        (g[d].to_numpy() == ref[d].to_numpy()).all() for d in ds.dims
    )
    if not keys_ok:
        out["problems"].append("series or times differ")
    values = 0
    for m in ds.measures:
        a = g[m].to_numpy()
        b = ref[m].to_numpy()
        ok = _bits_equal(a, b)
        values += len(ok)
        if not ok.all():
            i = int(np.argmin(ok))
            key = ", ".join(f"{d}={ref[d].iat[i]}" for d in ds.dims)
            out["problems"].append(
                f"{m}: {int((~ok).sum())} values differ, e.g. {key} "
                f"time={pd.Timestamp(int(ref['time'].iat[i]), tz='UTC')}: read {a[i]!r}, "
                f"CSV {b[i]!r}"
            )
    out["values_compared"] = values
    out["missing_in_csv"] = int(np.isnan(ref[list(ds.measures)].to_numpy()).sum())
    out["negative_zeros_in_csv"] = int(
        sum(np.signbit(ref[m].to_numpy()[ref[m].to_numpy() == 0]).sum() for m in ds.measures)
    )
    out["ok"] = not out["problems"]
    return out


# ------------------------------------------------------------------------ system frames


def _nullable(df: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """Measures holding NaN as pandas' nullable ``Float64`` with ``<NA>`` (tsstore refuses NaN
    and reads a nullable column's ``<NA>`` as "no value"; chDB makes it NULL)."""
    conv = {m: df[m].astype("Float64") for m in measures if df[m].isna().any()}
    return df.assign(**conv) if conv else df


def tsstore_frame(df: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """What tsstore writes: the frame with NaN as ``<NA>``."""
    return _nullable(df, ds.measures)


# ---------------------------------------------------------------------------------- peers


class RealDuckDB(DuckDBPeer):
    """``peers.DuckDBPeer`` on one dataset: table ``<dataset>``, dims as ``VARCHAR``, rows
    ``ORDER BY <dims>, time``, default (lightweight) compression, ``CHECKPOINT``. NaN in a
    float64 column becomes NULL (DuckDB's pandas scan)."""

    def __init__(self, ds: Dataset) -> None:
        super().__init__(order_by=(*ds.dims, "time"), table=ds.name, tags=ds.dims)


class RealArcticDB(ArcticDBPeer):
    """``peers.ArcticDBPeer`` on one dataset: one symbol ``<dataset>`` indexed by time (the frame
    it gets is sorted by time), dims as string columns, default options (LZ4)."""

    def __init__(self, ds: Dataset) -> None:
        super().__init__(library="real", symbol=ds.name, tags=ds.dims, host_column=ds.dims[0])


#: chDB codec variants: name -> (float codec, time codec); "" means ClickHouse's default (LZ4).
CHDB_CODECS: dict[str, tuple[str, str]] = {
    "chdb": ("CODEC(Gorilla, ZSTD)", "CODEC(DoubleDelta, ZSTD)"),
    "chdb-fpc": ("CODEC(FPC, ZSTD)", "CODEC(DoubleDelta, ZSTD)"),
    "chdb-lz4": ("", ""),
}


class RealChDB(ChDBPeer):
    """``peers.ChDBPeer`` on one dataset with ClickHouse's codecs for time series.

    ``chdb``: floats ``CODEC(Gorilla, ZSTD)`` (ClickHouse's documented codec for gauges, chained
    with a general-purpose one), time ``DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD)``;
    ``chdb-fpc``: floats ``CODEC(FPC, ZSTD)``; ``chdb-lz4``: the default codec. Dims
    ``LowCardinality(String)``, ``ORDER BY (<dims>, time)``, columns with missing values
    ``Nullable(Float64)``. One ``INSERT ... FROM Python(df)``; ``OPTIMIZE TABLE ... FINAL`` only
    when the insert left more than one active part.

    Bytes: every file under the session folder, less the parts made inactive by ``OPTIMIZE``
    (ClickHouse deletes those after ``old_parts_lifetime``, 8 minutes; counting them would
    double the table). ``peers.ChDBPeer.bytes_on_disk`` counts them.
    """

    def __init__(self, ds: Dataset, variant: str = "chdb") -> None:
        # codecs=False: not peers.CHDB_TSBS_CODECS but this module's CHDB_CODECS
        super().__init__(table=ds.name, tags=ds.dims, order_by=(*ds.dims, "time"), codecs=False)
        self.name = variant
        self.float_codec, self.time_codec = CHDB_CODECS[variant]
        self.mode += ", floats " + (self.float_codec or "default codec (LZ4)")
        self.optimized = False
        self.inactive_bytes = 0

    def _column_type(self, df: pd.DataFrame, c: str, tags: set[str]) -> str:
        base = super()._column_type(df, c, tags)
        if base == "Float64":
            if df[c].isna().any():
                base = "Nullable(Float64)"
            return f"{base} {self.float_codec}".strip()
        if base.startswith("DateTime64"):
            return f"{base} {self.time_codec}".strip()
        return base

    def ingest(self, df: pd.DataFrame) -> None:
        """``CREATE TABLE``; ``INSERT ... FROM Python(df)``; ``OPTIMIZE`` if several parts."""
        if self.session is None:
            raise RuntimeError("setup() first")
        tags = set(self.tags)
        cols = ", ".join(f"`{c}` {self._column_type(df, c, tags)}" for c in df.columns)
        order = ", ".join(f"`{c}`" for c in self.order_by)
        self.session.query(
            f"CREATE TABLE `{self.table}` ({cols}) ENGINE = MergeTree ORDER BY ({order}) "
            "SETTINGS fsync_after_insert = 1, fsync_part_directory = 1"
        )
        names = ", ".join(f"`{c}`" for c in df.columns)
        # Python(df): chDB finds the frame by its variable name in this function's locals.
        self.session.query(f"INSERT INTO `{self.table}` ({names}) SELECT {names} FROM Python(df)")
        if self._active_parts() > 1:
            self.session.query(f"OPTIMIZE TABLE `{self.table}` FINAL")
            self.optimized = True

    def _active_parts(self) -> int:
        q = f"SELECT count() FROM system.parts WHERE table = '{self.table}' AND active"
        return int(self.session.query(q, "DataFrame").iat[0, 0])

    def bytes_on_disk(self) -> int:
        """Every file under the session folder except inactive (merged-away) parts."""
        if self.path is None:
            return 0
        inactive = 0
        if self.session is not None:
            q = f"SELECT path FROM system.parts WHERE table = '{self.table}' AND NOT active"
            for p in self.session.query(q, "DataFrame")["path"]:
                if os.path.isdir(p):
                    inactive += peer_dir_bytes(p)
        self.inactive_bytes = inactive
        return peer_dir_bytes(self.path) - inactive


def peer_factory(name: str) -> Callable[[Dataset], Any]:
    """The constructor of peer ``name`` for one dataset."""
    if name == "duckdb":
        return RealDuckDB
    if name == "arcticdb":
        return RealArcticDB
    if name in CHDB_CODECS:
        return partial(RealChDB, variant=name)
    raise ValueError(f"unknown peer {name!r}")


def _peer_module(name: str) -> str:
    return "chdb" if name.startswith("chdb") else name


def peer_frame(name: str, ds: Dataset) -> pd.DataFrame:
    """The frame peer ``name`` ingests (made untimed): ArcticDB's sorted by time (its index);
    chDB's with ``<NA>`` for missing values (NULL); DuckDB's as loaded (NaN becomes NULL)."""
    df = ds.frame
    if name == "arcticdb":
        return df.sort_values("time", kind="stable").reset_index(drop=True)
    if name.startswith("chdb"):
        return _nullable(df, ds.measures)
    return df


# ----------------------------------------------------------------------- phase 1-3: ingest


def _new_store(
    root: Path, datasets: Sequence[Dataset]
) -> tuple[Any, dict[str, Any], dict[str, pd.Timestamp]]:
    """A store at ``root``, database ``real``, one table per dataset, clock just after the newest
    point of all (memory retention 8766 h, the most; fresh tables take every point in memory).
    Returns ``(store, tables, clock)``; set ``clock["t"]`` to move "now"."""
    tsstore = import_tsstore()
    newest = max(ds.frame["time"].max() for ds in datasets)
    clock = {"t": pd.Timestamp(newest) + pd.Timedelta("1min")}
    store = tsstore.connect(
        root, clock=lambda: clock["t"], database="real", lifecycle_interval=None
    )
    db = store.create_database("real")
    tables = {
        ds.name: db.create_table(ds.name, memory_retention="8766h", magnetic_retention="73000d")
        for ds in datasets
    }
    return store, tables, clock


def migrate_all(
    tables: dict[str, Any], clock: dict[str, pd.Timestamp]
) -> dict[str, dict[str, Any]]:
    """Clock a day on, memory retention 1 h, then ``table.run_lifecycle()`` per table, timed.

    Returns per table: seconds, rows moved, ``describe()`` figures after.
    """
    clock["t"] = clock["t"] + pd.Timedelta("1D")
    for t in tables.values():
        t.update(memory_retention="1h")
    out: dict[str, dict[str, Any]] = {}
    for name, t in tables.items():
        gc.collect()
        t0 = time.perf_counter()
        res = t.run_lifecycle()
        dt = time.perf_counter() - t0
        d = t.describe()
        out[name] = {
            "seconds": dt,
            "lifecycle": res.to_dict(),
            "memory_rows": d["memory_rows"],
            "magnetic_rows": d["magnetic_rows"],
            "magnetic_bytes": d["magnetic_bytes"],
        }
    return out


def _tsstore_once(
    datasets: Sequence[Dataset],
    frames: dict[str, list[pd.DataFrame]],
    scratch: Path,
    sink: list[dict[str, Any]],
    *,
    migrate: bool,
) -> float:
    """Fresh store (untimed); timed durable writes of every dataset; optionally the timed
    migration and the magnetic bytes; clean-up. Returns the write seconds."""
    workdir = Path(tempfile.mkdtemp(dir=scratch))
    store, tables, clock = _new_store(workdir / "store", datasets)
    try:
        per: dict[str, float] = {}
        for ds in datasets:
            table = tables[ds.name]
            dims = list(ds.dims)
            gc.collect()
            t0 = time.perf_counter()
            for part in frames[ds.name]:
                table.write(part, dimensions=dims)
            per[ds.name] = time.perf_counter() - t0
        rec: dict[str, Any] = {"seconds": sum(per.values()), "per_dataset_s": per}
        rec["memory_rows"] = {n: t.describe()["memory_rows"] for n, t in tables.items()}
        rec["wal_bytes"] = {n: t.describe()["wal_bytes"] for n, t in tables.items()}
        if migrate:
            rec["migration"] = migrate_all(tables, clock)
        sink.append(rec)
        return rec["seconds"]
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _peer_once(
    name: str,
    datasets: Sequence[Dataset],
    frames: dict[str, pd.DataFrame],
    scratch: Path,
    sink: list[dict[str, Any]],
) -> float:
    """Per dataset: fresh folder and peer set-up (untimed), timed ``ingest``, bytes, close.
    Returns the ingest seconds of all datasets."""
    workdir = Path(tempfile.mkdtemp(dir=scratch))
    factory = peer_factory(name)
    per: dict[str, float] = {}
    sizes: dict[str, int] = {}
    extra: dict[str, Any] = {}
    try:
        for ds in datasets:
            peer = factory(ds)
            try:
                peer.setup(workdir / ds.name)
                gc.collect()
                t0 = time.perf_counter()
                peer.ingest(frames[ds.name])
                per[ds.name] = time.perf_counter() - t0
                sizes[ds.name] = peer.bytes_on_disk()
                extra[ds.name] = {
                    "mode": peer.mode,
                    "version": peer.version,
                    "optimized": getattr(peer, "optimized", None),
                    "inactive_part_bytes": getattr(peer, "inactive_bytes", None),
                }
            finally:
                peer.close()
        sink.append(
            {"seconds": sum(per.values()), "per_dataset_s": per, "bytes": sizes, "info": extra}
        )
        return sum(per.values())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def phase_ingest(
    datasets: Sequence[Dataset], peers: Sequence[str], rounds: int, scratch: Path
) -> dict[str, Any]:
    """Phases 1-3: interleaved ingest rounds; tsstore's migration and bytes in each round."""
    whole = {ds.name: [tsstore_frame(ds.frame, ds)] for ds in datasets}
    per_series = {ds.name: [tsstore_frame(p, ds) for p in ds.parts] for ds in datasets}
    peer_frames = {p: {ds.name: peer_frame(p, ds) for ds in datasets} for p in peers}
    sinks: dict[str, list[dict[str, Any]]] = {"tsstore": [], "tsstore-per-series": []}
    systems: dict[str, Callable[[], float]] = {
        "tsstore": partial(_tsstore_once, datasets, whole, scratch, sinks["tsstore"], migrate=True),
        "tsstore-per-series": partial(
            _tsstore_once,
            datasets,
            per_series,
            scratch,
            sinks["tsstore-per-series"],
            migrate=False,
        ),
    }
    for p in peers:
        sinks[p] = []
        systems[p] = partial(_peer_once, p, datasets, peer_frames[p], scratch, sinks[p])
    _log("  ingest warm-up (untimed, no migration)")
    warm: list[dict[str, Any]] = []
    _tsstore_once(datasets, whole, scratch, warm, migrate=False)
    for p in peers:
        _peer_once(p, datasets, peer_frames[p], scratch, warm)
    _log(f"  ingest: {rounds} interleaved round(s) of {', '.join(systems)}")
    timings = run_interleaved(systems, rounds)
    rows = sum(ds.rows for ds in datasets)
    points = sum(ds.points for ds in datasets)
    results = []
    for name, ts in timings.items():
        runs = sinks[name]
        sec = median(ts)
        results.append(
            {
                "system": name,
                "seconds_all": ts,
                "seconds_median": sec,
                "spread": spread(ts),
                "rows_per_s": rows / sec,
                "points_per_s": points / sec,
                "per_dataset_s": {
                    ds.name: median([r["per_dataset_s"][ds.name] for r in runs]) for ds in datasets
                },
                "runs": runs,
            }
        )
    return {"rows": rows, "points": points, "rounds": rounds, "results": results}


def summarise_ingest(ph: dict[str, Any], datasets: Sequence[Dataset]) -> dict[str, Any]:
    """Tables of ingest, migration and bytes/point from the rounds."""
    by = {r["system"]: r for r in ph["results"]}
    ts = by["tsstore"]
    ingest_rows = []
    for r in ph["results"]:
        row = {
            "system": r["system"],
            "median_s": r["seconds_median"],
            "spread_pct": 100 * r["spread"],
            "mrows": r["rows_per_s"] / 1e6,
            "mpoints": r["points_per_s"] / 1e6,
            "tsstore_x": ts["seconds_median"] and r["seconds_median"] / ts["seconds_median"],
        }
        for ds in datasets:
            row[f"{ds.name}_s"] = r["per_dataset_s"][ds.name]
        ingest_rows.append(row)
    mig_runs = [run["migration"] for run in ts["runs"]]
    migration_rows = []
    for ds in datasets:
        secs = [m[ds.name]["seconds"] for m in mig_runs]
        sec = median(secs)
        last = mig_runs[-1][ds.name]
        migration_rows.append(
            {
                "dataset": ds.name,
                "rows": ds.rows,
                "points": ds.points,
                "median_s": sec,
                "spread_pct": 100 * spread(secs),
                "mpoints_s": ds.points / sec / 1e6,
                "lifecycle": last["lifecycle"],
                "all_migrated": all(
                    m[ds.name]["magnetic_rows"] == ds.rows and m[ds.name]["memory_rows"] == 0
                    for m in mig_runs
                ),
            }
        )
    tot_s = median([sum(m[ds.name]["seconds"] for ds in datasets) for m in mig_runs])
    points = sum(ds.points for ds in datasets)
    migration_rows.append(
        {
            "dataset": "all",
            "rows": sum(ds.rows for ds in datasets),
            "points": points,
            "median_s": tot_s,
            "mpoints_s": points / tot_s / 1e6,
            "all_migrated": all(r["all_migrated"] for r in migration_rows),
        }
    )
    peers = [r["system"] for r in ph["results"] if not r["system"].startswith("tsstore")]
    bytes_rows = []
    totals: dict[str, float] = {"tsstore": 0.0, **{p: 0.0 for p in peers}}
    for ds in datasets:
        row: dict[str, Any] = {
            "dataset": ds.name,
            "rows": ds.rows,
            "points": ds.points,
            "raw_bpp": ds.raw_bytes / ds.points,
        }
        tb = median([m[ds.name]["magnetic_bytes"] for m in mig_runs])
        row["tsstore"] = tb / ds.points
        totals["tsstore"] += tb
        for p in peers:
            b = median([run["bytes"][ds.name] for run in by[p]["runs"]])
            totals[p] += b
            row[p] = b / ds.points
            row[f"{p}_x"] = b / tb
        bytes_rows.append(row)
    all_points = sum(ds.points for ds in datasets)
    row = {
        "dataset": "all",
        "rows": sum(ds.rows for ds in datasets),
        "points": all_points,
        "raw_bpp": sum(ds.raw_bytes for ds in datasets) / all_points,
        "tsstore": totals["tsstore"] / all_points,
    }
    for p in peers:
        row[p] = totals[p] / all_points
        row[f"{p}_x"] = totals[p] / totals["tsstore"]
    bytes_rows.append(row)
    return {
        "ingest": ingest_rows,
        "migration": migration_rows,
        "bytes_per_point": bytes_rows,
        "peers": peers,
    }


def print_ingest(s: dict[str, Any], ph: dict[str, Any], datasets: Sequence[Dataset]) -> None:
    """Print the ingest, migration and bytes tables."""
    print(
        f"\n[1] Ingest, durable, all datasets ({ph['rows']:,} rows, {ph['points']:,} points), "
        f"median of {ph['rounds']} interleaved round(s); x tsstore = seconds / tsstore's"
    )
    print_table(
        s["ingest"],
        [
            ("system", "system"),
            ("median_s", "median s", ".3f"),
            ("spread_pct", "spread %", ".0f"),
            ("mrows", "M rows/s", ".2f"),
            ("mpoints", "M points/s", ".2f"),
            ("tsstore_x", "x tsstore", ".2f"),
            *[(f"{ds.name}_s", f"{ds.name} s", ".3f") for ds in datasets],
        ],
    )
    print("\n[2] Migration to the magnetic tier: table.run_lifecycle() per table")
    print_table(
        s["migration"],
        [
            ("dataset", "dataset"),
            ("rows", "rows"),
            ("points", "points"),
            ("median_s", "median s", ".3f"),
            ("spread_pct", "spread %", ".0f"),
            ("mpoints_s", "M points/s", ".3f"),
            ("all_migrated", "all migrated"),
        ],
    )
    print(
        "\n[3] Bytes per point, all-in on disk (tsstore: the magnetic tier after migration; "
        "peers: every file they wrote); x = peer bytes / tsstore bytes"
    )
    cols: list[Any] = [
        ("dataset", "dataset"),
        ("points", "points"),
        ("raw_bpp", "raw", ".2f"),
        ("tsstore", "tsstore", ".3f"),
    ]
    for p in s["peers"]:
        cols += [(p, p, ".3f"), (f"{p}_x", "x", ".2f")]
    print_table(s["bytes_per_point"], cols)


# ---------------------------------------------------------------------------- lossless


def phase_lossless(
    stores: dict[str, Any], datasets: Sequence[Dataset], refs: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """Read every table of every tier store back whole and check it bit for bit."""
    out: dict[str, Any] = {"loader": {}, "tiers": {}}
    for ds in datasets:
        t0 = time.perf_counter()
        out["loader"][ds.name] = check_lossless(ds.frame, refs[ds.name], ds)
        out["loader"][ds.name]["seconds"] = time.perf_counter() - t0
    for tier, store in stores.items():
        out["tiers"][tier] = {}
        for ds in datasets:
            t0 = time.perf_counter()
            got = store.table(f"real.{ds.name}").read()
            read_s = time.perf_counter() - t0
            res = check_lossless(got, refs[ds.name], ds)
            res["read_s"] = read_s
            out["tiers"][tier][ds.name] = res
    return out


def print_lossless(ph: dict[str, Any]) -> None:
    """Print the lossless check."""
    rows = []
    for ds, r in ph["loader"].items():
        rows.append({"what": "loader (pandas) vs CSV", "dataset": ds, **r})
    for tier, per in ph["tiers"].items():
        for ds, r in per.items():
            rows.append({"what": f"tsstore {tier} tier vs CSV", "dataset": ds, **r})
    for r in rows:
        r["verdict"] = "equal" if r["ok"] else "; ".join(r["problems"])[:120]
    print("\n[4] Lossless: every value read back vs the CSV, bit for bit (NaN = empty cell)")
    print_table(
        rows,
        [
            ("what", "check"),
            ("dataset", "dataset"),
            ("rows_expected", "rows"),
            ("values_compared", "values"),
            ("missing_in_csv", "missing"),
            ("negative_zeros_in_csv", "-0.0"),
            ("read_s", "read s", ".2f"),
            ("verdict", "result"),
        ],
    )


# ------------------------------------------------------------------------------- queries


def _lit(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


def _time(ts: pd.Timestamp, dialect: str) -> str:
    """A time literal: Timestream's string form, DuckDB's ``TIMESTAMPTZ``, ClickHouse's
    ``toDateTime64``."""
    if dialect == "clickhouse":
        return f"toDateTime64('{_lit(ts)}', 6, 'UTC')"
    if dialect == "duckdb":
        return f"TIMESTAMPTZ '{_lit(ts)}+00'"
    return f"'{_lit(ts)}'"


def _q(name: str, dialect: str) -> str:
    """A quoted identifier."""
    return f"`{name}`" if dialect == "clickhouse" else f'"{name}"'


def _s(value: str) -> str:
    """A string literal."""
    return "'" + value.replace("'", "''") + "'"


def _bucket(unit: str, dialect: str) -> str:
    """A time bucket of one ``unit`` (``minute``, ``hour``) labelled by its start."""
    if dialect == "timestream":
        return f"bin(time, 1{unit[0]})"
    if dialect == "duckdb":
        return f"time_bucket(INTERVAL '1 {unit}', time)"
    return {"minute": "toStartOfMinute(time)", "hour": "toStartOfHour(time)"}[unit]


def _pct(col: str, p: float, dialect: str) -> str:
    """A percentile: tsstore's ``approx_percentile`` is exact (``quantile_cont``), so the peers
    compute the same exact, linearly interpolated percentile."""
    if dialect == "timestream":
        return f"approx_percentile({col}, {p})"
    if dialect == "duckdb":
        return f"quantile_cont({col}, {p})"
    return f"quantileExactInclusive({p})({col})"


def _std(col: str, dialect: str) -> str:
    """Sample standard deviation (Timestream's ``stddev``)."""
    return {"timestream": "stddev", "duckdb": "stddev_samp", "clickhouse": "stddevSamp"}[
        dialect
    ] + f"({col})"


def _series_where(params: dict[str, Any], dims: Sequence[str], dialect: str) -> list[str]:
    return [f"{_q(d, dialect)} = {_s(v)}" for d, v in zip(dims, params["series"], strict=True)]


def _range_where(params: dict[str, Any], dialect: str) -> list[str]:
    out = []
    if params.get("start") is not None:
        out.append(f"time >= {_time(params['start'], dialect)}")
    if params.get("end") is not None:
        out.append(f"time < {_time(params['end'], dialect)}")
    return out


@dataclass(slots=True)
class PandasData:
    """One dataset in pandas as a data scientist would hold it: the long frame sorted by series
    then time, dims as ``category``, and the row range of every series (made untimed)."""

    ds: Dataset
    df: pd.DataFrame
    t: np.ndarray
    slices: dict[tuple[str, ...], tuple[int, int]]

    @classmethod
    def build(cls, ds: Dataset) -> PandasData:
        """Index ``ds.frame``."""
        df = ds.frame.assign(**{d: ds.frame[d].astype("category") for d in ds.dims})
        t = pd.DatetimeIndex(df["time"]).asi8
        keys = list(zip(*(ds.frame[d].to_numpy() for d in ds.dims), strict=True))
        slices: dict[tuple[str, ...], tuple[int, int]] = {}
        for i, k in enumerate(keys):
            a, _ = slices.get(k, (i, i))
            slices[k] = (a, i + 1)
        return cls(ds, df, t, slices)

    def series(
        self, key: Sequence[str], start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        """Rows of one series in ``[start, end)`` (binary search on its sorted times)."""
        a, b = self.slices[tuple(key)]
        t = self.t[a:b]
        i = a if start is None else a + int(np.searchsorted(t, start.value, "left"))
        j = b if end is None else a + int(np.searchsorted(t, end.value, "left"))
        return self.df.iloc[i:j]

    def between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
        """Rows of every series in ``[start, end)`` (a boolean mask: rows are by series)."""
        m = np.ones(len(self.t), dtype=bool)
        if start is not None:
            m &= self.t >= start.value
        if end is not None:
            m &= self.t < end.value
        return self.df[m]


def _bucket_ns(sub: pd.DataFrame, unit: str) -> np.ndarray:
    w = pd.Timedelta(f"1{unit}").value
    return pd.DatetimeIndex(sub["time"]).asi8 // w * w


def _times(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns).astype("M8[ns]")).tz_localize("UTC")


@dataclass(frozen=True, slots=True)
class RealQuery:
    """One query: the dataset it reads, how its windows are drawn, its SQL per dialect, and its
    pandas form (None: not run in pandas)."""

    name: str
    dataset: str
    what: str
    draw: Callable[[np.random.Generator, Dataset], dict[str, Any]]
    sql: Callable[[dict[str, Any], str], str]
    pandas: Callable[[PandasData, dict[str, Any]], pd.DataFrame] | None


def _span_table(ds: Dataset) -> pd.DataFrame:
    """First and last time and rows of every series."""
    g = ds.frame.groupby(list(ds.dims), sort=True)["time"]
    return g.agg(["min", "max", "size"]).reset_index()


def _random_time(rng: np.random.Generator, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Timestamp:
    """Uniform in ``[lo, hi)`` at microsecond resolution."""
    room = (hi - lo) // pd.Timedelta("1us")
    return lo + pd.Timedelta(int(rng.integers(0, max(int(room), 1))), "us")


def _draw_series_window(
    rng: np.random.Generator, ds: Dataset, window: pd.Timedelta
) -> dict[str, Any]:
    """A random series at least ``window`` long and a random window inside it."""
    spans = _span_table(ds)
    ok = spans[(spans["max"] - spans["min"]) > window]
    if ok.empty:
        raise ValueError(f"no {ds.name} series spans more than {window}")
    r = ok.iloc[int(rng.integers(0, len(ok)))]
    start = _random_time(rng, r["min"], r["max"] - window)
    return {"series": tuple(str(r[d]) for d in ds.dims), "start": start, "end": start + window}


def _draw_anchored_window(
    rng: np.random.Generator, ds: Dataset, window: pd.Timedelta
) -> dict[str, Any]:
    """A window of ``window`` holding a random row (so it is never empty)."""
    t = ds.frame["time"].iat[int(rng.integers(0, ds.rows))]
    start = _random_time(rng, t - window + pd.Timedelta("1us"), t + pd.Timedelta("1us"))
    return {"start": start, "end": start + window}


def _draw_series(rng: np.random.Generator, ds: Dataset) -> dict[str, Any]:
    """A random series, whole."""
    spans = _span_table(ds)
    r = spans.iloc[int(rng.integers(0, len(spans)))]
    return {"series": tuple(str(r[d]) for d in ds.dims)}


def _draw_cmapss_asof(rng: np.random.Generator, ds: Dataset) -> dict[str, Any]:
    """An "as of" time between cycle 31 and the last cycle of the longest unit."""
    lo = CMAPSS_T0 + 30 * CMAPSS_CYCLE
    hi = ds.frame["time"].max() + pd.Timedelta("1us")
    return {"end": _random_time(rng, lo, hi)}


# -- nab-hourly: hourly avg/min/max of one series over a week


def _sql_nab_hourly(p: dict[str, Any], d: str) -> str:
    where = " AND ".join(_series_where(p, ("folder", "file"), d) + _range_where(p, d))
    group = "GROUP BY hour ORDER BY hour" if d == "clickhouse" else "GROUP BY 1 ORDER BY 1"
    return (
        f"SELECT {_bucket('hour', d)} AS hour, avg(value) AS avg_value, min(value) AS min_value, "
        f"max(value) AS max_value, count(*) AS n FROM nab WHERE {where} {group}"
    )


def _pd_nab_hourly(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    sub = pdd.series(p["series"], p["start"], p["end"])
    g = sub["value"].groupby(_bucket_ns(sub, "h")).agg(["mean", "min", "max", "size"])
    return pd.DataFrame(
        {
            "hour": _times(g.index.to_numpy()),
            "avg_value": g["mean"].to_numpy(),
            "min_value": g["min"].to_numpy(),
            "max_value": g["max"].to_numpy(),
            "n": g["size"].to_numpy(),
        }
    )


# -- nab-raw-day: one series' raw points over a day (a chart)


def _sql_nab_raw(p: dict[str, Any], d: str) -> str:
    where = " AND ".join(_series_where(p, ("folder", "file"), d) + _range_where(p, d))
    return f"SELECT time, value FROM nab WHERE {where} ORDER BY time"


def _pd_nab_raw(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    return pdd.series(p["series"], p["start"], p["end"])[["time", "value"]]


# -- nab-top10-max: the 10 series with the highest value in a 30-day window


def _sql_nab_top10(p: dict[str, Any], d: str) -> str:
    f, fi = _q("folder", d), _q("file", d)
    return (
        f"SELECT {f}, {fi}, max(value) AS max_value, count(*) AS n FROM nab "
        f"WHERE {' AND '.join(_range_where(p, d))} GROUP BY {f}, {fi} "
        f"ORDER BY max_value DESC, {f}, {fi} LIMIT 10"
    )


def _pd_nab_top10(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    sub = pdd.between(p["start"], p["end"])
    g = (
        sub.groupby(["folder", "file"], observed=True)["value"]
        .agg(max_value="max", n="size")
        .reset_index()
    )
    g["folder"] = g["folder"].astype(str)
    g["file"] = g["file"].astype(str)
    g = g.sort_values(["max_value", "folder", "file"], ascending=[False, True, True])
    return g.head(10)


# -- skab-file-stats: per-file sensor statistics over a 6-hour window

_SKAB_STATS: tuple[tuple[str, str, str], ...] = (
    ("avg", "Accelerometer1RMS", "avg_acc1"),
    ("max", "Accelerometer1RMS", "max_acc1"),
    ("avg", "Accelerometer2RMS", "avg_acc2"),
    ("avg", "Current", "avg_current"),
    ("min", "Pressure", "min_pressure"),
    ("max", "Pressure", "max_pressure"),
    ("avg", "Temperature", "avg_temperature"),
    ("std", "Temperature", "std_temperature"),
    ("avg", "Thermocouple", "avg_thermocouple"),
    ("avg", "Voltage", "avg_voltage"),
    ("avg", "Volume Flow RateRMS", "avg_flow"),
)


def _sql_skab_stats(p: dict[str, Any], d: str) -> str:
    f, fi = _q("folder", d), _q("file", d)
    aggs = ", ".join(
        (_std(_q(c, d), d) if fn == "std" else f"{fn}({_q(c, d)})") + f" AS {alias}"
        for fn, c, alias in _SKAB_STATS
    )
    return (
        f"SELECT {f}, {fi}, count(*) AS n, {aggs} FROM skab "
        f"WHERE {' AND '.join(_range_where(p, d))} GROUP BY {f}, {fi} ORDER BY {f}, {fi}"
    )


def _pd_skab_stats(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    sub = pdd.between(p["start"], p["end"])
    fn = {"avg": "mean", "max": "max", "min": "min", "std": "std"}
    spec: dict[str, Any] = {"n": ("Current", "size")}
    spec.update({alias: (c, fn[f]) for f, c, alias in _SKAB_STATS})
    return sub.groupby(["folder", "file"], observed=True).agg(**spec).reset_index()


# -- skab-minute-percentiles: bin + approx_percentile over one experiment

_SKAB_PCTS: tuple[tuple[str, float, str], ...] = (
    ("Current", 0.5, "p50_current"),
    ("Current", 0.95, "p95_current"),
    ("Pressure", 0.99, "p99_pressure"),
    ("Volume Flow RateRMS", 0.05, "p05_flow"),
)


def _sql_skab_pct(p: dict[str, Any], d: str) -> str:
    where = " AND ".join(_series_where(p, ("folder", "file"), d))
    aggs = ", ".join(f"{_pct(_q(c, d), q, d)} AS {alias}" for c, q, alias in _SKAB_PCTS)
    group = "GROUP BY minute ORDER BY minute" if d == "clickhouse" else "GROUP BY 1 ORDER BY 1"
    return f"SELECT {_bucket('minute', d)} AS minute, {aggs} FROM skab WHERE {where} {group}"


def _pd_skab_pct(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    sub = pdd.series(p["series"], None, None)
    g = sub.groupby(_bucket_ns(sub, "min"))
    out = pd.DataFrame({alias: g[c].quantile(q) for c, q, alias in _SKAB_PCTS})
    out.insert(0, "minute", _times(out.index.to_numpy()))
    return out.reset_index(drop=True)


# -- cmapss-fleet: per unit, as of a time, the last cycle and sensor means over its last 30


def _sql_cmapss_fleet(p: dict[str, Any], d: str) -> str:
    s, u = _q("subset", d), _q("unit", d)
    inner = ", ".join(_q(c, d) for c in ("cycle", *CMAPSS_FEATURES))
    aggs = ", ".join(f"avg({_q(c, d)}) AS avg_{c}" for c in CMAPSS_FEATURES)
    return (
        f"SELECT {s}, {u}, max(cycle) AS last_cycle, count(*) AS n, {aggs} FROM ("
        f"SELECT {s}, {u}, {inner}, max(cycle) OVER (PARTITION BY {s}, {u}) AS unit_last "
        f"FROM cmapss WHERE {' AND '.join(_range_where(p, d))}) AS r "
        f"WHERE cycle > unit_last - 30 GROUP BY {s}, {u} ORDER BY {s}, {u}"
    )


def _pd_cmapss_fleet(pdd: PandasData, p: dict[str, Any]) -> pd.DataFrame:
    sub = pdd.between(None, p["end"])
    keys = ["subset", "unit"]
    last = sub.groupby(keys, observed=True)["cycle"].transform("max")
    sub = sub[sub["cycle"].to_numpy() > last.to_numpy() - 30]
    spec: dict[str, Any] = {"last_cycle": ("cycle", "max"), "n": ("cycle", "size")}
    spec.update({f"avg_{c}": (c, "mean") for c in CMAPSS_FEATURES})
    return sub.groupby(keys, observed=True).agg(**spec).reset_index()


QUERIES: tuple[RealQuery, ...] = (
    RealQuery(
        "nab-hourly",
        "nab",
        "hourly avg/min/max/count of one series over a random week",
        partial(_draw_series_window, window=pd.Timedelta("7D")),
        _sql_nab_hourly,
        _pd_nab_hourly,
    ),
    RealQuery(
        "nab-raw-day",
        "nab",
        "raw points of one series over a random day, by time",
        partial(_draw_series_window, window=pd.Timedelta("1D")),
        _sql_nab_raw,
        _pd_nab_raw,
    ),
    RealQuery(
        "nab-top10-max",
        "nab",
        "the 10 series with the highest value in a random 30-day window",
        partial(_draw_anchored_window, window=pd.Timedelta("30D")),
        _sql_nab_top10,
        _pd_nab_top10,
    ),
    RealQuery(
        "skab-file-stats",
        "skab",
        "per-file stats of 8 sensors (avg, min, max, stddev) over a random 6-hour window",
        partial(_draw_anchored_window, window=pd.Timedelta("6h")),
        _sql_skab_stats,
        _pd_skab_stats,
    ),
    RealQuery(
        "skab-minute-pct",
        "skab",
        "bin(time, 1m) + approx_percentile of 3 sensors over one random experiment",
        _draw_series,
        _sql_skab_pct,
        _pd_skab_pct,
    ),
    RealQuery(
        "cmapss-fleet",
        "cmapss",
        "per unit, as of a random time: last cycle, means of 14 sensors over its last 30 cycles",
        _draw_cmapss_asof,
        _sql_cmapss_fleet,
        _pd_cmapss_fleet,
    ),
)


class DuckDBQueries:
    """DuckDB for the queries: each dataset's file database built by ``RealDuckDB``, reopened
    read-only with the time zone UTC, queried with ``con.sql(q).df()``."""

    name = "duckdb"

    def __init__(self, datasets: Sequence[Dataset], workdir: Path) -> None:
        import duckdb

        self.version = str(duckdb.__version__)
        self.cons: dict[str, Any] = {}
        for ds in datasets:
            peer = RealDuckDB(ds)
            peer.setup(workdir / ds.name)
            peer.ingest(peer_frame("duckdb", ds))
            peer.close()
            con = duckdb.connect(str(peer.file), read_only=True)
            con.execute("SET TimeZone = 'UTC'")
            self.cons[ds.name] = con

    def run(self, q: RealQuery, p: dict[str, Any]) -> pd.DataFrame:
        """Answer one query."""
        return self.cons[q.dataset].sql(q.sql(p, "duckdb")).df()

    def close(self) -> None:
        """Close the connections."""
        for con in self.cons.values():
            con.close()


class ChDBQueries:
    """chDB for the queries: one session holding every dataset's table as ``RealChDB`` (the
    ``chdb`` codecs) makes it; ClickHouse SQL through ``session.query(sql, "DataFrame")``."""

    name = "chdb"

    def __init__(self, datasets: Sequence[Dataset], workdir: Path) -> None:
        from chdb import session

        self.path = workdir / "chdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(self.path))
        self.version = ""
        for ds in datasets:
            peer = RealChDB(ds)
            peer.path, peer.session = self.path, self.session
            peer.ingest(peer_frame("chdb", ds))
            self.version = peer.version
            n = int(self.session.query(f"SELECT count() FROM {ds.name}", "DataFrame").iat[0, 0])
            if n != ds.rows:
                raise RuntimeError(f"chDB holds {n} rows of {ds.name}, expected {ds.rows}")

    def run(self, q: RealQuery, p: dict[str, Any]) -> pd.DataFrame:
        """Answer one query."""
        return self.session.query(q.sql(p, "clickhouse"), "DataFrame")

    def close(self) -> None:
        """Close the session."""
        self.session.close()


class PandasQueries:
    """pandas on the in-memory frames (``PandasData``)."""

    name = "pandas"

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.version = pd.__version__
        self.data = {ds.name: PandasData.build(ds) for ds in datasets}

    def run(self, q: RealQuery, p: dict[str, Any]) -> pd.DataFrame:
        """Answer one query."""
        if q.pandas is None:
            raise ValueError(f"{q.name} has no pandas form")
        return q.pandas(self.data[q.dataset], p)

    def close(self) -> None:
        """Drop the frames."""
        self.data = {}


def build_tier_stores(
    datasets: Sequence[Dataset], scratch: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two stores holding every dataset: ``memory`` (as written) and ``magnetic`` (migrated).

    Returns the stores and, per tier, the tables' ``describe()`` figures.
    """
    stores: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for tier in TIERS:
        store, tables, clock = _new_store(scratch / f"tsstore-{tier}", datasets)
        for ds in datasets:
            tables[ds.name].write(tsstore_frame(ds.frame, ds), dimensions=list(ds.dims))
        if tier == "magnetic":
            migrate_all(tables, clock)
        want = {"memory": (1, 0), "magnetic": (0, 1)}[tier]
        info[tier] = {}
        for ds in datasets:
            d = tables[ds.name].describe()
            got = (d["memory_rows"], d["magnetic_rows"])
            if got != (want[0] * ds.rows, want[1] * ds.rows):
                raise RuntimeError(f"{tier} store, {ds.name}: (memory, magnetic) rows {got}")
            info[tier][ds.name] = {
                k: d[k] for k in ("memory_rows", "magnetic_rows", "memory_bytes", "magnetic_bytes")
            }
        stores[tier] = store
    return stores, info


#: Called untimed before every tsstore query: each window's query is sent once (cold parse).
_BEFORE_TSSTORE: list[Callable[[], None]] = []


def _before_tsstore_query(store: Any) -> None:
    """Untimed, before every timed tsstore query: ``_BEFORE_TSSTORE``'s hooks, then the store's
    caches of parsed SQL and prepared plans are cleared."""
    for f in _BEFORE_TSSTORE:
        f()
    if hasattr(store, "clear_query_caches"):
        store.clear_query_caches()


def measure_query(
    q: RealQuery,
    windows: list[dict[str, Any]],
    stores: dict[str, Any],
    peers: dict[str, Any],
) -> dict[str, Any]:
    """Warm up each system once, then every window with the systems interleaved; check every
    result against DuckDB's (``common.measure_interleaved``)."""
    systems: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {}
    before: dict[str, Callable[[], None]] = {}
    for tier, store in stores.items():
        systems[f"tsstore-{tier}"] = lambda p, s=store: s.query(q.sql(p, "timestream"))
        before[f"tsstore-{tier}"] = partial(_before_tsstore_query, store)
    skipped: dict[str, str] = {}
    for name, peer in peers.items():
        if name == "pandas" and q.pandas is None:
            skipped[name] = "no pandas form"
            continue
        systems[name] = partial(peer.run, q)
    m = measure_interleaved(
        systems,
        windows,
        reference=REFERENCE,
        compare=partial(compare, rtol=RTOL),
        before=before,
    )
    return {
        "query": q.name,
        "dataset": q.dataset,
        "what": q.what,
        "sql_timestream": q.sql(windows[0], "timestream"),
        "sql_duckdb": q.sql(windows[0], "duckdb"),
        "sql_clickhouse": q.sql(windows[0], "clickhouse"),
        "windows": [{k: (list(v) if k == "series" else v) for k, v in w.items()} for w in windows],
        "seconds": m["seconds"],
        "median_ms": m["median_ms"],
        "p95_ms": m["p95_ms"],
        "checks": m["checks"],
        "result_rows": m["result_rows"],
        "skipped": skipped,
        "errors": m["errors"],
    }


def query_rows(results: list[dict[str, Any]], peers: Sequence[str]) -> list[dict[str, Any]]:
    """One row per query: tsstore per tier, each peer, ratios to the best peer, checks."""
    out = []
    for r in results:
        med = r["median_ms"]
        peer_meds = {p: med[p] for p in peers if p in med}
        best = min(peer_meds, key=lambda p: peer_meds[p]) if peer_meds else None
        row: dict[str, Any] = {"query": r["query"], "rows": median(r["result_rows"] or [0])}
        for tier in TIERS:
            n = f"tsstore-{tier}"
            row[f"{tier}_ms"] = med.get(n)
            row[f"{tier}_p95"] = r["p95_ms"].get(n)
            row[f"{tier}_x"] = med[n] / peer_meds[best] if best and n in med else None
            if REFERENCE in med and n in med:
                row[f"{tier}_x_duckdb"] = med[n] / med[REFERENCE]
        for p in peers:
            row[f"{p}_ms"] = med.get(p)
        row["best"] = best
        checks = [c for n, cs in r["checks"].items() for c in cs]
        bad = [c for c in checks if c is not None]
        row["check"] = f"{len(checks) - len(bad)}/{len(checks)} ok" if checks else "-"
        out.append(row)
    return out


def print_queries(rows: list[dict[str, Any]], peers: Sequence[str], windows: int) -> None:
    """Print the query table."""
    print(
        f"\n[5] Queries: median ms over {windows} windows, systems interleaved "
        "(x = tsstore / best peer)"
    )
    cols: list[Any] = [("query", "query"), ("rows", "result rows", ".0f")]
    for tier in TIERS:
        cols += [
            (f"{tier}_ms", f"ts-{tier[:3]} ms", ".2f"),
            (f"{tier}_p95", "p95", ".2f"),
            (f"{tier}_x", "x", ".2f"),
        ]
    cols += [(f"{p}_ms", f"{p} ms", ".2f") for p in peers]
    cols += [("best", "best peer"), ("check", "vs duckdb")]
    print_table(rows, cols)


# ------------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="subset of each dataset, 1 round")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma list: nab,skab,cmapss")
    p.add_argument(
        "--peers",
        default=",".join(KNOWN_PEERS),
        help=f"comma list of {', '.join(KNOWN_PEERS)} (duckdb always runs: the reference)",
    )
    p.add_argument("--rounds", type=int, default=None, help="ingest rounds (3; 1 with --quick)")
    p.add_argument("--windows", type=int, default=None, help="windows per query (10; 3 quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the windows")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the datasets folder")
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a check fails or a system errs."""
    a = _parser().parse_args(argv)
    rounds = a.rounds if a.rounds is not None else (1 if a.quick else 3)
    n_windows = a.windows if a.windows is not None else (3 if a.quick else 10)
    names = [d for d in a.datasets.split(",") if d]
    if bad := [d for d in names if d not in DATASETS]:
        sys.exit(f"unknown datasets {bad}; known: {DATASETS}")
    peer_names = [p for p in a.peers.split(",") if p]
    if bad := [p for p in peer_names if p not in KNOWN_PEERS]:
        sys.exit(f"unknown peers {bad}; known: {KNOWN_PEERS}")
    if REFERENCE not in peer_names:
        peer_names.insert(0, REFERENCE)
    not_run = missing_peers(sorted({_peer_module(p) for p in peer_names if p != "pandas"}))
    peer_names = [p for p in peer_names if _peer_module(p) not in not_run]
    if REFERENCE not in peer_names:
        sys.exit(f"the reference peer {REFERENCE} cannot run: {not_run.get(REFERENCE)}")
    for p, why in not_run.items():
        _log(f"peer {p} NOT RUN: {why}")
    ingest_peers = [p for p in peer_names if p != "pandas"]
    query_peers = [p for p in peer_names if p in QUERY_PEERS]

    import_tsstore()
    clearer = parse_cache_clearer()
    _BEFORE_TSSTORE[:] = [clearer] if clearer is not None else []

    load_start = os.getloadavg()
    t_all = time.perf_counter()
    datasets: list[Dataset] = []
    load_info: dict[str, Any] = {}
    for n in names:
        t0 = time.perf_counter()
        ds = LOADERS[n](a.data, a.quick)
        datasets.append(ds)
        load_info[n] = {
            "rows": ds.rows,
            "points": ds.points,
            "series": ds.series,
            "files": len(ds.sources),
            "dims": list(ds.dims),
            "measures": list(ds.measures),
            "moved_duplicates": ds.moved_duplicates,
            "time_axis": ds.time_axis,
            "first": ds.frame["time"].min(),
            "last": ds.frame["time"].max(),
            "load_s": time.perf_counter() - t0,
        }
    print(f"Real sensor data{' (quick subset)' if a.quick else ''}, from {a.data}")
    print_table(
        [{"dataset": k, **v} for k, v in load_info.items()],
        [
            ("dataset", "dataset"),
            ("files", "files"),
            ("series", "series"),
            ("rows", "rows"),
            ("points", "points"),
            ("moved_duplicates", "moved repeats"),
            ("first", "first"),
            ("last", "last"),
            ("time_axis", "time axis"),
        ],
    )

    errors: dict[str, str] = {}
    phases: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="tsstore-bench-real-", dir=a.scratch))
    stores: dict[str, Any] = {}
    qpeers: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    try:
        _log("[1-3] ingest, migration, bytes/point")
        try:
            ing = phase_ingest(datasets, ingest_peers, rounds, scratch)
            phases["ingest"] = ing
            phases["summary"] = summarise_ingest(ing, datasets)
            print_ingest(phases["summary"], ing, datasets)
        except Exception as e:  # report the failed phase, run the others
            errors["ingest"] = f"{type(e).__name__}: {e}"
            _log(f"PHASE ingest FAILED\n{traceback.format_exc()}")

        _log("[4] lossless: tier stores and the reference parse")
        refs = {ds.name: reference_frame(ds) for ds in datasets}
        stores, tier_info = build_tier_stores(datasets, scratch)
        phases["tier_stores"] = tier_info
        lossless = phase_lossless(stores, datasets, refs)
        phases["lossless"] = lossless
        print_lossless(lossless)
        del refs

        _log("[5] queries: building the peers")
        for p in query_peers:
            t0 = time.perf_counter()
            try:
                if p == "duckdb":
                    qpeers[p] = DuckDBQueries(datasets, scratch / "q-duckdb")
                elif p == "chdb":
                    qpeers[p] = ChDBQueries(datasets, scratch / "q-chdb")
                else:
                    qpeers[p] = PandasQueries(datasets)
            except Exception as e:  # reported, not hidden
                errors[f"query-peer {p}"] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
                if p == REFERENCE:
                    raise
                continue
            _log(f"  {p}: {time.perf_counter() - t0:.1f} s")
        for i, q in enumerate(QUERIES):
            ds = next((d for d in datasets if d.name == q.dataset), None)
            if ds is None:
                continue
            rng = np.random.default_rng([a.seed, i])
            windows = [q.draw(rng, ds) for _ in range(n_windows)]
            t0 = time.perf_counter()
            r = measure_query(q, windows, stores, qpeers)
            results.append(r)
            meds = ", ".join(f"{k} {v:.2f}" for k, v in r["median_ms"].items())
            _log(f"  {q.name:<18} {time.perf_counter() - t0:5.1f} s  median ms: {meds}")
    except Exception as e:  # any failure is reported and makes the exit status 1
        errors["run"] = f"{type(e).__name__}: {e}"
        _log(traceback.format_exc())
    finally:
        for s in stores.values():
            s.close()
        for p in qpeers.values():
            p.close()
        shutil.rmtree(scratch, ignore_errors=True)

    ran = [p for p in query_peers if p in qpeers]
    qrows = query_rows(results, ran)
    if qrows:
        print_queries(qrows, ran, n_windows)
        for r in results:
            for p, why in r["skipped"].items():
                print(f"not run: {p} on {r['query']}: {why}")
    mismatches, qerrors = report_checks(
        results, key="query", rtol=RTOL, title="Query correctness", per_system=False, limit=20
    )
    lossless_ok = bool(phases.get("lossless")) and all(
        r["ok"]
        for group in (phases["lossless"]["loader"], *phases["lossless"]["tiers"].values())
        for r in group.values()
    )
    print(f"Lossless: {'every value equal' if lossless_ok else 'FAILED'}")
    for k, v in errors.items():
        print(f"FAILED {k}: {v}")
    for p, why in not_run.items():
        print(f"not run: {p}: {why}")

    total_s = time.perf_counter() - t_all
    load_end = os.getloadavg()
    print(f"\nTotal {total_s:.0f} s; load average {load_start[0]:.2f} -> {load_end[0]:.2f}")
    if not a.no_write:
        payload = {
            "args": {**vars(a), "rounds": rounds, "windows": n_windows},
            "datasets": load_info,
            "peers": peer_names,
            "not_run": not_run,
            "phases": phases,
            "queries": qrows,
            "query_results": results,
            "query_peers": ran,
            "mismatches": mismatches,
            "query_errors": qerrors,
            "errors": errors,
            "lossless_ok": lossless_ok,
            "total_s": total_s,
            "loadavg_start": load_start,
            "loadavg_end": load_end,
        }
        print(f"Results: {write_results('real', payload)}")
    return 1 if (mismatches or qerrors or errors or not lossless_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
