"""The segment read path of the magnetic tier (``tsstore.storage.encoding``): row runs, the
one-pass gather and decode of cached chunks, and the time window per series.

The reference everywhere is plain numpy on the written points: a read must return exactly
the rows a mask over them keeps, with the values ``decode_measure`` gives, and must never
claim a column null-free when it holds a null.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.model.points import Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType, RowFilter, null_mask
from tsstore.storage import encoding, magnetic
from tsstore.storage.encoding import RowRuns
from tsstore.storage.magnetic import MagneticTier

T0 = 1_700_000_000 * 10**9
STEP = 10**9
TYPES = {
    "i": MeasureType.BIGINT,  # narrowed int, nulls
    "d": MeasureType.DOUBLE,  # decimal (3 places), NaNs
    "f": MeasureType.DOUBLE,  # float, no NaN
    "b": MeasureType.BOOLEAN,
    "t": MeasureType.TIMESTAMP,
    "s": MeasureType.VARCHAR,
}


# -- row runs -------------------------------------------------------------------------------------
def test_runs_of_ranges_merge_adjacent_ranges_and_drop_empty_ones() -> None:
    runs = RowRuns.of_ranges(np.array([0, 5, 5, 9, 20]), np.array([5, 5, 9, 12, 21]))
    assert runs.starts.tolist() == [0, 20]
    assert runs.lengths.tolist() == [12, 1]
    assert runs.total == 13
    assert runs.rows().tolist() == [*range(12), 20]


def test_runs_of_rows_find_consecutive_rows() -> None:
    runs = RowRuns.of_rows(np.array([3, 4, 5, 9, 11, 12]))
    assert list(zip(runs.starts.tolist(), runs.lengths.tolist(), strict=True)) == [
        (3, 3),
        (9, 1),
        (11, 2),
    ]
    assert RowRuns.of_rows(np.array([], np.int64)).total == 0
    assert RowRuns.of_ranges(np.array([0]), np.array([7])).covers(7)
    assert not runs.covers(6)


def test_runs_are_cut_at_chunk_boundaries() -> None:
    runs = RowRuns.of_ranges(np.array([2, 9]), np.array([7, 10]))  # rows 2..6 and 9
    chunks, pieces = runs.pieces(4)
    assert chunks.tolist() == [0, 1, 2]
    # (chunk, first row in chunk, end row in chunk, output position)
    assert pieces == [(0, 2, 4, 0), (1, 0, 3, 2), (2, 1, 2, 5)]


@given(st.lists(st.integers(0, 200), unique=True), st.integers(1, 17))
def test_pieces_cover_exactly_the_rows(rows: list[int], cs: int) -> None:
    rows_a = np.array(sorted(rows), np.int64)
    runs = RowRuns.of_rows(rows_a)
    assert runs.rows().tolist() == rows_a.tolist()
    if not len(rows_a):
        return
    chunks, pieces = runs.pieces(cs)
    got = np.concatenate([c * cs + np.arange(lo, hi) for c, lo, hi, _ in pieces])
    assert got.tolist() == rows_a.tolist()
    assert [at for *_, at in pieces] == np.cumsum([0] + [hi - lo for _, lo, hi, _ in pieces])[
        :-1
    ].tolist()
    assert chunks.tolist() == sorted({int(r) // cs for r in rows_a})


# -- reads against numpy --------------------------------------------------------------------------
def _points(n_hosts: int, n_times: int, seed: int, null_every: int) -> Points:
    rng = np.random.default_rng(seed)
    hosts = [f"h{i}" for i in range(n_hosts)]
    keys = keys_frame({"host": hosts, "measure_name": ["m"] * n_hosts})
    series = np.repeat(np.arange(n_hosts, dtype=np.int32), n_times)
    # irregular clocks, sorted within each series
    gaps = rng.integers(1, 4, (n_hosts, n_times)).cumsum(axis=1).ravel()
    time = (T0 + gaps * STEP).astype(np.int64)
    n = len(series)
    i = rng.integers(-100, 100, n).astype(np.int64)
    d = np.round(rng.normal(50, 20, n), 3)
    f = rng.normal(0, 1, n)
    b = rng.integers(0, 2, n).astype(np.int8)
    t = (T0 + rng.integers(0, 10**9, n)).astype(np.int64)
    s = np.array(["ok", "warn", None], dtype=object)[rng.integers(0, 3, n)]
    if null_every:
        i[::null_every] = INT64_NULL
        d[1::null_every] = np.nan
        b[2::null_every] = -1
        t[3::null_every] = INT64_NULL
    cols = {"i": i, "d": d, "f": f, "b": b, "t": t, "s": s}
    return Points(keys, series, time, cols, dict(TYPES))


def _frame(p: Points) -> pd.DataFrame:
    """Rows as a frame, nulls as None, sorted by (host, time)."""
    out = {"host": p.keys["host"].to_numpy(dtype=object)[p.series], "time": p.time}
    for name, mtype in p.types.items():
        col = p.columns[name].astype(object)
        col[null_mask(p.columns[name], mtype)] = None
        out[name] = col
    return pd.DataFrame(out).sort_values(["host", "time"], ignore_index=True)


def _expected(
    p: Points, lo: int | None, hi: int | None, hosts: list[str] | None, flt: RowFilter | None
) -> pd.DataFrame:
    keep = np.ones(len(p), bool)
    if lo is not None:
        keep &= p.time >= lo
    if hi is not None:
        keep &= p.time < hi
    if hosts is not None:
        keep &= np.isin(p.keys["host"].to_numpy(dtype=object)[p.series], hosts)
    if flt is not None:
        keep &= flt.mask(p.columns[flt.measure], p.types[flt.measure])
    return _frame(p.take(np.flatnonzero(keep)))


def _check_read(got: Points, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_frame(got)[list(want.columns)], want)
    for name in got.nonnull:  # a column claimed null-free holds no null
        assert not null_mask(got.columns[name], got.types[name]).any(), name


@pytest.fixture
def tier() -> MagneticTier:
    return MagneticTier.open(f"memory://enc-{uuid.uuid4().hex}", create=True, chunk_points=7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_hosts=st.integers(1, 6),
    n_times=st.integers(1, 30),
    seed=st.integers(0, 10**6),
    null_every=st.sampled_from([0, 3, 11]),
    lo=st.one_of(st.none(), st.integers(0, 70)),
    span=st.one_of(st.none(), st.integers(-20, 70)),  # negative: an empty window
    host_pick=st.one_of(st.none(), st.lists(st.integers(0, 6), max_size=3)),
    flt=st.sampled_from([None, ("i", ">", 10), ("d", "<=", 40.0), ("f", ">", 0.5)]),
    search_series=st.sampled_from([0, 4096]),
    min_run=st.sampled_from([1, 16, 10**9]),
)
def test_reads_equal_numpy_on_the_written_points(
    n_hosts, n_times, seed, null_every, lo, span, host_pick, flt, search_series, min_run
) -> None:
    """Whatever the window, hosts and filter, and on both ways of cutting the window
    (binary search per series, or one vectorised pass) and of gathering (slices or index),
    a read (cold, then through cached chunks) equals numpy's mask over the written points."""
    tier = MagneticTier.open(f"memory://enc-{uuid.uuid4().hex}", create=True, chunk_points=7)
    pts = _points(n_hosts, n_times, seed, null_every)
    tier.write(pts)
    start = None if lo is None else T0 + lo * STEP
    end = None if span is None else T0 + ((lo or 0) + span) * STEP
    hosts = None if host_pick is None else [f"h{i}" for i in host_pick]
    row_filter = None if flt is None else RowFilter(*flt)
    want = _expected(pts, start, end, hosts, row_filter)
    old = (encoding._SEARCH_SERIES, encoding.MIN_RUN)
    encoding._SEARCH_SERIES, encoding.MIN_RUN = search_series, min_run
    try:
        snap = tier.snapshot()
        for _ in range(2):  # cold, then warm from the chunk cache
            got = snap.read(
                time_range=(start, end),
                where=None if hosts is None else {"host": hosts},
                filters=() if row_filter is None else (row_filter,),
            )
            if want.empty:
                assert len(got) == 0
            else:
                _check_read(got, want)
    finally:
        encoding._SEARCH_SERIES, encoding.MIN_RUN = old


