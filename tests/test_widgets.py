"""Explorer and Monitor (tsstore.widgets) driven from Python over a real store.

Every expected result is computed here independently, with pandas over the frame written.
"""

from __future__ import annotations

import gc
import html
import re
import time
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import pytest

import tsstore
from tsstore.errors import ValidationError
from tsstore.model.durations import parse_duration
from tsstore.simulate import factory_fleet
from tsstore.widgets import (
    Explorer,
    Monitor,
    display_sql,
    explorer_query,
    latest_table_html,
    quote_identifier,
)

NOW = pd.Timestamp("2024-01-01 02:00:00", tz="UTC")


def _fleet() -> pd.DataFrame:
    df = factory_fleet(
        "2024-01-01 00:00", "2024-01-01 02:00", machines=4, factories=2, interval="1m", seed=3
    )
    quote = pd.DataFrame(
        {
            "time": NOW - pd.to_timedelta(["95min", "50min", "20min", "3min"]),
            "device_id": "O'Brien",
            "factory": "f-0",
            "temperature": [60.0, 61.0, 99.5, 62.5],
            "pressure": [100.0, 101.0, 102.0, 103.0],
            "vibration": [1.0, 1.0, 1.0, 1.0],
            "energy": [40.0, 41.0, 42.0, 43.0],
        }
    )
    return pd.concat([df, quote], ignore_index=True)


@pytest.fixture
def fleet() -> pd.DataFrame:
    return _fleet()


@pytest.fixture
def store(tmp_path, fleet):
    client = tsstore.connect(tmp_path / "store", lifecycle_interval=None, clock=lambda: NOW)
    db = client.create_database("factory")
    db.create_table("machines", memory_retention="1d").write(
        fleet, dimensions=["device_id", "factory"]
    )
    yield client
    client.close()


