"""Timestream SQL translated to DuckDB, executed in DuckDB against small tables."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from sqlglot import exp

from tsstore.errors import QueryError
from tsstore.query.dialect import Select, bind_params, parse_statement
from tsstore.query.translate import (
    DUCKDB_SESSION_SQL,
    TIME_SERIES_FUNCTIONS,
    joda_to_strftime,
    to_duckdb,
    to_duckdb_sql,
)

UTC = dt.UTC
NOW = pd.Timestamp("2024-03-05 12:30:00.123456789", tz="UTC")
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
TIMES = pd.to_datetime(
    [
        "2024-03-05 12:07:30.123456789",
        "2024-03-05 11:45:00",
        "2024-03-05 12:29:59.999999999",
        "2024-03-04 23:59:59.5",
        "2024-03-05 12:30:00.123456789",  # == NOW
    ],
    utc=True,
    format="ISO8601",
)
ROWS = {
    "time": TIMES,
    "device": ["a", "b", "a", "b", "c"],
    "x": [1.0, 2.0, 3.0, 4.0, 5.0],
    "flag": [True, False, True, True, False],
}


@pytest.fixture(scope="module")
def con():
    """A UTC DuckDB session with the same rows as pandas (TIMESTAMPTZ, microseconds) in ``t``
    and as Arrow (TIMESTAMPTZ_NS, the engine's scans) in ``tns``."""
    con = duckdb.connect()
    con.execute(DUCKDB_SESSION_SQL)
    con.register("t", pd.DataFrame(ROWS))
    arrow = pa.table(
        {
            "time": pa.array(pd.Series(TIMES), type=pa.timestamp("ns", tz="UTC")),
            **{k: v for k, v in ROWS.items() if k != "time"},
        }
    )
    con.register("tns", arrow)
    con.register("nums", pd.DataFrame({"v": range(1, 101)}))
    con.register(
        "mv",
        pd.DataFrame(
            {
                "time": TIMES[:3],
                "measure_name": ["cpu", "cpu", "mem"],
                "measure_value::double": [1.5, 2.5, 99.0],
                "measure_value::bigint": [1, 2, 3],
            }
        ),
    )
    con.execute("CREATE SCHEMA iot")
    con.execute("CREATE TABLE iot.metrics AS SELECT * FROM t")
    yield con
    con.close()


@pytest.fixture(params=["t", "tns"])
def table(request):
    return request.param


def sql_of(sql: str, params: dict | None = None, now: pd.Timestamp = NOW) -> str:
    stmt = parse_statement(sql)
    assert isinstance(stmt, Select)
    tree = stmt.ast if params is None else bind_params(stmt.ast, params)
    return to_duckdb_sql(tree, now=now)


def rows(con, sql: str, params: dict | None = None) -> list[tuple]:
    return con.execute(sql_of(sql, params)).fetchall()


def one(con, sql: str, params: dict | None = None):
    (row,) = rows(con, sql, params)
    (value,) = row
    return value


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# now(), ago(), durations
# --------------------------------------------------------------------------------------------


def test_now_is_one_literal_bound_on_the_client(con):
    assert one(con, "SELECT to_nanoseconds(now())") == NOW.value
    assert rows(con, "SELECT now() = current_timestamp, now() = localtimestamp") == [(True, True)]
    assert one(con, "SELECT current_date") == dt.date(2024, 3, 5)
    assert one(con, "SELECT current_time") == dt.time(12, 30, 0, 123456)
    assert one(con, "SELECT current_timezone()") == "UTC"
    translated = sql_of("SELECT now()")
    assert "CURRENT_TIMESTAMP" not in translated.upper()
    assert "2024-03-05 12:30:00.123456789+00:00" in translated


def test_naive_now_is_utc_and_nat_is_refused():
    tree = parse_statement("SELECT now()").ast
    assert to_duckdb_sql(tree, now=NOW.tz_localize(None)) == to_duckdb_sql(tree, now=NOW)
    paris = NOW.tz_convert("Europe/Paris")
    assert to_duckdb_sql(tree, now=paris) == to_duckdb_sql(tree, now=NOW)
    with pytest.raises(QueryError, match="NaT"):
        to_duckdb_sql(tree, now=pd.NaT)
    with pytest.raises(QueryError, match="not a timestamp"):
        to_duckdb_sql(tree, now="yesterday-ish")


def test_ago_is_relative_to_the_bound_now(con, table):
    assert one(con, "SELECT to_nanoseconds(ago(1h))") == NOW.value - 3_600_000_000_000
    assert one(con, "SELECT ago(1d) = now() - 1d") is True
    assert one(con, f"SELECT count(*) FROM {table} WHERE time > ago(1h)") == 4
    assert one(con, f"SELECT count(*) FROM {table} WHERE time > now() - 15m") == 2
    assert one(con, f"SELECT count(*) FROM {table} WHERE time BETWEEN ago(5m) AND now()") == 2
    assert one(con, f"SELECT count(*) FROM {table} WHERE time BETWEEN now() - 1d AND now()") == 5


@pytest.mark.parametrize(
    ("duration", "ns"),
    [
        ("90s", 90 * 10**9),
        ("1.5h", 5400 * 10**9),
        ("500ms", 500 * 10**6),
        ("10us", 10_000),
        ("50000ns", 50_000),
        ("1d", 86_400 * 10**9),
        ("INTERVAL '1.5' HOUR", 5400 * 10**9),  # DuckDB alone would truncate it to 1h
        ("INTERVAL '2000' NANOSECOND", 2_000),  # DuckDB alone would read 2000 *seconds*
        ("parse_duration('42.8ms')", 42_800_000),
        ("1h + 30m", 5400 * 10**9),
    ],
)
def test_interval_arithmetic(con, duration, ns):
    got = one(
        con,
        f"SELECT to_nanoseconds(time + {duration}) - to_nanoseconds(time) FROM tns "
        "WHERE device = 'c'",
    )
    assert got == ns
    assert one(con, f"SELECT to_nanoseconds({duration})") == ns
    assert one(con, f"SELECT to_nanoseconds(time - ({duration})) FROM tns WHERE device = 'c'") == (
        NOW.value - ns
    )


def test_nanosecond_durations_shift_timestamps_exactly(con):
    # Timestream's documented `ago(50ns)` and `now() + (1h + 50ns)`: DuckDB's intervals are
    # microseconds, so the arithmetic runs on epoch nanoseconds.
    assert "EPOCH_NS" in sql_of("SELECT now() - 50ns")
    got = (
        con.sql(
            to_duckdb_sql(
                parse_statement(
                    "SELECT ago(50ns) AS a, now() + (1h + 50ns) AS b, now() - 1500ns AS c"
                ).ast,
                now=NOW,
            )
        )
        .to_arrow_table()
        .to_pandas()
    )
    ns = pd.Timedelta(1, "ns")
    assert got.iloc[0].tolist() == [
        NOW - 50 * ns,
        NOW + pd.Timedelta("1h") + 50 * ns,
        NOW - 1500 * ns,
    ]


def test_durations_below_a_microsecond_alone_are_refused():
    # nothing to add them to: DuckDB would need an interval
    with pytest.raises(QueryError, match="microsecond resolution"):
        sql_of("SELECT 50ns")
    with pytest.raises(QueryError, match="microsecond resolution"):
        sql_of("SELECT parse_duration('1500ns')")


def test_duckdb_would_misread_nanosecond_intervals(con):
    # Why durations are rewritten: DuckDB reads NANOSECOND as seconds.
    assert con.execute("SELECT INTERVAL '50' NANOSECOND").fetchall() == [
        (dt.timedelta(seconds=50),)
    ]


# --------------------------------------------------------------------------------------------
# bin()
# --------------------------------------------------------------------------------------------


def test_bin_15m(con, table):
    got = rows(con, f"SELECT bin(time, 15m) FROM {table} WHERE device = 'a' ORDER BY time")
    # 12:07:30.123456789 -> 12:00; 12:29:59.999999999 (a nanosecond before 12:30) -> 12:15
    assert got == [(utc(2024, 3, 5, 12, 0),), (utc(2024, 3, 5, 12, 15),)]


def test_bin_group_by(con, table):
    got = rows(
        con,
        f"SELECT bin(time, 1h) AS h, count(*), avg(x) FROM {table} GROUP BY bin(time, 1h) "
        "ORDER BY h",
    )
    assert got == [
        (utc(2024, 3, 4, 23), 1, 4.0),
        (utc(2024, 3, 5, 11), 1, 2.0),
        (utc(2024, 3, 5, 12), 3, 3.0),
    ]


@pytest.mark.parametrize("duration", ["500ms", "90s", "7m", "15m", "1h", "3h", "1d", "7d"])
def test_bins_are_aligned_to_the_epoch(con, duration):
    width = pd.Timedelta(duration)
    got = [r[0] for r in rows(con, f"SELECT to_nanoseconds(bin(time, {duration})) FROM tns")]
    expected = [(EPOCH + ((ts - EPOCH) // width) * width).value for ts in TIMES]
    assert got == expected


def test_bins_floor_times_before_the_epoch(con):
    got = one(con, "SELECT bin(from_iso8601_timestamp('1969-12-31T23:59:59.5Z'), 1h)")
    assert got == utc(1969, 12, 31, 23)


def test_seven_day_bins_start_on_thursdays_like_the_epoch(con):
    got = one(con, "SELECT bin(time, 7d) FROM t WHERE device = 'c'")
    assert got == utc(2024, 2, 29)  # a Thursday, as 1970-01-01 was
    # DuckDB's own default origin (2000-01-03, a Monday) would give 2024-03-04.
    default = "SELECT time_bucket(INTERVAL '7' DAY, time) FROM t WHERE device = 'c'"
    assert con.execute(default).fetchall() == [(utc(2024, 3, 4),)]


# --------------------------------------------------------------------------------------------
# Date and time functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("date_trunc('hour', time)", utc(2024, 3, 5, 12)),
        ("date_trunc('day', time)", utc(2024, 3, 5)),
        ("date_trunc('month', time)", utc(2024, 3, 1)),
        ("date_trunc('minute', time)", utc(2024, 3, 5, 12, 7)),
        ("date_add('hour', 2, time)", utc(2024, 3, 5, 14, 7, 30, 123456)),
        ("date_add('day', -1, time)", utc(2024, 3, 4, 12, 7, 30, 123456)),
        ("date_add('millisecond', 500, time)", utc(2024, 3, 5, 12, 7, 30, 623456)),
        ("date_add('minute', CAST(x AS bigint), time)", utc(2024, 3, 5, 12, 8, 30, 123456)),
        ("extract(hour FROM time)", 12),
        ("extract(minute FROM time)", 7),
        ("extract(year FROM time)", 2024),
        ("extract(day_of_week FROM time)", 2),
        ("extract(dow FROM time)", 2),
        ("extract(day_of_year FROM time)", 65),
        ("extract(doy FROM time)", 65),
        ("extract(year_of_week FROM time)", 2024),
        ("extract(week FROM time)", 10),
        ("extract(quarter FROM time)", 1),
        ("extract(second FROM time)", 30),
        ("hour(time)", 12),
        ("minute(time)", 7),
        ("second(time)", 30),
        ("millisecond(time)", 123),  # DuckDB's own would say 30123
        ("day(time)", 5),
        ("day_of_month(time)", 5),
        ("month(time)", 3),
        ("year(time)", 2024),
        ("quarter(time)", 1),
        ("day_of_week(time)", 2),  # Tuesday, ISO numbering
        ("dow(time)", 2),
        ("day_of_year(time)", 65),
        ("doy(time)", 65),
        ("week(time)", 10),
        ("week_of_year(time)", 10),
        ("year_of_week(time)", 2024),
        ("yow(time)", 2024),
        ("last_day_of_month(time)", dt.date(2024, 3, 31)),
        ("date(time)", dt.date(2024, 3, 5)),
        ("to_milliseconds(time)", 1_709_640_450_123),
        ("to_unixtime(time)", pytest.approx(1_709_640_450.123456, abs=1e-6)),
        ("format_datetime(time, 'yyyy-MM-dd HH:mm:ss')", "2024-03-05 12:07:30"),
        ("format_datetime(time, 'yyyy-MM-dd''T''HH:mm:ss.SSS')", "2024-03-05T12:07:30.123"),
        ("format_datetime(time, 'EEE, d MMM yyyy hh:mm a')", "Tue, 5 Mar 2024 12:07 PM"),
        ("format_datetime(time, 'EEEE MMMM D ''''yy Z')", "Tuesday March 65 '24 +0000"),
        ("date_format(time, '%Y-%m-%d %H:%i:%s')", "2024-03-05 12:07:30"),
    ],
)
def test_time_functions(con, table, expr, expected):
    assert one(con, f"SELECT {expr} FROM {table} WHERE device = 'a' AND x = 1") == expected


def test_nanosecond_functions_keep_nanoseconds(con):
    where = "FROM tns WHERE device = 'a' AND x = 1"
    assert one(con, f"SELECT to_nanoseconds(time) {where}") == TIMES[0].value
    assert one(con, f"SELECT format_datetime(time, 'ss.SSSSSSSSS') {where}") == "30.123456789"
    assert one(con, f"SELECT format_datetime(time, 'ss.SSSSSS') {where}") == "30.123456"
    assert one(con, f"SELECT to_iso8601(time) {where}") == "2024-03-05T12:07:30.123456789Z"
    assert one(con, f"SELECT time = from_nanoseconds({TIMES[0].value}) {where}") is True
    assert (
        one(con, f"SELECT time = from_iso8601_timestamp('2024-03-05T12:07:30.123456789Z') {where}")
        is True
    )
    assert (
        one(
            con,
            f"SELECT time = from_iso8601_timestamp('2024-03-05T13:07:30.123456789+01:00') {where}",
        )
        is True
    )
    assert one(con, f"SELECT time = TIMESTAMP '2024-03-05 12:07:30.123456789' {where}") is True
    assert one(con, f"SELECT time = CAST('2024-03-05 12:07:30.123456789' AS timestamp) {where}")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("from_milliseconds(1709640450123)", utc(2024, 3, 5, 12, 7, 30, 123000)),
        ("from_unixtime(1709640450.5)", utc(2024, 3, 5, 12, 7, 30, 500000)),
        ("from_unixtime(0)", utc(1970, 1, 1)),
        ("from_nanoseconds(1709640450123456789)", utc(2024, 3, 5, 12, 7, 30, 123456)),
        ("to_nanoseconds(from_nanoseconds(1709640450123456789))", 1_709_640_450_123_456_789),
        ("from_iso8601_timestamp('2024-03-05T12:07:30Z')", utc(2024, 3, 5, 12, 7, 30)),
        ("to_milliseconds(1h)", 3_600_000),
        ("to_milliseconds(1500us)", 1),
        ("to_nanoseconds(1.5s)", 1_500_000_000),
        ("to_unixtime(from_unixtime(1709640450.25))", 1_709_640_450.25),
        ("date_diff('hour', TIMESTAMP '2024-03-05 12:59:00', TIMESTAMP '2024-03-05 14:01:00')", 1),
        ("date_diff('hour', TIMESTAMP '2024-03-05 14:01:00', TIMESTAMP '2024-03-05 12:59:00')", -1),
        ("date_diff('day', DATE '2024-01-01', DATE '2024-03-05')", 64),
        ("date_diff('millisecond', from_milliseconds(1000), from_milliseconds(3500))", 2500),
        (
            "date_parse('2024-03-05 12:07:30', '%Y-%m-%d %H:%i:%s')",
            dt.datetime(2024, 3, 5, 12, 7, 30),
        ),
        (
            "to_iso8601(from_iso8601_timestamp('2024-03-05T12:07:30Z'))",
            "2024-03-05T12:07:30.000000000Z",
        ),
        ("parse_duration('1.5h') = 90m", True),
    ],
)
def test_conversions(con, expr, expected):
    assert one(con, f"SELECT {expr}") == expected


