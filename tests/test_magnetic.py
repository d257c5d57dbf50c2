"""The magnetic tier against real icechunk repositories (local directories and in memory)."""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from typing import Any

import icechunk
import numpy as np
import pandas as pd
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.errors import FormatVersionError, NotFoundError, StorageError, ValidationError
from tsstore.model.points import Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType, RowFilter, null_mask
from tsstore.storage.encoding import node_name
from tsstore.storage.magnetic import MagneticTier, PartitionRef, open_storage

DAY = 86_400 * 10**9
HOUR = 3_600 * 10**9
T0 = pd.Timestamp("2024-03-01", tz="UTC").value
TYPES = {
    "d": MeasureType.DOUBLE,
    "i": MeasureType.BIGINT,
    "b": MeasureType.BOOLEAN,
    "t": MeasureType.TIMESTAMP,
    "s": MeasureType.VARCHAR,
}


# -- helpers --------------------------------------------------------------------------------------
def model(points: Points) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """``{(frozenset of the present key (column, value) pairs, time): (measure values...,
    version)}`` with measures in name order; nulls are None."""
    keys = points.keys
    names = sorted(points.types)
    series_keys = [
        frozenset((c, v) for c, v in row.items() if v is not None)
        for row in keys.to_dict("records")
    ]
    out = {}
    versions = points.versions()
    for r in range(len(points)):
        ident = (series_keys[int(points.series[r])], int(points.time[r]))
        vals = []
        for n in names:
            col, mtype = points.columns[n], points.types[n]
            vals.append(None if null_mask(col[r : r + 1], mtype)[0] else _norm(col[r]))
        out[ident] = (*vals, int(versions[r]))
    return out


