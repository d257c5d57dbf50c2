"""boto3 WriteRecords records -> Points and Timestream-shaped rejections."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME
from tsstore.model.records import TIME_UNITS, Rejection, parse_records
from tsstore.model.schema import INT64_NULL, MeasureType
from tsstore.testing import point_rows

DIMS = [{"Name": "device_id", "Value": "m-1"}, {"Name": "factory", "Value": "f-1"}]


def rec(**kw):
    base = {
        "Dimensions": DIMS,
        "MeasureName": "temperature",
        "MeasureValue": "71.5",
        "MeasureValueType": "DOUBLE",
        "Time": "1700000000000",
    }
    base.update(kw)
    return base


def reasons(parsed):
    return {r.index: r.reason for r in parsed.rejected}


def test_single_measure_records_of_every_type():
    parsed = parse_records(
        [
            rec(),
            rec(MeasureName="count", MeasureValue="-42", MeasureValueType="BIGINT"),
            rec(MeasureName="ok", MeasureValue="TRUE", MeasureValueType="BOOLEAN"),
            rec(MeasureName="at", MeasureValue="1700000000001", MeasureValueType="TIMESTAMP"),
            rec(MeasureName="state", MeasureValue="running", MeasureValueType="VARCHAR"),
        ]
    )
    assert parsed.rejected == []
    p = parsed.points
    assert p.types == {
        "measure_value::double": MeasureType.DOUBLE,
        "measure_value::bigint": MeasureType.BIGINT,
        "measure_value::boolean": MeasureType.BOOLEAN,
        "measure_value::timestamp": MeasureType.TIMESTAMP,
        "measure_value::varchar": MeasureType.VARCHAR,
    }
    assert p.time.tolist() == [1_700_000_000_000_000_000] * 5
    assert p.columns["measure_value::bigint"].tolist() == [
        INT64_NULL,
        -42,
        INT64_NULL,
        INT64_NULL,
        INT64_NULL,
    ]
    assert p.columns["measure_value::boolean"].tolist() == [-1, -1, 1, -1, -1]
    # a TIMESTAMP value is in the record's TimeUnit
    assert p.columns["measure_value::timestamp"][3] == 1_700_000_000_001_000_000
    assert p.keys[MEASURE_NAME].tolist() == ["temperature", "count", "ok", "at", "state"]
    assert p.version.tolist() == [1] * 5 and p.row.tolist() == list(range(5))


@pytest.mark.parametrize(("unit", "ns"), list(TIME_UNITS.items()))
def test_time_units(unit, ns):
    p = parse_records([rec(Time="12", TimeUnit=unit)]).points
    assert p.time.tolist() == [12 * ns]


def test_multi_measure_records_and_versions():
    parsed = parse_records(
        [
            rec(
                MeasureName="metrics",
                MeasureValueType="MULTI",
                MeasureValue=None,
                Version=3,
                MeasureValues=[
                    {"Name": "t", "Value": "1.5", "Type": "DOUBLE"},
                    {"Name": "n", "Value": "7", "Type": "BIGINT"},
                ],
            ),
            rec(
                MeasureName="metrics",
                MeasureValueType="MULTI",
                Time="1700000001000",
                MeasureValues=[{"Name": "t", "Value": "2.5"}],
            ),  # Type defaults to DOUBLE
        ]
    )
    assert parsed.rejected == []
    p = parsed.points
    assert p.types == {"t": MeasureType.DOUBLE, "n": MeasureType.BIGINT}
    assert p.columns["t"].tolist() == [1.5, 2.5]
    assert p.columns["n"].tolist() == [7, INT64_NULL]
    assert p.version.tolist() == [3, 1]
    assert p.series.tolist() == [0, 0]  # one series: same dimensions and measure name


def test_common_attributes_fill_in_and_records_win():
    common = {
        "Dimensions": [{"Name": "factory", "Value": "f-9"}, {"Name": "site", "Value": "s"}],
        "MeasureValueType": "BIGINT",
        "TimeUnit": "SECONDS",
        "Time": "5",
    }
    parsed = parse_records(
        [
            {
                "Dimensions": [{"Name": "factory", "Value": "f-1"}],
                "MeasureName": "c",
                "MeasureValue": "1",
            },
            {"MeasureName": "c", "MeasureValue": "2", "Time": "6"},
        ],
        common,
    )
    assert parsed.rejected == []
    rows = point_rows(parsed.points)
    assert rows == [
        ((("factory", "f-1"), ("site", "s")), "c", 5 * 10**9, (("measure_value::bigint", 1),), 1),
        ((("factory", "f-9"), ("site", "s")), "c", 6 * 10**9, (("measure_value::bigint", 2),), 1),
    ]


REJECTS = [
    (rec(TimeUnit="HOURS"), "TimeUnit 'HOURS' is invalid"),
    ({k: v for k, v in rec().items() if k != "Time"}, "no Time"),
    (rec(Time="1.5"), "not an integer count"),
    (rec(Time=True), "not an integer count"),
    (rec(Time=str(2**63), TimeUnit="NANOSECONDS"), "out of range"),
    (rec(Time="9999999999999999", TimeUnit="SECONDS"), "out of range"),
    (rec(Dimensions=[{"Name": "d", "Value": ""}]), "Dimension 'd' has no value"),
    (rec(Dimensions=[{"Name": "d", "Value": "x" * 2049}]), "exceeds 2048 bytes"),
    (rec(Dimensions=[{"Name": "time", "Value": "x"}]), "reserved"),
    (rec(Dimensions=[{"Name": "a:b", "Value": "x"}]), "contains ':'"),
    (rec(Dimensions=[{"Name": "d", "Value": "x"}, {"Name": "d", "Value": "y"}]), "more than once"),
    (rec(Dimensions=["d=x"]), "list of {'Name', 'Value'} dicts"),
    (rec(Dimensions=[{"Name": "d", "Value": "x\x00"}]), "NUL character"),
    (rec(Dimensions=[{"Name": f"d{i}", "Value": "v"} for i in range(129)]), "limit is 128"),
    (rec(MeasureName=""), "no MeasureName"),
    (rec(MeasureName="ts_x"), "reserved"),
    (rec(MeasureValueType="FLOAT"), "MeasureValueType 'FLOAT' is invalid"),
    ({k: v for k, v in rec().items() if k != "MeasureValue"}, "no MeasureValue"),
    (rec(MeasureValue=71.5), "must be a string"),
    (rec(MeasureValue="NaN"), "NaN and Infinity"),
    (rec(MeasureValue="-Infinity"), "NaN and Infinity"),
    (rec(MeasureValue="warm"), "not a valid DOUBLE"),
    (rec(MeasureValue=str(-(2**63)), MeasureValueType="BIGINT"), "BIGINT range"),
    (rec(MeasureValue=str(2**63), MeasureValueType="BIGINT"), "BIGINT range"),
    (rec(MeasureValue="yes", MeasureValueType="BOOLEAN"), "BOOLEAN takes true/false"),
    (rec(MeasureValue=str(2**62), MeasureValueType="TIMESTAMP"), "out of range"),
    (rec(MeasureValue="x" * 2049, MeasureValueType="VARCHAR"), "exceeds 2048 bytes"),
    (rec(MeasureValueType="MULTI"), "needs MeasureValues"),
    (rec(MeasureValueType="MULTI", MeasureValues=[{"Name": "a", "Value": "1"}] * 2), "twice"),
    (rec(MeasureValueType="MULTI", MeasureValues="a=1"), "must be a list"),
    (
        rec(
            MeasureValueType="MULTI",
            MeasureValues=[{"Name": f"m{i}", "Value": "1"} for i in range(257)],
        ),
        "limit 256",
    ),
    (
        rec(MeasureValueType="MULTI", MeasureValues=[{"Name": "a", "Value": "1", "Type": "MULTI"}]),
        "Measure 'a'",
    ),
    (
        rec(MeasureValueType="MULTI", MeasureValues=[{"Name": "device_id", "Value": "1"}]),
        "both a dimension and a measure",
    ),
    (rec(Version="2"), "must be an integer"),
    (rec(Version=True), "must be an integer"),
    (rec(Version=0), "1 or greater"),
    (rec(Version=2**63), "1 or greater"),
    ("not a dict", "Record must be a dict"),
]


@pytest.mark.parametrize(("record", "reason"), REJECTS)
def test_invalid_records_are_rejected_with_a_reason(record, reason):
    parsed = parse_records([rec(), record, rec(Time="1700000000001")])
    assert [r.index for r in parsed.rejected] == [1]
    assert reason in parsed.rejected[0].reason
    assert len(parsed.points) == 2 and parsed.points.row.tolist() == [0, 2]
    assert parsed.rejected[0].to_dict() == {"RecordIndex": 1, "Reason": parsed.rejected[0].reason}


def test_batch_conflicts_reject_the_later_record_and_leave_no_trace():
    multi = {"MeasureName": "m", "MeasureValueType": "MULTI", "Time": "1"}
    parsed = parse_records(
        [
            {**multi, "MeasureValues": [{"Name": "a", "Value": "1", "Type": "BIGINT"}]},
            {
                **multi,
                "MeasureValues": [
                    {"Name": "a", "Value": "1.5", "Type": "DOUBLE"},
                    {"Name": "b", "Value": "x", "Type": "VARCHAR"},
                ],
            },
            {
                **multi,
                "Dimensions": [{"Name": "a", "Value": "v"}],
                "MeasureValues": [{"Name": "c", "Value": "1"}],
            },
            {
                **multi,
                "Dimensions": [{"Name": "d", "Value": "v"}],
                "MeasureValues": [{"Name": "e", "Value": "1"}],
            },
            {**multi, "MeasureValues": [{"Name": "d", "Value": "1"}]},
        ]
    )
    assert reasons(parsed) == {
        1: "Measure 'a' is DOUBLE here but BIGINT earlier in the batch.",
        2: "'a' is a measure earlier in the batch; it cannot also be a dimension.",
        4: "'d' is a dimension earlier in the batch; it cannot also be a measure.",
    }
    # the rejected record's other measure ("b") adds no column to the batch
    assert parsed.points.types == {"a": MeasureType.BIGINT, "e": MeasureType.DOUBLE}
    assert list(parsed.points.keys.columns) == ["d", MEASURE_NAME]


def test_rejection_to_dict_carries_existing_version_only_when_known():
    assert Rejection(3, "r", 2).to_dict() == {"RecordIndex": 3, "Reason": "r", "ExistingVersion": 2}
    assert "ExistingVersion" not in Rejection(3, "r").to_dict()


def test_empty_batch():
    parsed = parse_records([])
    assert len(parsed.points) == 0 and parsed.rejected == []


record_values = {
    "DOUBLE": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "BIGINT": st.integers(-(2**63) + 1, 2**63 - 1).map(str),
    "BOOLEAN": st.sampled_from(["true", "false", "True", "FALSE"]),
    "TIMESTAMP": st.just("0"),  # drawn in the record's unit below
    "VARCHAR": st.text(max_size=10),
}


@st.composite
def records(draw):
    dims = draw(st.lists(st.sampled_from(["d1", "d2", "d3"]), unique=True, max_size=3))
    mtype = draw(st.sampled_from(list(record_values)))
    unit = draw(st.sampled_from(list(TIME_UNITS)))
    value = draw(record_values[mtype])
    if mtype == "TIMESTAMP":  # in the record's unit
        value = str(draw(st.integers(-(2**62), 2**62)) // TIME_UNITS[unit])
    time = draw(st.integers(-(2**62) // TIME_UNITS[unit], 2**62 // TIME_UNITS[unit]))
    r = {
        "Dimensions": [{"Name": d, "Value": draw(st.sampled_from(["x", "y"]))} for d in dims],
        "MeasureName": draw(st.sampled_from(["cpu", "mem"])),
        "Time": str(time),
        "TimeUnit": unit,
        "Version": draw(st.integers(1, 2**63 - 1)),
    }
    if draw(st.booleans()):
        r.update(MeasureValueType=mtype, MeasureValue=value)
        name = f"measure_value::{mtype.lower()}"
    else:
        name = f"v_{mtype.lower()}"
        r.update(
            MeasureValueType="MULTI", MeasureValues=[{"Name": name, "Value": value, "Type": mtype}]
        )
    scale = TIME_UNITS[unit]
    if mtype == "DOUBLE":
        expected = float(value)
    elif mtype == "BOOLEAN":
        expected = value.lower() == "true"
    elif mtype == "TIMESTAMP":
        expected = int(value) * scale
    elif mtype == "BIGINT":
        expected = int(value)
    else:
        expected = value
    row = (
        tuple(sorted((d["Name"], d["Value"]) for d in r["Dimensions"])),
        r["MeasureName"],
        time * scale,
        ((name, expected),),
        r["Version"],
    )
    return r, row


@settings(max_examples=100, deadline=None)
@given(st.lists(records(), max_size=12))
def test_valid_records_parse_to_their_values(batch):
    parsed = parse_records([r for r, _ in batch])
    assert parsed.rejected == []
    assert point_rows(parsed.points) == [row for _, row in batch]
    assert np.array_equal(parsed.points.row, np.arange(len(batch)))