def test_date_diff_counts_whole_units_on_columns(con, table):
    # now - 12:07:30.123456789 = 22m 30s (+ 789 ns on the microsecond table).
    sql = f"SELECT date_diff('second', time, now()) FROM {table} WHERE device = 'a' AND x = 1"
    assert one(con, sql) == 1350
    sql = f"SELECT date_diff('minute', time, now()) FROM {table} WHERE device = 'a' AND x = 1"
    assert one(con, sql) == 22


def test_difference_of_timestamps(con, table):
    # Intervals have DuckDB's microsecond resolution: 12:30:00.623456789 is rounded.
    span = dt.timedelta(hours=12, minutes=30, microseconds=623456)
    got = one(con, f"SELECT max(time) - min(time) FROM {table}")
    assert abs(got - span) <= dt.timedelta(microseconds=1)
    assert one(con, f"SELECT now() - max(time) FROM {table}") <= dt.timedelta(microseconds=1)
    got = rows(
        con,
        f"SELECT time - lag(time) OVER (ORDER BY time) FROM {table} ORDER BY time LIMIT 2",
    )
    assert got == [(None,), (dt.timedelta(hours=11, minutes=45, microseconds=500000),)]
    assert one(con, f"SELECT count(*) FROM {table} WHERE now() - time < 1h") == 4


