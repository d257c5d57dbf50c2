"""Timestream ``WriteRecords`` records -> Points, with rejected records for the invalid ones.

Records are exactly boto3's ``timestream-write`` ``WriteRecords`` dicts::

    {"Dimensions": [{"Name": "device_id", "Value": "m-1"}], "MeasureName": "temperature",
     "MeasureValue": "71.5", "MeasureValueType": "DOUBLE", "Time": "1700000000000",
     "TimeUnit": "MILLISECONDS", "Version": 1}

``MeasureValueType="MULTI"`` records carry ``MeasureValues``: ``[{"Name", "Value", "Type"}]``.
A single-measure record's value lands in the column ``measure_value::<type>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsstore.errors import ValidationError
from tsstore.model.names import validate_column_name
from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import (
    INT64_NULL,
    MAX_DIMENSION_VALUE_BYTES,
    MAX_DIMENSIONS,
    MAX_MEASURES_PER_RECORD,
    MAX_VARCHAR_BYTES,
    MeasureType,
    empty_column,
    single_measure_column,
)

__all__ = ["TIME_UNITS", "ParsedRecords", "Rejection", "parse_records"]

#: Nanoseconds per Timestream ``TimeUnit``.
TIME_UNITS = {
    "MILLISECONDS": 1_000_000,
    "SECONDS": 1_000_000_000,
    "MICROSECONDS": 1_000,
    "NANOSECONDS": 1,
}
_INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected record, shaped like Timestream's ``RejectedRecords`` entries."""

    index: int
    reason: str
    existing_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"RecordIndex": self.index, "Reason": self.reason}
        if self.existing_version is not None:
            out["ExistingVersion"] = self.existing_version
        return out


@dataclass(slots=True)
class ParsedRecords:
    points: Points
    rejected: list[Rejection] = field(default_factory=list)


class _Reject(Exception):
    pass


def _dimension_list(dims: Any, where: str) -> list[Mapping[str, Any]]:
    """A record's (or the common attributes') Dimensions, checked for shape and repeats."""
    if dims is None:
        return []
    if not isinstance(dims, list | tuple) or not all(isinstance(d, Mapping) for d in dims):
        raise _Reject(f"Dimensions of {where} must be a list of {{'Name', 'Value'}} dicts.")
    names = [d.get("Name") for d in dims]
    for name in names:
        if names.count(name) > 1:
            raise _Reject(f"Dimension '{name}' appears more than once in {where}.")
    return list(dims)


