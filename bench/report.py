"""Write ``docs/performance.md`` from a run of the benchmark suite.

``bench/suite.py`` runs the benchmarks one after another and records which result file each
wrote (``bench/results/suite-<stamp>.json``); this module turns those files into one page:
the targets and whether each is met, then one section per workload and phase with its tables
and charts (tsstore against each peer as ratios, exported as PNG through hvplot, bokeh and
Debian's Chromium). Every section says the machine, the versions, the scale and the date of
the run it comes from.

Run::

    python bench/report.py                       # from bench/results/suite-latest.json
    python bench/report.py bench/results/suite-20261127-220000.json --out docs/performance.md
    python bench/report.py --no-charts           # tables only (no browser needed)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DOCS = REPO / "docs"
IMAGES = DOCS / "images"
#: Chromium as Debian installs it (never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

Doc = dict[str, Any]
#: One target of the issue: what, the measured figure, the goal, met (None: no goal).
Target = tuple[str, str, str, bool | None]


# ------------------------------------------------------------------------------ formatting


def fmt(v: Any, digits: int = 3) -> str:
    """A number for a Markdown table: ``-`` for missing, thousands separators for big ones."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        a = abs(v)
        if a >= 1e6:
            return f"{v / 1e6:,.2f} M"
        if a >= 100:
            return f"{v:,.0f}"
        if a >= 10:
            return f"{v:.1f}"
        return f"{v:.{digits}g}"
    return str(v)


def ratio(v: float | None) -> str:
    """A ratio as ``1.23x`` (``-`` when missing)."""
    return "-" if v is None or not math.isfinite(v) else f"{v:.2f}x"


def md_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A Markdown table; cells that are not strings go through :func:`fmt`."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        out.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |")
    return "\n".join(out)


