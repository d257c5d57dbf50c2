"""Timestream's time-series functions end to end: Timestream SQL over a real store, checked
against independent numpy computations (and, for the properties, through the kernel)."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.errors import QueryError
from tsstore.query import kernel
from tsstore.query.dialect import parse_statement
from tsstore.query.translate import to_duckdb_sql

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
BASE = NOW - pd.Timedelta("1h")
DB = "tsfuncs"
SECOND = pd.Timedelta("1s")
_NAMES = itertools.count()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    c = tsstore.connect(
        tmp_path_factory.mktemp("timeseries"),
        clock=lambda: NOW,
        database=DB,
        lifecycle_interval=None,
    )
    c.create_database(DB)
    yield c
    c.close()


def table(client, frame: pd.DataFrame, dimensions: tuple[str, ...] = ("host",)) -> str:
    """A new table holding ``frame`` (multi-measure rows); its name."""
    name = f"series{next(_NAMES)}"
    client.database(DB).create_table(name).write(frame, dimensions=list(dimensions))
    return name


def at(seconds: Any) -> pd.DatetimeIndex:
    """Timestamps ``BASE + seconds``."""
    return pd.DatetimeIndex(BASE + pd.to_timedelta(np.asarray(seconds, dtype=float), unit="s"))


def seconds(times: Any) -> np.ndarray:
    return np.asarray((pd.DatetimeIndex(times) - BASE) / SECOND, dtype=float)


def _utc(x: Any) -> pd.Timestamp:
    if isinstance(x, int | np.integer):  # pyarrow gives nested timestamps as nanoseconds
        return pd.Timestamp(int(x), tz="UTC")
    ts = pd.Timestamp(x)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def points(cell: Any) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A timeseries from a result (a list of ``{time, value}``) as (times, values)."""
    cell = [] if cell is None else list(cell)
    times = pd.DatetimeIndex([_utc(p["time"]) for p in cell], dtype="datetime64[ns, UTC]")
    return times, np.array([p["value"] for p in cell], dtype=object)


def floats(values: np.ndarray) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def one(client, sql: str) -> Any:
    got = client.query(sql)
    assert got.shape == (1, 1), got
    return got.iat[0, 0]


def by_host(df: pd.DataFrame, column: str) -> dict[str, Any]:
    return dict(zip(df["host"], df[column], strict=True))


