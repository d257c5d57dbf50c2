"""Helpers shared by the benchmark scripts: timing, statistics, machine stamp, results, tables.

Scripts in ``bench/`` run as ``python bench/<script>.py``, so this module is imported as
``common`` (the script's folder is on ``sys.path``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "Sample",
    "dir_bytes",
    "machine_info",
    "malloc_trim",
    "measure_interleaved",
    "median",
    "p95",
    "peak_rss_bytes",
    "percentile",
    "print_table",
    "reset_rss_high_water",
    "rss_bytes",
    "rss_high_water",
    "run_interleaved",
    "spread",
    "timeit",
    "write_results",
]

#: Where ``write_results`` puts its JSON files.
RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Set by ``bench/suite.py``: a file to which ``write_results`` appends each path it writes.
MANIFEST_ENV = "TSSTORE_BENCH_MANIFEST"

#: Packages whose versions ``machine_info`` records (missing ones are recorded as None).
VERSIONED_PACKAGES: tuple[str, ...] = (
    "tsstore",
    "numpy",
    "pandas",
    "pyarrow",
    "xarray",
    "zarr",
    "numcodecs",
    "icechunk",
    "arcticdb",
    "duckdb",
    "chdb",
    "dask",
    "sqlglot",
    "sqlglotc",
    "scikit-learn",
)


# ---------------------------------------------------------------------------------- timing


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times; return every timing (s).

    Garbage collection runs before each timed call (not inside it), so a collection left over
    from an earlier call is not charged to the next one.
    """
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run_interleaved(
    systems: Mapping[str, Callable[[], float]], rounds: int = 3, *, warmup: int = 0
) -> dict[str, list[float]]:
    """Measure several systems interleaved, A B A B ..., so drift hits all of them alike.

    Each callable does its own untimed setup and returns the seconds of the part it measures
    (e.g. a fresh store is created, then only the ingest is timed). ``warmup`` whole rounds run
    first and are discarded.

    Returns:
        ``{name: [seconds of round 1, round 2, ...]}`` in the order of ``systems``.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    for _ in range(warmup):
        for fn in systems.values():
            fn()
    out: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, fn in systems.items():
            gc.collect()
            out[name].append(float(fn()))
    return out


@dataclass(slots=True)
class Sample:
    """One timed call of ``measure_interleaved``: seconds, the result and (where the system has
    a ``stats`` hook) what that hook read just after the call."""

    seconds: float
    result: Any
    stats: dict[str, Any] | None = None


def _timed_call(
    name: str,
    call: Callable[[], Any],
    sink: dict[str, Sample],
    before: Callable[[], None] | None = None,
    stats: Callable[[], dict[str, Any]] | None = None,
) -> float:
    """Run ``before()`` (untimed), time ``call()``, keep its result and ``stats()`` (untimed) in
    ``sink[name]``; return the seconds."""
    if before is not None:
        before()
    t0 = time.perf_counter()
    res = call()
    dt = time.perf_counter() - t0
    sink[name] = Sample(dt, res, stats() if stats is not None else None)
    return dt


def measure_interleaved(
    systems: Mapping[str, Callable[[Any], Any]],
    windows: Sequence[Any],
    *,
    reference: str,
    compare: Callable[[Any, Any], str | None],
    before: Mapping[str, Callable[[], None]] | None = None,
    before_warmup: Mapping[str, Callable[[], None]] | None = None,
    stats: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Time several systems answering the same query on the same windows, interleaved, and
    check every answer against a reference system's.

    The loop of the query benchmarks (``bench_queries.py``, ``bench_iot.py``,
    ``bench_real.py``): each script builds ``systems`` for one query type (tsstore per tier,
    then its peers, less those that cannot express the query) and adds its own fields (SQL
    texts, windows, skipped systems) to what this returns.

    1. Warm-up: each system answers ``windows[0]`` once, untimed, after its
       ``before_warmup`` hook. A system that raises is reported (traceback on stderr), recorded
       under ``errors`` and left out of the rest; the others still run.
    2. Per window, in order: every remaining system once, in the order of ``systems``
       (``run_interleaved`` with one round: A B C, A B C, ...; ``gc.collect()`` before each
       call). Only the call is timed: the system's ``before`` hook (e.g. clearing tsstore's
       caches of parsed SQL, so that every window's query is cold) runs just before it, its
       ``stats`` hook (e.g. ``store.last_query_stats``) just after it, both untimed.
    3. Per window, when the reference answered (a result that is not None): its row count goes
       to ``result_rows`` and every other system's result is checked with
       ``compare(result, reference result)`` (None when equal, else what differs).

    Args:
        systems: ``{name: fn(window) -> result}``, in the order they run within a window.
        windows: what each query is asked on (time windows, hosts, ...); ``windows[0]`` is
            also the warm-up's.
        reference: the name of the system whose results are the expected ones.
        compare: ``compare(got, want) -> str | None``.
        before: per system, an untimed call before each timed one.
        before_warmup: per system, an untimed call before its warm-up call.
        stats: per system, an untimed read just after each timed call; the systems listed
            here get a list under ``stages``.

    Returns:
        ``seconds`` (``{name: [s per window]}``), ``median_ms`` and ``p95_ms`` (per system),
        ``stages`` (``{name: [stats per window]}``, the systems with a ``stats`` hook),
        ``checks`` (``{name: [None or the difference, per window]}``, every system but the
        reference), ``result_rows`` (the reference's row count per window) and ``errors``
        (``{name: "Type: message"}`` of the warm-ups that failed).
    """
    before = before or {}
    before_warmup = before_warmup or {}
    stats = stats or {}
    live: dict[str, Callable[[Any], Any]] = dict(systems)
    errors: dict[str, str] = {}
    for name, fn in list(live.items()):  # warm-up, one call per system
        try:
            if name in before_warmup:
                before_warmup[name]()
            fn(windows[0])
        except Exception as e:  # a failing system is reported, the others still run
            errors[name] = f"{type(e).__name__}: {e}"
            traceback.print_exc()
            del live[name]
    times: dict[str, list[float]] = {n: [] for n in live}
    stages: dict[str, list[dict[str, Any]]] = {n: [] for n in live if n in stats}
    checks: dict[str, list[str | None]] = {n: [] for n in live if n != reference}
    rows: list[int] = []
    for w in windows:
        sink: dict[str, Sample] = {}
        calls = {
            n: functools.partial(
                _timed_call, n, functools.partial(fn, w), sink, before.get(n), stats.get(n)
            )
            for n, fn in live.items()
        }
        for n, secs in run_interleaved(calls, rounds=1).items():
            times[n] += secs
        for n in stages:
            stages[n].append(sink[n].stats or {})
        ref = sink.get(reference)
        if ref is not None and ref.result is not None:
            rows.append(len(ref.result))
            for n in checks:
                checks[n].append(compare(sink[n].result, ref.result))
        sink.clear()
    return {
        "seconds": times,
        "median_ms": {n: median(v) * 1e3 for n, v in times.items()},
        "p95_ms": {n: p95(v) * 1e3 for n, v in times.items()},
        "stages": stages,
        "checks": checks,
        "result_rows": rows,
        "errors": errors,
    }


