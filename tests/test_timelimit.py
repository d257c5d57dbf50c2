"""Newest first: a LIMIT over time buckets reads only the buckets it needs, and the result is
the one a whole scan gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.query.dialect import parse_statement
from tsstore.query.timelimit import GROWTH, TimeLimit, ranges, time_limit
from tsstore.simulate import factory_fleet
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
DB = "industrial_monitoring_db"
COLUMNS = ["device_id", "factory", "time", "temperature", "pressure"]
MINUTE = 60 * 10**9


def _limit(sql: str) -> TimeLimit | None:
    ast = parse_statement(sql).ast
    return time_limit(ast, {"machine_metrics": COLUMNS})


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        (
            "SELECT bin(time, 1m) AS minute, max(temperature) FROM machine_metrics "
            "GROUP BY 1 ORDER BY 1 DESC LIMIT 5",
            TimeLimit("machine_metrics", MINUTE, 5, 5, True),
        ),
        (
            "SELECT bin(time, 15m) AS t, device_id, avg(pressure) FROM machine_metrics "
            "WHERE device_id = 'm-0001' GROUP BY t, device_id HAVING count(*) > 2 "
            "ORDER BY t, device_id LIMIT 3 OFFSET 4",
            TimeLimit("machine_metrics", 15 * MINUTE, 3, 7, False),
        ),
        (
            "SELECT * FROM machine_metrics ORDER BY time DESC LIMIT 10",
            TimeLimit("machine_metrics", 1, 10, 10, True),
        ),
        (
            "SELECT date_trunc('hour', time) AS h, count(*) FROM machine_metrics "
            "GROUP BY date_trunc('hour', time) ORDER BY h DESC LIMIT 2",
            TimeLimit("machine_metrics", 60 * MINUTE, 2, 2, True),
        ),
        # an output name wins over the input column in ORDER BY: the bucket, not raw time
        (
            "SELECT bin(time, 1h) AS time, max(pressure) FROM machine_metrics "
            "GROUP BY 1 ORDER BY time DESC LIMIT 2",
            TimeLimit("machine_metrics", 60 * MINUTE, 2, 2, True),
        ),
    ],
)
def test_limits_over_time_buckets_are_recognised(sql, want):
    assert _limit(sql) == want


@pytest.mark.parametrize(
    "sql",
    [
        # no LIMIT, or not ordered by time first
        "SELECT * FROM machine_metrics ORDER BY time DESC",
        "SELECT * FROM machine_metrics ORDER BY temperature DESC, time LIMIT 3",
        "SELECT device_id, max(time) FROM machine_metrics GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
        # the ORDER BY key is not a group key
        "SELECT bin(time, 1h) AS h, max(time) AS t FROM machine_metrics GROUP BY 1 "
        "ORDER BY t DESC LIMIT 3",
        # one global aggregate, a window, DISTINCT, a subquery, a month (not a fixed width)
        "SELECT max(temperature) FROM machine_metrics ORDER BY max(time) DESC LIMIT 1",
        "SELECT time, avg(temperature) OVER (ORDER BY time) FROM machine_metrics "
        "ORDER BY time DESC LIMIT 3",
        "SELECT DISTINCT time FROM machine_metrics ORDER BY time DESC LIMIT 3",
        "SELECT * FROM machine_metrics WHERE temperature > "
        "(SELECT avg(temperature) FROM machine_metrics) ORDER BY time DESC LIMIT 3",
        "SELECT date_trunc('month', time) AS m, count(*) FROM machine_metrics GROUP BY 1 "
        "ORDER BY 1 DESC LIMIT 3",
        "SELECT * FROM machine_metrics ORDER BY time DESC LIMIT 0",
    ],
)
def test_other_queries_are_not_cut(sql):
    assert _limit(sql) is None


@settings(max_examples=300, deadline=None)
@given(
    width=st.sampled_from([1, 7, MINUTE]),
    rows=st.integers(1, 50),
    newest=st.booleans(),
    tmin=st.integers(-(10**13), 10**13),
    length=st.integers(0, 10**13),
    stored=st.integers(1, 10**6),
    lo=st.none() | st.integers(-(10**13), 2 * 10**13),
    length_q=st.none() | st.integers(1, 10**13),
)
def test_cuts_are_aligned_widen_and_end_with_the_whole_range(
    width, rows, newest, tmin, length, stored, lo, length_q
):
    hi = None if length_q is None else (lo or 0) + length_q
    limit = TimeLimit("t", width, rows, rows, newest)
    tmax = tmin + length
    cuts = list(ranges(limit, lo, hi, tmin, tmax, stored))
    assert cuts[-1] == (lo, hi)
    inner = cuts[:-1]
    for a, b in inner:
        cut = a if newest else b
        assert cut % width == 0  # a bucket boundary: whole groups only
        assert tmin < cut <= tmax + width  # strictly inside the stored extent
        if newest:
            assert b == hi and (lo is None or a > lo)
        else:
            assert a == lo and (hi is None or b < hi)
    edges = [a if newest else b for a, b in inner]
    assert edges == sorted(edges, reverse=newest)  # each round reaches further
    assert len(inner) <= 64 // GROWTH.bit_length() + 2


def test_an_empty_table_runs_the_whole_range():
    limit = TimeLimit("t", MINUTE, 5, 5, True)
    assert list(ranges(limit, None, 10**12, None, None, 0)) == [(None, 10**12)]


# --------------------------------------------------------------------------- on a store
@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    df = factory_fleet(NOW - pd.Timedelta("10h"), NOW, machines=8, interval="30s")
    # gaps: no machine reports between 3 h and 2 h ago; m-0002 stops 5 h ago
    gap = (df.time >= NOW - pd.Timedelta("3h")) & (df.time < NOW - pd.Timedelta("2h"))
    quiet = (df.device_id == "m-0002") & (df.time >= NOW - pd.Timedelta("5h"))
    return df[~gap & ~quiet].reset_index(drop=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory, fleet):
    path = tmp_path_factory.mktemp("timelimit")
    c = tsstore.connect(path, clock=lambda: NOW, database=DB, lifecycle_interval=None)
    t = c.create_database(DB).create_table("machine_metrics", memory_retention="6h")
    t.write(fleet, dimensions=["device_id", "factory"])
    c.run_lifecycle()  # the oldest 4 hours move to the magnetic tier
    assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0
    yield c
    c.close()


@st.composite
def limited_queries(draw) -> str:
    """Queries with a LIMIT over time buckets, each ordered totally (so the first rows are
    one set): bucket or time first, then the other group keys or the device."""
    key = draw(st.sampled_from(["time", "bin(time, 1m)", "bin(time, 15m)", "bin(time, 1h)"]))
    direction = draw(st.sampled_from(["DESC", "ASC"]))
    preds = []
    if draw(st.booleans()):
        preds.append(f"device_id = 'm-{draw(st.integers(0, 9)):04d}'")
    if draw(st.booleans()):
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        preds.append(f"time {op} ago({draw(st.integers(0, 11 * 60))}m)")
    if draw(st.booleans()):
        preds.append(f"temperature > {draw(st.integers(0, 100))}")
    where = (" WHERE " + " AND ".join(preds)) if preds else ""
    limit = f" LIMIT {draw(st.integers(1, 40))}"
    if draw(st.booleans()):
        limit += f" OFFSET {draw(st.integers(0, 20))}"
    if key == "time" or draw(st.booleans()):  # raw rows
        return (
            f"SELECT {key} AS k, device_id, time, temperature FROM machine_metrics{where} "
            f"ORDER BY k {direction}, device_id, time{limit}"
        )
    by_device = draw(st.booleans())
    group = "1, 2" if by_device else "1"
    having = f" HAVING count(*) > {draw(st.integers(0, 60))}" if draw(st.booleans()) else ""
    return (
        f"SELECT {key} AS k, {'device_id' if by_device else 'count(*) AS n'}, "
        f"max(temperature) AS hot FROM machine_metrics{where} GROUP BY {group}{having} "
        f"ORDER BY 1 {direction}, 2{limit}"
    )


@settings(max_examples=80, deadline=None)
@given(sql=limited_queries(), distributed=st.booleans())
def test_cut_results_equal_a_whole_scan(client, fleet, sql, distributed):
    """Differential: the cut plan's rows are DuckDB's over the whole frame, in order."""
    got = client.query(sql, distributed=distributed)
    want = duckdb_reference({"machine_metrics": fleet}, sql, NOW)
    assert_results_equal(got, want, ordered=True)
    assert client.last_query_stats.time_limit_rounds >= 1


def test_the_newest_minutes_are_read_not_the_table(client, fleet):
    sql = (
        "SELECT bin(time, 1m) AS minute, max(temperature) AS hot FROM machine_metrics "
        "GROUP BY 1 ORDER BY 1 DESC LIMIT 5"
    )
    got = client.query(sql)
    stats = client.last_query_stats
    assert stats.time_limit_rounds == 1
    assert stats.rows_scanned < len(fleet) / 20
    (scan,) = stats.scans
    assert scan.time_range[0] >= NOW - pd.Timedelta("10min")
    assert_results_equal(got, duckdb_reference({"machine_metrics": fleet}, sql, NOW), ordered=True)
    assert "time limit: LIMIT 5 over newest buckets" in client.explain(sql)


def test_a_gap_widens_the_cut_until_the_limit_is_met(client, fleet):
    # m-0002 stopped 5 h ago: its newest rows are far behind the table's newest time
    sql = (
        "SELECT time, temperature FROM machine_metrics WHERE device_id = 'm-0002' "
        "ORDER BY time DESC LIMIT 3"
    )
    got = client.query(sql)
    assert client.last_query_stats.time_limit_rounds > 1
    want = fleet[fleet.device_id == "m-0002"].nlargest(3, "time")
    assert got["time"].tolist() == want["time"].tolist()
    # a device with no rows at all: every cut runs, the last is the whole range
    empty = client.query(sql.replace("m-0002", "m-0099"))
    assert empty.empty
    assert client.last_query_stats.scans[0].time_range == (None, None)


def test_time_travel_reads_whole(client, fleet):
    sql = "SELECT time FROM machine_metrics ORDER BY time LIMIT 2"
    got = client.query(sql, as_of=pd.Timestamp.now(tz="UTC"))  # snapshots carry wall time
    assert client.last_query_stats.time_limit_rounds == 0
    # time travel reads the magnetic tier, which holds the oldest rows
    assert got["time"].tolist() == sorted(fleet.time)[:2]


def test_extent_bounds_every_stored_time(client, fleet):
    t = client.database(DB).table("machine_metrics")
    tmin, tmax, rows = t.extent()
    times = fleet.time.astype("int64").to_numpy()
    assert tmin <= times.min() and tmax >= times.max()
    assert rows == len(fleet)
    assert np.all((times >= tmin) & (times <= tmax))
