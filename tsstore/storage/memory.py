"""The memory tier: recent points of one table in RAM, as xarray Datasets.

Layout
------
Points live in *runs*: immutable :class:`xarray.Dataset` objects on one ``point`` dimension,
sorted by (series, time), holding ``series`` (int32 id into the tier's series registry), ``time``
(datetime64[ns], UTC), one variable per measure and, only when some version is not 1,
``version``. This is the contiguous ragged layout of the CF conventions (a series is a contiguous
slice of ``point``), so irregular, unaligned and late timestamps cost nothing extra: there is no
padding and no union-of-timestamps grid. :meth:`MemoryTier.to_xarray` hands the whole tier to
the user as one such Dataset with the dimension values as ``series`` coordinates and the CF
``row_size`` count variable.

A write appends one run (after sorting the batch) at level 0; runs are merged tiered, like a
base-``MERGE_FANIN`` counter: when the newest ``MERGE_FANIN`` runs share a level they become one
run of the next level. A point is rewritten log_8(n) times in all, never once per write, and
the tier keeps at most 7 runs per level. A merge is one stable sort of the concatenated runs
(timsort finds the sorted runs and merges them); runs stop growing at
:attr:`MemoryTier.MAX_MERGE_ROWS` rows, past which a merge costs more than fewer runs save.
Rows replaced by a higher version are masked out of their run (``alive``) until the next merge
drops them. Resident memory is the raw columns plus 4 bytes per point for the series id (and 8
for ``version`` where used): 1.05x the raw bytes of a fleet of 10 numeric measures.
See ``docs/architecture.md`` for the measurements behind this choice.

Thread safety: mutations run under the owning table's lock; readers take :meth:`view`, a
consistent list of immutable runs, and never block writers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import xarray as xr

from tsstore.model import arrays
from tsstore.model.points import MEASURE_NAME, Points
from tsstore.model.schema import MeasureType, RowFilter, has_null
from tsstore.storage.codec import (
    concat_query_tables,
    kernel_dictionaries,
    points_to_query_table,
)

__all__ = ["MemoryTier", "MemoryView", "SeriesRegistry"]


class SeriesRegistry:
    """Stable integer ids for series keys (dimension values + measure name) of one table."""

    def __init__(self) -> None:
        self.columns: list[str] = [MEASURE_NAME]
        self._index: dict[tuple, int] = {}
        self._rows: list[tuple] = []
        self._frame: pd.DataFrame | None = None
        self._key_bytes: list[int] = []  # characters of each series' key values (billing)
        self._key_bytes_array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def ids_for(self, keys: pd.DataFrame) -> np.ndarray:
        """Ids (int32) of each row of a key table, registering the new series."""
        new_cols = [c for c in keys.columns if c not in self.columns]
        if new_cols:
            self.columns = [c for c in self.columns if c != MEASURE_NAME] + new_cols
            self.columns.append(MEASURE_NAME)
            self._rows = [self._widen(r, new_cols) for r in self._rows]
            self._index = {r: i for i, r in enumerate(self._rows)}
            self._frame = None
        absent = [None] * len(keys)
        cols = [_key_values(keys[c]) if c in keys.columns else absent for c in self.columns]
        rows = list(zip(*cols, strict=True))
        get = self._index.get
        ids = [get(key) for key in rows]
        if None in ids:
            for i, key in enumerate(rows):
                if ids[i] is None:
                    sid = self._index.get(key)
                    if sid is None:
                        sid = len(self._rows)
                        self._index[key] = sid
                        self._rows.append(key)
                        self._key_bytes.append(sum(len(str(v)) for v in key if v is not None))
                        self._frame = None
                    ids[i] = sid
        return np.array(ids, dtype=np.int32)

    @property
    def key_bytes(self) -> np.ndarray:
        """Characters of the key values (dimension values and measure name) per series id."""
        cached = self._key_bytes_array
        if cached is None or len(cached) != len(self._key_bytes):
            cached = self._key_bytes_array = np.array(self._key_bytes, dtype=np.int64)
        return cached

    def _widen(self, row: tuple, new_cols: list[str]) -> tuple:
        # old layout: [...dims, measure_name]; new: [...dims, *new_cols, measure_name]
        return (*row[:-1], *([None] * len(new_cols)), row[-1])

    @property
    def frame(self) -> pd.DataFrame:
        """The key table: one row per series id."""
        if self._frame is None or len(self._frame) != len(self._rows):
            data = list(zip(*self._rows, strict=True)) if self._rows else [[]] * len(self.columns)
            self._frame = pd.DataFrame(
                {c: np.array(v, dtype=object) for c, v in zip(self.columns, data, strict=True)}
            )
        return self._frame

    def select(self, where: dict[str, Sequence[str]] | None) -> np.ndarray | None:
        """Ids of the series matching ``where`` ({column: allowed values}); None = all."""
        if not where:
            return None
        frame = self.frame
        mask = np.ones(len(frame), dtype=bool)
        for col, allowed in where.items():
            if col not in frame.columns:
                return np.empty(0, dtype=np.int32)
            mask &= frame[col].isin(list(allowed)).to_numpy()
        return np.flatnonzero(mask).astype(np.int32)


def _key_values(column: pd.Series) -> list:
    """A key column's values as a list, every missing value (None, NaN, NA) as None."""
    values = column.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values.tolist()


