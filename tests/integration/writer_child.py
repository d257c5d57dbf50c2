"""A writer process for the crash and concurrency tests (run as a script, not collected).

It writes batch after batch to ``<store>/db1.tbl`` on a simulated clock (batch ``i`` is written
at ``BASE + i * STEP``), prints ``ACK <i>`` after each write returns, and runs the lifecycle every
``--lifecycle-every`` batches, so that migrations commit while it may be killed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

BASE = pd.Timestamp("2024-01-01", tz="UTC")
STEP = pd.Timedelta("20min")
ROWS = 200
DEVICES = 8


def batch(i: int) -> pd.DataFrame:
    """Batch ``i``: ROWS points, unique identities, values that name the batch."""
    t_end = BASE + i * STEP
    times = t_end - pd.to_timedelta(np.arange(ROWS) * 6, unit="s")
    return pd.DataFrame(
        {
            "time": times,
            "device_id": [f"d{j % DEVICES}" for j in range(ROWS)],
            "batch": np.full(ROWS, i, dtype=np.int64),
            "value": np.arange(ROWS, dtype=np.float64) + i * 1000.0,
        }
    )


def main() -> int:
    import tsstore

    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=10**9)
    p.add_argument("--lifecycle-every", type=int, default=3)
    args = p.parse_args()
    now = {"t": BASE + args.start * STEP}
    store = tsstore.connect(args.store, clock=lambda: now["t"], lifecycle_interval=None)
    db = store.create_database("db1", exist_ok=True)
    table = db.create_table("tbl", memory_retention="1h", exist_ok=True)
    print("READY", flush=True)
    for i in range(args.start, args.start + args.count):
        now["t"] = BASE + i * STEP
        table.write(batch(i), dimensions=["device_id"])
        print(f"ACK {i}", flush=True)
        if i % args.lifecycle_every == 0:
            store.run_lifecycle()
            print(f"MIGRATED {i}", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
