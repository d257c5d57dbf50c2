"""Pooled arrays (tsstore.model.arrays): numpy semantics, Arrow's memory underneath."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from tsstore.model import arrays

LARGE = arrays.POOL_MIN_BYTES // 8 + 1  # int64 values past the pool threshold


def test_large_arrays_come_from_the_arrow_pool_and_small_ones_from_numpy():
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    big = arrays.empty(LARGE, np.int64)
    assert isinstance(big.base, pa.Buffer) and big.flags.writeable and big.shape == (LARGE,)
    assert pool.bytes_allocated() >= before + big.nbytes
    big[:] = 7  # writable
    assert arrays.empty(10, np.int64).base is None
    assert arrays.empty(LARGE, object).dtype == object  # object arrays stay numpy's
    del big
    gc.collect()
    assert pool.bytes_allocated() <= before + 64  # freed with the last view


@given(
    st.integers(0, 3 * LARGE),
    st.lists(st.integers(0, 10**6), max_size=50),
    st.sampled_from(["int64", "float64", "int32", "bool"]),
)
def test_take_and_concatenate_equal_numpy(n, picks, dtype):
    values = np.arange(n).astype(dtype)
    idx = np.array([p % n for p in picks] if n else [], dtype=np.int64)
    got = arrays.take(values, idx)
    assert got.dtype == values.dtype and np.array_equal(got, values[idx])
    big_idx = np.arange(0, n, 2)
    assert np.array_equal(arrays.take(values, big_idx), values[big_idx])
    mask = np.zeros(n, dtype=bool)
    mask[::3] = True
    assert np.array_equal(arrays.take(values, mask), values[mask])
    parts = [values[: n // 2], values[n // 2 :], values[:1]]
    assert np.array_equal(arrays.concatenate(parts), np.concatenate(parts))


def test_pooled_arrays_travel_to_arrow_without_a_copy():
    values = arrays.take(np.arange(2 * LARGE, dtype=np.int64), np.arange(LARGE))
    column = pa.array(values)
    assert column.buffers()[1].address == values.ctypes.data
    del values
    gc.collect()
    assert column.to_pylist()[:3] == [0, 1, 2]  # the Arrow array keeps the memory alive
