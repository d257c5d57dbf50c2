"""A whole store on a real S3-compatible server (moto's threaded server on 127.0.0.1)."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

import tsstore
from tsstore.simulate import factory_fleet

pytestmark = pytest.mark.integration

BUCKET = "tsstore-store"
NOW = pd.Timestamp("2024-06-02", tz="UTC")


def test_store_on_s3_round_trip(s3_options, s3_bucket, s3_client, tmp_path):
    s3 = s3_options
    s3_bucket(BUCKET)
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    now = {"t": NOW}

    def open_store() -> tsstore.Client:
        return tsstore.connect(
            url,
            storage_options=s3,
            clock=lambda: now["t"],
            lifecycle_interval=None,
            wal_dir=tmp_path / "wal",
        )

    df = factory_fleet(NOW - pd.Timedelta("10h"), NOW, machines=4, interval="60s")
    with open_store() as store:
        db = store.create_database("iot")
        table = db.create_table("metrics", memory_retention="6h")
        table.write(df, dimensions=["device_id", "factory"])
        moved = store.run_lifecycle()[0]["migrated"]
        assert moved > 0
        late = pd.DataFrame(
            {
                "time": [NOW - pd.Timedelta("3d")],
                "device_id": ["m-0000"],
                "factory": ["f-0"],
                "temperature": [1.0],
            }
        )
        assert (
            table.write(late, dimensions=["device_id", "factory"]).records_ingested["MagneticStore"]
            == 1
        )
        assert len(table.read()) == len(df) + 1
    # The catalog and magnetic tier are in the bucket; the log is local.
    listing = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=url.split("/", 3)[3])
    keys = [o["Key"] for o in listing["Contents"]]
    assert any(k.endswith("catalog.json") for k in keys)
    assert any("/tables/" in k for k in keys)
    with open_store() as store:
        table = store.table("iot.metrics")
        d = table.describe()
        assert d["magnetic_rows"] == moved + 1
        assert d["memory_rows"] == len(df) - moved
        back = table.read(where={"device_id": ["m-0001"]})
        assert len(back) == (df["device_id"] == "m-0001").sum()