#: Names of the structural variables of a run's Dataset and of :meth:`MemoryTier.to_xarray`.
_RUN_VARIABLES = frozenset({"point", "series", "time", "version", "alive"})
_CUBE_VARIABLES = frozenset({"point", "series", "time", "row_size", "series_index"})


def _variable_names(names: Sequence[str], taken: frozenset[str]) -> dict[str, str]:
    """A Dataset variable name for each measure or dimension name: the name itself, or the name
    with ``_`` appended until it clashes neither with ``taken`` nor with another name."""
    out: dict[str, str] = {}
    used = set(taken) | set(names)
    for name in names:
        var = name
        if var in taken:
            while var in used:
                var += "_"
            used.add(var)
        out[name] = var
    return out


def _run_dataset(p: Points, alive: np.ndarray | None = None) -> xr.Dataset:
    data = {
        "series": ("point", p.series),
        "time": ("point", p.time.view("datetime64[ns]")),
    }
    names = _variable_names(list(p.columns), _RUN_VARIABLES)
    for k, v in p.columns.items():
        data[names[k]] = ("point", v, {"measure_name": k} if names[k] != k else {})
    if p.version is not None:
        data["version"] = ("point", p.version)
    ds = xr.Dataset(data)
    ds.attrs["measure_types"] = {k: t.value for k, t in p.types.items()}
    if alive is not None:
        ds["alive"] = ("point", alive)
    return ds


@dataclass(frozen=True, slots=True)
class _Run:
    """One sorted run: its columns (the hot paths read them as they are) and their xarray
    Dataset, a view over the same arrays built on first use (a small write does not pay the
    ~0.7 ms of ``xr.Dataset``)."""

    points: Points  # keys unset
    alive: np.ndarray | None
    tmin: int
    tmax: int
    level: int = 0
    #: Derived lookups, computed on first use (the run itself never changes).
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ds(self) -> xr.Dataset:
        """The run as a CF contiguous-ragged Dataset (``point`` dimension; no copy)."""
        ds = self.cache.get("ds")
        if ds is None:
            ds = self.cache["ds"] = _run_dataset(self.points, self.alive)
        return ds

    def series_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """First row and end row of each series of the run (rows are series-sorted)."""
        bounds = self.cache.get("bounds")
        if bounds is None:
            starts = _series_starts(self.points.series) if len(self.points) else np.zeros(0, int)
            ends = np.append(starts[1:], len(self.points)).astype(np.int64)
            bounds = self.cache["bounds"] = (starts.astype(np.int64), ends)
        return bounds

    def nonnull(self) -> frozenset[str]:
        """The run's measures that hold no null (live or not: a superset of the rows' nulls)."""
        found = self.cache.get("nonnull")
        if found is None:
            p = self.points
            found = self.cache["nonnull"] = frozenset(
                m for m, col in p.columns.items() if m in p.types and not has_null(col, p.types[m])
            )
        return found

    @classmethod
    def build(cls, p: Points, alive: np.ndarray | None = None, level: int = 0) -> _Run:
        if alive is not None and alive.all():
            alive = None
        tmin = int(p.time.min()) if len(p) else 0
        tmax = int(p.time.max()) if len(p) else 0
        return cls(p, alive, tmin, tmax, level)

    def __len__(self) -> int:
        return len(self.points)

    def live(self) -> Points:
        return self.points if self.alive is None else self.points.take(self.alive)

    @property
    def live_rows(self) -> int:
        return len(self.points) if self.alive is None else int(self.alive.sum())


