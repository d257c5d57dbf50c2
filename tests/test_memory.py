"""The memory tier: sorted runs, size-tiered merges, masked replacements, reads, the CF cube.

The central property: any sequence of writes through the write path of a table
(resolve_duplicates -> register -> candidates -> plan_upsert -> apply) leaves exactly the state
of a dict applying Timestream's upsert rules one record at a time, with the same rejections.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType, RowFilter
from tsstore.model.upsert import CONFLICT_REASON, plan_upsert, resolve_duplicates
from tsstore.storage.memory import MemoryTier
from tsstore.testing import ReferenceTable, assert_points_equal, point_rows, points

TYPES = {
    "x": MeasureType.DOUBLE,
    "n": MeasureType.BIGINT,
    "ok": MeasureType.BOOLEAN,
    "at": MeasureType.TIMESTAMP,
    "s": MeasureType.VARCHAR,
}
SERIES = [
    {"device": "a", MEASURE_NAME: "m"},
    {"device": "b", MEASURE_NAME: "m"},
    {"device": "a", "site": "s1", MEASURE_NAME: "m"},
    {"device": "a", MEASURE_NAME: "other"},
    {"site": "s1", MEASURE_NAME: "m"},
    {MEASURE_NAME: "m"},
]


def write(tier: MemoryTier, batch: Points) -> list[tuple[int, int]]:
    """A table's write path without the log: returns ``(RecordIndex, ExistingVersion)`` pairs."""
    pts, rejected = resolve_duplicates(batch)
    pts = tier.register(pts)
    cands, locs = tier.candidates(pts)
    plan = plan_upsert(cands, pts)
    tier.apply(plan.insert, plan.replaced, locs)
    rejected += plan.rejected
    assert all(r.reason == CONFLICT_REASON for r in rejected)
    return sorted((r.index, r.existing_version) for r in rejected)


def state(tier: MemoryTier) -> Counter:
    return Counter(point_rows(tier.view().read()))


def batches(max_batches: int = 8, max_rows: int = 25) -> st.SearchStrategy[list[Points]]:
    """Batches of one table that collide a lot: few series, times, values and versions."""
    batch = st.sampled_from([TYPES, {"x": TYPES["x"]}, {"s": TYPES["s"], "n": TYPES["n"]}]).flatmap(
        lambda types: points(
            max_rows=max_rows,
            types=types,
            series_keys=SERIES,
            times=st.integers(0, 12),
            versions=st.integers(1, 4),
            small_values=True,
        )
    )
    return st.lists(batch, min_size=1, max_size=max_batches)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from([1 << 22, 8]), st.data())
def test_writes_match_the_reference_model(bs, max_merge_rows, data):
    tier = MemoryTier()
    tier.MAX_MERGE_ROWS = max_merge_rows  # a small cap leaves several runs to search
    ref = ReferenceTable()
    for b in bs:
        if data.draw(st.booleans(), label="reverse"):  # write order is not identity order
            b = b.take(np.arange(len(b))[::-1].copy())
        expected = sorted(ref.write_points(b))
        assert write(tier, b) == expected
        assert state(tier) == ref.rows()
        # runs stay sorted, none is empty, and masked rows never pass a quarter of a run
        for r in tier.view().runs:
            assert r.points.is_sorted() and len(r) > 0
            assert r.alive is None or (~r.alive).sum() <= tier.MAX_DEAD_SHARE * len(r)
    if data.draw(st.booleans(), label="drop"):
        w = data.draw(st.integers(0, 13), label="watermark")
        tier.drop_before(w)
        ref.drop_before(w)
        assert state(tier) == ref.rows()
    tier.compact()
    assert len(tier.view().runs) <= 1
    assert state(tier) == ref.rows()
    # after compaction the tier accepts further writes with the same rules
    if bs:
        assert write(tier, bs[0]) == sorted(ref.write_points(bs[0]))
        assert state(tier) == ref.rows()


def make(series, time, x, *, version=None, keys=None):
    keys = keys if keys is not None else keys_frame({"d": ["a", "b", "c"], MEASURE_NAME: "m"})
    n = len(time)
    return Points(
        keys,
        np.asarray(series, np.int32),
        np.asarray(time, np.int64),
        {"x": np.asarray(x, np.float64)},
        {"x": MeasureType.DOUBLE},
        None if version is None else np.asarray(version, np.int64),
        np.arange(n),
    )