def _merge_common(record: Mapping[str, Any], common: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record with the common attributes filled in; the record's own values win."""
    own = _dimension_list(record.get("Dimensions"), "the record")
    if not common:
        return {**record, "Dimensions": own}
    out = {k: v for k, v in common.items() if k != "Dimensions"}
    out.update({k: v for k, v in record.items() if k != "Dimensions"})
    dims = {d.get("Name"): d for d in _dimension_list(common.get("Dimensions"), "CommonAttributes")}
    for d in own:
        dims[d.get("Name")] = d
    out["Dimensions"] = list(dims.values())
    return out


def _int64(value: int, what: str) -> int:
    if not INT64_NULL < value <= _INT64_MAX:
        raise _Reject(f"{what} is out of range for a 64-bit nanosecond time.")
    return value


def _convert(value: Any, mtype: MeasureType, unit_ns: int, name: str) -> object:
    if not isinstance(value, str):
        raise _Reject(f"Measure value of '{name}' must be a string, got {type(value).__name__}.")
    try:
        if mtype is MeasureType.DOUBLE:
            f = float(value)
            if math.isnan(f) or math.isinf(f):
                raise _Reject(
                    f"Measure value of '{name}' is {value}; NaN and Infinity are invalid."
                )
            return f
        if mtype is MeasureType.BIGINT:
            i = int(value)
            if not INT64_NULL < i <= np.iinfo(np.int64).max:
                raise _Reject(f"Measure value of '{name}' is out of the BIGINT range.")
            return i
        if mtype is MeasureType.BOOLEAN:
            low = value.strip().lower()
            if low not in ("true", "false"):
                raise _Reject(f"Measure value of '{name}' is {value!r}; BOOLEAN takes true/false.")
            return 1 if low == "true" else 0
        if mtype is MeasureType.TIMESTAMP:
            return _int64(int(value) * unit_ns, f"Measure value of '{name}'")
        if len(value.encode()) > MAX_VARCHAR_BYTES:
            raise _Reject(f"Measure value of '{name}' exceeds {MAX_VARCHAR_BYTES} bytes.")
        return value
    except ValueError as e:
        raise _Reject(f"Measure value {value!r} of '{name}' is not a valid {mtype}.") from e


def _parse_one(rec: dict[str, Any]) -> tuple[dict[str, str], str, int, dict[str, tuple], int]:
    unit = rec.get("TimeUnit", "MILLISECONDS")
    if unit not in TIME_UNITS:
        raise _Reject(f"TimeUnit {unit!r} is invalid; use one of {', '.join(TIME_UNITS)}.")
    unit_ns = TIME_UNITS[unit]
    if "Time" not in rec:
        raise _Reject("The record has no Time.")
    raw_time = rec["Time"]
    if isinstance(raw_time, bool) or not isinstance(raw_time, str | int | np.integer):
        raise _Reject(f"Time {raw_time!r} is not an integer count of {unit}.")
    try:
        t = _int64(int(raw_time) * unit_ns, f"Time {raw_time!r} ({unit})")
    except ValueError as e:
        raise _Reject(f"Time {raw_time!r} is not an integer count of {unit}.") from e
    dims_in = rec.get("Dimensions") or []
    if len(dims_in) > MAX_DIMENSIONS:
        raise _Reject(f"The record has {len(dims_in)} dimensions; the limit is {MAX_DIMENSIONS}.")
    dims: dict[str, str] = {}
    for d in dims_in:
        name, value = d.get("Name"), d.get("Value")
        try:
            validate_column_name(name, "dimension")
        except ValidationError as e:
            raise _Reject(str(e)) from e
        if not isinstance(value, str) or value == "":
            raise _Reject(f"Dimension '{name}' has no value; every dimension needs a value.")
        if "\x00" in value:
            raise _Reject(f"Dimension '{name}' value contains a NUL character; remove it.")
        if len(value.encode()) > MAX_DIMENSION_VALUE_BYTES:
            raise _Reject(f"Dimension '{name}' value exceeds {MAX_DIMENSION_VALUE_BYTES} bytes.")
        dims[name] = value
    mname = rec.get("MeasureName")
    if not isinstance(mname, str) or not mname:
        raise _Reject("The record has no MeasureName.")
    try:
        validate_column_name(mname, "measure")
    except ValidationError as e:
        raise _Reject(str(e)) from e
    vtype = rec.get("MeasureValueType", "DOUBLE")
    values: dict[str, tuple] = {}
    if vtype == "MULTI":
        mvs = rec.get("MeasureValues") or []
        if not isinstance(mvs, list | tuple) or not all(isinstance(mv, Mapping) for mv in mvs):
            raise _Reject("MeasureValues must be a list of {'Name', 'Value', 'Type'} dicts.")
        if not mvs:
            raise _Reject("A MULTI record needs MeasureValues.")
        if len(mvs) > MAX_MEASURES_PER_RECORD:
            raise _Reject(f"The record has {len(mvs)} measures; limit {MAX_MEASURES_PER_RECORD}.")
        for mv in mvs:
            name = mv.get("Name")
            try:
                validate_column_name(name, "measure")
                mt = MeasureType(mv.get("Type", "DOUBLE"))
            except (ValidationError, ValueError) as e:
                raise _Reject(f"Measure {name!r}: {e}") from e
            if name in values:
                raise _Reject(f"Measure '{name}' appears twice in MeasureValues.")
            values[name] = (mt, _convert(mv.get("Value"), mt, unit_ns, name))
    else:
        try:
            mt = MeasureType(vtype)
        except ValueError as e:
            raise _Reject(
                f"MeasureValueType {vtype!r} is invalid; use DOUBLE, BIGINT, VARCHAR, BOOLEAN, "
                "TIMESTAMP or MULTI."
            ) from e
        if "MeasureValue" not in rec:
            raise _Reject("The record has no MeasureValue.")
        values[single_measure_column(mt)] = (mt, _convert(rec["MeasureValue"], mt, unit_ns, mname))
    clash = sorted(set(dims) & set(values))
    if clash:
        raise _Reject(f"'{clash[0]}' is both a dimension and a measure of the record.")
    version = rec.get("Version", 1)
    if not isinstance(version, int | np.integer) or isinstance(version, bool):
        raise _Reject(f"Version {version!r} must be an integer.")
    if not 1 <= int(version) <= _INT64_MAX:
        raise _Reject(f"Version {version} is invalid; it must be 1 or greater (and fit 64 bits).")
    return dims, mname, t, values, int(version)


def _batch_conflict(
    dims: dict[str, str],
    values: dict[str, tuple],
    dim_names: dict[str, None],
    types: dict[str, MeasureType],
) -> str | None:
    """Why a record disagrees with the records accepted before it in the batch, or None."""
    for k, (mt, _) in values.items():
        have = types.get(k)
        if have is not None and have is not mt:
            return f"Measure '{k}' is {mt} here but {have} earlier in the batch."
        if k in dim_names:
            return f"'{k}' is a dimension earlier in the batch; it cannot also be a measure."
    for d in dims:
        if d in types:
            return f"'{d}' is a measure earlier in the batch; it cannot also be a dimension."
    return None


def parse_records(
    records: Sequence[Mapping[str, Any]], common_attributes: Mapping[str, Any] | None = None
) -> ParsedRecords:
    """Parse WriteRecords records; invalid ones become :class:`Rejection` entries."""
    rejected: list[Rejection] = []
    rows: list[tuple[int, dict[str, str], str, int, dict[str, tuple], int]] = []
    for i, rec in enumerate(records):
        try:
            if not isinstance(rec, Mapping):
                raise _Reject(f"Record must be a dict, got {type(rec).__name__}.")
            rows.append((i, *_parse_one(_merge_common(rec, common_attributes))))
        except _Reject as e:
            rejected.append(Rejection(i, str(e)))
    # Names and types must agree across the batch: a later record that disagrees is rejected
    # and contributes nothing (not even an empty column) to the batch's schema.
    dim_names: dict[str, None] = {}
    types: dict[str, MeasureType] = {}
    accepted = []
    for row in rows:
        i, dims, _, _, values, _ = row
        why = _batch_conflict(dims, values, dim_names, types)
        if why is not None:
            rejected.append(Rejection(i, why))
            continue
        accepted.append(row)
        dim_names.update(dict.fromkeys(dims))
        for k, (mt, _) in values.items():
            types.setdefault(k, mt)
    rows = accepted
    key_index: dict[tuple, int] = {}
    series = np.empty(len(rows), np.int32)
    for j, (_, dims, mname, *_rest) in enumerate(rows):
        key = (*(dims.get(d) for d in dim_names), mname)
        series[j] = key_index.setdefault(key, len(key_index))
    keys = keys_frame(
        {
            **{d: [k[n] for k in key_index] for n, d in enumerate(dim_names)},
            MEASURE_NAME: [k[-1] for k in key_index],
        }
    )
    columns = {k: empty_column(mt, len(rows)) for k, mt in types.items()}
    for j, (_, _, _, _, values, _) in enumerate(rows):
        for k, (_, v) in values.items():
            columns[k][j] = v
    points = Points(
        keys=keys,
        series=series,
        time=np.array([r[3] for r in rows], dtype=np.int64),
        columns=columns,
        types=types,
        version=np.array([r[5] for r in rows], dtype=np.int64),
        row=np.array([r[0] for r in rows], dtype=np.int64),
    )
    return ParsedRecords(points, sorted(rejected, key=lambda r: r.index))
