"""The benchmark suite: every workload and phase against the peers, one command, one report.

``make bench`` runs ``python bench/suite.py --size default``; ``make bench-quick`` the
``quick`` size (under 5 minutes); ``make bench-full`` adds TSBS's standard scale, 4000 hosts x
3 days. Each benchmark runs as its own process, one after another (nothing else of the suite
competes for the cores), and writes its JSON to ``bench/results/``; the suite records which
file each wrote in ``bench/results/suite-<stamp>.json`` and then regenerates
``docs/performance.md`` and its charts from them (``bench/report.py``).

=============  ==========================================================================
benchmark      what (``bench/README.md`` has each one's details)
=============  ==========================================================================
core           TSBS cpu-only: ingest rows/s, migration points/s, bytes per point, memory
               tier, recovery, and (full) the 4000 x 3 days scale run with its peak RSS
queries        the 15 TSBS cpu-only query types, memory and magnetic tier, median and p95
               of 10 seeded windows, every result checked against DuckDB
iot            TSBS iot (trucks): out-of-order ingest, storage and its 12 query types
real           every series of ../shared/datasets (NAB, SKAB, C-MAPSS): bytes per point on
               real floats, and realistic queries
mixed          queries while ingest runs: query p95 and ingest rate against their idle values
=============  ==========================================================================

A benchmark that fails is reported (its exit status) and the others still run; the exit
status of the suite is then 1.

Run::

    python bench/suite.py --size quick
    python bench/suite.py --size default --only core,queries
    python bench/suite.py --size full --only mixed --update   # one benchmark again, others kept
    python bench/suite.py --report-only            # re-render docs/performance.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import MANIFEST_ENV, RESULTS_DIR, print_table, write_results

BENCH = Path(__file__).resolve().parent
SIZES = ("quick", "default", "full")


@dataclass(frozen=True)
class Step:
    """One benchmark run of the suite."""

    name: str  # the benchmark (its JSON's ``benchmark``)
    label: str  # what distinguishes this run in the report
    script: str
    args: tuple[str, ...] = ()
    sizes: frozenset[str] = field(default_factory=lambda: frozenset(SIZES))


#: In-process peers (pip); the servers (apt, started on 127.0.0.1 by the benchmark).
LIBRARY_PEERS: tuple[str, ...] = ("arcticdb", "duckdb", "chdb")
SERVER_PEERS: tuple[str, ...] = ("victoriametrics", "influxdb", "clickhouse", "postgres")
ALL_INGEST_PEERS: tuple[str, ...] = (*LIBRARY_PEERS, *SERVER_PEERS)
#: Query peers at scale 1000: the libraries (the servers run at scale 100, where their
#: bulk loads take seconds rather than minutes per round).
QUERY_LIBRARIES: tuple[str, ...] = ("duckdb", "pandas", "arcticdb", "chdb")

#: Every run, in order; each size takes the steps that list it.
STEPS: tuple[Step, ...] = (
    Step("core", "quick", "bench_core.py", ("--quick",), frozenset({"quick"})),
    Step("queries", "quick", "bench_queries.py", ("--quick",), frozenset({"quick"})),
    Step("iot", "quick", "bench_iot.py", ("--quick",), frozenset({"quick"})),
    Step("real", "quick", "bench_real.py", ("--quick",), frozenset({"quick"})),
    Step("mixed", "quick", "bench_mixed.py", ("--quick",), frozenset({"quick"})),
    Step("anomaly", "quick", "bench_anomaly.py", ("--quick",), frozenset({"quick"})),
    Step(
        "core",
        "scale 100",
        "bench_core.py",
        ("--scale", "100", "--days", "1", "--rounds", "3", "--peers", ",".join(ALL_INGEST_PEERS)),
        frozenset({"default", "full"}),
    ),
    Step(
        "core",
        "scale 1000",
        "bench_core.py",
        (
            "--scale",
            "1000",
            "--days",
            "1",
            "--rounds",
            "1",
            "--variants",
            "tsbs",
            "--phases",
            "ingest,tiers",
            "--peers",
            ",".join(LIBRARY_PEERS),
        ),
        frozenset({"default", "full"}),
    ),
    Step(
        "core",
        "scale 4000 x 3 days",
        "bench_core.py",
        ("--phases", "none", "--scale-run"),
        frozenset({"full"}),
    ),
    Step(
        "queries",
        "scale 100",
        "bench_queries.py",
        ("--scale", "100", "--days", "1", "--windows", "10"),
        frozenset({"default", "full"}),
    ),
    Step(
        "queries",
        "scale 1000",
        "bench_queries.py",
        ("--scale", "1000", "--days", "1", "--windows", "10", "--peers", ",".join(QUERY_LIBRARIES)),
        frozenset({"default", "full"}),
    ),
    Step("iot", "100 trucks", "bench_iot.py", (), frozenset({"default", "full"})),
    Step("real", "all datasets", "bench_real.py", (), frozenset({"default", "full"})),
    Step("mixed", "scale 100", "bench_mixed.py", (), frozenset({"default", "full"})),
    Step("anomaly", "NAB, SKAB, C-MAPSS", "bench_anomaly.py", (), frozenset({"default", "full"})),
)


def steps_for(size: str, only: set[str] | None) -> list[Step]:
    """The steps of ``size`` (restricted to the benchmarks in ``only``)."""
    return [s for s in STEPS if size in s.sizes and (only is None or s.name in only)]


def run_step(step: Step, python: str) -> dict[str, object]:
    """Run one benchmark as a child process; its exit status, time and result file."""
    with tempfile.NamedTemporaryFile("r", suffix=".manifest", delete=False) as m:
        manifest = m.name
    env = {**os.environ, MANIFEST_ENV: manifest}
    cmd = [python, str(BENCH / step.script), *step.args]
    print(f"\n=== {step.name} ({step.label}): {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    try:
        rc = subprocess.run(cmd, env=env, cwd=BENCH.parent, check=False).returncode
    except KeyboardInterrupt:
        rc = -2
    elapsed = time.perf_counter() - t0
    written = Path(manifest).read_text(encoding="utf-8").split()
    Path(manifest).unlink(missing_ok=True)
    print(f"=== {step.name} ({step.label}): exit {rc} after {elapsed:.0f} s", flush=True)
    return {
        "name": step.name,
        "label": step.label,
        "argv": cmd[1:],
        "rc": rc,
        "elapsed_s": elapsed,
        "result_file": written[-1] if written else None,
    }


def _updated_runs(last: Path, runs: list[dict], names: set[str]) -> list[dict]:
    """The runs of the suite record ``last``, those of the benchmarks ``names`` replaced by
    ``runs`` (the order of ``STEPS`` kept)."""
    kept = [r for r in json.loads(last.read_text())["runs"] if r["name"] not in names]
    order = {s.name: i for i, s in enumerate(STEPS)}
    return sorted(kept + runs, key=lambda r: order.get(r["name"], len(order)))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=SIZES, default="default")
    p.add_argument("--only", default=None, help="comma-separated benchmarks (core,queries,...)")
    p.add_argument("--report-only", action="store_true", help="re-render the last suite run")
    p.add_argument("--no-charts", action="store_true", help="tables only in the report")
    p.add_argument("--no-report", action="store_true", help="do not rewrite docs/performance.md")
    p.add_argument(
        "--update",
        action="store_true",
        help="with --only: keep the other runs of the last suite record (each section of the "
        "report names its own run date)",
    )
    args = p.parse_args(argv)
    if args.update and not args.only:
        p.error("--update needs --only (the benchmarks to run again)")

    import report

    if args.report_only:
        return report.main(["--no-charts"] if args.no_charts else [])
    only = set(args.only.split(",")) if args.only else None
    steps = steps_for(args.size, only)
    if not steps:
        print(f"no benchmark of size {args.size} matches --only {args.only}", file=sys.stderr)
        return 2
    started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    runs = []
    for step in steps:
        runs.append(run_step(step, sys.executable))
        if runs[-1]["rc"] == -2:
            break
    if args.update:
        runs = _updated_runs(RESULTS_DIR / "suite-latest.json", runs, only or set())
    suite = {
        "size": args.size,
        "started": started,
        "elapsed_s": time.perf_counter() - t0,
        "runs": runs,
    }
    path = write_results("suite", suite)
    print(f"\nsuite record: {path}")
    print_table(
        [
            {"benchmark": r["name"], "run": r["label"], "exit": r["rc"], "s": r["elapsed_s"]}
            for r in runs
        ]
    )
    if not args.no_report:
        loaded_suite, loaded = report.load_suite(path)
        charts = report.Charts(report.IMAGES, enabled=not args.no_charts)
        text, targets = report.build(loaded_suite, loaded, charts)
        out = report.DOCS / "performance.md"
        out.write_text(text, encoding="utf-8")
        print(f"\n{out} rewritten. Targets:")
        print_table(
            [
                {"target": w, "measured": m, "goal": g, "met": "-" if met is None else met}
                for w, m, g, met in targets
            ]
        )
    return 0 if all(r["rc"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
