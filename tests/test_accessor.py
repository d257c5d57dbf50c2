"""The ``df.ts`` and ``ds.ts`` accessors: analysis that agrees with pandas and with tsstore's
SQL over the same rows, writes that read back, and errors that name the fix."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsstore
import tsstore.accessor  # registers df.ts and ds.ts
from tsstore.errors import QueryError, ValidationError
from tsstore.query.engine import STRING_DTYPE

NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")
T0 = pd.Timestamp("2024-06-01 11:00")
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(*seconds: float) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in seconds])


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": at(5, 12, 47, 3, 33),
            "device_id": ["a", "a", "a", "b", "b"],
            "cpu": [1.0, 2.0, 5.0, 10.0, 4.0],
            "n": [1, 2, 3, 4, 5],
        }
    )


@pytest.fixture
def store(tmp_path):
    s = tsstore.connect(tmp_path / "store", clock=lambda: NOW, lifecycle_interval=None)
    yield s
    s.close()


def utc(*seconds: float) -> list[pd.Timestamp]:
    return [t.tz_localize("UTC") for t in at(*seconds)]


# -- columns: time, dimensions, measures -----------------------------------------------------


def test_defaults_pick_time_dimensions_and_measures(df):
    frame = df.rename(columns={"time": "ts"}).assign(ok=True, site=pd.Categorical(["x"] * 5))
    assert frame.ts.time_column() == "ts"
    assert frame.ts.dimensions() == ["device_id", "site"]
    assert frame.ts.measures() == ["cpu", "n", "ok"]
    assert frame.ts.measures(dimensions=["device_id"]) == ["cpu", "n", "ok"]


def test_a_missing_time_column_names_the_columns_and_the_fix():
    frame = pd.DataFrame({"ts": ["2024-01-01"], "device_id": ["a"], "cpu": [1.0]})
    for call in (
        lambda: frame.ts.bin("1m"),
        lambda: frame.ts.interpolate(),
        lambda: frame.ts.write(None),
        lambda: frame.ts.to_xarray(),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        message = str(info.value)
        assert "no time column" in message and "['ts', 'device_id', 'cpu']" in message
        assert "time='<column>'" in message and "pd.to_datetime" in message
    with pytest.raises(ValidationError, match=r"time column 'when' is not in the frame"):
        frame.ts.bin("1m", time="when")
    with pytest.raises(ValidationError, match=r"holds object, not datetimes"):
        frame.ts.bin("1m", time="ts")


def test_several_datetime_columns_need_time():
    frame = pd.DataFrame({"a": at(1), "b": at(2), "x": [1.0]})
    with pytest.raises(ValidationError, match=r"several datetime columns \['a', 'b'\]"):
        frame.ts.bin("1m")
    assert frame.ts.bin("1m", time="b")["b"].tolist() == utc(0)


def test_a_datetime_index_is_the_time(df):
    want = df.ts.bin("10s")
    pd.testing.assert_frame_equal(df.set_index("time").ts.bin("10s"), want)
    unnamed = df.set_index("time").rename_axis(None)
    pd.testing.assert_frame_equal(unnamed.ts.bin("10s"), want)
    assert unnamed.ts.sql("SELECT count(*) AS c FROM df WHERE time > :t", {"t": T0})["c"][0] == 5


def test_nat_times_and_bad_arguments_are_refused(df):
    with pytest.raises(ValidationError, match=r"1 NaT values.*dropna\(subset=\['time'\]\)"):
        df.assign(time=df["time"].where(df["n"] != 2)).ts.bin("1m")
    with pytest.raises(ValidationError, match="not a duration"):
        df.ts.bin("fortnight")
    with pytest.raises(ValidationError, match="positive duration"):
        df.ts.bin("0s")
    with pytest.raises(ValidationError, match=r"write dimensions=\['device_id'\]"):
        df.ts.bin("1m", dimensions="device_id")
    with pytest.raises(ValidationError, match=r"measures columns \['gpu'\] are not in the frame"):
        df.ts.bin("1m", measures=["gpu"])
    with pytest.raises(ValidationError, match="unknown interpolation 'cubic'"):
        df.ts.interpolate("cubic")
    with pytest.raises(ValidationError, match=r"needs the fill value: value=0"):
        df.ts.interpolate("fill")
    with pytest.raises(ValidationError, match="no numeric measure column"):
        df[["time", "device_id"]].ts.bin("1m")


# -- bin and resample ---------------------------------------------------------------------------


def test_bin_by_hand(df):
    got = df.ts.bin("10s")
    assert got.columns.tolist() == ["device_id", "time", "cpu", "n"]
    assert got["device_id"].tolist() == ["a", "a", "a", "b", "b"]
    assert got["time"].tolist() == utc(0, 10, 40, 0, 30)
    assert got["cpu"].tolist() == [1.0, 2.0, 5.0, 10.0, 4.0]
    wide = df.ts.bin("1m", agg="max")
    assert wide["cpu"].tolist() == [5.0, 10.0] and wide["n"].tolist() == [3, 5]
    avg = df.ts.bin("1m", agg="avg", dimensions=[])  # SQL's name; one series
    assert avg.columns.tolist() == ["time", "cpu", "n"] and avg["cpu"].tolist() == [4.4]
    both = df.ts.bin("1m", agg=["min", "max"], measures=["cpu"])
    assert both.columns.tolist() == ["device_id", "time", "cpu_min", "cpu_max"]


def test_bins_are_aligned_to_the_epoch_before_1970_too():
    frame = pd.DataFrame(
        {"time": pd.to_datetime(["1969-12-31 23:59:59", "1970-01-01 00:00:01"]), "x": [1.0, 2.0]}
    )
    got = frame.ts.bin("1m")
    assert got["time"].tolist() == [
        pd.Timestamp("1969-12-31 23:59", tz="UTC"),
        pd.Timestamp("1970-01-01 00:00", tz="UTC"),
    ]
    # and the same as the SQL's bin()
    sql = frame.ts.sql("SELECT bin(time, 1m) AS t FROM df ORDER BY t")
    assert sql["t"].tolist() == got["time"].tolist()


def test_aware_times_are_converted_to_utc(df):
    paris = df.assign(time=df["time"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris"))
    pd.testing.assert_frame_equal(paris.ts.bin("1h"), df.ts.bin("1h"))


@st.composite
def long_frames(draw: st.DrawFn, max_rows: int = 40) -> pd.DataFrame:
    n = draw(st.integers(1, max_rows))
    seconds = draw(st.lists(st.integers(-600, 600), min_size=n, max_size=n))
    values = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3))
    return pd.DataFrame(
        {
            "time": [T0 + pd.Timedelta(seconds=s) for s in seconds],
            "device_id": draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
            "x": draw(st.lists(values, min_size=n, max_size=n)),
            "y": draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)),
        }
    )


def as_frame_strings(result: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """A SQL result (strings as ``str``) with its string columns in the frame's dtype (the
    accessor's pandas methods keep the frame's ``object``)."""
    assert (result["device_id"].dtype == STRING_DTYPE) and frame["device_id"].dtype == object
    return result.astype({"device_id": object})


EVERY = st.sampled_from(["1s", "7s", "10s", "1m", "5m", "1h"])


@FAST
@given(long_frames(), EVERY, st.sampled_from(["mean", "max", "sum", "count", "last"]))
def test_bin_equals_a_pandas_floor_groupby(frame, every, agg):
    got = frame.ts.bin(every, agg=agg)
    floored = frame.assign(time=frame["time"].dt.floor(pd.Timedelta(every)).dt.tz_localize("UTC"))
    want = floored.groupby(["device_id", "time"])[["x", "y"]].agg(agg).reset_index()
    pd.testing.assert_frame_equal(got, want)


@FAST
@given(long_frames(), EVERY)
def test_bin_equals_the_sql_bin(frame, every):
    got = frame.ts.bin(every, agg="avg")
    want = frame.ts.sql(
        f"SELECT device_id, bin(time, {every}) AS time, avg(x) AS x, avg(y) AS y FROM df "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    want["time"] = want["time"].astype("datetime64[ns, UTC]")
    want = as_frame_strings(want, frame)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_resample_has_every_bin_of_each_series(df):
    got = df.ts.resample("10s")
    assert got["device_id"].tolist() == ["a"] * 5 + ["b"] * 4
    assert got["time"].tolist() == utc(0, 10, 20, 30, 40, 0, 10, 20, 30)
    np.testing.assert_array_equal(
        got["cpu"].to_numpy(), [1.0, 2.0, np.nan, np.nan, 5.0, 10.0, np.nan, np.nan, 4.0]
    )
    counts = df.ts.resample("10s", agg="count")
    assert counts["cpu"].tolist() == [1, 1, 0, 0, 1, 1, 0, 0, 1]
    assert counts["cpu"].dtype == np.int64


@FAST
@given(long_frames(), EVERY)
def test_resample_is_bin_plus_the_empty_bins(frame, every):
    got = frame.ts.resample(every)
    binned = frame.ts.bin(every)
    kept = got.dropna(subset=["x"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, binned, check_dtype=False)
    step = pd.Timedelta(every)
    for device, rows in got.groupby("device_id"):
        first, last = binned.loc[binned["device_id"] == device, "time"].agg(["min", "max"])
        assert rows["time"].tolist() == list(pd.date_range(first, last, freq=step))


# -- interpolate ---------------------------------------------------------------------------------


def test_interpolations_by_hand(df):
    lin = df.ts.interpolate("linear", "10s")
    assert lin["cpu"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 8.0, 6.0, 4.0]
    locf = df.ts.interpolate("locf", "10s")
    assert locf["cpu"].tolist() == [1.0, 2.0, 2.0, 2.0, 5.0, 10.0, 10.0, 10.0, 4.0]
    fill = df.ts.interpolate("fill", "10s", value=-1)
    assert fill["cpu"].tolist() == [1.0, 2.0, -1.0, -1.0, 5.0, 10.0, -1.0, -1.0, 4.0]
    assert lin["time"].tolist() == utc(0, 10, 20, 30, 40, 0, 10, 20, 30)
    # the natural cubic spline through (0, 0), (10, 1), (20, 0): moments 0, -3/100, 0, so at
    # 5 s and 15 s it is 0.6875
    hump = pd.DataFrame({"time": at(0, 10, 20), "v": [0.0, 1.0, 0.0]})
    spline = hump.ts.interpolate("spline_cubic", "5s")
    np.testing.assert_allclose(spline["v"], [0.0, 0.6875, 1.0, 0.6875, 0.0], rtol=1e-12)
    # a spline through two points is the line
    two = pd.DataFrame({"time": at(0, 30), "v": [0.0, 3.0]})
    assert two.ts.interpolate("spline_cubic", "10s")["v"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_each_measure_fills_its_own_gaps():
    frame = pd.DataFrame(
        {
            "time": at(0, 10, 20, 30),
            "a": pd.array([1.0, None, 3.0, None], dtype="Float64"),
            "b": pd.array([None, 4, 6, 8], dtype="Int64"),
        }
    )
    got = frame.ts.interpolate("linear", "10s")
    np.testing.assert_array_equal(got["a"].to_numpy(), [1.0, 2.0, 3.0, np.nan])  # no extrapolation
    np.testing.assert_array_equal(got["b"].to_numpy(), [np.nan, 4.0, 6.0, 8.0])
    locf = frame.ts.interpolate("locf", "10s")
    np.testing.assert_array_equal(locf["a"].to_numpy(), [1.0, 1.0, 3.0, 3.0])


def sql_interpolation(frame: pd.DataFrame, method: str, every: str, value: float) -> pd.DataFrame:
    """tsstore's SQL gap filling over the frame: bin, average, interpolate, unnest."""
    call = {
        "linear": "interpolate_linear(create_time_series(t, x), {seq})",
        "locf": "interpolate_locf(create_time_series(t, x), {seq})",
        "spline_cubic": "interpolate_spline_cubic(create_time_series(t, x), {seq})",
        "fill": "interpolate_fill(create_time_series(t, x), {seq}, :fill)",
    }[method].format(seq=f"sequence(min(t), max(t), {every})")
    return frame.ts.sql(
        f"WITH b AS (SELECT device_id, bin(time, {every}) AS t, avg(x) AS x FROM df "
        f"GROUP BY 1, 2), s AS (SELECT device_id, {call} AS ts FROM b GROUP BY device_id) "
        "SELECT device_id, p.time AS time, p.value AS x FROM s CROSS JOIN UNNEST(ts) AS p(time, "
        "value) ORDER BY 1, 2",
        {"fill": value},
    )