def test_replace_masks_the_stored_row_until_a_merge_drops_it():
    tier = MemoryTier()
    tier.MERGE_FANIN = 10**9  # never merge on write: keep runs apart
    write(tier, make([0, 0, 0, 0, 1, 1, 1, 1], range(8), np.arange(8.0)))
    assert write(tier, make([0], [1], [5.0], version=[2])) == []
    runs = tier.view().runs
    assert len(runs) == 2 and runs[0].alive is not None and (~runs[0].alive).sum() == 1
    assert not runs[0].alive[1] and tier.rows == 8 and len(runs[0]) == 8
    got = point_rows(tier.view().read())
    assert sorted(r[2] for r in got) == list(range(8))
    assert dict((r[2], r[3]) for r in got)[1] == (("x", 5.0),)
    tier.compact()
    (run,) = tier.view().runs
    assert run.alive is None and len(run) == 8


def test_runs_with_many_replaced_rows_are_rewritten_at_once():
    tier = MemoryTier()
    tier.MERGE_FANIN = 10**9
    write(tier, make([0, 0, 0, 0, 1, 1, 1, 1], range(8), np.arange(8.0)))
    write(tier, make([0, 1], [1, 5], [5.0, 6.0], version=[2, 2]))  # 2 of 8: masked
    assert tier.view().runs[0].alive is not None
    write(tier, make([0], [2], [7.0], version=[2]))  # 3 of 8 > a quarter: rewritten
    runs = tier.view().runs
    assert runs[0].alive is None and len(runs[0]) == 5 and runs[0].points.is_sorted()
    assert tier.rows == 8 and sum(len(r) for r in runs) == 8
    # a run whose every row is replaced goes away
    before = len(runs)
    write(tier, make([0], [9], [1.0]))
    write(tier, make([0], [9], [2.0], version=[2]))
    assert len(tier.view().runs) == before + 1 and tier.rows == 9


def test_same_value_with_a_higher_version_updates_the_version():
    tier = MemoryTier()
    write(tier, make([0], [10], [1.0]))
    assert write(tier, make([0], [10], [1.0], version=[3])) == []
    assert tier.view().read().versions().tolist() == [3]
    # now version 2 with another value is rejected against version 3
    assert write(tier, make([0], [10], [9.0], version=[2])) == [(0, 3)]


def test_size_tiered_merges_keep_few_runs_and_the_cap_stops_them():
    tier = MemoryTier()
    for i in range(64):
        write(tier, make([0, 1, 2], [i, i, i], [i, i, i]))
    sizes = [len(r) for r in tier.view().runs]
    assert sum(sizes) == 192 and len(sizes) <= 7  # a base-8 counter: O(log n) runs
    assert sizes == sorted(sizes, reverse=True)
    capped = MemoryTier()
    capped.MAX_MERGE_ROWS = 12
    for i in range(64):
        write(capped, make([0, 1, 2], [i, i, i], [i, i, i]))
    sizes = [len(r) for r in capped.view().runs]
    assert sum(sizes) == 192 and max(sizes) <= 12 and len(sizes) >= 16
    assert state(capped) == state(tier)


def test_candidates_skip_append_only_writes_and_find_collisions():
    tier = MemoryTier()
    write(tier, make([0, 1], [10, 20], [1.0, 2.0]))
    newer = tier.register(make([0, 1], [11, 21], [1.0, 2.0]))
    assert tier.is_append_only(newer)
    cands, locs = tier.candidates(newer)
    assert len(cands) == 0 and locs == []
    late = tier.register(make([0, 1], [10, 5], [1.0, 2.0]))
    assert not tier.is_append_only(late)
    cands, locs = tier.candidates(late)
    # a superset of the stored points sharing an identity: series 0 at 10 must be there
    rows = set(zip(cands.series.tolist(), cands.time.tolist(), strict=True))
    assert (tier.registry.ids_for(keys_frame({"d": ["a"], MEASURE_NAME: ["m"]}))[0], 10) in rows
    assert sum(len(p) for _, p in locs) == len(cands)


