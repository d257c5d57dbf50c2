"""Measure types, their storage representation, and table schemas that only grow."""

from __future__ import annotations

import numpy as np
import pytest

from tsstore.errors import ValidationError
from tsstore.model.schema import (
    INT64_NULL,
    MAX_DIMENSIONS,
    MAX_MEASURES,
    MeasureType,
    TableSchema,
    empty_column,
    null_mask,
    single_measure_column,
)

D, B, BO, TS, V = (
    MeasureType.DOUBLE,
    MeasureType.BIGINT,
    MeasureType.BOOLEAN,
    MeasureType.TIMESTAMP,
    MeasureType.VARCHAR,
)


@pytest.mark.parametrize(
    ("mtype", "dtype", "values", "nulls"),
    [
        (D, "float64", [1.5, np.nan, -0.0], [False, True, False]),
        (B, "int64", [0, INT64_NULL, -1], [False, True, False]),
        (BO, "int8", [1, -1, 0], [False, True, False]),
        (TS, "int64", [INT64_NULL, 0, 5], [True, False, False]),
        (V, "object", ["", None, "x"], [False, True, False]),
    ],
)
def test_storage_representation(mtype, dtype, values, nulls):
    assert mtype.dtype == np.dtype(dtype)
    col = np.array(values, dtype=dtype)
    assert null_mask(col, mtype).tolist() == nulls
    empty = empty_column(mtype, 3)
    assert empty.dtype == np.dtype(dtype) and null_mask(empty, mtype).all()
    assert len(empty_column(mtype, 0)) == 0
    assert single_measure_column(mtype) == f"measure_value::{mtype.value.lower()}"


def test_schema_grows_and_keeps_order():
    s0 = TableSchema()
    s1 = s0.extend(["device", "site"], {"t": D})
    assert s0 == TableSchema() and s1.dimensions == ("device", "site")
    s2 = s1.extend(["site", "line", "line"], {"t": D, "n": B})
    assert s2.dimensions == ("device", "site", "line") and s2.measures == {"t": D, "n": B}
    assert s2.extend(["device"], {"n": B}) is s2  # nothing new: the same object
    assert TableSchema.from_json(s2.to_json()) == s2
    assert s2.to_json() == {
        "dimensions": ["device", "site", "line"],
        "measures": {"t": "DOUBLE", "n": "BIGINT"},
    }


@pytest.mark.parametrize(
    ("dims", "measures", "match"),
    [
        ([], {"t": B}, "measure 't' is DOUBLE in this table but the write has BIGINT; cast"),
        ([], {"device": D}, "'device' is a dimension of this table; it cannot also be a measure"),
        (["t"], {}, "'t' is a measure of this table; it cannot also be a dimension"),
        (["x"], {"x": D}, "'x' is a dimension of this write; it cannot also be a measure"),
        ([f"d{i}" for i in range(MAX_DIMENSIONS)], {}, "129 dimensions; Timestream allows at most"),
        ([], {f"m{i}": D for i in range(MAX_MEASURES)}, f"{MAX_MEASURES + 1} measures"),
    ],
)
def test_schema_conflicts(dims, measures, match):
    schema = TableSchema(("device",), {"t": D})
    with pytest.raises(ValidationError, match=match):
        schema.extend(dims, measures)
    assert schema == TableSchema(("device",), {"t": D})  # a refused extension changes nothing


def test_check_names():
    TableSchema.check_names(["device"], ["temperature"])
    with pytest.raises(ValidationError, match="reserved"):
        TableSchema.check_names(["time"], [])
    with pytest.raises(ValidationError, match="reserved"):
        TableSchema.check_names([], ["ts_x"])


def test_has_null_agrees_with_null_mask():
    from tsstore.model.schema import has_null, null_mask

    cases = {
        MeasureType.DOUBLE: [np.array([1.0, 2.0]), np.array([1.0, np.nan])],
        MeasureType.BIGINT: [np.array([1, 2]), np.array([1, MeasureType.BIGINT.null])],
        MeasureType.VARCHAR: [np.array(["a"], object), np.array(["a", None], object)],
    }
    for mtype, (clean, holed) in cases.items():
        assert not has_null(clean, mtype) and has_null(holed, mtype)
        assert has_null(holed, mtype) == bool(null_mask(holed, mtype).any())
        assert not has_null(clean[:0], mtype)