# ------------------------------------------------------------------------------ statistics


def verdict(checks: Sequence[str | None]) -> str:
    """``"k/n ok"`` for a list of result checks (None = equal), ``"-"`` for none."""
    bad = [c for c in checks if c is not None]
    return f"{len(checks) - len(bad)}/{len(checks)} ok" if checks else "-"


def report_checks(
    results: Sequence[dict[str, Any]],
    *,
    key: str = "type",
    unit: str = "window",
    rtol: float = 1e-9,
    title: str = "Correctness",
    per_system: bool = True,
    limit: int = 30,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print how the results of :func:`measure_interleaved` compared with the reference and
    return the mismatches and the errors (as recorded in the results JSON).

    Each result holds ``results[i][key]`` (the query's name), ``checks`` ({system: [None or
    the difference per window]}) and ``errors`` ({system: message}); ``unit`` names what the
    checks run over ("window", "instance").
    """
    mismatches = [
        {key: r[key], "system": system, unit: i, "diff": diff}
        for r in results
        for system, checks in r["checks"].items()
        for i, diff in enumerate(checks)
        if diff is not None
    ]
    errors = [
        {key: r[key], "system": system, "error": e}
        for r in results
        for system, e in r["errors"].items()
    ]
    n_checks = sum(len(c) for r in results for c in r["checks"].values())
    print(
        f"\n{title}: {n_checks - len(mismatches)}/{n_checks} results equal DuckDB's "
        f"(rows sorted, rtol {rtol:g}); {len(mismatches)} mismatches, {len(errors)} errors"
    )
    if per_system:
        by_system: dict[str, list[str | None]] = {}
        for r in results:
            for system, checks in r["checks"].items():
                by_system.setdefault(system, []).extend(checks)
        print("  per system: " + ", ".join(f"{k} {verdict(v)}" for k, v in by_system.items()))
    for m in mismatches[:limit]:
        print(f"  MISMATCH {m[key]} {m['system']} {unit} {m[unit]}: {m['diff']}")
    for e in errors:
        print(f"  ERROR {e[key]} {e['system']}: {e['error']}")
    return mismatches, errors


def median(xs: Sequence[float]) -> float:
    """Median of ``xs`` (NaN when empty)."""
    return statistics.median(xs) if len(xs) else math.nan


def percentile(xs: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``xs``, linear interpolation (NaN when empty)."""
    if not len(xs):
        return math.nan
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def p95(xs: Sequence[float]) -> float:
    """95th percentile of ``xs`` (linear interpolation; the max for fewer than 20 samples)."""
    return percentile(xs, 95.0)


