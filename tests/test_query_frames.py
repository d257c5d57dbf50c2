"""Timestream SQL over DataFrames (tsstore.query.frames): the same answers as DuckDB over the
same rows, times in UTC, and errors that name the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.errors import QueryError, ValidationError
from tsstore.query.dialect import QuerySyntaxError
from tsstore.query.engine import STRING_DTYPE
from tsstore.query.frames import frame_to_arrow, query_frames
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.to_datetime(
                ["2024-06-01 11:00:10", "2024-06-01 11:00:50", "2024-06-01 11:01:20",
                 "2024-06-01 11:30:00", "2024-06-01 11:59:30"]
            ),
            "device_id": ["a", "a", "b", "b", "a"],
            "cpu": [1.0, 3.0, 5.0, np.nan, 9.0],
            "n": [7, 2, 3, 4, 5],
        }
    )  # fmt: skip


# -- results --------------------------------------------------------------------------------


def test_bin_groups_into_epoch_aligned_minutes(df):
    got = query_frames(
        "SELECT device_id, bin(time, 1m) AS t, avg(cpu) AS cpu, count(*) AS rows FROM df "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        {"df": df},
    )
    assert got["device_id"].tolist() == ["a", "a", "b", "b"]
    assert got["t"].dt.tz is not None
    assert [str(t) for t in got["t"]] == [
        "2024-06-01 11:00:00+00:00",
        "2024-06-01 11:59:00+00:00",
        "2024-06-01 11:01:00+00:00",
        "2024-06-01 11:30:00+00:00",
    ]
    # NaN is NULL: the avg of b's 11:30 bin has no value, count(*) still counts the row
    assert got["cpu"].tolist()[:3] == [2.0, 9.0, 5.0] and pd.isna(got["cpu"].iloc[3])
    assert got["rows"].tolist() == [2, 1, 1, 1]


def test_ago_uses_the_given_now(df):
    sql = "SELECT count(*) AS n FROM df WHERE time > ago(45m)"
    assert query_frames(sql, {"df": df}, now=NOW)["n"].tolist() == [2]
    assert query_frames(sql, {"df": df}, now="2024-06-01 11:10")["n"].tolist() == [5]


def test_now_defaults_to_the_wall_clock():
    before = pd.Timestamp.now(tz="UTC")
    got = query_frames("SELECT now() AS t", {})["t"].iloc[0]
    assert before <= got <= pd.Timestamp.now(tz="UTC")


def test_named_parameters_are_bound_as_literals(df):
    sql = "SELECT device_id, n FROM df WHERE device_id = :d AND n >= :low ORDER BY n"
    got = query_frames(sql, {"df": df}, {"d": "a", "low": 3})
    assert got["n"].tolist() == [5, 7]
    injected = query_frames(sql, {"df": df}, {"d": "a' OR '1'='1", "low": 0})
    assert injected.empty
    listed = query_frames(
        "SELECT count(*) AS c FROM df WHERE device_id IN (:ids)", {"df": df}, {"ids": ["b"]}
    )
    assert listed["c"].tolist() == [2]
    with pytest.raises(QueryError, match=r"no value for query parameter :d"):
        query_frames("SELECT * FROM df WHERE device_id = :d", {"df": df})


def test_integer_division_is_trino_s(df):
    got = query_frames("SELECT n / 2 AS h, n / 2.0 AS f FROM df ORDER BY n", {"df": df})
    assert got["h"].tolist() == [1, 1, 2, 2, 3]
    assert got["f"].tolist() == [1.0, 1.5, 2.0, 2.5, 3.5]


def test_several_frames_join_and_dotted_names(df):
    devices = pd.DataFrame({"device_id": ["a", "b"], "site": ["north", "south"]})
    got = query_frames(
        "SELECT d.site, sum(m.n) AS n FROM iot.metrics m JOIN devices d "
        "ON m.device_id = d.device_id GROUP BY 1 ORDER BY 1",
        {"iot.metrics": df, "devices": devices},
    )
    assert got.to_dict("list") == {"site": ["north", "south"], "n": [14, 7]}
    # an unqualified name finds a dotted frame by its last part
    assert len(query_frames("SELECT * FROM metrics", {"iot.metrics": df})) == 5


def test_a_cte_shadows_nothing_and_is_not_a_frame(df):
    got = query_frames(
        "WITH df AS (SELECT * FROM metrics WHERE n > 4) SELECT count(*) AS c FROM df",
        {"metrics": df},
    )
    assert got["c"].tolist() == [2]


def test_time_series_functions_run_over_frames(df):
    got = query_frames(
        "SELECT device_id, interpolate_linear(create_time_series(time, cpu), "
        "from_iso8601_timestamp('2024-06-01T11:00:30Z')) AS v FROM df "
        "WHERE device_id = 'a' GROUP BY device_id",
        {"df": df},
    )
    assert got["v"].tolist() == [2.0]  # halfway between 1.0 at :10 and 3.0 at :50


def test_nulls_and_types_come_back_as_the_engine_gives_them():
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=3, freq="s"),
            "cat": pd.Categorical(["x", "y", "x"]),
            "s": pd.array(["p", None, "q"], dtype="string"),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": [True, False, True],
        }
    )
    got = query_frames("SELECT cat, s, i, b, time FROM df ORDER BY time", {"df": frame})
    assert got["cat"].tolist() == ["x", "y", "x"]
    # strings are pandas' `str` (Arrow-backed, pandas 3's default): a missing one is NaN
    assert got["s"].dtype == got["cat"].dtype == STRING_DTYPE
    assert got["s"].tolist()[0] == "p" and got["s"].iloc[1] is np.nan
    assert str(got["i"].dtype) == "Int64" and got["i"].isna().tolist() == [False, True, False]
    assert got["b"].tolist() == [True, False, True]
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"


# -- time columns -----------------------------------------------------------------------------


def test_naive_times_are_utc_and_aware_times_are_converted():
    utc = pd.date_range("2024-03-10 00:00", periods=4, freq="30min", tz="UTC")
    naive = pd.DataFrame({"time": utc.tz_localize(None), "x": [1.0, 2.0, 3.0, 4.0]})
    paris = pd.DataFrame({"time": utc.tz_convert("Europe/Paris"), "x": [1.0, 2.0, 3.0, 4.0]})
    micro = naive.assign(time=naive["time"].astype("datetime64[us]"))
    sql = "SELECT hour(time) AS h, bin(time, 1h) AS t, sum(x) AS x FROM df GROUP BY 1, 2"
    want = query_frames(sql, {"df": naive}).sort_values("h").reset_index(drop=True)
    assert want["h"].tolist() == [0, 1] and want["x"].tolist() == [3.0, 7.0]
    for frame in (paris, micro):
        got = query_frames(sql, {"df": frame}).sort_values("h").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
    for frame in (naive, paris, micro):
        assert frame_to_arrow(frame).schema.field("time").type == pa.timestamp("ns", tz="UTC")


def test_other_datetime_columns_and_string_times_become_utc_timestamps():
    frame = pd.DataFrame(
        {
            "time": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00"],
            "seen": pd.to_datetime(["2024-01-01 05:00", "2024-01-01 06:00"]),
        }
    )
    table = frame_to_arrow(frame)
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("seen").type == pa.timestamp("ns", tz="UTC")
    got = query_frames("SELECT count(DISTINCT time) AS c, max(seen) AS s FROM df", {"df": frame})
    assert got["c"].tolist() == [1]  # both strings are midnight UTC
    assert got["s"].iloc[0] == pd.Timestamp("2024-01-01 06:00", tz="UTC")


def test_a_named_index_becomes_columns(df):
    got = query_frames("SELECT max(time) AS t FROM df", {"df": df.set_index("time")})
    assert got["t"].iloc[0] == pd.Timestamp("2024-06-01 11:59:30", tz="UTC")


# -- errors -------------------------------------------------------------------------------------


def test_an_unknown_table_names_the_frames_and_the_nearest(df):
    given = r"table 'dff' is not one of the frames given \('df'\); did you mean 'df'\?"
    with pytest.raises(QueryError, match=given):
        query_frames("SELECT * FROM dff", {"df": df})
    with pytest.raises(QueryError, match=r"frames given \(none\) Pass each table"):
        query_frames("SELECT * FROM df", {})


def test_an_unknown_column_gets_did_you_mean(df):
    with pytest.raises(QueryError, match=r"column 'cpux' does not exist; did you mean 'cpu'\?"):
        query_frames("SELECT cpux FROM df", {"df": df})


def test_syntax_errors_keep_the_caret(df):
    with pytest.raises(QuerySyntaxError) as info:
        query_frames("SELECT avg(cpu FROM df", {"df": df})
    message = str(info.value)
    assert "line 1" in message and "^" in message and "SELECT avg(cpu FROM df" in message


def test_catalog_statements_and_writes_are_refused(df):
    with pytest.raises(QueryError, match="SHOW and DESCRIBE"):
        query_frames("SHOW TABLES", {"df": df})
    with pytest.raises(QueryError, match="read-only"):
        query_frames("DELETE FROM df", {"df": df})


def test_frames_that_cannot_be_tables_are_refused(df):
    with pytest.raises(ValidationError, match="must map table names"):
        query_frames("SELECT 1", [df])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be a pandas DataFrame"):
        query_frames("SELECT * FROM df", {"df": [1, 2]})  # type: ignore[dict-item]
    mixed = pd.DataFrame({"x": [1, "a"]})
    with pytest.raises(ValidationError, match=r"column 'x' of frame 'df'"):
        query_frames("SELECT * FROM df", {"df": mixed})
    with pytest.raises(ValidationError, match="not strings"):
        query_frames("SELECT * FROM df", {"df": pd.DataFrame({0: [1]})})
    with pytest.raises(ValidationError, match=r"holds int64, not times"):
        query_frames("SELECT * FROM df", {"df": pd.DataFrame({"time": [1, 2]})})


# -- differential: the same SQL as DuckDB straight over the frame ---------------------------

QUERIES = [
    "SELECT device_id, bin(time, 1m) AS t, avg(x) AS x, max(y) AS y, count(*) AS c "
    "FROM df GROUP BY 1, 2",
    "SELECT device_id, time, x FROM df WHERE time > ago(30m) AND x > 0",
    "SELECT bin(time, 10m) AS t, approx_percentile(x, 0.5) AS p FROM df GROUP BY 1",
    "SELECT device_id, min(time) AS first, max(time) AS last, sum(y) AS y FROM df "
    "GROUP BY device_id HAVING count(*) > 1",
]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 30))
    offsets = draw(st.lists(st.integers(0, 3_600), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "time": NOW - pd.to_timedelta(offsets, unit="s"),
            "device_id": draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
            "x": draw(
                st.lists(
                    st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3)),
                    min_size=n,
                    max_size=n,
                )
            ),
            "y": draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from(QUERIES))
def test_results_equal_duckdb_straight_over_the_frame(frame, sql):
    got = query_frames(sql, {"df": frame}, now=NOW)
    want = duckdb_reference({"df": frame}, sql, NOW, dimensions=("device_id",))
    assert_results_equal(got, want, ordered=False)
