"""The write and read paths of a table across both tiers, the lifecycle, and recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.errors import RejectedRecordsError, ValidationError
from tsstore.simulate import factory_fleet

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")


class Clock:
    def __init__(self, t: pd.Timestamp = NOW) -> None:
        self.t = t

    def __call__(self) -> pd.Timestamp:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = tsstore.connect(tmp_path / "s", clock=clock, lifecycle_interval=None)
    yield s
    s.close()


@pytest.fixture
def table(store):
    db = store.create_database("iot")
    return db.create_table("metrics", memory_retention="6h", magnetic_retention="30d")


def fleet(hours: float = 2.0, machines: int = 5, end: pd.Timestamp = NOW) -> pd.DataFrame:
    return factory_fleet(end - pd.Timedelta(hours=hours), end, machines=machines, interval="60s")


def as_set(df: pd.DataFrame, cols=("device_id", "time", "temperature")) -> set:
    return set(map(tuple, df[list(cols)].astype(str).to_numpy()))


def test_write_then_read_round_trip(table):
    df = fleet()
    res = table.write(df, dimensions=["device_id", "factory"])
    assert res.records_ingested == {"Total": len(df), "MemoryStore": len(df), "MagneticStore": 0}
    back = table.read()
    assert list(back.columns) == [
        "device_id",
        "factory",
        "time",
        "temperature",
        "pressure",
        "vibration",
        "energy",
    ]
    assert len(back) == len(df)
    expected = df.sort_values(["device_id", "time"]).reset_index(drop=True)
    np.testing.assert_allclose(back["temperature"].to_numpy(float), expected["temperature"])
    assert (back["time"].to_numpy() == expected["time"].to_numpy()).all()
    assert str(back["time"].dtype) == "datetime64[ns, UTC]"


def test_schema_inferred_and_extended(table):
    t0 = NOW - pd.Timedelta("1h")
    table.write(
        pd.DataFrame(
            {"time": [t0], "d": ["a"], "x": [1.5], "n": [3], "ok": [True], "s": ["hi"], "ts": [t0]}
        ),
        dimensions=["d"],
    )
    table.write(
        pd.DataFrame({"time": [t0], "d": ["b"], "e": ["z"], "y": [2.0]}), dimensions=["d", "e"]
    )
    schema = table.describe()
    assert schema["dimensions"] == ["d", "e"]
    assert schema["measures"] == {
        "x": "DOUBLE",
        "n": "BIGINT",
        "ok": "BOOLEAN",
        "s": "VARCHAR",
        "ts": "TIMESTAMP",
        "y": "DOUBLE",
    }
    back = table.read()
    assert back.loc[0, "n"] == 3 and back.loc[0, "ok"] and back.loc[0, "s"] == "hi"
    assert back.loc[0, "ts"] == t0 and pd.isna(back.loc[0, "e"]) and pd.isna(back.loc[0, "y"])
    assert back.loc[1, "e"] == "z" and back.loc[1, "y"] == 2.0 and pd.isna(back.loc[1, "x"])


def test_type_conflict_is_rejected_and_changes_nothing(table):
    t0 = NOW - pd.Timedelta("1h")
    table.write(pd.DataFrame({"time": [t0], "d": ["a"], "x": [1.5]}), dimensions=["d"])
    with pytest.raises(ValidationError, match="'x' is DOUBLE in this table"):
        table.write(pd.DataFrame({"time": [t0], "d": ["b"], "x": ["text"]}), dimensions=["d"])
    assert len(table.read()) == 1


@pytest.mark.parametrize(
    ("df", "match"),
    [
        (pd.DataFrame({"time": [NOW, pd.NaT], "d": ["a", "b"], "x": [1.0, 2.0]}), "NaT at row 1"),
        (pd.DataFrame({"time": [NOW], "d": ["a"], "x": [np.nan]}), "NaN and inf"),
        (pd.DataFrame({"time": [NOW], "d": ["a"], "x": [np.inf]}), "NaN and inf"),
        (pd.DataFrame({"time": [NOW, NOW], "d": ["a", "b"], "x": [1, "a"]}), "mixes types"),
        (pd.DataFrame({"time": [NOW], "d": ["a"], "measure_value": [1.0]}), "reserved"),
        (pd.DataFrame({"time": [NOW], "d": ["a"], "ts_x": [1.0]}), "reserved"),
        (pd.DataFrame({"when": [NOW], "d": ["a"], "x": [1.0]}), "no time column 'time'"),
        (pd.DataFrame({"time": [NOW], "d": ["a"]}), "no measure columns"),
    ],
)
def test_bad_frames_raise_and_store_nothing(table, df, match):
    good = pd.DataFrame({"time": [NOW - pd.Timedelta("1h")], "d": ["z"], "x": [1.0]})
    table.write(good, dimensions=["d"])
    with pytest.raises(ValidationError, match=match):
        table.write(df, dimensions=["d"])
    assert len(table.read()) == 1


def test_missing_dimension_values_are_absent_dimensions_as_in_records(table, tmp_path):
    """A None/NaN in a dimension column is a point without that dimension, as a record that
    does not list it (TSBS's nil tags): one write, the same series as write_records makes."""
    t0 = NOW - pd.Timedelta("1h")
    df = pd.DataFrame(
        {
            "time": [t0, t0, t0 + pd.Timedelta("1s"), t0],
            "truck": ["t1", "t2", "t2", None],
            "driver": ["ann", None, np.nan, "bob"],
            "speed": [1.0, 2.0, 3.0, 4.0],
        }
    )
    result = table.write(df, dimensions=["truck", "driver"])
    assert result.records_ingested["Total"] == 4
    got = table.read().sort_values("speed", ignore_index=True)
    assert got["truck"].tolist() == ["t1", "t2", "t2", None]
    assert got["driver"].tolist() == ["ann", None, None, "bob"]
    # ... the same series as the records path: one series for t2's two points
    with tsstore.connect(tmp_path / "records", clock=lambda: NOW, lifecycle_interval=None) as c:
        other = c.create_database("db1").create_table("tbl", memory_retention="2h")
        records = [
            {
                "Dimensions": [
                    {"Name": k, "Value": str(row[k])}
                    for k in ("truck", "driver")
                    if isinstance(row[k], str)
                ],
                "MeasureName": "m",
                "MeasureValueType": "MULTI",
                "MeasureValues": [{"Name": "speed", "Value": str(row["speed"]), "Type": "DOUBLE"}],
                "Time": str(row["time"].value // 1_000_000),
            }
            for _, row in df.iterrows()
        ]
        other.write_records(records, errors="raise")
        want = other.read().sort_values("speed", ignore_index=True)
        assert want["truck"].tolist() == got["truck"].tolist()
        assert want["driver"].tolist() == got["driver"].tolist()
    assert table.describe()["series"] == 3  # (t1, ann), (t2, -) with two points, (-, bob)


def test_too_many_dimensions(table):
    df = pd.DataFrame({"time": [NOW], "x": [1.0], **{f"d{i}": ["v"] for i in range(129)}})
    with pytest.raises(ValidationError, match="at most 128"):
        table.write(df, dimensions=[f"d{i}" for i in range(129)])


def test_tz_naive_is_utc_and_arrow_columns(table):
    t0 = (NOW - pd.Timedelta("1h")).tz_localize(None)
    df = pd.DataFrame({"time": [t0], "d": ["a"], "x": [1.5]})
    df = df.astype({"x": "double[pyarrow]", "d": "string[pyarrow]"})
    table.write(df, dimensions=["d"])
    back = table.read()
    assert back.loc[0, "time"] == t0.tz_localize("UTC") and back.loc[0, "x"] == 1.5


def test_future_and_old_points_are_outside_the_window(table):
    df = pd.DataFrame({"time": [NOW + pd.Timedelta("16min")], "d": ["a"], "x": [1.0]})
    with pytest.raises(ValidationError, match="ingestion window"):
        table.write(df, dimensions=["d"])
    old = pd.DataFrame({"time": [NOW - pd.Timedelta("31d")], "d": ["a"], "x": [1.0]})
    with pytest.raises(ValidationError, match="ingestion window"):
        table.write(old, dimensions=["d"])
    assert table.read().empty


def test_late_points_go_to_magnetic_and_are_queryable_at_once(table):
    table.run_lifecycle()  # watermark = now - 6h
    late = pd.DataFrame({"time": [NOW - pd.Timedelta("2d")], "d": ["a"], "x": [1.0]})
    res = table.write(late, dimensions=["d"])
    assert res.records_ingested["MagneticStore"] == 1
    assert table.describe()["magnetic_rows"] == 1
    assert table.read()["x"].tolist() == [1.0]


def test_magnetic_store_writes_off_rejects_old_points(table):
    table.update(magnetic_store_writes=False)
    old = pd.DataFrame({"time": [NOW - pd.Timedelta("7h")], "d": ["a"], "x": [1.0]})
    with pytest.raises(ValidationError, match="magnetic_store_writes"):
        table.write(old, dimensions=["d"])
    recs = [
        {
            "Dimensions": [{"Name": "d", "Value": "a"}],
            "MeasureName": "x",
            "MeasureValue": "1",
            "Time": str(int((NOW - pd.Timedelta("7h")).value // 10**6)),
        }
    ]
    res = table.write_records(recs)
    assert res.rejected_records[0]["RecordIndex"] == 0
    assert "ingestion window" in res.rejected_records[0]["Reason"]


def ms(ts: pd.Timestamp) -> str:
    return str(ts.value // 10**6)


def test_write_records_single_and_multi(table):
    t0 = NOW - pd.Timedelta("1h")
    recs = [
        {
            "Dimensions": [{"Name": "device_id", "Value": "m-1"}],
            "MeasureName": "temperature",
            "MeasureValue": "71.5",
            "MeasureValueType": "DOUBLE",
            "Time": ms(t0),
        },
        {
            "Dimensions": [{"Name": "device_id", "Value": "m-1"}],
            "MeasureName": "status",
            "MeasureValue": "ok",
            "MeasureValueType": "VARCHAR",
            "Time": ms(t0),
        },
        {
            "Dimensions": [{"Name": "device_id", "Value": "m-2"}],
            "MeasureName": "metrics",
            "MeasureValueType": "MULTI",
            "Time": ms(t0),
            "MeasureValues": [
                {"Name": "pressure", "Value": "101", "Type": "DOUBLE"},
                {"Name": "cycles", "Value": "7", "Type": "BIGINT"},
            ],
        },
        {"MeasureName": "bad", "MeasureValue": "x", "MeasureValueType": "DOUBLE", "Time": ms(t0)},
    ]
    res = table.write_records(
        recs, common_attributes={"Dimensions": [{"Name": "factory", "Value": "f-1"}]}
    )
    assert res.records_ingested["Total"] == 3
    assert [r["RecordIndex"] for r in res.rejected_records] == [3]
    back = table.read()
    single = back[back["measure_name"] == "temperature"]
    assert single["measure_value::double"].tolist() == [71.5]
    assert set(back["factory"]) == {"f-1"}
    multi = back[back["measure_name"] == "metrics"]
    assert multi["pressure"].tolist() == [101.0] and multi["cycles"].tolist() == [7]
    with pytest.raises(RejectedRecordsError) as err:
        table.write_records(recs[3:], errors="raise")
    assert err.value.rejected_records[0]["RecordIndex"] == 0


def test_upsert_rules(table):
    t0 = NOW - pd.Timedelta("1h")

    def rec(value: str, version: int | None = None) -> dict:
        r = {
            "Dimensions": [{"Name": "d", "Value": "a"}],
            "MeasureName": "x",
            "MeasureValue": value,
            "Time": ms(t0),
        }
        if version is not None:
            r["Version"] = version
        return r

    assert table.write_records([rec("1")]).ok
    assert table.write_records([rec("1")]).ok  # same value: de-duplicated
    res = table.write_records([rec("2")])  # different value, same version: rejected
    assert res.rejected_records == [
        {"RecordIndex": 0, "Reason": res.rejected_records[0]["Reason"], "ExistingVersion": 1}
    ]
    assert table.write_records([rec("3", version=5)]).ok  # higher version: replaces
    assert table.write_records([rec("4", version=4)]).rejected_records[0]["ExistingVersion"] == 5
    back = table.read()
    assert back["measure_value::double"].tolist() == [3.0]


def test_upsert_rules_hold_in_the_magnetic_tier(table, clock):
    t0 = NOW - pd.Timedelta("1h")
    df = pd.DataFrame({"time": [t0], "d": ["a"], "x": [1.0]})
    table.write(df, dimensions=["d"])
    clock.t = NOW + pd.Timedelta("7h")
    table.run_lifecycle()
    assert table.describe()["magnetic_rows"] == 1
    res = table.write(df.assign(x=2.0), dimensions=["d"])
    assert res.rejected_records[0]["ExistingVersion"] == 1
    res = table.write(df.assign(x=2.0), dimensions=["d"], version=2)
    assert res.ok and res.records_ingested["MagneticStore"] == 1
    back = table.read()
    assert back["x"].tolist() == [2.0]


def test_lifecycle_moves_points_exactly_once(table, clock):
    df = fleet(hours=12)
    table.write(df, dimensions=["device_id", "factory"])
    before = as_set(table.read())
    out = table.run_lifecycle()
    assert out.migrated > 0
    d = table.describe()
    assert d["magnetic_rows"] == out.migrated
    assert d["memory_rows"] + d["magnetic_rows"] == len(df)
    after = table.read()
    assert len(after) == len(df) and as_set(after) == before
    # A read spanning the watermark combines both tiers.
    wm = d["watermark"]
    span = table.read((wm - pd.Timedelta("1h"), wm + pd.Timedelta("1h")))
    assert (
        len(span)
        == ((df["time"] >= wm - pd.Timedelta("1h")) & (df["time"] < wm + pd.Timedelta("1h"))).sum()
    )
    # Data past magnetic retention are deleted.
    clock.t = NOW + pd.Timedelta("31d")
    res = table.run_lifecycle()
    assert res.deleted_magnetic > 0
    assert table.read().empty


def test_writes_and_reads_go_on_while_a_migration_commits(table, clock):
    """The migration's magnetic commit holds no lock that reads or new writes need: while it is
    held open, queries see every point once (the state before it), new points are written, and
    a late point (below the new watermark) waits for the migration and then lands in the
    magnetic tier."""
    import threading

    df = fleet(hours=12)
    table.write(df, dimensions=["device_id", "factory"])
    before = as_set(table.read())
    entered, release = threading.Event(), threading.Event()
    commit = table.magnetic.write

    def gated_write(points, **kw):
        if kw.get("kind") == "migrate":
            entered.set()
            assert release.wait(30)
        return commit(points, **kw)

    table.magnetic.write = gated_write
    lifecycle = threading.Thread(target=table.run_lifecycle)
    lifecycle.start()
    assert entered.wait(30)
    try:
        during = table.read()
        assert len(during) == len(df) and as_set(during) == before
        fresh = df[df["device_id"] == df["device_id"].iloc[0]].tail(1)
        fresh = fresh.assign(time=NOW + pd.Timedelta("1min"))
        assert table.write(fresh, dimensions=["device_id", "factory"]).ok
        late = fresh.assign(time=NOW - pd.Timedelta("11h59s"), temperature=-1.0)
        late_result: list = []
        writer = threading.Thread(
            target=lambda: late_result.append(
                table.write(late, dimensions=["device_id", "factory"])
            )
        )
        writer.start()
        writer.join(0.3)
        assert writer.is_alive(), "a late write must wait for the migration below it"
        assert len(table.read()) == len(df) + 1
    finally:
        release.set()
        lifecycle.join(30)
        table.magnetic.write = commit
    writer.join(30)
    assert late_result[0].records_ingested["MagneticStore"] == 1
    d = table.describe()
    assert d["magnetic_rows"] > 0 and d["memory_rows"] + d["magnetic_rows"] == len(df) + 2
    after = table.read()
    assert len(after) == len(df) + 2
    assert as_set(after) == before | as_set(fresh) | as_set(late)


def test_a_reader_catching_up_on_many_writes_sees_the_last_version(tmp_path, clock):
    """A read-only reader applies all frames written since its last look as one batch: among
    rows of one identity the last accepted write wins, new series and dimensions arrive, and
    a reopened writer replays the same way."""
    s = tsstore.connect(tmp_path, clock=clock, lifecycle_interval=None)
    t = s.create_database("iot").create_table("met")
    reader = tsstore.connect(tmp_path, read_only=True, clock=clock)
    rt = reader.table("iot.met")
    assert rt.read().empty
    at = NOW - pd.Timedelta("1h")
    point = pd.DataFrame({"time": [at], "d": ["a"], "x": [1.0]})
    t.write(point, dimensions=["d"])
    t.write(point.assign(x=2.0), dimensions=["d"], version=2)
    t.write(point.assign(x=3.0), dimensions=["d"], version=3)
    t.write(point.assign(x=9.0), dimensions=["d"], version=2)  # rejected: older version
    t.write(point.assign(d="b", x=5.0), dimensions=["d"])
    t.write(point.assign(time=at + pd.Timedelta("1min"), e="z", x=6.0), dimensions=["d", "e"])
    for table in (rt, t):
        got = table.read().sort_values(["d", "time"])
        assert got["x"].tolist() == [3.0, 6.0, 5.0]
        assert got["e"].tolist()[1] == "z"
    t.write(point.assign(x=4.0), dimensions=["d"], version=4)
    assert sorted(rt.read()["x"]) == [4.0, 5.0, 6.0]
    reader.close()
    s.close()
    with tsstore.connect(tmp_path, clock=clock, lifecycle_interval=None) as s2:
        assert sorted(s2.table("iot.met").read()["x"]) == [4.0, 5.0, 6.0]


def test_log_frames_decode_in_groups_of_one_key_table_and_schema():
    """Consecutive frames with the same series keys, Arrow schema and no late rows are
    decoded as one table; anything else starts a new group."""
    import pyarrow as pa

    from tsstore.storage.table import _frame_groups
    from tsstore.storage.wal import WalEntry

    keys = {"d": ["a", "b"], "measure_name": [None, None]}
    small = pa.table({"series": pa.array([0, 1], pa.int8()), "m:x": [1.0, 2.0]})
    wide = small.append_column("m:y", pa.array([3.0, 4.0]))

    def frame(lsn: int, table: pa.Table, late: int = 0, k: dict | None = None) -> WalEntry:
        meta = {"keys": k or keys, "types": {"x": "DOUBLE"}, "late": late}
        return WalEntry(lsn, meta, table, 0, 0)

    entries = [
        frame(1, small),
        frame(2, small),
        frame(3, small, k={"d": ["c"], "measure_name": [None]}),
        frame(4, wide),
        frame(5, wide),
        frame(6, wide, late=1),
        frame(7, wide),
        frame(8, wide),
    ]
    groups = [[e.lsn for e in g] for g in _frame_groups(entries)]
    assert groups == [[1, 2], [3], [4, 5], [6], [7, 8]]


def test_reopen_replays_the_write_ahead_log(tmp_path, clock):
    s = tsstore.connect(tmp_path, clock=clock, lifecycle_interval=None)
    t = s.create_database("iot").create_table("met")
    df = fleet()
    t.write(df.iloc[: len(df) // 2], dimensions=["device_id", "factory"])
    t.write(df.iloc[len(df) // 2 :], dimensions=["device_id", "factory"])
    s.close()
    with tsstore.connect(tmp_path, clock=clock, lifecycle_interval=None) as s2:
        t2 = s2.table("iot.met")
        assert t2.describe()["memory_rows"] == len(df)
        assert as_set(t2.read()) == as_set(df)


def test_time_travel_reads_the_magnetic_tier_as_it_was(table, clock):
    df = fleet(hours=12)
    table.write(df, dimensions=["device_id", "factory"])
    table.run_lifecycle()
    snap1 = table.magnetic.snapshot().id
    rows1 = table.describe()["magnetic_rows"]
    clock.t = NOW + pd.Timedelta("3h")
    table.run_lifecycle()
    assert table.describe()["magnetic_rows"] > rows1
    assert len(table.read(as_of=snap1)) == rows1


def test_read_filters(table):
    df = fleet(machines=6)
    table.write(df, dimensions=["device_id", "factory"])
    got = table.read(where={"device_id": ["m-0001", "m-0003"]}, measures=["pressure"])
    assert set(got["device_id"]) == {"m-0001", "m-0003"}
    assert list(got.columns) == ["device_id", "factory", "time", "pressure"]
    lo, hi = NOW - pd.Timedelta("30min"), NOW - pd.Timedelta("10min")
    got = table.read((lo, hi), where={"factory": "f-1"})
    assert got["time"].min() >= lo and got["time"].max() < hi
    assert set(got["factory"]) == {"f-1"}
    with pytest.raises(ValidationError, match="no measures"):
        table.read(measures=["nope"])


def test_to_xarray_grid(table):
    df = fleet(hours=1, machines=3)
    table.write(df, dimensions=["device_id", "factory"])
    ds = table.to_xarray(freq="10min", agg="mean")
    assert ds.sizes["series"] == 3 and ds.sizes["time"] == 6
    assert set(ds["device_id"].values) == {"m-0000", "m-0001", "m-0002"}
    cube = table.memory.to_xarray()
    assert int(cube["row_size"].sum()) == len(df)


def test_describe_reports_tiers_and_billing(table):
    df = fleet(hours=8)
    table.write(df, dimensions=["device_id", "factory"])
    table.run_lifecycle()
    d = table.describe()
    assert d["series"] == 5
    assert d["memory_rows"] + d["magnetic_rows"] == len(df)
    assert d["magnetic_bytes"] > 0 and d["memory_bytes"] > 0
    assert d["bytes_ingested"] > 0
    assert d["time_min"] <= df["time"].min()


def test_billed_bytes_count_time_key_values_and_measures(table):
    """Timestream bills 8 bytes of time, the characters of the dimension values and measure
    name, and 8 bytes per measure value, per row, on both write paths."""
    at = NOW - pd.Timedelta("1h")
    df = pd.DataFrame({"time": [at, at + pd.Timedelta("1s")], "d": ["ab", "ab"], "x": [1.0, 2.0]})
    table.write(df.assign(y=[1, 2]), dimensions=["d"])  # append path
    assert table.describe()["bytes_ingested"] == 2 * (8 + 2 + 8 * 2)
    records = [
        {
            "Dimensions": [{"Name": "d", "Value": "xyz"}],
            "MeasureName": "m",
            "MeasureValue": "1.5",
            "MeasureValueType": "DOUBLE",
            "Time": str(at.value // 10**6),
        }
    ]
    table.write_records(records)  # upsert path: a new series with a measure name
    assert table.describe()["bytes_ingested"] == 2 * (8 + 2 + 8 * 2) + 8 + 3 + 1 + 8


@st.composite
def batches(draw):
    n = draw(st.integers(1, 40))
    devices = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    offs = draw(st.lists(st.integers(0, 20 * 3600), min_size=n, max_size=n))
    vals = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "time": [NOW - pd.Timedelta(seconds=o) for o in offs],
            "device_id": devices,
            "x": vals,
        }
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(batches(), min_size=1, max_size=4), migrate=st.booleans())
def test_property_written_points_read_back(tmp_path_factory, parts, migrate):
    """Any valid batches written (then maybe migrated) read back as the same set of points."""
    clock = Clock()
    path = tmp_path_factory.mktemp("prop")
    with tsstore.connect(path, clock=clock, lifecycle_interval=None) as s:
        t = s.create_database("db1").create_table("tbl", memory_retention="6h")
        model: dict[tuple, float] = {}
        for df in parts:
            res = t.write(df, dimensions=["device_id"])
            rejected = {r["RecordIndex"] for r in res.rejected_records}
            for i, row in enumerate(df.itertuples()):
                key = (row.device_id, row.time)
                if i in rejected:
                    assert key in model and model[key] != row.x
                else:
                    model.setdefault(key, row.x)
                    assert model[key] == row.x
            if migrate:
                t.run_lifecycle()
        back = t.read()
        got = {(r.device_id, r.time): r.x for r in back.itertuples()}
        assert len(got) == len(back)
        assert got == model


def test_compaction_and_maintenance_reclaim_space_and_keep_data(table, clock):
    df = fleet(hours=20, machines=4)
    table.update(memory_retention="1h")
    start = NOW - pd.Timedelta("20h")
    compacted = 0
    for h in range(1, 21):  # a migration every hour: one segment per pass
        clock.t = start + pd.Timedelta(hours=h)
        table.write(
            df[(df["time"] >= clock.t - pd.Timedelta("1h")) & (df["time"] < clock.t)],
            dimensions=["device_id", "factory"],
        )
        compacted += table.run_lifecycle().compacted_partitions  # a growing one past 16
    clock.t = NOW + pd.Timedelta("2d")  # every partition sealed: compaction merges them
    compacted += table.run_lifecycle().compacted_partitions
    assert compacted >= 1
    snap = table.magnetic.snapshot()
    assert all(len(p.segments) <= 4 for p in snap.partitions())  # sealed: at most 4 each
    before = table.describe()["magnetic_bytes"]
    table.maintain(keep_snapshots="0s")
    after = table.describe()["magnetic_bytes"]
    assert after < before
    assert as_set(table.read()) == as_set(df)


def test_scan_is_arrow_with_distinct_dictionaries(table):
    df = fleet(hours=1, machines=6)
    table.write(df, dimensions=["device_id", "factory"])
    scanned = table.scan(where={"factory": ["f-1", "f-2"]}, measures=["temperature"])
    assert scanned.schema.field("factory").type.value_type == "string"
    back = scanned.to_pandas()  # pandas Categorical needs distinct dictionary values
    assert set(back["factory"].astype(str)) == {"f-1", "f-2"}
    assert len(back) == int(df["factory"].isin(["f-1", "f-2"]).sum())
    assert scanned.schema.metadata[b"tsstore.rows_memory"] == str(len(back)).encode()


def test_scan_for_the_kernel_shares_one_index_array(table):
    df = fleet(hours=1, machines=6)
    table.write(df, dimensions=["device_id", "factory"])
    fast = table.scan(measures=["temperature"], distinct_dictionaries=False)
    slow = table.scan(measures=["temperature"])
    # one dictionary entry per series, the series ids as indices: no work per row and key
    assert fast.column("factory").chunk(0).indices.equals(fast.column("device_id").chunk(0).indices)
    assert len(fast.column("factory").chunk(0).dictionary) == 6
    # absent everywhere: null dictionary entries (no index array of nulls to allocate)
    names = fast.column("measure_name")
    assert names.chunk(0).indices.equals(fast.column("device_id").chunk(0).indices)
    assert names.cast("string").null_count == len(fast)
    for name in ("device_id", "factory"):
        assert fast.column(name).cast("string").equals(slow.column(name).cast("string"))
