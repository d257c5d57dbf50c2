"""Timestream SQL over both tiers: results equal DuckDB's over the same rows."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.errors import QueryError
from tsstore.query.dialect import parse_statement
from tsstore.query.engine import STRING_DTYPE
from tsstore.simulate import factory_fleet
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
DB = "industrial_monitoring_db"


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return factory_fleet(NOW - pd.Timedelta("10h"), NOW, machines=12, interval="30s")


@pytest.fixture(scope="module")
def client(tmp_path_factory, fleet):
    path = tmp_path_factory.mktemp("engine")
    c = tsstore.connect(path, clock=lambda: NOW, database=DB, lifecycle_interval=None)
    db = c.create_database(DB)
    t = db.create_table("machine_metrics", memory_retention="6h")
    t.write(fleet, dimensions=["device_id", "factory"])
    c.run_lifecycle()  # the oldest 4 hours move to the magnetic tier
    assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0
    yield c
    c.close()


def reference(fleet: pd.DataFrame, sql: str) -> pd.DataFrame:
    """The same Timestream SQL run by DuckDB straight over the frame (no tsstore storage)."""
    return duckdb_reference({"machine_metrics": fleet}, sql, NOW)


assert_same = assert_results_equal


QUERIES = [
    # the two seed queries, verbatim
    ("SELECT avg(temperature) FROM machine_metrics WHERE time BETWEEN ago(1h) AND now()", False),
    (
        "SELECT * FROM machine_metrics WHERE pressure > 100 AND time BETWEEN ago(5m) AND now()",
        False,
    ),
    (
        "SELECT device_id, count(*) AS n, max(temperature) AS hot, min(energy) AS low "
        "FROM machine_metrics GROUP BY device_id",
        False,
    ),
    (
        "SELECT factory, bin(time, 15m) AS t, avg(vibration) AS v FROM machine_metrics "
        "WHERE time >= ago(8h) GROUP BY 1, 2 ORDER BY 1, 2",
        True,
    ),
    (
        "SELECT device_id, time, temperature FROM machine_metrics "
        "WHERE device_id IN ('m-0001', 'm-0007') AND time < ago(5h) ORDER BY time DESC LIMIT 20",
        True,
    ),
    (
        "SELECT factory, approx_percentile(temperature, 0.5) AS p50 FROM machine_metrics "
        "WHERE factory = 'f-2' GROUP BY factory",
        False,
    ),
    (
        "WITH hourly AS (SELECT device_id, bin(time, 1h) AS h, max(temperature) AS t "
        "FROM machine_metrics GROUP BY 1, 2) SELECT device_id, count(*) AS hours, avg(t) AS t "
        "FROM hourly GROUP BY device_id HAVING avg(t) > 0",
        False,
    ),
    (
        "SELECT device_id, time, temperature, "
        "lag(temperature) OVER (PARTITION BY device_id ORDER BY time) AS prev "
        "FROM machine_metrics WHERE time BETWEEN ago(6h) - 10m AND ago(6h) + 10m",
        False,
    ),
    (
        "SELECT a.device_id, count(*) AS n FROM machine_metrics a JOIN machine_metrics b "
        "ON a.device_id = b.device_id AND a.time = b.time WHERE a.factory = 'f-1' "
        "GROUP BY a.device_id",
        False,
    ),
    (
        "SELECT device_id, count_if(temperature > 80) AS hot FROM machine_metrics "
        "WHERE device_id IN (SELECT device_id FROM machine_metrics WHERE vibration > 2) "
        "GROUP BY device_id",
        False,
    ),
    (
        "SELECT max_by(device_id, temperature) AS hottest, max(temperature) AS t "
        "FROM machine_metrics WHERE time > ago(2h)",
        False,
    ),
]


@pytest.mark.parametrize(("sql", "ordered"), QUERIES)
def test_queries_equal_duckdb_over_the_same_rows(client, fleet, sql, ordered):
    got = client.query(sql)
    assert_same(got, reference(fleet, sql), ordered=ordered)


def test_time_range_spanning_both_tiers_is_pruned_and_exact(client, fleet):
    sql = "SELECT count(*) AS n FROM machine_metrics WHERE time BETWEEN ago(7h) AND ago(5h)"
    got = client.query(sql)
    lo, hi = NOW - pd.Timedelta("7h"), NOW - pd.Timedelta("5h")
    assert got["n"].tolist() == [int(((fleet.time >= lo) & (fleet.time <= hi)).sum())]
    stats = client.last_query_stats
    assert stats.rows_scanned < len(fleet)  # only the two hours (plus a µs) were scanned
    # the range spans the watermark: rows came from both tiers, and the result says so
    assert stats.rows_scanned_memory > 0 and stats.rows_scanned_magnetic > 0
    assert stats.rows_scanned_memory + stats.rows_scanned_magnetic == stats.rows_scanned
    assert got.attrs["query_stats"] is stats
    plan = client.explain(sql)
    assert "time in [" in plan and "kernel (DuckDB)" in plan


def test_dimension_filters_are_pushed_down(client, fleet):
    client.query("SELECT avg(temperature) FROM machine_metrics WHERE device_id = 'm-0003'")
    scan = client.last_query_stats.scans[0]
    assert scan.where == {"device_id": ["m-0003"]}
    assert scan.measures == ["temperature"]
    assert scan.dimensions == ["device_id"]  # factory is not read
    client.query("SELECT * FROM machine_metrics WHERE device_id = 'm-0003'")
    scan = client.last_query_stats.scans[0]
    assert scan.measures is None and scan.dimensions is None
    assert client.last_query_stats.rows_scanned == (fleet.device_id == "m-0003").sum()


def test_results_carry_utc_timestamps(client):
    df = client.query("SELECT time FROM machine_metrics LIMIT 3")
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"


def test_results_carry_strings_as_str_and_write_back(tmp_path, client, fleet):
    df = client.query(
        "SELECT device_id, factory, measure_name, time, temperature FROM machine_metrics "
        "WHERE time >= ago(1h)"
    )
    # pandas' `str` (Arrow-backed; the default in pandas 3); the missing measure_name is NaN
    assert df["device_id"].dtype == df["measure_name"].dtype == STRING_DTYPE
    assert df["measure_name"].isna().all() and df["device_id"].notna().all()
    # a result is a frame that writes back as it is
    with tsstore.connect(tmp_path, clock=lambda: NOW, lifecycle_interval=None) as c:
        t = c.create_database("copy").create_table("metrics")
        t.write(df.drop(columns="measure_name"), dimensions=["device_id", "factory"])
        back = c.query("SELECT device_id, factory, time, temperature FROM copy.metrics")
    assert_results_equal(back, df.drop(columns="measure_name"), ordered=False)


def test_params_are_bound_as_literals(client, fleet):
    got = client.query(
        "SELECT count(*) AS n FROM machine_metrics WHERE device_id = :d", {"d": "m-0002"}
    )
    assert got["n"].tolist() == [int((fleet.device_id == "m-0002").sum())]
    evil = client.query(
        "SELECT count(*) AS n FROM machine_metrics WHERE device_id = :d",
        {"d": "x' OR '1'='1"},
    )
    assert evil["n"].tolist() == [0]


def test_show_and_describe(client):
    assert client.query("SHOW DATABASES")["Database"].tolist() == [DB]
    assert client.query(f"SHOW TABLES FROM {DB}")["Table"].tolist() == ["machine_metrics"]
    m = client.query(f"SHOW MEASURES FROM {DB}.machine_metrics")
    assert set(m["measure_name"]) == {"temperature", "pressure", "vibration", "energy"}
    d = client.query(f'DESCRIBE "{DB}"."machine_metrics"')
    assert d["Column"].tolist()[:4] == ["device_id", "factory", "measure_name", "time"]


def test_errors_name_the_problem(client):
    with pytest.raises(QueryError, match="did you mean 'machine_metrics'"):
        client.query("SELECT * FROM machine_metric")
    with pytest.raises(QueryError, match="did you mean 'temperature'"):
        client.query("SELECT temprature FROM machine_metrics")
    with pytest.raises(QueryError, match="'devce_id' does not exist; did you mean 'device_id'"):
        client.query(
            "SELECT count(*) FROM machine_metrics a JOIN machine_metrics b "
            "ON a.devce_id = b.device_id"
        )
    with pytest.raises(QueryError, match="line 1, column"):
        client.query("SELECT avg(temperature FROM machine_metrics")
    with pytest.raises(QueryError, match="frobnicate"):
        client.query("SELECT frobnicate(temperature) FROM machine_metrics")


def test_single_measure_records_are_queryable(tmp_path):
    with tsstore.connect(tmp_path, clock=lambda: NOW, database="dev", lifecycle_interval=None) as c:
        t = c.create_database("dev").create_table("cpu")
        ms = str((NOW - pd.Timedelta("1m")).value // 10**6)
        t.write_records(
            [
                {
                    "Dimensions": [{"Name": "host", "Value": "h1"}],
                    "MeasureName": "cpu_user",
                    "MeasureValue": "12.5",
                    "Time": ms,
                },
                {
                    "Dimensions": [{"Name": "host", "Value": "h1"}],
                    "MeasureName": "mem_used",
                    "MeasureValue": "1024",
                    "MeasureValueType": "BIGINT",
                    "Time": ms,
                },
            ]
        )
        got = c.query(
            "SELECT host, measure_name, measure_value::double AS v FROM cpu "
            "WHERE measure_name = 'cpu_user'"
        )
        assert got.to_dict("records") == [{"host": "h1", "measure_name": "cpu_user", "v": 12.5}]
        got = c.query("SELECT sum(measure_value::bigint) AS s FROM cpu")
        assert got["s"].tolist() == [1024]


def test_now_is_bound_once_per_query(tmp_path):
    """Pruning and the kernel see the same now(), even when the clock moves between calls."""
    ticks = iter(range(10**6))

    def clock() -> pd.Timestamp:
        return NOW + pd.Timedelta(seconds=next(ticks))

    with tsstore.connect(tmp_path, clock=clock, database="dev", lifecycle_interval=None) as c:
        t = c.create_database("dev").create_table("cpu")
        t.write(pd.DataFrame({"time": [NOW], "host": ["h1"], "x": [1.0]}), dimensions=["host"])
        c.query("SELECT count(*) FROM cpu WHERE time BETWEEN ago(1h) AND now()")
        stats = c.last_query_stats
        hi = stats.scans[0].time_range[1] - pd.Timedelta(microseconds=1)
        assert hi.strftime("%Y-%m-%d %H:%M:%S") in stats.duckdb_sql
        assert stats.duckdb_sql.count(hi.strftime("%Y-%m-%d %H:%M:%S")) == 2


MEASURES = ["temperature", "pressure", "vibration", "energy"]
DEVICES = [f"m-{i:04d}" for i in range(14)]  # two that do not exist


@st.composite
def queries(draw) -> str:
    """Random queries over the supported grammar: aggregates, groups, bins, pushed-down and
    kernel-only predicates, ORDER BY and LIMIT."""
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
                    f"approx_percentile({m}, 0.9)",
                    f"stddev({m})",
                ]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    keys = draw(
        st.lists(
            st.sampled_from(["device_id", "factory", "bin(time, 15m)", "bin(time, 1h)"]),
            max_size=2,
            unique=True,
        )
    )
    preds = []
    if draw(st.booleans()):
        a, b = sorted(draw(st.lists(st.integers(0, 11 * 60), min_size=2, max_size=2)))
        preds.append(f"time BETWEEN ago({b}m) AND ago({a}m)")
    if draw(st.booleans()):
        op = draw(st.sampled_from([">", ">=", "<", "<="]))
        preds.append(f"time {op} ago({draw(st.integers(0, 11 * 60))}m)")
    if draw(st.booleans()):
        devs = draw(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=4, unique=True))
        if draw(st.booleans()):
            preds.append("device_id IN (" + ", ".join(f"'{d}'" for d in devs) + ")")
        else:  # TSBS's form: an OR of equalities
            preds.append("(" + " OR ".join(f"device_id = '{d}'" for d in devs) + ")")
    if draw(st.booleans()):
        preds.append(f"factory = 'f-{draw(st.integers(0, 4))}'")
    if draw(st.booleans()):
        preds.append(f"{draw(st.sampled_from(MEASURES))} > {draw(st.integers(0, 110))}")
    select = ", ".join(
        [
            *(f"{k} AS k{i}" for i, k in enumerate(keys)),
            *(f"{a} AS a{i}" for i, a in enumerate(aggs)),
        ]
    )
    sql = f"SELECT {select} FROM machine_metrics"
    if preds:
        sql += " WHERE " + " AND ".join(preds)
    if keys:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        sql += " ORDER BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(1, 30))}"
    return sql


@settings(max_examples=120, deadline=None)
@given(sql=queries())
def test_generated_queries_equal_duckdb_over_the_same_rows(client, fleet, sql):
    """Pruning, both tiers and the scan never change a result (differential, generated)."""
    got = client.query(sql)
    assert_same(got, reference(fleet, sql), ordered="ORDER BY" in sql)


def test_query_pages(client, fleet):
    sql = "SELECT device_id, time FROM machine_metrics WHERE device_id = 'm-0004' ORDER BY time"
    pages = list(client.query_pages(sql, max_rows=100))
    whole = client.query(sql)
    assert [len(p.rows) for p in pages[:-1]] == [100] * (len(pages) - 1)
    assert pd.concat([p.rows for p in pages], ignore_index=True).equals(whole)
    assert all(p.next_token for p in pages[:-1]) and pages[-1].next_token is None
    empty = list(client.query_pages("SELECT * FROM machine_metrics WHERE device_id = 'x'"))
    assert len(empty) == 1 and empty[0].rows.empty and empty[0].next_token is None
    with pytest.raises(QueryError, match="max_rows"):
        client.query_pages(sql, max_rows=0)
    with pytest.raises(QueryError, match="line 1, column"):  # raised by the call itself
        client.query_pages("SELECT FROM WHERE")


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("now()", NOW),
        ("ago(1h)", NOW - pd.Timedelta("1h")),
        ("now() - 1d", NOW - pd.Timedelta("1d")),
        ("ago(6h) - 10m", NOW - pd.Timedelta("6h10m")),
        ("from_iso8601_timestamp('2016-01-01T05:00:00Z')", pd.Timestamp("2016-01-01 05:00Z")),
        ("CAST('2024-01-01 00:00:00' AS TIMESTAMP)", pd.Timestamp("2024-01-01", tz="UTC")),
        ("1.5h", None),
        ("temperature", None),
    ],
)
def test_time_constants_are_evaluated_without_the_kernel(expr, want):
    from tsstore.query.engine import _time_constant

    assert _time_constant(parse_statement(f"SELECT {expr}").ast.expressions[0], NOW) == want


def test_or_of_equalities_on_one_dimension_is_pushed_down(client, fleet):
    sql = (
        "SELECT device_id, count(*) AS n FROM machine_metrics "
        "WHERE (device_id = 'm-0001' OR device_id = 'm-0002' OR 'm-0003' = device_id) "
        "GROUP BY device_id"
    )
    got = client.query(sql)
    assert client.last_query_stats.scans[0].where == {"device_id": ["m-0001", "m-0002", "m-0003"]}
    assert_same(got, reference(fleet, sql), ordered=False)
    # an OR across columns is not a restriction of either: nothing is pushed down
    client.query(
        "SELECT count(*) FROM machine_metrics WHERE device_id = 'm-0001' OR factory = 'f-2'"
    )
    assert client.last_query_stats.scans[0].where == {}


def test_lazy_scan_is_a_dask_dataframe_equal_to_the_eager_result(tmp_path):
    now = NOW
    with tsstore.connect(tmp_path, clock=lambda: now, database="iot", lifecycle_interval=None) as c:
        t = c.create_database("iot").create_table("met", memory_retention="6h")
        df = factory_fleet(now - pd.Timedelta("3d"), now, machines=4, interval="60s")
        t.write(df, dimensions=["device_id", "factory"])
        c.run_lifecycle()
        sql = (
            "SELECT device_id, time, temperature FROM met WHERE temperature > 75 AND time > ago(2d)"
        )
        ddf = c.query(sql, lazy=True)
        # one partition per magnetic day partition of the pruned range, plus the memory tier
        # (the pruned range starts a microsecond early: pruning keeps a superset)
        lo = now - pd.Timedelta("2d") - pd.Timedelta("1us")
        days = len(t.magnetic.snapshot().partitions((int(lo.value), None)))
        assert ddf.npartitions == days + 1
        got = ddf.compute(scheduler="threads")
        want = c.query(sql)
        keys = ["device_id", "time"]
        got = got.sort_values(keys).reset_index(drop=True).astype(str)
        want = want.sort_values(keys).reset_index(drop=True).astype(str)
        assert got.equals(want) and len(want) > 0
        # any other query is one partition: its result, computed by the distributed plan
        agg = "SELECT device_id, avg(temperature) AS t FROM met GROUP BY 1 ORDER BY 1"
        lazy = c.query(agg, lazy=True)
        assert lazy.npartitions == 1
        assert_same(lazy.compute(), c.query(agg), ordered=True)


def test_a_table_read_twice_is_scanned_once(client, fleet):
    # a self-join and a subquery in the WHERE read the one scan (a derived table joined on
    # its columns is run first instead: tests/test_derived.py)
    sql = (
        "SELECT a.device_id, a.time, b.temperature FROM machine_metrics a "
        "JOIN machine_metrics b ON a.device_id = b.device_id AND a.time = b.time "
        "WHERE a.temperature > (SELECT avg(temperature) FROM machine_metrics)"
    )
    got = client.query(sql)
    assert len(client.last_query_stats.scans) == 1
    assert client.last_query_stats.rows_scanned == len(fleet)
    assert_same(got, reference(fleet, sql), ordered=False)


def test_show_measures_lists_measure_names_as_timestream_does(tmp_path):
    with tsstore.connect(tmp_path, clock=lambda: NOW, database="dev", lifecycle_interval=None) as c:
        t = c.create_database("dev").create_table("mix")
        ms = str((NOW - pd.Timedelta("1m")).value // 10**6)
        host = [{"Name": "host", "Value": "h1"}]
        t.write_records(
            [
                {"Dimensions": host, "MeasureName": "cpu_user", "MeasureValue": "1.5", "Time": ms},
                {
                    "Dimensions": host,
                    "MeasureName": "mem",
                    "MeasureValue": "7",
                    "MeasureValueType": "BIGINT",
                    "Time": ms,
                },
                {
                    "Dimensions": host,
                    "MeasureName": "metrics",
                    "MeasureValueType": "MULTI",
                    "Time": ms,
                    "MeasureValues": [{"Name": "load", "Value": "0.5", "Type": "DOUBLE"}],
                },
            ]
        )
        t.write(
            pd.DataFrame({"time": [NOW - pd.Timedelta("2m")], "host": ["h2"], "temp": [20.0]}),
            dimensions=["host"],
        )
        got = c.query("SHOW MEASURES FROM dev.mix")
        assert list(zip(got["measure_name"], got["data_type"], strict=True)) == [
            ("cpu_user", "double"),
            ("mem", "bigint"),
            ("metrics", "multi"),
            ("temp", "double"),
        ]
        assert got["dimensions"].tolist()[0] == ["host"]
        assert c.query("SHOW MEASURES FROM dev.mix LIKE 'm%'")["measure_name"].tolist() == [
            "mem",
            "metrics",
        ]


def test_arrays_lambdas_and_unnest(client):
    got = client.query(
        "SELECT filter(ARRAY[1, 2, 3], x -> x > 1) AS f, "
        "transform(ARRAY[1, 2], x -> x * 10) AS t, "
        "reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s) AS r, "
        # Timestream's documented average through reduce with an output function
        "reduce(ARRAY[5, 20, 50], CAST(ROW(0.0, 0) AS ROW(sum DOUBLE, count INTEGER)), "
        "(s, x) -> CAST(ROW(x + s.sum, s.count + 1) AS ROW(sum DOUBLE, count INTEGER)), "
        "s -> IF(s.count = 0, NULL, s.sum / s.count)) AS avg"
    )
    row = got.iloc[0]
    assert list(row["f"]) == [2, 3] and list(row["t"]) == [10, 20]
    assert row["r"] == 6 and row["avg"] == 25.0
    unnested = client.query(
        "SELECT device_id, u.x FROM machine_metrics CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(x) "
        "WHERE device_id = 'm-0001' AND time > ago(1m)"
    )
    assert sorted(set(unnested["x"])) == [1, 2]
    assert len(unnested) % 2 == 0 and len(unnested) > 0


def test_prepared_plans_are_reused_and_invalidated(tmp_path):
    clock = {"t": NOW}
    with tsstore.connect(
        tmp_path, clock=lambda: clock["t"], database="dev", lifecycle_interval=None
    ) as c:
        t = c.create_database("dev").create_table("cpu")
        t.write(pd.DataFrame({"time": [NOW], "host": ["h1"], "x": [1.0]}), dimensions=["host"])
        engine = c._engine
        sql = "SELECT * FROM cpu WHERE host = :h"
        assert list(c.query(sql, {"h": "h1"}).columns) == ["host", "measure_name", "time", "x"]
        assert len(engine._plans) == 1
        c.query(sql, {"h": "h1"})
        assert len(engine._plans) == 1  # the same text and parameters: reused
        assert len(c.query(sql, {"h": "h2"})) == 0  # other parameters: another plan
        assert len(engine._plans) == 2
        # a new measure changes the table's schema: the plan of SELECT * is made again
        t.write(pd.DataFrame({"time": [NOW], "host": ["h1"], "y": [2.0]}), dimensions=["host"])
        assert list(c.query(sql, {"h": "h1"}).columns) == ["host", "measure_name", "time", "x", "y"]
        # a plan that depends on now() is never reused: it follows the clock
        recent = "SELECT count(*) AS n FROM cpu WHERE time > ago(1h)"
        assert c.query(recent)["n"].tolist() == [1]  # one point: y joined x
        clock["t"] = NOW + pd.Timedelta("2h")
        assert c.query(recent)["n"].tolist() == [0]


def test_measure_comparisons_are_pushed_into_both_tiers(client, fleet):
    sql = (
        "SELECT device_id, time, temperature, pressure FROM machine_metrics "
        "WHERE temperature > 80 AND -1.5 < vibration"
    )
    got = client.query(sql)
    stats = client.last_query_stats
    assert [(f.measure, f.op, f.value) for f in stats.scans[0].filters] == [
        ("temperature", ">", 80),
        ("vibration", ">", -1.5),
    ]
    assert stats.rows_scanned == len(got) < len(fleet)  # only passing rows left the tiers
    assert stats.rows_scanned_magnetic > 0 and stats.rows_scanned_memory > 0
    assert_same(got, reference(fleet, sql), ordered=False)


def test_pushed_comparisons_never_pass_nulls(tmp_path):
    with tsstore.connect(tmp_path, clock=lambda: NOW, database="dev", lifecycle_interval=None) as c:
        t = c.create_database("dev").create_table("cpu", memory_retention="2h")
        times = pd.date_range(NOW - pd.Timedelta("4h"), NOW, freq="30min", inclusive="left")
        n = len(times)
        frame = pd.DataFrame(
            {
                "time": times,
                "host": "h1",
                "i": pd.array([None if k % 4 == 0 else k for k in range(n)], dtype="Int64"),
                "x": pd.array([None if k % 2 else float(k) for k in range(n)], dtype="Float64"),
            }
        )
        t.write(frame, dimensions=["host"])
        c.run_lifecycle()
        assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0
        for sql in (
            "SELECT time, i FROM cpu WHERE i < 5",  # the BIGINT null is int64 min: not < 5
            "SELECT time, x FROM cpu WHERE x <= 100",  # the DOUBLE null is NaN
            "SELECT count(*) AS n FROM cpu WHERE i = 4 AND x >= 0",
        ):
            got = c.query(sql)
            want = duckdb_reference({"cpu": frame}, sql, NOW, dimensions=["host"])
            assert_same(got, want, ordered=False)