def test_timestamp_literals_compare_with_time(con, table):
    assert (
        one(con, f"SELECT count(*) FROM {table} WHERE time >= TIMESTAMP '2024-03-05 12:00:00'") == 3
    )
    assert one(con, f"SELECT count(*) FROM {table} WHERE time < DATE '2024-03-05'") == 1


# --------------------------------------------------------------------------------------------
# Aggregates
# --------------------------------------------------------------------------------------------


def test_approx_percentile_of_1_to_100(con):
    assert one(con, "SELECT approx_percentile(v, 0.5) FROM nums") == pytest.approx(50.5, abs=1)
    assert one(con, "SELECT approx_percentile(v, 0.9) FROM nums") == pytest.approx(90.1, abs=1)
    got = one(con, "SELECT approx_percentile(v, ARRAY[0.25, 0.75]) FROM nums")
    assert got == pytest.approx([25.75, 75.25], abs=1)


XS = ROWS["x"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("approx_distinct(device)", 3),
        ("arbitrary(device) IN ('a', 'b', 'c')", True),
        ("max_by(device, x)", "c"),
        ("min_by(device, x)", "a"),
        ("count_if(x > 2)", 3),
        ("bool_and(flag)", False),
        ("bool_or(flag)", True),
        ("every(x > 0)", True),
        ("stddev(x)", pytest.approx(statistics.stdev(XS))),
        ("stddev_samp(x)", pytest.approx(statistics.stdev(XS))),
        ("stddev_pop(x)", pytest.approx(statistics.pstdev(XS))),
        ("variance(x)", pytest.approx(statistics.variance(XS))),
        ("var_samp(x)", pytest.approx(statistics.variance(XS))),
        ("var_pop(x)", pytest.approx(statistics.pvariance(XS))),
        ("geometric_mean(x)", pytest.approx(statistics.geometric_mean(XS))),
        ("avg(x)", 3.0),
        ("sum(x)", 15.0),
        ("count(DISTINCT device)", 3),
        ("max(time) <= now()", True),
    ],
)
def test_aggregates(con, table, expr, expected):
    assert one(con, f"SELECT {expr} FROM {table}") == expected


