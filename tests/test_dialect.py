"""The Timestream SQL dialect: durations, measure_value columns, SHOW/DESCRIBE, errors, params."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp

from tsstore.errors import QueryError
from tsstore.query.dialect import (
    DURATION_UNITS,
    Describe,
    QuerySyntaxError,
    Select,
    Show,
    Timestream,
    bind_params,
    parse_statement,
)


def ast(sql: str) -> exp.Expression:
    stmt = parse_statement(sql)
    assert isinstance(stmt, Select)
    return stmt.ast


def interval(value: str, unit: str) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(value), unit=exp.Var(this=unit))


def normal(sql: str) -> str:
    """The statement, parsed and written back in Trino's SQL (a normalised form)."""
    return ast(sql).sql(dialect="trino")


def syntax_error(sql: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as info:
        parse_statement(sql)
    return info.value


# --------------------------------------------------------------------------------------------
# Durations: the silent misparses of stock dialects
# --------------------------------------------------------------------------------------------


def test_stock_trino_misreads_select_15m_which_is_why_the_dialect_exists():
    stock = sqlglot.parse_one("SELECT 15m", read="trino").expressions[0]
    assert isinstance(stock, exp.Alias)  # 15 AS m, silently
    assert ast("SELECT 15m").expressions[0] == interval("15", "MINUTE")


def test_select_15m_is_an_interval_not_an_alias():
    (projection,) = ast("SELECT 15m").expressions
    assert projection == interval("15", "MINUTE")
    assert projection.this.is_string


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("15s", "15", "SECOND"),
        ("1h", "1", "HOUR"),
        ("500ms", "500", "MILLISECOND"),
        ("50ns", "50", "NANOSECOND"),
        ("10us", "10", "MICROSECOND"),
        ("15m", "15", "MINUTE"),
        ("1d", "1", "DAY"),
        ("0d", "0", "DAY"),
        ("007m", "7", "MINUTE"),
        ("1.5h", "90", "MINUTE"),  # decimals are rewritten exactly, in a whole unit
        ("0.5ms", "500", "MICROSECOND"),
        ("1.0h", "1", "HOUR"),
        ("0.25d", "6", "HOUR"),
        ("2e3ms", "2000", "MILLISECOND"),
    ],
)
def test_duration_literals(text, value, unit):
    assert ast(f"SELECT {text}").expressions[0] == interval(value, unit)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 15m", "SELECT INTERVAL '15' MINUTE"),
        (
            "SELECT bin(time, 15m) FROM t",
            "SELECT BIN(time, INTERVAL '15' MINUTE) FROM t",
        ),
        ("SELECT ago(1h)", "SELECT AGO(INTERVAL '1' HOUR)"),
        (
            "SELECT x FROM t WHERE time > now() - 1d",
            "SELECT x FROM t WHERE time > CURRENT_TIMESTAMP - INTERVAL '1' DAY",
        ),
        (
            "SELECT x FROM t WHERE time BETWEEN ago(5m) AND now()",
            "SELECT x FROM t WHERE time BETWEEN AGO(INTERVAL '5' MINUTE) AND CURRENT_TIMESTAMP",
        ),
        (
            "SELECT x FROM t WHERE time BETWEEN now() - 1d AND now()",
            "SELECT x FROM t WHERE time BETWEEN CURRENT_TIMESTAMP - INTERVAL '1' DAY "
            "AND CURRENT_TIMESTAMP",
        ),
        (
            "SELECT date_add('minute', 1, time) + 15m * 2 - 30s FROM t",
            "SELECT DATE_ADD('MINUTE', 1, time) + INTERVAL '15' MINUTE * 2 "
            "- INTERVAL '30' SECOND FROM t",
        ),
        (
            "SELECT greatest(15m, 1h), coalesce(NULL, 500ms)",
            "SELECT GREATEST(INTERVAL '15' MINUTE, INTERVAL '1' HOUR), "
            "COALESCE(NULL, INTERVAL '500' MILLISECOND)",
        ),
        ("SELECT -1h", "SELECT -INTERVAL '1' HOUR"),
        ("SELECT 15m AS w", "SELECT INTERVAL '15' MINUTE AS w"),
        ("SELECT 15m w", "SELECT INTERVAL '15' MINUTE AS w"),
        (
            "SELECT bin(time,15m),count(*) FROM t GROUP BY bin(time,15m)",
            "SELECT BIN(time, INTERVAL '15' MINUTE), COUNT(*) FROM t "
            "GROUP BY BIN(time, INTERVAL '15' MINUTE)",
        ),
    ],
)
def test_durations_in_context(sql, expected):
    assert normal(sql) == expected


