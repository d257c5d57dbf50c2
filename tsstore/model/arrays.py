"""Large short-lived arrays from Arrow's memory pool.

glibc's ``malloc`` serves an array of more than a few hundred KiB with a fresh ``mmap`` and
unmaps it when it is freed, so the next query's arrays fault their pages in again: one page
fault per 4 KiB, about 2 µs each on this machine, and more while DuckDB's threads run (an
unmap interrupts every thread of the process). Arrow's pool (mimalloc or jemalloc) keeps
freed memory for reuse. Reads for queries allocate their outputs here: a 12-column gather of
432,000 rows (TSBS double-groupby-all) took 21 ms with numpy's allocations and 4 ms from the
pool, in the same process.

The arrays are ordinary writable numpy arrays whose base is an Arrow buffer (freed when the
last view of it dies); ``pyarrow.array`` wraps them without a copy. Object arrays and small
arrays come from numpy as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

__all__ = ["concatenate", "empty", "take"]

#: Below this many bytes an allocation is cheap either way: numpy's own.
POOL_MIN_BYTES = 1 << 16


def empty(n: int, dtype: np.dtype | type | str) -> np.ndarray:
    """An uninitialised writable array of ``n`` values, from Arrow's pool when large."""
    dt = np.dtype(dtype)
    nbytes = n * dt.itemsize
    if dt.hasobject or nbytes < POOL_MIN_BYTES:
        return np.empty(n, dtype=dt)
    return np.frombuffer(pa.allocate_buffer(nbytes), dtype=dt, count=n)


def take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]`` for an integer index array, the output from :func:`empty`."""
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    out = empty(len(idx), values.dtype)
    # mode="wrap" writes straight into ``out`` (the default "raise" buffers a copy);
    # positions come from tsstore's own searches, always in range.
    return np.take(values, idx, out=out, mode="wrap")


def concatenate(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``np.concatenate(arrays)`` of 1-d arrays of one dtype, the output from :func:`empty`."""
    if len(arrays) == 1:
        return arrays[0]
    dt = np.result_type(*arrays)
    out = empty(sum(len(a) for a in arrays), dt)
    return np.concatenate(arrays, out=out)
