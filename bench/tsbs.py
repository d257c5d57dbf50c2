"""A TSBS ``cpu-only`` data generator, vectorised with numpy.

This reproduces the data model of the Time Series Benchmark Suite's ``cpu-only`` use case
(``pkg/data/usecases/devops`` in github.com/timescale/tsbs):

* ``scale`` hosts named ``host_0`` .. ``host_<scale-1>``, each with 10 tags chosen once per host
  (hostname, region, datacenter, rack, os, arch, team, service, service_version,
  service_environment) from the same choice lists TSBS uses;
* 10 fields ``usage_user`` .. ``usage_guest_nice`` per host, each a random walk whose state starts
  uniform in ``[0, 100)`` and then takes steps ``N(0, 1)``, clamped to ``[0, 100]`` after every
  step (TSBS ``ClampedRandomWalkDistribution``); the first point is the initial state;
* one point per host every ``interval`` (10 s) from ``start`` (2016-01-01), for
  ``floor(duration / interval)`` epochs, emitted in time order and, within one timestamp, in host
  order (the order TSBS writes them).

Variants:

* ``"tsbs"``: fields written as ``int64`` (truncated, as TSBS's ``ToPointAllInt64`` does);
  aligned clock.
* ``"float"``: the very same walks, not truncated (``float64``).
* ``"jitter"``: ``float64`` values on unaligned per-host clocks: a random phase in
  ``[0, interval)`` per host, per-point jitter uniform in ``+-10 %`` of the host's interval, and
  one third of the hosts at another rate (half of them every ``2 * interval``, half every
  ``interval / 2``). Points that jitter outside ``[start, start + duration)`` are dropped.

The random numbers come from independent ``numpy.random.SeedSequence`` streams, so for one seed
the tags and initial states are the same in every variant, ``"tsbs"`` is exactly the truncation
of ``"float"``, and ``generate_cpu_chunks`` yields exactly the rows of ``generate_cpu``, whatever
the chunk size. Values are not bit-identical to TSBS's Go generator (different PRNG), only the
distribution and layout are.

Usage as a script::

    python bench/tsbs.py --scale 100 --days 1 --variant tsbs --out cpu.parquet
"""

from __future__ import annotations

import argparse
import sys
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "ARCH_CHOICES",
    "FIELDS",
    "OS_CHOICES",
    "REGIONS",
    "SERVICE_ENVIRONMENT_CHOICES",
    "TAGS",
    "TEAM_CHOICES",
    "VARIANTS",
    "generate_cpu",
    "generate_cpu_chunks",
    "host_tags",
    "main",
    "n_rows_cpu",
    "write_parquet",
]

Variant = Literal["tsbs", "float", "jitter"]
TagsAs = Literal["object", "category"]

VARIANTS: tuple[str, ...] = ("tsbs", "float", "jitter")

TAGS: tuple[str, ...] = (
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
)

FIELDS: tuple[str, ...] = (
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
)