def test_window_functions(con, table):
    got = rows(
        con,
        f"SELECT device, row_number() OVER (PARTITION BY device ORDER BY time), "
        f"avg(x) OVER (PARTITION BY device) FROM {table} ORDER BY time",
    )
    assert got == [("b", 1, 3.0), ("b", 2, 3.0), ("a", 1, 2.0), ("a", 2, 2.0), ("c", 1, 5.0)]


# --------------------------------------------------------------------------------------------
# Scalar functions sqlglot's Trino -> DuckDB transpilation handles (tested, not rewritten)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("if(1 > 2, 'a', 'b')", "b"),
        ("CASE WHEN 1 < 2 THEN 'y' ELSE 'n' END", "y"),
        ("coalesce(NULL, 2)", 2),
        ("nullif(1, 1)", None),
        ("try_cast('x' AS bigint)", None),
        ("CAST('12' AS bigint)", 12),
        ("CAST(1.5 AS varchar)", "1.5"),
        ("round(2.567e0, 2)", 2.57),
        ("abs(-2)", 2),
        ("ceil(1.2e0)", 2),
        ("floor(1.8e0)", 1),
        ("sqrt(16e0)", 4.0),
        ("power(2, 10)", 1024),
        ("mod(7, 3)", 1),
        ("7 % 3", 1),
        ("ln(e())", pytest.approx(1.0)),
        ("log10(1000)", pytest.approx(3.0)),
        ("log2(8)", pytest.approx(3.0)),
        ("sign(-3)", -1),
        ("pi()", pytest.approx(math.pi)),
        ("truncate(2.7e0)", 2),
        ("greatest(1, 5, 3)", 5),
        ("least(4, 2, 3)", 2),
        ("is_nan(nan())", True),
        ("is_finite(1e0)", True),
        ("is_infinite(infinity())", True),
        ("infinity() > 1e308", True),
        ("length('abc')", 3),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("substr('hello', 2, 3)", "ell"),
        ("concat('a', 'b', 'c')", "abc"),
        ("'a' || 'b'", "ab"),
        ("replace('abc', 'b', 'x')", "axc"),
        ("trim('  a ')", "a"),
        ("split('a,b,c', ',')", ["a", "b", "c"]),
        ("split_part('a,b,c', ',', 2)", "b"),
        ("strpos('hello', 'l')", 3),
        ("regexp_like('abc', 'b')", True),
        ("regexp_extract('a1b22', '[0-9]+')", "1"),
        ("regexp_replace('a1b2', '[0-9]', '')", "ab"),
        ("starts_with('abc', 'ab')", True),
        ("reverse('abc')", "cba"),
        ("lpad('7', 3, '0')", "007"),
        ("hamming_distance('abc', 'abd')", 1),
        ("levenshtein_distance('kitten', 'sitting')", 3),
        ("codepoint('A')", 65),
        ("cardinality(ARRAY[1, 2, 3])", 3),
        ("element_at(ARRAY[1, 2, 3], 2)", 2),
        ("contains(ARRAY[1, 2], 2)", True),
        ("array_join(ARRAY['a', 'b'], '-')", "a-b"),
        ("1 IN (1, 2)", True),
        ("'abc' LIKE 'a%'", True),
        ("2 BETWEEN 1 AND 3", True),
    ],
)
def test_scalar_functions(con, expr, expected):
    assert one(con, f"SELECT {expr}") == expected