@FAST
@given(
    long_frames(max_rows=25),
    st.sampled_from(["7s", "30s", "1m"]),
    st.sampled_from(["linear", "locf", "spline_cubic", "fill"]),
)
def test_interpolate_equals_the_sql_functions(frame, every, method):
    got = frame.ts.interpolate(method, every, value=-1.5, measures=["x"])
    want = sql_interpolation(frame, method, every, -1.5)
    want["time"] = want["time"].astype("datetime64[ns, UTC]")
    want = as_frame_strings(want, frame)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)


# -- derivative ----------------------------------------------------------------------------------


def test_derivative_by_hand(df):
    got = df.ts.derivative()
    assert got["device_id"].tolist() == ["a", "a", "b"]
    assert got["time"].tolist() == utc(12, 47, 33)
    np.testing.assert_allclose(got["cpu"], [1 / 7, 3 / 35, -6 / 30])
    per_minute = df.ts.derivative("1m", measures=["cpu"])
    np.testing.assert_allclose(per_minute["cpu"], [60 / 7, 180 / 35, -12.0])
    rising = df.ts.derivative(non_negative=True)  # b's cpu falls: NaN, its n still rises
    assert rising["time"].tolist() == utc(12, 47, 33)
    assert np.isnan(rising["cpu"].iloc[2]) and rising["n"].iloc[2] == pytest.approx(1 / 30)
    assert df.ts.derivative(non_negative=True, measures=["cpu"])["time"].tolist() == utc(12, 47)