@dataclass(frozen=True, slots=True)
class MemoryView:
    """A consistent, immutable view of the memory tier (for readers)."""

    runs: tuple[_Run, ...]
    keys: pd.DataFrame
    types: dict[str, MeasureType]

    def read(
        self,
        *,
        time_range: tuple[int | None, int | None] = (None, None),
        series: np.ndarray | None = None,
        measures: Sequence[str] | None = None,
        filters: Sequence[RowFilter] = (),
        ordered: bool = True,
    ) -> Points:
        """Points with ``start <= time < end`` of the given series ids, projected to measures,
        passing every row filter; ordered by (series, time) unless ``ordered`` is false (rows
        of several runs are then concatenated as they are)."""
        types = self._types(measures)
        parts = [
            q
            for run in self._runs_in(time_range)
            if (q := self._run_points(run, time_range, series, filters, types)) is not None
        ]
        if not parts:
            return Points.empty(self.keys, types)
        out = Points.concat(parts, keys=self.keys, pooled=True)
        return out if len(parts) == 1 or not ordered else out.sorted(pooled=True)

    def read_table(
        self,
        *,
        dimensions: Sequence[str],
        types: dict[str, MeasureType],
        time_range: tuple[int | None, int | None] = (None, None),
        series: np.ndarray | None = None,
        filters: Sequence[RowFilter] = (),
        series_key: np.ndarray | None = None,
        newest_rows: bool = False,
    ) -> tuple[pa.Table | None, int, int]:
        """:meth:`read`'s rows (in no order) as the query engine's Arrow table (see
        :func:`~tsstore.storage.codec.points_to_query_table`, one dictionary entry per series),
        with the rows and bytes read; None when no row matches. ``types`` are the measure
        columns (the table's: those no run holds are null).

        Where a run's selected rows are whole series' time ranges of numbers (no replaced
        rows), the table is slices of the run's own arrays, one record batch per slice: nothing
        is copied (nulls get a validity bitmap). Row ``filters`` that most of the run's rows
        pass are left to the query, which applies them again: the rows that fail are fewer
        than what a gather of the others would cost. Other runs' rows are gathered.
        ``series_key``: each of :attr:`keys`' series' id, for the table's ``SERIES_KEY``
        column (see :func:`~tsstore.storage.codec.series_key_ids`). ``newest_rows``: only each
        series' newest row in ``time_range``, where the runs' last rows tell it (see
        :meth:`newest`; else every row).
        """
        if newest_rows and (picked := self._newest_rows(time_range, series, types)) is not None:
            if filters:
                picked = [q.take(_filtered(q, None, filters, self.types)) for q in picked]
                picked = [q for q in picked if len(q)]
            if not picked:
                return None, 0, 0
            q = Points.concat(picked, keys=self.keys, pooled=True)
            table = points_to_query_table(
                q,
                dimensions,
                types,
                distinct_dictionaries=False,
                series_key=series_key,
            )
            return table, len(q), q.nbytes
        batches: list[pa.RecordBatch] = []
        gathered: list[Points] = []
        rows = nbytes = 0
        dictionaries = kernel_dictionaries(self.keys, [*dimensions, MEASURE_NAME])
        start, end = time_range
        for run in self._runs_in(time_range):
            p = run.points
            zero_copy = run.alive is None and _numbers(run, types)
            found = (
                _row_slices(
                    p, series, start if start is not None and run.tmin < start else None, end, run
                )
                if zero_copy
                else None
            )
            slices = [(0, len(p))] if found is None else found
            cols = {m: p.columns[m] for m in types if m in p.columns}
            pays = isinstance(slices, list) and self._slices_pay(slices, cols)
            if zero_copy and pays and _most_pass(p, slices, filters, types):
                whole = points_to_query_table(
                    Points(self.keys, p.series, p.time, cols, types, nonnull=run.nonnull()),
                    dimensions,
                    types,
                    distinct_dictionaries=False,
                    series_key=series_key,
                    dictionaries=dictionaries,
                )
                batch = whole.combine_chunks().to_batches()[0]
                width = 12 + sum(c.itemsize for c in cols.values())
                for a, b in slices:
                    batches.append(batch.slice(a, b - a))
                    rows, nbytes = rows + b - a, nbytes + (b - a) * width
                continue
            q = self._run_points(run, time_range, series, filters, types)
            if q is not None:
                gathered.append(q)
                rows, nbytes = rows + len(q), nbytes + q.nbytes
        tables = [pa.Table.from_batches(batches)] if batches else []
        if gathered:
            q = Points.concat(gathered, keys=self.keys, pooled=True)
            tables.append(
                points_to_query_table(
                    q,
                    dimensions,
                    types,
                    distinct_dictionaries=False,
                    series_key=series_key,
                    dictionaries=dictionaries,
                )
            )
        if not tables:
            return None, 0, 0
        return concat_query_tables(tables), rows, nbytes

    @staticmethod
    def _slices_pay(slices: list[tuple[int, int]], columns: dict[str, np.ndarray]) -> bool:
        """Whether reading ``slices`` of a run as record batches beats gathering their rows.

        DuckDB pays for every batch (its vectors end at the batch's end; the batch's key
        dictionaries are converted again), so slices that are many and short (lastpoint's few
        rows of each of 1000 hosts) cost more that way than the gather they save.
        """
        if not slices:
            return False
        selected = sum(b - a for a, b in slices)
        row_bytes = 12 + sum(c.itemsize for c in columns.values())  # + series id and time
        return (len(slices) - 1) * _BATCH_BYTES <= selected * row_bytes

    def _types(self, measures: Sequence[str] | None) -> dict[str, MeasureType]:
        if measures is None:
            return self.types
        return {m: t for m, t in self.types.items() if m in measures}

    def _runs_in(self, time_range: tuple[int | None, int | None]) -> list[_Run]:
        start, end = time_range
        return [
            run
            for run in self.runs
            if not (
                (start is not None and run.tmax < start) or (end is not None and run.tmin >= end)
            )
        ]

    def _run_points(
        self,
        run: _Run,
        time_range: tuple[int | None, int | None],
        series: np.ndarray | None,
        filters: Sequence[RowFilter],
        types: dict[str, MeasureType],
    ) -> Points | None:
        """One run's rows of a read (see :meth:`read`); None when it has none."""
        start, end = time_range
        p = run.points
        idx = _rows(p, series, start if start is not None and run.tmin < start else None, end, run)
        if idx is not None and not isinstance(idx, slice):
            if run.alive is not None:
                idx = idx[run.alive[idx]]
            if not len(idx):
                return None
        elif run.alive is not None:  # a slice (or every row) of a run with dead rows
            sl = idx if idx is not None else slice(0, len(p))
            idx = np.flatnonzero(run.alive[sl]) + sl.start
            if not len(idx):
                return None
        elif isinstance(idx, slice) and idx.stop <= idx.start:
            return None
        if filters:
            idx = _filtered(p, idx, filters, self.types)
            if not len(idx):
                return None
        return self._run_rows(run, idx, types)

    def _run_rows(
        self, run: _Run, idx: np.ndarray | slice | None, types: dict[str, MeasureType]
    ) -> Points:
        """Rows ``idx`` of a run (None: all), with the measures of ``types``."""
        p = run.points
        q = Points(
            self.keys,
            p.series,
            p.time,
            {m: p.columns[m] for m in types if m in p.columns},
            types,
            p.version,
            nonnull=run.nonnull(),
        )
        return (q if idx is None else _take(q, idx)).with_types(types)

    def _newest_rows(
        self,
        time_range: tuple[int | None, int | None],
        series: np.ndarray | None,
        types: dict[str, MeasureType],
    ) -> list[Points] | None:
        """Each series' newest row in ``time_range`` (a part per run holding some), found
        from the runs' last rows; None where those do not tell (see :meth:`newest`)."""
        found = self.newest(time_range, series)
        if found is None:
            return None
        top = np.full(len(self.keys), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(top, found.series, found.time)  # unselected series: never matched
        parts = []
        for run in self._runs_in(time_range):
            if not len(run):
                continue
            p = run.points
            last = run.series_bounds()[1] - 1
            idx = last[p.time[last] == top[p.series[last]]]
            if len(idx):
                parts.append(self._run_rows(run, idx, types))
        return parts

    def newest(
        self,
        time_range: tuple[int | None, int | None] = (None, None),
        series: np.ndarray | None = None,
    ) -> Points | None:
        """The newest time of each series in ``[start, end)``, from each run's last row per
        series (one row per run and series; no measure). None when that is not the answer:
        a run with replaced rows, or one reaching ``end``."""
        start, end = time_range
        ids: list[np.ndarray] = []
        times: list[np.ndarray] = []
        for run in self.runs:
            if (start is not None and run.tmax < start) or (end is not None and run.tmin >= end):
                continue
            if run.alive is not None or (end is not None and run.tmax >= end):
                return None
            if not len(run):
                continue
            starts, ends = run.series_bounds()
            sid = run.points.series[starts]
            last = run.points.time[ends - 1]
            keep = np.ones(len(sid), bool) if start is None else last >= start
            if series is not None:
                keep &= np.isin(sid, series)
            ids.append(sid[keep])
            times.append(last[keep])
        if not ids:
            return Points.empty(self.keys, {})
        return Points(
            self.keys,
            np.concatenate(ids).astype(np.int32),
            np.concatenate(times).astype(np.int64),
            {},
            {},
        )

    @property
    def rows(self) -> int:
        return sum(r.live_rows for r in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(r.points.nbytes + (0 if r.alive is None else r.alive.nbytes) for r in self.runs)


class MemoryTier:
    """Recent points of one table (see the module docstring)."""

    #: A run is merged into its predecessor while the predecessor is at most this many times
    #: bigger, keeping O(log n) runs.
    MERGE_FANIN = 8
    #: Runs stop growing by merges at this many rows: a merge writes every row of both runs
    #: into fresh memory, and past a few million rows that costs more than the reads gain from
    #: fewer runs (readers and :meth:`candidates` skip runs by time range).
    MAX_MERGE_ROWS = 1 << 22
    #: A run whose replaced (masked) rows exceed this share of it is rewritten without them at
    #: once, so that no run (even one past the merge cap) keeps many dead rows.
    MAX_DEAD_SHARE = 0.25

    def __init__(self) -> None:
        self.registry = SeriesRegistry()
        self.types: dict[str, MeasureType] = {}
        self._runs: tuple[_Run, ...] = ()
        self._series_tmax = np.empty(0, dtype=np.int64)

    # -- reading -------------------------------------------------------------------------
    def view(self) -> MemoryView:
        return MemoryView(self._runs, self.registry.frame, dict(self.types))

    @property
    def rows(self) -> int:
        return sum(r.live_rows for r in self._runs)

    @property
    def nbytes(self) -> int:
        return self.view().nbytes

    def to_xarray(self) -> xr.Dataset:
        """The whole tier as one contiguous ragged Dataset (CF conventions, section 9.3.3).

        ``series`` coordinates carry the dimension values and ``measure_name``; ``row_size``
        counts each series' points; ``time`` and the measures run along ``point``. A dimension
        or measure named like a structural variable (``series``, ``point``, ``row_size``,
        ``series_index``) gets ``_`` appended; ``attrs["renamed"]`` then maps the names.
        BIGINT and BOOLEAN keep their null sentinels (see :mod:`tsstore.model.schema`).
        """
        view = self.view()
        pts = view.read()
        keys = view.keys
        counts = np.bincount(pts.series, minlength=len(keys)) if len(keys) else np.zeros(0, int)
        names = _variable_names([*pts.columns, *keys.columns], _CUBE_VARIABLES)
        renamed = {k: v for k, v in names.items() if k != v}
        ds = xr.Dataset(
            {
                "row_size": ("series", counts.astype(np.int64), {"sample_dimension": "point"}),
                "series_index": ("point", pts.series),
                **{
                    names[k]: ("point", _to_xarray_values(v, pts.types[k]))
                    for k, v in pts.columns.items()
                },
            },
            coords={
                "series": np.arange(len(keys)),
                "time": ("point", pts.time.view("datetime64[ns]")),
                **{names[c]: ("series", keys[c].to_numpy(dtype=object)) for c in keys.columns},
            },
        )
        if renamed:
            ds.attrs["renamed"] = renamed
        ds.attrs["featureType"] = "timeSeries"
        ds.attrs["layout"] = "contiguous ragged array (CF 9.3.3), sorted by series then time"
        return ds

    # -- writing -------------------------------------------------------------------------
    def register(self, points: Points, ids: np.ndarray | None = None) -> Points:
        """The points re-keyed to this tier's registry ids (registering new series).

        ``ids``: the registry ids of ``points.keys``' rows when the caller has them already
        (``registry.ids_for(points.keys)``).
        """
        if ids is None:
            ids = self.registry.ids_for(points.keys)
        series = ids[points.series] if len(points) else points.series.astype(np.int32)
        if len(self.registry) > len(self._series_tmax):
            grow = np.full(len(self.registry) - len(self._series_tmax), np.iinfo(np.int64).min)
            self._series_tmax = np.concatenate([self._series_tmax, grow])
        return Points(
            self.registry.frame,
            series,
            points.time,
            points.columns,
            points.types,
            points.version,
            points.row,
        )

    def newest(self, ids: np.ndarray) -> np.ndarray:
        """Upper bounds of the newest stored time of the series ``ids`` (registered ids)."""
        return self._series_tmax[ids]

    def is_append_only(self, points: Points) -> bool:
        """True when every point is newer than its series' newest stored point (no collisions)."""
        if not len(points):
            return True
        if points.is_sorted():  # the first row of each series holds its oldest time
            starts = _series_starts(points.series)
            ids = points.series[starts]
            return bool(np.all(points.time[starts] > self._series_tmax[ids]))
        first = np.full(len(self._series_tmax), np.iinfo(np.int64).max)
        np.minimum.at(first, points.series, points.time)
        return bool(np.all(first > self._series_tmax))

    def candidates(self, points: Points) -> tuple[Points, list[tuple[int, np.ndarray]]]:
        """Stored live points that may share an identity with ``points``.

        Returns the candidates and their locations, ``[(run index, row positions)]`` in order,
        for :meth:`apply` to delete replaced rows.
        """
        if self.is_append_only(points):
            return Points.empty(self.registry.frame, self.types), []
        sids = np.unique(points.series)
        tmin, tmax = int(points.time.min()), int(points.time.max())
        parts, locs = [], []
        for i, run in enumerate(self._runs):
            if run.tmax < tmin or run.tmin > tmax:
                continue
            p = run.points
            mask = np.isin(p.series, sids) & (p.time >= tmin) & (p.time <= tmax)
            if run.alive is not None:
                mask &= run.alive
            pos = np.flatnonzero(mask)
            if len(pos):
                parts.append(
                    Points(
                        self.registry.frame, p.series, p.time, p.columns, p.types, p.version
                    ).take(pos)
                )
                locs.append((i, pos))
        return Points.concat(parts, keys=self.registry.frame), locs

    def apply(
        self,
        points: Points,
        replaced: np.ndarray | None = None,
        locs: list[tuple[int, np.ndarray]] | None = None,
    ) -> None:
        """Insert registered, identity-unique points; delete the replaced candidate rows.

        ``replaced`` indexes the candidates returned by :meth:`candidates` (with ``locs``).
        """
        runs: list[_Run] = list(self._runs)
        if replaced is not None and len(replaced) and locs:
            offsets = np.cumsum([0] + [len(p) for _, p in locs])
            for k, (ri, pos) in enumerate(locs):
                hit = replaced[(replaced >= offsets[k]) & (replaced < offsets[k + 1])]
                if len(hit):
                    run = runs[ri]
                    alive = np.ones(len(run), bool) if run.alive is None else run.alive.copy()
                    alive[pos[hit - offsets[k]]] = False
                    if len(run) - int(alive.sum()) > self.MAX_DEAD_SHARE * len(run):
                        runs[ri] = _Run.build(run.points.take(alive))  # drop the dead rows now
                    else:
                        runs[ri] = _Run.build(run.points, alive)
            runs = [r for r in runs if len(r)]
        if len(points):
            for k, t in points.types.items():
                self.types.setdefault(k, t)
            p = points.sorted()
            # A run owns its arrays: never a view into the caller's DataFrame.
            cols = {k: v if v.base is None else v.copy() for k, v in p.columns.items()}
            p = Points(
                pd.DataFrame(),
                _owned(p.series),
                _owned(p.time),
                cols,
                p.types,
                None if p.version is None else _owned(p.version),
            )
            runs.append(_Run.build(p))
            ends = np.append(_series_starts(p.series)[1:], len(p)) - 1  # newest row per series
            ids = p.series[ends]
            self._series_tmax[ids] = np.maximum(self._series_tmax[ids], p.time[ends])
            runs = self._merge_tail(runs)
        self._runs = tuple(runs)

    def upsert(self, points: Points) -> None:
        """Insert registered points, replacing stored rows with the same identity (replay path)."""
        cands, locs = self.candidates(points)
        if len(cands):
            left = pd.DataFrame({"s": cands.series, "t": cands.time, "i": np.arange(len(cands))})
            right = pd.DataFrame({"s": points.series, "t": points.time})
            hit = left.merge(right, on=["s", "t"])["i"].to_numpy()
            self.apply(points, hit, locs)
        else:
            self.apply(points)

    def _merge_tail(self, runs: list[_Run]) -> list[_Run]:
        fanin = self.MERGE_FANIN
        while len(runs) >= fanin:
            tail = runs[-fanin:]
            level = tail[0].level
            if any(r.level != level for r in tail):
                break
            if sum(r.live_rows for r in tail) > self.MAX_MERGE_ROWS:
                # Too big to merge: these runs stay as they are, out of the counter.
                runs[-fanin:] = [dataclasses.replace(r, level=_CAPPED) for r in tail]
                break
            # The runs are sorted: a stable sort of their concatenation (timsort) merges them.
            merged = Points.concat([r.live() for r in tail], keys=pd.DataFrame()).sorted()
            runs[-fanin:] = [_Run.build(merged, level=level + 1)]
        return runs

    def compact(self) -> None:
        """Merge every run into one (drops masked rows)."""
        if len(self._runs) > 1 or (self._runs and self._runs[0].alive is not None):
            merged = Points.concat([r.live() for r in self._runs], keys=pd.DataFrame()).sorted()
            self._runs = (_Run.build(merged),)

    def select_before(self, watermark: int) -> Points:
        """Live points with ``time < watermark`` (to migrate), sorted by (series, time)."""
        return self.view().read(time_range=(None, watermark))

    def drop_before(self, watermark: int) -> int:
        """Delete points with ``time < watermark``; returns how many were dropped."""
        runs, dropped = [], 0
        for run in self._runs:
            if run.tmin >= watermark:
                runs.append(run)
                continue
            keep = run.points.time >= watermark
            if run.alive is not None:
                dropped += int((run.alive & ~keep).sum())
                keep &= run.alive
            else:
                dropped += int((~keep).sum())
            if keep.any():
                runs.append(_Run.build(run.points.take(keep)))
        self._runs = tuple(runs)
        # series_tmax stays an upper bound: append-only detection remains safe.
        return dropped


def _and(mask: np.ndarray | None, other: np.ndarray) -> np.ndarray:
    return other if mask is None else mask & other


#: Selecting at most this many series, a read finds each one's rows by binary search; more,
#: and one pass of masks over the run is cheaper.
_SEARCH_SERIES = 4096


#: Below this many rows per selected series on average, one pass of masks over a run finds
#: the rows faster than a binary search per series.
_MIN_SERIES_ROWS = 64


def _rows(
    p: Points, series: np.ndarray | None, start: int | None, end: int | None, run: _Run
) -> np.ndarray | slice | None:
    """Positions of a sorted run's rows of ``series`` with ``start <= time < end``: None for
    every row, a slice when they are contiguous, else an index array (see
    :func:`_row_slices`)."""
    found = _row_slices(p, series, start, end, run)
    if found is None or isinstance(found, np.ndarray):
        return found
    if not found:
        return slice(0, 0)
    if len(found) == 1:
        return slice(*found[0])
    return arrays.concatenate([np.arange(a, b) for a, b in found])


def _row_slices(
    p: Points, series: np.ndarray | None, start: int | None, end: int | None, run: _Run
) -> list[tuple[int, int]] | np.ndarray | None:
    """The rows of a sorted run's ``series`` with ``start <= time < end``: None for every
    row, else the ``[a, b)`` ranges holding them (adjacent ones merged), or an index array
    when masks found them.

    Rows are sorted by (series, time), so each selected series is one slice found by binary
    search, and its time range a sub-slice of it: the cost grows with the series selected,
    not with the run (unless the series are many and short: then masks over the run).
    """
    end = None if end is not None and run.tmax < end else end
    if series is None:
        if start is None and end is None:
            return None
        lo, hi = run.series_bounds()
        if len(lo) * _MIN_SERIES_ROWS > len(p):
            return _masked(p, None, start, end)
    else:
        if len(series) > _SEARCH_SERIES:
            return _masked(p, series, start, end)
        lo = np.searchsorted(p.series, series, side="left")
        hi = np.searchsorted(p.series, series, side="right")
    slices: list[tuple[int, int]] = []
    time = p.time
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        if b <= a:
            continue
        if start is not None:
            a += int(np.searchsorted(time[a:b], start, "left"))
        if end is not None:
            b = a + int(np.searchsorted(time[a:b], end, "left"))
        if b > a:
            if slices and slices[-1][1] == a:  # adjacent series: one slice
                slices[-1] = (slices[-1][0], b)
            else:
                slices.append((a, b))
    return slices


def _numbers(run: _Run, types: dict[str, MeasureType]) -> bool:
    """Whether the run has every column of ``types``, numbers: Arrow arrays over them are
    its own arrays, no copy."""
    columns = run.points.columns
    return all(t in _ZERO_COPY and m in columns for m, t in types.items())


def _most_pass(
    p: Points,
    slices: list[tuple[int, int]],
    filters: Sequence[RowFilter],
    types: dict[str, MeasureType],
) -> bool:
    """Whether at least half of the rows of ``slices`` pass every filter (true without
    filters), judged on a sample of about 4096 evenly spaced rows: a mask over 8.64M rows
    would cost as much as the gather it decides about."""
    if not filters:
        return True
    selected = sum(b - a for a, b in slices)
    if not selected or any(f.measure not in p.columns or f.measure not in types for f in filters):
        return False  # a measure never written here: no row passes
    step = max(1, selected // _SAMPLE_ROWS)
    passing = sampled = 0
    for a, b in slices:
        mask = None
        for f in filters:
            m = f.mask(p.columns[f.measure][a:b:step], types[f.measure])
            mask = m if mask is None else mask & m
        if mask is not None:
            passing += int(np.count_nonzero(mask))
            sampled += len(mask)
    return 2 * passing >= sampled


#: Rows :func:`_most_pass` looks at.
_SAMPLE_ROWS = 4096


#: What one more record batch costs DuckDB, in bytes of rows gathered in the same time. Here,
#: 1000 slices of 4320 rows (86 KiB each) beat gathering them by 18-30% on TSBS's
#: double-groupby-1/5/all; 1000 slices of 2 rows (lastpoint) lose 5x.
_BATCH_BYTES = 32 * 1024

_ZERO_COPY = frozenset({MeasureType.DOUBLE, MeasureType.BIGINT, MeasureType.TIMESTAMP})


def _masked(p: Points, series: np.ndarray | None, start: int | None, end: int | None) -> np.ndarray:
    """:func:`_rows` by one pass of masks over the run."""
    if series is None:
        mask = np.ones(len(p), dtype=bool)
    else:
        mask = np.zeros(len(p), dtype=bool)
        lo = np.searchsorted(p.series, series, side="left")
        hi = np.searchsorted(p.series, series, side="right")
        for a, b in zip(lo, hi, strict=True):
            mask[a:b] = True
    if start is not None:
        mask &= p.time >= start
    if end is not None:
        mask &= p.time < end
    return np.flatnonzero(mask)


def _filtered(
    p: Points,
    idx: np.ndarray | slice | None,
    filters: Sequence[RowFilter],
    types: dict[str, MeasureType],
) -> np.ndarray:
    """The positions of ``idx`` (None: every row) whose rows pass every filter."""
    if idx is None:
        idx = np.arange(len(p))
    elif isinstance(idx, slice):
        idx = np.arange(idx.start, idx.stop)
    for f in filters:
        col = p.columns.get(f.measure)
        if col is None or f.measure not in types:  # never written here: all null
            return idx[:0]
        idx = idx[f.mask(col[idx], types[f.measure])]
        if not len(idx):
            break
    return idx


def _take(p: Points, idx: np.ndarray | slice) -> Points:
    """Rows at ``idx``; a slice shares the run's memory (views, no copy)."""
    if isinstance(idx, slice):
        return Points(
            p.keys,
            p.series[idx],
            p.time[idx],
            {k: v[idx] for k, v in p.columns.items()},
            p.types,
            None if p.version is None else p.version[idx],
            None if p.row is None else p.row[idx],
            p.nonnull,
        )
    return p.take(idx, pooled=True)


#: Level of runs past the merge cap: they never merge again (only compact() merges them).
_CAPPED = 1 << 30


def _series_starts(series: np.ndarray) -> np.ndarray:
    """First row of each series in a series-sorted id array."""
    return np.flatnonzero(np.concatenate([[True], series[1:] != series[:-1]]))


def _owned(a: np.ndarray) -> np.ndarray:
    return a if a.base is None else a.copy()


def _to_xarray_values(values: np.ndarray, mtype: MeasureType) -> np.ndarray:
    # BIGINT and BOOLEAN keep their null sentinels (see tsstore.model.schema).
    return values.view("datetime64[ns]") if mtype is MeasureType.TIMESTAMP else values
