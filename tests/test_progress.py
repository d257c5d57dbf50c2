"""Progress bars of queries: single-stage plans count scans and the kernel's percentage,
Dask plans on threads count tasks (a cluster's futures: tests/integration/test_cluster.py)."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

import tsstore
from tsstore.errors import QueryError
from tsstore.query import progress
from tsstore.query.progress import ProgressBar

NOW = pd.Timestamp("2024-06-13 00:00", tz="UTC")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress")
    c = tsstore.connect(path, clock=lambda: NOW, database="iot", lifecycle_interval=None)
    t = c.create_database("iot").create_table("met", memory_retention="2d")
    n = 12_000
    rng = np.random.default_rng(7)
    t.write(
        pd.DataFrame(
            {
                "time": NOW - pd.to_timedelta(np.arange(n) * 60, "s"),
                "device_id": rng.choice(["a", "b"], n),
                "temperature": rng.random(n),
            }
        ),
        dimensions=["device_id"],
    )
    c.run_lifecycle()
    yield c
    c.close()


def shown(out: io.StringIO) -> list[int]:
    return [int(p) for p in re.findall(r"(\d+)% Completed", out.getvalue())]


def test_a_query_draws_its_bar_to_completion(client):
    out = io.StringIO()
    with ProgressBar(minimum=0, out=out) as bar:
        got = client.query("SELECT count(*) AS n FROM met")
    assert got["n"].tolist() == [12_000]
    assert shown(out)[-1] == 100 and out.getvalue().endswith("\n")
    assert bar.last_fraction == 1.0 and bar.last_duration > 0
    assert not progress.active()


def test_quick_queries_draw_nothing():
    out = io.StringIO()
    with ProgressBar(minimum=60, out=out), progress.tracking(1) as advance:
        advance()
    assert out.getvalue() == ""


def test_the_bar_moves_while_the_kernel_runs(client):
    # one table scanned (1 of 2 units), then a self-join that runs for a while in DuckDB
    out = io.StringIO()
    sql = (
        "SELECT count(*) AS n FROM met a JOIN met b ON a.device_id = b.device_id "
        "WHERE a.temperature < b.temperature"
    )
    with ProgressBar(minimum=0, dt=0.005, out=out):
        client.query(sql)
    steps = shown(out)
    assert steps == sorted(steps) and steps[-1] == 100
    assert 50 in steps, steps  # drawn between the scan and the end of the statement


class _Statement:
    """A DuckDB connection as the bar sees it: the running statement's percentage."""

    def __init__(self, percent: float) -> None:
        self.percent = percent

    def query_progress(self) -> float:
        return self.percent


def test_fraction_counts_units_and_the_running_statements_percentage():
    with ProgressBar(minimum=60, out=io.StringIO()) as bar, progress.tracking(4) as advance:
        assert bar.fraction() == 0
        advance()
        assert bar.fraction() == 0.25
        with progress.running(_Statement(40.0)):
            assert bar.fraction() == pytest.approx((1 + 0.4) / 4)
        with progress.running(_Statement(-1.0)):  # DuckDB: no estimate yet
            assert bar.fraction() == 0.25
        advance(3)
        assert bar.fraction() == 1.0
    assert not progress.active()


def test_no_bar_no_bookkeeping():
    assert not progress.active()
    with progress.tracking(3) as advance:
        advance()  # nothing to report to, nothing fails
    with progress.running(_Statement(10.0)):
        pass


def test_a_failing_query_ends_its_bar(client):
    out = io.StringIO()
    with ProgressBar(minimum=0, out=out), pytest.raises(QueryError):
        client.query("SELECT no_such_column FROM met")
    assert out.getvalue().endswith("\n")
    assert not progress.active()


def test_dask_plans_count_their_tasks(client):
    out = io.StringIO()
    with ProgressBar(minimum=0, dt=0.005, out=out):
        got = client.query(
            "SELECT device_id, avg(temperature) AS t FROM met GROUP BY 1 ORDER BY 1",
            distributed=True,
        )
    assert got["device_id"].tolist() == ["a", "b"]
    steps = shown(out)
    assert steps == sorted(steps) and steps[-1] == 100
