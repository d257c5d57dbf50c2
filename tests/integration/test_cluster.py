"""The distributed plan on a real ``dask.distributed`` cluster whose workers are other processes.

Magnetic parts travel to the workers as descriptions (tier URL, snapshot id, range, filters)
and are read there, from local disk and from S3 (moto on 127.0.0.1); memory parts travel as
rows. Results must equal DuckDB's over the same rows.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest

import tsstore
from tsstore.query.dialect import parse_statement
from tsstore.simulate import factory_fleet
from tsstore.testing import assert_results_equal, duckdb_reference

distributed = pytest.importorskip("distributed")

NOW = pd.Timestamp("2024-06-13 00:00", tz="UTC")

QUERIES = [
    "SELECT device_id, count(*) AS n, avg(temperature) AS t, max(pressure) AS p "
    "FROM met GROUP BY device_id ORDER BY device_id",
    "SELECT factory, bin(time, 1d) AS day, approx_percentile(energy, 0.5) AS e FROM met "
    "GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT device_id, time, temperature FROM met WHERE time > ago(3d) "
    "ORDER BY temperature DESC LIMIT 10",
    "SELECT avg(temperature) FROM met WHERE time BETWEEN ago(1h) AND now()",
    "WITH h AS (SELECT device_id, max(vibration) AS v FROM met GROUP BY 1) "
    "SELECT count(*) AS n FROM h WHERE v > 1",
]


def _worker_tiers() -> int:
    from tsstore.storage import parts

    return len(parts._TIERS)


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return factory_fleet(NOW - pd.Timedelta("8d"), NOW, machines=5, interval="15min")


def _load(store: tsstore.Client, fleet: pd.DataFrame) -> None:
    t = store.create_database("iot").create_table("met", memory_retention="1d")
    t.write(fleet, dimensions=["device_id", "factory"])
    store.run_lifecycle()
    assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0


def _check_all(store: tsstore.Client, fleet: pd.DataFrame, client) -> None:
    for sql in QUERIES:
        got = store.query(sql)  # the active client is used without being asked
        stats = store.last_query_stats
        assert stats.distributed, sql
        want = duckdb_reference({"met": fleet}, sql, NOW)
        ordered = parse_statement(sql).ast.args.get("order") is not None
        assert_results_equal(got, want, ordered=ordered)
    # the magnetic parts were opened in the worker processes, not only here
    tiers = client.run(_worker_tiers)
    assert len(tiers) == 2 and sum(tiers.values()) > 0
    assert all(pid != os.getpid() for pid in client.run(os.getpid).values())


def test_queries_on_worker_processes_local_store(cluster, fleet, tmp_path):
    with tsstore.connect(
        tmp_path, clock=lambda: NOW, database="iot", lifecycle_interval=None
    ) as store:
        _load(store, fleet)
        _check_all(store, fleet, cluster)
        lazy = store.query("SELECT device_id, time FROM met WHERE temperature > 80", lazy=True)
        assert lazy.npartitions > 2  # one per magnetic day plus the memory tier
        assert len(lazy.compute()) == int((fleet["temperature"] > 80).sum())


def test_queries_on_worker_processes_s3_store(cluster, fleet, tmp_path, s3_options, s3_bucket):
    url = f"s3://{s3_bucket('cluster')}/{uuid.uuid4().hex}"
    with tsstore.connect(
        url,
        storage_options=s3_options,
        clock=lambda: NOW,
        database="iot",
        lifecycle_interval=None,
        wal_dir=tmp_path / "wal",
    ) as store:
        _load(store, fleet)
        _check_all(store, fleet, cluster)


def test_progress_bar_counts_the_clusters_tasks(cluster, fleet, tmp_path):
    import io
    import re

    from tsstore.query.progress import ProgressBar

    with tsstore.connect(
        tmp_path, clock=lambda: NOW, database="iot", lifecycle_interval=None
    ) as store:
        _load(store, fleet)
        out = io.StringIO()
        with ProgressBar(minimum=0, dt=0.01, out=out) as bar:
            got = store.query(QUERIES[0])
        assert store.last_query_stats.distributed.startswith("partial")
        want = duckdb_reference({"met": fleet}, QUERIES[0], NOW)
        assert_results_equal(got, want, ordered=True)
        shown = [int(p) for p in re.findall(r"(\d+)% Completed", out.getvalue())]
        assert shown[-1] == 100 and shown == sorted(shown), shown
        assert bar.last_fraction == 1.0
        # every future was let go: the cluster holds nothing of the query
        assert not cluster.futures
        held = [key for keys in cluster.has_what().values() for key in keys]
        assert not [key for key in held if "tsstore-" in str(key)], held


def test_detect_scores_the_fleet_on_worker_processes(cluster, fleet, tmp_path):
    """tsstore.anomaly.detect runs one task per group of series on the active cluster, and
    its scores equal those computed here on threads."""
    from tsstore.anomaly import RollingZScore
    from tsstore.anomaly.detect import detect

    with tsstore.connect(tmp_path, clock=lambda: NOW, lifecycle_interval=None) as store:
        _load(store, fleet)
        table = store.table("iot.met")
        with distributed.get_task_stream(cluster) as stream:
            on_cluster = detect(table, RollingZScore(window=20), measures=["temperature"])
        ran = [t for t in stream.data if "_score_group" in str(t["key"])]
        assert len(ran) == on_cluster.tasks
        assert on_cluster.points == len(fleet)
        assert on_cluster.tasks >= 2
        here = detect(
            table, RollingZScore(window=20), measures=["temperature"], write=False, client=False
        )
        key = ["device_id", "time"]
        a = on_cluster.scores.sort_values(key).reset_index(drop=True)
        b = here.scores.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        n = store.query("SELECT count(DISTINCT device_id) AS n FROM iot.met_anomalies")["n"][0]
        assert n == fleet["device_id"].nunique()