#: Regions and their datacenters, exactly as in TSBS ``devops/host.go``.
REGIONS: dict[str, tuple[str, ...]] = {
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"),
    "us-west-1": ("us-west-1a", "us-west-1b"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    "eu-central-1": ("eu-central-1a", "eu-central-1b"),
    "ap-southeast-1": ("ap-southeast-1a", "ap-southeast-1b"),
    "ap-southeast-2": ("ap-southeast-2a", "ap-southeast-2b"),
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c"),
    "sa-east-1": ("sa-east-1a", "sa-east-1b", "sa-east-1c"),
}
TEAM_CHOICES: tuple[str, ...] = ("SF", "NYC", "LON", "CHI")
OS_CHOICES: tuple[str, ...] = ("Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10")
ARCH_CHOICES: tuple[str, ...] = ("x64", "x86")
SERVICE_ENVIRONMENT_CHOICES: tuple[str, ...] = ("production", "staging", "test")
RACK_CHOICES = 100
SERVICE_CHOICES = 20
SERVICE_VERSION_CHOICES = 2

WALK_MIN = 0.0
WALK_MAX = 100.0
#: Per-point jitter of the ``"jitter"`` variant, as a fraction of the host's interval.
JITTER_FRACTION = 0.1
#: Resolution of the ``"jitter"`` variant's timestamps (phases and jitter): 1 ms, as most agents
#: and stores (Prometheus, Timestream) keep; DuckDB's TIMESTAMP holds it exactly.
JITTER_RESOLUTION_NS = 1_000_000
#: Fraction of hosts at another rate in the ``"jitter"`` variant (half 2x, half 0.5x interval).
OTHER_RATE_FRACTION = 1.0 / 3.0

_DATACENTERS: tuple[str, ...] = tuple(dc for dcs in REGIONS.values() for dc in dcs)
_REGION_NAMES: tuple[str, ...] = tuple(REGIONS)
# Walk steps per generation block of the aligned variants (bounds the temporary memory).
_ALIGNED_BLOCK_STEPS = 512
# Stream numbers of the seed sequence children (fixed so variants share tags and start values).
_S_TAGS, _S_INIT, _S_STEPS, _S_CLOCKS, _S_CLASSES = range(5)


# ----------------------------------------------------------------------------------- host tags


@dataclass(frozen=True)
class _HostTags:
    """Per-host tag codes and the fixed category list of each tag."""

    codes: dict[str, np.ndarray]
    categories: dict[str, tuple[str, ...]]

    def values(self, tag: str) -> np.ndarray:
        """Return the per-host tag values as an object array of Python strings."""
        cats = np.empty(len(self.categories[tag]), dtype=object)
        cats[:] = self.categories[tag]
        return cats[self.codes[tag]]


def _host_tags(scale: int, seed: int) -> _HostTags:
    """Draw each host's tags, independently per host, like TSBS ``NewHostCPUOnly``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(_S_CLASSES + 1)[_S_TAGS])
    region = rng.integers(0, len(_REGION_NAMES), scale)
    # A datacenter of the host's own region: index into that region's list.
    n_dc = np.array([len(REGIONS[r]) for r in _REGION_NAMES])
    dc_offset = np.concatenate([[0], np.cumsum(n_dc)[:-1]])
    within = np.floor(rng.random(scale) * n_dc[region]).astype(np.int64)
    codes = {
        "hostname": np.arange(scale),
        "region": region,
        "datacenter": dc_offset[region] + within,
        "rack": rng.integers(0, RACK_CHOICES, scale),
        "arch": rng.integers(0, len(ARCH_CHOICES), scale),
        "os": rng.integers(0, len(OS_CHOICES), scale),
        "service": rng.integers(0, SERVICE_CHOICES, scale),
        "service_version": rng.integers(0, SERVICE_VERSION_CHOICES, scale),
        "service_environment": rng.integers(0, len(SERVICE_ENVIRONMENT_CHOICES), scale),
        "team": rng.integers(0, len(TEAM_CHOICES), scale),
    }
    categories = {
        "hostname": tuple(f"host_{i}" for i in range(scale)),
        "region": _REGION_NAMES,
        "datacenter": _DATACENTERS,
        "rack": tuple(str(i) for i in range(RACK_CHOICES)),
        "os": OS_CHOICES,
        "arch": ARCH_CHOICES,
        "team": TEAM_CHOICES,
        "service": tuple(str(i) for i in range(SERVICE_CHOICES)),
        "service_version": tuple(str(i) for i in range(SERVICE_VERSION_CHOICES)),
        "service_environment": SERVICE_ENVIRONMENT_CHOICES,
    }
    return _HostTags({t: np.asarray(codes[t], dtype=np.int64) for t in TAGS}, categories)


def host_tags(scale: int = 100, *, seed: int = 0) -> pd.DataFrame:
    """Return the tag table: one row per host, the 10 tag columns (``hostname`` first).

    These are the tags every variant of ``generate_cpu`` uses for the same ``scale`` and
    ``seed``.
    """
    tags = _host_tags(_check_scale(scale), seed)
    return pd.DataFrame({t: tags.values(t) for t in TAGS})


# ------------------------------------------------------------------------------- the walk


def _walk(
    rng: np.random.Generator, prev: np.ndarray | None, init: np.ndarray, nb: int
) -> np.ndarray:
    """Advance clamped random walks ``nb`` points, vectorised over hosts and fields.

    Args:
        rng: the stream of steps (consumed sequentially, so block sizes do not matter).
        prev: the state at the previous point, shape ``(10, H)``, or None at the first point.
        init: the initial state, shape ``(10, H)``, used when ``prev`` is None.
        nb: number of points to produce.

    Returns:
        ``(nb, 10, H)`` float64 values; the last one is the new state.
    """
    out = np.empty((nb, *init.shape), dtype=np.float64)
    i0 = 0
    if prev is None:
        out[0] = init
        prev = out[0]
        i0 = 1
    if nb > i0:
        rng.standard_normal(out=out[i0:])
    for i in range(i0, nb):
        cur = out[i]
        np.add(cur, prev, out=cur)
        np.minimum(cur, WALK_MAX, out=cur)
        np.maximum(cur, WALK_MIN, out=cur)
        prev = cur
    return out


@dataclass
class _Block:
    """Raw generated rows: absolute ns timestamps, host numbers and ``(10, n)`` values."""

    times: np.ndarray
    hosts: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


@dataclass
class _Spec:
    """Resolved generation parameters."""

    scale: int
    start_ns: int
    interval_ns: int
    n_steps: int
    seed: int
    variant: str

    @property
    def duration_ns(self) -> int:
        """Length of the generated span, ``n_steps * interval``."""
        return self.n_steps * self.interval_ns


def _check_scale(scale: int) -> int:
    if int(scale) < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    return int(scale)


def _spec(
    scale: int,
    days: float,
    start: str | pd.Timestamp,
    interval: str | pd.Timedelta,
    seed: int,
    variant: str,
) -> _Spec:
    """Validate arguments and resolve times to integer nanoseconds."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    ts = pd.Timestamp(start)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    iv = pd.Timedelta(interval).value
    if iv <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    span = round(days * 86_400 * 1_000_000_000)
    n_steps = span // iv  # TSBS: epochs = (end - start) / interval, integer division
    if n_steps < 1:
        raise ValueError("days is shorter than one interval: nothing to generate")
    return _Spec(_check_scale(scale), ts.value, iv, n_steps, int(seed), variant)


def _streams(seed: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(_S_CLASSES + 1)


def _init_state(spec: _Spec) -> np.ndarray:
    """Initial walk states, uniform in [0, 100), shape ``(10, scale)``."""
    rng = np.random.default_rng(_streams(spec.seed)[_S_INIT])
    return rng.random((len(FIELDS), spec.scale)) * WALK_MAX


def _aligned_blocks(spec: _Spec, steps_per_block: int) -> Iterator[_Block]:
    """Blocks of whole epochs on the shared aligned clock (variants tsbs and float)."""
    rng = np.random.default_rng(_streams(spec.seed)[_S_STEPS])
    init = _init_state(spec)
    hosts_one = np.arange(spec.scale, dtype=np.int64)
    prev: np.ndarray | None = None
    steps_per_block = max(1, steps_per_block)
    for t0 in range(0, spec.n_steps, steps_per_block):
        nb = min(steps_per_block, spec.n_steps - t0)
        vals = _walk(rng, prev, init, nb)
        prev = vals[-1].copy()
        epochs = spec.start_ns + (t0 + np.arange(nb, dtype=np.int64)) * spec.interval_ns
        yield _Block(
            times=np.repeat(epochs, spec.scale),
            hosts=np.tile(hosts_one, nb),
            values=np.ascontiguousarray(vals.transpose(1, 0, 2)).reshape(len(FIELDS), -1),
        )


@dataclass
class _RateClass:
    """Hosts of the jitter variant that share one sampling interval."""

    hosts: np.ndarray
    interval_ns: int
    phase: np.ndarray
    init: np.ndarray
    n_total: int
    rng_steps: np.random.Generator
    rng_jitter: np.random.Generator
    prev: np.ndarray | None = None
    next_j: int = 0

    def generate(self, j_stop: int, duration_ns: int) -> _Block | None:
        """Generate this class's points ``next_j .. j_stop - 1`` (offsets from start)."""
        j_stop = min(j_stop, self.n_total)
        nb = j_stop - self.next_j
        if nb <= 0 or len(self.hosts) == 0:
            return None
        vals = _walk(self.rng_steps, self.prev, self.init, nb)
        self.prev = vals[-1].copy()
        res = min(JITTER_RESOLUTION_NS, self.interval_ns)
        jit = self.rng_jitter.uniform(-JITTER_FRACTION, JITTER_FRACTION, (nb, len(self.hosts)))
        j = np.arange(self.next_j, j_stop, dtype=np.int64)
        t = (
            self.phase[None, :]
            + j[:, None] * self.interval_ns
            + np.rint(jit * (self.interval_ns / res)).astype(np.int64) * res
        ).reshape(-1)
        self.next_j = j_stop
        keep = (t >= 0) & (t < duration_ns)
        values = np.ascontiguousarray(vals.transpose(1, 0, 2)).reshape(len(FIELDS), -1)
        hosts = np.broadcast_to(self.hosts, (nb, len(self.hosts))).reshape(-1)
        return _Block(t[keep], hosts[keep], values[:, keep])


def _jitter_max(interval_ns: int) -> int:
    """An upper bound of |jitter| in ns for one interval (after rounding to the resolution)."""
    return int(np.ceil(JITTER_FRACTION * interval_ns)) + min(JITTER_RESOLUTION_NS, interval_ns)


def _rate_classes(spec: _Spec) -> list[_RateClass]:
    """Split hosts into rate classes, with phases, for the jitter variant."""
    streams = _streams(spec.seed)
    rng = np.random.default_rng(streams[_S_CLOCKS])
    iv = spec.interval_ns
    res = min(JITTER_RESOLUTION_NS, iv)
    phase = rng.integers(0, iv // res, spec.scale, dtype=np.int64) * res
    mult = np.ones(spec.scale)
    n_other = round(spec.scale * OTHER_RATE_FRACTION)
    other = rng.permutation(spec.scale)[:n_other]
    mult[other[: n_other // 2]] = 2.0
    mult[other[n_other // 2 :]] = 0.5
    init = _init_state(spec)
    class_seeds = streams[_S_CLASSES].spawn(6)
    classes = []
    for k, m in enumerate((1.0, 2.0, 0.5)):
        hosts = np.flatnonzero(mult == m)
        civ = round(iv * m)
        # Enough points that every one with a possible time < duration is generated.
        n_total = (spec.duration_ns + _jitter_max(civ)) // civ + 1
        classes.append(
            _RateClass(
                hosts=hosts,
                interval_ns=civ,
                phase=phase[hosts],
                init=np.ascontiguousarray(init[:, hosts]),
                n_total=int(n_total),
                rng_steps=np.random.default_rng(class_seeds[2 * k]),
                rng_jitter=np.random.default_rng(class_seeds[2 * k + 1]),
            )
        )
    return classes


def _jitter_blocks(spec: _Spec, steps_per_block: int) -> Iterator[_Block]:
    """Time windows of the jitter variant, each sorted by (time, host)."""
    classes = _rate_classes(spec)
    window = max(1, steps_per_block) * spec.interval_ns
    dur = spec.duration_ns
    pending: list[_Block] = []
    t_end = 0
    while t_end < dur:
        t_end = min(dur, t_end + window)
        for c in classes:
            # Any point j with j * iv - jitter_max < t_end may land before t_end.
            j_stop = (t_end + _jitter_max(c.interval_ns)) // c.interval_ns + 1
            blk = c.generate(j_stop, dur)
            if blk is not None and len(blk):
                pending.append(blk)
        if not pending:
            continue
        times = np.concatenate([b.times for b in pending])
        hosts = np.concatenate([b.hosts for b in pending])
        values = np.concatenate([b.values for b in pending], axis=1)
        now = times < t_end
        rest = np.flatnonzero(~now)
        pending = [_Block(times[rest], hosts[rest], values[:, rest])] if len(rest) else []
        idx = np.flatnonzero(now)
        idx = idx[_time_host_order(times[idx], hosts[idx], spec.scale)]
        yield _Block(times[idx] + spec.start_ns, hosts[idx], values[:, idx])


def _time_host_order(times: np.ndarray, hosts: np.ndarray, scale: int) -> np.ndarray:
    """Indices that sort rows by (time, host); one int64 key when it cannot overflow."""
    if len(times) == 0:
        return np.arange(0)
    res = JITTER_RESOLUTION_NS
    t_min, t_max = int(times.min()), int(times.max())
    if t_min >= 0 and (t_max // res + 1) * scale < 2**62 and not (times % res).any():
        return np.argsort((times // res) * scale + hosts)
    return np.lexsort((hosts, times))


def _blocks(spec: _Spec, rows_per_block: int) -> Iterator[_Block]:
    """Dispatch to the variant's block generator with about ``rows_per_block`` rows a block."""
    if spec.variant == "jitter":
        # Expected points per base interval: 2/3 at 1x, 1/6 at 2x (half), 1/6 at 0.5x (double).
        per_step = spec.scale * (1.0 + OTHER_RATE_FRACTION * 0.25)
        return _jitter_blocks(spec, int(rows_per_block / per_step))
    return _aligned_blocks(spec, rows_per_block // spec.scale)


# ---------------------------------------------------------------------------- frames


def _frame(
    times: np.ndarray,
    hosts: np.ndarray,
    values: np.ndarray,
    tags: _HostTags,
    tags_as: str,
    as_int: bool,
) -> pd.DataFrame:
    """Assemble the output DataFrame: time, 10 tags, 10 fields."""
    cols: dict[str, object] = {
        "time": pd.DatetimeIndex(times.view("M8[ns]"), copy=False).tz_localize("UTC")
    }
    for t in TAGS:
        if tags_as == "category":
            cols[t] = pd.Categorical.from_codes(
                tags.codes[t][hosts], categories=list(tags.categories[t])
            )
        else:
            cols[t] = tags.values(t)[hosts]
    for k, f in enumerate(FIELDS):
        cols[f] = values[k].astype(np.int64) if as_int and values.dtype != np.int64 else values[k]
    return pd.DataFrame(cols, copy=False)


def _check_tags_as(tags_as: str) -> None:
    if tags_as not in ("object", "category"):
        raise ValueError(f"tags_as must be 'object' or 'category', got {tags_as!r}")


def n_rows_cpu(
    scale: int = 100,
    days: float = 1.0,
    *,
    interval: str | pd.Timedelta = "10s",
    variant: Variant = "tsbs",
) -> int | None:
    """Number of rows ``generate_cpu`` returns for the aligned variants (None for jitter)."""
    if variant == "jitter":
        return None
    spec = _spec(scale, days, "2016-01-01", interval, 0, variant)
    return spec.n_steps * spec.scale


def generate_cpu(
    scale: int = 100,
    days: float = 1.0,
    *,
    start: str | pd.Timestamp = "2016-01-01",
    interval: str | pd.Timedelta = "10s",
    seed: int = 0,
    variant: Variant = "tsbs",
    tags_as: TagsAs = "object",
) -> pd.DataFrame:
    """Generate TSBS ``cpu-only`` data as one DataFrame.

    Args:
        scale: number of hosts (TSBS ``--scale``).
        days: length of the span in days (TSBS ``--timestamp-end`` minus start).
        start: first timestamp (naive means UTC).
        interval: sampling interval (TSBS ``--log-interval``).
        seed: random seed; the same seed gives the same tags and walks in every variant.
        variant: ``"tsbs"`` (int64 fields, aligned clock), ``"float"`` (float64 fields,
            aligned), or ``"jitter"`` (float64, unaligned per-host clocks and rates).
        tags_as: ``"object"`` (Python ``str`` objects) or ``"category"``.

    Returns:
        Columns ``time`` (``datetime64[ns, UTC]``), the 10 tags, the 10 fields, ordered by time
        then host number, with a fresh ``RangeIndex``.
    """
    _check_tags_as(tags_as)
    spec = _spec(scale, days, start, interval, seed, variant)
    tags = _host_tags(spec.scale, spec.seed)
    blocks = list(_blocks(spec, 1 << 21))
    n = sum(len(b) for b in blocks)
    dtype = np.int64 if variant == "tsbs" else np.float64
    times = np.empty(n, dtype=np.int64)
    hosts = np.empty(n, dtype=np.int64)
    values = np.empty((len(FIELDS), n), dtype=dtype)  # pages are touched as blocks are copied
    pos = 0
    blocks.reverse()
    while blocks:
        b = blocks.pop()
        m = len(b)
        times[pos : pos + m] = b.times
        hosts[pos : pos + m] = b.hosts
        values[:, pos : pos + m] = b.values  # float -> int64 truncates, as TSBS's int64()
        pos += m
        del b
    return _frame(times, hosts, values, tags, tags_as, as_int=False)


def generate_cpu_chunks(
    scale: int = 100,
    days: float = 1.0,
    *,
    start: str | pd.Timestamp = "2016-01-01",
    interval: str | pd.Timedelta = "10s",
    seed: int = 0,
    variant: Variant = "tsbs",
    tags_as: TagsAs = "object",
    chunk_rows: int = 1_000_000,
) -> Iterator[pd.DataFrame]:
    """Generate the rows of ``generate_cpu`` as DataFrames of at most ``chunk_rows`` rows.

    Concatenated, the chunks equal ``generate_cpu`` with the same arguments (index aside: each
    chunk has its own ``RangeIndex``). Only about one chunk is held in memory at a time, so
    scales such as 4000 hosts x 3 days (103.7M rows) can be streamed to disk.
    """
    _check_tags_as(tags_as)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    spec = _spec(scale, days, start, interval, seed, variant)
    tags = _host_tags(spec.scale, spec.seed)
    as_int = variant == "tsbs"
    for b in _blocks(spec, chunk_rows):
        for i in range(0, len(b), chunk_rows):
            sl = slice(i, i + chunk_rows)
            yield _frame(b.times[sl], b.hosts[sl], b.values[:, sl], tags, tags_as, as_int)


# ------------------------------------------------------------------------------------- CLI


def write_parquet(
    out: str | Path,
    scale: int = 100,
    days: float = 1.0,
    *,
    start: str | pd.Timestamp = "2016-01-01",
    interval: str | pd.Timedelta = "10s",
    seed: int = 0,
    variant: Variant = "tsbs",
    tags_as: TagsAs = "object",
    chunk_rows: int = 1_000_000,
    compression: str = "zstd",
) -> int:
    """Stream generated data into one Parquet file, chunk by chunk; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for chunk in generate_cpu_chunks(
            scale,
            days,
            start=start,
            interval=interval,
            seed=seed,
            variant=variant,
            tags_as=tags_as,
            chunk_rows=chunk_rows,
        ):
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(str(out), schema, compression=compression)
            writer.write_table(table, row_group_size=chunk_rows)
            rows += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: generate TSBS cpu-only data and write it as Parquet."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=100, help="number of hosts")
    p.add_argument("--days", type=float, default=1.0, help="span in days")
    p.add_argument("--variant", choices=VARIANTS, default="tsbs")
    p.add_argument("--start", default="2016-01-01")
    p.add_argument("--interval", default="10s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tags-as", choices=("object", "category"), default="object")
    p.add_argument("--chunk-rows", type=int, default=1_000_000)
    p.add_argument("--compression", default="zstd", help="Parquet codec (zstd, snappy, none)")
    p.add_argument("--out", required=True, type=Path, help="output Parquet file")
    a = p.parse_args(argv)
    t0 = _time.perf_counter()
    rows = write_parquet(
        a.out,
        a.scale,
        a.days,
        start=a.start,
        interval=a.interval,
        seed=a.seed,
        variant=a.variant,
        tags_as=a.tags_as,
        chunk_rows=a.chunk_rows,
        compression=a.compression,
    )
    dt = _time.perf_counter() - t0
    print(f"{rows} rows -> {a.out} ({a.out.stat().st_size / 1e6:.1f} MB, {dt:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