def spread(xs: Sequence[float]) -> float:
    """Relative spread ``(max - min) / median`` of ``xs`` (0 for one sample, NaN when empty)."""
    if not len(xs):
        return math.nan
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else math.nan


# ---------------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """Resident set size of this process now, from ``/proc/self/statm`` (Linux; else -1).

    ``statm``'s second field is resident pages; multiplied by the page size.
    """
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            resident_pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return -1
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``getrusage(RUSAGE_SELF).ru_maxrss``).

    Linux reports kibibytes, macOS bytes; the result is bytes either way (-1 if unavailable).
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return -1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def rss_high_water() -> int:
    """Peak resident set size since start or the last :func:`reset_rss_high_water` (bytes).

    Reads ``VmHWM`` from ``/proc/self/status`` (Linux); falls back to :func:`peak_rss_bytes`.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return peak_rss_bytes()


def reset_rss_high_water() -> bool:
    """Reset the peak RSS that :func:`rss_high_water` reads to the current RSS.

    Writes ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0); False where that is not possible.
    ``getrusage``'s ``ru_maxrss`` is not reset by this.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def malloc_trim() -> bool:
    """Ask glibc to return freed heap memory to the OS (``malloc_trim(0)``); False if absent.

    Call it (after ``gc.collect()``) before reading :func:`rss_bytes` so that memory already
    freed but kept by the allocator is not counted as held.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.malloc_trim(0))


# ---------------------------------------------------------------------------------- disk


def dir_bytes(path: str | os.PathLike[str], *, allocated: bool = False) -> int:
    """Total size of every file under ``path`` (``os.walk``; links are not followed).

    Args:
        path: a folder (or a single file).
        allocated: count allocated blocks (``st_blocks * 512``) instead of the apparent size;
            differs for sparse files (e.g. LMDB's lock file) and for the file system's
            rounding to whole blocks.
    """
    p = Path(path)

    def size(st: os.stat_result) -> int:
        return st.st_blocks * 512 if allocated else st.st_size

    if p.is_file():
        return size(p.stat())
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            fp = os.path.join(root, f)
            if not os.path.islink(fp):
                total += size(os.stat(fp))
    return total