def _norm(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def mixed_points(
    n_hosts: int = 3,
    n_times: int = 5,
    t0: int = T0,
    step: int = 10**10,
    seed: int = 0,
    version: bool = True,
) -> Points:
    rng = np.random.default_rng(seed)
    hosts = [f"host-{i}" for i in range(n_hosts)]
    keys = keys_frame(
        {
            "host": [*hosts, *hosts],
            "region": [None if i % 2 else "eu" for i in range(2 * n_hosts)],
            "measure_name": ["cpu"] * n_hosts + ["state"] * n_hosts,
        }
    )
    series = np.repeat(np.arange(2 * n_hosts, dtype=np.int32), n_times)
    time = np.tile(t0 + np.arange(n_times, dtype=np.int64) * step, 2 * n_hosts)
    n = len(series)
    d = np.round(rng.normal(50, 20, n), 3)
    d[::7] = np.nan
    i = rng.integers(-1000, 10**12, n).astype(np.int64)
    i[::5] = INT64_NULL
    b = rng.integers(-1, 2, n).astype(np.int8)
    t = (t0 + rng.integers(0, 10**12, n)).astype(np.int64)
    t[::4] = INT64_NULL
    s = np.array([None, "ok", "warn", "crit é"], dtype=object)[rng.integers(0, 4, n)]
    ver = rng.integers(1, 5, n).astype(np.int64) if version else None
    return Points(
        keys, series, time, {"d": d, "i": i, "b": b, "t": t, "s": s}, dict(TYPES), version=ver
    )


def model_filter(m: dict, pred) -> dict:
    """The rows of model ``m`` for which ``pred({column: value, ..., "time": t})`` holds."""
    return {k: v for k, v in m.items() if pred(_Row({**dict(k[0]), "time": k[1]}))}


class _Row(dict):
    def __missing__(self, key: str) -> None:
        return None


@pytest.fixture(params=["local", "memory"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "tables" / "t1" / "magnetic")
    return f"memory://test-{uuid.uuid4().hex}"


def open_tier(url: str, **kw: Any) -> MagneticTier:
    return MagneticTier.open(url, create=True, **kw)


# -- round trip -----------------------------------------------------------------------------------
def test_round_trip_mixed_types(url: str) -> None:
    tier = open_tier(url, chunk_points=4)
    pts = mixed_points()
    sid = tier.write(pts, watermark=T0 + HOUR, kind="migrate", batch_id="b1")
    snap = tier.snapshot()
    assert snap.id == sid
    assert snap.watermark == T0 + HOUR
    assert snap.rows() == len(pts)
    out = snap.read()
    assert out.is_sorted()
    assert set(out.types) == set(TYPES)
    assert {k: v.dtype for k, v in out.columns.items()} == {
        "d": np.float64,
        "i": np.int64,
        "b": np.int8,
        "t": np.int64,
        "s": object,
    }
    assert model(out) == model(pts)
    assert len(out.keys) == len(pts.keys)


def test_reads_run_on_the_calling_threads_loop_or_zarrs(url: str) -> None:
    """Reads run on an event loop of the calling thread (no hand-off to Zarr's loop thread);
    a thread already running a loop (a notebook kernel's) hands them to Zarr's loop."""
    tier = open_tier(url, chunk_points=4)
    pts = mixed_points()
    tier.write(pts, watermark=T0 + HOUR, kind="migrate", batch_id="b1")
    want = model(pts)
    assert model(tier.snapshot().read()) == want

    async def inside_a_running_loop() -> dict:
        return model(tier.snapshot().read())

    assert asyncio.run(inside_a_running_loop()) == want
    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda: results.append(model(tier.snapshot().read())))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4


def test_round_trip_without_versions_has_no_version(url: str) -> None:
    tier = open_tier(url)
    pts = mixed_points(version=False)
    tier.write(pts)
    out = tier.snapshot().read()
    assert out.version is None
    assert model(out) == model(pts)


def test_extreme_values_round_trip(url: str) -> None:
    tier = open_tier(url, chunk_points=2)
    keys = keys_frame({"measure_name": ["a", "b"]})
    big = np.iinfo(np.int64)
    doubles = np.array([-0.0, 0.0, 1e308, -1e-308, np.inf, -np.inf, 0.1, np.nan])
    ints = np.array([big.max, big.min + 1, INT64_NULL, 0, -1, 127, -127, 128])
    pts = Points(
        keys,
        np.array([0, 0, 0, 0, 1, 1, 1, 1], np.int32),
        np.arange(8, dtype=np.int64) + T0,
        {"d": doubles, "i": ints},
        {"d": MeasureType.DOUBLE, "i": MeasureType.BIGINT},
    )
    tier.write(pts)
    out = tier.snapshot().read()
    np.testing.assert_array_equal(out.columns["d"].view(np.int64), doubles.view(np.int64))
    np.testing.assert_array_equal(out.columns["i"], ints)


@pytest.mark.parametrize(
    ("values", "encoding", "stored"),
    [
        (np.array([1.25, 2.5, np.nan, -3.75] * 10), "decimal", np.int16),
        (np.array([10.0, 11.0, 12.0, np.nan] * 10), "decimal", np.int8),
        (np.random.default_rng(1).normal(size=40), "float", np.float64),
        (np.array([0.1, -0.0, 1.0, 2.0] * 10), "float", np.float64),
    ],
)
def test_double_encoding_is_chosen_per_segment(tmp_path, values, encoding, stored) -> None:
    path = str(tmp_path / "m")
    tier = open_tier(path)
    keys = keys_frame({"measure_name": ["x"]})
    n = len(values)
    tier.write(
        Points(
            keys,
            np.zeros(n, np.int32),
            T0 + np.arange(n, dtype=np.int64),
            {"v": values},
            {"v": MeasureType.DOUBLE},
        )
    )
    seg = tier.snapshot().partitions()[0].segments[0]
    repo = icechunk.Repository.open(open_storage(path))
    arr = zarr.open_group(repo.readonly_session("main").store, mode="r")[f"{seg}/measures/v"]
    assert arr.attrs["logical_type"] == "DOUBLE"
    assert arr.attrs["encoding"] == encoding
    assert arr.dtype == stored
    out = tier.snapshot().read().columns["v"]
    np.testing.assert_array_equal(out.view(np.int64), values.view(np.int64))


def test_bigint_is_narrowed_and_varchar_dictionary_coded(tmp_path) -> None:
    path = str(tmp_path / "m")
    tier = open_tier(path)
    keys = keys_frame({"measure_name": ["x"]})
    n = 50
    pts = Points(
        keys,
        np.zeros(n, np.int32),
        T0 + np.arange(n, dtype=np.int64),
        {
            "i": np.where(np.arange(n) % 3, np.arange(n), INT64_NULL),
            "s": np.array(["b", "a", None, "b", "c"] * 10, dtype=object),
        },
        {"i": MeasureType.BIGINT, "s": MeasureType.VARCHAR},
    )
    tier.write(pts)
    seg = tier.snapshot().partitions()[0].segments[0]
    repo = icechunk.Repository.open(open_storage(path))
    group = zarr.open_group(repo.readonly_session("main").store, mode="r")[seg]
    assert group["measures/i"].dtype == np.int8
    assert group["measures/i"].attrs["null"] == -128
    assert group["measures/s"].dtype == np.int32
    assert list(group["dicts/s"][:]) == ["a", "b", "c"]
    assert "version" not in group
    assert model(tier.snapshot().read()) == model(pts)


def test_odd_column_names_round_trip(url: str) -> None:
    tier = open_tier(url)
    names = ["a/b", "__x", ".", "..", "é%20", "with space"]
    keys = keys_frame({"dim/1": ["v"], "__d": [None], "measure_name": ["m"]})
    pts = Points(
        keys,
        np.zeros(3, np.int32),
        T0 + np.arange(3, dtype=np.int64),
        {n: np.arange(3, dtype=np.float64) + i for i, n in enumerate(names)},
        {n: MeasureType.DOUBLE for n in names},
    )
    tier.write(pts)
    out = tier.snapshot().read(where={"dim/1": ["v"]})
    assert set(out.columns) == set(names)
    assert model(out) == model(pts)
    assert node_name("a/b") == "a%2Fb"
    assert node_name("__x").startswith("%5F")


# -- pruning -------------------------------------------------------------------------------------
def test_pruning_returns_exactly_the_matching_rows(url: str) -> None:
    tier = open_tier(url, chunk_points=3)
    pts = mixed_points(n_hosts=4, n_times=40, step=HOUR, seed=3)  # 40 h: two partitions
    tier.write(pts)
    snap = tier.snapshot()
    full = model(pts)
    assert len(snap.partitions()) == 2
    lo, hi = T0 + 5 * HOUR, T0 + 30 * HOUR
    got = model(snap.read(time_range=(lo, hi)))
    assert got == model_filter(full, lambda r: lo <= r["time"] < hi)
    got = model(snap.read(time_range=(None, lo)))
    assert got == model_filter(full, lambda r: r["time"] < lo)
    got = model(snap.read(time_range=(hi, None)))
    assert got == model_filter(full, lambda r: r["time"] >= hi)
    where = {"host": ["host-1", "host-3"], "measure_name": ["cpu"]}
    got = model(snap.read(where=where, time_range=(lo, hi)))
    assert got == model_filter(
        full,
        lambda r: (
            r["host"] in where["host"] and r["measure_name"] == "cpu" and lo <= r["time"] < hi
        ),
    )
    out = snap.read(where={"region": ["eu"]})
    assert set(out.keys["region"]) == {"eu"}
    assert len(out) == sum(1 for k in full if ("region", "eu") in k[0])
    absent = sum(1 for k in full if "region" not in dict(k[0]))
    assert len(snap.read(where={"region": [None]})) == absent
    assert len(snap.read(where={"nope": ["x"]})) == 0
    assert len(snap.read(where={"host": []})) == 0
    assert len(snap.read(time_range=(T0 + 10 * DAY, None))) == 0
    proj = snap.read(measures=["s", "i"], where={"host": ["host-2"]})
    assert set(proj.columns) == {"s", "i"}
    assert len(proj.keys) == 2  # only the series present
    ref = snap.read(where={"host": ["host-2"]})
    np.testing.assert_array_equal(proj.columns["i"], ref.columns["i"])
    assert snap.partitions((lo, lo + 1)) == [snap.partitions()[0]]


def test_read_partition(url: str) -> None:
    tier = open_tier(url)
    pts = mixed_points(n_times=40, step=HOUR)
    tier.write(pts)
    snap = tier.snapshot()
    refs = snap.partitions()
    assert all(isinstance(r, PartitionRef) for r in refs)
    parts = [snap.read_partition(r) for r in refs]
    assert sum(len(p) for p in parts) == len(pts) == sum(r.rows for r in refs)
    for ref, part in zip(refs, parts, strict=True):
        assert ref.start <= part.time.min() and part.time.max() < ref.end
    only = snap.read_partition(refs[0], columns=["b"])
    assert set(only.columns) == {"b"}


# -- writes: migration appends, collisions, deletes, compaction -----------------------------------
def test_migration_appends_segments_without_rewriting(url: str) -> None:
    tier = open_tier(url)
    pts = mixed_points(n_hosts=3, n_times=24, step=HOUR // 2)  # 12 hours
    first, second = pts.take(pts.time < T0 + 6 * HOUR), pts.take(pts.time >= T0 + 6 * HOUR)
    tier.write(first, watermark=T0 + 6 * HOUR, kind="migrate")
    snap1 = tier.snapshot()
    (seg1,) = snap1.partitions()[0].segments
    tier.write(second, watermark=T0 + 12 * HOUR, kind="migrate")
    snap2 = tier.snapshot()
    segs = snap2.partitions()[0].segments
    assert len(segs) == 2 and segs[0] == seg1
    assert model(snap2.read()) == model(pts)
    assert model(snap1.read()) == model(first)  # the older snapshot is untouched
    # same times, other series: still an append
    other = mixed_points(n_hosts=1, n_times=24, step=HOUR // 2)
    other.keys["host"] = ["new-host", "new-host"]
    tier.write(other)
    assert tier.snapshot().partitions()[0].segments[:2] == segs
    assert len(tier.snapshot().partitions()[0].segments) == 3
    assert tier.snapshot().rows() == len(pts) + len(other)


def test_newest_rows_are_each_segments_last_row_of_each_series(url: str) -> None:
    """``read(newest_rows=True)``: a series' last row of each segment (its newest among
    them); where the range's end cuts a series, all of its rows in range."""
    tier = open_tier(url)
    pts = mixed_points(n_hosts=3, n_times=24, step=HOUR // 2)  # 12 hours, two segments
    first, second = pts.take(pts.time < T0 + 6 * HOUR), pts.take(pts.time >= T0 + 6 * HOUR)
    tier.write(first, watermark=T0 + 6 * HOUR, kind="migrate")
    tier.write(second, watermark=T0 + 12 * HOUR, kind="migrate")
    snap = tier.snapshot()
    got = snap.read(newest_rows=True)
    assert len(got) == 2 * 6  # two segments x six series
    every = model(snap.read())
    assert set(model(got)) <= set(every)  # rows as stored, measures and all
    # each series' rows: its last of each segment, the newest (12 h - 30 min) among them
    ends = sorted(set(got.time.tolist()))
    assert ends == [T0 + 6 * HOUR - HOUR // 2, T0 + 12 * HOUR - HOUR // 2]
    assert np.bincount(got.series).tolist() == [2] * 6
    # a range ending inside the second segment: its series are read whole up to the end
    end = T0 + 9 * HOUR
    cut = snap.read(time_range=(None, end), newest_rows=True)
    whole = model(snap.read(time_range=(T0 + 6 * HOUR, end)))
    older = model(snap.read(time_range=(None, T0 + 6 * HOUR), newest_rows=True))
    assert model(cut) == whole | older
    later = snap.read(time_range=(T0 + 6 * HOUR, None), newest_rows=True)
    assert len(later) == 6 and (later.time == T0 + 12 * HOUR - HOUR // 2).all()


def test_loose_filters_keep_segments_where_most_rows_pass(url: str) -> None:
    """``loose_filters``: a filter most of a segment's rows pass is left to the reader (its
    failing rows come too); one that few pass is applied."""
    tier = open_tier(url)
    pts = mixed_points(n_hosts=3, n_times=24, step=HOUR // 2)
    tier.write(pts)
    snap = tier.snapshot()
    d = pts.columns["d"]
    most, few = RowFilter("d", ">", float(np.nanquantile(d, 0.2))), RowFilter("d", ">", 1e9)
    exact = snap.read(filters=[most])
    loose = snap.read(filters=[most], loose_filters=True)
    assert len(exact) < len(loose) == len(pts)
    kept = loose.take(most.mask(loose.columns["d"], MeasureType.DOUBLE))
    assert model(kept) == model(exact)
    assert len(snap.read(filters=[few], loose_filters=True)) == 0


def test_collision_rewrites_the_partition_with_the_new_rows(url: str) -> None:
    tier = open_tier(url, chunk_points=4)
    pts = mixed_points(n_hosts=3, n_times=10)
    tier.write(pts.take(pts.time < T0 + 5 * 10**10))
    tier.write(pts.take(pts.time >= T0 + 5 * 10**10))
    assert len(tier.snapshot().partitions()[0].segments) == 2
    # replace 2 rows (one in each segment) and add one new row
    keys = keys_frame({"host": ["host-1"], "region": [None], "measure_name": ["cpu"]})
    keys_pts = Points(
        keys,
        np.zeros(3, np.int32),
        np.array([T0, T0 + 7 * 10**10, T0 + 99], np.int64),
        {"d": np.array([-1.0, -2.0, -3.0]), "s": np.array(["x", None, "y"], object)},
        {"d": MeasureType.DOUBLE, "s": MeasureType.VARCHAR},
    )
    old_segments = tier.snapshot().partitions()[0].segments
    tier.write(keys_pts)
    snap = tier.snapshot()
    (seg,) = snap.partitions()[0].segments
    assert seg not in old_segments
    expected = model(pts)
    expected.update(model(keys_pts.with_types(TYPES)))
    assert model(snap.read()) == expected
    assert snap.rows() == len(pts) + 1


def test_duplicate_identities_in_one_write_keep_the_last(url: str) -> None:
    tier = open_tier(url)
    keys = keys_frame({"measure_name": ["m", "m"]})  # two ids, same series
    pts = Points(
        keys,
        np.array([0, 1, 0], np.int32),
        np.array([T0, T0, T0 + 1], np.int64),
        {"v": np.array([1.0, 2.0, 3.0])},
        {"v": MeasureType.DOUBLE},
    )
    tier.write(pts)
    out = tier.snapshot().read()
    assert len(out) == 2
    np.testing.assert_array_equal(out.columns["v"], [2.0, 3.0])


def test_schema_growth_across_segments(url: str) -> None:
    tier = open_tier(url)
    a = Points(
        keys_frame({"host": ["h"], "measure_name": ["m"]}),
        np.zeros(2, np.int32),
        np.array([T0, T0 + 1], np.int64),
        {"x": np.array([1.0, 2.0])},
        {"x": MeasureType.DOUBLE},
    )
    b = Points(
        keys_frame({"host": ["h"], "rack": ["r1"], "measure_name": ["m"]}),
        np.zeros(2, np.int32),
        np.array([T0 + 2, T0 + 3], np.int64),
        {"y": np.array(["u", "v"], object)},
        {"y": MeasureType.VARCHAR},
    )
    tier.write(a)
    tier.write(b)
    out = tier.snapshot().read()
    assert len(out) == 4 and len(out.keys) == 2
    assert set(out.columns) == {"x", "y"}
    frame = out.to_pandas()
    assert frame["x"].isna().sum() == 2 and frame["y"].isna().sum() == 2


def test_watermark_only_commit_and_monotonic_watermark(url: str) -> None:
    tier = open_tier(url)
    empty = Points.empty(keys_frame({"measure_name": []}), {})
    before = tier.snapshot().id
    assert tier.write(empty) == before  # nothing to commit
    sid = tier.write(empty, watermark=T0, kind="migrate")
    assert sid != before
    assert tier.snapshot().watermark == T0
    tier.write(empty, watermark=T0 - 5)
    assert tier.snapshot().watermark == T0
    assert tier.history()[0]["watermark"] == T0


def test_delete_before(url: str) -> None:
    tier = open_tier(url, chunk_points=5)
    pts = mixed_points(n_hosts=2, n_times=72, step=HOUR)  # three days
    tier.write(pts.take(pts.time < T0 + 36 * HOUR))
    tier.write(pts.take(pts.time >= T0 + 36 * HOUR))
    snap = tier.snapshot()
    assert [len(p.segments) for p in snap.partitions()] == [1, 2, 1]
    cutoff = T0 + 30 * HOUR  # inside the second day's first segment
    deleted = tier.delete_before(cutoff)
    assert deleted == int((pts.time < cutoff).sum())
    after = tier.snapshot()
    assert [p.start for p in after.partitions()] == [p.start for p in snap.partitions()[1:]]
    kept_segment = snap.partitions()[1].segments[1]
    assert kept_segment in after.partitions()[0].segments  # untouched, not rewritten
    assert model(after.read()) == model(pts.take(pts.time >= cutoff))
    assert tier.delete_before(cutoff) == 0
    assert tier.snapshot().id == after.id  # no commit when nothing is deleted
    assert tier.delete_before(T0 + 10 * DAY) == len(pts) - deleted
    assert tier.snapshot().rows() == 0 and tier.snapshot().partitions() == []


def test_compact_preserves_data(url: str) -> None:
    tier = open_tier(url, chunk_points=7)
    pts = mixed_points(n_hosts=3, n_times=48, step=HOUR)
    for h in range(0, 48, 4):
        tier.write(pts.take((pts.time >= T0 + h * HOUR) & (pts.time < T0 + (h + 4) * HOUR)))
    snap = tier.snapshot()
    assert [len(p.segments) for p in snap.partitions()] == [6, 6]
    assert tier.compact(max_segments=8) == 0
    assert tier.compact(max_segments=4) == 2
    after = tier.snapshot()
    assert [len(p.segments) for p in after.partitions()] == [1, 1]
    assert model(after.read()) == model(pts)
    assert model(snap.read()) == model(pts)
    assert tier.history()[0]["kind"] == "compact"


def test_as_of_time_travel(url: str) -> None:
    tier = open_tier(url)
    pts = mixed_points()
    first = pts.take(pts.series < 2)
    sid1 = tier.write(first)
    written1 = tier.snapshot().written_at
    tier.write(pts.take(pts.series >= 2))
    assert tier.snapshot().rows() == len(pts)
    assert model(tier.snapshot(sid1).read()) == model(first)
    assert tier.snapshot(written1).id == sid1
    assert tier.snapshot(written1 + pd.Timedelta("1us")).id == sid1
    assert tier.snapshot(pd.Timestamp.now(tz="UTC")).rows() == len(pts)
    with pytest.raises(NotFoundError):
        tier.snapshot("0" * 20)
    with pytest.raises(NotFoundError):
        tier.snapshot(pd.Timestamp("2000-01-01", tz="UTC"))
    kinds = [h["kind"] for h in tier.history()]
    assert kinds == ["write", "write", "create", "init"]


def test_history_and_maintain(url: str) -> None:
    tier = open_tier(url)
    pts = mixed_points(n_times=20, step=HOUR)
    for i in range(3):
        lo, hi = T0 + i * 5 * HOUR, T0 + (i + 1) * 5 * HOUR
        tier.write(
            pts.take((pts.time >= lo) & (pts.time < hi)),
            watermark=hi,
            kind="migrate",
            batch_id=f"lsn:{i}",
        )
    tier.compact(max_segments=1)
    hist = tier.history()
    assert [h["batch_id"] for h in hist[1:4]] == ["lsn:2", "lsn:1", "lsn:0"]
    last = (pts.time >= T0 + 10 * HOUR) & (pts.time < T0 + 15 * HOUR)
    assert hist[1]["rows"] == int(last.sum())
    before = tier.size_bytes()
    counts = tier.maintain(keep_snapshots=pd.Timedelta(0))
    assert counts["snapshots_expired"] >= 3
    assert set(counts) >= {
        "chunks_deleted",
        "manifests_deleted",
        "snapshots_deleted",
        "bytes_deleted",
    }
    assert len(tier.history()) < len(hist)
    assert model(tier.snapshot().read()) == model(pts.take(pts.time < T0 + 15 * HOUR))
    if url.startswith("memory://"):
        assert tier.size_bytes() > 0
    else:
        assert 0 < tier.size_bytes() < before


# -- repositories ---------------------------------------------------------------------------------
def test_format_version_guard(tmp_path) -> None:
    path = str(tmp_path / "m")
    tier = open_tier(path)
    tier.write(mixed_points())
    repo = icechunk.Repository.open(open_storage(path))
    session = repo.writable_session("main")
    zarr.open_group(session.store, mode="a").attrs["format_version"] = 2
    session.commit("from the future")
    with pytest.raises(FormatVersionError, match="format version 2"):
        MagneticTier.open(path)
    with pytest.raises(FormatVersionError):
        tier.snapshot()
    with pytest.raises(FormatVersionError):
        tier.write(mixed_points())


def test_open_missing_and_bad_urls(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        MagneticTier.open(str(tmp_path / "nothing"))
    with pytest.raises(NotFoundError):
        MagneticTier.open(f"memory://missing-{uuid.uuid4().hex}")
    with pytest.raises(ValidationError, match="memory://"):
        open_storage("gcs://bucket/x")
    with pytest.raises(ValidationError, match="client_kwargs"):
        open_storage("s3://bucket/x", {"endpoint": "http://x"})
    with pytest.raises(ValidationError):
        MagneticTier.open(str(tmp_path / "m"), create=True, partition_duration_ns=0)
    assert isinstance(
        open_storage(
            "s3://bucket/prefix",
            {"client_kwargs": {"endpoint_url": "http://h:9000"}, "key": "k", "secret": "s"},
        ),
        icechunk.Storage,
    )
    assert isinstance(open_storage(f"file://{tmp_path}/f"), icechunk.Storage)


def test_reopen_local_and_memory(url: str) -> None:
    tier = open_tier(url, partition_duration_ns=HOUR)
    pts = mixed_points(n_times=30, step=10 * 60 * 10**9)
    tier.write(pts)
    tier.close()
    with pytest.raises(StorageError):
        tier.snapshot()
    again = MagneticTier.open(url)  # keeps the partition width of the manifest
    assert again.partition_duration_ns == HOUR
    assert len(again.snapshot().partitions()) == 5
    assert model(again.snapshot().read()) == model(pts)


def test_local_lock_file_beside_the_repository(tmp_path) -> None:
    path = tmp_path / "t" / "magnetic"
    tier = open_tier(str(path))
    tier.write(mixed_points())
    assert (tmp_path / "t" / "magnetic.lock").exists()
    assert tier.size_bytes() == sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_concurrent_writers_do_not_lose_commits(url: str) -> None:
    tiers = [open_tier(url) for _ in range(2)]  # two handles on one repository
    errors: list[BaseException] = []
    pts = mixed_points(n_hosts=4, n_times=8, step=DAY)

    def work(i: int) -> None:
        try:
            for day in range(i, 8, 2):
                part = pts.take((pts.time >= T0 + day * DAY) & (pts.time < T0 + (day + 1) * DAY))
                tiers[i].write(part)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert model(tiers[0].snapshot().read()) == model(pts)
    assert len(tiers[1].history()) == 8 + 2


def test_snapshot_is_safe_to_read_from_threads(url: str) -> None:
    tier = open_tier(url, chunk_points=8)
    pts = mixed_points(n_hosts=5, n_times=50, step=HOUR)
    tier.write(pts)
    snap = tier.snapshot()
    expected = model(snap.read(where={"host": ["host-3"]}))
    results: list[dict] = []

    def reader() -> None:
        for _ in range(3):
            results.append(model(snap.read(where={"host": ["host-3"]})))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    tier.write(mixed_points(n_hosts=5, n_times=50, step=HOUR, seed=9))  # concurrent commit
    for t in threads:
        t.join()
    assert len(results) == 12 and all(r == expected for r in results)


# -- property: several batches with replacements read back as a dict model ----------------------
_hosts = st.sampled_from(["a", "b", "c"])
_row = st.tuples(
    _hosts,
    st.sampled_from(["m1", "m2"]),
    st.integers(0, 29),  # time; partitions of 10 ns
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)),
    st.one_of(st.none(), st.integers(-(2**63) + 1, 2**63 - 1)),
    st.one_of(st.none(), st.text(max_size=3)),
    st.integers(1, 3),
)


def _batch_points(rows: list[tuple]) -> Points:
    ident = sorted({(h, m) for h, m, *_ in rows})
    ids = {k: i for i, k in enumerate(ident)}
    keys = keys_frame({"host": [h for h, _ in ident], "measure_name": [m for _, m in ident]})
    return Points(
        keys,
        np.array([ids[(h, m)] for h, m, *_ in rows], np.int32),
        np.array([r[2] for r in rows], np.int64),
        {
            "f": np.array([np.nan if r[3] is None else r[3] for r in rows], np.float64),
            "i": np.array([INT64_NULL if r[4] is None else r[4] for r in rows], np.int64),
            "s": np.array([r[5] for r in rows], dtype=object),
        },
        {"f": MeasureType.DOUBLE, "i": MeasureType.BIGINT, "s": MeasureType.VARCHAR},
        version=np.array([r[6] for r in rows], np.int64),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(_row, min_size=1, max_size=12), min_size=1, max_size=4),
    cutoff=st.one_of(st.none(), st.integers(0, 30)),
    compact=st.booleans(),
)
def test_batches_read_back_as_a_dict_model(batches, cutoff, compact) -> None:
    tier = MagneticTier.open(
        f"memory://prop-{uuid.uuid4().hex}", create=True, partition_duration_ns=10, chunk_points=3
    )
    expected: dict[tuple, tuple] = {}
    for rows in batches:
        tier.write(_batch_points(rows))
        for h, m, t, f, i, s, v in rows:
            expected[(h, m, t)] = (_norm(f), i, s, v)
    if cutoff is not None:
        deleted = tier.delete_before(cutoff)
        assert deleted == sum(1 for k in expected if k[2] < cutoff)
        expected = {k: v for k, v in expected.items() if k[2] >= cutoff}
    if compact:
        tier.compact(max_segments=1)
    out = tier.snapshot().read()
    got = {}
    for (h, m, t), (f, i, s, v) in zip(
        [
            (
                out.keys["host"][out.series[r]],
                out.keys["measure_name"][out.series[r]],
                int(out.time[r]),
            )
            for r in range(len(out))
        ],
        [
            (
                _norm(out.columns["f"][r]),
                None if out.columns["i"][r] == INT64_NULL else int(out.columns["i"][r]),
                out.columns["s"][r],
                int(out.versions()[r]),
            )
            for r in range(len(out))
        ],
        strict=True,
    ):
        got[(h, m, t)] = (f, i, s, v)
    assert len(got) == len(out)
    assert got == expected
    assert out.is_sorted()
    assert tier.snapshot().rows() == len(expected)
    lo, hi = 7, 23
    window = tier.snapshot().read(time_range=(lo, hi), where={"host": ["a", "c"]})
    assert len(window) == sum(1 for (h, _m, t) in expected if lo <= t < hi and h in "ac")


def test_segment_groups_are_bounded_runs_of_small_segments():
    from tsstore.storage.magnetic import _segment_groups

    assert _segment_groups([1, 1, 1, 1], 10) == [(0, 3)]
    assert _segment_groups([5, 5, 5, 5], 10) == [(0, 1), (2, 3)]
    assert _segment_groups([20, 1, 1, 20, 1], 10) == [(1, 2)]  # big segments stay
    assert _segment_groups([1], 10) == [] and _segment_groups([11, 11], 10) == []


def test_queries_read_decoded_chunks_through_a_bounded_cache(url: str) -> None:
    from tsstore.storage import magnetic
    from tsstore.storage.encoding import ChunkCache

    tier = open_tier(url, chunk_points=3)
    pts = mixed_points(n_hosts=4, n_times=40, step=HOUR, seed=5)
    tier.write(pts)
    snap = tier.snapshot()
    magnetic.CHUNKS.clear()
    lo, hi = T0 + 5 * HOUR, T0 + 30 * HOUR
    cold = model(snap.read(time_range=(lo, hi), where={"host": ["host-1", "host-3"]}))
    hits = magnetic.CHUNKS.hits
    warm = model(snap.read(time_range=(lo, hi), where={"host": ["host-1", "host-3"]}))
    assert warm == cold
    assert magnetic.CHUNKS.hits > hits  # the second read decoded nothing again
    assert model(snap.read()) == model(pts)  # whole-array reads through the cache too

    cache = ChunkCache(max_bytes=100)
    for i in range(10):
        cache.put(("a", i), np.zeros(4, np.int64))  # 32 bytes each
    assert cache.nbytes <= 100 and cache.get(("a", 9)) is not None
    assert cache.get(("a", 0)) is None  # least recently used, dropped
    cache.put(("big", 0), np.zeros(100, np.int64))  # larger than the cache: not kept
    assert cache.get(("big", 0)) is None


def test_a_written_segment_is_in_the_chunk_cache(url: str) -> None:
    """The writer puts the numeric chunks of each segment it writes into the cache, as a read
    decodes them: the first query of freshly migrated data decodes only the string arrays,
    and returns what a read of the stored chunks returns."""
    from tsstore.storage import magnetic

    tier = open_tier(url, chunk_points=5)
    pts = mixed_points(n_hosts=3, n_times=30, step=HOUR, seed=7)
    magnetic.CHUNKS.clear()
    tier.write(pts)
    assert magnetic.CHUNKS.nbytes > 0
    misses = magnetic.CHUNKS.misses
    hot = model(tier.snapshot().read())
    numeric_misses = magnetic.CHUNKS.misses - misses
    magnetic.CHUNKS.clear()
    cold = model(tier.snapshot().read())
    cold_misses = magnetic.CHUNKS.misses
    assert hot == cold == model(pts)
    assert numeric_misses < cold_misses / 2  # what still missed: VARCHAR (object) chunks


def test_varchar_values_differing_after_a_nul_stay_distinct(url: str) -> None:
    """pandas' string hashing stops at a NUL ("a" == "a\\x00" there); the dictionary
    encoding must not merge such values (found by the property test above)."""
    rows = [
        ("a", "m1", 20, None, None, "", 1),
        ("a", "m1", 21, None, None, "\x00", 1),
        ("a", "m1", 22, None, None, "x", 1),
        ("a", "m1", 23, None, None, "x\x00", 1),
        ("a", "m1", 24, None, None, None, 1),
    ]
    tier = open_tier(url, chunk_points=3)
    tier.write(_batch_points(rows))
    out = tier.snapshot().read()
    assert list(out.columns["s"]) == ["", "\x00", "x", "x\x00", None]


def test_chunk_cache_size_follows_the_machine_or_the_environment(monkeypatch) -> None:
    from tsstore.storage.magnetic import _chunk_cache_bytes

    monkeypatch.delenv("TSSTORE_CHUNK_CACHE_MB", raising=False)
    assert 256 << 20 <= _chunk_cache_bytes() <= 2 << 30
    monkeypatch.setenv("TSSTORE_CHUNK_CACHE_MB", "64")
    assert _chunk_cache_bytes() == 64 << 20
    monkeypatch.setenv("TSSTORE_CHUNK_CACHE_MB", "lots")
    with pytest.raises(ValidationError, match="TSSTORE_CHUNK_CACHE_MB"):
        _chunk_cache_bytes()