def test_register_widens_the_registry_for_new_dimensions():
    tier = MemoryTier()
    write(tier, make([0, 1], [1, 1], [1.0, 2.0]))
    keys = keys_frame({"site": ["s1", None], "d": ["a", "a"], MEASURE_NAME: ["m", "m"]})
    write(tier, make([0, 1], [2, 2], [3.0, 4.0], keys=keys))
    frame = tier.registry.frame
    assert list(frame.columns) == ["d", "site", MEASURE_NAME]
    # ("a", None, "m") is one series in both writes; "c" of the first key table is registered
    assert len(frame) == 4 and frame["site"].tolist() == [None, None, None, "s1"]
    assert tier.registry.select({"site": ["s1"]}).tolist() == [3]
    assert tier.registry.select({"nope": ["x"]}).tolist() == []
    assert tier.registry.select(None) is None


def test_read_filters_time_series_and_measures():
    tier = MemoryTier()
    tier.MERGE_FANIN = 10**9
    write(tier, make([0, 1, 2], [10, 20, 30], [1.0, 2.0, 3.0]))
    write(tier, make([0, 1, 2], [40, 50, 60], [4.0, 5.0, 6.0]))
    view = tier.view()
    got = view.read(time_range=(20, 50))  # start inclusive, end exclusive
    assert sorted(got.time.tolist()) == [20, 30, 40]
    ids = tier.registry.select({"d": ["b"]})
    got = view.read(series=ids)
    assert got.time.tolist() == [20, 50] and got.is_sorted()
    got = view.read(measures=["nope"])
    assert got.types == {} and len(got) == 6
    assert view.read(time_range=(100, None)).time.tolist() == []
    # queries read runs as they are (no sort across runs): the same rows
    loose = view.read(time_range=(20, 50), ordered=False)
    assert loose.time.tolist() == [20, 30, 40]  # the first run's rows, then the second's
    assert not view.read(ordered=False).is_sorted() and view.read().is_sorted()


def test_drop_before_and_select_before():
    tier = MemoryTier()
    write(tier, make([0, 1, 2], [10, 20, 30], [1.0, 2.0, 3.0]))
    write(tier, make([0], [10], [7.0], version=[2]))  # masks a row that is then dropped
    assert tier.select_before(20).time.tolist() == [10]
    assert tier.drop_before(20) == 1
    assert sorted(tier.view().read().time.tolist()) == [20, 30]
    assert tier.drop_before(0) == 0


def test_upsert_replaces_regardless_of_version():
    tier = MemoryTier()
    write(tier, make([0], [10], [1.0], version=[5]))
    tier.upsert(tier.register(make([0, 1], [10, 10], [2.0, 3.0])))
    got = tier.view().read()
    assert sorted(got.columns["x"].tolist()) == [2.0, 3.0] and tier.rows == 2


def test_to_xarray_is_a_contiguous_ragged_array():
    tier = MemoryTier()
    tier.MERGE_FANIN = 10**9
    keys = keys_frame({"d": ["a", "b"], MEASURE_NAME: ["m", "m"]})
    pts = Points(
        keys,
        np.array([1, 0, 1, 0], np.int32),
        np.array([30, 20, 10, 40], np.int64),
        {
            "x": np.array([1.0, np.nan, 3.0, 4.0]),
            "n": np.array([1, INT64_NULL, 3, 4]),
            "at": np.array([5, 6, INT64_NULL, 8]),
        },
        {"x": MeasureType.DOUBLE, "n": MeasureType.BIGINT, "at": MeasureType.TIMESTAMP},
        row=np.arange(4),
    )
    write(tier, pts.take(np.array([0, 1])))
    write(tier, pts.take(np.array([2, 3])))
    ds = tier.to_xarray()
    assert ds.attrs["featureType"] == "timeSeries"
    assert ds["row_size"].values.tolist() == [2, 2]
    assert ds["row_size"].attrs["sample_dimension"] == "point"
    assert ds["d"].values.tolist() == ["a", "b"]
    # series a: times 20, 40; series b: 10, 30 (sorted within each series)
    assert ds["time"].values.astype("int64").tolist() == [20, 40, 10, 30]
    assert ds["series_index"].values.tolist() == [0, 0, 1, 1]
    assert np.isnan(ds["x"].values[0]) and ds["x"].values[1:].tolist() == [4.0, 3.0, 1.0]
    assert ds["n"].values.tolist() == [INT64_NULL, 4, 3, 1]
    assert ds["at"].dtype == np.dtype("datetime64[ns]") and np.isnat(ds["at"].values[2])