def _expected(
    df: pd.DataFrame,
    measures: Sequence[str],
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    every: str,
    agg: str = "mean",
    by: Sequence[str] = ("device_id", "factory"),
    filters: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Binned aggregates computed with pandas, ordered as the widgets order them."""
    d = df[(df["time"] >= start) & (df["time"] <= end)]
    for col, values in (filters or {}).items():
        d = d[d[col].isin(values)]
    d = d.assign(time=d["time"].dt.floor(parse_duration(every)))
    out = d.groupby([*by, "time"])[list(measures)].agg(agg).reset_index()
    return out[["time", *by, *measures]].sort_values([*by, "time"]).reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.assign(time=got["time"].dt.as_unit("ns")).reset_index(drop=True)
    want = want.assign(time=want["time"].dt.as_unit("ns"))
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _rows(html_text: str) -> dict[str, str]:
    """The table's rows by their data-series (unescaped)."""
    found = re.findall(r'<tr data-series="([^"]*)"([^>]*)>(.*?)</tr>', html_text)
    return {html.unescape(k): attrs + body for k, attrs, body in found}


# -- the plain Python API --------------------------------------------------------------------


def test_query_builders_quote_identifiers_and_bind_values():
    sql, params = explorer_query(
        "my-db",
        "t.x",
        ['temp "C"'],
        start="2024-01-01",
        end="2024-01-02",
        every="90s",
        agg="max",
        by=['op"er'],
        filters={'op"er': ["O'Brien"], "site": []},
    )
    assert 'max("temp ""C""") AS "temp ""C"""' in sql and '"my-db"."t.x"' in sql
    assert "bin(time, 90s)" in sql and "O'Brien" not in sql and ":f_0" in sql
    assert params["f_0"] == ["O'Brien"] and "f_site" not in params  # empty: no filter
    shown = display_sql(sql, params)
    assert "'O''Brien'" in shown and "from_iso8601_timestamp('2024-01-02T00:00:00Z')" in shown
    assert quote_identifier('a"b') == '"a""b"'
    with pytest.raises(ValidationError, match="unknown aggregate 'median'"):
        explorer_query("d", "t", ["m"], start=NOW, end=NOW, agg="median")
    with pytest.raises(ValidationError, match="no measure selected"):
        explorer_query("d", "t", [], start=NOW, end=NOW)
    with pytest.raises(ValidationError, match="not a duration"):
        explorer_query("d", "t", ["m"], start=NOW, end=NOW, every="1 minute; DROP")


# -- Explorer ---------------------------------------------------------------------------------


def test_explorer_defaults_chart_the_first_measure(store, fleet):
    ex = Explorer(store)
    assert (ex.database.value, ex.table.value) == ("factory", "machines")
    assert ex.measures.options == ("temperature", "pressure", "vibration", "energy")
    assert ex.measures.value == ("temperature",) and ex.by.value == ("device_id", "factory")
    assert set(ex.filters) == {"device_id", "factory"}
    assert "O'Brien" in ex.filters["device_id"].options
    start, end = ex.time_range.value
    assert start <= fleet["time"].min() and end >= fleet["time"].max()
    assert 50 <= len(ex.time_range.options) <= 101
    _same(ex.data, _expected(fleet, ["temperature"], start=start, end=end, every="1m"))
    caption = ex.caption.value
    assert f'data-rows="{len(ex.data)}"' in caption and 'data-series="5"' in caption
    assert "tsstore-explorer" in ex.widget._dom_classes
    assert "text/html" in ex.chart.outputs[0]["data"]  # a bokeh chart, rendered
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    ex.close()


def test_every_control_reruns_the_query(store, fleet):
    ex = Explorer(store, measures=["temperature"])
    runs = []
    store_query = store.query

    def counting(sql, params=None, **kw):
        runs.append(sql)
        return store_query(sql, params, **kw)

    store.query = counting
    try:
        ex.measures.value = ("temperature", "pressure")
        start, end = ex.time_range.value
        want = _expected(fleet, ["temperature", "pressure"], start=start, end=end, every="1m")
        _same(ex.data, want)

        ex.filters["device_id"].value = ("O'Brien", "m-0001")
        filters = {"device_id": ["O'Brien", "m-0001"]}
        want = _expected(
            fleet, ["temperature", "pressure"], start=start, end=end, every="1m", filters=filters
        )
        _same(ex.data, want)
        assert set(ex.data["device_id"]) == {"O'Brien", "m-0001"}

        values = [v for _, v in ex.time_range.options]
        ex.time_range.value = (values[20], values[70])
        kw = {"start": values[20], "end": values[70], "filters": filters}
        _same(ex.data, _expected(fleet, ["temperature", "pressure"], every="1m", **kw))

        ex.every.value = "15m"
        _same(ex.data, _expected(fleet, ["temperature", "pressure"], every="15m", **kw))

        ex.agg.value = "max"
        want = _expected(fleet, ["temperature", "pressure"], every="15m", agg="max", **kw)
        _same(ex.data, want)

        ex.by.value = ("factory",)
        want = _expected(
            fleet, ["temperature", "pressure"], every="15m", agg="max", by=["factory"], **kw
        )
        _same(ex.data, want)
        assert len(runs) == 6  # one query per change
    finally:
        store.query = store_query
    factories = set(fleet[fleet["device_id"].isin(filters["device_id"])]["factory"])
    assert set(ex.data["factory"]) == factories
    assert f'data-series="{len(factories)}"' in ex.caption.value


def test_shown_sql_runs_unchanged_and_values_are_parameters(store, fleet):
    ex = Explorer(store, table="factory.machines", measures=["temperature"], every="5m")
    ex.filters["device_id"].value = ("O'Brien",)
    sql, params = ex.last_query
    assert "O'Brien" not in sql and ":f_device_id" in sql and params["f_device_id"] == ["O'Brien"]
    assert "'O''Brien'" in ex.sql.value
    shown = ex.sql.value
    ex.sql.value = "SELECT 1"  # an edit in the browser is undone: the text is what ran
    assert ex.sql.value == shown
    pd.testing.assert_frame_equal(store.query(ex.sql.value), ex.data)
    assert ex.data["temperature"].tolist() == [60.0, 61.0, 99.5, 62.5]  # the quoted device only
    ex.time_range.value = ex.time_range.value[0], [v for _, v in ex.time_range.options][50]
    pd.testing.assert_frame_equal(store.query(ex.sql.value), ex.data)


def test_identifiers_with_quotes_spaces_and_dots(store):
    t = store.create_database("my-db").create_table("t.x", memory_retention="1d")
    frame = pd.DataFrame(
        {
            "time": NOW - pd.to_timedelta(["3min", "2min", "1min"]),
            'op "er"': ["a b", "O'Brien", "a b"],
            'temp "C"': [1.0, 2.0, 3.0],
        }
    )
    t.write(frame, dimensions=['op "er"'])
    ex = Explorer(store, database="my-db", table="t.x")
    assert ex.measures.value == ('temp "C"',)
    assert ex.data[['op "er"', 'temp "C"']].values.tolist() == [
        ["O'Brien", 2.0],
        ["a b", 1.0],
        ["a b", 3.0],
    ]
    ex.filters['op "er"'].value = ("O'Brien",)
    assert ex.data['temp "C"'].tolist() == [2.0]
    pd.testing.assert_frame_equal(store.query(ex.sql.value), ex.data)


def test_switching_tables_and_refreshing(store, fleet):
    db = store.database("factory")
    single = db.create_table("single", memory_retention="1d")
    single.write_records(
        [
            {
                "Dimensions": [{"Name": "host", "Value": h}],
                "MeasureName": name,
                "MeasureValue": str(v),
                "MeasureValueType": "DOUBLE",
                "Time": str((NOW - pd.Timedelta(minutes=m)).value // 10**6),
                "TimeUnit": "MILLISECONDS",
            }
            for h, name, v, m in [("a", "cpu", 1.5, 5), ("a", "mem", 7.0, 5), ("b", "cpu", 2.5, 4)]
        ]
    )
    ex = Explorer(store)
    ex.filters["device_id"].value = ("m-0002",)
    ex.table.value = "single"
    assert ex.measures.value == ("measure_value::double",)
    assert set(ex.filters) == {"host", "measure_name"}  # rebuilt for the table
    assert ex.filters["measure_name"].options == ("cpu", "mem")
    assert ex.data[["host", "measure_name", "measure_value::double"]].values.tolist() == [
        ["a", "cpu", 1.5],
        ["a", "mem", 7.0],
        ["b", "cpu", 2.5],
    ]

    ex.table.value = "machines"
    ex.filters["device_id"].value = ("m-0002",)
    before = ex.time_range.value
    late = pd.DataFrame(
        {
            "time": [NOW + pd.Timedelta(minutes=5)],
            "device_id": ["m-0002"],
            "factory": ["f-0"],
            "temperature": [123.0],
        }
    )
    db.table("machines").write(late, dimensions=["device_id", "factory"])
    ex.refresh()
    assert ex.time_range.value[0] == before[0] and ex.time_range.value[1] > before[1]
    assert ex.filters["device_id"].value == ("m-0002",)  # selections kept
    assert ex.data["temperature"].iloc[-1] == 123.0


def test_explorer_errors_name_the_fix(store):
    with pytest.raises(ValidationError, match="tsstore client"):
        Explorer("not a store")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"unknown measures \['temp'\].*temperature"):
        Explorer(store, measures=["temp"])
    with pytest.raises(ValidationError, match=r"unknown table 'machine'.*machines"):
        Explorer(store, database="factory", table="machine")
    with pytest.raises(ValidationError, match="unknown database"):
        Explorer(store, database="nope")
    ex = Explorer(store)
    ex.measures.value = ()
    assert "tsstore-error" in ex.caption.value and "no measure selected" in ex.caption.value
    assert ex.data.empty and ex.sql.value == ""
    with pytest.raises(ValidationError, match="no measure selected"):
        ex.run()


# -- Monitor ----------------------------------------------------------------------------------


def _latest(df: pd.DataFrame, measures: Sequence[str], start: pd.Timestamp) -> pd.DataFrame:
    d = df[(df["time"] >= start) & (df["time"] <= NOW)].sort_values("time")
    return d.groupby("device_id")[["time", *measures]].last()


def test_monitor_latest_values_heatmaps_and_thresholds(store, fleet):
    table = store.table("factory.machines")
    m = Monitor(
        table,
        ["temperature", "vibration"],
        window="1h",
        thresholds={"temperature": (None, 75.0), "vibration": (0.5, None)},
        autostart=False,
    )
    try:
        assert m.every == "1m" and not m.running and m.refreshes == 1
        start = m.window_params()["start"]
        assert start == NOW - pd.Timedelta("1h")
        want = _latest(fleet, ["temperature", "vibration"], start)
        got = m.latest.set_index("device_id")
        assert got.index.tolist() == want.index.tolist()
        assert got["temperature"].tolist() == want["temperature"].tolist()
        assert got["vibration"].tolist() == want["vibration"].tolist()
        binned = _expected(
            fleet, ["temperature", "vibration"], start=start, end=NOW, every="1m", by=["device_id"]
        )
        _same(m.data, binned)
        rows = _rows(m.values.value)
        for device, rec in want.iterrows():
            hot = 'data-measure="temperature" class="tsstore-alarm"' in rows[device]
            assert hot == (rec["temperature"] > 75.0), device
            low = 'data-measure="vibration" class="tsstore-alarm"' in rows[device]
            assert low == (rec["vibration"] < 0.5), device
        alarms = int((want["temperature"] > 75).sum() + (want["vibration"] < 0.5).sum())
        assert f'data-alarms="{alarms}"' in m.status.value
        assert "text/html" in m.chart.outputs[0]["data"]
        heat = m.figure.HeatMap.I  # one heatmap per measure, series top to bottom
        assert list(heat.get_dimension("device_id").values) == sorted(want.index)[::-1]
        labels = list(heat.get_dimension("time").values)
        assert labels == sorted(labels) and labels[0] == "01:00:00" and len(labels) == 60
        assert "from_iso8601_timestamp('2024-01-01T01:00:00Z')" in m.sql.value
        pd.testing.assert_frame_equal(store.query(m.sql.value), m.data)
        assert m.scores is None and '<tr data-series="m-0001">' in m.values.value
    finally:
        m.close()


def test_monitor_marks_anomalies_once_scores_exist(store, fleet):
    m = Monitor(store.table("factory.machines"), "temperature", window="30m", autostart=False)
    assert m.scores is None
    scores = store.database("factory").create_table("machines_anomalies", memory_retention="1d")
    scores.write(
        pd.DataFrame(
            {
                "time": NOW - pd.to_timedelta(["9min", "2min", "9min", "2min", "50min"]),
                "device_id": ["m-0001", "m-0001", "O'Brien", "O'Brien", "m-0003"],
                "score": [0.1, 0.9, 0.95, 0.2, 0.99],  # m-0003's is outside the window
            }
        ),
        dimensions=["device_id"],
    )
    m.refresh()
    assert m.scores == {"m-0001": 0.9, "O'Brien": 0.2}
    rows = _rows(m.values.value)
    marked = {k for k, row in rows.items() if 'class="tsstore-anomaly"' in row}
    assert marked == {"m-0001"}
    assert 'data-anomalies="1"' in m.status.value
    assert m.latest.set_index("device_id")["score"].get("m-0001") == 0.9
    m.close()
    none = Monitor("factory.machines", ["temperature"], store=store, anomalies=None)
    assert none.scores is None and "score" not in none.latest
    none.close()


def test_monitor_over_a_query(store, fleet):
    sql = (
        "SELECT bin(time, 5m) AS time, device_id, max(temperature) AS hottest "
        "FROM factory.machines WHERE time BETWEEN :start AND :end GROUP BY 1, 2"
    )
    with Monitor(
        "factory.machines",
        sql,
        store=store,
        window="1h",
        thresholds={"hottest": (None, 90.0)},
        autostart=False,
    ) as m:
        assert m.measures == ["hottest"]
        d = fleet[(fleet["time"] >= NOW - pd.Timedelta("1h")) & (fleet["time"] <= NOW)]
        d = d.assign(time=d["time"].dt.floor("5min"))
        want = d.groupby(["device_id", "time"])["temperature"].max().groupby("device_id").last()
        got = m.latest.set_index("device_id")["hottest"]
        assert got.to_dict() == want.to_dict()
        rows = _rows(m.values.value)
        assert {k for k, r in rows.items() if "tsstore-alarm" in r} == set(want[want > 90].index)
    assert m.closed


def test_monitor_refreshes_in_the_background_until_stopped(store):
    table = store.table("factory.machines")
    m = Monitor(table, ["temperature"], refresh="0.02s", window="10m")
    try:
        assert m.running
        _wait(lambda: m.refreshes >= 3)
        table.write(
            pd.DataFrame(
                {
                    "time": [NOW - pd.Timedelta(seconds=1)],
                    "device_id": ["m-0000"],
                    "factory": ["f-0"],
                    "temperature": [321.0],
                }
            ),
            dimensions=["device_id", "factory"],
        )
        _wait(lambda: "321" in m.values.value)
        m.stop()
        assert not m.running and "paused" in m.status.value
        count = m.refreshes
        time.sleep(0.1)  # five intervals: nothing runs any more
        assert m.refreshes == count
        m.start()
        _wait(lambda: m.refreshes > count)
    finally:
        m.close()
    assert not m.running and m.widget.comm is None
    with pytest.raises(ValidationError, match="closed"):
        m.start()


def test_a_forgotten_monitor_stops_its_thread(store):
    m = Monitor(store.table("factory.machines"), ["temperature"], refresh="0.02s")
    thread = m._thread
    assert thread is not None and thread.is_alive()
    del m
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_monitor_errors_name_the_fix(store):
    with pytest.raises(ValidationError, match="needs the store"):
        Monitor("factory.machines", ["temperature"])
    with pytest.raises(ValidationError, match="does not exist"):
        Monitor("factory.nope", ["temperature"], store=store)
    table = store.table("factory.machines")
    with pytest.raises(ValidationError, match=r"unknown measures \['temp'\]"):
        Monitor(table, ["temp"], autostart=False)
    with pytest.raises(ValidationError, match="'temp' is neither a measure"):
        Monitor(table, "temp", autostart=False)
    with pytest.raises(ValidationError, match="not a dimension"):
        Monitor(table, ["temperature"], by="temperature", autostart=False)
    with pytest.raises(ValidationError, match="not monitored"):
        Monitor(table, ["temperature"], thresholds={"pressure": (0, 1)}, autostart=False)
    with pytest.raises(ValidationError, match="not a table"):
        Monitor(table, ["temperature"], anomalies="scores", autostart=False)
    with pytest.raises(ValidationError, match="not a duration"):
        Monitor(table, ["temperature"], refresh="soon", autostart=False)


def test_latest_table_html_escapes_and_marks():
    latest = pd.DataFrame(
        {"d": ["<b>", "x"], "time": [NOW, NOW], "t": [10.0, float("nan")]}, index=[0, 1]
    )
    text = latest_table_html(latest, series="d", measures=["t"], thresholds={"t": (None, 5)})
    assert 'data-series="&lt;b&gt;"' in text and "<td><b></td>" not in text
    assert text.count("tsstore-alarm") == 1 and "&mdash;" in text


def test_first_split_keeps_the_chart_readable(tmp_path):
    """A large fleet is split by its fewest-valued dimension at first (not 1000 curves)."""
    from tsstore import widgets

    assert widgets._default_split(["device_id", "factory"], {"device_id": 1000, "factory": 5}) == (
        "factory",
    )
    assert widgets._default_split(["a", "b"], {"a": 3, "b": 4}) == ("a", "b")
    assert widgets._default_split(["a"], {"a": widgets.MAX_DEFAULT_SERIES + 1}) == ()
    s = tsstore.connect(tmp_path / "big", lifecycle_interval=None, clock=lambda: NOW)
    table = s.create_database("plant").create_table("metrics", memory_retention="1d")
    n = widgets.MAX_DEFAULT_SERIES + 10
    table.write(
        pd.DataFrame(
            {
                "device_id": [f"d{i}" for i in range(n)],
                "factory": [f"f{i % 3}" for i in range(n)],
                "time": [NOW - pd.Timedelta("1min")] * n,
                "temperature": [float(i) for i in range(n)],
            }
        ),
        dimensions=["device_id", "factory"],
    )
    ex = widgets.Explorer(s, database="plant", table="metrics")
    try:
        assert ex.by.value == ("factory",)
        assert sorted(ex.data["factory"].unique()) == ["f0", "f1", "f2"]
        ex.by.value = ("device_id", "factory")  # the user can still split by every machine
        assert ex.data["device_id"].nunique() == n
    finally:
        ex.close()
        s.close()