def stamp(doc: Doc, what: str) -> str:
    """The line under a section's title: scale, date, machine and the versions that matter."""
    m = doc.get("machine", {})
    pk = m.get("packages", {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(pk.items()) if v)
    cpu = m.get("cpu", "?")
    return (
        f"*{what}; run {m.get('date', '?')} on {cpu}, {m.get('cores_usable', '?')} cores, "
        f"{m.get('ram_gib', '?')} GiB, Python {m.get('python', '?')}; {versions}.*"
    )


# ---------------------------------------------------------------------------------- charts


class Charts:
    """hvplot charts saved as PNG: rendered by bokeh with inline resources in a headless
    Chromium (requests off ``file:`` are refused), then screenshot."""

    def __init__(self, out_dir: Path, enabled: bool = True) -> None:
        self.out_dir = out_dir
        self.enabled = enabled and Path(CHROMIUM).exists()
        self.why_not = None if self.enabled else f"charts off ({CHROMIUM} missing or --no-charts)"
        self._pending: list[tuple[Any, Path, tuple[int, int]]] = []

    def ratio_map(
        self, rows: list[dict[str, Any]], name: str, title: str, *, x: str = "type"
    ) -> str:
        """A heat map of ``ratio`` (tsstore time / peer time) per ``x`` and ``peer``, each
        cell labelled (``1.4x``), green below 1, red above; returns the Markdown image line
        (empty when charts are off)."""
        if not self.enabled or not rows:
            return ""
        import holoviews as hv
        import numpy as np
        import pandas as pd

        hv.extension("bokeh")
        df = pd.DataFrame(rows)
        df["log2"] = np.log2(df["ratio"])
        df["label"] = [f"{r:.2g}x" for r in df["ratio"]]
        bound = max(1.0, float(df["log2"].abs().max()))
        height = 120 + 28 * df[x].nunique()
        width = 260 + 110 * df["peer"].nunique()
        heat = hv.HeatMap(df, kdims=["peer", x], vdims=["log2", "ratio"]).opts(
            cmap="RdYlGn_r",
            clim=(-bound, bound),
            colorbar=True,
            clabel="log2(tsstore / peer)",
            width=width,
            height=height,
            title=title,
            toolbar=None,
            invert_yaxis=True,
            xaxis="top",
        )
        labels = hv.Labels(df, kdims=["peer", x], vdims="label").opts(
            text_font_size="9pt", text_color="black"
        )
        path = self.out_dir / f"{name}.png"
        self._pending.append((heat * labels, path, (width + 40, height + 60)))
        return f"![{title}](images/{path.name})"

    def value_bars(
        self, rows: list[dict[str, Any]], name: str, title: str, ylabel: str, *, logy: bool
    ) -> str:
        """A bar chart of ``value`` per ``system`` (grouped by ``group``)."""
        if not self.enabled or not rows:
            return ""
        import hvplot.pandas  # noqa: F401
        import pandas as pd

        df = pd.DataFrame(rows)
        width = max(600, 45 * len(df))
        chart = df.hvplot.bar(
            x="group",
            y="value",
            by="system",
            logy=logy,
            rot=45,
            width=width,
            height=380,
            title=title,
            ylabel=ylabel,
            legend="top_left",
        ).opts(toolbar=None)
        path = self.out_dir / f"{name}.png"
        self._pending.append((chart, path, (width + 40, 440)))
        return f"![{title}](images/{path.name})"

    def render(self) -> list[str]:
        """Write every pending chart; returns the paths written."""
        if not self._pending:
            return []
        import holoviews as hv
        from bokeh.resources import INLINE
        from playwright.sync_api import sync_playwright

        hv.extension("bokeh")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for i, (chart, path, (w, h)) in enumerate(self._pending):
                    html = Path(tmp) / f"chart{i}.html"
                    hv.save(chart, html, backend="bokeh", resources=INLINE)
                    page = browser.new_page(viewport={"width": w, "height": h})
                    page.route(
                        "**/*",
                        lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
                    )
                    page.goto(html.as_uri())
                    page.wait_for_selector("canvas", timeout=30_000)
                    time.sleep(0.3)  # the canvas paints after it is attached
                    page.screenshot(path=str(path), full_page=True)
                    page.close()
                    written.append(str(path))
            finally:
                browser.close()
        self._pending.clear()
        return written


# ------------------------------------------------------------------------------- sections


class Page:
    """The page being written: Markdown parts and the summary of targets."""

    def __init__(self, charts: Charts) -> None:
        self.parts: list[str] = []
        self.targets: list[Target] = []
        self.charts = charts

    def add(self, *text: str) -> None:
        self.parts.extend(t for t in text if t)

    def target(self, what: str, measured: str, goal: str, met: bool | None) -> None:
        self.targets.append((what, measured, goal, met))


def section_core(page: Page, doc: Doc, label: str) -> None:
    """Ingest, migration, bytes/point, memory tier, recovery and the scale run (bench_core)."""
    p = doc.get("params", {})
    scale = f"TSBS cpu-only, scale {p.get('scale')} x {p.get('days')} day"
    phases = doc.get("phases", {})
    page.add(f"## Core: ingest, migration, storage ({label})", stamp(doc, scale))
    ing = phases.get("ingest")
    if ing:
        rows = []
        tss = next((r for r in ing["results"] if r["system"] == "tsstore"), None)
        for r in ing["results"]:
            rows.append(
                [
                    r["system"],
                    r.get("mode", ""),
                    r.get("version") or "",
                    r.get("rows_per_s"),
                    ratio(tss["rows_per_s"] / r["rows_per_s"]) if tss and r["rows_per_s"] else "-",
                    f"{r.get('spread', 0):.0%}",
                ]
            )
        page.add(
            f"### Ingest ({ing['rows']:,} rows, median of {ing['rounds']} interleaved rounds)",
            f"Timed: {ing.get('timed', '')}.",
            md_table(rows, ["system", "how", "version", "rows/s", "tsstore / it", "spread"]),
        )
        missing = ing.get("missing_peers") or {}
        if missing:
            page.add("Missing peers: " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
        peers = [r for r in ing["results"] if r["system"] not in ("tsstore", "tsstore-hourly")]
        if tss and peers:
            best = max(peers, key=lambda r: r["rows_per_s"])
            x = tss["rows_per_s"] / best["rows_per_s"]
            page.target(
                f"ingest vs fastest peer ({label})",
                f"{fmt(tss['rows_per_s'])} rows/s = {x:.2f}x {best['system']}",
                ">= 2x",
                x >= 2,
            )
    tiers = phases.get("tiers", {}).get("variants", {})
    if tiers:
        rows = []
        for name, v in tiers.items():
            peers = v.get("peers", {})
            per = {k: d.get("bytes_per_point") for k, d in peers.items()}
            best = min(per.values(), default=None)
            bpp = v.get("magnetic_bytes_per_point")
            rows.append(
                [
                    name,
                    v.get("migration_points_per_s"),
                    bpp,
                    ", ".join(f"{k} {fmt(b)}" for k, b in sorted(per.items())) or "-",
                    ratio(bpp / best) if bpp and best else "-",
                    v.get("memory_vs_raw"),
                ]
            )
            if bpp and best:
                page.target(
                    f"bytes/point, {name} ({label})",
                    f"{bpp:.4f} vs best peer {best:.4f}",
                    "< every peer",
                    bpp < best,
                )
        page.add(
            "### Migration and storage",
            "Bytes per point are all-in: every file of the magnetic tier (chunks, metadata, "
            "icechunk snapshots and manifests) over values stored; peers count every file "
            "they wrote.",
            md_table(
                rows,
                [
                    "data",
                    "migration points/s",
                    "tsstore bytes/point",
                    "peers bytes/point",
                    "tsstore / best",
                    "memory tier / raw",
                ],
            ),
        )
    sr = phases.get("scale_run")
    if sr:
        page.add(
            f"### Scale run: TSBS {sr['scale']} x {sr['days']:g} days",
            md_table(
                [
                    ["rows", sr["rows"]],
                    ["points", sr["points"]],
                    ["write rows/s", sr["ingest_rows_per_s"]],
                    ["write + migrate rows/s", sr["ingest_and_migrate_rows_per_s"]],
                    ["total (s, incl. generation)", sr["total_s"]],
                    ["bytes/point", sr["bytes_per_point"]],
                    ["peak RSS (GiB)", sr["peak_rss_bytes"] / 2**30],
                    ["every row migrated", sr.get("rows_ok")],
                ],
                ["measure", "value"],
            ),
        )
        page.target(
            "scale run 4000 x 3 days completes",
            f"{sr['total_s']:.0f} s, peak RSS {sr['peak_rss_bytes'] / 2**30:.2f} GiB",
            "completes in 24 GiB",
            bool(sr.get("rows_ok")) and sr["peak_rss_bytes"] < 24 * 2**30,
        )


def _query_ratio_rows(
    results: list[dict[str, Any]], tier: str, peers: Iterable[str]
) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        r = {**r, "type": r.get("type", r.get("query"))}
        med = r.get("median_ms", {})
        ours = med.get(f"tsstore-{tier}")
        if ours is None:
            continue
        for peer in peers:
            theirs = med.get(peer)
            if theirs:
                rows.append({"type": r["type"], "peer": peer, "ratio": ours / theirs})
    return rows


def section_queries(
    page: Page,
    doc: Doc,
    label: str,
    *,
    workload: str = "TSBS cpu-only",
    results: list[dict[str, Any]] | None = None,
    scale: str | None = None,
) -> None:
    """Per query type: medians and p95 per system, ratios to the best peer, charts."""
    a = doc.get("args", {})
    if scale is None:
        scale = (
            f"{workload}, scale {a.get('scale')} x {a.get('days')} day, {a.get('windows')} windows"
        )
    if results is None:
        results = doc.get("results", [])
    results = [{**r, "type": r.get("type", r.get("query"))} for r in results]
    systems = list(doc.get("load", {})) or sorted(
        {s for r in results for s in r.get("median_ms", {})},
        key=lambda s: (not s.startswith("tsstore"), s),
    )
    peers = [s for s in systems if not s.startswith("tsstore")]
    measured = {s for r in results for s in r.get("median_ms", {})}
    systems = [s for s in systems if s in measured]
    tiers = [s.removeprefix("tsstore-") for s in systems if s.startswith("tsstore")]
    page.add(f"## Queries: {workload} ({label})", stamp(doc, scale))
    not_run = doc.get("not_run") or []
    if not_run:
        page.add("Not run: " + "; ".join(str(x) for x in not_run))
    mism = doc.get("mismatches") or []
    page.add(
        f"Every result was checked against DuckDB's: {len(mism)} mismatches."
        if not mism
        else f"**{len(mism)} results differ from DuckDB's**: {mism[:5]}"
    )
    header = ["type", *[f"{s} ms" for s in systems]]
    rows = []
    for r in results:
        med, p95v = r.get("median_ms", {}), r.get("p95_ms", {})
        cells = [r["type"]]
        for s in systems:
            m = med.get(s)
            cells.append("-" if m is None else f"{m:.1f} ({p95v.get(s, float('nan')):.1f})")
        rows.append(cells)
    page.add("Median (p95) latency in ms per query type:", md_table(rows, header))
    for tier in tiers:
        if tier.endswith("dask"):
            continue
        worse = []
        rows = []
        for r in results:
            med = r.get("median_ms", {})
            ours = med.get(f"tsstore-{tier}")
            theirs = {p: med[p] for p in peers if med.get(p)}
            if ours is None or not theirs:
                continue
            best = min(theirs, key=theirs.get)
            x = ours / theirs[best]
            rows.append([r["type"], ours, best, theirs[best], ratio(x)])
            if x > 1:
                worse.append(r["type"])
        page.add(
            f"### {tier} tier against the best peer",
            md_table(rows, ["type", f"tsstore-{tier} ms", "best peer", "its ms", "ratio"]),
        )
        page.target(
            f"queries, {tier} tier ({label})",
            f"{len(rows) - len(worse)} of {len(rows)} types at or below the best peer",
            "<= best peer on every type",
            not worse and bool(rows),
        )
        _why_slower(page, doc, tier, worse)
        safe = f"{label}-{tier}".replace(" ", "-").replace("/", "-")
        page.add(
            page.charts.ratio_map(
                _query_ratio_rows(results, tier, peers),
                f"perf-queries-{safe}",
                f"{workload} {label}, {tier} tier: tsstore time / peer time",
            )
        )


#: Stages of ``store.last_query_stats`` as the bench records them, in the order they run.
STAGES: tuple[str, ...] = ("parse", "plan", "scan", "execute", "other")


def _why_slower(page: Page, doc: Doc, tier: str, worse: list[str]) -> None:
    """Where tsstore's time goes on the types it loses: time per stage of each such type
    (``stages`` of the run) and the functions that take the most time in the profiled queries
    (``profiles``), so that each miss comes with the profile that explains it."""
    stages = {r["type"]: r for r in (doc.get("stages") or {}).get(tier, [])}
    rows = []
    for t in worse:
        r = stages.get(t)
        if r is None:
            continue
        ms = {s: r.get(f"{s}_ms") or 0.0 for s in STAGES}
        top = max(ms, key=ms.get)
        fixed = ms["parse"] + ms["plan"] + ms["other"]
        rows.append(
            [
                t,
                r.get("wall_ms"),
                *(ms[s] for s in STAGES),
                fixed,
                f"{top} ({ms[top] / max(r.get('wall_ms') or 1e-9, 1e-9):.0%})",
                f"{r.get('rows_scanned', 0):,}",
            ]
        )
    if not rows:
        return
    page.add(
        f"#### Where the time goes ({tier} tier, types above the best peer)",
        "Median time per stage (`store.last_query_stats`): *parse* is the Timestream SQL "
        "through sqlglot, *plan* the pruning and the translation to DuckDB SQL, *scan* the "
        "read of the tiers into Arrow (for the magnetic tier, Zarr chunks decoded), "
        "*execute* DuckDB's run of the statement and the conversion of its result to pandas, "
        "*other* the rest of the call. *fixed* = parse + plan + other, the cost a query pays "
        "whatever it reads.",
        md_table(
            rows,
            [
                "type",
                "wall ms",
                *(f"{s} ms" for s in STAGES),
                "fixed ms",
                "largest stage",
                "rows scanned",
            ],
        ),
    )
    for prof in (doc.get("profiles") or {}).get(tier, []):
        own = prof.get("top_own") or []
        if not own:
            continue
        top_rows = [
            [f"`{e['where']}`", e.get("calls_per_query"), e.get("own_ms_per_query")]
            for e in own[:8]
        ]
        page.add(
            f"cProfile of `{prof.get('type')}` ({tier} tier, {prof.get('reps')} runs, "
            f"{fmt(prof.get('wall_ms_per_query_profiled'))} ms per query under the profiler), "
            "functions by own time per query (work on other threads, the Zarr event loop's "
            "reads and DuckDB's workers, shows as waits on a lock):",
            md_table(top_rows, ["function", "calls per query", "own ms per query"]),
        )


def section_real(page: Page, doc: Doc, label: str) -> None:
    """The real datasets (bench_real): ingest, migration, bytes per value, queries."""
    a = doc.get("args", {})
    what = f"datasets {', '.join(doc.get('datasets', []))}, {a.get('windows')} windows"
    summary = doc.get("phases", {}).get("summary", {})
    page.add(f"## Real sensor data ({label})", stamp(doc, what))
    page.add(
        "Every value read back from both tiers equals the CSV's, bit for bit: "
        + ("yes." if doc.get("lossless_ok") else "**no**.")
    )
    bpp = summary.get("bytes_per_point", [])
    peers = summary.get("peers", [])
    if bpp:
        rows = []
        for r in bpp:
            theirs = {p: r[p] for p in peers if r.get(p) is not None}
            best = min(theirs, key=theirs.get) if theirs else None
            rows.append(
                [
                    r["dataset"],
                    r.get("raw_bpp"),
                    r.get("tsstore"),
                    *[r.get(p) for p in peers],
                    ratio(r["tsstore"] / theirs[best]) if best else "-",
                ]
            )
            if best and r["dataset"] != "all":
                page.target(
                    f"bytes/point, real floats: {r['dataset']}",
                    f"{r['tsstore']:.2f} vs {best} {theirs[best]:.2f}",
                    "< every peer",
                    r["tsstore"] < theirs[best],
                )
        page.add(
            "### Bytes per value, all-in",
            md_table(rows, ["dataset", "raw", "tsstore", *peers, "tsstore / best"]),
        )
        page.add(
            page.charts.value_bars(
                [
                    {"group": r["dataset"], "system": s, "value": r[s]}
                    for r in bpp
                    for s in ["tsstore", *peers]
                    if r.get(s) is not None
                ],
                "perf-real-bytes",
                "Real sensor data: bytes per value on disk (lower is better)",
                "bytes per value",
                logy=False,
            )
        )
    ing = summary.get("ingest", [])
    if ing:
        page.add(
            "### Ingest (durable) and migration",
            md_table(
                [
                    [
                        r["system"],
                        r.get("mrows", 0) * 1e6,
                        r.get("mpoints", 0) * 1e6,
                        f"{r.get('spread_pct', 0):.0f}%",
                        ratio(r.get("tsstore_x")),
                    ]
                    for r in ing
                ],
                ["system", "rows/s", "values/s", "spread", "its time / tsstore's"],
            ),
        )
    mig = summary.get("migration", [])
    if mig:
        page.add(
            md_table(
                [[r["dataset"], r["points"], r["median_s"], r["mpoints_s"] * 1e6] for r in mig],
                ["dataset", "values", "migration s", "values/s"],
            )
        )
    section_queries(
        page,
        doc,
        label,
        workload="real sensor data",
        results=doc.get("query_results", []),
        scale=what,
    )


def section_iot(page: Page, doc: Doc, label: str) -> None:
    """TSBS iot (bench_iot): ingest in TSBS's batch order, migration, bytes, 13 query types."""
    a = doc.get("args", {})
    what = (
        f"TSBS iot, {a.get('scale')} trucks x {a.get('days')} day, "
        f"{doc.get('rows', 0):,} rows, {a.get('windows')} instances per type"
    )
    page.add(f"## TSBS iot: trucks ({label})", stamp(doc, what))
    sim = doc.get("simulation", {})
    if sim:
        page.add(
            f"Data quality as TSBS simulates it: {sim.get('missing_entries', 0):,} entries "
            f"missing, {sim.get('out_of_order_entries', 0):,} sent out of order, "
            f"{sim.get('late_rows', 0):,} rows late, {sim.get('zeroed_fields', 0):,} with a "
            f"missing field, {sim.get('nil_tags', 0):,} with a nil tag."
        )
    ing = doc.get("ingest", [])
    if ing:
        page.add(
            "### Ingest, migration, bytes per point",
            md_table(
                [
                    [
                        r["system"],
                        r.get("writes"),
                        r.get("rows_per_s"),
                        r.get("write_ms"),
                        None if r.get("mpts_per_s") is None else r["mpts_per_s"] * 1e6,
                        r.get("bytes_per_point"),
                    ]
                    for r in ing
                ],
                ["system", "writes", "rows/s", "ms per write", "migration points/s", "bytes/point"],
            ),
        )
        by = {r["system"]: r for r in ing}
        bulk = by.get("tsstore-bulk")
        peers = [r for r in ing if not r["system"].startswith("tsstore")]
        if bulk and peers:
            best = max(peers, key=lambda r: r["rows_per_s"] or 0)
            x = bulk["rows_per_s"] / best["rows_per_s"]
            page.target(
                f"ingest vs fastest peer, TSBS iot ({label})",
                f"{fmt(bulk['rows_per_s'])} rows/s = {x:.2f}x {best['system']} (whole frames)",
                ">= 2x",
                x >= 2,
            )
        mag = by.get("tsstore-magnetic")
        sizes = {r["system"]: r["bytes_per_point"] for r in peers if r.get("bytes_per_point")}
        if mag and mag.get("bytes_per_point") and sizes:
            best = min(sizes, key=sizes.get)
            page.target(
                f"bytes/point, TSBS iot ({label})",
                f"{mag['bytes_per_point']:.2f} vs {best} {sizes[best]:.2f}",
                "< every peer",
                mag["bytes_per_point"] < sizes[best],
            )
    section_queries(page, doc, label, workload="TSBS iot", scale=what)


def section_mixed(page: Page, doc: Doc, label: str) -> None:
    """Mixed load (bench_mixed): ingest rate and query p95 under contention vs idle."""
    a = doc.get("args", {})
    goal = doc.get("targets", {})
    what = (
        f"TSBS cpu-only, scale {a.get('scale')}, {a.get('rounds')} rounds x "
        f"{a.get('seconds')} s per phase, lifecycle every {a.get('lifecycle_interval')}"
    )
    page.add(f"## Mixed load: queries while ingest runs ({label})", stamp(doc, what))
    systems = doc.get("systems", {})
    rows = []
    for name, sysdoc in systems.items():
        summ = sysdoc.get("summary", {})
        ing = summ.get("ingest", {})
        worst = summ.get("summary", {})
        rows.append(
            [
                name,
                sysdoc.get("description", ""),
                ing.get("idle_rows_s"),
                ing.get("mixed_rows_s"),
                ratio(ing.get("ratio")),
                f"{ratio(worst.get('worst_p95_ratio'))} ({worst.get('worst_type', '-')})",
            ]
        )
    page.add(
        md_table(
            rows,
            [
                "system",
                "how",
                "ingest alone rows/s",
                "under queries",
                "ratio",
                "worst query p95 mixed / alone",
            ],
        )
    )
    for name, sysdoc in systems.items():
        if not name.startswith("tsstore"):
            continue
        summ = sysdoc.get("summary", {})
        qrows = [
            [
                q["type"],
                q.get("idle_median_ms"),
                q.get("idle_p95_ms"),
                q.get("mixed_median_ms"),
                q.get("mixed_p95_ms"),
                ratio(q.get("p95_ratio")),
            ]
            for q in summ.get("queries", [])
        ]
        page.add(
            f"### {name}: query latency alone and under ingest (ms)",
            md_table(
                qrows,
                ["type", "median alone", "p95 alone", "median mixed", "p95 mixed", "p95 ratio"],
            ),
        )
        worst = summ.get("summary", {})
        ing = summ.get("ingest", {})
        if worst and ing:
            ok_p95 = worst.get("worst_p95_ratio", 99) <= goal.get("p95_ratio_max", 2.0)
            ok_rate = ing.get("ratio", 0) >= goal.get("rate_ratio_min", 0.5)
            page.target(
                f"mixed load, {name} ({label})",
                f"p95 x{worst.get('worst_p95_ratio', float('nan')):.2f} "
                f"({worst.get('worst_type')}), ingest x{ing.get('ratio', float('nan')):.2f}",
                "p95 <= 2x idle, ingest >= 0.5x idle",
                ok_p95 and ok_rate,
            )


def section_anomaly(page: Page, doc: Doc, label: str) -> None:
    """Predictive maintenance (bench_anomaly.py): its own tables, and the issue's targets."""
    page.add(f"## Predictive maintenance on labelled data ({label})", doc.get("markdown", ""))
    goals = doc.get("targets", {})
    nab = doc.get("nab") or []
    if nab and "nab_standard" in goals:
        best = max(nab, key=lambda r: r["standard"])
        page.target(
            "NAB standard score",
            f"{best['standard']:.1f} ({best['detector']})",
            f">= {goals['nab_standard']:.0f}",
            best["standard"] >= goals["nab_standard"],
        )
    skab = doc.get("skab") or []
    if skab and "skab_f1" in goals:
        best = max(skab, key=lambda r: r["f1"])
        page.target(
            "SKAB F1",
            f"{best['f1']:.3f} ({best['detector']})",
            f">= {goals['skab_f1']}",
            best["f1"] >= goals["skab_f1"],
        )
    for r in doc.get("cmapss") or []:
        if "cmapss_rmse" in goals:
            page.target(
                "C-MAPSS FD001 RMSE",
                f"{r['rmse']:.2f}",
                f"<= {goals['cmapss_rmse']:.0f}",
                r["rmse"] <= goals["cmapss_rmse"],
            )


SECTIONS: dict[str, Callable[[Page, Doc, str], None]] = {
    "anomaly": section_anomaly,
    "mixed": section_mixed,
    "iot": section_iot,
    "real": section_real,
    "core": section_core,
    "queries": section_queries,
}


# ------------------------------------------------------------------------------------ page


def load_suite(path: Path) -> tuple[Doc, list[tuple[str, str, Doc]]]:
    """The suite's record and, per benchmark run, (benchmark, label, its result document)."""
    suite = json.loads(path.read_text(encoding="utf-8"))
    runs = []
    for run in suite.get("runs", []):
        result = run.get("result_file")
        if not result:
            continue
        file = Path(result) if Path(result).is_absolute() else REPO / result
        if not file.exists():
            continue
        doc = json.loads(file.read_text(encoding="utf-8"))
        runs.append((doc.get("benchmark", run["name"]), run.get("label", run["name"]), doc))
    return suite, runs


def build(suite: Doc, runs: list[tuple[str, str, Doc]], charts: Charts) -> tuple[str, list[Target]]:
    """The Markdown of docs/performance.md, and the targets (what, measured, goal, met)."""
    page = Page(charts)
    for name, label, doc in runs:
        section = SECTIONS.get(name)
        if section is None:
            page.add(f"## {name} ({label})", "(no report section for this benchmark yet)")
            continue
        section(page, doc, label)
    charts.render()
    head = [
        "# Performance",
        "",
        "Generated by `make bench` (`bench/suite.py`, then `bench/report.py`): do not edit by "
        "hand. Every figure below was measured in the run named under its title, with the "
        "peers run on the same data in the same run, interleaved (A B A B), after a warm-up. "
        "Timings on shared machines are noisy: compare the ratios, and the spread.",
        "",
        f"Suite: `{suite.get('size', '?')}` size, started {suite.get('started', '?')}, "
        f"{suite.get('elapsed_s', 0) / 60:.1f} minutes; "
        f"{len([r for r in suite.get('runs', []) if r.get('rc') == 0])} of "
        f"{len(suite.get('runs', []))} benchmark runs succeeded.",
    ]
    failed = [r for r in suite.get("runs", []) if r.get("rc") != 0]
    if failed:
        head.append("")
        head.append(
            "Runs that failed (exit status, see their output): "
            + "; ".join(f"{r.get('label', r['name'])} (rc {r.get('rc')})" for r in failed)
        )
    missing = suite.get("missing_peers") or {}
    if missing:
        head += ["", "Peers missing from this run, with the reason:", ""]
        head += [f"- {k}: {v}" for k, v in sorted(missing.items())]
    targets = md_table(
        [[w, m, g, "-" if met is None else met] for w, m, g, met in page.targets],
        ["target", "measured", "goal", "met"],
    )
    head += ["", "## Targets", "", targets, ""]
    if charts.why_not:
        head += [f"({charts.why_not})", ""]
    return "\n".join(head) + "\n" + "\n\n".join(page.parts) + "\n", page.targets


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("suite", nargs="?", type=Path, default=RESULTS / "suite-latest.json")
    p.add_argument("--out", type=Path, default=DOCS / "performance.md")
    p.add_argument("--images", type=Path, default=IMAGES)
    p.add_argument("--no-charts", action="store_true", help="tables only")
    args = p.parse_args(argv)
    if not args.suite.exists():
        print(f"{args.suite}: no suite run recorded; run `make bench` first", file=sys.stderr)
        return 2
    suite, runs = load_suite(args.suite)
    text, _ = build(suite, runs, Charts(args.images, enabled=not args.no_charts))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(runs)} benchmark runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
