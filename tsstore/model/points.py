"""Points: the normalised, columnar form every tier reads and writes.

A :class:`Points` holds rows of one table: a series id per row (an index into ``keys``, one row
per series with its dimension values and ``measure_name``), the time as int64 nanoseconds since
the epoch (UTC), one storage array per measure (see :mod:`tsstore.model.schema` for the
representation of each type), and optionally a version per row. A point's identity is
``(series, time)``: the series folds in the dimension values and the measure name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsstore.model import arrays
from tsstore.model.schema import INT64_NULL, MeasureType, empty_column, null_mask

__all__ = ["DEFAULT_VERSION", "MEASURE_NAME", "Points", "keys_frame", "map_keys"]

#: Key column that holds a point's measure name.
MEASURE_NAME = "measure_name"
#: Version of a record written without one (Timestream's default).
DEFAULT_VERSION = 1


def keys_frame(columns: dict[str, Sequence[object] | np.ndarray]) -> pd.DataFrame:
    """A series key table: object columns (dimension names + ``measure_name``), None = absent."""
    return pd.DataFrame({k: np.asarray(v, dtype=object) for k, v in columns.items()})


def map_keys(src: pd.DataFrame, dst: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Map the series of ``src`` to ids in ``dst``, appending the series ``dst`` lacks.

    Returns
    -------
    mapping : ndarray of int32
        ``mapping[i]`` is the id in the returned table of ``src`` series ``i``.
    dst : DataFrame
        ``dst`` extended (columns and rows) to hold every series of ``src``.
    """
    cols = list(dst.columns) + [c for c in src.columns if c not in dst.columns]
    if cols and 0 < len(dst) + len(src) <= _SMALL_KEYS:
        return _map_small_keys(src, dst, cols)
    dst = dst.reindex(columns=cols)
    src = src.reindex(columns=cols)
    if len(dst) == 0:
        out = src.reset_index(drop=True).astype(object)
        return np.arange(len(src), dtype=np.int32), out.where(out.notna(), None)
    index = pd.MultiIndex.from_frame(dst.astype(object).fillna("\x00<null>"))
    probe = pd.MultiIndex.from_frame(src.astype(object).fillna("\x00<null>"))
    found = index.get_indexer(probe)
    missing = np.flatnonzero(found < 0)
    if len(missing):
        found[missing] = np.arange(len(dst), len(dst) + len(missing))
        dst = pd.concat([dst, src.iloc[missing]], ignore_index=True)
    return found.astype(np.int32), dst.astype(object).where(dst.notna(), None)


#: Key tables up to this many rows (both together) are matched as tuples in a dict: a query
#: combines a few small key tables (one per segment read, one for the memory tier), where
#: pandas' MultiIndex costs milliseconds of per-column set-up each time.
_SMALL_KEYS = 50_000


def _key_lists(df: pd.DataFrame, cols: list[str]) -> tuple[list[list[object]], bool]:
    """Each column of ``cols`` as a list (None where missing or absent) and whether any
    value had to change (NaN to None, a column added, a non-object column)."""
    out, changed = [], False
    for c in cols:
        if c not in df.columns:
            out.append([None] * len(df))
            changed = True
            continue
        values = df[c].to_numpy(dtype=object)
        changed |= df[c].dtype != object
        missing = pd.isna(values)
        if missing.any() and any(v is not None for v in values[missing]):
            values = values.copy()
            values[missing] = None
            changed = True
        out.append(values.tolist())
    return out, changed


