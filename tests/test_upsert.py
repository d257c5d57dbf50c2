"""Timestream's upsert rules: dedup, replace by version, reject with ExistingVersion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType
from tsstore.model.upsert import CONFLICT_REASON, plan_upsert, resolve_duplicates
from tsstore.testing import ReferenceTable, point_rows, points

KEYS = keys_frame({"d": ["a", "b"], MEASURE_NAME: ["m", "m"]})


def pts(series, time, x, version=None, row=None, s=None):
    n = len(time)
    cols = {"x": np.asarray(x, dtype=np.float64)}
    types = {"x": MeasureType.DOUBLE}
    if s is not None:
        cols["s"] = np.asarray(s, dtype=object)
        types["s"] = MeasureType.VARCHAR
    return Points(
        KEYS,
        np.asarray(series, np.int32),
        np.asarray(time, np.int64),
        cols,
        types,
        None if version is None else np.asarray(version, np.int64),
        np.arange(n) if row is None else np.asarray(row, np.int64),
    )


def plan(existing, new):
    new, rejected = resolve_duplicates(new)
    assert rejected == []
    p = plan_upsert(existing, new)
    return p, [(r.index, r.existing_version) for r in p.rejected]


def test_nothing_stored_inserts_everything_sorted():
    p, rej = plan(Points.empty(KEYS), pts([1, 0, 0], [5, 9, 1], [1, 2, 3]))
    assert rej == [] and len(p.replaced) == 0
    assert p.insert.series.tolist() == [0, 0, 1] and p.insert.time.tolist() == [1, 9, 5]
    assert p.insert.row.tolist() == [2, 1, 0]


@pytest.mark.parametrize(
    ("stored_version", "new_version", "new_x", "outcome"),
    [
        (1, 1, 1.0, "dedup"),  # same value, same version
        (3, 2, 1.0, "dedup"),  # same value, lower version
        (1, 2, 1.0, "replace"),  # same value, higher version: the version is updated
        (1, 2, 5.0, "replace"),  # higher version
        (1, 1, 5.0, "reject"),  # equal version, different value
        (3, 2, 5.0, "reject"),  # lower version
    ],
)
def test_rules_against_a_stored_record(stored_version, new_version, new_x, outcome):
    existing = pts([0, 1], [10, 10], [1.0, 7.0], version=[stored_version, 1])
    p, rej = plan(existing, pts([0], [10], [new_x], version=[new_version], row=[4]))
    if outcome == "dedup":
        assert len(p.insert) == 0 and len(p.replaced) == 0 and rej == []
    elif outcome == "replace":
        assert p.replaced.tolist() == [0] and rej == []
        assert p.insert.columns["x"].tolist() == [new_x]
        assert p.insert.versions().tolist() == [new_version]
    else:
        assert len(p.insert) == 0 and len(p.replaced) == 0
        assert rej == [(4, stored_version)]
        assert p.rejected[0].reason == CONFLICT_REASON
        assert p.rejected[0].to_dict() == {
            "RecordIndex": 4,
            "Reason": CONFLICT_REASON,
            "ExistingVersion": stored_version,
        }


def test_records_of_one_write_follow_the_rules_in_write_order():
    # [v1: 1.0, v1: 2.0] -> the second is rejected against the first's version
    p, rej = plan(Points.empty(KEYS), pts([0, 0], [5, 5], [1.0, 2.0]))
    assert rej == [(1, 1)] and p.insert.columns["x"].tolist() == [1.0]
    # write order is the row order, not the position
    p, rej = plan(Points.empty(KEYS), pts([0, 0], [5, 5], [1.0, 2.0], row=[1, 0]))
    assert rej == [(1, 1)] and p.insert.columns["x"].tolist() == [2.0]
    # [v2: a, v3: b] -> b wins when nothing is stored ...
    p, rej = plan(Points.empty(KEYS), pts([0, 0], [5, 5], [1.0, 2.0], version=[2, 3]))
    assert rej == [] and p.insert.columns["x"].tolist() == [2.0]
    # ... and both are rejected against a stored version 5
    stored = pts([0], [5], [9.0], version=[5])
    p, rej = plan(stored, pts([0, 0], [5, 5], [1.0, 2.0], version=[2, 3]))
    assert rej == [(0, 5), (1, 5)] and len(p.insert) == 0 and len(p.replaced) == 0
    # [v1: stored value, v2: other] -> dedup then replace
    stored = pts([0], [5], [9.0], version=[1])
    p, rej = plan(stored, pts([0, 0], [5, 5], [9.0, 2.0], version=[1, 2]))
    assert rej == [] and p.replaced.tolist() == [0] and p.insert.columns["x"].tolist() == [2.0]
    # identical records after a rejected one are each rejected
    p, rej = plan(stored, pts([0, 0, 0], [5, 5, 5], [3.0, 3.0, 9.0]))
    assert rej == [(0, 1), (1, 1)] and len(p.insert) == 0


def test_same_value_with_a_higher_version_in_one_write_bumps_the_version():
    p, rej = plan(Points.empty(KEYS), pts([0, 0, 0], [5, 5, 5], [1.0, 1.0, 2.0], version=[1, 3, 2]))
    assert rej == [(2, 3)]
    assert p.insert.versions().tolist() == [3] and p.insert.row.tolist() == [1]


def test_values_compare_every_measure_with_nulls():
    existing = pts([0], [1], [1.0], s=["a"])
    # a record that lacks a stored measure has another value (no partial updates)
    p, rej = plan(existing, pts([0], [1], [1.0], s=[None]))
    assert rej == [(0, 1)]
    p, rej = plan(existing, pts([0], [1], [1.0], s=["a"]))
    assert rej == [] and len(p.insert) == 0
    p, rej = plan(existing, pts([0], [1], [1.0], s=["b"], version=[2]))
    assert p.replaced.tolist() == [0] and p.insert.columns["s"].tolist() == ["b"]
    # a measure the stored points never had is null there
    new = Points(
        KEYS,
        np.zeros(1, np.int32),
        np.ones(1, np.int64),
        {"x": np.array([1.0]), "n": np.array([INT64_NULL])},
        {"x": MeasureType.DOUBLE, "n": MeasureType.BIGINT},
        None,
        np.zeros(1, np.int64),
    )
    p, rej = plan(pts([0], [1], [1.0]), new)
    assert rej == [] and len(p.insert) == 0


def test_other_series_and_times_never_collide():
    existing = pts([0, 1], [1, 2], [1.0, 2.0])
    p, rej = plan(existing, pts([1, 0], [1, 2], [5.0, 6.0]))
    assert rej == [] and len(p.insert) == 2 and len(p.replaced) == 0


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_plan_matches_the_reference_model(data):
    types = {"x": MeasureType.DOUBLE, "s": MeasureType.VARCHAR}
    series = [{"d": "a", MEASURE_NAME: "m"}, {"d": "b", MEASURE_NAME: "m"}]
    common = {
        "types": types,
        "series_keys": series,
        "times": st.integers(0, 3),
        "versions": st.integers(1, 3),
        "small_values": True,
    }
    first = data.draw(points(max_rows=8, **common))
    ref = ReferenceTable()
    ref.write_points(first)
    # the stored state: one row per identity, in one key space with the write
    stored_rows = sorted(ref.state.items())
    key_index = {}
    for (dims, mname, _t), _ in stored_rows:
        key_index.setdefault((dims, mname), len(key_index))
    new = data.draw(points(max_rows=10, **common))
    new_rows = point_rows(new)
    for r in new_rows:
        key_index.setdefault((r[0], r[1]), len(key_index))
    keys = keys_frame(
        {
            "d": [dict(k[0]).get("d") for k in key_index],
            MEASURE_NAME: [k[1] for k in key_index],
        }
    )

    def as_points(rows, row_labels):
        return Points(
            keys,
            np.array([key_index[(r[0], r[1])] for r in rows], np.int32),
            np.array([r[2] for r in rows], np.int64),
            {
                "x": np.array([dict(r[3]).get("x", np.nan) for r in rows], np.float64),
                "s": np.array([dict(r[3]).get("s") for r in rows], object),
            },
            types,
            np.array([r[4] for r in rows], np.int64),
            np.asarray(row_labels, np.int64),
        )

    existing = as_points([(*k, v[0], v[1]) for k, v in stored_rows], range(len(stored_rows)))
    write = as_points(new_rows, new.row)
    expected_rejected = ref.write_points(new)
    p = plan_upsert(existing, resolve_duplicates(write)[0])
    assert sorted((r.index, r.existing_version) for r in p.rejected) == sorted(expected_rejected)
    kept = np.ones(len(existing), bool)
    kept[p.replaced] = False
    after = sorted(point_rows(existing.take(kept)) + point_rows(p.insert))
    assert after == sorted((*k, v[0], v[1]) for k, v in ref.state.items())
    assert p.insert.is_sorted()