def test_between_bounds_are_intervals_arithmetic():
    where = ast("SELECT x FROM t WHERE time BETWEEN now() - 1d AND now()").args["where"]
    between = where.this
    assert isinstance(between, exp.Between)
    low = between.args["low"]
    assert isinstance(low, exp.Sub)
    assert low.expression == interval("1", "DAY")
    assert isinstance(between.args["high"], exp.CurrentTimestamp)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 m", "SELECT 1 AS m"),  # a space: still an alias
        ("SELECT 15 m FROM t", "SELECT 15 AS m FROM t"),
        ("SELECT m1, x15m, m FROM t", "SELECT m1, x15m, m FROM t"),
        ("SELECT 1e5, 1E5, 2.5e-3", "SELECT 1e5, 1E5, 2.5e-3"),
        ("SELECT '15m', '1h' || 'x'", "SELECT '15m', '1h' || 'x'"),
        ('SELECT "15m" FROM t', 'SELECT "15m" FROM t'),
        ("SELECT 15 -- 15m\n", "SELECT 15 /* 15m */"),
        ("SELECT x FROM t LIMIT 15", "SELECT x FROM t LIMIT 15"),
        ("SELECT 1.5, .5", "SELECT 1.5, 0.5"),
    ],
)
def test_things_that_are_not_durations_are_unaffected(sql, expected):
    assert normal(sql) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 15min", "write 15m for minutes"),
        ("SELECT 15M", "duration units are lowercase: 15m"),
        ("SELECT 15H", "duration units are lowercase: 15h"),
        ("SELECT 15x", "identifiers cannot start with a digit"),
        ("SELECT 1hour", "not a number or a duration"),
        ("SELECT 1.5ns", "duration 1.5ns is not a whole number of nanoseconds"),
    ],
)
def test_glued_words_are_errors_not_aliases(sql, message):
    error = syntax_error(sql)
    assert message in str(error)
    assert (error.line, error.col) == (1, 8)


@given(
    value=st.integers(min_value=0, max_value=10**12),
    unit=st.sampled_from(sorted(DURATION_UNITS)),
    leading_zeros=st.integers(min_value=0, max_value=2),
)
def test_any_duration_parses_to_the_right_interval(value, unit, leading_zeros):
    text = "0" * leading_zeros + str(value) + unit
    tree = ast(f"SELECT x FROM t WHERE time > now() - {text}")
    comparison = tree.args["where"].this
    assert isinstance(comparison, exp.GT)
    sub = comparison.expression
    assert isinstance(sub, exp.Sub)
    assert isinstance(sub.this, exp.CurrentTimestamp)
    assert sub.expression == interval(str(value), DURATION_UNITS[unit][0])


@given(
    tenths=st.integers(min_value=1, max_value=10**6).filter(lambda n: n % 10),
    unit=st.sampled_from(["us", "ms", "s", "m", "h", "d"]),
)
def test_decimal_durations_are_exact(tenths, unit):
    text = f"{tenths // 10}.{tenths % 10}{unit}"
    (projection,) = ast(f"SELECT {text}").expressions
    assert isinstance(projection, exp.Interval)
    ns_by_unit = {name: ns for name, ns in DURATION_UNITS.values()}
    got = int(projection.this.name) * ns_by_unit[projection.unit.name]
    assert got * 10 == tenths * DURATION_UNITS[unit][1]


def test_the_dialect_is_registered_with_sqlglot():
    tree = sqlglot.parse_one("SELECT bin(time, 1h) FROM t", read="timestream")
    assert tree.find(exp.Interval) == interval("1", "HOUR")
    assert isinstance(sqlglot.Dialect.get_or_raise("timestream"), Timestream)


