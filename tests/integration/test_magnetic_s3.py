"""The magnetic tier against a real S3-compatible server (moto's threaded server)."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from tsstore.errors import NotFoundError
from tsstore.model.points import Points, keys_frame
from tsstore.model.schema import MeasureType
from tsstore.storage.magnetic import MagneticTier

pytestmark = pytest.mark.integration

HOUR = 3_600 * 10**9
T0 = pd.Timestamp("2024-03-01", tz="UTC").value
BUCKET = "tsstore-magnetic"


@pytest.fixture
def tier_url(s3_options: dict, s3_bucket) -> tuple[str, dict]:
    s3_bucket(BUCKET)
    options = dict(s3_options)
    return f"s3://{BUCKET}/db/{uuid.uuid4().hex}/magnetic", options


def _points(n_hosts: int = 4, n_times: int = 40, step: int = HOUR) -> Points:
    rng = np.random.default_rng(7)
    hosts = [f"h{i}" for i in range(n_hosts)]
    keys = keys_frame({"host": hosts, "measure_name": ["cpu"] * n_hosts})
    series = np.repeat(np.arange(n_hosts, dtype=np.int32), n_times)
    time = np.tile(T0 + np.arange(n_times, dtype=np.int64) * step, n_hosts)
    n = len(series)
    return Points(
        keys,
        series,
        time,
        {
            "usage": np.round(rng.uniform(0, 100, n), 2),
            "count": rng.integers(0, 1000, n).astype(np.int64),
            "state": np.array(["ok", None, "warn"], dtype=object)[rng.integers(0, 3, n)],
            "up": rng.integers(-1, 2, n).astype(np.int8),
            "seen": (T0 + rng.integers(0, 10**12, n)).astype(np.int64),
        },
        {
            "usage": MeasureType.DOUBLE,
            "count": MeasureType.BIGINT,
            "state": MeasureType.VARCHAR,
            "up": MeasureType.BOOLEAN,
            "seen": MeasureType.TIMESTAMP,
        },
        version=rng.integers(1, 3, n).astype(np.int64),
    )


def _frame(points: Points) -> pd.DataFrame:
    df = points.to_pandas()
    df["version"] = points.versions()
    return df.sort_values(["host", "time"]).reset_index(drop=True)


def test_round_trip_and_pruning_on_s3(tier_url: tuple[str, dict]) -> None:
    url, options = tier_url
    with pytest.raises(NotFoundError):
        MagneticTier.open(url, storage_options=options)
    tier = MagneticTier.open(url, storage_options=options, create=True, chunk_points=16)
    pts = _points()
    first = pts.take(pts.time < T0 + 20 * HOUR)
    sid1 = tier.write(first, watermark=T0 + 20 * HOUR, kind="migrate")
    tier.write(pts.take(pts.time >= T0 + 20 * HOUR), watermark=T0 + 40 * HOUR, kind="migrate")
    snap = tier.snapshot()
    assert snap.watermark == T0 + 40 * HOUR
    assert snap.rows() == len(pts)
    assert [len(p.segments) for p in snap.partitions()] == [2, 1]
    pd.testing.assert_frame_equal(_frame(snap.read()), _frame(pts))

    lo, hi = T0 + 5 * HOUR, T0 + 30 * HOUR
    got = snap.read(time_range=(lo, hi), where={"host": ["h1", "h3"]}, measures=["usage"])
    expected = _frame(pts)
    expected = expected[
        (expected["time"] >= pd.Timestamp(lo, tz="UTC"))
        & (expected["time"] < pd.Timestamp(hi, tz="UTC"))
        & expected["host"].isin(["h1", "h3"])
    ]
    assert set(got.columns) == {"usage"}
    frame = _frame(got)
    np.testing.assert_array_equal(frame["usage"].to_numpy(), expected["usage"].to_numpy())
    assert list(frame["host"]) == list(expected["host"])

    # collisions rewrite, time travel, deletion and maintenance work on S3 too
    tier.write(pts.take(np.flatnonzero(pts.time == T0)[:1]))
    assert len(tier.snapshot().partitions()[0].segments) == 1
    pd.testing.assert_frame_equal(_frame(tier.snapshot(sid1).read()), _frame(first))
    deleted = tier.delete_before(T0 + 24 * HOUR)
    assert deleted == int((pts.time < T0 + 24 * HOUR).sum())
    assert tier.size_bytes() > 0
    counts = tier.maintain(keep_snapshots=pd.Timedelta(0))
    assert counts["snapshots_expired"] >= 1
    reopened = MagneticTier.open(url, storage_options=options)
    assert reopened.snapshot().rows() == len(pts) - deleted
