"""Segments of the magnetic tier: their arrays, the column codecs, and reading and writing one.

A segment is a Zarr group of points sorted by ``(series, time)`` in a contiguous ragged layout:
``keys/<column>`` (one string per series), ``series_offsets`` (k + 1), ``series_tmin``,
``series_tmax``, ``time``, ``measures/<measure>``, ``dicts/<measure>`` (VARCHAR dictionaries)
and, when some version is not 1, ``version``. Node names are column names percent-encoded by
:func:`node_name`; the group attributes map the real names to them.

Every per-point array of a segment is chunked by a fixed number of points and compressed with
Blosc zstd. The encoding of a measure column is chosen per segment from its values and recorded
in the array's attributes (``logical_type``, ``encoding`` and its parameters), so that a reader
needs nothing else to decode it. See ``docs/format-magnetic.md`` for the format and for the
measurements behind the choices.

========= ============ ======================================================================
type      encoding     stored as
========= ============ ======================================================================
DOUBLE    ``decimal``  values that are exactly ``q / 10**scale`` for one ``scale`` (0..12) and
                       integers ``|q| < 2**53``: ``q`` narrowed, Delta, bitshuffle; null =
                       the narrowed dtype's minimum
DOUBLE    ``float``    float64, NaN = null; shuffle, bitshuffle or none, whichever compresses
                       the first chunk best
BIGINT    ``int``      narrowed to the smallest signed dtype holding min..max with its minimum
                       free for null; Delta, bitshuffle
BOOLEAN   ``bool``     int8 (1, 0, -1 = null); bitshuffle
TIMESTAMP ``timestamp`` int64 ns, Delta, bitshuffle; null = -2**63
VARCHAR   ``dict``     int32 codes (-1 = null), bitshuffle, into a sorted variable-length
                       UTF-8 dictionary array
========= ============ ======================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import numcodecs
import numpy as np
import pandas as pd
import pyarrow as pa
import zarr
import zarr.api.asynchronous as zasync
from zarr.codecs import BloscCodec
from zarr.codecs.numcodecs import Delta
from zarr.core.array import AsyncArray
from zarr.core.sync import sync as _zarr_sync
from zarr.storage import StorePath

from tsstore.errors import CorruptDataError
from tsstore.model import arrays
from tsstore.model.points import DEFAULT_VERSION, Points
from tsstore.model.schema import INT64_NULL, MeasureType, RowFilter

_CODEC_NOTICE = "Numcodecs codecs are not in the Zarr version 3"


def quiet_codec_notice() -> None:
    """Hide Zarr's notice, given each time a Delta codec is built (also when an array is
    opened), that numcodecs' codecs are outside the Zarr v3 core specification: the format
    documents its use of Delta. A targeted filter (``warnings.catch_warnings`` is not
    thread-safe); idempotent, so the tier re-installs it on open where a test runner has
    reset the filters."""
    warnings.filterwarnings("ignore", message=_CODEC_NOTICE)


quiet_codec_notice()

__all__ = [
    "DEFAULT_CHUNK_POINTS",
    "FLOAT_CLEVEL",
    "INT_CLEVEL",
    "SEGMENT_FORMAT",
    "ArraySpec",
    "SegmentIndex",
    "decode_measure",
    "decode_strings",
    "encode_int64",
    "encode_measure",
    "encode_strings",
    "load_index",
    "node_name",
    "quiet_codec_notice",
    "ranges",
    "read_segment",
    "run",
    "segment_specs",
    "write_segment",
]

#: Points per chunk of every per-point array (measured: see docs/format-magnetic.md).
DEFAULT_CHUNK_POINTS = 1 << 19
#: Blosc zstd level of integer-like arrays (Delta + bitshuffle).
INT_CLEVEL = 1
#: Blosc zstd level of float64 arrays.
FLOAT_CLEVEL = 3
#: Largest number of decimal digits tried by the ``decimal`` encoding of DOUBLE.
MAX_DECIMALS = 12
_SAMPLE = 4096
_F53 = float(2**53)
_SHUFFLES = ("noshuffle", "shuffle", "bitshuffle")
_NUMCODECS_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def node_name(name: str) -> str:
    """A Zarr node name for a column name: percent-encoded, never ``.``, ``..`` or ``__*``."""
    out = quote(name, safe="")
    if out.startswith("__") or set(out) == {"."}:
        out = f"%{ord(out[0]):02X}{out[1:]}"
    return out


def blosc(shuffle: str, clevel: int, cname: str = "zstd") -> BloscCodec:
    """Blosc ``cname`` at ``clevel`` with ``shuffle`` (``noshuffle``, ``shuffle``,
    ``bitshuffle``)."""
    return BloscCodec(cname=cname, clevel=clevel, shuffle=shuffle)


def delta(dtype: np.dtype) -> Any:
    """numcodecs' Delta filter for ``dtype`` (differences wrap around, so narrowing is exact).

    Zarr warns that numcodecs codecs are not in the Zarr v3 specification; the format is
    documented in docs/format-magnetic.md, so the warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
        return Delta(dtype=np.dtype(dtype).str)


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """One array to create in a segment group.

    Attributes
    ----------
    path : str
        Relative to the segment group.
    data : ndarray
        The stored values (already narrowed, dictionary-coded, ...).
    chunks : int
    filters, compressors : tuple
        Zarr v3 codecs.
    fill_value : object
        The stored value of a missing chunk (the null sentinel where there is one).
    attrs : dict
    """

    path: str
    data: np.ndarray
    chunks: int
    filters: tuple[Any, ...] = ()
    compressors: tuple[Any, ...] = ()
    fill_value: Any = 0
    attrs: dict[str, Any] = field(default_factory=dict)


