"""The split of a query into distributed stages (``tsstore.query.planner``), on syntax trees."""

from __future__ import annotations

import pytest

from tsstore.query.dialect import parse_statement
from tsstore.query.planner import PARTS, split

ALIASES = {"__tsstore_0": ["host", "measure_name", "time", "cpu", "mem"]}


def stages(sql: str, names: list[str]):
    """Split ``sql`` whose table ``t`` is already replaced by the scan alias, as the engine
    does before splitting."""
    sql = sql.replace("FROM t a JOIN t b", "FROM __tsstore_0 AS a JOIN __tsstore_0 AS b")
    ast = parse_statement(sql.replace("FROM t", 'FROM __tsstore_0 AS "t"')).ast
    return split(ast, ALIASES, names)


@pytest.mark.parametrize(
    ("sql", "names", "kind"),
    [
        ("SELECT host, avg(cpu) AS a FROM t GROUP BY host", ["host", "a"], "partial"),
        ("SELECT count(*) AS n FROM t", ["n"], "partial"),
        (
            "SELECT host, approx_percentile(cpu, 0.5) AS p FROM t GROUP BY 1",
            ["host", "p"],
            "shuffle",
        ),
        ("SELECT host, count(DISTINCT mem) AS d FROM t GROUP BY host", ["host", "d"], "shuffle"),
        (
            "SELECT host, lag(cpu) OVER (PARTITION BY host ORDER BY time) AS l FROM t",
            ["host", "l"],
            "shuffle",
        ),
        ("SELECT host, time FROM t WHERE cpu > 1 ORDER BY time LIMIT 5", ["host", "time"], "scan"),
        ("SELECT approx_percentile(cpu, 0.5) AS p FROM t", ["p"], "gather"),
        ("SELECT rank() OVER (ORDER BY cpu) AS r FROM t", ["r"], "gather"),
        ("WITH x AS (SELECT host FROM t) SELECT count(*) AS n FROM x", ["n"], "gather"),
        ("SELECT a.host FROM t a JOIN t b ON a.host = b.host", ["host"], "gather"),
        ("SELECT host, sum(cpu) AS s FROM t GROUP BY ROLLUP (host)", ["host", "s"], "gather"),
    ],
)
def test_each_query_shape_gets_its_plan(sql, names, kind):
    assert stages(sql, names).kind == kind


def test_avg_is_a_sum_and_a_count_never_an_average_of_averages():
    st = stages("SELECT host, avg(cpu) AS a FROM t GROUP BY host", ["host", "a"])
    frag = st.fragment.sql("trino")
    assert 'SUM(cpu) AS "__p0"' in frag and 'COUNT(cpu) AS "__p1"' in frag
    assert 'SUM("__p0")' in st.combine.sql("trino") and PARTS in st.combine.sql("trino")
    final = st.final.sql("trino")
    assert 'CAST(SUM("__p0") AS DOUBLE) / NULLIF(SUM("__p1"), 0) AS "a"' in final
    assert "AVG" not in final


def test_ordinals_and_aliases_resolve_to_their_expressions():
    st = stages(
        "SELECT bin(time, 1h) AS h, max(cpu) AS m FROM t GROUP BY 1 ORDER BY m DESC LIMIT 3",
        ["h", "m"],
    )
    assert "GROUP BY BIN(time, INTERVAL '1' HOUR)" in st.fragment.sql("trino")
    final = st.final.sql("trino")
    assert 'GROUP BY "__g0"' in final and "LIMIT 3" in final
    assert "ORDER BY m DESC" in final  # an output name stays one


def test_scan_orders_per_part_and_keeps_hidden_keys_out_of_the_result():
    st = stages("SELECT host FROM t ORDER BY time DESC LIMIT 2 OFFSET 1", ["host"])
    frag = st.fragment.sql("trino")
    assert 'time AS "__o0"' in frag and "LIMIT 3" in frag  # limit + offset rows per part
    final = st.final.sql("duckdb")
    assert 'EXCLUDE ("__o0")' in final and 'ORDER BY "__o0" DESC' in final
    assert "OFFSET 1" in final


def test_shuffle_hashes_the_group_keys_and_runs_the_query_per_bucket():
    st = stages("SELECT host, stddev(cpu) AS s FROM t WHERE cpu > 0 GROUP BY host", ["host", "s"])
    assert st.keys == 1
    assert '"__k0"' in st.fragment.sql("trino") and "WHERE cpu > 0" in st.fragment.sql("trino")
    assert "STDDEV" in st.bucket.sql("trino").upper()


def test_columns_outside_aggregates_fall_back_to_gather():
    st = stages("SELECT host, cpu, max(mem) AS m FROM t GROUP BY host", ["host", "cpu", "m"])
    assert st.kind == "gather" and "outside aggregates" in st.reason