def natural_spline(x: np.ndarray, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Reference natural cubic spline: a dense solve for the second derivatives."""
    n = len(x)
    h = np.diff(x)
    a = np.zeros((n, n))
    rhs = np.zeros(n)
    a[0, 0] = a[-1, -1] = 1.0
    for i in range(1, n - 1):
        a[i, i - 1 : i + 2] = h[i - 1], 2 * (h[i - 1] + h[i]), h[i]
        rhs[i] = 6 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1])
    m = np.linalg.solve(a, rhs)
    k = np.clip(np.searchsorted(x, q, side="right") - 1, 0, n - 2)
    s0, s1, hk = q - x[k], x[k + 1] - q, h[k]
    return (
        (m[k] * s1**3 + m[k + 1] * s0**3) / (6 * hk)
        + (y[k] / hk - m[k] * hk / 6) * s1
        + (y[k + 1] / hk - m[k + 1] * hk / 6) * s0
    )


# --------------------------------------------------------------------------------------------
# The typical Timestream queries, unchanged
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cpu(client) -> tuple[str, pd.DataFrame]:
    """Single-measure records (``measure_value::double``): cpu of two hosts at irregular
    times, and a memory measure the queries filter out."""
    rng = np.random.default_rng(7)
    rows = []
    for host in ("host-a", "host-b"):
        secs = np.sort(rng.choice(np.arange(0, 3000), size=40, replace=False))
        for s, v in zip(secs, rng.uniform(0, 100, size=40), strict=True):
            rows.append((host, "cpu_utilization", at([s])[0], float(v)))
            rows.append((host, "memory", at([s])[0], float(v) * 10))
    frame = pd.DataFrame(rows, columns=["hostname", "measure_name", "time", "value"])
    name = f"devops{next(_NAMES)}"
    records = [
        {
            "Dimensions": [{"Name": "hostname", "Value": r.hostname}],
            "MeasureName": r.measure_name,
            "MeasureValue": repr(r.value),
            "MeasureValueType": "DOUBLE",
            "Time": str(r.time.value),
            "TimeUnit": "NANOSECONDS",
        }
        for r in frame.itertuples()
    ]
    assert client.database(DB).create_table(name).write_records(records).ok
    return name, frame[frame["measure_name"] == "cpu_utilization"]


TYPICAL = (
    "SELECT hostname, interpolate_linear(create_time_series(time, measure_value::double), "
    "sequence(min(time), max(time), 15s)) AS ts FROM {db}.{t} "
    "WHERE measure_name = 'cpu_utilization' GROUP BY hostname"
)


def test_the_typical_query_runs_unchanged(client, cpu):
    name, frame = cpu
    got = client.query(TYPICAL.format(db=DB, t=name))
    assert sorted(got["hostname"]) == ["host-a", "host-b"]
    for host, cell in zip(got["hostname"], got["ts"], strict=True):
        mine = frame[frame["hostname"] == host].sort_values("time")
        times, values = points(cell)
        want_times = pd.date_range(mine["time"].min(), mine["time"].max(), freq="15s")
        assert times.equals(want_times)
        want = np.interp(seconds(want_times), seconds(mine["time"]), mine["value"])
        np.testing.assert_allclose(floats(values), want, rtol=1e-12)


def test_the_typical_query_in_a_cte_then_unnested(client, cpu):
    name, frame = cpu
    sql = (
        f"WITH interpolated AS ({TYPICAL.format(db=DB, t=name)}) "
        "SELECT hostname, t.time, t.value FROM interpolated "
        "CROSS JOIN UNNEST(ts) AS t(time, value) ORDER BY hostname, t.time"
    )
    got = client.query(sql)
    assert list(got.columns) == ["hostname", "time", "value"]
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"
    for host, part in got.groupby("hostname"):
        mine = frame[frame["hostname"] == host].sort_values("time")
        want = np.interp(seconds(part["time"]), seconds(mine["time"]), mine["value"])
        np.testing.assert_allclose(part["value"], want, rtol=1e-12)
        assert part["time"].iloc[0] == mine["time"].min()


def test_the_documented_binned_query(client, cpu):
    """AWS's example: bin, average, then interpolate the bins at 15s."""
    name, frame = cpu
    sql = (
        "WITH binned AS (SELECT hostname, BIN(time, 30s) AS binned_timestamp, "
        f"ROUND(AVG(measure_value::double), 2) AS avg_cpu FROM {DB}.{name} "
        "WHERE measure_name = 'cpu_utilization' AND hostname = 'host-a' AND time > ago(2h) "
        "GROUP BY hostname, BIN(time, 30s)), "
        "interpolated AS (SELECT hostname, INTERPOLATE_LINEAR("
        "CREATE_TIME_SERIES(binned_timestamp, avg_cpu), "
        "SEQUENCE(min(binned_timestamp), max(binned_timestamp), 15s)) AS ts "
        "FROM binned GROUP BY hostname) "
        "SELECT time, ROUND(value, 2) AS v FROM interpolated CROSS JOIN UNNEST(ts) "
        "ORDER BY time"
    )
    got = client.query(sql)  # as documented: an UNNEST without column names
    assert list(got.columns) == ["time", "v"]
    named = client.query(sql.replace("UNNEST(ts)", "UNNEST(ts) AS u(time, value)"))
    pd.testing.assert_frame_equal(got, named)
    mine = frame[frame["hostname"] == "host-a"]
    bins = mine.groupby(mine["time"].dt.floor("30s"))["value"].mean().round(2)
    want = np.interp(seconds(got["time"]), seconds(bins.index), bins.to_numpy())
    np.testing.assert_allclose(got["v"], want, atol=0.0051)  # ROUND to 2 places


# --------------------------------------------------------------------------------------------
# create_time_series and the timeseries type
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(client) -> tuple[str, pd.DataFrame]:
    """Two hosts, rows written out of order, nanosecond times, NULL measures, and double,
    bigint and varchar measures."""
    times = at([5, 1, 3, 2, 4, 0]) + pd.to_timedelta([7, 0, 123, 0, 999, 1], unit="ns")
    frame = pd.DataFrame(
        {
            "time": list(times) * 2,
            "host": ["a"] * 6 + ["b"] * 6,
            "v": pd.array([5.0, 1.0, None, 2.0, 4.0, 0.5] * 2, dtype="Float64"),
            "n": pd.array([50, 10, 30, None, 40, 0] * 2, dtype="Int64"),
            "s": ["f", "b", "d", "c", "e", "a"] * 2,
        }
    )
    return table(client, frame), frame


def test_create_time_series_sorts_skips_nulls_and_keeps_nanoseconds(client, mixed):
    name, frame = mixed
    got = client.query(
        f"SELECT host, create_time_series(time, v) AS v, create_time_series(time, n) AS n, "
        f"create_time_series(time, s) AS s FROM {name} GROUP BY host ORDER BY host"
    )
    assert got["host"].tolist() == ["a", "b"]
    mine = frame[frame["host"] == "a"].sort_values("time")
    for col, cast in (("v", float), ("n", int), ("s", str)):
        for cell in got[col]:
            times, values = points(cell)
            keep = mine[col].notna()
            assert times.equals(pd.DatetimeIndex(mine["time"][keep]))
            assert [cast(x) for x in values] == [cast(x) for x in mine[col][keep]]
            assert all(type(x) is type(values[0]) for x in values)


def test_unnest_gives_typed_columns_and_ordinality(client, mixed):
    name, frame = mixed
    got = client.query(
        f"WITH s AS (SELECT host, create_time_series(time, s) AS ts FROM {name} GROUP BY host) "
        "SELECT host, u.time, u.value, u.n FROM s "
        "CROSS JOIN UNNEST(ts) WITH ORDINALITY AS u(time, value, n) "
        "WHERE host = 'b' ORDER BY u.n"
    )
    assert got["value"].tolist() == ["a", "b", "c", "d", "e", "f"]
    assert got["n"].tolist() == [1, 2, 3, 4, 5, 6]
    assert got["time"].tolist() == sorted(frame["time"].unique())
    assert got["time"].iloc[2].nanosecond == 0 and got["time"].iloc[3].nanosecond == 123


def test_filter_transform_and_reduce_on_a_timeseries(client, mixed):
    name, _ = mixed
    got = client.query(
        f"WITH s AS (SELECT host, create_time_series(time, v) AS ts FROM {name} "
        "WHERE host = 'a' GROUP BY host) SELECT "
        "filter(ts, x -> x.value > 1.5) AS big, "
        "transform(ts, x -> x.value * 10) AS tenfold, "
        "transform(ts, x -> x.time) AS times, "
        "reduce(ts, 0.0, (s, x) -> s + x.value, s -> s) AS total, "
        "cardinality(filter(ts, x -> x.time > from_iso8601_timestamp('2024-06-01T23:00:02Z'))) "
        "AS late, element_at(ts, 1).value AS first FROM s"
    ).iloc[0]
    times, values = points(got["big"])
    assert floats(values).tolist() == [2.0, 4.0, 5.0]
    assert seconds(times).round().tolist() == [2, 4, 5]
    assert list(got["tenfold"]) == [5.0, 10.0, 20.0, 40.0, 50.0]
    assert [_utc(t).nanosecond for t in got["times"]] == [1, 0, 0, 999, 7]
    assert got["total"] == 12.5 and got["late"] == 2 and got["first"] == 0.5  # v(3s) is NULL


def test_empty_groups_and_null_series(client, mixed):
    name, _ = mixed
    every = (
        "create_time_series(time, {c}) AS ts, "
        "interpolate_linear(create_time_series(time, {c}), now()) AS lin, "
        "integral_trapezoidal(create_time_series(time, {c})) AS area, "
        "derivative_linear(create_time_series(time, {c}), 1s) AS rate"
    )
    none = client.query(
        f"SELECT host, {every.format(c='v')} FROM {name} WHERE v > 100 GROUP BY host"
    )
    assert len(none) == 0
    # a global aggregate over no row: one row of NULLs
    got = client.query(f"SELECT {every.format(c='v')} FROM {name} WHERE v > 100")
    assert len(got) == 1 and got.iloc[0].isna().all()
    # a group whose values are all NULL: a NULL series
    got = client.query(
        f"SELECT host, {every.format(c='n')} FROM {name} WHERE time = "
        f"from_iso8601_timestamp('{(BASE + 2 * SECOND).isoformat()}') GROUP BY host"
    )
    assert len(got) == 2 and got.drop(columns="host").isna().all().all()


def test_a_literal_timeseries_may_be_unsorted_with_duplicates_and_nulls(client):
    series = (
        "CAST(ARRAY[ROW(TIMESTAMP '2024-01-01 00:00:20', 30.0), "
        "ROW(TIMESTAMP '2024-01-01 00:00:00', 10.0), ROW(NULL, 99.0), "
        "ROW(TIMESTAMP '2024-01-01 00:00:10', NULL), "
        "ROW(TIMESTAMP '2024-01-01 00:00:00', 10.0)] AS ARRAY(ROW(time TIMESTAMP, value DOUBLE)))"
    )
    got = client.query(
        f"SELECT interpolate_linear({series}, TIMESTAMP '2024-01-01 00:00:05') AS lin, "
        f"interpolate_locf({series}, TIMESTAMP '2024-01-01 00:00:15') AS locf, "
        f"integral_trapezoidal({series}) AS area, "
        f"derivative_linear({series}, 1s) AS rate"
    ).iloc[0]
    assert got["lin"] == 15.0 and got["locf"] == 10.0 and got["area"] == 400.0
    times, values = points(got["rate"])
    assert times.tolist() == [pd.Timestamp("2024-01-01 00:00:20", tz="UTC")]
    assert floats(values).tolist() == [1.0]


# --------------------------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def irregular(client) -> tuple[str, pd.DataFrame]:
    rng = np.random.default_rng(11)
    parts = []
    for host, n in (("a", 30), ("b", 12), ("c", 1)):
        secs = np.sort(rng.choice(np.arange(0, 1200), size=n, replace=False))
        parts.append(
            pd.DataFrame({"time": at(secs), "host": host, "v": rng.normal(50, 20, size=n)})
        )
    frame = pd.concat(parts, ignore_index=True)
    return table(client, frame.sample(frac=1.0, random_state=1)), frame


def test_interpolate_linear_matches_numpy_and_does_not_extrapolate(client, irregular):
    name, frame = irregular
    got = client.query(
        "SELECT host, interpolate_linear(create_time_series(time, v), "
        "sequence(min(time) - 1m, max(time) + 1m, 7s)) AS ts "
        f"FROM {name} GROUP BY host"
    )
    for host, cell in by_host(got, "ts").items():
        mine = frame[frame["host"] == host].sort_values("time")
        grid = pd.date_range(
            mine["time"].min() - pd.Timedelta("1m"),
            mine["time"].max() + pd.Timedelta("1m"),
            freq="7s",
        )
        inside = grid[(grid >= mine["time"].min()) & (grid <= mine["time"].max())]
        times, values = points(cell)
        assert times.equals(inside)
        want = np.interp(seconds(inside), seconds(mine["time"]), mine["v"])
        np.testing.assert_allclose(floats(values), want, rtol=1e-12)


def test_interpolations_at_one_timestamp(client, irregular):
    name, frame = irregular
    mine = frame[frame["host"] == "a"].sort_values("time")
    t0, t1 = mine["time"].iloc[3], mine["time"].iloc[4]
    mid = t0 + (t1 - t0) / 3
    iso = {
        k: f"from_iso8601_timestamp('{t.isoformat()}')" for k, t in {"t0": t0, "mid": mid}.items()
    }
    got = client.query(
        f"SELECT interpolate_linear(create_time_series(time, v), {iso['mid']}) AS lin, "
        f"interpolate_linear(create_time_series(time, v), {iso['t0']}) AS exact, "
        f"interpolate_linear(create_time_series(time, v), ago(1d)) AS before, "
        f"interpolate_linear(create_time_series(time, v), now()) AS after, "
        f"interpolate_spline_cubic(create_time_series(time, v), {iso['t0']}) AS spline, "
        f"interpolate_locf(create_time_series(time, v), {iso['mid']}) AS locf, "
        f"interpolate_locf(create_time_series(time, v), now()) AS locf_after, "
        f"interpolate_fill(create_time_series(time, v), {iso['mid']}, -1.0) AS fill "
        f"FROM {name} WHERE host = 'a'"
    ).iloc[0]
    v0, v1 = mine["v"].iloc[3], mine["v"].iloc[4]
    assert got["lin"] == pytest.approx(v0 + (v1 - v0) / 3, rel=1e-12)
    assert got["exact"] == v0 and got["spline"] == v0
    assert pd.isna(got["before"]) and pd.isna(got["after"])
    assert got["locf"] == v0 and got["locf_after"] == mine["v"].iloc[-1]
    assert got["fill"] == -1.0


def test_the_form_is_chosen_by_type_when_the_syntax_does_not_tell(client, irregular):
    name, frame = irregular
    got = client.query(
        f"WITH s AS (SELECT host, create_time_series(time, v) AS ts, max(time) AS last, "
        f"array_agg(time) AS times FROM {name} GROUP BY host) "
        "SELECT host, interpolate_linear(ts, last) AS one, "
        "interpolate_locf(ts, times) AS many FROM s"
    )
    for host, value in by_host(got, "one").items():
        mine = frame[frame["host"] == host].sort_values("time")
        assert value == mine["v"].iloc[-1]
        times, values = points(by_host(got, "many")[host])
        assert times.equals(pd.DatetimeIndex(mine["time"]))
        assert floats(values).tolist() == mine["v"].tolist()


def test_interpolate_spline_cubic_by_hand(client):
    name = table(client, pd.DataFrame({"time": at([0, 10, 20]), "host": "h", "v": [1.0, 5.0, 3.0]}))
    got = one(
        client,
        "SELECT interpolate_spline_cubic(create_time_series(time, v), "
        f"sequence(min(time) - 5s, max(time) + 5s, 5s)) FROM {name}",
    )
    times, values = points(got)
    # natural spline: M1 = 6 * ((3 - 5) / 10 - (5 - 1) / 10) / (2 * 20) = -0.09, M0 = M2 = 0
    assert seconds(times).tolist() == [0, 5, 10, 15, 20]
    np.testing.assert_allclose(floats(values), [1.0, 3.5625, 5.0, 4.5625, 3.0], rtol=1e-12)


def test_interpolate_spline_cubic_matches_a_dense_solve(client, irregular):
    name, frame = irregular
    got = client.query(
        "SELECT host, interpolate_spline_cubic(create_time_series(time, v), "
        f"sequence(min(time), max(time), 3s)) AS ts FROM {name} GROUP BY host"
    )
    for host, cell in by_host(got, "ts").items():
        mine = frame[frame["host"] == host].sort_values("time")
        times, values = points(cell)
        if len(mine) == 1:  # a single point answers its own time only
            assert floats(values).tolist() == mine["v"].tolist()
            continue
        want = natural_spline(seconds(mine["time"]), mine["v"].to_numpy(), seconds(times))
        np.testing.assert_allclose(floats(values), want, rtol=1e-9, atol=1e-9)


def test_a_spline_through_a_line_is_the_line(client):
    secs = np.array([0.0, 1.5, 4.0, 4.5, 9.0, 20.0])
    name = table(client, pd.DataFrame({"time": at(secs), "host": "h", "v": 3.0 - 0.25 * secs}))
    got = one(
        client,
        "SELECT interpolate_spline_cubic(create_time_series(time, v), "
        f"sequence(min(time), max(time), 500ms)) FROM {name}",
    )
    times, values = points(got)
    np.testing.assert_allclose(floats(values), 3.0 - 0.25 * seconds(times), atol=1e-12)


def test_interpolate_locf_and_fill(client):
    name = table(client, pd.DataFrame({"time": at([0, 10, 20]), "host": "h", "v": [1.0, 2.0, 3.0]}))
    got = client.query(
        "SELECT interpolate_locf(create_time_series(time, v), "
        "sequence(min(time) - 5s, max(time) + 10s, 5s)) AS locf, "
        "interpolate_fill(create_time_series(time, v), "
        "sequence(min(time) - 5s, max(time) + 10s, 5s), -1) AS fill "
        f"FROM {name}"
    ).iloc[0]
    times, values = points(got["locf"])
    assert seconds(times).tolist() == [0, 5, 10, 15, 20, 25, 30]  # nothing before the first
    assert floats(values).tolist() == [1, 1, 2, 2, 3, 3, 3]  # carried past the last
    times, values = points(got["fill"])
    assert seconds(times).tolist() == [-5, 0, 5, 10, 15, 20, 25, 30]
    assert floats(values).tolist() == [-1, 1, -1, 2, -1, 3, -1, -1]


def test_a_single_point_series(client):
    name = table(client, pd.DataFrame({"time": at([30]), "host": "h", "v": [7.0]}))
    ts = "create_time_series(time, v)"
    got = client.query(
        f"SELECT interpolate_linear({ts}, sequence(min(time) - 1s, max(time) + 1s, 1s)) AS lin, "
        f"interpolate_spline_cubic({ts}, max(time)) AS spline, "
        f"interpolate_locf({ts}, max(time) + 1h) AS locf, "
        f"derivative_linear({ts}, 1s) AS rate, integral_trapezoidal({ts}) AS area, "
        f"correlate_pearson({ts}, {ts}) AS r FROM {name}"
    ).iloc[0]
    times, values = points(got["lin"])
    assert seconds(times).tolist() == [30] and floats(values).tolist() == [7.0]
    assert got["spline"] == 7.0 and got["locf"] == 7.0
    assert len(got["rate"]) == 0 and got["area"] == 0.0 and pd.isna(got["r"])


# --------------------------------------------------------------------------------------------
# Derivatives and integrals
# --------------------------------------------------------------------------------------------


def test_derivative_of_a_line_and_of_a_parabola(client):
    secs = np.array([0.0, 1.0, 3.0, 3.5, 7.0, 12.0])
    t1 = np.arange(10.0)
    frame = pd.concat(
        [
            pd.DataFrame({"time": at(secs), "host": "line", "v": 5.0 + 2.0 * secs}),
            pd.DataFrame({"time": at(t1), "host": "parabola", "v": t1**2}),
        ]
    )
    name = table(client, frame)
    got = client.query(
        "SELECT host, derivative_linear(create_time_series(time, v), 1s) AS per_s, "
        f"derivative_linear(create_time_series(time, v), 1m) AS per_m FROM {name} GROUP BY host"
    )
    times, values = points(by_host(got, "per_s")["line"])
    assert seconds(times).tolist() == secs[1:].tolist()  # no derivative at the first point
    np.testing.assert_allclose(floats(values), 2.0, rtol=1e-12)
    np.testing.assert_allclose(floats(points(by_host(got, "per_m")["line"])[1]), 120.0)
    # backward differences of t^2 at unit steps: t_i^2 - t_(i-1)^2 = t_i + t_(i-1)
    times, values = points(by_host(got, "per_s")["parabola"])
    np.testing.assert_allclose(floats(values), t1[1:] + t1[:-1], rtol=1e-12)


def test_non_negative_derivative_drops_the_resets(client):
    counter = [0.0, 10.0, 25.0, 5.0, 15.0, 15.0]  # a counter that resets after 25
    name = table(client, pd.DataFrame({"time": at(np.arange(6) * 10), "host": "h", "v": counter}))
    got = one(
        client,
        f"SELECT non_negative_derivative_linear(create_time_series(time, v), 10s) FROM {name}",
    )
    times, values = points(got)
    assert seconds(times).tolist() == [10, 20, 40, 50]
    assert floats(values).tolist() == [10.0, 15.0, 10.0, 0.0]


def test_integral_trapezoidal(client):
    secs = np.array([0.0, 2.0, 5.0, 11.0, 30.0, 60.0])
    n = 9
    frame = pd.concat(
        [
            pd.DataFrame({"time": at(secs), "host": "line", "v": 2.0 * secs}),
            pd.DataFrame(
                {"time": at(np.arange(n + 1)), "host": "parabola", "v": np.arange(n + 1.0) ** 2}
            ),
        ]
    )
    name = table(client, frame)
    got = client.query(
        "SELECT host, integral_trapezoidal(create_time_series(time, v)) AS per_s, "
        "integral_trapezoidal(create_time_series(time, v), 1m) AS per_m, "
        "integral_trapezoidal(create_time_series(time, v), 500ms) AS per_half_s "
        f"FROM {name} GROUP BY host"
    )
    # exact for a line: the integral of 2t over [0, 60] s is 3600 (default unit: 1s)
    assert by_host(got, "per_s")["line"] == pytest.approx(3600.0, rel=1e-12)
    assert by_host(got, "per_m")["line"] == pytest.approx(60.0, rel=1e-12)
    assert by_host(got, "per_half_s")["line"] == pytest.approx(7200.0, rel=1e-12)
    # trapezoids of t^2 at unit steps over [0, n]: n^3 / 3 + n / 6
    assert by_host(got, "per_s")["parabola"] == pytest.approx(n**3 / 3 + n / 6, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Correlation
# --------------------------------------------------------------------------------------------


def ranks(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(method="average").to_numpy()


def test_correlations_match_numpy_over_the_common_timestamps(client):
    rng = np.random.default_rng(3)
    n = 50
    a = rng.normal(size=n)
    b = 0.6 * a + rng.normal(size=n)
    b = np.round(b, 1)  # ties for the ranks
    a_missing, b_missing = rng.random(n) < 0.1, rng.random(n) < 0.1
    b_missing &= ~a_missing  # every row has a measure
    frame = pd.DataFrame(
        {
            "time": at(np.arange(n) * 5),
            "host": "h",
            "a": pd.array(np.where(a_missing, np.nan, a), dtype="Float64").astype("Float64"),
            "b": pd.array(np.where(b_missing, np.nan, b), dtype="Float64"),
        }
    )
    frame.loc[a_missing, "a"] = pd.NA
    frame.loc[b_missing, "b"] = pd.NA
    name = table(client, frame)
    got = client.query(
        "WITH s AS (SELECT create_time_series(time, a) AS ta, create_time_series(time, b) AS tb "
        f"FROM {name}) SELECT correlate_pearson(ta, tb) AS p, correlate_spearman(ta, tb) AS s, "
        "correlate_pearson(ta, ta) AS self FROM s"
    ).iloc[0]
    both = ~a_missing & ~b_missing
    assert got["p"] == pytest.approx(np.corrcoef(a[both], b[both])[0, 1], rel=1e-12)
    want = np.corrcoef(ranks(a[both]), ranks(b[both]))[0, 1]
    assert got["s"] == pytest.approx(want, rel=1e-12)
    assert got["self"] == pytest.approx(1.0)


def test_correlation_is_null_when_undefined(client):
    frame = pd.DataFrame(
        {"time": at([0, 1, 2]), "host": "h", "a": [1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0]}
    )
    name = table(client, frame)
    got = client.query(
        "WITH s AS (SELECT create_time_series(time, a) AS ta, create_time_series(time, b) AS tb, "
        f"create_time_series(time + 1s, b) AS shifted FROM {name}) "
        "SELECT correlate_pearson(ta, tb) AS constant, correlate_spearman(ta, tb) AS rconstant, "
        "correlate_pearson(tb, shifted) AS overlap2, correlate_pearson(tb, CAST(NULL AS "
        "ARRAY(ROW(time TIMESTAMP, value DOUBLE)))) AS missing FROM s"
    ).iloc[0]
    assert pd.isna(got["constant"]) and pd.isna(got["rconstant"]) and pd.isna(got["missing"])
    assert got["overlap2"] == pytest.approx(1.0)  # only times 1s and 2s are in both


# --------------------------------------------------------------------------------------------
# sequence, errors, threads, many rows
# --------------------------------------------------------------------------------------------


def test_sequence_of_timestamps(client):
    start = pd.Timestamp("2024-01-01 00:00:00.000000123", tz="UTC")
    got = client.query(
        f"SELECT sequence(from_nanoseconds({start.value}), from_nanoseconds({start.value}) + 3us, "
        "1us) AS ns, sequence(TIMESTAMP '2024-01-31', TIMESTAMP '2024-04-30', INTERVAL '1' MONTH) "
        "AS months, sequence(now(), now() - 2h, -1h) AS down, sequence(1, 3) AS ints"
    ).iloc[0]
    assert [_utc(t) for t in got["ns"]] == [start + pd.Timedelta(i, "us") for i in range(4)]
    assert [_utc(t).strftime("%m-%d") for t in got["months"]] == [
        "01-31",
        "02-29",
        "03-31",
        "04-30",
    ]
    assert [_utc(t) for t in got["down"]] == [
        NOW,
        NOW - pd.Timedelta("1h"),
        NOW - pd.Timedelta("2h"),
    ]
    assert list(got["ints"]) == [1, 2, 3]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT sequence(now(), now() + 1h, 0s)", "step must not be zero"),
        ("SELECT sequence(now(), now() - 1h, 1s)", "stop must be at or after start"),
        ("SELECT sequence(now(), now() - 1s, 1h)", "stop must be at or after start"),
        ("SELECT sequence(now(), now() + 1s, -1h)", "at or before it for a negative step"),
        ("SELECT sequence(now() - 1d, now(), 1us)", "more than 1000000 timestamps"),
        ("SELECT sequence(ago(1h), now())", "sequence over timestamps needs a step"),
        ("SELECT interpolate_linear(1)", "function interpolate_linear takes 2 arguments"),
        ("SELECT create_time_series(now())", "function create_time_series takes 2 arguments"),
    ],
)
def test_errors_name_the_function_and_the_fix(client, sql, message):
    with pytest.raises(QueryError, match=message):
        client.query(sql)


def test_errors_from_the_kernel(client, mixed):
    name, _ = mixed
    with pytest.raises(QueryError, match="derivative_linear: the interval must be positive"):
        client.query(f"SELECT derivative_linear(create_time_series(time, v), 0s) FROM {name}")
    with pytest.raises(QueryError, match="ts_interpolate_linear_series"):
        client.query(f"SELECT interpolate_linear(create_time_series(time, s), now()) FROM {name}")


def test_every_kernel_thread_has_the_functions(client, irregular):
    name, _ = irregular
    sql = (
        f"SELECT host, integral_trapezoidal(create_time_series(time, v)) AS a FROM {name} "
        "GROUP BY host ORDER BY host"
    )
    want = client.query(sql)
    with ThreadPoolExecutor(4) as pool:
        for got in pool.map(lambda _: client.query(sql), range(8)):
            pd.testing.assert_frame_equal(got, want)


def test_the_distributed_plan_gives_the_same_answer(client, irregular):
    name, _ = irregular
    sql = (
        "SELECT host, interpolate_spline_cubic(create_time_series(time, v), "
        "sequence(min(time), max(time), 10s)) AS ts, "
        f"integral_trapezoidal(create_time_series(time, v), 1m) AS area FROM {name} "
        "GROUP BY host ORDER BY host"
    )
    want = client.query(sql, distributed=False)
    got = client.query(sql, distributed=True)  # Dask's threads: their kernel connections
    assert got["host"].tolist() == want["host"].tolist()
    np.testing.assert_allclose(got["area"], want["area"], rtol=1e-12)
    for a, b in zip(got["ts"], want["ts"], strict=True):
        assert points(a)[0].equals(points(b)[0])
        np.testing.assert_allclose(floats(points(a)[1]), floats(points(b)[1]), rtol=1e-12)


def test_a_global_create_time_series_over_several_parts(tmp_path):
    with tsstore.connect(tmp_path, clock=lambda: NOW, database=DB, lifecycle_interval=None) as c:
        t = c.create_database(DB).create_table("parts", memory_retention="6h")
        times = pd.date_range(NOW - pd.Timedelta("10h"), NOW, freq="10min", inclusive="left")
        t.write(pd.DataFrame({"time": times, "host": "a", "v": 1.0}), dimensions=["host"])
        c.run_lifecycle()  # some rows to the magnetic tier: several parts
        got = c.query("SELECT create_time_series(time, v) AS ts FROM parts", distributed=True)
        assert len(got) == 1 and len(got["ts"].iloc[0]) == len(times)
        assert c.last_query_stats.distributed.startswith("gather")
        sql = "SELECT host, create_time_series(time, v) AS ts FROM parts GROUP BY host"
        got = c.query(sql, distributed=True)
        assert len(got) == 1 and len(got["ts"].iloc[0]) == len(times)
        assert c.last_query_stats.distributed.startswith("shuffle")


def kernel_query(sql: str, data: pa.Table) -> pd.DataFrame:
    """Timestream SQL over an Arrow table ``pts``, translated and run on this thread's kernel
    connection (the store's path without the storage)."""
    con = kernel.connection()
    con.register("pts", data)
    try:
        return (
            con.sql(to_duckdb_sql(parse_statement(sql).ast, now=NOW)).to_arrow_table().to_pandas()
        )
    finally:
        con.unregister("pts")


def test_many_rows_span_several_kernel_chunks():
    """More groups than DuckDB's 2048-row chunks: the flattened batches keep rows apart."""
    rng = np.random.default_rng(5)
    groups, per = 5000, 4
    g = np.repeat(np.arange(groups), per)
    offsets = np.sort(rng.integers(0, 10**12, size=(groups, per)), axis=1)
    offsets[:, 1:] += np.arange(1, per)  # distinct times
    t = BASE.value + offsets.ravel()
    v = rng.normal(size=groups * per)
    data = pa.table({"g": g, "time": pa.array(t, pa.timestamp("ns", tz="UTC")), "v": v})
    got = kernel_query(
        "SELECT g, interpolate_linear(create_time_series(time, v), "
        "from_nanoseconds(to_nanoseconds(min(time)) + 500000000000)) AS mid, "
        "integral_trapezoidal(create_time_series(time, v), 1us) AS area FROM pts GROUP BY g",
        data,
    ).sort_values("g")
    tt, vv = offsets.astype(float), v.reshape(groups, per)
    mid = tt[:, :1] + 5e11
    want_mid = np.array(
        [
            np.interp(m, x, y, left=np.nan, right=np.nan)
            for m, x, y in zip(mid[:, 0], tt, vv, strict=True)
        ]
    )
    np.testing.assert_allclose(got["mid"].to_numpy(float), want_mid, rtol=1e-9, equal_nan=True)
    want_area = np.sum((vv[:, 1:] + vv[:, :-1]) / 2 * np.diff(tt, axis=1), axis=1) / 1e3
    np.testing.assert_allclose(got["area"], want_area, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(10**15), 10**15), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=40,
        unique_by=lambda p: p[0],
    )
)
def test_interpolations_at_the_observed_times_return_the_observed_values(pts):
    t = np.array([p[0] for p in pts], dtype=np.int64) + BASE.value  # nanoseconds, unsorted
    v = np.array([p[1] for p in pts])
    data = pa.table({"time": pa.array(t, pa.timestamp("ns", tz="UTC")), "v": v})
    got = kernel_query(
        "SELECT interpolate_linear(create_time_series(time, v), array_agg(time)) AS lin, "
        "interpolate_spline_cubic(create_time_series(time, v), array_agg(time)) AS spline, "
        "interpolate_locf(create_time_series(time, v), array_agg(time)) AS locf, "
        "interpolate_fill(create_time_series(time, v), array_agg(time), 0) AS fill FROM pts",
        data,
    ).iloc[0]
    order = np.argsort(t)
    for col in ("lin", "spline", "locf", "fill"):
        times, values = points(got[col])
        assert [x.value for x in times] == t[order].tolist(), col
        assert floats(values).tolist() == v[order].tolist(), col


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30),
    st.integers(1, 10**6),
)
def test_linear_interpolation_stays_between_its_neighbours(values, step_ns):
    t = BASE.value + np.arange(len(values), dtype=np.int64) * step_ns * 1000
    data = pa.table({"time": pa.array(t, pa.timestamp("ns", tz="UTC")), "v": values})
    got = kernel_query(
        "SELECT interpolate_linear(create_time_series(time, v), "
        f"sequence(min(time), max(time), {max(step_ns // 3, 1)}us)) AS lin FROM pts",
        data,
    ).iloc[0]
    times, out = points(got["lin"])
    k = np.clip(np.searchsorted(t, [x.value for x in times], side="right") - 1, 0, len(t) - 2)
    lo = np.minimum(np.array(values)[k], np.array(values)[k + 1])
    hi = np.maximum(np.array(values)[k], np.array(values)[k + 1])
    out = floats(out)
    assert np.all((out >= lo - 1e-9 * (1 + np.abs(lo))) & (out <= hi + 1e-9 * (1 + np.abs(hi))))
