"""The notebooks of ``notebooks/`` and the ``%tsql`` magic, run in a real Jupyter kernel.

Every notebook runs top to bottom with nbclient in a ``python3`` kernel, with the notebooks'
folder as working directory and ``$TSSTORE_PATH`` set to a temporary folder (the kernel
inherits this process's environment). jupyter_client starts a kernelspec whose command is
``python`` with ``sys.executable``, so the kernel is this interpreter (the project's venv); a
cell prepended to each run checks it. Cells that the checks look at carry a tag
(``metadata.tags``).

The magic's own test builds a notebook here: ``%load_ext tsstore``, ``%tsql --connect``, a
``:param`` query, errors (a short ``UsageError`` with the caret, no traceback), and the
kernel's interrupt during a long query, after which the store holds what it held before.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_industrial_iot_monitoring",
    "03_devops_metrics",
    "04_predictive_maintenance",
]
#: Seconds a cell may run.
CELL_TIMEOUT = 180
#: Seconds after a tagged cell starts before the kernel is interrupted.
INTERRUPT_AFTER = 1.0
KERNEL_CHECK = "import sys\nprint(sys.prefix)"
#: A warning raised from a module of tsstore, as Python prints it.
TSSTORE_WARNING = re.compile(r"tsstore/[\w/]+\.py:\d+: \w*Warning")


# ------------------------------------------------------------------------------------ helpers


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def cell_text(cell: Any) -> str:
    """The text a cell showed: its streams, and the plain text of its results and displays."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(parts)


def tagged(nb: Any, tag: str) -> Any:
    """The one cell of ``nb`` tagged ``tag``."""
    cells = [c for c in nb.cells if tag in tags(c)]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def _interrupt(km: Any) -> None:
    result = km.interrupt_kernel()  # a coroutine with nbclient's AsyncKernelManager
    if inspect.isawaitable(result):
        asyncio.run(result)


class Executed:
    """A notebook after its run: the cells (with outputs) and each code cell's execute_reply
    content, by index."""

    def __init__(self, nb: Any) -> None:
        self.nb = nb
        self.replies: dict[int, dict[str, Any]] = {}

    def reply(self, tag: str) -> dict[str, Any]:
        cell = tagged(self.nb, tag)
        return self.replies[self.nb.cells.index(cell)]

    def text(self, tag: str) -> str:
        return cell_text(tagged(self.nb, tag))


def execute(nb: Any, cwd: Path, *, interrupt_tag: str | None = None) -> Executed:
    """Run every cell of ``nb`` in a fresh ``python3`` kernel with working directory ``cwd``.

    A cell that errors fails the run (``CellExecutionError`` with the traceback) unless it is
    tagged ``raises-exception``. The cell tagged ``interrupt_tag`` is interrupted (the
    kernel's stop button) :data:`INTERRUPT_AFTER` seconds after it starts.
    """
    run = Executed(nb)

    def on_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        run.replies[cell_index] = execute_reply["content"]

    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
        on_cell_executed=on_executed,
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            timer = None
            if interrupt_tag is not None and interrupt_tag in tags(cell):
                timer = threading.Timer(INTERRUPT_AFTER, _interrupt, args=(client.km,))
                timer.start()
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            finally:
                if timer is not None:
                    timer.cancel()
                    timer.join()
    return run


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts}


# ------------------------------------------------------------------- the stored notebooks


def test_the_notebooks_are_there_and_stored_without_outputs():
    assert [p.stem for p in NOTEBOOK_FILES] == EXPECTED
    for path in NOTEBOOK_FILES:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3", path.name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, path.name
        for cell in code:
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: a cell is stored with its outputs; clear them before saving:\n"
                f"{cell.source[:200]}"
            )