def test_to_xarray_renames_measures_named_like_its_structure():
    tier = MemoryTier()
    keys = keys_frame({"point": ["p"], MEASURE_NAME: ["m"]})
    pts = Points(
        keys,
        np.zeros(2, np.int32),
        np.array([1, 2], np.int64),
        {"series": np.array([1.0, 2.0]), "row_size": np.array([3, 4]), "version": np.ones(2)},
        {
            "series": MeasureType.DOUBLE,
            "row_size": MeasureType.BIGINT,
            "version": MeasureType.DOUBLE,
        },
        row=np.arange(2),
    )
    write(tier, pts)
    ds = tier.to_xarray()
    assert ds.attrs["renamed"] == {"series": "series_", "row_size": "row_size_", "point": "point_"}
    assert ds["series_"].values.tolist() == [1.0, 2.0]
    assert ds["row_size"].values.tolist() == [2]
    assert ds["point_"].values.tolist() == ["p"] and ds["version"].values.tolist() == [1.0, 1.0]
    (run,) = tier.view().runs  # the run's own Dataset keeps measure "version" apart too
    assert run.ds["version_"].attrs["measure_name"] == "version"


def test_empty_tier():
    tier = MemoryTier()
    assert tier.rows == 0 and tier.nbytes == 0 and len(tier.view().read()) == 0
    ds = tier.to_xarray()
    assert ds.sizes.get("point", 0) == 0
    tier.apply(Points.empty(tier.registry.frame))
    tier.compact()
    assert tier.view().runs == ()


@pytest.mark.parametrize("times", [[-(2**62), 0, 2**62, 2**63 - 1], [0, 1, 2, 3]])
def test_merges_handle_any_series_and_time_range(times):
    """Runs whose ids and times overflow one int64 key still merge (the lexsort path)."""
    tier = MemoryTier()
    rng = np.random.default_rng(len(times))
    keys = keys_frame({"d": [str(i) for i in range(3)], MEASURE_NAME: "m"})
    ref = ReferenceTable()
    for _ in range(6):
        s = rng.integers(0, 3, 50).astype(np.int32)
        t = rng.choice(np.array(times, dtype=np.int64), 50)
        b = Points(
            keys,
            s,
            t,
            {"x": rng.integers(0, 3, 50).astype(float)},
            {"x": MeasureType.DOUBLE},
            rng.integers(1, 3, 50),
            np.arange(50),
        )
        assert write(tier, b) == sorted(ref.write_points(b))
    assert state(tier) == ref.rows()
    for run in tier.view().runs:
        assert run.points.is_sorted()


def test_nbytes_counts_the_stored_arrays():
    tier = MemoryTier()
    write(tier, make([0, 1], [1, 2], [1.0, 2.0]))
    assert tier.nbytes == 2 * (4 + 8 + 8)
    assert_points_equal(tier.view().read(), tier.view().read(), check_order=True)