# --------------------------------------------------------------------------------------------
# measure_value::<type> and quoted identifiers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["double", "bigint", "varchar", "boolean", "timestamp"])
def test_measure_value_is_a_column_name(type_):
    (projection,) = ast(f"SELECT measure_value::{type_} FROM t").expressions
    name = f"measure_value::{type_}"
    assert projection == exp.Column(this=exp.Identifier(this=name, quoted=True))


def test_measure_value_forms():
    expected = exp.Column(this=exp.Identifier(this="measure_value::double", quoted=True))
    for sql in (
        "SELECT measure_value::double FROM t",
        'SELECT "measure_value::double" FROM t',
        "SELECT MEASURE_VALUE::DOUBLE FROM t",
        "SELECT measure_value :: double FROM t",
    ):
        assert ast(sql).expressions[0] == expected, sql


def test_qualified_measure_value():
    (projection,) = ast("SELECT t.measure_value::double FROM t").expressions
    assert projection == exp.Column(
        this=exp.Identifier(this="measure_value::double", quoted=True),
        table=exp.Identifier(this="t", quoted=False),
    )


def test_measure_value_in_expressions_and_other_casts():
    assert normal(
        "SELECT avg(measure_value::double) FROM t WHERE measure_value::bigint > 3 "
        "AND x::double > 1 AND CAST(measure_value::varchar AS integer) = 2"
    ) == (
        'SELECT AVG("measure_value::double") FROM t WHERE "measure_value::bigint" > 3 '
        'AND CAST(x AS DOUBLE) > 1 AND CAST("measure_value::varchar" AS INTEGER) = 2'
    )
    # Only Timestream's five types name columns; anything else stays a cast.
    assert isinstance(ast("SELECT measure_value::integer FROM t").expressions[0], exp.Cast)
    assert isinstance(ast('SELECT "measure_value"::double FROM t').expressions[0], exp.Cast)


def test_quoted_identifiers():
    tree = ast('SELECT "cpu usage", "time" FROM "my-db"."metrics.v2" WHERE "region" = \'eu\'')
    table = tree.find(exp.Table)
    assert (table.db, table.name) == ("my-db", "metrics.v2")
    assert table.args["db"].quoted and table.this.quoted
    assert [c.name for c in tree.find_all(exp.Column)] == ["cpu usage", "time", "region"]


# --------------------------------------------------------------------------------------------
# Statements: queries, SHOW, DESCRIBE, refusals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select * from t",
        "SELECT 1;",
        "  SELECT 1 ;  ",
        "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "SELECT 1 UNION ALL SELECT 2",
        "(SELECT 1)",
        "VALUES (1, 2)",
        "-- leading comment\nSELECT 1",
    ],
)
def test_queries_parse_to_select(sql):
    assert isinstance(parse_statement(sql), Select)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SHOW DATABASES", Show("databases", None, None, None)),
        ("show databases like 'io%'", Show("databases", None, None, "io%")),
        ("SHOW TABLES", Show("tables", None, None, None)),
        ("SHOW TABLES FROM iot", Show("tables", "iot", None, None)),
        ("SHOW TABLES IN iot", Show("tables", "iot", None, None)),
        ("SHOW TABLES FROM \"my-db\" LIKE 'cpu%';", Show("tables", "my-db", None, "cpu%")),
        ("SHOW TABLES LIKE 'a_c'", Show("tables", None, None, "a_c")),
        ("SHOW MEASURES FROM iot.metrics", Show("measures", "iot", "metrics", None)),
        ("SHOW MEASURES IN metrics", Show("measures", None, "metrics", None)),
        (
            'SHOW MEASURES FROM "iot"."metrics" LIKE \'cpu%\'',
            Show("measures", "iot", "metrics", "cpu%"),
        ),
        ("DESCRIBE iot.metrics", Describe("iot", "metrics")),
        ('DESCRIBE "iot"."my table"', Describe("iot", "my table")),
        ("DESCRIBE metrics;", Describe(None, "metrics")),
        ("desc metrics", Describe(None, "metrics")),
    ],
)
def test_show_and_describe(sql, expected):
    assert parse_statement(sql) == expected


