"""Measure types and table schemas, inferred from the data written.

Inside tsstore every measure type has one storage representation, a plain NumPy array with a
sentinel for "no value" (a multi-measure row need not carry every measure):

========= =========== ================
type      dtype       null
========= =========== ================
DOUBLE    float64     NaN (NaN input is refused, so NaN only ever means null)
BIGINT    int64       -2**63 (refused as input)
BOOLEAN   int8        -1
TIMESTAMP int64 (ns)  -2**63 (NaT)
VARCHAR   object      None
========= =========== ================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from tsstore.errors import ValidationError
from tsstore.model.names import validate_column_name

__all__ = [
    "INT64_NULL",
    "MAX_DIMENSIONS",
    "MAX_DIMENSION_VALUE_BYTES",
    "MAX_MEASURES",
    "MAX_MEASURES_PER_RECORD",
    "MAX_VARCHAR_BYTES",
    "MeasureType",
    "RowFilter",
    "TableSchema",
    "empty_column",
    "null_mask",
    "single_measure_column",
]

INT64_NULL = np.iinfo(np.int64).min
MAX_DIMENSIONS = 128
MAX_MEASURES = 1024
#: Timestream's limits on one record: measures of a multi-measure record, bytes of a dimension
#: value and of a VARCHAR measure value (UTF-8).
MAX_MEASURES_PER_RECORD = 256
MAX_DIMENSION_VALUE_BYTES = 2048
MAX_VARCHAR_BYTES = 2048


class MeasureType(StrEnum):
    """Timestream's measure value types."""

    DOUBLE = "DOUBLE"
    BIGINT = "BIGINT"
    VARCHAR = "VARCHAR"
    BOOLEAN = "BOOLEAN"
    TIMESTAMP = "TIMESTAMP"

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the storage representation."""
        return np.dtype(_DTYPES[self])

    @property
    def null(self) -> object:
        """The sentinel standing for "no value"."""
        return _NULLS[self]


_DTYPES = {
    MeasureType.DOUBLE: "float64",
    MeasureType.BIGINT: "int64",
    MeasureType.VARCHAR: "object",
    MeasureType.BOOLEAN: "int8",
    MeasureType.TIMESTAMP: "int64",
}
_NULLS: dict[MeasureType, object] = {
    MeasureType.DOUBLE: np.nan,
    MeasureType.BIGINT: INT64_NULL,
    MeasureType.VARCHAR: None,
    MeasureType.BOOLEAN: -1,
    MeasureType.TIMESTAMP: INT64_NULL,
}


def single_measure_column(mtype: MeasureType) -> str:
    """Column holding single-measure values of a type: ``measure_value::double`` etc."""
    return f"measure_value::{mtype.value.lower()}"


def empty_column(mtype: MeasureType, n: int) -> np.ndarray:
    """An all-null storage column of length ``n``."""
    if mtype is MeasureType.VARCHAR:
        return np.full(n, None, dtype=object)
    return np.full(n, mtype.null, dtype=mtype.dtype)


def has_null(values: np.ndarray, mtype: MeasureType) -> bool:
    """Whether a storage column holds a null, by one reduction where the type allows (no
    mask allocated): the null of BIGINT and TIMESTAMP is the smallest int64, and ``min()`` of
    doubles is NaN when any value is."""
    if not len(values):
        return False
    if mtype in (MeasureType.BIGINT, MeasureType.TIMESTAMP):
        return bool(values.min() == mtype.null)
    if mtype is MeasureType.DOUBLE:
        return bool(np.isnan(values.min()))
    return bool(null_mask(values, mtype).any())


def null_mask(values: np.ndarray, mtype: MeasureType) -> np.ndarray:
    """Boolean mask of the nulls of a storage column."""
    if mtype is MeasureType.DOUBLE:
        return np.isnan(values)
    if mtype is MeasureType.VARCHAR:
        return np.equal(values, None)
    return values == mtype.null


_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "=": np.equal,
}


@dataclass(frozen=True, slots=True)
class RowFilter:
    """``measure <op> value`` on a numeric measure: rows a read may drop early.

    A null never passes (as in SQL, a comparison with NULL is not true), so a read that keeps
    only the rows passing every filter of a query's top-level AND keeps a superset of the rows
    its WHERE keeps.

    Examples
    --------
    >>> RowFilter("usage_user", ">", 90.0).mask(np.array([95.0, 10.0, np.nan]), MeasureType.DOUBLE)
    array([ True, False, False])
    """

    measure: str
    op: str
    value: float | int

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {sorted(_COMPARE)}")

    def mask(self, values: np.ndarray, mtype: MeasureType) -> np.ndarray:
        """Rows of the storage column ``values`` that pass (nulls never do)."""
        if mtype not in (MeasureType.DOUBLE, MeasureType.BIGINT):
            return np.ones(len(values), dtype=bool)  # only numeric measures are filtered
        with np.errstate(invalid="ignore"):
            out = _COMPARE[self.op](values, self.value)
        if mtype is MeasureType.BIGINT:
            out &= values != mtype.null
        return out


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The dimensions and typed measures a table has seen so far.

    Schemas only grow: a later write may add dimensions and measures, never change a type.
    """

    dimensions: tuple[str, ...] = ()
    measures: dict[str, MeasureType] = field(default_factory=dict)

    def extend(self, dimensions: list[str], measures: dict[str, MeasureType]) -> TableSchema:
        """The schema with new dimensions and measures added; a type conflict raises.

        Raises
        ------
        ValidationError
            A measure written with another type than the table holds, a name used both as a
            dimension and a measure, or more than 128 dimensions.
        """
        dimensions = list(dict.fromkeys(dimensions))  # ordered, without repeats
        for name, mtype in measures.items():
            have = self.measures.get(name)
            if have is not None and have != mtype:
                raise ValidationError(
                    f"measure {name!r} is {have} in this table but the write has {mtype}; "
                    f"cast the column to {have} (types never change once written)"
                )
            if name in self.dimensions or name in dimensions:
                where = "this table" if name in self.dimensions else "this write"
                raise ValidationError(
                    f"{name!r} is a dimension of {where}; it cannot also be a measure: "
                    "rename one of them"
                )
        for name in dimensions:
            if name in self.measures:
                raise ValidationError(
                    f"{name!r} is a measure of this table; it cannot also be a dimension"
                )
        new_dims = tuple(self.dimensions) + tuple(d for d in dimensions if d not in self.dimensions)
        if len(new_dims) > MAX_DIMENSIONS:
            raise ValidationError(
                f"the table would have {len(new_dims)} dimensions; Timestream allows at most "
                f"{MAX_DIMENSIONS}: move attributes that do not identify a series into measures"
            )
        new_measures = dict(self.measures)
        for name, mtype in measures.items():
            new_measures.setdefault(name, mtype)
        if len(new_measures) > MAX_MEASURES:
            raise ValidationError(
                f"the table would have {len(new_measures)} measures; the limit is {MAX_MEASURES}"
            )
        if new_dims == self.dimensions and new_measures == self.measures:
            return self
        return TableSchema(new_dims, new_measures)

    def to_json(self) -> dict[str, object]:
        return {
            "dimensions": list(self.dimensions),
            "measures": {k: v.value for k, v in self.measures.items()},
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> TableSchema:
        dims = obj.get("dimensions", [])
        meas = obj.get("measures", {})
        assert isinstance(dims, list) and isinstance(meas, dict)
        return cls(tuple(dims), {k: MeasureType(v) for k, v in meas.items()})

    @staticmethod
    def check_names(dimensions: list[str], measures: list[str]) -> None:
        """Validate dimension and measure names (reserved names, lengths)."""
        for d in dimensions:
            validate_column_name(d, "dimension")
        for m in measures:
            validate_column_name(m, "measure")
