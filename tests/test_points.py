"""Points: the columnar rows every tier reads and writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME, GridTranspose, Points, keys_frame, map_keys
from tsstore.model.schema import INT64_NULL, MeasureType
from tsstore.testing import assert_points_equal, point_rows, points

KEYS = keys_frame({"d": ["a", "b", None], MEASURE_NAME: ["m", "m", "n"]})
EXTREME_TIMES = st.sampled_from([INT64_NULL + 1, -1, 0, 1, 2**62, 2**63 - 1])


def raw(series, time, **cols):
    return Points(
        KEYS,
        np.asarray(series, np.int32),
        np.asarray(time, np.int64),
        {k: np.asarray(v) for k, v in cols.items()},
        {k: MeasureType.DOUBLE for k in cols},
        row=np.arange(len(time)),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.one_of(st.integers(-3, 3), EXTREME_TIMES))))
def test_sort_order_is_stable_by_series_then_time(pairs):
    p = raw([s for s, _ in pairs], [t for _, t in pairs])
    order = p.sort_order()
    expected = sorted(range(len(pairs)), key=lambda i: pairs[i])  # Python's sort is stable
    assert order.tolist() == expected
    assert p.take(order).is_sorted() and p.sorted().is_sorted()
    assert p.is_sorted() == (order.tolist() == list(range(len(pairs))))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_merge_sorted_equals_concat_then_sort(data):
    types = data.draw(
        st.sampled_from(
            [{"x": MeasureType.DOUBLE}, {"s": MeasureType.VARCHAR, "n": MeasureType.BIGINT}]
        )
    )
    times = data.draw(st.sampled_from([st.integers(0, 5), EXTREME_TIMES]))
    keys = [{"d": "a", MEASURE_NAME: "m"}, {"d": "b", MEASURE_NAME: "m"}]
    a = data.draw(points(max_rows=20, types=types, series_keys=keys, times=times)).sorted()
    b_types = data.draw(st.sampled_from([types, {"ok": MeasureType.BOOLEAN}]))
    b = data.draw(points(max_rows=20, types=b_types, series_keys=keys, times=times)).sorted()
    shared = keys_frame({"d": ["a", "b"], MEASURE_NAME: ["m", "m"]})
    a, b = a.remap(shared), b.remap(shared)
    merged = Points.merge_sorted(a, b)
    expected = Points.concat([a, b], keys=shared).sorted()
    assert merged.is_sorted()
    assert point_rows(merged) == point_rows(expected)
    assert merged.types == expected.types
    if a.row is not None and b.row is not None and len(a) and len(b):
        assert merged.row.tolist() == expected.row.tolist()


def test_merge_sorted_puts_a_first_on_ties():
    a = raw([0, 1], [5, 5], x=[1.0, 2.0])
    b = raw([0, 0], [5, 6], x=[3.0, 4.0])
    m = Points.merge_sorted(a, b)
    assert m.columns["x"].tolist() == [1.0, 3.0, 4.0, 2.0]
    assert Points.merge_sorted(a, a.take(np.zeros(0, int))).columns["x"].tolist() == [1.0, 2.0]


def test_take_with_types_and_concat():
    p = raw([0, 1, 2], [3, 2, 1], x=[1.0, 2.0, 3.0])
    q = p.take(np.array([True, False, True]))
    assert q.time.tolist() == [3, 1] and q.row.tolist() == [0, 2] and q.keys is p.keys
    w = q.with_types({"n": MeasureType.BIGINT, "x": MeasureType.DOUBLE})
    assert w.columns["n"].tolist() == [INT64_NULL] * 2 and w.types["x"] is MeasureType.DOUBLE
    assert q.with_types({"x": MeasureType.DOUBLE}) is q
    v = Points(KEYS, q.series, q.time, q.columns, q.types, np.array([3, 4]), None)
    c = Points.concat([w, v])
    assert c.versions().tolist() == [1, 1, 3, 4]  # the default version is materialised
    assert c.row is None  # row positions only when every part has them
    assert c.columns["n"].tolist() == [INT64_NULL] * 4
    assert len(Points.concat([])) == 0


def test_map_keys_and_remap():
    dst = keys_frame({"d": ["b"], MEASURE_NAME: ["m"]})
    src = keys_frame({"site": ["s", None], "d": ["b", None], MEASURE_NAME: ["m", "n"]})
    mapping, keys = map_keys(src, dst)
    assert mapping.tolist() == [1, 2]
    assert keys.to_dict("list") == {
        "d": ["b", "b", None],
        MEASURE_NAME: ["m", "m", "n"],
        "site": [None, "s", None],
    }
    # an empty destination takes the source as it is, with None for absent values
    mapping, keys = map_keys(src, keys_frame({"x": []}))
    assert mapping.tolist() == [0, 1]
    assert keys["x"].tolist() == [None, None] and keys["d"].tolist() == ["b", None]
    p = raw([2, 0], [1, 2], x=[1.0, 2.0]).remap(dst)
    assert p.keys["d"].tolist() == ["b", "a", None] and p.series.tolist() == [2, 1]


# No NUL: pandas' MultiIndex takes "a" and "a\x00" for one value (dimension values cannot
# hold NUL; the dict path keeps them apart).
_key_value = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


@st.composite
def _key_table(draw, columns: list[str]) -> pd.DataFrame:
    cols = draw(st.lists(st.sampled_from(columns), min_size=1, unique=True))
    rows = draw(st.lists(st.tuples(*[_key_value] * len(cols)), max_size=8, unique=True))
    return keys_frame({c: [r[i] for r in rows] for i, c in enumerate(cols)})


@settings(max_examples=150, deadline=None)
@given(_key_table(["d", "e", MEASURE_NAME]), _key_table(["d", "e", MEASURE_NAME]))
def test_small_key_tables_map_as_large_ones_do(src, dst):
    """The dict path for small key tables gives the MultiIndex path's mapping and table."""
    from tsstore.model import points as module

    fast = map_keys(src, dst)
    saved, module._SMALL_KEYS = module._SMALL_KEYS, -1
    try:
        slow = map_keys(src, dst)
    finally:
        module._SMALL_KEYS = saved
    assert fast[0].tolist() == slow[0].tolist()
    assert fast[1].to_dict("list") == slow[1].to_dict("list")
    assert list(fast[1].columns) == list(slow[1].columns)