# --------------------------------------------------------------------------------------------
# Columns, tables, parameters
# --------------------------------------------------------------------------------------------


def test_measure_value_columns(con):
    sql = (
        "SELECT avg(measure_value::double), sum(mv.measure_value::bigint) FROM mv "
        "WHERE measure_name = 'cpu'"
    )
    assert rows(con, sql) == [(2.0, 3)]


def test_quoted_database_and_table(con):
    assert one(con, 'SELECT count(*) FROM "iot"."metrics"') == 5
    assert one(con, "SELECT count(*) FROM iot.metrics m WHERE m.device = 'a'") == 2


def test_params_end_to_end(con, table):
    sql = f"SELECT count(*) FROM {table} WHERE device = :d"
    assert one(con, sql, {"d": "a"}) == 2
    assert one(con, sql, {"d": "a' OR '1'='1"}) == 0  # one string, no injection
    sql = f"SELECT count(*) FROM {table} WHERE device IN (:ds) AND x > :x"
    assert one(con, sql, {"ds": ["a", "b"], "x": 1.5}) == 3
    sql = f"SELECT count(*) FROM {table} WHERE time >= :t AND time < :t + :w"
    params = {"t": pd.Timestamp("2024-03-05 12:00", tz="UTC"), "w": pd.Timedelta("15m")}
    assert one(con, sql, params) == 1