@given(st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_reads_by_binary_search_equal_reads_by_masks(data):
    """Reads find a run's rows per series by binary search or by masks over the whole run
    (many short series); both give the same rows."""
    from tsstore.storage import memory

    n_series = data.draw(st.integers(1, 6))
    lengths = data.draw(st.lists(st.integers(0, 40), min_size=n_series, max_size=n_series))
    series = np.repeat(np.arange(n_series, dtype=np.int32), lengths)
    time = np.concatenate([np.sort(np.unique(np.arange(k) * 3)) for k in lengths]).astype(np.int64)
    keys = keys_frame({"d": [str(i) for i in range(n_series)], MEASURE_NAME: "m"})
    p = Points(keys, series, time, {"x": time.astype(float)}, {"x": MeasureType.DOUBLE})
    tier = MemoryTier()
    if len(p):
        write(tier, p)
    start = data.draw(st.none() | st.integers(-5, 130))
    end = data.draw(st.none() | st.integers(-5, 130))
    ids = data.draw(st.none() | st.lists(st.integers(0, n_series), max_size=4, unique=True))
    ids = None if ids is None else np.array(sorted(ids), dtype=np.int32)
    search_below = data.draw(st.sampled_from([0, memory._MIN_SERIES_ROWS]))  # 0: always search
    for run in tier.view().runs:
        saved, memory._MIN_SERIES_ROWS = memory._MIN_SERIES_ROWS, search_below
        try:
            rows = memory._rows(run.points, ids, start, end, run)
        finally:
            memory._MIN_SERIES_ROWS = saved
        if rows is None:
            rows = np.arange(len(run))
        elif isinstance(rows, slice):
            rows = np.arange(len(run))[rows]
        expect = memory._masked(run.points, ids, start, end)
        assert rows.tolist() == expect.tolist()


def test_reads_say_which_measures_hold_no_null():
    """A run knows its measures without nulls; reads pass that on (queries skip the scan)."""
    tier = MemoryTier()
    b = make([0, 1, 2], [10, 20, 30], [1.0, np.nan, 3.0])
    b.columns["n"] = np.array([1, 2, 3])
    b.types["n"] = MeasureType.BIGINT
    write(tier, b)
    got = tier.view().read(time_range=(15, None))
    assert got.nonnull == frozenset({"n"})  # "x" holds a NaN (a null) somewhere in the run
    assert got.take(np.array([0])).nonnull == frozenset({"n"})
    both = Points.concat([got, got.with_types({"m": MeasureType.DOUBLE})], keys=got.keys)
    assert both.nonnull == frozenset({"n"})  # the added all-null "m" is not in it


def _table_rows(table, types) -> Counter:
    """A query table's rows as comparable tuples (key values, time, measures; None = null)."""
    out = Counter()
    keys = [c for c in table.column_names if c not in types and c != "time"]
    for rec in table.to_pylist():  # dictionaries decoded: values, not codes
        key = tuple((c, rec[c]) for c in sorted(keys) if rec[c] is not None)
        vals = tuple(None if v != v else v for v in (rec[m] for m in sorted(types)))
        out[(key, rec["time"], vals)] += 1
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from([1 << 22, 8]), st.data())
def test_read_table_holds_read_rows(bs, max_merge_rows, data):
    """The query engine's table of a read (slices of the runs where they pay, else gathered
    rows) holds exactly the rows of :meth:`MemoryView.read`, over runs with replaced rows,
    nulls, several measure types, time ranges, series and row filters; a filter most rows
    pass may be left to the query: the extra rows are exactly those that fail it."""
    from tsstore.model.schema import RowFilter
    from tsstore.storage.codec import points_to_query_table

    tier = MemoryTier()
    tier.MAX_MERGE_ROWS = max_merge_rows  # a small cap leaves several runs
    for b in bs:
        write(tier, b)
    view = tier.view()
    start = data.draw(st.none() | st.integers(-5, 40))
    end = data.draw(st.none() | st.integers(-5, 40))
    ids = data.draw(st.none() | st.lists(st.integers(0, 6), max_size=4, unique=True))
    ids = None if ids is None else np.array(sorted(ids), dtype=np.int32)
    measures = data.draw(st.sampled_from([None, ["x"], ["x", "n"]]))
    filters = data.draw(st.sampled_from([(), (RowFilter("x", ">", 0.5),)]))
    types = view._types(measures)
    dims = sorted(c for c in view.keys.columns if c != MEASURE_NAME)
    want = view.read(time_range=(start, end), series=ids, measures=measures, filters=filters)
    got, rows, _ = view.read_table(
        dimensions=dims, types=types, time_range=(start, end), series=ids, filters=filters
    )
    if got is None:
        assert len(want) == 0 and rows == 0
        return
    assert rows == got.num_rows >= len(want)
    if filters:  # the query applies its WHERE again: what it keeps is the read's rows
        x = got.column("x")
        got = got.filter(pc.fill_null(pc.greater(x, 0.5), False))
    expect = points_to_query_table(want, dims, types, distinct_dictionaries=False)
    assert got.schema.names == expect.schema.names
    assert _table_rows(got, types) == _table_rows(expect, types)


