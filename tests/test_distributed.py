"""The distributed plan on Dask's threads: results equal DuckDB's over the same rows.

The table spans 12 magnetic day partitions plus the memory tier, so partial aggregates
combine in a tree (fan-in 8), shuffles cut rows into several buckets, and top-k runs per part.
The same plan on a real ``dask.distributed`` cluster with worker processes is tested in
``tests/integration/test_cluster.py``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.query.dialect import parse_statement
from tsstore.query.distributed import FAN_IN
from tsstore.simulate import factory_fleet
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-13 00:00", tz="UTC")


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return factory_fleet(NOW - pd.Timedelta("12d"), NOW, machines=6, interval="10min")


@pytest.fixture(scope="module")
def client(tmp_path_factory, fleet):
    path = tmp_path_factory.mktemp("distributed")
    c = tsstore.connect(path, clock=lambda: NOW, database="iot", lifecycle_interval=None)
    t = c.create_database("iot").create_table(
        "met",
        memory_retention="1d",
        partition_duration="1d",  # 12 day partitions, by design
    )
    t.write(fleet, dimensions=["device_id", "factory"])
    c.run_lifecycle()
    assert len(t.magnetic.snapshot().partitions()) > FAN_IN
    yield c
    c.close()


def check(client, fleet, sql: str, kind: str | None = None) -> None:
    got = client.query(sql, distributed=True)
    stats = client.last_query_stats
    if kind is not None:
        assert stats.distributed.startswith(kind), stats.distributed
    want = duckdb_reference({"met": fleet}, sql, NOW)
    ordered = parse_statement(sql).ast.args.get("order") is not None  # not an OVER's
    assert_results_equal(got, want, ordered=ordered)


CASES = [
    # partial aggregates, combined in a tree
    ("partial", "SELECT count(*) AS n, avg(temperature) AS t FROM met"),
    ("partial", "SELECT avg(temperature) FROM met WHERE time BETWEEN ago(3d) AND now()"),
    ("gather", "SELECT count(*) FROM met WHERE time > now()"),  # no part: one task, one row
    # one part (the memory tier): splitting could only add stages
    ("gather", "SELECT device_id, avg(temperature) AS t FROM met WHERE time > ago(5h) GROUP BY 1"),
    (
        "partial",
        "SELECT device_id, count(*) AS n, sum(energy) AS e, min(pressure) AS lo, "
        "max(pressure) AS hi FROM met GROUP BY device_id",
    ),
    (
        "partial",
        "SELECT factory, bin(time, 1d) AS day, avg(vibration) AS v FROM met "
        "GROUP BY 1, 2 ORDER BY 2 DESC, 1 LIMIT 7",
    ),
    (
        "partial",
        "SELECT device_id, round(avg(temperature), 3) + max(pressure) AS x FROM met "
        "GROUP BY device_id HAVING count(*) > 10 ORDER BY x DESC",
    ),
    (
        "partial",
        "SELECT max_by(device_id, temperature) AS hottest, min_by(time, pressure) AS calm, "
        "count_if(temperature > 80) AS hot, bool_or(vibration > 3) AS shaky FROM met",
    ),
    ("partial", "SELECT device_id, max(temperature) AS t FROM met GROUP BY 1 ORDER BY t LIMIT 2"),
    # aggregates that do not decompose: shuffled on the group keys
    (
        "shuffle",
        "SELECT device_id, approx_percentile(temperature, 0.5) AS p50, stddev(pressure) AS s "
        "FROM met GROUP BY device_id ORDER BY device_id",
    ),
    (
        "shuffle",
        "SELECT factory, count(DISTINCT device_id) AS d, avg(energy) AS e FROM met "
        "WHERE time > ago(5d) GROUP BY factory",
    ),
    # windows partitioned alike: shuffled on the partition keys
    (
        "shuffle",
        "SELECT device_id, time, temperature - lag(temperature) OVER "
        "(PARTITION BY device_id ORDER BY time) AS dt FROM met WHERE time > ago(2d)",
    ),
    (
        "shuffle",
        "SELECT device_id, time, row_number() OVER (PARTITION BY device_id ORDER BY time DESC) "
        "AS rn FROM met ORDER BY time DESC, device_id LIMIT 12",
    ),
    # scans: filtered per part, top-k per part
    ("scan", "SELECT * FROM met WHERE pressure > 100 AND time BETWEEN ago(2d) AND now()"),
    ("scan", "SELECT time, device_id, temperature FROM met ORDER BY temperature DESC LIMIT 5"),
    (  # not by time first: a LIMIT by time reads the newest buckets (tests/test_timelimit.py)
        "scan",
        "SELECT device_id, time FROM met WHERE device_id = 'm-0002' "
        "ORDER BY temperature, time LIMIT 3 OFFSET 4",
    ),
    ("scan", "SELECT DISTINCT factory FROM met ORDER BY factory"),
    # everything else: gathered, then the query runs once
    (
        "gather",
        "WITH h AS (SELECT device_id, bin(time, 1h) AS h, max(temperature) AS t FROM met "
        "GROUP BY 1, 2) SELECT device_id, avg(t) AS t FROM h GROUP BY device_id",
    ),
    (
        "gather",
        "SELECT a.device_id, count(*) AS n FROM met a JOIN met b ON a.device_id = b.device_id "
        "AND a.time = b.time WHERE a.factory = 'f-1' GROUP BY a.device_id",
    ),
    ("gather", "SELECT approx_percentile(temperature, 0.9) AS p90 FROM met"),
    ("gather", "SELECT device_id, time, rank() OVER (ORDER BY temperature) AS r FROM met"),
]


@pytest.mark.parametrize(("kind", "sql"), CASES)
def test_stages_equal_duckdb_over_the_same_rows(client, fleet, kind, sql):
    check(client, fleet, sql, kind)


def test_stats_count_rows_of_both_tiers(client, fleet):
    client.query("SELECT count(*) FROM met", distributed=True)
    stats = client.last_query_stats
    assert stats.rows_scanned == len(fleet)
    assert stats.rows_scanned_magnetic > 0 and stats.rows_scanned_memory > 0
    assert stats.bytes_scanned > 0


def test_explain_shows_the_stages(client):
    text = client.explain("SELECT device_id, avg(temperature) FROM met GROUP BY 1")
    assert "partial" in text
    assert 'SUM("__p0")' in text and 'COUNT(temperature) AS "__p1"' in text  # avg = sum / count


def test_lazy_aggregate_is_one_partition(client, fleet):
    sql = "SELECT factory, max(temperature) AS t FROM met GROUP BY factory ORDER BY factory"
    ddf = client.query(sql, lazy=True)
    assert ddf.npartitions == 1
    assert_results_equal(ddf.compute(), duckdb_reference({"met": fleet}, sql, NOW), ordered=True)


MEASURES = ["temperature", "pressure", "vibration", "energy"]


@st.composite
def queries(draw) -> str:
    """Random grouped queries: decomposable or not, keys, filters, HAVING, ORDER BY, LIMIT."""
    m = draw(st.sampled_from(MEASURES))
    aggs = draw(
        st.lists(
            st.sampled_from(
                [
                    "count(*)",
                    f"avg({m})",
                    f"max({m})",
                    f"min({m})",
                    f"sum({m})",
                    f"count({m})",
                    f"count_if({m} > 50)",
                    f"max_by(device_id, {m})",
                    f"approx_percentile({m}, 0.25)",
                    f"variance({m})",
                ]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    keys = draw(
        st.lists(
            st.sampled_from(["device_id", "factory", "bin(time, 6h)", "bin(time, 1d)"]),
            max_size=2,
            unique=True,
        )
    )
    sql = "SELECT " + ", ".join(
        [
            *(f"{k} AS k{i}" for i, k in enumerate(keys)),
            *(f"{a} AS a{i}" for i, a in enumerate(aggs)),
        ]
    )
    sql += " FROM met"
    if draw(st.booleans()):
        sql += f" WHERE time > ago({draw(st.integers(0, 13 * 24))}h)"
    if keys:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        if draw(st.booleans()):
            sql += " HAVING count(*) > 5"
        sql += " ORDER BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(1, 20))}"
    return sql


@settings(max_examples=60, deadline=None)
@given(sql=queries())
def test_generated_queries_equal_duckdb_over_the_same_rows(client, fleet, sql):
    check(client, fleet, sql)


def test_integer_division_is_the_same_in_every_plan(tmp_path):
    """Trino divides integers as integers; the typing happens before the split, so partial,
    shuffle and gather stages all divide alike."""
    with tsstore.connect(
        tmp_path, clock=lambda: NOW, database="ints_db", lifecycle_interval=None
    ) as c:
        t = c.create_database("ints_db").create_table("ints", memory_retention="1d")
        times = pd.date_range(NOW - pd.Timedelta("10d"), NOW, freq="1h", inclusive="left")
        frame = pd.DataFrame(
            {"time": times, "host": ["a", "b"] * (len(times) // 2), "i": range(len(times))}
        )
        t.write(frame, dimensions=["host"])
        c.run_lifecycle()
        sums = frame.groupby("host")["i"].sum()
        for sql, kind in (
            ("SELECT host, sum(i) / 7 AS q FROM ints GROUP BY host ORDER BY host", "partial"),
            (
                "SELECT host, count(DISTINCT i) / 7 AS q FROM ints GROUP BY host ORDER BY host",
                "shuffle",
            ),
        ):
            got = c.query(sql, distributed=True)
            assert c.last_query_stats.distributed.startswith(kind)
            assert got.equals(c.query(sql, distributed=False))
        got = c.query("SELECT host, sum(i) / 7 AS q FROM ints GROUP BY host ORDER BY host")
        assert got["q"].tolist() == [int(v) // 7 for v in sums]
        assert c.query("SELECT -7 / 2 AS a, 7.0 / 2 AS b").iloc[0].tolist() == [-3, 3.5]


@pytest.mark.parametrize("distributed", [False, True])
def test_stats_and_explain_show_partitions_pruned_and_bytes_per_tier(client, distributed):
    sql = "SELECT device_id, avg(temperature) AS t FROM met WHERE time > ago(3d) GROUP BY 1"
    client.query(sql, distributed=distributed)
    st = client.last_query_stats
    assert 0 < st.partitions_scanned < st.partitions_total  # days outside the range pruned
    assert st.bytes_scanned_memory > 0 and st.bytes_scanned_magnetic > 0
    text = client.explain(sql)
    assert f"{st.partitions_scanned} of {st.partitions_total} partitions" in text
    assert "MB to scan" in text