def _check_quickstart(run: Executed, store: Path) -> None:
    assert store.is_dir(), "the quick start did not open its store at $TSSTORE_PATH"
    assert "quickstart" in run.text("connect") and str(store) in run.text("connect")
    written = run.text("write")
    assert re.search(r"table\.write: \d+ rows", written) and re.search(
        r"df\.ts\.write: \d+ rows", written
    )
    # %%tsql -o quarter_hours, then the variable in Python
    out = run.text("o-variable")
    assert "quarter_hours" in out and re.search(r"\d+ rows", out) and "room" in out
    # a :param query answers for the chosen room only
    assert "kitchen" in run.text("param") and "office" not in run.text("param")
    assert "kernel (DuckDB)" in run.text("explain")
    plot = tagged(run.nb, "plot")
    kinds = {k for out in plot.outputs for k in out.get("data", {})}
    assert kinds & {"application/vnd.holoviews_exec.v0+json", "text/html"}, kinds
    assert "temperature" in run.text("ts-bin")


def _check_iot(run: Executed, store: Path) -> None:
    assert store.is_dir()
    assert "_col0" in run.text("seed-avg")
    columns = run.text("seed-pressure-columns")
    for name in ("device_id", "factory", "time", "temperature", "pressure", "vibration", "energy"):
        assert name in columns, columns
    assert re.search(r"all pressures > 100: True", columns)
    assert "Monitor" in run.text("monitor") or tagged(run.nb, "monitor").outputs
    assert tagged(run.nb, "explorer").outputs
    moved = run.text("lifecycle")
    assert re.search(r"migrated [1-9][\d,]* rows", moved), moved
    summary = run.text("summary")
    rows = {
        k: int(v.replace(",", ""))
        for k, v in re.findall(r"(memory tier|magnetic tier|written):\s+([\d,]+) rows", summary)
    }
    assert rows["memory tier"] > 0 and rows["magnetic tier"] > 0, summary
    assert rows["memory tier"] + rows["magnetic tier"] == rows["written"], summary
    scanned = re.search(r"scanned ([\d,]+) rows from memory and ([\d,]+) from magnetic", summary)
    assert scanned and all(int(g.replace(",", "")) > 0 for g in scanned.groups()), summary


def _check_devops(run: Executed, store: Path) -> None:
    assert store.is_dir()
    assert "hostname" in run.text("lastpoint")
    table = run.text("all-types")
    assert "lastpoint" in table and "double-groupby-all" in table
    same = re.search(r"results equal the benchmark's: (\d+) of (\d+)", run.text("same-as-bench"))
    assert same and same.group(1) == same.group(2) and int(same.group(2)) >= 5, same


def _check_maintenance(run: Executed, store: Path) -> None:
    assert store.is_dir()
    loaded = run.text("load-skab")
    assert re.search(
        r"pumps: 46,\d{3} rows, 42 series \(34 experiments and 8 normal runs\)", loaded
    )
    assert "labelled anomalous" in loaded, loaded
    # the fleet scored in one Dask job, scores and events written back
    detected = run.text("detect")
    job = re.search(r"(\d+) series, ([\d,]+) points scored in (\d+) Dask tasks", detected)
    assert job and int(job.group(1)) == 42 and int(job.group(3)) >= 2, detected
    assert int(job.group(2).replace(",", "")) > 40_000, detected
    found = re.search(r"(\d+) events", detected)
    assert found and int(found.group(1)) >= 20, detected
    assert "maintenance.pumps_anomalies" in detected
    assert "maintenance.pumps_anomaly_events" in detected
    # %%tsql over the events: per experiment, and the longest with their measures
    per_experiment = run.text("alarms-per-experiment")
    assert "experiment" in per_experiment and "alarmed_seconds" in per_experiment
    assert re.search(r"valve|other", per_experiment), per_experiment
    longest = run.text("longest-events")
    assert "measures" in longest and re.search(r"_rms|pressure|temperature|current", longest)
    # the dashboard has the scores, some of them over the threshold
    assert tagged(run.nb, "monitor").outputs
    monitor = re.search(
        r"(\d+) series with scores in the window; (\d+) at or over", run.text("monitor-scores")
    )
    assert monitor and int(monitor.group(1)) >= 5 and int(monitor.group(2)) >= 1, monitor
    chart = tagged(run.nb, "chart")
    kinds = {k for out in chart.outputs for k in out.get("data", {})}
    assert kinds & {"application/vnd.holoviews_exec.v0+json", "text/html"}, kinds
    incremental = run.text("incremental")
    new = re.search(r"(\d+) new points of valve2/3 scored", incremental)
    assert new and int(new.group(1)) == 300, incremental
    assert "equal to a full run's scores: True" in incremental, incremental
    budget = run.text("budget")
    assert "budget: 1 per machine per day" in budget and "preset" in budget, budget
    # C-MAPSS: an RMSE in cycles, written back and queried
    rul = re.search(r"RMSE ([\d.]+) cycles", run.text("rul"))
    assert rul and 0 < float(rul.group(1)) < 20, run.text("rul")
    assert "rul_cycles" in run.text("rul-sql") and "failure_by" in run.text("rul-sql")
    assert "same scores: True" in run.text("skops")
    skab = run.text("skab-evaluate")
    f1 = re.search(r"F1 ([\d.]+)", skab)
    assert f1 and float(f1.group(1)) > 0.7, skab
    assert "the store's alarms give the same counts: True" in skab, skab
    table = run.text("benchmarks")
    assert "SKAB" in table and "C-MAPSS FD001" in table and "Conv-AE 0.78" in table, table
    assert "NAB" in table, table
    took = re.search(r"the notebook ran in ([\d.]+) s", table)
    assert took and float(took.group(1)) < CELL_TIMEOUT, table


