"""Magnetic partition widths: ``partition_duration="auto"`` or a fixed width, per table."""

from __future__ import annotations

import datetime
import json
import time
import uuid

import icechunk
import numpy as np
import pandas as pd
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.errors import CorruptDataError, ValidationError
from tsstore.model.points import Points, keys_frame
from tsstore.model.schema import MeasureType
from tsstore.storage import magnetic
from tsstore.storage.magnetic import (
    AUTO,
    AUTO_PARTITION_CANDIDATES_NS,
    AUTO_PARTITION_MAX_ROWS,
    AUTO_PARTITION_MIN_COUNT,
    AUTO_PARTITION_MIN_ROWS,
    MagneticTier,
    choose_partition_ns,
    open_storage,
    partition_ns_for,
)

DAY = 86_400 * 10**9
HOUR = 3_600 * 10**9
T0 = pd.Timestamp("2013-01-01", tz="UTC").value


class Clock:
    def __init__(self, t: pd.Timestamp) -> None:
        self.t = t

    def __call__(self) -> pd.Timestamp:
        return self.t


def hourly(days: int = 730, sensors: int = 1, seed: int = 0) -> pd.DataFrame:
    """The issue's reproduction: ``sensors`` series, one value an hour, from 2013-01-01."""
    t = pd.date_range("2013-01-01", periods=days * 24, freq="1h", tz="UTC")
    rng = np.random.default_rng(seed)
    return pd.concat(
        [
            pd.DataFrame({"time": t, "sensor": f"s{i}", "value": rng.normal(size=len(t)).round(2)})
            for i in range(sensors)
        ],
        ignore_index=True,
    )


def new_store(path, df: pd.DataFrame) -> tuple[tsstore.Client, Clock]:
    clock = Clock(df["time"].max() + pd.Timedelta("1min"))
    return tsstore.connect(path, clock=clock, lifecycle_interval=None), clock


def migrate(table, clock: Clock) -> float:
    """Clock a day on, memory retention 1 h, one lifecycle pass (timed)."""
    clock.t += pd.Timedelta("1D")
    table.update(memory_retention="1h")
    t0 = time.perf_counter()
    table.run_lifecycle()
    return time.perf_counter() - t0


def frame_set(df: pd.DataFrame) -> set:
    return set(map(tuple, df[["sensor", "time", "value"]].astype(str).to_numpy()))


def times(rows_per_day: float, days: float) -> np.ndarray:
    n = int(rows_per_day * days)
    return T0 + np.linspace(0, days * DAY, n, endpoint=False).astype(np.int64)


def points(t: np.ndarray, series: int = 1) -> Points:
    n = len(t)
    keys = keys_frame({"sensor": [f"s{i}" for i in range(series)], "measure_name": [None] * series})
    return Points(
        keys,
        (np.arange(n) % series).astype(np.int32),
        np.asarray(t, np.int64),
        {"v": np.arange(n, dtype=np.float64)},
        {"v": MeasureType.DOUBLE},
    )


# -- the rule -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows_per_day", "days", "width_days"),
    [
        (864_000, 7, 1),  # TSBS: 100 hosts every 10 s
        (864_000, 1, 1),
        (172_800, 30, 1),  # 20 hosts every 10 s
        (24, 730, 365),  # the reproduction
        (237, 1539, 365),  # NAB's density: 58 series over 2011-2015
        (747, 45, 7),  # C-MAPSS FD001 (3 h cycles)
        (40_000, 60, 7),
        (20_000, 400, 7),  # 7-day partitions already hold 140,000 rows
        (3_000, 730, 30),  # a year would hold over 1Mi rows
        (864, 12, 1),  # twelve day partitions cost little, however small
        (24, 3, 1),  # sparse, but three days are no evidence about a longer time
        (24, 20, 7),
    ],
)
def test_choose_partition_ns_by_density(rows_per_day, days, width_days) -> None:
    assert choose_partition_ns(times(rows_per_day, days)) == width_days * DAY


def test_choose_partition_ns_counts_the_partitions_the_points_occupy() -> None:
    # NAB-like: bursts on 40 days spread over four years
    bursts = T0 + np.repeat(np.arange(40) * 37 * DAY, 5_000) + np.tile(np.arange(5_000), 40) * 10**9
    assert choose_partition_ns(bursts) == 365 * DAY
    # SKAB-like: three busy days in a month stay in three one-day partitions
    busy = T0 + np.concatenate([d * DAY + np.arange(15_000) * 10**9 for d in (0, 14, 29)])
    assert choose_partition_ns(busy) == DAY
    assert choose_partition_ns(np.zeros(0, np.int64)) == DAY
    assert choose_partition_ns(np.array([T0], np.int64)) == DAY
    assert choose_partition_ns(np.full(1000, T0, np.int64)) == DAY


