"""Derived tables run first (dynamic filters) and each series' newest time from metadata:
the plans read a fraction of the table, and every result is the one a whole scan gives."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import tsstore
from tsstore.query.derived import derived_joins
from tsstore.query.dialect import parse_statement
from tsstore.query.latest import newest_only, newest_rows_only
from tsstore.simulate import factory_fleet
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
DB = "industrial_monitoring_db"
KEYS = {"device_id", "factory", "measure_name"}
LASTPOINT = (
    "SELECT c.* FROM machine_metrics c JOIN (SELECT device_id, max(time) AS max_time "
    "FROM machine_metrics GROUP BY device_id) m "
    "ON c.device_id = m.device_id AND c.time = m.max_time ORDER BY c.device_id"
)


def _ast(sql: str):
    return parse_statement(sql).ast


# ----------------------------------------------------------------------------- recognition
def test_a_derived_table_joined_on_its_columns_is_recognised():
    (d,) = derived_joins(_ast(LASTPOINT))
    assert d.alias == "m" and d.cte is None
    assert d.keys == (("c", "device_id", "device_id"), ("c", "time", "max_time"))
    cte = (
        "WITH m AS (SELECT device_id, max(time) AS t FROM machine_metrics GROUP BY 1) "
        "SELECT c.device_id FROM machine_metrics c, m WHERE c.time = m.t"
    )
    assert derived_joins(_ast(cte)) == []  # a comma join has no ON: not recognised
    cte = cte.replace(", m WHERE", " JOIN m ON")
    (d,) = derived_joins(_ast(cte))
    assert d.cte is not None and d.keys == (("c", "time", "t"),)


@pytest.mark.parametrize(
    "sql",
    [
        LASTPOINT.replace("JOIN (", "LEFT JOIN ("),  # an outer join keeps unmatched rows
        LASTPOINT.replace("c.device_id = m.device_id AND c.time = m.max_time", "true"),
        LASTPOINT.replace(
            "FROM machine_metrics GROUP",
            "FROM machine_metrics x WHERE x.device_id = c.device_id GROUP",
        ),  # correlated (lateral)
        # a CTE read twice
        "WITH m AS (SELECT device_id, max(time) AS t FROM machine_metrics GROUP BY 1) "
        "SELECT c.device_id FROM machine_metrics c JOIN m ON c.time = m.t "
        "WHERE c.device_id IN (SELECT device_id FROM m)",
        "SELECT device_id, max(time) FROM machine_metrics GROUP BY 1",
    ],
)
def test_other_joins_are_not_run_first(sql):
    assert derived_joins(_ast(sql)) == []


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        ("SELECT device_id, max(time) AS t FROM machine_metrics GROUP BY device_id", True),
        ("SELECT max(time) FROM machine_metrics", True),
        (
            "SELECT factory, device_id, max(time) AS t FROM machine_metrics "
            "WHERE time > ago(2h) AND device_id IN ('m-0001', 'm-0002') "
            "GROUP BY 1, 2 HAVING max(time) > ago(1h) ORDER BY t DESC",
            True,
        ),
        ("SELECT device_id, max(time) FROM machine_metrics WHERE time < ago(1h) GROUP BY 1", False),
        ("SELECT device_id, min(time) FROM machine_metrics GROUP BY 1", False),
        ("SELECT device_id, max(time), count(*) FROM machine_metrics GROUP BY 1", False),
        ("SELECT device_id, max(time) FROM machine_metrics WHERE pressure > 1 GROUP BY 1", False),
        ("SELECT bin(time, 1h), max(time) FROM machine_metrics GROUP BY 1", False),
        ("SELECT device_id, time FROM machine_metrics", False),
    ],
)
def test_newest_time_queries_are_recognised(sql, want):
    assert newest_only(_ast(sql), KEYS) is want


# ----------------------------------------------------------------------------- on a store
@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    df = factory_fleet(NOW - pd.Timedelta("10h"), NOW, machines=8, interval="30s")
    quiet = (df.device_id == "m-0002") & (df.time >= NOW - pd.Timedelta("5h"))  # stops early
    return df[~quiet].reset_index(drop=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory, fleet):
    path = tmp_path_factory.mktemp("derived")
    c = tsstore.connect(path, clock=lambda: NOW, database=DB, lifecycle_interval=None)
    t = c.create_database(DB).create_table("machine_metrics", memory_retention="6h")
    t.write(fleet, dimensions=["device_id", "factory"])
    c.run_lifecycle()  # the oldest 4 hours move to the magnetic tier: m-0002 ends there
    assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0
    yield c
    c.close()


def test_lastpoint_reads_the_newest_times_and_one_row_per_device(client, fleet):
    got = client.query(LASTPOINT)
    stats = client.last_query_stats
    assert_results_equal(
        got, duckdb_reference({"machine_metrics": fleet}, LASTPOINT, NOW), ordered=True
    )
    assert len(got) == 8
    newest = [s for s in stats.scans if s.newest]
    assert len(newest) == 1 and len(stats.scans) == 2
    # the outer scan is narrowed to the devices and the newest times' range
    (outer,) = [s for s in stats.scans if not s.newest]
    assert outer.time_range[0] == fleet[fleet.device_id == "m-0002"].time.max()
    assert sorted(outer.where["device_id"]) == sorted(fleet.device_id.unique())
    # the newest times (a row per series and tier part) and the rows in their range; a device
    # that went quiet (m-0002, 5 h ago) widens that range to half the table
    in_range = int((fleet.time >= outer.time_range[0]).sum())
    assert stats.rows_scanned <= in_range + 2 * 8 < len(fleet) * 0.6
    text = client.explain(LASTPOINT)
    assert "derived table m" in text and "newest time per series" in text


def test_latest_times_are_each_series_newest_time(client, fleet):
    t = client.database(DB).table("machine_metrics")
    want = fleet.groupby("device_id").time.max()
    got = t.latest_times().to_pandas().set_index("device_id")["time"]
    assert got.sort_index().equals(want.sort_index())
    # a range ending inside the memory run and inside a magnetic segment: metadata cannot
    # tell the newest time before the end, the times are scanned
    lo, hi = NOW - pd.Timedelta("7h"), NOW - pd.Timedelta("1h")
    inside = fleet[(fleet.time >= lo) & (fleet.time < hi)]
    got = t.latest_times((lo, hi), where={"factory": ["f-01"]}).to_pandas()
    want = inside[inside.factory == "f-01"].groupby("device_id").time.max()
    assert got.set_index("device_id")["time"].sort_index().equals(want.sort_index())


def test_latest_times_after_replaced_points(tmp_path, fleet):
    # points written again replace the stored ones: the newest times are unchanged
    with tsstore.connect(tmp_path, clock=lambda: NOW, lifecycle_interval=None) as c:
        t = c.create_database("plant").create_table("metrics")
        small = fleet[fleet.time >= NOW - pd.Timedelta("30min")]
        t.write(small, dimensions=["device_id", "factory"])
        again = small.iloc[:5].assign(temperature=0.0)
        t.write(again, dimensions=["device_id", "factory"])
        got = t.latest_times().to_pandas().set_index("device_id")["time"].sort_index()
        assert got.equals(small.groupby("device_id").time.max().sort_index())


@st.composite
def derived_queries(draw) -> str:
    """Joins of the table with an aggregate of it, in the shapes users write."""
    agg = draw(st.sampled_from(["max(time)", "min(time)", "max(time)"]))
    inner = []
    if draw(st.booleans()):
        inner.append(
            f"time {draw(st.sampled_from(['>', '<', '>=']))} ago({draw(st.integers(0, 600))}m)"
        )
    if draw(st.booleans()):
        inner.append(f"factory = 'f-0{draw(st.integers(0, 3))}'")
    if draw(st.booleans()):
        inner.append(f"temperature > {draw(st.integers(0, 90))}")
    where = (" WHERE " + " AND ".join(inner)) if inner else ""
    by = draw(st.sampled_from(["device_id", "factory"]))
    sub = f"SELECT {by}, {agg} AS t FROM machine_metrics{where} GROUP BY {by}"
    on = draw(
        st.sampled_from([f"c.{by} = m.{by} AND c.time = m.t", "c.time = m.t", f"m.{by} = c.{by}"])
    )
    outer = ""
    if draw(st.booleans()):
        outer = f" WHERE c.pressure > {draw(st.integers(0, 10))}"
    select = draw(st.sampled_from(["c.device_id, c.time, c.temperature", "count(*) AS n"]))
    if draw(st.booleans()):
        return f"WITH m AS ({sub}) SELECT {select} FROM machine_metrics c JOIN m ON {on}{outer}"
    return f"SELECT {select} FROM machine_metrics c JOIN ({sub}) m ON {on}{outer}"


@settings(max_examples=60, deadline=None)
@given(sql=derived_queries(), distributed=st.booleans())
def test_derived_results_equal_a_whole_scan(client, fleet, sql, distributed):
    """Differential: DuckDB over the whole frame gives the same rows."""
    got = client.query(sql, distributed=distributed)
    want = duckdb_reference({"machine_metrics": fleet}, sql, NOW)
    assert_results_equal(got, want, ordered=False)


def test_only_the_joined_table_is_narrowed(client, fleet):
    # a subquery of the WHERE reads another table as "c": its scan is not narrowed
    old = fleet[fleet.time < NOW - pd.Timedelta("9h")]
    other = client.database(DB).create_table("old_metrics")
    other.write(old, dimensions=["device_id", "factory"])
    sql = (
        "SELECT c.device_id, c.time FROM machine_metrics c JOIN (SELECT device_id, max(time) "
        "AS t FROM machine_metrics GROUP BY 1) m ON c.device_id = m.device_id AND c.time = m.t "
        "WHERE c.temperature >= (SELECT min(temperature) FROM old_metrics c)"
    )
    got = client.query(sql)
    want = duckdb_reference({"machine_metrics": fleet, "old_metrics": old}, sql, NOW)
    assert_results_equal(got, want, ordered=False)
    assert len(got) > 0


def test_a_derived_table_with_no_rows_leaves_nothing_to_join(client):
    sql = (
        "SELECT count(*) AS n FROM machine_metrics c JOIN (SELECT device_id, max(time) AS t "
        "FROM machine_metrics WHERE device_id = 'm-0099' GROUP BY 1) m "
        "ON c.device_id = m.device_id AND c.time = m.t"
    )
    assert client.query(sql)["n"].tolist() == [0]
    assert client.last_query_stats.rows_scanned == 0


# ------------------------------------------------------------- each series' newest rows only
LATEST = (
    "SELECT device_id, time, temperature FROM (SELECT device_id, time, temperature, "
    "row_number() OVER (PARTITION BY device_id, factory ORDER BY time DESC) AS rn "
    "FROM machine_metrics{where}) WHERE rn = 1"
)


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        (LATEST.format(where=""), True),
        (LATEST.format(where=" WHERE factory = 'f-01' AND time > ago(3h)"), True),
        (LATEST.format(where="").replace("device_id, factory ORDER", "factory ORDER"), True),
        (LATEST.format(where="").replace("PARTITION BY device_id, factory ", ""), True),
        (LATEST.format(where="").replace("WHERE rn = 1", "WHERE 1 = rn AND temperature > 3"), True),
        (LATEST.format(where=" WHERE temperature > 3"), False),  # a measure's condition
        (LATEST.format(where=" WHERE time < ago(1h)"), False),  # an upper bound
        (LATEST.format(where="").replace("WHERE rn = 1", "WHERE rn <= 2"), False),
        (LATEST.format(where="").replace("WHERE rn = 1", ""), False),
        (LATEST.format(where="").replace("ORDER BY time DESC", "ORDER BY time"), False),
        (LATEST.format(where="").replace("time DESC", "temperature DESC"), False),
        (LATEST.format(where="").replace("row_number()", "rank()"), False),
        (LATEST.format(where="").replace("device_id, factory ORDER", "pressure ORDER"), False),
    ],
)
def test_newest_rows_queries_are_recognised(sql, want):
    ast = _ast(sql)
    inner = [s for s in ast.find_all(exp.Select) if s.find(exp.Window) is not None][-1]
    assert newest_rows_only(inner, KEYS) is want


@pytest.mark.parametrize(
    "where",
    ["", " WHERE device_id <> 'm-0002'", " WHERE factory = 'f-1' AND time > ago(2h)"],
)
def test_newest_rows_read_from_the_series_newest_times(client, fleet, where):
    """The scan starts at the earliest newest time of the series the WHERE keeps: m-0002
    (quiet for 5 h, in the magnetic tier) holds it back unless the WHERE drops it."""
    sql = LATEST.format(where=where)
    got = client.query(sql)
    assert_results_equal(got, duckdb_reference({"machine_metrics": fleet}, sql, NOW), ordered=False)
    assert len(got) == (8 if not where else 7 if "m-0002" in where else 2)
    # the memory tier gives each device's newest row alone, the magnetic tier each
    # segment's last row of each device
    stats = client.last_query_stats
    assert len(got) <= stats.rows_scanned_memory <= 8  # <> is not pushed down
    t = client.database(DB).table("machine_metrics")
    segments = sum(len(p["segments"]) for p in t._latest()._manifest["partitions"].values())
    assert stats.rows_scanned_magnetic <= 8 * segments
    assert "each series' newest rows" in client.explain(sql)


def test_newest_rows_of_a_series_only_in_the_magnetic_tier(tmp_path, fleet):
    """Devices that went quiet before the watermark: the magnetic tier gives each segment's
    last row of each device, the memory tier one row per device."""
    quiet = fleet.device_id == "m-0003"
    data = fleet[~quiet | (fleet.time < NOW - pd.Timedelta("7h"))]
    with tsstore.connect(tmp_path, clock=lambda: NOW, database=DB, lifecycle_interval=None) as c:
        t = c.create_database(DB).create_table("machine_metrics", memory_retention="2h")
        t.write(data, dimensions=["device_id", "factory"])
        c.run_lifecycle()
        sql = LATEST.format(where="")
        got = c.query(sql)
        want = duckdb_reference({"machine_metrics": data}, sql, NOW)
        assert_results_equal(got, want, ordered=False)
        assert len(got) == 8
        stats = c.last_query_stats
        segments = sum(len(p["segments"]) for p in t._latest()._manifest["partitions"].values())
        assert 8 <= stats.rows_scanned_magnetic <= 8 * segments
        # m-0002 (quiet for 5 h) and m-0003 are in the magnetic tier only
        assert (
            stats.rows_scanned_memory
            == data[data.time >= NOW - pd.Timedelta("2h")].device_id.nunique()
            == 6
        )