def _chunk(n: int, chunk_points: int) -> int:
    return max(1, min(n, chunk_points))


def narrow_int_dtype(lo: int, hi: int) -> np.dtype:
    """Smallest signed dtype holding ``lo..hi`` with its minimum left free for null."""
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if lo > info.min and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def _narrowed(q: np.ndarray, nulls: np.ndarray) -> tuple[np.ndarray, int]:
    """``q`` (int64) narrowed, with ``nulls`` set to the narrowed dtype's minimum."""
    valid = q[~nulls]
    lo, hi = (int(valid.min()), int(valid.max())) if len(valid) else (0, 0)
    dt = narrow_int_dtype(lo, hi)
    null = int(np.iinfo(dt).min)
    out = q.astype(dt)
    out[nulls] = null
    return out, null


def encode_int64(
    path: str,
    values: np.ndarray,
    chunk_points: int,
    *,
    fill_value: int = 0,
    attrs: dict[str, Any] | None = None,
) -> ArraySpec:
    """An int64 array with Delta + bitshuffle (time, offsets, per-series bounds, version)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return ArraySpec(
        path,
        values,
        _chunk(len(values), chunk_points),
        (delta(values.dtype),),
        (blosc("bitshuffle", INT_CLEVEL),),
        fill_value,
        dict(attrs or {}),
    )


def factorize_strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, dictionary)`` of strings (None = code -1), the dictionary sorted.

    Arrow's hashing, not pandas': pandas' string hash table compares C strings and so takes
    ``"a"`` and ``"a\x00"`` for one value (a NUL ends a C string).
    """
    arr = pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=False)
    enc = arr.dictionary_encode()
    dictionary = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(dictionary, kind="stable") if len(dictionary) else np.zeros(0, np.int64)
    rank = np.empty(len(order), np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    indices = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.where(indices >= 0, rank[np.maximum(indices, 0)] if len(rank) else -1, -1)
    return codes.astype(np.int32), dictionary[order]


def encode_strings(
    path: str, valid_path: str, values: np.ndarray, chunk_points: int, attrs: dict[str, Any]
) -> list[ArraySpec]:
    """A variable-length UTF-8 array; absent values (None) are stored as ``""`` and, only when
    there are some, flagged ``False`` in a bool array at ``valid_path``."""
    values = np.asarray(values, dtype=object)
    nulls = np.equal(values, None)
    stored = np.where(nulls, "", values).astype(object)
    chunks = _chunk(len(values), chunk_points)
    specs = [ArraySpec(path, stored, chunks, (), (), "", {**attrs, "has_nulls": bool(nulls.any())})]
    if nulls.any():
        specs.append(
            ArraySpec(valid_path, ~nulls, chunks, (), (blosc("bitshuffle", INT_CLEVEL),), True, {})
        )
    return specs


def decode_strings(values: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """The object array of :func:`encode_strings`' values (None where not valid)."""
    out = np.asarray(values).astype(object)
    if valid is not None:
        out[~np.asarray(valid, dtype=bool)] = None
    return out


def _decimal(values: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(scale, q)`` with ``q / 10**scale == values`` bit for bit, or None."""
    if len(values) == 0:
        return 0, np.zeros(0, np.int64)
    if not np.isfinite(values).all() or ((values == 0) & np.signbit(values)).any():
        return None
    amax = float(np.abs(values).max())
    step = max(1, len(values) // _SAMPLE)
    sample = values[::step]
    for scale in range(MAX_DECIMALS + 1):
        s = 10.0**scale
        if amax * s >= _F53:
            return None
        if not np.array_equal(np.round(sample * s) / s, sample):
            continue
        q = np.round(values * s)
        if np.array_equal(q / s, values):
            return scale, q.astype(np.int64)
    return None


#: The shuffle choice compresses this many points: 4 contiguous slices spread over the column
#: (compressing the whole first chunk three times took half of a migration's time).
_SHUFFLE_SAMPLE = 4 * 8_192


def _shuffle_sample(values: np.ndarray, limit: int) -> np.ndarray:
    n = min(len(values), limit)
    if n <= _SHUFFLE_SAMPLE:
        return np.ascontiguousarray(values[:n])
    piece = _SHUFFLE_SAMPLE // 4
    starts = np.linspace(0, n - piece, 4).astype(np.int64)
    return np.concatenate([values[s : s + piece] for s in starts])


#: lz4 replaces zstd for a float column when its sample is at most this much bigger: on noisy
#: floats (random walks, sensor noise) both barely compress, and lz4 encodes about 3x faster.
LZ4_TOLERANCE = 1.02


def _best_float_codec(values: np.ndarray, chunk_points: int) -> tuple[str, str]:
    """The (cname, shuffle) that store a float column smallest, judged on a sample."""
    sample = _shuffle_sample(values, chunk_points)
    sizes = {
        sh: len(numcodecs.Blosc("zstd", FLOAT_CLEVEL, _NUMCODECS_SHUFFLE[sh]).encode(sample))
        for sh in _SHUFFLES
    }
    shuffle = min(_SHUFFLES, key=lambda sh: (sizes[sh], sh != "shuffle"))
    lz4 = len(numcodecs.Blosc("lz4", FLOAT_CLEVEL, _NUMCODECS_SHUFFLE[shuffle]).encode(sample))
    if lz4 <= LZ4_TOLERANCE * sizes[shuffle]:
        return "lz4", shuffle
    return "zstd", shuffle


def encode_measure(
    name: str, node: str, values: np.ndarray, mtype: MeasureType, chunk_points: int
) -> list[ArraySpec]:
    """The arrays storing measure ``name`` (storage representation ``values``) in a segment.

    The codes go to ``measures/<node>``; a VARCHAR dictionary to ``dicts/<node>``.
    """
    path = f"measures/{node}"
    n = len(values)
    chunks = _chunk(n, chunk_points)
    attrs: dict[str, Any] = {"name": name, "logical_type": mtype.value}
    bits = (blosc("bitshuffle", INT_CLEVEL),)
    if mtype is MeasureType.DOUBLE:
        values = np.asarray(values, dtype=np.float64)
        nulls = np.isnan(values)
        dec = _decimal(values[~nulls])
        if dec is not None:
            scale, q_valid = dec
            q = np.zeros(n, np.int64)
            q[~nulls] = q_valid
            stored, null = _narrowed(q, nulls)
            attrs.update(encoding="decimal", scale=scale, null=null)
            return [ArraySpec(path, stored, chunks, (delta(stored.dtype),), bits, null, attrs)]
        cname, shuffle = _best_float_codec(values, chunk_points)
        attrs.update(encoding="float", shuffle=shuffle, cname=cname)
        return [
            ArraySpec(
                path,
                np.ascontiguousarray(values),
                chunks,
                (),
                (blosc(shuffle, FLOAT_CLEVEL, cname),),
                float("nan"),
                attrs,
            )
        ]
    if mtype is MeasureType.BIGINT:
        values = np.asarray(values, dtype=np.int64)
        stored, null = _narrowed(values, values == INT64_NULL)
        attrs.update(encoding="int", null=null)
        return [ArraySpec(path, stored, chunks, (delta(stored.dtype),), bits, null, attrs)]
    if mtype is MeasureType.BOOLEAN:
        attrs.update(encoding="bool", null=-1)
        return [ArraySpec(path, np.asarray(values, dtype=np.int8), chunks, (), bits, -1, attrs)]
    if mtype is MeasureType.TIMESTAMP:
        attrs.update(encoding="timestamp", null=int(INT64_NULL))
        spec = encode_int64(path, values, chunk_points, fill_value=int(INT64_NULL), attrs=attrs)
        return [spec]
    if mtype is MeasureType.VARCHAR:
        codes, dictionary = factorize_strings(values)
        dict_path = f"dicts/{node}"
        attrs.update(encoding="dict", null=-1, dictionary=dict_path)
        return [
            ArraySpec(path, codes.astype(np.int32), chunks, (), bits, -1, attrs),
            ArraySpec(
                dict_path,
                dictionary,
                _chunk(len(dictionary), chunk_points),
                (),
                (),
                "",
                {"name": name},
            ),
        ]
    raise CorruptDataError(f"measure {name!r} has unknown type {mtype!r}")


def decode_measure(
    raw: np.ndarray, attrs: dict[str, Any], dictionary: np.ndarray | None = None
) -> np.ndarray:
    """The storage representation (see :mod:`tsstore.model.schema`) of stored values ``raw``.

    Raises
    ------
    CorruptDataError
        An encoding this version does not know.
    """
    enc = attrs.get("encoding")
    if enc == "float":
        return np.asarray(raw, dtype=np.float64)
    if enc == "decimal":
        out = raw.astype(np.float64) / 10.0 ** int(attrs["scale"])
        out[raw == attrs["null"]] = np.nan
        return out
    if enc == "int":
        out = raw.astype(np.int64)
        out[raw == attrs["null"]] = INT64_NULL
        return out
    if enc == "bool":
        return raw.astype(np.int8, copy=False)
    if enc == "timestamp":
        return raw.astype(np.int64, copy=False)
    if enc == "dict":
        if dictionary is None:
            raise CorruptDataError(f"measure {attrs.get('name')!r} lacks its dictionary")
        out = np.full(len(raw), None, dtype=object)
        present = raw >= 0
        out[present] = np.asarray(dictionary, dtype=object)[raw[present]]
        return out
    raise CorruptDataError(
        f"measure {attrs.get('name')!r} uses encoding {enc!r}, unknown to this tsstore; "
        "upgrade tsstore to read it"
    )


# -- segments ------------------------------------------------------------------------------------
#: Value of the ``tsstore_segment`` attribute of a segment group (its layout version).
SEGMENT_FORMAT = 1
_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on Zarr's event loop (where the icechunk store's I/O runs) and wait."""
    return _zarr_sync(coro)


_LOOPS = threading.local()


def run_here(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a read ``coro`` on an event loop of the calling thread, and wait.

    Handing a read to Zarr's loop thread and back costs two thread switches: 0.1 ms on an idle
    machine, a millisecond and more when the cores are busy, on every query's scan of the
    magnetic tier. A loop per thread runs the read where it was asked for (icechunk's I/O runs
    in its own Rust runtime either way, and resolves futures on whichever loop awaits them).
    A thread already running a loop (a notebook kernel's) hands the read to Zarr's loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return _zarr_sync(coro)
    loop = getattr(_LOOPS, "loop", None)
    if loop is None or loop.is_closed():
        loop = _LOOPS.loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:  # an interrupt: leave nothing pending for the next read
        task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        raise


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(starts[i], ends[i])`` (int64)."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    first = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - first, lengths)


class ChunkCache:
    """A thread-safe LRU of decoded chunks of segment arrays, bounded in bytes.

    Segments are immutable and their paths carry a random token, so a decoded chunk stays
    valid as long as the segment exists: keys are ``(array path, chunk index)`` within one
    magnetic tier. Chunks are kept as Zarr decodes them (narrowed integers, dictionary codes),
    before the measure decoding, so a cached point costs 1 to 8 bytes. Queries read through
    it; migrations and compactions (which read every row once) do not.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._nulls: dict[tuple[str, int], bool] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[str, int], chunk: np.ndarray) -> None:
        if chunk.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = chunk
            self.nbytes += chunk.nbytes
            self._nulls.pop(key, None)
            while self.nbytes > self.max_bytes:
                gone, dropped = self._items.popitem(last=False)
                self._nulls.pop(gone, None)
                self.nbytes -= dropped.nbytes

    def has_null(self, key: tuple[str, int], chunk: np.ndarray, null: Any) -> bool:
        """Whether decoded chunk ``key`` holds its array's stored null ``null`` (NaN for
        floats), worked out once per cached chunk: one reduction over the narrow stored
        values, so that most reads skip the null pass over the widened column."""
        found = self._nulls.get(key)
        if found is None:
            found = _holds_null(chunk, null)
            with self._lock:
                if key in self._items:
                    self._nulls[key] = found
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._nulls.clear()
            self.nbytes = 0


def _holds_null(chunk: np.ndarray, null: Any) -> bool:
    if not len(chunk):
        return False
    low = chunk.min()  # a float minimum is NaN when any value is
    return bool(np.isnan(low)) if null is None else bool(low == null)


def _chunk_runs(chunk_ids: np.ndarray) -> list[tuple[int, int]]:
    """Sorted distinct chunk ids as runs ``(first, last)`` of consecutive ids."""
    breaks = np.flatnonzero(np.diff(chunk_ids) != 1) + 1
    firsts = chunk_ids[np.r_[0, breaks]].tolist()
    lasts = chunk_ids[np.r_[breaks - 1, len(chunk_ids) - 1]].tolist()
    return list(zip(firsts, lasts, strict=True))


async def _cached_chunks(
    arr: AsyncArray, chunk_ids: np.ndarray, cache: ChunkCache, key: str
) -> dict[int, np.ndarray]:
    """Decoded chunks ``chunk_ids`` (sorted, distinct) of ``arr``, from ``cache`` or read
    (runs of missing chunks in one read each) and then kept there."""
    n, cs = arr.shape[0], arr.chunks[0]
    found: dict[int, np.ndarray] = {}
    missing = []
    for c in chunk_ids.tolist():
        hit = cache.get((key, c))
        if hit is None:
            missing.append(c)
        else:
            found[c] = hit
    if missing:
        runs = _chunk_runs(np.asarray(missing, np.int64))
        parts = await asyncio.gather(
            *(arr.getitem(slice(c0 * cs, min((c1 + 1) * cs, n))) for c0, c1 in runs)
        )
        for (c0, c1), part in zip(runs, parts, strict=True):
            for c in range(c0, c1 + 1):
                chunk = np.ascontiguousarray(part[(c - c0) * cs : (c - c0 + 1) * cs])
                cache.put((key, c), chunk)
                found[c] = chunk
    return found


async def gather_rows(
    arr: AsyncArray,
    rows: np.ndarray | None,
    cache: ChunkCache | None = None,
    key: str | None = None,
) -> np.ndarray:
    """``arr[rows]`` reading only the chunks that hold ``rows`` (sorted); None = all.

    With a ``cache`` (and the array's ``key`` in it), decoded chunks come from the cache and
    chunks read are kept there.
    """
    if rows is not None and len(rows) == 0:
        return np.zeros(0, dtype=arr.dtype.to_native_dtype())
    n = arr.shape[0]
    cs = arr.chunks[0]
    if cache is not None and key is not None and n:
        if rows is None:
            ids = np.arange(-(-n // cs), dtype=np.int64)
        else:
            chunk_of = rows // cs
            ids = chunk_of[np.concatenate([[True], chunk_of[1:] != chunk_of[:-1]])]
        chunks = await _cached_chunks(arr, ids, cache, key)
        if rows is None:
            if len(ids) == 1:
                return chunks[int(ids[0])]
            return arrays.concatenate([chunks[c] for c in ids.tolist()])
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if len(ids) == 1:
            c = int(ids[0])
            base = chunks[c]
            if hi - lo == len(rows):
                return base[lo - c * cs : hi - c * cs]
            return base[rows - c * cs]
        # Gather chunk by chunk into one output: no concatenation of whole chunks.
        first = chunks[int(ids[0])]
        out = arrays.empty(len(rows), first.dtype)
        ends = np.searchsorted(rows, (ids + 1) * cs, side="left").tolist()
        start = 0
        for c, end in zip(ids.tolist(), ends, strict=True):
            part = rows[start:end]
            if len(part) and int(part[-1]) - int(part[0]) + 1 == len(part):
                a = int(part[0]) - c * cs
                out[start:end] = chunks[c][a : a + len(part)]
            else:
                out[start:end] = chunks[c][part - c * cs]
            start = end
        return out
    if rows is None:
        return await arr.getitem(slice(None))
    lo, hi = int(rows[0]), int(rows[-1]) + 1
    if hi - lo == len(rows):  # one contiguous run
        return await arr.getitem(slice(lo, hi))
    chunk_of = rows // cs  # rows are sorted: distinct chunks by a diff, not a sort
    chunk_ids = chunk_of[np.concatenate([[True], chunk_of[1:] != chunk_of[:-1]])]
    runs = _chunk_runs(chunk_ids)
    parts = await asyncio.gather(
        *(arr.getitem(slice(c0 * cs, min((c1 + 1) * cs, n))) for c0, c1 in runs)
    )
    bufstart = np.zeros(int(chunk_ids[-1]) + 1, np.int64)
    pos = 0
    for (c0, c1), part in zip(runs, parts, strict=True):
        bufstart[c0 : c1 + 1] = pos + np.arange(c1 - c0 + 1, dtype=np.int64) * cs
        pos += len(part)
    buf = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return buf[bufstart[rows // cs] + rows % cs]


#: Runs shorter than this on average are gathered by index rather than copied slice by slice
#: (a slice costs about a microsecond of Python, an indexed value a few nanoseconds).
MIN_RUN = 256
#: Dtype of the storage representation (tsstore.model.schema) of each numeric encoding.
_DECODED: dict[str, type] = {
    "float": np.float64,
    "decimal": np.float64,
    "int": np.int64,
    "timestamp": np.int64,
    "bool": np.int8,
}


@dataclass(frozen=True, slots=True)
class RowRuns:
    """Sorted distinct rows of a segment's arrays, as runs of consecutive rows.

    A query's rows are few long runs (the layout is series-major: each selected series'
    rows in the time window are one run) or, after a filter on values, many short ones.
    Long runs are copied slice by slice out of the decoded chunks, short ones gathered by
    index.

    Attributes
    ----------
    starts, lengths : ndarray of int64
        First row and length of each run (lengths > 0, runs sorted and not adjacent).
    total : int
        Rows in all.
    listed : ndarray of int64, optional
        The rows themselves, when they are known already (``of_rows``).
    """

    starts: np.ndarray
    lengths: np.ndarray
    total: int
    listed: np.ndarray | None = None

    @classmethod
    def of_ranges(cls, starts: np.ndarray, ends: np.ndarray) -> RowRuns:
        """Runs of the sorted, disjoint ranges ``[starts[i], ends[i])`` (adjacent ones merge)."""
        starts = np.asarray(starts, np.int64)
        ends = np.asarray(ends, np.int64)
        keep = ends > starts
        if not keep.all():
            starts, ends = starts[keep], ends[keep]
        if len(starts) > 1:
            brk = np.flatnonzero(starts[1:] != ends[:-1]) + 1
            if len(brk) < len(starts) - 1:
                ends = ends[np.r_[brk - 1, len(ends) - 1]]
                starts = starts[np.r_[0, brk]]
        lengths = ends - starts
        return cls(starts, lengths, int(lengths.sum()))

    @classmethod
    def of_rows(cls, rows: np.ndarray) -> RowRuns:
        """Runs of sorted distinct row numbers."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return cls(rows, rows, 0)
        brk = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = rows[np.r_[0, brk]]
        ends = rows[np.r_[brk - 1, len(rows) - 1]] + 1
        return cls(starts, ends - starts, len(rows), rows)

    def rows(self) -> np.ndarray:
        """The row numbers, sorted (int64)."""
        if self.listed is not None:
            return self.listed
        return ranges(self.starts, self.starts + self.lengths)

    def covers(self, n: int) -> bool:
        """Whether the runs are all ``n`` rows of an array."""
        return self.total == n and len(self.starts) == 1

    def pieces(self, cs: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """The runs cut at chunk boundaries (chunks of ``cs`` rows): the distinct chunks
        touched (sorted) and per piece ``(chunk, first row in it, end row in it, output
        position)``."""
        starts, lengths = self.starts, self.lengths
        first = starts // cs
        count = (starts + lengths - 1) // cs - first + 1
        run = np.repeat(np.arange(len(starts)), count)
        step = np.arange(len(run)) - np.repeat(np.cumsum(count) - count, count)
        chunk = first[run] + step
        base = chunk * cs
        lo = np.maximum(starts[run], base) - base
        hi = np.minimum(starts[run] + lengths[run], base + cs) - base
        out = np.cumsum(hi - lo) - (hi - lo)
        distinct = chunk[np.r_[True, chunk[1:] != chunk[:-1]]] if len(chunk) else chunk
        pieces = list(zip(chunk.tolist(), lo.tolist(), hi.tolist(), out.tolist(), strict=True))
        return distinct, pieces


async def gather_decoded(
    arr: AsyncArray,
    key: str,
    runs: RowRuns,
    cache: ChunkCache,
    attrs: dict[str, Any],
    *,
    check_nulls: bool = True,
) -> tuple[np.ndarray, bool]:
    """``decode_measure(arr[runs.rows()], attrs)`` in one pass per chunk, and whether the
    result surely holds no null.

    Chunks come from ``cache`` (read and kept there when missing). Each piece of a run is
    copied straight from its decoded chunk into the output, widening as it goes; the null
    sentinel is replaced only when a chunk touched holds one (a flag ``cache`` keeps per
    chunk). ``attrs`` are the array's attributes (``encoding`` one of float, decimal, int,
    timestamp, bool); ``check_nulls=False`` skips the flags (a column without nulls, such as
    ``time``) and reports none.
    """
    enc = attrs.get("encoding")
    dtype = _DECODED[enc]  # KeyError: the caller decodes dictionaries itself
    if runs.total == 0:
        return np.zeros(0, dtype), True
    cs = arr.chunks[0]
    if len(runs.starts) == 1 or len(runs.starts) * MIN_RUN <= runs.total:  # long runs: slices
        rows = None
        ids, pieces = runs.pieces(cs)
    else:  # short runs: gathered by index, chunk by chunk
        rows = runs.rows()
        chunk_of = rows // cs
        ids = chunk_of[np.r_[True, chunk_of[1:] != chunk_of[:-1]]]
        pieces = []
    chunks = await _cached_chunks(arr, ids, cache, key)
    null: Any = {"int": attrs.get("null"), "decimal": attrs.get("null"), "bool": -1}.get(
        enc, INT64_NULL if enc == "timestamp" else None
    )
    with_nulls = check_nulls and any(
        cache.has_null((key, c), chunks[c], null) for c in ids.tolist()
    )
    scale = int(attrs.get("scale", 0)) if enc == "decimal" else 0
    if len(pieces) == 1 and not with_nulls and not scale:
        c, lo, hi, _ = pieces[0]
        if chunks[c].dtype == dtype:  # a view of the cached chunk (Points are never mutated)
            return chunks[c][lo:hi], True
    out = arrays.empty(runs.total, dtype)
    if rows is None:
        for c, lo, hi, at in pieces:
            out[at : at + hi - lo] = chunks[c][lo:hi]
    else:
        bounds = np.searchsorted(rows, np.r_[ids, ids[-1] + 1] * cs).tolist()
        for c, a, b in zip(ids.tolist(), bounds[:-1], bounds[1:], strict=True):
            out[a:b] = chunks[c][rows[a:b] - c * cs]
    if with_nulls and enc in ("int", "decimal"):
        absent = out == null
        if enc == "int":
            out[absent] = INT64_NULL
    if scale:
        np.divide(out, 10.0**scale, out=out)
    if with_nulls and enc == "decimal":
        out[absent] = np.nan
    return out, not with_nulls


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """What a reader needs of a segment before touching its per-point arrays.

    Segments are immutable and their paths carry a random token, so an index (with the
    metadata of the segment's arrays) stays valid in every snapshot that holds the segment.

    Attributes
    ----------
    path : str
    rows : int
    keys : DataFrame
        One row per series of the segment (object columns, None = absent).
    offsets : ndarray of int64
        Rows ``offsets[i]:offsets[i + 1]`` hold series ``i``.
    tmin, tmax : ndarray of int64
        Per-series time bounds.
    measures : dict of str to (node, MeasureType)
    has_version : bool
    metas : dict of str to ArrayMetadata
        Metadata of the per-point arrays and dictionaries, by path relative to the segment.
    """

    path: str
    rows: int
    keys: pd.DataFrame
    offsets: np.ndarray
    tmin: np.ndarray
    tmax: np.ndarray
    measures: dict[str, tuple[str, MeasureType]]
    has_version: bool
    metas: dict[str, Any]

    @property
    def counts(self) -> np.ndarray:
        """Rows per series."""
        return np.diff(self.offsets)

    def array(self, store: Any, rel: str) -> AsyncArray:
        """Array ``rel`` of this segment in ``store`` (no metadata read)."""
        return AsyncArray(self.metas[rel], StorePath(store, f"{self.path}/{rel}"))


async def load_index(store: Any, path: str) -> SegmentIndex:
    """Read the index of segment ``path`` (keys, offsets, per-series bounds, array metadata).

    Raises
    ------
    CorruptDataError
        The group is missing or is not a segment of a known layout version.
    """
    try:
        group = await zasync.open_group(store=store, path=path, mode="r", zarr_format=3)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:
        raise CorruptDataError(f"segment {path} named by the manifest is missing") from exc
    attrs = dict(group.attrs)
    layout = attrs.get("tsstore_segment")
    if layout != SEGMENT_FORMAT:
        raise CorruptDataError(
            f"{path} is not a segment of layout {SEGMENT_FORMAT} (tsstore_segment={layout!r})"
        )
    key_nodes: dict[str, str] = attrs["keys"]
    measures = {
        name: (spec["node"], MeasureType(spec["type"])) for name, spec in attrs["measures"].items()
    }
    index_rels = ["series_offsets", "series_tmin", "series_tmax"]
    key_rels = [f"keys/{node}" for node in key_nodes.values()]
    data_rels = ["time", *(f"measures/{node}" for node, _ in measures.values())]
    data_rels += [f"dicts/{node}" for node, t in measures.values() if t is MeasureType.VARCHAR]
    if attrs.get("version"):
        data_rels.append("version")
    rels = index_rels + key_rels + data_rels
    opened = await asyncio.gather(
        *(
            zasync.open_array(store=store, path=f"{path}/{rel}", mode="r", zarr_format=3)
            for rel in rels
        )
    )
    arrays = dict(zip(rels, opened, strict=True))
    valid_rels = [f"key_valid/{rel[5:]}" for rel in key_rels if arrays[rel].attrs.get("has_nulls")]
    valid_arrays = await asyncio.gather(
        *(
            zasync.open_array(store=store, path=f"{path}/{rel}", mode="r", zarr_format=3)
            for rel in valid_rels
        )
    )
    arrays.update(zip(valid_rels, valid_arrays, strict=True))
    read = index_rels + key_rels + valid_rels
    values = dict(
        zip(
            read,
            await asyncio.gather(*(arrays[rel].getitem(slice(None)) for rel in read)),
            strict=True,
        )
    )
    keys = pd.DataFrame(
        {
            col: decode_strings(values[f"keys/{node}"], values.get(f"key_valid/{node}"))
            for col, node in key_nodes.items()
        },
        index=pd.RangeIndex(len(values["series_tmin"])),
    )
    return SegmentIndex(
        path=path,
        rows=int(attrs["rows"]),
        keys=keys,
        offsets=np.asarray(values["series_offsets"], np.int64),
        tmin=np.asarray(values["series_tmin"], np.int64),
        tmax=np.asarray(values["series_tmax"], np.int64),
        measures=measures,
        has_version=bool(attrs.get("version")),
        metas={rel: arrays[rel].metadata for rel in data_rels},
    )


#: Key columns of at most this many series are matched against ``where`` through a set.
_SET_LOOKUP = 4096


def select_series(
    index: SegmentIndex,
    time_range: tuple[int | None, int | None],
    where: dict[str, list[Any]] | None,
) -> np.ndarray:
    """Mask of the series of ``index`` that match ``where`` and may have rows in the range."""
    start, end = time_range
    sel = np.ones(len(index.tmin), bool)
    for col, allowed in (where or {}).items():
        if col in index.keys.columns:
            values = index.keys[col].to_numpy(dtype=object)
            if len(values) <= _SET_LOOKUP:  # a set beats pandas' isin set-up on few series
                wanted = set(allowed)
                sel &= np.fromiter((v in wanted for v in values), bool, len(values))
            else:
                sel &= index.keys[col].isin(list(allowed)).to_numpy(dtype=bool)
        elif None not in allowed:
            sel[:] = False
    if start is not None:
        sel &= index.tmax >= start
    if end is not None:
        sel &= index.tmin < end
    return sel


async def read_segment(
    store: Any,
    index: SegmentIndex,
    time_range: tuple[int | None, int | None],
    where: dict[str, list[Any]] | None,
    measures: Sequence[str] | None,
    cache: ChunkCache | None = None,
    cache_prefix: str = "",
    filters: Sequence[RowFilter] = (),
    newest_rows: bool = False,
    loose_filters: bool = False,
) -> Points | None:
    """The rows of one segment in ``[start, end)`` matching ``where``, measure columns
    ``measures`` (None: all); None when no row matches. ``cache``: decoded chunks to read
    through (see :class:`ChunkCache`), under keys starting with ``cache_prefix`` (the tier).
    ``filters``: their measures are read first, and the other measures only for the rows
    that pass. ``newest_rows``: of each series whose rows the range's end does not cut, its
    last row alone (a series' newest in the segment; its time is the index's ``tmax``).
    ``loose_filters``: a filter at least half of the rows pass is not applied (for a reader
    that applies it again: the query engine), sparing the gather of the other columns.

    Only the chunks that hold the selected series' rows are read: ``time`` first, then the
    measures for the rows left after the time filter.
    """
    start, end = time_range
    sel = select_series(index, time_range, where)
    if not sel.any():
        return None
    if cache is None:
        cache = ChunkCache(1 << 62)  # this call's chunks only
    chosen = np.flatnonzero(sel)
    firsts, counts = index.offsets[:-1][sel], index.counts[sel]
    if newest_rows:
        last = counts > 0 if end is None else index.tmax[sel] < end
        firsts = np.where(last, firsts + counts - 1, firsts)
        counts = np.where(last, np.minimum(counts, 1), counts)
    runs = RowRuns.of_ranges(firsts, firsts + counts)

    def array(rel: str) -> tuple[AsyncArray, str]:
        return index.array(store, rel), f"{cache_prefix}/{index.path}/{rel}"

    time, _ = await gather_decoded(
        *array("time"), runs, cache, {"encoding": "timestamp"}, check_nulls=False
    )
    lo_t, hi_t = index.tmin[sel], index.tmax[sel]
    if newest_rows:  # a series' last row alone starts at its newest time
        lo_t = np.where(counts == 1, hi_t, lo_t)
    cut = np.zeros(len(chosen), bool)
    if start is not None:
        cut |= lo_t < start
    if end is not None:
        cut |= hi_t >= end
    if cut.any():
        at = np.cumsum(counts) - counts  # each series' first position in ``time``
        lo, hi = _window(time, at, counts, cut, start, end)
        counts = hi - lo
        time = arrays.take(time, ranges(lo, hi))
        firsts = firsts + (lo - at)
        runs = RowRuns.of_ranges(firsts, firsts + counts)
    if runs.total == 0:
        return None
    local = np.repeat(chosen, counts)
    wanted = [m for m in index.measures if measures is None or m in measures]
    nonnull: set[str] = set()

    async def read_measure(name: str, runs: RowRuns) -> np.ndarray:
        node, mtype = index.measures[name]
        arr, key = array(f"measures/{node}")
        attrs = dict(arr.attrs)
        if attrs.get("logical_type") != mtype.value:
            raise CorruptDataError(
                f"measure {name!r} of segment {index.path} is stored as "
                f"{attrs.get('logical_type')!r} but the segment lists it as {mtype.value}"
            )
        if attrs.get("encoding") in _DECODED:
            values, clean = await gather_decoded(arr, key, runs, cache, attrs)
            if clean:
                nonnull.add(name)
            return values
        dictionary = None
        if attrs.get("encoding") == "dict":
            dictionary = await index.array(store, f"dicts/{node}").getitem(slice(None))
        rows = None if runs.covers(index.rows) else runs.rows()
        return decode_measure(await gather_rows(arr, rows, cache, key), attrs, dictionary)

    read: dict[str, np.ndarray] = {}
    for f in filters:  # filter columns first; the others only for the rows that pass
        if f.measure not in index.measures:
            return None  # never written in this segment: all null, no row passes
        values = read[f.measure] if f.measure in read else await read_measure(f.measure, runs)
        keep = f.mask(values, index.measures[f.measure][1])
        read[f.measure] = values
        if loose_filters and 2 * int(np.count_nonzero(keep)) >= len(keep):
            continue  # most rows pass: the query filters them again, a gather would cost more
        if not keep.all():
            runs = RowRuns.of_rows(runs.rows()[keep])
            time, local = time[keep], local[keep]
            read = {m: v[keep] for m, v in read.items()}
        if len(time) == 0:
            return None

    async def measure(name: str) -> np.ndarray:
        return read[name] if name in read else await read_measure(name, runs)

    tasks = [measure(m) for m in wanted]
    if index.has_version:
        version_rows = None if runs.covers(index.rows) else runs.rows()
        version_arr, version_key = array("version")
        tasks.append(gather_rows(version_arr, version_rows, cache, version_key))
    results = await asyncio.gather(*tasks)
    version = np.asarray(results[-1], np.int64) if index.has_version else None
    # ``local`` is sorted (series in segment order): distinct values and codes in one pass
    starts = np.empty(len(local), dtype=bool)
    starts[0] = True
    np.not_equal(local[1:], local[:-1], out=starts[1:])
    used = local[starts]
    series = np.cumsum(starts, dtype=np.int32) - 1
    return Points(
        keys=index.keys.iloc[used].reset_index(drop=True),
        series=series.astype(np.int32),
        time=time,
        columns=dict(zip(wanted, results, strict=False)),
        types={m: index.measures[m][1] for m in wanted},
        version=version,
        nonnull=frozenset(nonnull),
    )


#: Above this many series cut by the time window, their bounds are found by one vectorised
#: pass over the times rather than one binary search per series.
_SEARCH_SERIES = 4096


def _window(
    time: np.ndarray,
    at: np.ndarray,
    counts: np.ndarray,
    cut: np.ndarray,
    start: int | None,
    end: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``[lo, hi)`` in ``time`` of each series' rows in ``[start, end)``.

    Series ``i`` holds ``time[at[i]:at[i] + counts[i]]``, sorted; ``cut`` marks the series
    the window cuts (the others keep all their rows).
    """
    lo, hi = at.copy(), at + counts
    which = np.flatnonzero(cut)
    if len(which) <= _SEARCH_SERIES:
        for i in which.tolist():
            a, b = int(at[i]), int(at[i] + counts[i])
            part = time[a:b]
            if start is not None:
                lo[i] = a + int(np.searchsorted(part, start, "left"))
            if end is not None:
                hi[i] = a + int(np.searchsorted(part, end, "left"))
        return lo, np.maximum(hi, lo)  # an empty window (end before start) keeps nothing
    # times are sorted within each series: the rows before ``start`` are a prefix of it
    if start is not None:
        lo = at + np.add.reduceat((time < start).astype(np.int64), at)
    if end is not None:
        hi = at + np.add.reduceat((time < end).astype(np.int64), at)
    return lo, np.maximum(hi, lo)


def segment_specs(points: Points, chunk_points: int) -> tuple[dict[str, Any], list[ArraySpec]]:
    """Group attributes and arrays of a segment holding ``points``.

    ``points`` must be sorted by (series, time) without duplicate identities, and its ``keys``
    must hold exactly the series of its rows, numbered in row order.
    """
    k = len(points.keys)
    counts = np.bincount(points.series, minlength=k)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    specs: list[ArraySpec] = [
        encode_int64("series_offsets", offsets, chunk_points),
        encode_int64("series_tmin", points.time[offsets[:-1]], chunk_points),
        encode_int64("series_tmax", points.time[offsets[1:] - 1], chunk_points),
        encode_int64("time", points.time, chunk_points),
    ]
    key_nodes: dict[str, str] = {}
    for col in points.keys.columns:
        node = key_nodes[str(col)] = node_name(str(col))
        specs += encode_strings(
            f"keys/{node}",
            f"key_valid/{node}",
            points.keys[col].to_numpy(dtype=object),
            chunk_points,
            {"name": str(col)},
        )
    measures: dict[str, dict[str, str]] = {}
    for name, mtype in points.types.items():
        mtype = MeasureType(mtype)
        node = node_name(name)
        measures[name] = {"node": node, "type": mtype.value}
        specs += encode_measure(name, node, points.columns[name], mtype, chunk_points)
    if points.version is not None:
        specs.append(
            encode_int64("version", points.version, chunk_points, fill_value=DEFAULT_VERSION)
        )
    attrs = {
        "tsstore_segment": SEGMENT_FORMAT,
        "rows": len(points),
        "series": k,
        "tmin": int(points.time.min()),
        "tmax": int(points.time.max()),
        "chunk_points": chunk_points,
        "keys": key_nodes,
        "measures": measures,
        "version": points.version is not None,
    }
    return attrs, specs


async def write_segment(
    store: Any,
    path: str,
    points: Points,
    chunk_points: int,
    cache: ChunkCache | None = None,
    cache_prefix: str = "",
) -> dict[str, Any]:
    """Create segment group ``path`` holding ``points`` (see :func:`segment_specs`) in
    ``store``, its parents as needed; returns the segment's manifest entry.

    ``cache``: the chunks of the numeric arrays go there as they are written (as a read
    would decode them, under the keys :func:`read_segment` uses with ``cache_prefix``), so
    the first queries of a segment just migrated do not decode what the writer had in memory.
    """
    attrs, specs = segment_specs(points, chunk_points)
    parent = await zasync.open_group(store=store, mode="a", zarr_format=3)
    for name in path.split("/")[:-1]:
        parent = await parent.require_group(name)
    group = await parent.create_group(path.rsplit("/", 1)[-1], attributes=attrs)
    sub_names = sorted({spec.path.split("/")[0] for spec in specs if "/" in spec.path})
    subs = dict(
        zip(
            sub_names,
            await asyncio.gather(*(group.create_group(name) for name in sub_names)),
            strict=True,
        )
    )

    async def create(spec: ArraySpec) -> None:
        where, _, name = spec.path.rpartition("/")
        data = spec.data
        arr = await (subs[where] if where else group).create_array(
            name,
            shape=data.shape,
            dtype=str if data.dtype == object else data.dtype,
            chunks=(spec.chunks,),
            filters=spec.filters,
            compressors=spec.compressors,
            fill_value=spec.fill_value,
            attributes=spec.attrs,
        )
        if len(data):
            await arr.setitem(slice(None), data)

    await asyncio.gather(*(create(spec) for spec in specs))
    if cache is not None:
        for spec in specs:
            data = spec.data
            if data.dtype == object or data.ndim != 1:
                continue
            key = f"{cache_prefix}/{path}/{spec.path}"
            for c, lo in enumerate(range(0, len(data), spec.chunks)):
                cache.put((key, c), data[lo : lo + spec.chunks])
    return {
        "path": path,
        "rows": len(points),
        "tmin": attrs["tmin"],
        "tmax": attrs["tmax"],
        "series": attrs["series"],
    }