def test_timestamp_param_keeps_nanoseconds(con):
    sql = "SELECT count(*) FROM tns WHERE time = :t"
    assert one(con, sql, {"t": TIMES[0]}) == 1
    assert one(con, sql, {"t": TIMES[0] + pd.Timedelta(1, unit="ns")}) == 0


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT foo(x) FROM t",
        "SELECT x FROM t WHERE foo(x) > 1",
        "SELECT avg(foo(x)) FROM t",
        "SELECT x FROM (SELECT foo(1) AS x)",
    ],
)
def test_unsupported_function_is_named(sql):
    with pytest.raises(QueryError, match=r"^function foo is not supported by tsstore's SQL$"):
        sql_of(sql)


@pytest.mark.parametrize("name", sorted(TIME_SERIES_FUNCTIONS))
def test_time_series_functions_check_their_arguments(name):
    with pytest.raises(QueryError, match=rf"^function {name} takes .* arguments, got 4$"):
        sql_of(f"SELECT {name}(a, b, c, d) FROM t")


def test_other_refusals():
    with pytest.raises(QueryError, match="weights"):
        sql_of("SELECT approx_percentile(x, 2, 0.5) FROM t")
    with pytest.raises(QueryError, match=r"query parameter :d is not bound"):
        sql_of("SELECT * FROM t WHERE d = :d")
    with pytest.raises(QueryError, match="function ago takes 1 arguments, got 2"):
        sql_of("SELECT ago(1h, 2h)")
    with pytest.raises(QueryError, match="pattern as a string literal"):
        sql_of("SELECT format_datetime(time, x) FROM t")
    with pytest.raises(QueryError, match="parse_duration needs a string literal"):
        sql_of("SELECT parse_duration(x) FROM t")
    with pytest.raises(QueryError, match="not a duration"):
        sql_of("SELECT parse_duration('soon')")