CHECKS: dict[str, Callable[[Executed, Path], None]] = {
    "01_quickstart": _check_quickstart,
    "02_industrial_iot_monitoring": _check_iot,
    "03_devops_metrics": _check_devops,
    "04_predictive_maintenance": _check_maintenance,
}


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=[p.stem for p in NOTEBOOK_FILES])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("TSSTORE_PATH", str(store))
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CHECK, metadata={"tags": ["kernel"]}))
    before = files_under(NOTEBOOKS)
    run = execute(nb, NOTEBOOKS)
    # the kernel is this interpreter (the venv), and the notebook left nothing beside itself
    assert run.text("kernel").strip() == sys.prefix
    assert files_under(NOTEBOOKS) == before
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, errors
    # no warning from tsstore's own code either (third-party deprecations are not ours)
    warned = [
        o["text"]
        for o in outputs
        if o.get("name") == "stderr" and TSSTORE_WARNING.search(o["text"])
    ]
    assert not warned, warned
    assert all(r["status"] == "ok" for r in run.replies.values())
    CHECKS[path.stem](run, store)


# --------------------------------------------------------------------- the magic in a kernel

#: Rows of the magic test's table: a self-join of it on ``device`` pairs rows / 2 x rows / 2
#: twice (1.8e9 pairs: several seconds on two cores), long enough to interrupt.
ROWS = 60_000