def test_statement_objects_are_frozen():
    stmt = parse_statement("SHOW TABLES")
    with pytest.raises(AttributeError):
        stmt.kind = "databases"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("sql", "col", "message"),
    [
        ("SHOW", 5, "expected DATABASES, TABLES or MEASURES after SHOW"),
        ("SHOW USERS", 6, "expected DATABASES, TABLES or MEASURES after SHOW"),
        ("SHOW TABLES FROM", 17, "expected a database name, found the end of the statement"),
        ("SHOW TABLES FROM a.b", 19, "unexpected '.'"),
        ("SHOW MEASURES metrics", 15, "expected FROM [database.]table after SHOW MEASURES"),
        ("SHOW TABLES LIKE x", 18, "expected a quoted pattern after LIKE"),
        ("SHOW DATABASES FROM x", 16, "unexpected 'FROM'"),
        ("DESCRIBE", 9, "expected a table name"),
        ("DESCRIBE a.b.c", 13, "unexpected '.'"),
        ("DESCRIBE my-table", 12, "unexpected '-'"),
    ],
)
def test_show_and_describe_errors(sql, col, message):
    error = syntax_error(sql)
    assert (error.line, error.col) == (1, col)
    assert message in str(error)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1)",
        "insert into t select * from u",
        "CREATE TABLE t (x int)",
        "DROP TABLE t",
        "UPDATE t SET x = 1",
        "DELETE FROM t",
        "ALTER TABLE t ADD COLUMN y int",
        "MERGE INTO t USING u ON t.x = u.x WHEN MATCHED THEN DELETE",
        "TRUNCATE TABLE t",
    ],
)
def test_writes_are_refused(sql):
    with pytest.raises(QueryError, match=r"read-only: write with table\.write\(\.\.\.\)"):
        parse_statement(sql)


@pytest.mark.parametrize("sql", ["USE iot", "SET session x = 1", "EXPLAIN SELECT 1"])
def test_other_statements_are_refused(sql):
    with pytest.raises(QueryError, match="statements are not supported"):
        parse_statement(sql)


@pytest.mark.parametrize("sql", ["", "   ", "\n\n", "-- only a comment", "/* c */", ";", " ; ;"])
def test_empty_query(sql):
    assert "empty query" in str(syntax_error(sql))


def test_several_statements_are_refused_pointing_at_the_second():
    error = syntax_error("SELECT 1;\n  SELECT 2")
    assert (error.line, error.col) == (2, 3)
    assert "several statements" in str(error)
    assert str(error).endswith("\n    SELECT 2\n    ^")