@FAST
@given(long_frames(max_rows=25), st.sampled_from(["1s", "1m", "1h"]), st.booleans())
def test_derivative_equals_derivative_linear(frame, unit, non_negative):
    frame = frame.drop_duplicates(["device_id", "time"])
    got = frame.ts.derivative(unit, non_negative=non_negative, measures=["x"])
    function = "non_negative_derivative_linear" if non_negative else "derivative_linear"
    want = frame.ts.sql(
        f"WITH s AS (SELECT device_id, {function}(create_time_series(time, x), {unit}) AS ts "
        "FROM df GROUP BY device_id) SELECT device_id, p.time AS time, p.value AS x "
        "FROM s CROSS JOIN UNNEST(ts) AS p(time, value) ORDER BY 1, 2"
    )
    want = as_frame_strings(want, frame)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)


# -- series and the cube -------------------------------------------------------------------------


def test_series_groups_one_series_each_in_time_order(df):
    groups = df.ts.series()
    assert len(groups) == 2
    keys = [key for key, _ in groups]
    assert keys == [("a",), ("b",)]
    b = groups.get_group(("b",))
    assert b["time"].tolist() == list(at(3, 33)) and b["cpu"].tolist() == [10.0, 4.0]
    two = df.assign(site=["x", "y", "x", "x", "x"]).ts.series()
    assert len(two) == 3
    alone = df.drop(columns="device_id").ts.series()
    assert len(alone) == 1 and alone.get_group(0)["time"].is_monotonic_increasing