def _map_small_keys(
    src: pd.DataFrame, dst: pd.DataFrame, cols: list[str]
) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`map_keys` for small tables (rows of ``dst`` are distinct series)."""
    dst_cols, dst_changed = _key_lists(dst, cols)
    src_cols, _ = _key_lists(src, cols)
    index: dict[tuple[object, ...], int] = {}
    for i, row in enumerate(zip(*dst_cols, strict=True)):
        index.setdefault(row, i)
    found = np.fromiter(
        (index.get(row, -1) for row in zip(*src_cols, strict=True)), np.int64, count=len(src)
    )
    missing = np.flatnonzero(found < 0)
    if len(missing):
        # Series new to ``dst`` (distinct among themselves: ``src`` is a key table too).
        found[missing] = np.arange(len(dst), len(dst) + len(missing))
        picked = missing.tolist()
        dst_cols = [d + [sc[j] for j in picked] for d, sc in zip(dst_cols, src_cols, strict=True)]
        dst_changed = True
    if not dst_changed:
        return found.astype(np.int32), dst
    return found.astype(np.int32), keys_frame(dict(zip(cols, dst_cols, strict=True)))


@dataclass(frozen=True, slots=True)
class GridTranspose:
    """The (series, time) order of rows that form a full time-major grid, as a transpose.

    Fleets write time-major: at each timestamp one row per series, the same series in the same
    order (TSBS, a tick of every device). Ordering such rows by (series, time) is a transpose
    of a ``steps x width`` matrix; a gather by the sort permutation reads one value per page
    (8.6M rows of 1,000 series: 1.8 s for 10 columns), while a transpose tile by tile reads
    whole cache lines (0.2 s). ``detect`` says whether rows are such a grid; calling the object
    on a row-aligned array returns it in (series, time) order.
    """

    steps: int
    width: int
    perm: np.ndarray | None  # the grid's columns in series-id order (None: already so)

    #: Smallest grid worth the checks (smaller ones gather fast enough).
    MIN_SIDE = 64
    #: Tile of the transpose: ``TILE_STEPS`` rows of the source by ``TILE_SERIES`` columns.
    TILE_STEPS, TILE_SERIES = 1024, 32

    @classmethod
    def detect(cls, series: np.ndarray, time: np.ndarray) -> GridTranspose | None:
        """The grid of the rows, or None when they are not one (or a small one)."""
        n = len(series)
        if n < cls.MIN_SIDE * cls.MIN_SIDE:
            return None
        width = int(np.argmax(time != time[0]))  # rows of the first timestamp
        if width < cls.MIN_SIDE or n % width:
            return None
        steps = n // width
        if steps < cls.MIN_SIDE:
            return None
        s = series.reshape(steps, width)
        t = time.reshape(steps, width)
        first = t[:, 0]
        if not (np.all(first[1:] > first[:-1]) and np.all(t == first[:, None])):
            return None
        if not np.all(s == s[0]):
            return None
        perm = np.argsort(s[0], kind="stable")
        ids = s[0][perm]
        if np.any(ids[1:] == ids[:-1]):  # a series twice at one timestamp: not a grid
            return None
        identity = bool(np.all(perm == np.arange(width)))
        return cls(steps, width, None if identity else perm)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        steps, width = self.steps, self.width
        src = values.reshape(steps, width)
        flat = np.empty(steps * width, dtype=values.dtype)  # owns its memory (no view)
        out = flat.reshape(width, steps)
        bt, bs = self.TILE_STEPS, self.TILE_SERIES
        for h0 in range(0, width, bs):
            cols = slice(h0, h0 + bs) if self.perm is None else self.perm[h0 : h0 + bs]
            for t0 in range(0, steps, bt):
                out[h0 : h0 + bs, t0 : t0 + bt] = src[t0 : t0 + bt, cols].T
        return flat


@dataclass(slots=True)
class Points:
    """Columnar rows of one table. See the module docstring for the layout.

    Attributes
    ----------
    keys : DataFrame
        One row per series id; object columns of dimension values and ``measure_name``.
    series : ndarray of int32
    time : ndarray of int64
        Nanoseconds since 1970-01-01 UTC.
    columns : dict of str to ndarray
        Measure storage arrays, one per measure, all of length ``len(self)``.
    types : dict of str to MeasureType
    version : ndarray of int64 or None
        ``None`` means every row has :data:`DEFAULT_VERSION`.
    row : ndarray of int64 or None
        Position of each row in the write it came from (to report rejected records).
    nonnull : frozenset of str
        Measures known to hold no null (a hint that spares readers a scan for nulls; empty
        when unknown). Subsets of the rows keep it.
    """

    keys: pd.DataFrame
    series: np.ndarray
    time: np.ndarray
    columns: dict[str, np.ndarray]
    types: dict[str, MeasureType]
    version: np.ndarray | None = None
    row: np.ndarray | None = None
    nonnull: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.time)

    @property
    def nbytes(self) -> int:
        """Bytes of the row arrays (object columns count their pointers only)."""
        n = self.series.nbytes + self.time.nbytes
        n += sum(c.nbytes for c in self.columns.values())
        if self.version is not None:
            n += self.version.nbytes
        return n

    @classmethod
    def empty(cls, keys: pd.DataFrame | None = None, types: dict[str, MeasureType] | None = None):
        types = dict(types or {})
        return cls(
            keys=keys if keys is not None else pd.DataFrame(),
            series=np.empty(0, np.int32),
            time=np.empty(0, np.int64),
            columns={k: empty_column(t, 0) for k, t in types.items()},
            types=types,
        )

    def versions(self) -> np.ndarray:
        """The version of every row (materialising the default)."""
        if self.version is None:
            return np.full(len(self), DEFAULT_VERSION, dtype=np.int64)
        return self.version

    def reordered(self, permute: Callable[[np.ndarray], np.ndarray]) -> Points:
        """The rows in the order ``permute`` gives every row-aligned array (keys shared)."""
        return Points(
            keys=self.keys,
            series=permute(self.series),
            time=permute(self.time),
            columns={k: permute(v) for k, v in self.columns.items()},
            types=self.types,
            version=None if self.version is None else permute(self.version),
            row=None if self.row is None else permute(self.row),
            nonnull=self.nonnull,
        )

    def take(self, idx: np.ndarray, *, pooled: bool = False) -> Points:
        """Rows at positions (or a boolean mask) ``idx``; keys are shared, not copied.

        ``pooled``: the arrays come from Arrow's memory pool (:mod:`tsstore.model.arrays`),
        for short-lived reads.
        """
        if pooled and idx.dtype == bool:
            idx = np.flatnonzero(idx)

        def pick(values: np.ndarray) -> np.ndarray:
            return arrays.take(values, idx) if pooled else values[idx]

        return self.reordered(pick)

    def sort_order(self) -> np.ndarray:
        """Stable permutation ordering rows by (series, time)."""
        if len(self) and np.all(self.time[1:] >= self.time[:-1]):
            return np.argsort(self.series, kind="stable")
        key = _identity_key(self.series, self.time)
        if key is not None:  # one int64 key: a stable sort that also exploits sorted runs
            return np.argsort(key, kind="stable")
        return np.lexsort((self.time, self.series))

    def is_sorted(self) -> bool:
        """Whether rows are ordered by (series, time)."""
        s, t = self.series, self.time
        if len(s) < 2:
            return True
        ds = np.diff(s)
        return bool(np.all((ds > 0) | ((ds == 0) & (t[1:] >= t[:-1]))))

    def sorted(self, *, pooled: bool = False) -> Points:
        """The rows ordered by (series, time); self when already so."""
        if self.is_sorted():
            return self
        grid = GridTranspose.detect(self.series, self.time)
        if grid is not None:
            return self.reordered(grid)
        return self.take(self.sort_order(), pooled=pooled)

    def with_types(self, types: dict[str, MeasureType]) -> Points:
        """The same rows with all-null columns added for measures in ``types`` it lacks."""
        missing = {k: t for k, t in types.items() if k not in self.columns}
        if not missing:
            return self
        cols = dict(self.columns)
        for k, t in missing.items():
            cols[k] = empty_column(t, len(self))
        return Points(
            self.keys,
            self.series,
            self.time,
            cols,
            {**self.types, **missing},
            self.version,
            self.row,
            self.nonnull,
        )

    def remap(self, keys: pd.DataFrame) -> Points:
        """The same rows with series ids into ``keys`` (series not in it are appended there).

        Returns the re-keyed points; their ``keys`` is the extended table.
        """
        mapping, new_keys = map_keys(self.keys, keys)
        return Points(
            new_keys,
            mapping[self.series] if len(self) else self.series,
            self.time,
            self.columns,
            self.types,
            self.version,
            self.row,
            self.nonnull,
        )

    @staticmethod
    def merge_sorted(a: Points, b: Points, keys: pd.DataFrame | None = None) -> Points:
        """Merge two runs sorted by (series, time) into one, rows of ``a`` first on ties.

        Linear in the rows: every column is written once, in order, with no sort and no
        concatenated copy. Both runs share one key table (``keys``, default ``a.keys``).
        """
        if len(a) == 0 or len(b) == 0:
            return Points.concat([a, b], keys=a.keys if keys is None else keys)
        tmin = min(int(a.time.min()), int(b.time.min()))
        tmax = max(int(a.time.max()), int(b.time.max()))
        smin = min(int(a.series[0]), int(b.series[0]))
        width = _identity_width(smin, max(int(a.series[-1]), int(b.series[-1])), tmin, tmax)
        if width is None:
            return Points.concat([a, b], keys=keys).sorted()
        ka = a.series.astype(np.int64) * width + (a.time - tmin)
        kb = b.series.astype(np.int64) * width + (b.time - tmin)
        pos_a = np.searchsorted(kb, ka, side="left") + np.arange(len(a))
        pos_b = np.searchsorted(ka, kb, side="right") + np.arange(len(b))
        del ka, kb
        types = {**a.types, **b.types}
        a, b = a.with_types(types), b.with_types(types)

        def scatter(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            out = np.empty(len(x) + len(y), dtype=np.result_type(x, y))
            out[pos_a] = x
            out[pos_b] = y
            return out

        version = None
        if a.version is not None or b.version is not None:
            version = scatter(a.versions(), b.versions())
        row = None if a.row is None or b.row is None else scatter(a.row, b.row)
        return Points(
            keys=a.keys if keys is None else keys,
            series=scatter(a.series, b.series).astype(np.int32, copy=False),
            time=scatter(a.time, b.time),
            columns={k: scatter(a.columns[k], b.columns[k]) for k in types},
            types=types,
            version=version,
            row=row,
        )

    @staticmethod
    def concat(
        parts: Iterable[Points], keys: pd.DataFrame | None = None, *, pooled: bool = False
    ) -> Points:
        """Concatenate points that share one key table (pass ``keys``, or they share ``keys``).

        A single part comes back with its arrays shared, not copied (Points are not mutated in
        place anywhere in tsstore). ``pooled`` as in :meth:`take`.
        """
        parts = [p for p in parts]
        if not parts:
            return Points.empty(keys)
        keys = parts[0].keys if keys is None else keys
        if len(parts) == 1:
            p = parts[0]
            return Points(
                keys,
                p.series.astype(np.int32, copy=False),
                p.time,
                p.columns,
                p.types,
                p.version,
                p.row,
                p.nonnull,
            )
        types: dict[str, MeasureType] = {}
        for p in parts:
            types.update(p.types)
        parts = [p.with_types(types) for p in parts]
        version = None
        if any(p.version is not None for p in parts):
            version = np.concatenate([p.versions() for p in parts])
        row = None
        if all(p.row is not None for p in parts):
            row = np.concatenate([p.row for p in parts])  # type: ignore[misc]
        cat = arrays.concatenate if pooled else np.concatenate
        return Points(
            keys=keys,
            series=cat([p.series for p in parts]).astype(np.int32, copy=False),
            time=cat([p.time for p in parts]),
            columns={k: cat([p.columns[k] for p in parts]) for k in types},
            types=types,
            version=version,
            row=row,
            nonnull=frozenset.intersection(*(p.nonnull for p in parts)),
        )

    def to_pandas(self, *, dimensions: Sequence[str] | None = None) -> pd.DataFrame:
        """A long DataFrame: dimensions, ``measure_name``, ``time`` (tz-aware UTC), measures.

        Measures come back with pandas' nullable dtypes (``Float64``, ``Int64``, ``boolean``,
        ``string``) so that absent values are ``<NA>``; timestamps as ``datetime64[ns, UTC]``.
        """
        dims = (
            list(dimensions)
            if dimensions is not None
            else [c for c in self.keys.columns if c != MEASURE_NAME]
        )
        out: dict[str, object] = {}
        codes = self.series
        for d in dims:
            if d in self.keys.columns:
                vals = self.keys[d].to_numpy(dtype=object)
                out[d] = vals[codes] if len(codes) else np.empty(0, dtype=object)
            else:
                out[d] = np.full(len(self), None, dtype=object)
        if MEASURE_NAME in self.keys.columns:
            out[MEASURE_NAME] = self.keys[MEASURE_NAME].to_numpy(dtype=object)[codes]
        else:
            out[MEASURE_NAME] = np.full(len(self), None, dtype=object)
        out["time"] = pd.to_datetime(self.time, unit="ns", utc=True)
        for name, mtype in self.types.items():
            out[name] = _to_pandas_column(self.columns[name], mtype)
        return pd.DataFrame(out)


_INT64_MAX = int(np.iinfo(np.int64).max)


def _identity_width(smin: int, smax: int, tmin: int, tmax: int) -> int | None:
    """``width`` such that ``series * width + (time - tmin)`` orders rows by (series, time)
    without overflowing int64, or None when the ids and the time range are too wide for that.
    """
    width = tmax - tmin + 1
    if smin < 0 or (smax + 1) * width > _INT64_MAX:
        return None
    return width


def _identity_key(series: np.ndarray, time: np.ndarray) -> np.ndarray | None:
    """One int64 per row ordered as (series, time), or None when it would overflow."""
    if not len(time):
        return None
    tmin = int(time.min())
    width = _identity_width(int(series.min()), int(series.max()), tmin, int(time.max()))
    if width is None:
        return None
    return series.astype(np.int64) * width + (time - tmin)


def _to_pandas_column(values: np.ndarray, mtype: MeasureType) -> pd.api.extensions.ExtensionArray:
    mask = null_mask(values, mtype)
    if mtype is MeasureType.DOUBLE:
        return pd.arrays.FloatingArray(np.where(mask, 0.0, values), mask)
    if mtype is MeasureType.BIGINT:
        return pd.arrays.IntegerArray(np.where(mask, 0, values), mask)
    if mtype is MeasureType.BOOLEAN:
        return pd.arrays.BooleanArray(values == 1, mask)
    if mtype is MeasureType.TIMESTAMP:
        return pd.array(pd.to_datetime(np.where(mask, INT64_NULL, values), unit="ns", utc=True))
    return pd.array(values, dtype="string")
