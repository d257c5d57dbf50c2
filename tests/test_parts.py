"""Parts of a scan travel between processes: magnetic parts as descriptions, memory parts as
rows."""

from __future__ import annotations

import pickle

import pandas as pd
import pyarrow as pa

import tsstore
from tsstore.simulate import factory_fleet
from tsstore.storage.parts import ArrowPart, MagneticPart, MemoryPart

NOW = pd.Timestamp("2024-06-05", tz="UTC")


def _sorted(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
    return df.sort_values(["device_id", "time"]).reset_index(drop=True)


def test_parts_pickle_to_what_they_read(tmp_path):
    with tsstore.connect(tmp_path, clock=lambda: NOW, lifecycle_interval=None) as store:
        t = store.create_database("iot").create_table("met", memory_retention="1d")
        t.write(factory_fleet(NOW - pd.Timedelta("3d"), NOW, machines=3), dimensions=["device_id"])
        store.run_lifecycle()
        parts = t.scan_parts(measures=["temperature"], where={"device_id": ["m-0001"]})
        kinds = [type(p) for p in parts]
        assert kinds.count(MemoryPart) == 1 and kinds.count(MagneticPart) >= 2
        for part in parts:
            travelled = pickle.loads(pickle.dumps(part))
            if isinstance(part, MemoryPart):
                assert isinstance(travelled, ArrowPart)  # the writer's RAM travels as rows
            else:
                assert travelled.snapshot is None  # reopened from its description
                assert travelled.snapshot_id == part.snapshot_id
            got, want = _sorted(travelled()), _sorted(part())
            assert len(want) > 0 and got.equals(want)
        assert sum(len(p()) for p in parts) == len(t.scan(where={"device_id": ["m-0001"]}))