def test_to_xarray_is_the_table_cube(df, store):
    table = store.create_database("iot").create_table("metrics")
    table.write(df, dimensions=["device_id"])
    want = table.to_xarray(freq="10s")
    got = df.ts.to_xarray("10s")
    assert dict(got.sizes) == {"series": 2, "time": 5}
    assert got.attrs == {"freq": "10s", "agg": "mean"}
    want.attrs = dict(got.attrs)  # the table cube also names its table
    xr.testing.assert_identical(got, want)
    np.testing.assert_array_equal(got["cpu"].sel(series=1).values, [10, np.nan, np.nan, 4, np.nan])


def test_the_cube_comes_back_as_the_binned_frame(df):
    ds = df.ts.to_xarray("10s")
    back = ds.ts.to_frame()
    binned = df.ts.bin("10s")
    pd.testing.assert_frame_equal(back, binned.assign(n=binned["n"].astype(float)))
    with_gaps = ds.ts.to_frame(dropna=False)
    assert len(with_gaps) == 10 and with_gaps["cpu"].isna().sum() == 5
    with pytest.raises(ValidationError, match=r"no 'time' dimension.*ds.rename"):
        ds.rename(time="t").ts.to_frame()


def test_a_cube_with_a_dimension_of_its_own():
    ds = xr.Dataset(
        {"v": (("device_id", "time"), [[1.0, 2.0], [3.0, np.nan]])},
        coords={"device_id": ["a", "b"], "time": pd.date_range("2024-01-01", periods=2, freq="h")},
    )
    got = ds.ts.to_frame()
    assert got.columns.tolist() == ["device_id", "time", "v"]
    assert got["device_id"].tolist() == ["a", "a", "b"] and got["v"].tolist() == [1.0, 2.0, 3.0]
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"


