"""Front ends in a real browser: JupyterLab on 127.0.0.1, Playwright, Debian's Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lab_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Kernel,
    jupyterlab,
    open_page,
    run_all,
    write_notebook,
)

pytestmark = pytest.mark.integration

playwright_api = pytest.importorskip("playwright.sync_api")

if not os.path.exists(CHROMIUM):  # .ci/run installs it; say so rather than skip silently
    pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium", pytrace=False)

SETUP = """
import pandas as pd, tsstore
NOW = pd.Timestamp("2024-05-01 12:00", tz="UTC")
store = tsstore.connect("{path}", database="factory", lifecycle_interval=None, clock=lambda: NOW)
t = store.create_database("factory", exist_ok=True).create_table(
    "machine_metrics", memory_retention="1d", exist_ok=True)
times = pd.date_range(NOW - pd.Timedelta("1h"), NOW, freq="1min", inclusive="left")
frames = [pd.DataFrame({{"machine": m, "time": times,
                        "temperature": [20.0 + i + k * 0.1 for k in range(len(times))]}})
          for i, m in enumerate(["m1", "m2", "m3"])]
t.write(pd.concat(frames, ignore_index=True), dimensions=["machine"])
%load_ext tsstore
%tsql --connect store
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    with jupyterlab(root) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_tsql_plot_renders_a_bokeh_chart_offline(lab, browser, tmp_path):
    cells = [
        SETUP.format(path=tmp_path / "store"),
        "%%tsql --plot line -o hourly\n"
        "SELECT bin(time, 5m) AS time, machine, avg(temperature) AS temperature\n"
        "FROM machine_metrics GROUP BY 1, 2 ORDER BY 1, 2",
        "len(hourly)",
    ]
    path = write_notebook(lab, "plot.ipynb", cells)
    page = open_page(browser, lab, path)
    try:
        run_all(page)
        # bokeh draws into a canvas inside the cell's output: the JavaScript came inline
        page.wait_for_selector(".bk-Canvas", timeout=90_000)
        page.wait_for_selector(
            ".jp-OutputArea-output >> text=36", timeout=60_000
        )  # 12 bins x 3 machines
        kernel = Kernel(lab, path)
        try:
            assert kernel.eval("len(hourly)") == 36
            assert kernel.eval("sorted(hourly['machine'].unique())") == ["m1", "m2", "m3"]
        finally:
            kernel.close()
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        assert errors.count() == 0 or "Error" not in errors.all_inner_texts()[0]
        assert lab.blocked == [], f"the page tried to reach the internet: {lab.blocked[:5]}"
    finally:
        page.context.close()


def _caption_rows(page) -> str:
    return page.locator("div.tsstore-caption[data-rows]").first.get_attribute("data-rows")


def test_explorer_controls_rerun_the_query_in_the_browser_and_the_kernel(lab, browser, tmp_path):
    images = Path(__file__).resolve().parents[2] / "docs" / "images"
    cells = [
        SETUP.format(path=tmp_path / "store"),
        "from tsstore.widgets import Explorer, Monitor\n"
        "ex = Explorer(store, database='factory', table='machine_metrics', every='5m')\nex",
        "mon = Monitor('factory.machine_metrics', ['temperature'], store=store, window='1h',\n"
        "              every='5m', autostart=False, thresholds={'temperature': (20.5, 22.5)})\n"
        "mon.refresh()\nmon",
    ]
    path = write_notebook(lab, "explorer.ipynb", cells)
    page = open_page(browser, lab, path)
    kernel = None
    try:
        run_all(page)
        page.wait_for_selector("div.tsstore-caption[data-rows]", timeout=90_000)
        page.wait_for_selector(".tsstore-explorer .bk-Canvas", timeout=90_000)
        kernel = Kernel(lab, path)
        before = _caption_rows(page)
        assert int(before) == kernel.eval("len(ex.data)") > 0

        # a coarser bin: the page re-renders first, then the kernel agrees
        page.locator(".tsstore-every select").select_option("15m")
        page.wait_for_function(
            f"() => document.querySelector('div.tsstore-caption[data-rows]')"
            f".getAttribute('data-rows') !== '{before}'",
            timeout=60_000,
        )
        coarse = _caption_rows(page)
        assert _poll(lambda: kernel.eval("ex.every.value")) == "15m"
        assert _poll(lambda: kernel.eval("len(ex.data)"), until=int(coarse)) == int(coarse)
        assert int(coarse) < int(before)

        # one machine only: fewer rows, and the SQL shown binds it
        page.locator(".tsstore-filter-machine select").select_option(["m1"])
        page.wait_for_function(
            f"() => document.querySelector('div.tsstore-caption[data-rows]')"
            f".getAttribute('data-rows') !== '{coarse}'",
            timeout=60_000,
        )
        one = int(_caption_rows(page))
        assert _poll(lambda: kernel.eval("sorted(ex.data['machine'].unique())")) == ["m1"]
        assert one == kernel.eval("len(ex.data)") and one < int(coarse)
        assert "'m1'" in kernel.eval("ex.sql.value")
        page.locator(".tsstore-explorer").first.screenshot(path=str(images / "explorer.png"))

        # the Monitor: alarms highlighted where the latest value leaves its thresholds
        page.wait_for_selector("table.tsstore-latest", timeout=60_000)
        alarms = page.locator("td.tsstore-alarm").count()
        assert alarms == kernel.eval(
            "int(((mon.latest['temperature'] < 20.5) | (mon.latest['temperature'] > 22.5)).sum())"
        )
        assert alarms > 0
        page.locator(".tsstore-monitor").first.screenshot(path=str(images / "monitor.png"))
        assert lab.blocked == [], f"the page tried to reach the internet: {lab.blocked[:5]}"
    finally:
        if kernel is not None:
            kernel.close()
        page.context.close()


def _poll(get, until=None, timeout: float = 30.0):
    """``get()`` until it returns ``until`` (any value when None) or ``timeout`` passes."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if until is None or value == until or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