@settings(max_examples=300, deadline=None)
@given(
    per_day=st.lists(
        st.one_of(st.just(0), st.integers(0, 300), st.integers(0, 2_000_000)),
        min_size=1,
        max_size=900,
    ).filter(any),
    first_day=st.integers(-1000, 30_000),
)
def test_partition_ns_for_invariants(per_day: list[int], first_day: int) -> None:
    counts = np.array(per_day, np.int64)
    width = partition_ns_for(counts, first_day)
    assert width in AUTO_PARTITION_CANDIDATES_NS

    def occupied(w: int) -> np.ndarray:
        days = first_day + np.arange(len(counts))
        rows = pd.Series(counts).groupby(days // (w // DAY)).sum()
        return rows[rows > 0].to_numpy()

    if width > DAY:
        narrower = AUTO_PARTITION_CANDIDATES_NS[AUTO_PARTITION_CANDIDATES_NS.index(width) - 1]
        assert len(occupied(narrower)) > AUTO_PARTITION_MIN_COUNT  # evidence: many partitions
        assert occupied(narrower).mean() < AUTO_PARTITION_MIN_ROWS  # ... that were too small
        assert occupied(width).max() <= AUTO_PARTITION_MAX_ROWS  # bounded partitions
    occupied_days = counts[counts > 0]
    if len(occupied_days) <= AUTO_PARTITION_MIN_COUNT or occupied_days.mean() >= 100_000:
        assert width == DAY
    # denser data never gets wider partitions
    assert partition_ns_for(counts * 3, first_day) <= width
    # and the times of these rows choose the same
    if counts.sum() <= 200_000:
        t = (first_day + np.repeat(np.arange(len(counts)), counts)) * DAY
        assert choose_partition_ns(t) == width


# -- the store: auto ----------------------------------------------------------------------------
def test_reproduction_gets_wide_partitions_and_migrates_fast(tmp_path) -> None:
    df = hourly()
    store, clock = new_store(tmp_path / "s", df)
    table = store.create_database("db1").create_table("tbl", memory_retention="8766h")
    assert table.describe()["partition_duration"] == "auto"
    assert table.describe()["partition_duration_setting"] == "auto"
    table.write(df, dimensions=["sensor"])
    seconds = migrate(table, clock)
    d = table.describe()
    assert d["partition_duration"] == "365d" and d["partition_duration_setting"] == "auto"
    assert d["magnetic_rows"] == len(df) and d["memory_rows"] == 0
    snap = table.magnetic.snapshot()
    assert snap.partition_duration_ns == 365 * DAY
    assert len(snap.partitions()) == 3  # 730 one-day partitions before
    assert d["magnetic_bytes"] / len(df) < 5  # 68 B/value in day partitions
    assert seconds < 8  # about 0.15 s here; 20 s in day partitions
    assert frame_set(table.read()) == frame_set(df)
    store.close()


def _every_minute(n_dense_series: int) -> pd.DataFrame:
    t = pd.date_range("2013-01-01", periods=20 * 24 * 60, freq="1min", tz="UTC")
    return pd.concat(
        [pd.DataFrame({"time": t, "sensor": f"d{i}", "value": 1.0}) for i in range(n_dense_series)],
        ignore_index=True,
    )


def test_dense_table_keeps_one_day_partitions(tmp_path, monkeypatch) -> None:
    # Scaled down: 2 series a minute over 20 days (2,880 rows a day) are "dense" when a segment
    # needs 2,000 rows; the same table with one series an hour is sparse.
    monkeypatch.setattr(magnetic, "AUTO_PARTITION_MIN_ROWS", 2_000)
    dense = _every_minute(2)
    sparse = hourly(days=20)
    store, clock = new_store(tmp_path / "s", dense)
    db = store.create_database("db1")
    tables = {"dense": db.create_table("dense", memory_retention="8766h")}
    tables["sparse"] = db.create_table("sparse", memory_retention="8766h")
    tables["dense"].write(dense, dimensions=["sensor"])
    tables["sparse"].write(sparse, dimensions=["sensor"])
    clock.t += pd.Timedelta("1D")
    for t in tables.values():
        t.update(memory_retention="1h")
    store.run_lifecycle()
    assert tables["dense"].describe()["partition_duration"] == "1d"
    assert len(tables["dense"].magnetic.snapshot().partitions()) == 20
    assert tables["sparse"].describe()["partition_duration"] == "7d"
    store.close()


def test_live_table_keeps_one_day_until_told(tmp_path) -> None:
    """A first migration of a few minutes of a sparse table is no evidence: one day."""
    df = hourly(days=2, sensors=3)
    store, clock = new_store(tmp_path / "s", df)
    table = store.create_database("db1").create_table("tbl", memory_retention="6h")
    clock.t = df["time"].min() + pd.Timedelta("6h")  # nothing old enough yet
    table.write(df[df["time"] < clock.t], dimensions=["sensor"])
    table.run_lifecycle()  # a watermark-only commit: the width is still open
    assert table.describe()["partition_duration"] == "auto"
    assert table.magnetic.partition_duration_auto
    clock.t += pd.Timedelta("2h")
    table.run_lifecycle()
    assert table.describe()["partition_duration"] == "1d"
    assert not table.magnetic.partition_duration_auto
    store.close()


# -- the store: explicit widths ------------------------------------------------------------------
def test_explicit_width_is_respected_and_survives_reopening(tmp_path) -> None:
    df = hourly(days=2 * 365)  # auto would choose 365 days
    store, clock = new_store(tmp_path / "s", df)
    db = store.create_database("db1")
    table = db.create_table("tbl", memory_retention="8766h", partition_duration="30d")
    assert table.describe()["partition_duration"] == "30d"  # fixed before any data
    assert (
        db.create_table("half", partition_duration=pd.Timedelta(hours=12)).describe()[
            "partition_duration"
        ]
        == "12h"
    )
    assert (
        db.create_table("week", partition_duration=datetime.timedelta(days=7)).describe()[
            "partition_duration_setting"
        ]
        == "7d"
    )
    table.write(df, dimensions=["sensor"])
    migrate(table, clock)
    snap = table.magnetic.snapshot()
    assert snap.partition_duration_ns == 30 * DAY
    starts = {(int(v) // (30 * DAY)) for v in df["time"].astype("int64")}
    assert len(snap.partitions()) == len(starts)
    assert all(p.end - p.start == 30 * DAY and p.start % (30 * DAY) == 0 for p in snap.partitions())
    doc = json.loads((tmp_path / "s" / "catalog.json").read_text())
    assert doc["databases"]["db1"]["tables"]["tbl"]["partition_duration"] == "30d"
    assert doc["databases"]["db1"]["tables"]["half"]["partition_duration"] == "12h"
    store.close()

    store = tsstore.connect(tmp_path / "s", clock=clock, lifecycle_interval=None)
    table = store.table("db1.tbl")
    d = table.describe()
    assert d["partition_duration"] == "30d" and d["partition_duration_setting"] == "30d"
    assert table.entry.partition_duration == pd.Timedelta(days=30)
    assert frame_set(table.read()) == frame_set(df)
    late = pd.DataFrame({"time": [df["time"].iloc[100]], "sensor": "new", "value": 1.5})
    assert table.write(late, dimensions=["sensor"]).records_ingested["MagneticStore"] == 1
    assert table.magnetic.snapshot().partition_duration_ns == 30 * DAY
    store.close()
    reader = tsstore.connect(tmp_path / "s", clock=clock, read_only=True)
    assert reader.table("db1.tbl").describe()["partition_duration"] == "30d"
    reader.close()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("0d", "between 1h and 366d"),
        ("30m", "between 1h and 366d"),
        ("400d", "between 1h and 366d"),
        (pd.Timedelta(days=-1), "between 1h and 366d"),
        ("weekly", "not a duration"),
        (7, "'auto' or a duration"),
        (None, "'auto' or a duration"),
        (True, "'auto' or a duration"),
    ],
)
def test_bad_partition_durations_are_refused(tmp_path, value, match) -> None:
    store = tsstore.connect(tmp_path / "s", lifecycle_interval=None)
    db = store.create_database("db1")
    with pytest.raises(ValidationError, match=match) as err:
        db.create_table("tbl", partition_duration=value)
    assert "partition_duration" in str(err.value)
    assert db.list_tables() == []  # nothing created
    assert db.create_table("tbl", partition_duration="AUTO").describe()["partition_duration"] == (
        "auto"
    )
    store.close()


def test_old_catalog_without_the_field_reads_as_auto(tmp_path) -> None:
    df = hourly()
    store, clock = new_store(tmp_path / "s", df)
    store.create_database("db1").create_table("tbl", memory_retention="8766h")
    store.close()
    path = tmp_path / "s" / "catalog.json"
    doc = json.loads(path.read_text())
    del doc["databases"]["db1"]["tables"]["tbl"]["partition_duration"]
    path.write_text(json.dumps(doc))
    store = tsstore.connect(tmp_path / "s", clock=clock, lifecycle_interval=None)
    table = store.table("db1.tbl")
    assert table.entry.partition_duration is None
    assert table.describe()["partition_duration_setting"] == "auto"
    table.write(df, dimensions=["sensor"])
    migrate(table, clock)
    assert table.describe()["partition_duration"] == "365d"
    store.close()


# -- the magnetic tier ----------------------------------------------------------------------
@pytest.fixture(params=["local", "memory"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "tables" / "t1" / "magnetic")
    return f"memory://partitioning-{uuid.uuid4().hex}"


def test_the_choice_is_made_in_the_commit_of_the_first_points(url: str) -> None:
    tier = MagneticTier.open(url, create=True, partition_duration_ns=AUTO)
    assert tier.partition_duration_auto and tier.partition_width() is None
    tier.write(points(np.zeros(0, np.int64)), watermark=T0)  # watermark only: still open
    assert tier.partition_duration_auto and tier.snapshot().partition_duration_auto
    sparse = times(24, 730)
    sid = tier.write(points(sparse), watermark=int(sparse.max()) + 1, kind="migrate")
    assert not tier.partition_duration_auto
    assert tier.partition_duration_ns == tier.partition_width() == 365 * DAY
    snaps = {h["kind"]: h["id"] for h in tier.history()}
    chosen, before = tier.snapshot(sid), tier.snapshot(snaps["write"])
    assert chosen.partition_duration_ns == 365 * DAY and chosen.partition_duration_auto is False
    assert before.partition_duration_auto is True and before.rows() == 0
    # for good: dense points later, a reopened tier, and an empty tier after deletes
    dense = T0 + 800 * DAY + np.arange(200_000, dtype=np.int64) * 10**9
    tier.write(points(dense, series=20))
    assert tier.snapshot().partition_duration_ns == 365 * DAY
    again = MagneticTier.open(url, partition_duration_ns=AUTO)
    assert again.partition_duration_ns == 365 * DAY and not again.partition_duration_auto
    tier.delete_before(int(dense.max()) + 1)
    assert tier.snapshot().rows() == 0
    tier.write(points(times(864_000, 1)))
    assert tier.snapshot().partition_duration_ns == 365 * DAY


def test_a_failed_first_commit_leaves_the_choice_open(url: str, monkeypatch) -> None:
    tier = MagneticTier.open(url, create=True, partition_duration_ns=AUTO)

    async def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(magnetic, "write_segment", broken)
    with pytest.raises(OSError, match="disk full"):
        tier.write(points(times(24, 730)), watermark=T0 + 800 * DAY)
    snap = tier.snapshot()
    assert snap.partition_duration_auto is True and snap.rows() == 0 and snap.watermark == 0
    assert tier.partition_duration_auto
    monkeypatch.undo()
    tier.write(points(times(864_000, 1)), watermark=T0 + DAY)  # dense this time
    assert tier.snapshot().partition_duration_ns == DAY


def _drop_auto_key(path: str) -> None:
    """Make the repository look written before AUTO existed (no partition_duration_auto)."""
    repo = icechunk.Repository.open(open_storage(path))
    session = repo.writable_session("main")
    del zarr.open_group(session.store, mode="a").attrs["partition_duration_auto"]
    session.commit("as before AUTO")


def test_repository_from_before_auto(tmp_path) -> None:
    empty, full = str(tmp_path / "empty"), str(tmp_path / "full")
    MagneticTier.open(empty, create=True)
    MagneticTier.open(full, create=True).write(points(times(24, 30)))
    _drop_auto_key(empty)
    _drop_auto_key(full)
    # readers and fixed openers see the recorded one-day width
    assert MagneticTier.open(empty).snapshot().partition_duration_auto is None
    assert not MagneticTier.open(empty).partition_duration_auto
    # opened with AUTO: the empty one chooses, the one with data keeps its width
    tier = MagneticTier.open(empty, partition_duration_ns=AUTO)
    assert tier.partition_duration_auto
    tier.write(points(times(24, 730)))
    assert tier.snapshot().partition_duration_ns == 365 * DAY
    assert tier.snapshot().partition_duration_auto is False
    tier = MagneticTier.open(full, partition_duration_ns=AUTO)
    assert not tier.partition_duration_auto and tier.partition_width() == DAY
    tier.compact(max_segments=1)  # other commits keep the manifest as it was
    tier.write(points(times(24, 730) + 3 * 365 * DAY))
    assert tier.snapshot().partition_duration_ns == DAY
    assert tier.snapshot().partition_duration_auto is False


def test_open_refuses_other_widths(tmp_path) -> None:
    with pytest.raises(ValidationError, match="'auto'"):
        MagneticTier.open(str(tmp_path / "m"), create=True, partition_duration_ns="weekly")


def test_a_collision_rewrites_only_the_colliding_segments_of_a_big_partition(
    url: str, monkeypatch
) -> None:
    monkeypatch.setattr(magnetic, "COLLISION_REWRITE_ROWS", 500)  # 720 rows: "big"
    tier = MagneticTier.open(url, create=True, partition_duration_ns=365 * DAY)
    t = times(24, 30)
    for i in range(3):  # three segments in one partition, ten days each
        tier.write(points(t[i * 240 : (i + 1) * 240]))
    (part,) = tier.snapshot().partitions()
    assert len(part.segments) == 3
    update = points(t[[250, 260]])  # two rows of the second segment, new values
    update.columns["v"][:] = -1.0
    tier.write(update)
    (after,) = tier.snapshot().partitions()
    assert after.segments[:2] == (part.segments[0], part.segments[2])  # untouched
    assert part.segments[1] not in after.segments
    got = tier.snapshot().read()
    assert len(got) == 720 and after.rows == 720
    values = dict(zip(got.time.tolist(), got.columns["v"].tolist(), strict=True))
    assert values[int(t[250])] == values[int(t[260])] == -1.0
    assert values[int(t[251])] == 11.0  # its value in the second write (rows 240..479)
    monkeypatch.setattr(magnetic, "COLLISION_REWRITE_ROWS", 1000)  # small: merged whole
    tier.write(update)
    (whole,) = tier.snapshot().partitions()
    assert len(whole.segments) == 1 and whole.rows == 720


# -- wide partitions stay correct ------------------------------------------------------------------
def test_reads_pruning_late_writes_as_of_and_compaction_in_wide_partitions(tmp_path) -> None:
    df = hourly(sensors=3)
    store, clock = new_store(tmp_path / "s", df)
    table = store.create_database("db1").create_table("tbl", memory_retention="8766h")
    table.write(df, dimensions=["sensor"])
    migrate(table, clock)
    assert table.describe()["partition_duration"] == "365d"

    # reads and pruning by time
    lo, hi = pd.Timestamp("2014-03-01", tz="UTC"), pd.Timestamp("2014-03-08", tz="UTC")
    want = df[(df["time"] >= lo) & (df["time"] < hi)]
    assert frame_set(table.read((lo, hi))) == frame_set(want)
    one = table.read((lo, hi), where={"sensor": ["s1"]})
    assert frame_set(one) == frame_set(want[want["sensor"] == "s1"])
    meta = table.scan((lo, hi)).schema.metadata
    assert meta[b"tsstore.partitions_scanned"] == b"1"
    assert meta[b"tsstore.partitions_total"] == b"3"
    assert len(table.scan_parts((lo, hi))) == 1
    rows = store.query('SELECT count(*) AS n FROM "db1"."tbl" WHERE time >= \'2014-01-01\'')
    assert int(rows["n"].iloc[0]) == int((df["time"] >= "2014-01-01").sum())

    # late writes into the magnetic tier: a replacement (higher version) and a new series
    before = table.magnetic.snapshot().id
    at = pd.Timestamp("2013-06-01 12:00", tz="UTC")
    res = table.write(
        pd.DataFrame({"time": [at], "sensor": "s0", "value": 99.5}),
        dimensions=["sensor"],
        version=2,
    )
    assert res.records_ingested["MagneticStore"] == 1 and res.ok
    res = table.write(
        pd.DataFrame({"time": [at], "sensor": "new", "value": 7.0}), dimensions=["sensor"]
    )
    assert res.records_ingested["MagneticStore"] == 1
    got = table.read((at, at + pd.Timedelta("1ns")))
    assert dict(zip(got["sensor"], got["value"], strict=True)) == {
        "new": 7.0,
        "s0": 99.5,
        "s1": df[(df["time"] == at) & (df["sensor"] == "s1")]["value"].iloc[0],
        "s2": df[(df["time"] == at) & (df["sensor"] == "s2")]["value"].iloc[0],
    }
    # as_of: the snapshot before the late writes
    old = table.read((at, at + pd.Timedelta("1ns")), as_of=before)
    assert set(old["sensor"]) == {"s0", "s1", "s2"}
    assert (
        old[old["sensor"] == "s0"]["value"].iloc[0]
        == df[(df["time"] == at) & (df["sensor"] == "s0")]["value"].iloc[0]
    )
    assert table.magnetic.snapshot().partition_duration_ns == 365 * DAY

    # compaction: many small late segments in a sealed wide partition merge back
    for i in range(6):
        late = pd.DataFrame(
            {"time": [at + pd.Timedelta(minutes=i + 1)], "sensor": "x", "value": i + 0.5}
        )
        table.write(late, dimensions=["sensor"])
    first = table.magnetic.snapshot().partitions()[0]
    assert first.end <= table.magnetic.snapshot().watermark  # sealed
    assert len(first.segments) > 4
    expected = frame_set(table.read())
    assert table.run_lifecycle().compacted_partitions == 1
    assert len(table.magnetic.snapshot().partitions()[0].segments) < len(first.segments)
    assert frame_set(table.read()) == expected
    assert table.describe()["magnetic_rows"] == len(df) + 1 + 6
    store.close()


# -- property: an AUTO tier reads back what it was given ------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3 * 365 * 24)),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=4,
    ),
    cutoff=st.one_of(st.none(), st.integers(0, 3 * 365 * 24)),
)
def test_auto_tier_reads_back_a_dict_model(batches, cutoff) -> None:
    tier = MagneticTier.open(
        f"memory://auto-{uuid.uuid4().hex}", create=True, partition_duration_ns=AUTO, chunk_points=4
    )
    expected: dict[tuple[str, int], float] = {}
    hosts = ["a", "b", "c"]
    keys = keys_frame({"host": hosts, "measure_name": [None] * 3})
    for n, rows in enumerate(batches):
        pts = Points(
            keys,
            np.array([hosts.index(h) for h, _ in rows], np.int32),
            np.array([T0 + h * HOUR for _, h in rows], np.int64),
            {"v": np.arange(len(rows), dtype=np.float64) + 100 * n},
            {"v": MeasureType.DOUBLE},
        )
        tier.write(pts)
        for i, (h, hour) in enumerate(rows):
            expected[(h, T0 + hour * HOUR)] = float(i + 100 * n)
        if n == 0:  # the first batch's distinct identities choose the width, for good
            unique = sorted({(h, hour) for h, hour in rows})
            width = choose_partition_ns(np.array([T0 + hour * HOUR for _, hour in unique]))
        assert tier.snapshot().partition_duration_ns == width
    if cutoff is not None:
        tier.delete_before(T0 + cutoff * HOUR)
        expected = {k: v for k, v in expected.items() if k[1] >= T0 + cutoff * HOUR}
    out = tier.snapshot().read()
    got = {
        (out.keys["host"][out.series[r]], int(out.time[r])): float(out.columns["v"][r])
        for r in range(len(out))
    }
    assert got == expected and len(out) == len(expected)
    lo, hi = T0 + 200 * 24 * HOUR, T0 + 600 * 24 * HOUR
    window = tier.snapshot().read(time_range=(lo, hi), where={"host": ["a"]})
    assert len(window) == sum(1 for h, t in expected if h == "a" and lo <= t < hi)
    assert all(
        p.start % width == 0 and p.end - p.start == width for p in tier.snapshot().partitions()
    )


def test_a_malformed_auto_flag_is_corrupt_data(tmp_path) -> None:
    path = str(tmp_path / "m")
    MagneticTier.open(path, create=True, partition_duration_ns=AUTO)
    repo = icechunk.Repository.open(open_storage(path))
    session = repo.writable_session("main")
    zarr.open_group(session.store, mode="a").attrs["partition_duration_auto"] = "yes"
    session.commit("broken")
    with pytest.raises(CorruptDataError, match="partition_duration_auto"):
        MagneticTier.open(path)