# -- write ---------------------------------------------------------------------------------------


def test_write_creates_the_table_and_reads_back(df, store):
    result = df.ts.write(store, table="iot.metrics")
    assert result.ok and result.records_ingested["Total"] == 5
    table = store.table("iot.metrics")
    assert list(table.schema.dimensions) == ["device_id"]
    back = table.read()
    assert back.columns.tolist() == ["device_id", "time", "cpu", "n"]
    want = df.assign(time=df["time"].dt.tz_localize("UTC")).sort_values(["device_id", "time"])
    assert back["time"].tolist() == want["time"].tolist()
    assert back["cpu"].tolist() == want["cpu"].tolist()
    assert back["n"].tolist() == want["n"].tolist()
    got = store.query(
        "SELECT device_id, bin(time, 1m) AS t, sum(n) AS n FROM iot.metrics GROUP BY 1, 2 "
        "ORDER BY 1"
    )
    assert got["n"].tolist() == [6, 9]
    # the same rows again into the table object are de-duplicated (stored: none, refused: none)
    again = df.ts.write(table)
    assert again.ok and again.records_ingested["Total"] == 0
    assert store.query("SELECT count(*) AS c FROM iot.metrics")["c"].tolist() == [5]
    other = df.ts.write(store.database("iot"), table="copy", measure_name="m")
    assert other.ok and store.table("iot.copy").read()["measure_name"].unique().tolist() == ["m"]


def test_write_takes_time_and_dimensions(df, store):
    frame = df.rename(columns={"time": "ts"}).assign(site="north")
    frame.ts.write(store, table="iot.sites", dimensions=["site"], time="ts")
    table = store.table("iot.sites")
    assert list(table.schema.dimensions) == ["site"]
    assert sorted(table.schema.measures) == ["cpu", "device_id", "n"]
    assert len(table.read()) == 5


def test_a_measure_name_column_writes_one_measure_name_per_value(df, store):
    src = store.create_database("iot").create_table("source")
    src.write(df.iloc[:3], dimensions=["device_id"], measure_name="fast")
    src.write(df.iloc[3:], dimensions=["device_id"], measure_name="slow")
    read = src.read()
    assert read["measure_name"].tolist() == ["fast"] * 3 + ["slow"] * 2
    result = read.ts.write(store, table="iot.copy")
    assert result.ok and result.records_ingested["Total"] == 5
    pd.testing.assert_frame_equal(store.table("iot.copy").read(), read)
    with pytest.raises(ValidationError, match="drop one of them"):
        read.ts.write(store, table="iot.copy", measure_name="x")


def test_write_errors_name_the_fix(df, store):
    with pytest.raises(ValidationError, match=r"needs the table: pass table='database.table'"):
        df.ts.write(store)
    with pytest.raises(ValidationError, match=r"not a dict"):
        df.ts.write({})
    with pytest.raises(ValidationError, match="NaN"):
        df.assign(cpu=[1.0, np.nan, 2.0, 3.0, 4.0]).ts.write(store, table="iot.metrics")