MAGIC_CELLS: list[tuple[str, list[str]]] = [
    (KERNEL_CHECK, ["kernel"]),
    (
        f"""import os
import numpy as np
import pandas as pd
import tsstore

NOW = pd.Timestamp("2024-05-01 12:00", tz="UTC")
path = os.environ["TSSTORE_PATH"]
n = {ROWS}
frame = pd.DataFrame({{
    "device": np.where(np.arange(n) % 2 == 1, "a", "b"),
    "time": NOW - pd.to_timedelta(np.arange(n), unit="s"),
    "temperature": np.random.default_rng(0).normal(20, 1, n),
}})
with tsstore.connect(path, lifecycle_interval=None, clock=lambda: NOW) as writer:
    db = writer.create_database("iot")
    db.create_table("metrics", memory_retention="7d").write(frame, dimensions=["device"])""",
        [],
    ),
    ("%load_ext tsstore\n%tsql --connect $path --database iot", ["connect"]),
    ("dev = 'a'", []),
    (
        "%%tsql -o counted\nSELECT count(*) AS n FROM metrics WHERE device = :dev",
        ["o-variable"],
    ),
    ('print(counted["n"].tolist() == [int((frame["device"] == dev).sum())])', ["count"]),
    ("dev = \"a' OR '1'='1\"", []),
    ("%%tsql -o injected\nSELECT count(*) AS n FROM metrics WHERE device = :dev", []),
    ('print(injected["n"].tolist())', ["injection"]),
    ("tbl = 'metrics'", []),
    ("%%tsql\nSELECT DISTINCT device FROM {tbl} ORDER BY 1", ["identifier"]),
    ("%%tsql --explain\nSELECT avg(temperature) FROM metrics WHERE time > ago(1h)", ["explain"]),
    ("%%tsql\nSELEC * FROM metrics", ["syntax-error", "raises-exception"]),
    ("%tsql SELECT temperatur FROM metrics", ["column-error", "raises-exception"]),
    (
        "import tsstore.magic\ntsstore.magic.PROGRESS_AFTER_S = 0  # draw a quick query's bar\n"
        "%tsql SELECT count(*) AS n FROM metrics\ntsstore.magic.PROGRESS_AFTER_S = 1.0",
        ["progress"],
    ),
    ("before = %tsql SELECT * FROM metrics ORDER BY device, time", []),
    (
        "%%tsql\nSELECT count(*) AS pairs FROM metrics a JOIN metrics b ON a.device = b.device\n"
        "WHERE a.temperature < b.temperature",
        ["interrupt", "raises-exception"],
    ),
    (
        "after = %tsql SELECT * FROM metrics ORDER BY device, time\n"
        "pd.testing.assert_frame_equal(before, after)\n"
        'print("unchanged:", len(after), "rows")',
        ["unchanged"],
    ),
]


def _short_usage_error(run: Executed, tag: str) -> str:
    reply = run.reply(tag)
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    assert len(reply.get("traceback") or []) <= 1, reply["traceback"]
    outputs = tagged(run.nb, tag).outputs
    assert not [o for o in outputs if o["output_type"] == "error"], "a traceback was shown"
    text = run.text(tag)
    assert text.startswith("UsageError: ") and "Traceback" not in text, text
    assert len(text.strip().splitlines()) <= 6, text
    return text


def test_magic_in_a_real_kernel(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TSSTORE_PATH", str(tmp_path / "store"))
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src, metadata={"tags": t}) for src, t in MAGIC_CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    run = execute(nb, tmp_path, interrupt_tag="interrupt")
    assert run.text("kernel").strip() == sys.prefix
    assert run.text("connect") == ""  # --connect alone shows nothing
    assert tagged(run.nb, "o-variable").outputs == []  # -o assigns instead of showing
    assert run.text("count").strip() == "True"
    assert run.text("injection").strip() == "[0]"  # the quote stayed inside one string value
    identifier = run.text("identifier")
    assert re.findall(r"^\d+\s+(\S+)$", identifier, re.MULTILINE) == ["a", "b"], identifier
    explain = run.text("explain")  # shown as lines, not as a quoted string
    assert "scan iot.metrics" in explain and not explain.startswith(("'", '"')), explain

    syntax = _short_usage_error(run, "syntax-error")
    assert "line 1, column 1" in syntax and "^" in syntax, syntax
    assert "did you mean" in _short_usage_error(run, "column-error")

    # the progress bar is drawn under the cell, as a stream
    bar = "".join(
        o["text"] for o in tagged(run.nb, "progress").outputs if o["output_type"] == "stream"
    )
    assert "100% Completed" in bar, tagged(run.nb, "progress").outputs

    # the stop button: the query ends with an error naming the interrupt. (DuckDB notices it
    # between tasks: at once, or, when the thread that waits for the result is running a long
    # task itself, only at the end of it; so how soon it stops is not checked here.)
    reply = run.reply("interrupt")
    assert reply["status"] == "error", "the long query was not interrupted"
    assert reply["ename"] == "KeyboardInterrupt" or "interrupt" in reply["evalue"].lower(), reply
    # ... and the store holds what it held before (the next cell compares every row)
    assert run.text("unchanged").strip() == f"unchanged: {ROWS} rows"