# --------------------------------------------------------------------------------------------
# The translation itself
# --------------------------------------------------------------------------------------------


def test_to_duckdb_returns_a_tree_and_leaves_its_input_alone():
    tree = parse_statement("SELECT bin(time, 15m), ago(1h) FROM t").ast
    before = tree.sql(dialect="trino")
    out = to_duckdb(tree, now=NOW)
    assert isinstance(out, exp.Expression)
    assert tree.sql(dialect="trino") == before
    assert out.find(exp.Anonymous).name.lower() == "make_timestamptz"


def test_translated_sql_shape():
    assert sql_of("SELECT bin(time, 15m) FROM t WHERE time > ago(1h)") == (
        "SELECT MAKE_TIMESTAMPTZ((EPOCH_NS(time) - ((EPOCH_NS(time) % 900000000000 + "
        "900000000000) % 900000000000)) // 1000) FROM t "
        "WHERE time > (CAST('2024-03-05 12:30:00.123456789+00:00' AS TIMESTAMPTZ_NS) "
        "- INTERVAL '1' HOUR)"
    )
    # a width that is not fixed (months) keeps DuckDB's time_bucket
    assert sql_of("SELECT bin(time, INTERVAL '1' MONTH) FROM t").startswith("SELECT TIME_BUCKET(")
    assert sql_of("SELECT approx_percentile(x, 0.5) FROM t") == (
        "SELECT QUANTILE_CONT(x, 0.5) FROM t"
    )


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "%Y-%m-%dT%H:%M:%S.%gZ"),
        ("yy M d H m s", "%y %-m %-d %-H %-M %-S"),
        ("MMM MMMM EEE EEEE a hh h", "%b %B %a %A %p %I %-I"),
        ("DDD D ww e xxxx", "%j %-j %V %u %G"),
        ("SSS SSSSSS SSSSSSSSS", "%g %f %n"),
        ("Z ZZ z G", "+0000 +00:00 UTC AD"),
        ("'it''s' '100%' 50%", "it's 100%% 50%%"),
        ("''", "'"),
        ("", ""),
    ],
)
def test_joda_to_strftime(pattern, expected):
    assert joda_to_strftime(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("yyyy-MM-dd kk", "pattern letter 'kk' is not supported"),
        ("SS", "pattern letter 'SS' is not supported"),
        ("dddd", "pattern letter 'dddd' is not supported"),
        ("'unclosed", "unclosed quote"),
    ],
)
def test_joda_errors(pattern, message):
    with pytest.raises(QueryError, match=message):
        joda_to_strftime(pattern)