def test_the_cube_writes_its_points(df, store):
    ds = df.ts.to_xarray("10s")
    result = ds.ts.write(store, table="iot.cube")
    assert result.ok and result.records_ingested["Total"] == 5
    back = store.table("iot.cube").read()
    binned = df.ts.bin("10s")
    assert back["time"].tolist() == binned["time"].tolist()
    assert back["cpu"].tolist() == binned["cpu"].tolist()
    # a bin where one variable is missing stores the other
    partial = ds.copy(deep=True)
    partial["n"][0, 0] = np.nan
    partial.ts.write(store, table="iot.partial")
    got = store.table("iot.partial").read()
    assert len(got) == 5 and got["n"].isna().tolist() == [True, False, False, False, False]


# -- plots and SQL ----------------------------------------------------------------------------


def test_plots_are_hvplot_charts(df):
    chart = df.ts.plot(y="cpu")
    assert isinstance(chart, hv.NdOverlay) and sorted(chart.keys()) == ["a", "b"]
    assert chart["a"].dimension_values("cpu").tolist() == [1.0, 2.0, 5.0]
    cube = df.ts.to_xarray("10s").ts.plot(y="cpu")
    assert isinstance(cube, hv.NdOverlay) and sorted(cube.keys()) == ["a", "b"]
    with pytest.raises(ValidationError, match="unknown chart kind"):
        df.ts.plot("pie")


def test_sql_over_the_frame(df):
    now = pd.Timestamp("2024-06-01 11:01:00", tz="UTC")
    got = df.ts.sql(
        "SELECT device_id, bin(time, 1m) AS t, avg(cpu) AS cpu FROM df "
        "WHERE time > ago(56s) AND n >= :low GROUP BY 1, 2 ORDER BY 1",
        {"low": 2},
        now=now,
    )
    # b's 11:00:03 is too old, a's 11:00:05 has n < 2
    assert got["device_id"].tolist() == ["a", "b"]
    assert got["cpu"].tolist() == [3.5, 4.0]
    assert got["t"].tolist() == [pd.Timestamp("2024-06-01 11:00", tz="UTC")] * 2
    named = df.ts.sql("SELECT count(*) AS c FROM metrics", name="metrics")
    assert named["c"].tolist() == [5]
    with pytest.raises(QueryError, match=r"table 'dff' .*did you mean 'df'\?"):
        df.ts.sql("SELECT * FROM dff")


# -- anomalies ---------------------------------------------------------------------------------
def _spiky(n: int = 400) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"ts": t, "device_id": "m-1", "temp": rng.normal(0, 0.1, n)})
    b = pd.DataFrame({"ts": t, "device_id": "m-2", "temp": rng.normal(0, 0.1, n)})
    a.loc[300, "temp"] += 5
    b.loc[350:352, "temp"] += 5
    return pd.concat([a, b], ignore_index=True)


def test_anomalies_scores_each_series_and_groups_events():
    from tsstore.anomaly import RollingZScore

    df = _spiky()
    scores = df.ts.anomalies(RollingZScore(window=50))
    assert list(scores.columns) == ["device_id", "ts", "score", "alarm"]
    assert len(scores) == len(df)
    worst = scores.loc[scores.groupby("device_id")["score"].idxmax(), "ts"].tolist()
    assert worst[0] == df.loc[300, "ts"]
    ev = df.ts.anomalies(RollingZScore(window=50), events=True, gap=1)
    assert set(ev["device_id"]) == {"m-1", "m-2"}
    m2 = ev[ev.device_id == "m-2"].sort_values("peak_score").iloc[-1]
    assert m2["start"] == df.loc[350, "ts"]


def test_plot_shades_the_anomaly_events():
    import holoviews as hv
    from bokeh.models import BoxAnnotation, Span

    df = _spiky()
    fig = hv.render(df.ts.plot(anomalies=True, y="temp"))
    marks = [r for r in fig.center + fig.renderers if isinstance(r, (BoxAnnotation, Span))]
    assert marks
    ev = df.ts.anomalies(events=True)
    fig2 = hv.render(df.ts.plot(anomalies=ev, y="temp"))
    marks2 = [r for r in fig2.center + fig2.renderers if isinstance(r, (BoxAnnotation, Span))]
    assert len(marks2) == len(ev)