def test_not_a_string():
    with pytest.raises(QueryError, match="not bytes"):
        parse_statement(b"SELECT 1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Syntax errors: line, column, caret
# --------------------------------------------------------------------------------------------


def test_syntax_error_message_with_caret_on_the_right_line():
    sql = "SELECT x\nFROM t\nWHERE (time > ago(1h)\nORDER BY time"
    error = syntax_error(sql)
    assert (error.line, error.col) == (4, 1)
    assert str(error) == "syntax error at line 4, column 1: Expecting )\n  ORDER BY time\n  ^"
    assert isinstance(error, QueryError)


def test_syntax_error_at_the_end_points_after_the_last_token():
    error = syntax_error("SELECT avg(cpu)\n  FROM t\n  WHERE (time > ago(1h)")
    assert (error.line, error.col) == (3, 24)
    assert str(error) == (
        "syntax error at line 3, column 24: Expecting ), but the query ends\n"
        "    WHERE (time > ago(1h)\n"
        "                         ^"
    )


@pytest.mark.parametrize(
    ("sql", "line", "col", "caret_under"),
    [
        ("SELECT x y z FROM t", 1, 12, "z"),
        ("SELECT *\nFROM t\nWHERE x IN (1, 2\nLIMIT 3", 4, 1, "L"),
        ("SELECT 'abc", 1, 8, "'"),
        ('SELECT "abc', 1, 8, '"'),
        ("SELECT 1\n  , 15min", 2, 5, "1"),
        ("SELCT 1", 1, 1, "S"),
        ("SELECT CAST(x AS) FROM t", 1, 17, ")"),
        ("SELECT mod(x) FROM t", 1, 13, ")"),
    ],
)
def test_syntax_error_positions(sql, line, col, caret_under):
    error = syntax_error(sql)
    assert (error.line, error.col) == (line, col)
    text = sql.split("\n")[line - 1]
    assert text[col - 1] == caret_under
    shown_line, caret_line = str(error).split("\n")[1:]
    assert shown_line == f"  {text}"
    assert caret_line == "  " + " " * (col - 1) + "^"


def test_caret_keeps_tabs_so_it_lines_up():
    error = syntax_error("SELECT\tx,\t(1 FROM t")
    assert str(error).split("\n")[2] == "  " + "      \t  \t   " + "^"


def test_error_descriptions_are_readable():
    assert "mod(): an argument is missing" in str(syntax_error("SELECT mod(x) FROM t"))
    assert "incomplete WHERE" in str(syntax_error("SELECT x FROM t WHERE"))
    assert "Expected table name, but the query ends" in str(syntax_error("SELECT x FROM"))
    assert "<Token" not in str(syntax_error("SELECT x FROM"))
    assert "unterminated literal: missing closing '" in str(syntax_error("SELECT 'abc"))


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def bound(sql: str, params: dict) -> str:
    return bind_params(ast(sql), params).sql(dialect="trino")


def test_injection_attempt_stays_one_string():
    value = "x' OR '1'='1"
    tree = bind_params(ast("SELECT * FROM t WHERE device = :d"), {"d": value})
    eq = tree.args["where"].this
    assert isinstance(eq, exp.EQ)
    assert eq.expression == exp.Literal.string(value)
    assert tree.find(exp.Or) is None
    assert tree.sql(dialect="trino") == "SELECT * FROM t WHERE device = 'x'' OR ''1''=''1'"
    # Round trip: the generated SQL parses back to the same single string.
    again = ast(tree.sql(dialect="trino")).args["where"].this.expression
    assert again == exp.Literal.string(value)


def test_other_injection_shapes():
    for value in ["'; DROP TABLE t; --", "\\' OR 1=1 --", '" OR "1"="1', "x'); DELETE FROM t"]:
        tree = bind_params(ast("SELECT * FROM t WHERE device = :d"), {"d": value})
        assert tree.args["where"].this.expression == exp.Literal.string(value)
        assert isinstance(parse_statement(tree.sql(dialect="trino")), Select)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eu-west", "'eu-west'"),
        ("", "''"),
        (42, "42"),
        (-7, "-7"),
        (np.int64(7), "7"),
        (2.5, "2.5"),
        (-0.125, "-0.125"),
        (1e-20, "1e-20"),
        (np.float32(0.5), "0.5"),
        (float("nan"), "CAST('NaN' AS DOUBLE)"),
        (float("-inf"), "CAST('-Infinity' AS DOUBLE)"),
        (Decimal("-1.25"), "-1.25"),
        (True, "TRUE"),
        (np.bool_(False), "FALSE"),
        (None, "NULL"),
        (pd.NaT, "NULL"),
        (
            pd.Timestamp("2024-03-05 12:07:30.123456789", tz="UTC"),
            "FROM_ISO8601_TIMESTAMP('2024-03-05T12:07:30.123456789Z')",
        ),
        (  # naive timestamps are UTC
            dt.datetime(2024, 3, 5, 12, 7, 30),
            "FROM_ISO8601_TIMESTAMP('2024-03-05T12:07:30Z')",
        ),
        (  # aware ones are converted to UTC
            pd.Timestamp("2024-03-05 13:00", tz="Europe/Paris"),
            "FROM_ISO8601_TIMESTAMP('2024-03-05T12:00:00Z')",
        ),
        (
            np.datetime64("2024-03-05T12:00:00.000000001"),
            "FROM_ISO8601_TIMESTAMP('2024-03-05T12:00:00.000000001Z')",
        ),
        (dt.date(2024, 3, 5), "CAST('2024-03-05' AS DATE)"),
        (pd.Timedelta("90s"), "INTERVAL '90' SECOND"),
        (dt.timedelta(hours=2), "INTERVAL '2' HOUR"),
        (pd.Timedelta(1500, unit="ns"), "INTERVAL '1500' NANOSECOND"),
        (-pd.Timedelta("1h"), "-INTERVAL '1' HOUR"),
        ([1, "a", None], "(1, 'a', NULL)"),
    ],
)
def test_param_literals(value, expected):
    assert bound("SELECT :v", {"v": value}) == f"SELECT {expected}"