def test_null_flags_are_kept_per_cached_chunk_and_dropped_with_it(tier: MagneticTier) -> None:
    pts = _points(2, 20, seed=1, null_every=0)
    pts.columns["i"][25] = INT64_NULL  # one null, in the second host's chunk 3 (rows 21..27)
    tier.write(pts)
    magnetic.CHUNKS.clear()
    whole = tier.snapshot().read()
    assert "i" not in whole.nonnull and {"d", "f", "b", "t"} <= whole.nonnull
    assert int(whole.columns["i"][25]) == INT64_NULL
    first = tier.snapshot().read(where={"host": ["h0"]})  # chunks 0..2 only
    assert "i" in first.nonnull
    assert magnetic.CHUNKS._nulls  # flags of cached chunks
    magnetic.CHUNKS.clear()
    assert not magnetic.CHUNKS._nulls


def test_a_whole_single_chunk_read_shares_the_cached_chunk(tier: MagneticTier) -> None:
    """One piece of a chunk already in its decoded dtype (float64 here) is returned as a
    view: no copy for a read that needs none."""
    pts = _points(1, 5, seed=2, null_every=0)
    tier.write(pts)
    magnetic.CHUNKS.clear()
    a = tier.snapshot().read(measures=["f"]).columns["f"]
    b = tier.snapshot().read(measures=["f"]).columns["f"]
    assert np.shares_memory(a, b)
    np.testing.assert_array_equal(a, pts.columns["f"])


def test_window_bounds_by_search_and_by_one_pass_agree() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 40, 50)
    at = np.cumsum(counts) - counts
    time = np.concatenate([np.sort(rng.integers(0, 100, c)) for c in counts]).astype(np.int64)
    cut = rng.random(50) < 0.7
    for start, end in [(10, 60), (None, 30), (45, None), (0, 100), (60, 10)]:
        by_search = encoding._window(time, at, counts, cut, start, end)
        old = encoding._SEARCH_SERIES
        encoding._SEARCH_SERIES = 0
        try:
            by_pass = encoding._window(time, at, counts, np.ones(50, bool), start, end)
        finally:
            encoding._SEARCH_SERIES = old
        assert (by_search[1] >= by_search[0]).all() and (by_pass[1] >= by_pass[0]).all()
        for i in np.flatnonzero(cut):
            assert by_search[0][i] == by_pass[0][i] and by_search[1][i] == by_pass[1][i]
            part = time[by_search[0][i] : by_search[1][i]]
            assert ((start is None or part >= start) & (end is None or part < end)).all()


def test_a_window_ending_before_it_starts_reads_nothing(tier: MagneticTier) -> None:
    """``time BETWEEN ago(361m) AND ago(0m) AND time < ago(362m)`` prunes to such a range;
    series whose span covers both ends must give no rows (found by the engine's property
    test)."""
    tier.write(_points(3, 40, seed=3, null_every=0))
    snap = tier.snapshot()
    assert len(snap.read(time_range=(T0 + 40 * STEP, T0 + 10 * STEP))) == 0
