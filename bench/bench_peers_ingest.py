"""Quick check of the peers' ingest: TSBS cpu-only, interleaved runs, rows/s and bytes/point.

For each data variant (``tsbs``: int64 fields on an aligned clock, ``float``, ``jitter``), the
frame is generated once; then each peer's ``ingest`` runs ``--rounds`` times interleaved
(A B A B ...), each time into a fresh folder under a temporary directory. Only ``ingest`` is
timed (the peer's durable write of the whole frame); set-up, size accounting and clean-up are
not. Bytes/point is ``bytes_on_disk / (rows * 10 fields)``.

    python bench/bench_peers_ingest.py                      # scale 100 x 1 day
    python bench/bench_peers_ingest.py --peers arcticdb,arcticdb-per-host,duckdb
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from common import machine_info, median, print_table, run_interleaved, write_results
from peers import PEERS, available_peers, missing_peers
from tsbs import FIELDS, VARIANTS, generate_cpu

DEFAULT_PEERS = ("arcticdb", "duckdb")


def _measure_once(
    factory: Callable[[], Any], df: pd.DataFrame, scratch: Path, sink: list[dict[str, Any]]
) -> float:
    """Fresh folder, set-up (untimed), timed ingest, size, close, delete; return seconds."""
    workdir = Path(tempfile.mkdtemp(dir=scratch))
    peer = factory()
    try:
        peer.setup(workdir)
        t0 = time.perf_counter()
        peer.ingest(df)
        dt = time.perf_counter() - t0
        size = peer.bytes_on_disk()
        peer.close()
        size_closed = peer.bytes_on_disk()
        sink.append(
            {
                "seconds": dt,
                "bytes": size,
                "bytes_after_close": size_closed,
                "mode": getattr(peer, "mode", None),
                "version": peer.version,
            }
        )
        return dt
    finally:
        peer.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run(
    scale: int,
    days: float,
    variants: list[str],
    peers: list[str],
    rounds: int,
    seed: int,
    scratch: Path | None,
) -> dict[str, Any]:
    """Run the benchmark and return the JSON-able results."""
    missing = missing_peers(peers)
    for name, reason in missing.items():
        print(f"peer {name} NOT RUN: {reason}", file=sys.stderr)
    factories = available_peers(peers)
    results: list[dict[str, Any]] = []
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-peers-", dir=scratch) as td:
        for variant in variants:
            t0 = time.perf_counter()
            df = generate_cpu(scale, days, seed=seed, variant=variant)  # type: ignore[arg-type]
            gen_s = time.perf_counter() - t0
            n = len(df)
            print(f"{variant}: {n:,} rows generated in {gen_s:.2f} s", file=sys.stderr)
            sinks: dict[str, list[dict[str, Any]]] = {p: [] for p in factories}
            systems = {
                p: partial(_measure_once, f, df, Path(td), sinks[p]) for p, f in factories.items()
            }
            timings = run_interleaved(systems, rounds)
            runs[variant] = sinks
            for p, ts in timings.items():
                sizes = [r["bytes"] for r in sinks[p]]
                sec = median(ts)
                b = median(sizes)
                results.append(
                    {
                        "variant": variant,
                        "peer": p,
                        "mode": sinks[p][0]["mode"],
                        "version": sinks[p][0]["version"],
                        "rows": n,
                        "generate_s": gen_s,
                        "seconds_median": sec,
                        "seconds_all": ts,
                        "rows_per_s_median": n / sec,
                        "mrows_per_s": n / sec / 1e6,
                        "bytes_median": b,
                        "bytes_all": sizes,
                        "bytes_per_point": b / (n * len(FIELDS)),
                    }
                )
            del df
    return {
        "params": {
            "scale": scale,
            "days": days,
            "variants": variants,
            "peers": peers,
            "rounds": rounds,
            "seed": seed,
            "timed": "peer.ingest(df) only: the durable write of the whole frame",
            "bytes": "os.walk of the peer's folder, apparent file sizes, after ingest",
        },
        "missing_peers": missing,
        "results": results,
        "runs": runs,
        "machine": machine_info(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=100)
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument(
        "--peers", default=",".join(DEFAULT_PEERS), help=f"comma list of {', '.join(PEERS)}"
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scratch", type=Path, default=None, help="parent of the temporary folder")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results JSON")
    a = p.parse_args(argv)
    variants = [v for v in a.variants.split(",") if v]
    peers = [x for x in a.peers.split(",") if x]
    payload = run(a.scale, a.days, variants, peers, a.rounds, a.seed, a.scratch)
    print(
        f"\nTSBS cpu-only ingest, scale {a.scale} x {a.days:g} day(s), "
        f"median of {a.rounds} interleaved runs"
    )
    print_table(
        payload["results"],
        [
            ("variant", "variant"),
            ("peer", "peer"),
            ("mode", "mode"),
            ("version", "version"),
            ("rows", "rows"),
            ("seconds_median", "ingest s", ".3f"),
            ("mrows_per_s", "M rows/s", ".2f"),
            ("bytes_median", "bytes"),
            ("bytes_per_point", "bytes/point", ".2f"),
        ],
    )
    if payload["missing_peers"]:
        print("not run: " + "; ".join(f"{k}: {v}" for k, v in payload["missing_peers"].items()))
    if not a.no_write:
        path = write_results("peers_ingest", payload)
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