def test_timestamp_param_is_a_function_node_not_text():
    tree = bind_params(ast("SELECT :ts"), {"ts": pd.Timestamp("2024-01-01", tz="UTC")})
    node = tree.expressions[0]
    assert isinstance(node, exp.FromISO8601Timestamp)
    assert node.this == exp.Literal.string("2024-01-01T00:00:00Z")


def test_lists_splice_into_in():
    assert bound("SELECT * FROM t WHERE d IN (:ds)", {"ds": ["a", "b"]}) == (
        "SELECT * FROM t WHERE d IN ('a', 'b')"
    )
    assert bound("SELECT * FROM t WHERE d IN :ds", {"ds": ("a",)}) == (
        "SELECT * FROM t WHERE d IN ('a')"
    )
    assert bound("SELECT * FROM t WHERE d NOT IN (:ds)", {"ds": [1, 2]}) == (
        "SELECT * FROM t WHERE NOT d IN (1, 2)"
    )
    assert bound("SELECT * FROM t WHERE d IN :ds", {"ds": "a"}) == (
        "SELECT * FROM t WHERE d IN ('a')"
    )
    assert bound("SELECT * FROM t WHERE d IN (:ds)", {"ds": "a"}) == (
        "SELECT * FROM t WHERE d IN ('a')"
    )
    assert bound("SELECT * FROM t WHERE d IN (:a, :b)", {"a": 1, "b": 2}) == (
        "SELECT * FROM t WHERE d IN (1, 2)"
    )
    # A list in a list is not a flat IN list: refused.
    with pytest.raises(QueryError, match="nests a list"):
        bind_params(ast("SELECT * FROM t WHERE d IN (:ds)"), {"ds": [[1]]})


def test_empty_list_is_refused():
    with pytest.raises(QueryError, match=":ds is an empty list"):
        bind_params(ast("SELECT * FROM t WHERE d IN (:ds)"), {"ds": []})


def test_same_param_twice_and_params_everywhere():
    assert bound(
        "SELECT :a AS x, bin(time, :w) FROM t WHERE d = :a AND time > ago(:w) LIMIT 3",
        {"a": "k", "w": pd.Timedelta("15m")},
    ) == (
        "SELECT 'k' AS x, BIN(time, INTERVAL '15' MINUTE) FROM t "
        "WHERE d = 'k' AND time > AGO(INTERVAL '15' MINUTE) LIMIT 3"
    )


def test_missing_params_are_named_with_the_ones_given():
    tree = ast("SELECT * FROM t WHERE a = :a AND b = :b AND c = :c")
    with pytest.raises(QueryError) as info:
        bind_params(tree, {"b": 1, "z": 2})
    assert str(info.value) == ("no value for query parameters :a, :c; parameters given: :b, :z")
    with pytest.raises(QueryError, match=r"parameter :a; parameters given: none"):
        bind_params(ast("SELECT :a"), None)


def test_bind_params_leaves_its_input_alone():
    tree = ast("SELECT :a")
    before = tree.sql()
    bind_params(tree, {"a": 1})
    assert tree.sql() == before


def test_no_placeholders_no_params():
    tree = ast("SELECT 1")
    assert bind_params(tree, {}) == tree
    assert bind_params(tree, {"unused": 1}) == tree


def test_positional_params_are_refused():
    with pytest.raises(QueryError, match="positional parameters"):
        bind_params(ast("SELECT * FROM t WHERE a = ?"), {})


def test_unsupported_param_type():
    with pytest.raises(QueryError, match="parameter :a has unsupported type object"):
        bind_params(ast("SELECT :a"), {"a": object()})
    with pytest.raises(QueryError, match="not a finite number"):
        bind_params(ast("SELECT :a"), {"a": Decimal("NaN")})
