"""Durations, retention periods and times."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsstore.errors import ValidationError
from tsstore.model.durations import (
    MAGNETIC_RETENTION_BOUNDS,
    MEMORY_RETENTION_BOUNDS,
    Retention,
    format_duration,
    parse_duration,
    to_utc_timestamp,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", pd.Timedelta(minutes=15)),
        ("15min", pd.Timedelta(minutes=15)),
        ("12h", pd.Timedelta(hours=12)),
        (" 3650d ", pd.Timedelta(days=3650)),
        ("500ms", pd.Timedelta(milliseconds=500)),
        ("7us", pd.Timedelta(microseconds=7)),
        ("9ns", pd.Timedelta(9, unit="ns")),
        ("1.5h", pd.Timedelta(minutes=90)),
        ("1.1h", pd.Timedelta(3_960_000_000_000, unit="ns")),  # exact, not a float's guess
        ("0.000000001s", pd.Timedelta(1, unit="ns")),
        (timedelta(hours=2), pd.Timedelta(hours=2)),
        (np.timedelta64(3, "s"), pd.Timedelta(seconds=3)),
        (pd.Timedelta("1D"), pd.Timedelta(days=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("12", "not a duration"),
        ("h", "not a duration"),
        ("-1h", "not a duration"),
        ("1e3s", "not a duration"),
        ("12 hours", "not a duration"),
        ("12h\n1h", "not a duration"),
        ("١٢h", "not a duration"),  # non-ASCII digits
        (12, "not a duration"),
        (None, "not a duration"),
        ("1.5ns", "whole number of nanoseconds"),
        ("999999999d", "too long"),
        (np.timedelta64("NaT"), "NaT"),
        (pd.NaT, "not a duration"),
    ],
)
def test_parse_duration_refuses(value, match):
    with pytest.raises(ValidationError, match=match):
        parse_duration(value, "memory_retention")


@given(st.integers(0, 2**63 - 1))
def test_format_then_parse_is_exact(ns):
    td = pd.Timedelta(ns, unit="ns")
    text = format_duration(td)
    assert parse_duration(text) == td
    for unit in ("h", "d"):
        assert parse_duration(format_duration(td, unit)) == td


def test_format_duration_prefers_the_given_unit_when_exact():
    assert format_duration(pd.Timedelta(hours=24)) == "1d"
    assert format_duration(pd.Timedelta(hours=24), "h") == "24h"
    assert format_duration(pd.Timedelta(minutes=90), "h") == "90m"
    assert format_duration(pd.Timedelta(days=3650), "d") == "3650d"


def test_retention_bounds_are_timestreams():
    memory, magnetic = MEMORY_RETENTION_BOUNDS, MAGNETIC_RETENTION_BOUNDS
    assert memory == (pd.Timedelta(hours=1), pd.Timedelta(hours=8766))
    assert magnetic == (pd.Timedelta(days=1), pd.Timedelta(days=73000))
    r = Retention.parse()
    assert (r.memory, r.magnetic) == (pd.Timedelta(hours=6), pd.Timedelta(days=73000))
    for memory, magnetic in [("1h", "1d"), ("8766h", "73000d"), ("60m", "24h")]:
        Retention.parse(memory, magnetic)


@pytest.mark.parametrize(
    ("memory", "magnetic", "match"),
    [
        ("59m", "1d", "memory_retention 59m is out of bounds; choose between 1h and 8766h"),
        ("8767h", "1d", "memory_retention 8767h is out of bounds"),
        ("1h", "23h", "magnetic_retention 23h is out of bounds; choose between 1d and 73000d"),
        ("1h", "73001d", "magnetic_retention 73001d is out of bounds"),
        ("1h", "1y", "not a duration"),
        (np.timedelta64("NaT"), "1d", "NaT"),
        (pd.Timedelta(hours=-1), "1d", "out of bounds"),
    ],
)
def test_retention_out_of_bounds(memory, magnetic, match):
    with pytest.raises(ValidationError, match=match):
        Retention.parse(memory, magnetic)


def test_retention_json_uses_timestreams_units_and_round_trips():
    r = Retention.parse("24h", "3650d")
    assert r.to_json() == {"memory": "24h", "magnetic": "3650d"}
    assert Retention.parse(**r.to_json()) == r
    r = Retention.parse("90m", "36h")
    assert r.to_json() == {"memory": "90m", "magnetic": "36h"}
    assert Retention.parse(**r.to_json()) == r
    with pytest.raises(AttributeError):
        r.memory = pd.Timedelta(hours=2)  # frozen


def test_to_utc_timestamp():
    assert to_utc_timestamp("2024-01-01") == pd.Timestamp("2024-01-01", tz="UTC")
    assert to_utc_timestamp(pd.Timestamp("2024-01-01 09:00", tz="Asia/Tokyo")) == pd.Timestamp(
        "2024-01-01 00:00", tz="UTC"
    )
    assert str(to_utc_timestamp(np.datetime64("2024-01-01")).tz) == "UTC"
    for bad, match in [
        (pd.NaT, "NaT"),
        ("soon", "not a time"),
        (None, "NaT"),
        ("3000-01-01", "not a time"),
    ]:
        with pytest.raises(ValidationError, match=match):
            to_utc_timestamp(bad, "start")
