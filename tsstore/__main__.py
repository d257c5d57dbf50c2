"""``python -m tsstore demo``: a day of a simulated factory fleet through both tiers."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import pandas as pd

__all__ = ["main"]


def demo(path: str, *, machines: int = 100, fresh: bool = True) -> int:
    """Write a day of fleet data hour by hour on a simulated clock, run the lifecycle, read back."""
    import tsstore
    from tsstore.simulate import factory_fleet

    if fresh and os.path.isdir(path):
        shutil.rmtree(path)
    start = pd.Timestamp("2024-06-01", tz="UTC")
    now = {"t": start}
    store = tsstore.connect(
        path, clock=lambda: now["t"], lifecycle_interval=None, database="industrial_monitoring_db"
    )
    db = store.create_database("industrial_monitoring_db", exist_ok=True)
    table = db.create_table(
        "machine_metrics", memory_retention="6h", magnetic_retention="3650d", exist_ok=True
    )
    print(
        f"store {store.root}: writing one day of {machines} machines, 10 s interval, "
        "hour by hour on a simulated clock"
    )
    t0 = time.perf_counter()
    rows = 0
    moved = 0
    for h in range(24):
        lo, hi = start + pd.Timedelta(hours=h), start + pd.Timedelta(hours=h + 1)
        now["t"] = hi
        df = factory_fleet(lo, hi, machines=machines, seed=h)
        rows += table.write(df, dimensions=["device_id", "factory"]).records_ingested["Total"]
        for r in store.run_lifecycle():
            moved += r["migrated"]
    elapsed = time.perf_counter() - t0
    d = table.describe()
    print(
        f"ingested {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s incl. "
        f"{moved:,} rows migrated)"
    )
    print(f"memory tier:   {d['memory_rows']:>10,} rows  {d['memory_bytes'] / 1e6:8.1f} MB")
    print(
        f"magnetic tier: {d['magnetic_rows']:>10,} rows  {d['magnetic_bytes'] / 1e6:8.1f} MB  "
        f"({d['magnetic_bytes'] / max(d['magnetic_rows'] * 4, 1):.2f} bytes/value)"
    )
    print(f"watermark {d['watermark']}, {d['series']} series, {d['time_min']} .. {d['time_max']}")
    back = table.read(
        (start + pd.Timedelta(hours=17), start + pd.Timedelta(hours=19)),
        where={"device_id": ["m-0001"]},
    )
    print("read back m-0001 from 17:00 to 19:00 (spans both tiers):")
    print(back.head(3).to_string(index=False))
    print(f"... {len(back)} rows")
    sql = (
        "SELECT factory, count(*) AS readings, avg(temperature) AS mean_temp, "
        "max(temperature) AS max_temp FROM machine_metrics "
        "WHERE time BETWEEN ago(24h) AND now() GROUP BY factory ORDER BY factory"
    )
    print(f"\n{sql}")
    print(store.query(sql).round(2).to_string(index=False))
    store.close()
    return 0


#: Tagged cells of a notebook whose text output ``notebook`` prints as the run's summary.
SUMMARY_TAGS = ("seed-avg", "seed-pressure-columns", "lifecycle", "summary")


def run_notebook(path: str, store_path: str, html: str | None, timeout: int = 600) -> int:
    """Execute a notebook top to bottom in a fresh Jupyter kernel (nbclient) with the store at
    ``store_path`` (``$TSSTORE_PATH`` in the kernel); print its summary cells; export HTML."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    os.environ["TSSTORE_PATH"] = os.path.abspath(store_path)
    folder = os.path.dirname(os.path.abspath(path))
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": folder}}
    )
    started = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        print(f"{path}: a cell failed\n{e}", file=sys.stderr)
        return 1
    print(
        f"{path}: {len(nb.cells)} cells ran in {time.perf_counter() - started:.1f} s "
        f"on the store at {store_path}"
    )
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if not any(t in SUMMARY_TAGS for t in tags):
            continue
        print(f"\n[{', '.join(tags)}]")
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain")
            if text:
                print(text if isinstance(text, str) else "".join(text))
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        os.makedirs(os.path.dirname(os.path.abspath(html)), exist_ok=True)
        with open(html, "w", encoding="utf-8") as f:
            f.write(body)
        print(f"\nexported {html} ({len(body) / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tsstore")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="write a day of a simulated factory fleet and read it back")
    p.add_argument("--path", default=os.environ.get("TSSTORE_PATH", "tsstore-data"))
    p.add_argument("--machines", type=int, default=100)
    n = sub.add_parser("notebook", help="run a notebook headless on a store, print a summary")
    n.add_argument("notebook", help="path of the .ipynb")
    n.add_argument("--path", default=os.environ.get("TSSTORE_PATH", "tsstore-data"))
    n.add_argument("--html", default=None, help="export the executed notebook as HTML here")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.path, machines=args.machines)
    if args.command == "notebook":
        return run_notebook(args.notebook, args.path, args.html)
    return 2


if __name__ == "__main__":
    sys.exit(main())