def test_to_pandas_uses_nullable_dtypes():
    cols = {
        "x": np.array([1.5, np.nan]),
        "n": np.array([INT64_NULL, 3]),
        "ok": np.array([1, -1], np.int8),
        "at": np.array([0, INT64_NULL]),
        "s": np.array([None, "v"], object),
    }
    types = {
        "x": MeasureType.DOUBLE,
        "n": MeasureType.BIGINT,
        "ok": MeasureType.BOOLEAN,
        "at": MeasureType.TIMESTAMP,
        "s": MeasureType.VARCHAR,
    }
    p = Points(KEYS, np.array([2, 0], np.int32), np.array([0, 1]), cols, types)
    df = p.to_pandas()
    assert list(df.columns) == ["d", MEASURE_NAME, "time", "x", "n", "ok", "at", "s"]
    assert [str(t) for t in df.dtypes] == [
        "object",
        "object",
        "datetime64[ns, UTC]",
        "Float64",
        "Int64",
        "boolean",
        "datetime64[ns, UTC]",
        "string",
    ]
    assert df["d"].tolist() == [None, "a"] and df[MEASURE_NAME].tolist() == ["n", "m"]
    assert df["x"].isna().tolist() == [False, True] and df["n"].isna().tolist() == [True, False]
    assert df["ok"].tolist()[0] is True and df["ok"].isna().tolist() == [False, True]
    assert df["at"].iloc[0] == pd.Timestamp(0, tz="UTC") and df["at"].isna().iloc[1]
    assert df["s"].isna().tolist() == [True, False]
    assert list(p.to_pandas(dimensions=["site", "d"]).columns[:2]) == ["site", "d"]
    assert p.nbytes == 2 * 4 + 2 * 8 + sum(c.nbytes for c in cols.values())


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_tiny(n):
    p = raw([0] * n, [5] * n, x=[1.0] * n)
    assert p.is_sorted() and p.sorted() is p and len(p.sort_order()) == n
    assert len(p.to_pandas()) == n
    e = Points.empty(KEYS, {"x": MeasureType.DOUBLE})
    assert len(e) == 0 and e.columns["x"].dtype == np.float64 and e.version is None
    assert_points_equal(e, e)


@pytest.mark.parametrize("shuffled", [False, True])
def test_a_time_major_grid_sorts_by_transposing(shuffled):
    """Rows written one timestamp at a time, the same series in the same order each time, come
    out in (series, time) order as a sort would give them."""
    rng = np.random.default_rng(3)
    steps, width = 130, 70
    ids = rng.permutation(width).astype(np.int32) if shuffled else np.arange(width, dtype=np.int32)
    series = np.tile(ids, steps)
    time = np.repeat(np.cumsum(rng.integers(1, 5, steps)), width).astype(np.int64)
    x = rng.normal(size=steps * width)
    p = Points(
        keys_frame({"d": [str(i) for i in range(width)]}),
        series,
        time,
        {"x": x},
        {"x": MeasureType.DOUBLE},
    )
    grid = GridTranspose.detect(series, time)
    assert grid is not None and (grid.perm is None) == (not shuffled)
    got = p.sorted()
    want = p.take(np.lexsort((time, series)))
    assert np.array_equal(got.series, want.series) and np.array_equal(got.time, want.time)
    assert np.array_equal(got.columns["x"], want.columns["x"])
    assert got.columns["x"].base is None  # owned, not a view


def test_rows_that_are_not_a_full_grid_are_sorted_the_usual_way():
    steps, width = 100, 80
    series = np.tile(np.arange(width, dtype=np.int32), steps)
    time = np.repeat(np.arange(steps, dtype=np.int64), width)
    assert GridTranspose.detect(series, time) is not None
    twice = series.copy()
    twice[5] = 4  # one series twice at the first timestamp
    assert GridTranspose.detect(twice, time) is None
    moved = series.copy()
    moved[width + 1], moved[width + 2] = moved[width + 2], moved[width + 1]  # order changes
    assert GridTranspose.detect(moved, time) is None
    late = time.copy()
    late[-1] = 0  # a time out of step
    assert GridTranspose.detect(series, late) is None
    assert GridTranspose.detect(series[:-1], time[:-1]) is None  # a partial last step
    back = np.repeat(np.arange(steps, 0, -1, dtype=np.int64), width)  # times go back
    assert GridTranspose.detect(series, back) is None