def test_read_table_slices_the_runs_without_copying():
    """Whole series' time ranges of non-null numbers are slices of the run's own arrays; many
    short slices (each a batch DuckDB pays for) are gathered."""
    tier = MemoryTier()
    n = 100_000
    keys = keys_frame({"d": ["a", "b", "c"], MEASURE_NAME: "m"})
    series = np.repeat(np.arange(3, dtype=np.int32), n)
    time = np.tile(np.arange(n, dtype=np.int64), 3)
    write(tier, Points(keys, series, time, {"x": time * 0.5}, {"x": MeasureType.DOUBLE}))
    view = tier.view()
    (run,) = view.runs
    types = {"x": MeasureType.DOUBLE}
    got, rows, nbytes = view.read_table(dimensions=["d"], types=types, time_range=(100, 90_100))
    assert rows == 3 * 90_000 and nbytes == rows * (4 + 8 + 8)
    chunks = got.column("x").chunks
    assert len(chunks) == 3  # one batch per series' range
    x = run.points.columns["x"]
    first = np.flatnonzero(run.points.series == 0)[0] + 100
    assert chunks[0].buffers()[1].address + chunks[0].offset * 8 == x[first:].ctypes.data
    # two rows of each series: three 2-row batches cost more than copying six rows
    got, rows, _ = view.read_table(dimensions=["d"], types=types, time_range=(100, 102))
    assert rows == 6 and got.column("x").num_chunks == 1
    assert got.column("x").to_pylist() == [50.0, 50.5] * 3


def test_read_table_slices_runs_with_nulls_and_leaves_loose_filters_to_the_query():
    """Nulls get a validity bitmap over the run's own values; a row filter most rows pass is
    left to the query (the rows that fail come too: a superset), one that few pass gathers."""
    tier = MemoryTier()
    n = 100_000
    keys = keys_frame({"d": ["a", "b"], MEASURE_NAME: "m"})
    series = np.repeat(np.arange(2, dtype=np.int32), n)
    time = np.tile(np.arange(n, dtype=np.int64), 2)
    x = (time % 10).astype(np.float64)
    x[::7] = np.nan  # null
    write(tier, Points(keys, series, time, {"x": x}, {"x": MeasureType.DOUBLE}))
    view = tier.view()
    (run,) = view.runs
    types = {"x": MeasureType.DOUBLE}
    got, rows, _ = view.read_table(
        dimensions=["d"], types=types, filters=[RowFilter("x", ">", 2.0)]
    )
    assert rows == 2 * n
    chunk = got.column("x").chunk(0)
    assert chunk.buffers()[1].address + chunk.offset * 8 == run.points.columns["x"].ctypes.data
    want = pd.Series(run.points.columns["x"])
    assert got.column("x").to_pandas().equals(want)  # NaN where null, in the run's order
    assert got.column("x").null_count == int(np.isnan(x).sum())
    got, rows, _ = view.read_table(
        dimensions=["d"], types=types, filters=[RowFilter("x", ">", 8.0)]
    )
    values = np.asarray(got.column("x").to_pylist())
    assert rows == len(values) and (values == 9.0).all()
    assert rows == int((x == 9.0).sum())


def test_read_table_newest_rows_are_each_series_last_row():
    """``newest_rows``: one row per series, its newest in the range, across runs; where the
    runs' last rows cannot tell (a run reaching the range's end), every row in range."""
    tier = MemoryTier()
    keys = keys_frame({"d": ["a", "b", "c"], MEASURE_NAME: "m"})
    types = {"x": MeasureType.DOUBLE}
    t = np.arange(10, dtype=np.int64)
    series = np.repeat(np.arange(2, dtype=np.int32), 10)
    write(tier, Points(keys, series, np.tile(t, 2), {"x": np.tile(t * 1.0, 2)}, types))
    later = np.arange(10, 15, dtype=np.int64)
    write(tier, Points(keys, np.zeros(5, np.int32), later, {"x": later * 1.0}, types))
    view = tier.view()

    def newest(**kw):
        got, rows, _ = view.read_table(dimensions=["d"], types=types, newest_rows=True, **kw)
        out = sorted(zip(got.column("d").to_pylist(), got.column("x").to_pylist(), strict=True))
        assert rows == len(out)
        return out

    assert newest() == [("a", 14.0), ("b", 9.0)]
    assert newest(series=np.array([1], dtype=np.int32)) == [("b", 9.0)]
    assert newest(time_range=(10, None)) == [("a", 14.0)]
    assert len(newest(time_range=(None, 12))) == 10 + 10 + 2  # cannot tell: all rows
