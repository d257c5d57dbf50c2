"""Points <-> Arrow (the write-ahead log's payload): exact round trips for every type."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType
from tsstore.storage.codec import compact_keys, points_from_arrow, points_to_arrow
from tsstore.testing import assert_points_equal, points

ALL_TYPES = {t.value.lower(): t for t in MeasureType}


def through_ipc(table: pa.Table, meta: dict) -> tuple[pa.Table, dict]:
    """What the log does: IPC bytes for the table, JSON for the metadata."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    back = pa.ipc.open_stream(sink.getvalue()).read_all()
    return back, json.loads(json.dumps(meta))


@settings(max_examples=150, deadline=None)
@given(points(max_rows=40, types=ALL_TYPES), st.booleans())
def test_round_trip_all_types_with_nulls(p, ipc):
    table, meta = points_to_arrow(p)
    if ipc:
        table, meta = through_ipc(table, meta)
    back = points_from_arrow(table, meta)
    assert back.types == p.types
    assert (back.version is None) == (p.version is None)
    for name, mtype in p.types.items():
        assert back.columns[name].dtype == mtype.dtype
    assert_points_equal(back, p, check_order=True)


@settings(max_examples=50, deadline=None)
@given(points(max_rows=20))
def test_round_trip_random_schemas(p):
    back = points_from_arrow(*through_ipc(*points_to_arrow(p)))
    assert_points_equal(back, p, check_order=True)
    assert back.series.dtype == np.int32 and back.time.dtype == np.int64


def test_null_sentinels_survive_exactly():
    keys = keys_frame({"d": ["a"], MEASURE_NAME: ["m"]})
    cols = {
        "x": np.array([np.nan, -0.0]),
        "n": np.array([INT64_NULL, 2**63 - 1]),
        "ok": np.array([-1, 0], np.int8),
        "at": np.array([INT64_NULL, -1]),
        "s": np.array([None, ""], object),
    }
    types = {"x": "DOUBLE", "n": "BIGINT", "ok": "BOOLEAN", "at": "TIMESTAMP", "s": "VARCHAR"}
    p = Points(
        keys,
        np.zeros(2, np.int32),
        np.array([0, 1]),
        cols,
        {k: MeasureType(v) for k, v in types.items()},
    )
    back = points_from_arrow(*through_ipc(*points_to_arrow(p)))
    assert np.isnan(back.columns["x"][0]) and np.signbit(back.columns["x"][1])
    assert back.columns["n"].tolist() == [INT64_NULL, 2**63 - 1]
    assert back.columns["ok"].tolist() == [-1, 0] and back.columns["ok"].dtype == np.int8
    assert back.columns["at"].tolist() == [INT64_NULL, -1]
    assert back.columns["s"].tolist() == [None, ""]


def test_only_used_series_are_written():
    keys = keys_frame({"d": ["a", "b", None], MEASURE_NAME: ["m", "m", "n"]})
    p = Points(
        keys,
        np.array([2, 2, 0], np.int32),
        np.arange(3),
        {"x": np.ones(3)},
        {"x": MeasureType.DOUBLE},
    )
    table, meta = points_to_arrow(p)
    assert meta["keys"] == {"d": ["a", None], MEASURE_NAME: ["m", "n"]}
    assert table.column("series").to_pylist() == [1, 1, 0]
    assert "version" not in table.column_names
    assert_points_equal(points_from_arrow(table, meta), p, check_order=True)


def test_compact_keys_of_empty_points():
    keys = keys_frame({"d": ["a"], MEASURE_NAME: ["m"]})
    p = Points.empty(keys, {"x": MeasureType.DOUBLE})
    c = compact_keys(p)
    assert len(c.keys) == 0 and list(c.keys.columns) == ["d", MEASURE_NAME]
    back = points_from_arrow(*through_ipc(*points_to_arrow(p)))
    assert len(back) == 0 and back.types == {"x": MeasureType.DOUBLE}


def test_measures_named_like_the_row_columns_do_not_clash():
    keys = keys_frame({MEASURE_NAME: ["m"]})
    p = Points(
        keys,
        np.zeros(1, np.int32),
        np.zeros(1, np.int64),
        {"series": np.array([5]), "version": np.array([7.0])},
        {"series": MeasureType.BIGINT, "version": MeasureType.DOUBLE},
        version=np.array([3]),
    )
    back = points_from_arrow(*points_to_arrow(p))
    assert back.columns["series"].tolist() == [5] and back.columns["version"].tolist() == [7.0]
    assert back.version.tolist() == [3]