# --------------------------------------------------------------------------- machine stamp


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """A stamp of where and with what a benchmark ran.

    CPU model, logical cores (and those this process may use), RAM, OS, Python, the versions of
    the packages in ``VERSIONED_PACKAGES`` (read from installed metadata, nothing imported) and
    the local date/time in ISO format.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    ram = _ram_bytes()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_bytes": ram,
        "ram_gib": round(ram / 2**30, 1) if ram else None,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "packages": {p: _version(p) for p in VERSIONED_PACKAGES},
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------------------ tsstore


#: The checkout holding these scripts (put on sys.path when tsstore is not installed).
REPO_ROOT = Path(__file__).resolve().parent.parent


def import_tsstore() -> Any:
    """Import tsstore, or exit with the reason (e.g. a module another engineer is writing).

    When the package is not installed in the environment (``make bench`` installs it), the
    checkout these scripts live in is put on ``sys.path``.
    """
    try:
        import tsstore
    except ModuleNotFoundError as e:
        if e.name != "tsstore" or str(REPO_ROOT) in sys.path:
            sys.exit(f"cannot import tsstore: {type(e).__name__}: {e}")
        sys.path.insert(0, str(REPO_ROOT))
        return import_tsstore()
    except Exception as e:  # any import failure stops the benchmark with its reason
        sys.exit(f"cannot import tsstore: {type(e).__name__}: {e}")
    return tsstore


# -------------------------------------------------------------------------------- results


def _json_default(o: object) -> object:
    """Serialise numpy scalars/arrays, paths, timestamps and sets."""
    if hasattr(o, "item") and callable(o.item) and getattr(o, "ndim", 1) == 0:
        return o.item()
    if hasattr(o, "tolist") and callable(o.tolist):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, set | frozenset):
        return sorted(o)
    if hasattr(o, "isoformat") and callable(o.isoformat):
        return o.isoformat()
    return str(o)


def write_results(
    name: str, payload: Mapping[str, Any], *, results_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``payload`` as JSON to ``<results>/<name>-<YYYYmmdd-HHMMSS>.json`` and
    ``<results>/<name>-latest.json``; return the timestamped path.

    A ``machine`` entry (``machine_info()``) is added unless the payload has one, and
    ``benchmark`` is set to ``name``.
    """
    out_dir = Path(results_dir) if results_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"benchmark": name, **payload}
    doc.setdefault("machine", machine_info())
    text = json.dumps(doc, indent=2, default=_json_default, allow_nan=True) + "\n"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{name}-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (out_dir / f"{name}-latest.json").write_text(text, encoding="utf-8")
    manifest = os.environ.get(MANIFEST_ENV)
    if manifest:  # run by bench/suite.py: say which file this run wrote
        with open(manifest, "a", encoding="utf-8") as f:
            f.write(f"{path}\n")
    return path


# --------------------------------------------------------------------------------- tables


Column = str | tuple[str, str] | tuple[str, str, str]


def _fmt(v: object, spec: str | None) -> str:
    if v is None:
        return "-"
    if spec is not None:
        try:
            return format(v, spec)
        except (TypeError, ValueError):
            return str(v)
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        a = abs(v)
        if a != 0 and (a >= 1e7 or a < 1e-3):
            return f"{v:.3g}"
        if a >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}" if a < 1 else f"{v:.2f}"
    return str(v)


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] | None = None, *, file: Any = None
) -> str:
    """Print ``rows`` as an aligned plain-text table and return the text.

    Args:
        rows: one mapping per row.
        columns: the columns, in order; each either a key, ``(key, header)`` or
            ``(key, header, format_spec)``. Defaults to the keys of the first row. Text columns
            are left-aligned, numbers right-aligned; missing values print as ``-``.
        file: where to print (default ``sys.stdout``).
    """
    if columns is None:
        columns = list(rows[0]) if rows else []
    cols: list[tuple[str, str, str | None]] = []
    for c in columns:
        if isinstance(c, str):
            cols.append((c, c, None))
        elif len(c) == 2:
            cols.append((c[0], c[1], None))
        else:
            cols.append((c[0], c[1], c[2]))  # type: ignore[misc]
    cells = [[_fmt(r.get(k), spec) for k, _, spec in cols] for r in rows]
    numeric = [
        all(isinstance(r.get(k), int | float) or r.get(k) is None for r in rows) and bool(rows)
        for k, _, _ in cols
    ]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, (_, h, _) in enumerate(cols)]

    def line(vals: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(vals, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line([h for _, h, _ in cols]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    text = "\n".join(out)
    print(text, file=file if file is not None else sys.stdout)
    return text