# --------------------------------------------------------------------------------------------
# Time-series functions (run in tests/test_timeseries.py; here: the SQL they become)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # the typical query: an aggregate, a timestamp sequence, the array form
        (
            "SELECT hostname, interpolate_linear(create_time_series(time, measure_value::double),"
            " sequence(min(time), max(time), 15s)) AS ts FROM t GROUP BY hostname",
            "SELECT hostname, TS_INTERPOLATE_LINEAR_SERIES(TS_CREATE_TIME_SERIES(time, "
            '"measure_value::double"), TS_SEQUENCE(MIN(time), MAX(time), '
            "INTERVAL '15' SECOND)) AS ts FROM t GROUP BY hostname",
        ),
        # one timestamp: the scalar form
        (
            "SELECT interpolate_locf(ts, ago(1h)) FROM t",
            "SELECT TS_INTERPOLATE_LOCF_AT(ts, (CAST('2024-03-05 12:30:00.123456789+00:00' AS "
            "TIMESTAMPTZ_NS) - INTERVAL '1' HOUR)) FROM t",
        ),
        (
            "SELECT interpolate_spline_cubic(ts, time) FROM t",
            "SELECT TS_INTERPOLATE_SPLINE_CUBIC_AT(ts, time) FROM t",
        ),
        (
            "SELECT interpolate_fill(ts, ARRAY[time], 0.0) FROM t",
            "SELECT TS_INTERPOLATE_FILL_SERIES(ts, [time], 0.0) FROM t",
        ),
        (
            "SELECT interpolate_linear(ts, max(binned)), interpolate_linear(ts, array_agg(b)) "
            "FROM t",
            "SELECT TS_INTERPOLATE_LINEAR_AT(ts, MAX(binned)), "
            "TS_INTERPOLATE_LINEAR_SERIES(ts, ARRAY_AGG(b)) FROM t",
        ),
        # the syntax does not tell: DuckDB picks the form by the argument's type
        (
            "SELECT interpolate_linear(ts, x) FROM t",
            "SELECT TS_INTERPOLATE_LINEAR(ts, x) FROM t",
        ),
        (
            "SELECT derivative_linear(ts, 5m), non_negative_derivative_linear(ts, 1s) FROM t",
            "SELECT TS_DERIVATIVE_LINEAR(ts, INTERVAL '5' MINUTE), "
            "TS_NON_NEGATIVE_DERIVATIVE_LINEAR(ts, INTERVAL '1' SECOND) FROM t",
        ),
        # Timestream's default unit of an integral: 1s
        (
            "SELECT integral_trapezoidal(ts), integral_trapezoidal(ts, 1h) FROM t",
            "SELECT TS_INTEGRAL_TRAPEZOIDAL(ts, INTERVAL '1' SECOND), "
            "TS_INTEGRAL_TRAPEZOIDAL(ts, INTERVAL '1' HOUR) FROM t",
        ),
        (
            "SELECT correlate_pearson(a.ts, b.ts), correlate_spearman(a.ts, b.ts) FROM a, b",
            "SELECT TS_CORRELATE_PEARSON(a.ts, b.ts), TS_CORRELATE_SPEARMAN(a.ts, b.ts) FROM a, b",
        ),
        # UNNEST of a timeseries: one column per field
        (
            "SELECT u.time, u.value FROM x CROSS JOIN UNNEST(ts) AS u(time, value)",
            "SELECT u.time, u.value FROM x CROSS JOIN (SELECT UNNEST(ts, max_depth := 2)) "
            "AS u(time, value)",
        ),
        (
            "SELECT u.n FROM x CROSS JOIN UNNEST(ts) WITH ORDINALITY AS u(time, value, n)",
            "SELECT u.n FROM x CROSS JOIN (SELECT UNNEST(ts, max_depth := 2), "
            "GENERATE_SUBSCRIPTS(ts, 1)) AS u(time, value, n)",
        ),
        # an array of scalars is unnested as before
        (
            "SELECT u.x FROM t CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(x)",
            "SELECT u.x FROM t CROSS JOIN UNNEST([1, 2]) AS u(x)",
        ),
        # lambdas over a timeseries are lambdas over an array
        (
            "SELECT filter(ts, p -> p.value > 10) FROM x",
            "SELECT LIST_FILTER(ts, LAMBDA p : p.value > 10) FROM x",
        ),
        # sequences: of integers as before, of timestamps in nanoseconds
        ("SELECT sequence(1, 5)", "SELECT GENERATE_SERIES(1, 5)"),
        (
            "SELECT sequence(binned, binned, 1h) FROM t",
            "SELECT TS_SEQUENCE(binned, binned, INTERVAL '1' HOUR) FROM t",
        ),
        # a literal timeseries: nested timestamp types are Timestream's (nanoseconds, UTC)
        (
            "SELECT CAST(ARRAY[ROW(TIMESTAMP '2024-01-01 00:00:00', 1.0)] "
            "AS ARRAY(ROW(time TIMESTAMP, value DOUBLE)))",
            "SELECT CAST([ROW(CAST('2024-01-01 00:00:00' AS TIMESTAMPTZ_NS), 1.0)] AS "
            "STRUCT(time TIMESTAMPTZ_NS, value DOUBLE)[])",
        ),
    ],
)
def test_time_series_translation(sql, expected):
    assert sql_of(sql) == expected


def test_time_series_refusals():
    with pytest.raises(QueryError, match=r"sequence over timestamps needs a step"):
        sql_of("SELECT sequence(now() - 1h, now())")
    with pytest.raises(QueryError, match=r"^function interpolate_fill takes 3 arguments, got 2$"):
        sql_of("SELECT interpolate_fill(ts, time) FROM t")
    with pytest.raises(QueryError, match=r"function integral_trapezoidal takes 1 to 2 arguments"):
        sql_of("SELECT integral_trapezoidal() FROM t")
