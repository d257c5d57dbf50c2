"""The magnetic tier: one icechunk repository per table, partitioned by time into segments.

Points are partitioned by time into buckets of ``partition_duration_ns`` aligned to the epoch:
fixed at creation, or (``AUTO``) chosen from the density of the first points the tier stores,
in the commit that stores them (:func:`partition_ns_for`).
A partition holds one or more *segments*; a segment is a Zarr group of points sorted by
``(series, time)`` in a contiguous ragged layout (``keys/*``, ``series_offsets``,
``series_tmin``, ``series_tmax``, ``time``, ``measures/*``, ``dicts/*``, optional ``version``).
The root group's attributes hold the table manifest (``format_version``, ``watermark``,
``partitions``), which is all a reader needs to prune. Every change is one icechunk commit, and a
reader holds one snapshot, so a concurrent commit never tears what it reads. The format is
specified in ``docs/format-magnetic.md``; the column codecs live in
:mod:`tsstore.storage.encoding` and the storage locations in :mod:`tsstore.storage.objectstore`.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import icechunk
import numpy as np
import pandas as pd
import zarr

from tsstore.errors import (
    ConcurrencyError,
    CorruptDataError,
    FormatVersionError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from tsstore.model.points import DEFAULT_VERSION, Points, map_keys
from tsstore.model.schema import MeasureType, RowFilter
from tsstore.storage.encoding import (
    DEFAULT_CHUNK_POINTS,
    ChunkCache,
    SegmentIndex,
    gather_rows,
    load_index,
    quiet_codec_notice,
    ranges,
    read_segment,
    run,
    run_here,
    select_series,
    write_segment,
)
from tsstore.storage.objectstore import (
    LocalDurability,
    Location,
    open_storage,
    parse_location,
    storage_size,
    writer_lock,
)

__all__ = [
    "AUTO",
    "AUTO_PARTITION_CANDIDATES_NS",
    "DEFAULT_PARTITION_NS",
    "FORMAT_VERSION",
    "MagneticSnapshot",
    "MagneticTier",
    "PartitionRef",
    "choose_partition_ns",
    "open_storage",
    "partition_ns_for",
]

#: The manifest format this code writes and the newest it reads.
FORMAT_VERSION = 1
#: Default partition duration: one day, aligned to the epoch.
DEFAULT_PARTITION_NS = 86_400 * 10**9
#: ``partition_duration_ns=AUTO``: the first write of points into an empty tier chooses it.
AUTO = "auto"
#: The widths ``AUTO`` chooses from (epoch-aligned), narrowest first: 1, 7, 30 and 365 days.
AUTO_PARTITION_CANDIDATES_NS = tuple(d * DEFAULT_PARTITION_NS for d in (1, 7, 30, 365))
#: ``AUTO`` widens partitions only while the points fill more than this many partitions of the
#: current width (below it their fixed cost, ~25-60 ms and a few KB each, is under a second) ...
AUTO_PARTITION_MIN_COUNT = 16
#: ... holding on average fewer rows than this (bigger segments amortise their fixed cost) ...
AUTO_PARTITION_MIN_ROWS = 100_000
#: ... and while no partition of the wider width would hold more than this many (a query scans
#: a partition as one part, and a colliding write may rewrite it).
AUTO_PARTITION_MAX_ROWS = 1 << 20
#: Manifest key: True while the width is still to be chosen by the first write of points.
_AUTO_KEY = "partition_duration_auto"
BRANCH = "main"
#: Attempts of a commit that lost a race on an object store before giving up.
COMMIT_TRIES = 8
#: Segment indexes (keys, offsets, per-series bounds) kept in memory per tier.
INDEX_CACHE_SIZE = 4096
_SNAPSHOT_ID = re.compile(r"[0-9A-Z]{20}")
#: Objects younger than this are never garbage-collected on an object store (see maintain).
GC_MARGIN_S3 = pd.Timedelta(minutes=10)
#: Segments read at once by one query.
SEGMENT_CONCURRENCY = 32


def _chunk_cache_bytes() -> int:
    """Bytes of decoded chunks kept for queries: ``TSSTORE_CHUNK_CACHE_MB`` when set, else a
    sixteenth of the machine's RAM, at least 256 MiB and at most 2 GiB (1.5 GiB on a 24 GiB
    machine: the decoded TSBS day of 1000 hosts, about 160 MB, fits several times over)."""
    env = os.environ.get("TSSTORE_CHUNK_CACHE_MB")
    if env:
        try:
            return max(0, int(env)) << 20
        except ValueError:
            raise ValidationError(
                f"TSSTORE_CHUNK_CACHE_MB={env!r} is not a whole number of MiB; unset it or "
                "give one, such as 1024"
            ) from None
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
        ram = 0
    return int(min(max(256 << 20, ram // 16), 2 << 30))


#: Decoded chunks kept for queries, per process, across tables (bytes; see ChunkCache).
CHUNK_CACHE_BYTES = _chunk_cache_bytes()
#: The process's cache of decoded chunks (queries read through it).
CHUNKS = ChunkCache(CHUNK_CACHE_BYTES)


@dataclass(frozen=True, slots=True)
class PartitionRef:
    """One time partition of a snapshot.

    Attributes
    ----------
    key : str
        The partition's name (its start, ``YYYYMMDDTHHMMSS`` UTC, with ``.fffffffff`` when the
        start is not a whole second).
    start, end : int
        Its time bucket ``[start, end)`` in ns since the epoch.
    rows : int
    segments : tuple of str
        Paths of its segment groups, oldest first.
    """

    key: str
    start: int
    end: int
    rows: int
    segments: tuple[str, ...]


# -- the manifest ---------------------------------------------------------------------------------
def _empty_manifest(partition_ns: int, auto: bool = False) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "watermark": 0,
        "partition_duration_ns": int(partition_ns),
        _AUTO_KEY: bool(auto),
        "partitions": {},
    }


def _manifest_attrs(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as root attributes (a repository written before ``AUTO`` existed keeps no
    ``partition_duration_auto`` until a commit settles it)."""
    if manifest.get(_AUTO_KEY) is None:
        return {k: v for k, v in manifest.items() if k != _AUTO_KEY}
    return manifest


def _parse_manifest(attrs: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate the root attributes of a snapshot as a manifest (a deep copy).

    Raises
    ------
    FormatVersionError
        A ``format_version`` newer than :data:`FORMAT_VERSION` or not an integer.
    CorruptDataError
        Attributes that are not a tsstore manifest.
    """
    if "format_version" not in attrs:
        if attrs:
            raise CorruptDataError(
                f"{where} is an icechunk repository but not a tsstore magnetic tier (its root "
                "has no format_version); point tsstore at a table's magnetic directory"
            )
        manifest = _empty_manifest(DEFAULT_PARTITION_NS)
        manifest[_AUTO_KEY] = None
        return manifest
    version = attrs["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FormatVersionError(
            f"{where} has format_version {version!r}; this tsstore reads format versions 1 to "
            f"{FORMAT_VERSION}"
        )
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{where} was written in magnetic format version {version}, newer than version "
            f"{FORMAT_VERSION} that this tsstore reads; upgrade tsstore to open it"
        )
    try:
        manifest = {
            "format_version": version,
            "watermark": int(attrs.get("watermark", 0)),
            "partition_duration_ns": int(attrs.get("partition_duration_ns", DEFAULT_PARTITION_NS)),
            # None: a repository from before AUTO (its width is fixed unless it is empty and
            # the writer opened it with AUTO).
            _AUTO_KEY: attrs.get(_AUTO_KEY),
            "partitions": copy.deepcopy(dict(attrs.get("partitions", {}))),
        }
        auto, width = manifest[_AUTO_KEY], manifest["partition_duration_ns"]
        if width < 1 or (auto is not None and not isinstance(auto, bool)):
            raise ValueError(f"partition_duration_ns {width!r}, {_AUTO_KEY} {auto!r}")
        for entry in manifest["partitions"].values():
            int(entry["start"]), int(entry["end"]), int(entry["rows"])
            for seg in entry["segments"]:
                str(seg["path"]), int(seg["rows"]), int(seg["tmin"]), int(seg["tmax"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptDataError(f"{where} has a malformed manifest: {exc!r}") from exc
    return manifest


def _segment_limit(
    entry: dict[str, Any], max_segments: int, sealed_before: int | None, open_max_segments: int
) -> int:
    """Segments a partition may hold before compaction merges them: ``max_segments`` once it
    is sealed (ends at or before ``sealed_before``), more while migrations still append."""
    if sealed_before is not None and int(entry["end"]) > sealed_before:
        return max(max_segments, open_max_segments)
    return max_segments


def _partition_key(start: int) -> str:
    try:
        ts = pd.Timestamp(start, unit="ns", tz="UTC")
    except (OverflowError, ValueError):
        return f"n{start}"
    key = ts.strftime("%Y%m%dT%H%M%S")
    frac = start % 10**9
    return f"{key}.{frac:09d}" if frac else key


def _partition_bounds(index: int, duration: int) -> tuple[int, int]:
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    start = index * duration
    return max(start, lo), min(start + duration, hi)


def _sorted_partitions(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(manifest["partitions"].items(), key=lambda kv: int(kv[1]["start"]))


def _overlaps(lo: int, hi: int, start: int | None, end: int | None) -> bool:
    """Whether the closed interval ``[lo, hi]`` meets ``[start, end)``."""
    return (start is None or hi >= start) and (end is None or lo < end)


def choose_partition_ns(time: np.ndarray) -> int:
    """The partition width ``AUTO`` chooses for the first points written to an empty tier
    (their times, int ns, one per stored identity): :func:`partition_ns_for` their rows per
    day."""
    t = np.asarray(time, np.int64)
    day = AUTO_PARTITION_CANDIDATES_NS[0]
    if len(t) == 0:
        return day
    first, last = int(t.min()) // day, int(t.max()) // day
    days = last - first + 1
    if days <= AUTO_PARTITION_MIN_COUNT or len(t) >= AUTO_PARTITION_MIN_ROWS * days:
        return day  # few day partitions, or dense ones: nothing to count
    per_day = np.bincount(np.floor_divide(t, day) - first, minlength=days)
    return partition_ns_for(per_day, first)


def partition_ns_for(rows_per_day: np.ndarray, first_day: int = 0) -> int:
    """The partition width for points with ``rows_per_day[i]`` rows on day ``first_day + i``
    (days since the epoch).

    Starting at one day, the next wider candidate of :data:`AUTO_PARTITION_CANDIDATES_NS` is
    taken while all three hold for the partitions the points occupy:

    1. there are more than :data:`AUTO_PARTITION_MIN_COUNT` of the current width (fewer cost
       little, whatever their size; and a few days of points are no evidence about a year),
    2. they hold on average fewer than :data:`AUTO_PARTITION_MIN_ROWS` rows (their segments'
       fixed cost dominates), and
    3. none of the wider width would hold more than :data:`AUTO_PARTITION_MAX_ROWS` rows.
    """
    counts = np.asarray(rows_per_day, np.int64)
    day_index = first_day + np.arange(len(counts), dtype=np.int64)
    day = AUTO_PARTITION_CANDIDATES_NS[0]

    def occupied(width: int) -> np.ndarray:
        bucket = day_index // (width // day)
        rows = np.bincount(bucket - bucket[0], weights=counts) if len(counts) else counts
        return rows[rows > 0]

    chosen = day
    here = occupied(chosen)
    for wider in AUTO_PARTITION_CANDIDATES_NS[1:]:
        if len(here) <= AUTO_PARTITION_MIN_COUNT or here.mean() >= AUTO_PARTITION_MIN_ROWS:
            break
        there = occupied(wider)
        if there.max() > AUTO_PARTITION_MAX_ROWS:
            break
        chosen, here = wider, there
    return chosen


# -- points helpers -----------------------------------------------------------------------------
def _null_token(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), "\x00<null>")


def _lookup_keys(src: pd.DataFrame, dst: pd.DataFrame) -> np.ndarray:
    """For each series of ``src``, its row in ``dst`` or -1 (absent values compare equal)."""
    if len(src) == 0:
        return np.zeros(0, np.int64)
    if len(dst) == 0:
        return np.full(len(src), -1, np.int64)
    cols = list(dst.columns) + [c for c in src.columns if c not in dst.columns]
    if not cols:
        return np.zeros(len(src), np.int64)
    index = pd.MultiIndex.from_frame(_null_token(dst.reindex(columns=cols)))
    probe = pd.MultiIndex.from_frame(_null_token(src.reindex(columns=cols)))
    return index.get_indexer(probe).astype(np.int64)


def _compact_sorted(points: Points) -> Points:
    """Rows sorted by (series, time), the last of equal identities kept, and only the used
    series in ``keys`` (ids ascending in row order, all-absent key columns dropped)."""
    n = len(points)
    if n == 0:
        return Points.empty(points.keys.iloc[:0], points.types)
    p = points.take(points.sort_order()) if not points.is_sorted() else points
    s, t = p.series, p.time
    keep = np.ones(n, bool)
    keep[:-1] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
    if not keep.all():
        p = p.take(keep)
    used, series = np.unique(p.series, return_inverse=True)
    keys = p.keys.iloc[used].reset_index(drop=True).astype(object)
    keys = keys.where(keys.notna(), None)
    keys = keys[[c for c in keys.columns if keys[c].notna().any()]]
    version = p.version
    if version is not None and bool(np.all(version == DEFAULT_VERSION)):
        version = None
    return Points(
        keys,
        series.astype(np.int32),
        np.asarray(p.time, np.int64),
        p.columns,
        dict(p.types),
        version,
    )


def _any_common(sa: np.ndarray, ta: np.ndarray, sb: np.ndarray, tb: np.ndarray) -> bool:
    """Whether the pair sets ``(sa, ta)`` and ``(sb, tb)`` (each free of duplicates) meet."""
    if len(sa) == 0 or len(sb) == 0:
        return False
    s = np.concatenate([sa, sb])
    t = np.concatenate([ta, tb])
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    return bool(np.any((s[1:] == s[:-1]) & (t[1:] == t[:-1])))


class _IndexCache:
    """A thread-safe LRU of segment indexes (valid across snapshots: see SegmentIndex)."""

    def __init__(self, size: int = INDEX_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, SegmentIndex] = OrderedDict()
        self._lock = threading.Lock()

    async def get(self, store: Any, path: str) -> SegmentIndex:
        with self._lock:
            hit = self._items.get(path)
            if hit is not None:
                self._items.move_to_end(path)
                return hit
        index = await load_index(store, path)
        with self._lock:
            self._items[path] = index
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return index


def _combine(parts: Iterable[Points], types: dict[str, MeasureType]) -> Points:
    """Points of several segments with one key table, sorted by (series, time)."""
    keys: pd.DataFrame | None = None
    remapped: list[Points] = []
    for p in parts:
        if keys is None:
            keys = p.keys
            if any(dt.kind != "O" for dt in keys.dtypes):  # segments give object keys, None
                keys = keys.astype(object)
                keys = keys.where(keys.notna(), None)
            remapped.append(p)
            continue
        mapping, keys = map_keys(p.keys, keys)
        remapped.append(Points(keys, mapping[p.series], p.time, p.columns, p.types, p.version))
    if keys is None:
        return Points.empty(pd.DataFrame(), types)
    for name, mtype in types.items():
        for p in remapped:
            if p.types.get(name, mtype) != mtype:
                raise CorruptDataError(
                    f"measure {name!r} is stored as {p.types[name]} and as {mtype} in "
                    "different segments"
                )
    out = Points.concat([p.with_types(types) for p in remapped], keys=keys)
    return out if len(remapped) == 1 else out.sorted()  # one segment reads sorted


def _union(parts: list[Points]) -> Points:
    """The rows of ``parts`` (each with its own key table) in one key table, concatenated."""
    keys: pd.DataFrame | None = None
    types: dict[str, MeasureType] = {}
    remapped = []
    for p in parts:
        types.update(p.types)
        if keys is None:
            keys = p.keys
            remapped.append(p)
            continue
        mapping, keys = map_keys(p.keys, keys)
        series = mapping[p.series] if len(p) else p.series
        remapped.append(Points(keys, series, p.time, p.columns, p.types, p.version))
    return Points.concat([p.with_types(types) for p in remapped], keys=keys)


#: Compaction merges small segments into segments of at most this many rows (bounded memory).
COMPACT_TARGET_ROWS = 4 << 20
#: A write whose identities collide in a partition of at most this many rows (with the new
#: ones) rewrites the whole partition as one segment; in a bigger one (a wide partition of
#: dense data) only the colliding segments, so the rewrite stays bounded whatever the width.
COLLISION_REWRITE_ROWS = COMPACT_TARGET_ROWS


def _segment_groups(sizes: list[int], target: int) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of consecutive segments to merge: greedy groups of at most
    ``target`` rows with at least two members."""
    groups: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, n in enumerate([*sizes, target + 1]):  # a sentinel closes the last group
        if total + n > target or i == len(sizes):
            if i - start >= 2:
                groups.append((start, i - 1))
            start, total = i, n
        else:
            total += n
    return groups


def _new_segment_path(key: str, segments: list[dict[str, Any]]) -> str:
    seq = 0
    for seg in segments:
        name = seg["path"].rsplit("/", 1)[-1]
        m = re.match(r"s(\d+)-", name)
        if m:
            seq = max(seq, int(m.group(1)) + 1)
    return f"data/{key}/s{seq:06d}-{secrets.token_hex(6)}"


def _to_ns(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    raise ValidationError(f"{what} must be int nanoseconds or None, got {value!r}")


# -- the snapshot -------------------------------------------------------------------------------
class MagneticSnapshot:
    """An immutable read view of one snapshot of a magnetic tier; safe to use from threads.

    Attributes
    ----------
    id : str
        The icechunk snapshot id.
    watermark : int
        Every migrated point with ``time < watermark`` is in this snapshot (0: none yet).
    written_at : pandas.Timestamp
        When the snapshot was written (UTC).
    """

    def __init__(
        self,
        repo: icechunk.Repository,
        snapshot_id: str,
        cache: _IndexCache,
        where: str,
        written_at: pd.Timestamp | None = None,
    ) -> None:
        self.id = snapshot_id
        self._repo = repo
        self._cache = cache
        self._where = where
        try:
            session = repo.readonly_session(snapshot_id=snapshot_id)
        except icechunk.IcechunkError as exc:
            raise NotFoundError(f"snapshot {snapshot_id!r} not found in {where}") from exc
        self._store = session.store
        root = zarr.open_group(self._store, mode="r", zarr_format=3)
        self._manifest = _parse_manifest(root.attrs.asdict(), where)
        self.watermark: int = self._manifest["watermark"]
        self._written_at = written_at

    def __repr__(self) -> str:
        return (
            f"MagneticSnapshot(id={self.id!r}, watermark={self.watermark}, "
            f"partitions={len(self._manifest['partitions'])}, rows={self.rows()})"
        )

    @property
    def written_at(self) -> pd.Timestamp:
        if self._written_at is None:
            info = self._repo.lookup_snapshot(self.id)
            self._written_at = pd.Timestamp(info.written_at).tz_convert("UTC")
        return self._written_at

    @property
    def partition_duration_ns(self) -> int:
        """The partition width of this snapshot (see :attr:`partition_duration_auto`)."""
        return int(self._manifest["partition_duration_ns"])

    @property
    def partition_duration_auto(self) -> bool | None:
        """True while the width is still to be chosen by the first write of points (``AUTO``),
        False once fixed, None for a repository written before ``AUTO`` existed."""
        return self._manifest[_AUTO_KEY]

    def manifest(self) -> dict[str, Any]:
        """A copy of the table manifest of this snapshot."""
        return copy.deepcopy(self._manifest)

    def time_bounds(self) -> tuple[int | None, int | None]:
        """The smallest and largest stored time (int ns), or ``(None, None)`` when empty."""
        segs = [g for p in self._manifest["partitions"].values() for g in p["segments"]]
        if not segs:
            return None, None
        return min(int(g["tmin"]) for g in segs), max(int(g["tmax"]) for g in segs)

    def rows(self) -> int:
        """Points stored in this snapshot."""
        return sum(int(p["rows"]) for p in self._manifest["partitions"].values())

    def manifest_partitions(self) -> list[str]:
        """Keys of every stored partition (no copy of the manifest)."""
        return list(self._manifest["partitions"])

    def compaction_due(
        self, max_segments: int, sealed_before: int | None, open_max_segments: int
    ) -> bool:
        """Whether :meth:`MagneticTier.compact` with these limits would find a partition with
        too many segments in this snapshot (the lifecycle skips the transaction otherwise)."""
        for entry in self._manifest["partitions"].values():
            limit = _segment_limit(entry, max_segments, sealed_before, open_max_segments)
            if len(entry["segments"]) > limit:
                return True
        return False

    def partitions(
        self, time_range: tuple[int | None, int | None] = (None, None)
    ) -> list[PartitionRef]:
        """The partitions whose bucket meets ``[start, end)`` (None = open), oldest first."""
        start, end = (_to_ns(v, "time_range") for v in time_range)
        out = []
        for key, entry in _sorted_partitions(self._manifest):
            s, e = int(entry["start"]), int(entry["end"])
            if _overlaps(s, e - 1, start, end):
                out.append(
                    PartitionRef(
                        key,
                        s,
                        e,
                        int(entry["rows"]),
                        tuple(seg["path"] for seg in entry["segments"]),
                    )
                )
        return out

    def read(
        self,
        *,
        time_range: tuple[int | None, int | None] = (None, None),
        where: dict[str, list[str]] | None = None,
        measures: list[str] | None = None,
        filters: Sequence[RowFilter] = (),
        newest_rows: bool = False,
        loose_filters: bool = False,
    ) -> Points:
        """The points in ``time_range`` whose keys match ``where``, projected on ``measures``,
        passing every row filter; with ``newest_rows``, only (a superset of) each series'
        newest row: each segment's last row of the series (all of the series' rows in range
        where the range's end cuts them). ``loose_filters``: a segment where most rows pass a
        filter keeps those that fail too (see :func:`~tsstore.storage.encoding.read_segment`;
        for readers that apply the filters again).

        Parameters
        ----------
        time_range : (int or None, int or None)
            ``[start, end)`` in ns; None leaves that side open.
        where : dict of str to list of str, optional
            Allowed values per key column (dimension or ``measure_name``); a series matches
            when every listed column holds one of its values (``None`` in a list admits an
            absent value).
        measures : list of str, optional
            Measure columns to return (None: all stored). Measures never stored are left out.

        Returns
        -------
        Points
            Sorted by (series, time); ``keys`` holds only the series present.
        """
        start, end = (_to_ns(v, "time_range") for v in time_range)
        where_l = (
            None
            if where is None
            else {str(k): ([v] if isinstance(v, str) else list(v)) for k, v in where.items()}
        )
        segments = self._segment_paths(start, end)
        return self._read_segments(
            segments,
            (start, end),
            where_l,
            measures,
            filters,
            newest_rows=newest_rows,
            loose_filters=loose_filters,
        )

    def _segment_paths(self, start: int | None, end: int | None) -> list[str]:
        """The segments that may hold points in ``[start, end)``, oldest partition first."""
        return [
            seg["path"]
            for _key, entry in _sorted_partitions(self._manifest)
            if _overlaps(int(entry["start"]), int(entry["end"]) - 1, start, end)
            for seg in entry["segments"]
            if _overlaps(int(seg["tmin"]), int(seg["tmax"]), start, end)
        ]

    def newest(
        self,
        *,
        time_range: tuple[int | None, int | None] = (None, None),
        where: dict[str, list[str]] | None = None,
    ) -> Points | None:
        """The newest time of each series in ``time_range`` whose keys match ``where``, from
        the segments' indexes alone (one row per segment and series; no measure). None when
        the indexes cannot tell: a series of a segment reaching past ``end``."""
        start, end = (_to_ns(v, "time_range") for v in time_range)
        paths = self._segment_paths(start, end)

        async def indexes() -> list[SegmentIndex]:
            return list(await asyncio.gather(*(self._cache.get(self._store, p) for p in paths)))

        try:
            found = run_here(indexes()) if paths else []
        except icechunk.IcechunkError as exc:
            raise StorageError(f"cannot read snapshot {self.id} of {self._where}: {exc}") from exc
        parts = []
        for index in found:
            sel = select_series(index, (start, end), where)  # tmax >= start: a row in range
            if end is not None and (index.tmax[sel] >= end).any():
                return None
            ids = np.flatnonzero(sel)
            keys = index.keys.iloc[ids].reset_index(drop=True)
            parts.append(Points(keys, np.arange(len(ids), dtype=np.int32), index.tmax[ids], {}, {}))
        return _combine(parts, {})

    def read_partition(self, ref: PartitionRef, columns: list[str] | None = None) -> Points:
        """Every point of partition ``ref`` (measure columns ``columns``, None = all)."""
        if ref.key not in self._manifest["partitions"]:
            raise NotFoundError(f"partition {ref.key} is not in snapshot {self.id}")
        entry = self._manifest["partitions"][ref.key]
        paths = [seg["path"] for seg in entry["segments"]]
        return self._read_segments(paths, (None, None), None, columns)

    def _read_segments(
        self,
        paths: list[str],
        time_range: tuple[int | None, int | None],
        where: dict[str, list[Any]] | None,
        measures: Sequence[str] | None,
        filters: Sequence[RowFilter] = (),
        *,
        newest_rows: bool = False,
        loose_filters: bool = False,
    ) -> Points:
        async def read_all() -> list[tuple[SegmentIndex, Points | None]]:
            limit = asyncio.Semaphore(SEGMENT_CONCURRENCY)

            async def one(path: str) -> tuple[SegmentIndex, Points | None]:
                async with limit:
                    index = await self._cache.get(self._store, path)
                    pts = await read_segment(
                        self._store,
                        index,
                        time_range,
                        where,
                        measures,
                        CHUNKS,
                        self._where,
                        filters,
                        newest_rows,
                        loose_filters,
                    )
                    return index, pts

            return list(await asyncio.gather(*(one(p) for p in paths)))

        try:
            results = run_here(read_all())
        except icechunk.IcechunkError as exc:
            raise StorageError(f"cannot read snapshot {self.id} of {self._where}: {exc}") from exc
        types: dict[str, MeasureType] = {}
        for index, _ in results:
            for name, (_node, mtype) in index.measures.items():
                if measures is None or name in measures:
                    types.setdefault(name, mtype)
        return _combine([p for _, p in results if p is not None], types)


# -- the tier -------------------------------------------------------------------------------------
class MagneticTier:
    """The magnetic tier of one table: an icechunk repository. Use :meth:`open`."""

    def __init__(
        self,
        repo: icechunk.Repository,
        location: Location,
        storage_options: dict[str, Any] | None,
        partition_duration_ns: int,
        chunk_points: int,
        auto: bool = False,
    ) -> None:
        self._repo = repo
        self._loc = location
        self._storage_options = storage_options
        self._partition_ns = partition_duration_ns
        self._auto = auto  # opened with AUTO: an empty repository from before AUTO chooses too
        self._undecided = False
        self._chunk_points = chunk_points
        self._cache = _IndexCache()
        # The head snapshot last opened: a snapshot is immutable, so while the branch has not
        # moved the next caller gets the same view (opening one costs a session and a
        # manifest read: milliseconds a read-only reader would pay on every query).
        self._head: MagneticSnapshot | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"MagneticTier({self._loc.url!r})"

    @property
    def url(self) -> str:
        return self._loc.url

    @property
    def storage_options(self) -> dict[str, Any] | None:
        """The fsspec/S3 options this tier was opened with (a worker reopens it with them)."""
        return self._storage_options

    @property
    def partition_duration_ns(self) -> int:
        """The partition width of the latest snapshot this tier opened or wrote (one day while
        :attr:`partition_duration_auto` still has to choose)."""
        return self._partition_ns

    @property
    def partition_duration_auto(self) -> bool:
        """Whether the next write of points chooses the partition width (``AUTO``, and the
        tier holds no partition yet), as of the latest snapshot this tier opened or wrote."""
        return self._undecided

    def partition_width(self, snapshot: MagneticSnapshot | None = None) -> int | None:
        """The partition width (ns) of ``snapshot`` (default: the latest), or None while
        ``AUTO`` has yet to choose it (no points stored yet)."""
        snap = snapshot if snapshot is not None else self.snapshot()
        manifest = {
            "partitions": snap.manifest_partitions(),
            _AUTO_KEY: snap.partition_duration_auto,
        }
        return None if self._settle(manifest) else snap.partition_duration_ns

    def _settle(self, manifest: dict[str, Any]) -> bool:
        """Whether ``manifest`` still waits for its width; a repository from before ``AUTO``
        is settled here: undecided when this tier was opened with ``AUTO`` and holds no
        partition, else fixed."""
        if manifest[_AUTO_KEY] is None:
            manifest[_AUTO_KEY] = self._auto and not manifest["partitions"]
        elif manifest[_AUTO_KEY] and manifest["partitions"]:
            manifest[_AUTO_KEY] = False  # partitions written by a tsstore that ignores the flag
        return bool(manifest[_AUTO_KEY])

    @property
    def chunk_points(self) -> int:
        return self._chunk_points

    @classmethod
    def open(
        cls,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        create: bool = False,
        partition_duration_ns: int | str = DEFAULT_PARTITION_NS,
        chunk_points: int | None = None,
    ) -> MagneticTier:
        """Open the magnetic tier at ``url`` (see :func:`open_storage` for the URL forms).

        Parameters
        ----------
        create : bool
            Create the repository when there is none (an existing one is opened as is).
        partition_duration_ns : int or "auto"
            Partition bucket width of a new repository; an existing one keeps the width
            recorded in its manifest. :data:`AUTO` lets the first write of points choose it
            (:func:`choose_partition_ns`) and record it in the manifest in that same commit;
            an empty repository written before ``AUTO`` existed chooses too.
        chunk_points : int, optional
            Points per chunk of the segments this tier writes (default
            :data:`~tsstore.storage.encoding.DEFAULT_CHUNK_POINTS`).

        Raises
        ------
        NotFoundError
            No repository at ``url`` and ``create`` is false.
        FormatVersionError
            The repository was written by a newer format version.
        """
        auto = isinstance(partition_duration_ns, str) and partition_duration_ns == AUTO
        if auto:
            partition_duration_ns = DEFAULT_PARTITION_NS
        elif (
            not isinstance(partition_duration_ns, int | np.integer)
            or isinstance(partition_duration_ns, bool)
            or partition_duration_ns <= 0
        ):
            raise ValidationError(
                f"partition_duration_ns must be a positive int or {AUTO!r}, got "
                f"{partition_duration_ns!r}"
            )
        if chunk_points is None:
            chunk_points = DEFAULT_CHUNK_POINTS
        if not isinstance(chunk_points, int | np.integer) or chunk_points < 1:
            raise ValidationError(f"chunk_points must be a positive int, got {chunk_points!r}")
        quiet_codec_notice()
        loc = parse_location(url)
        storage = open_storage(url, storage_options)
        try:
            exists = icechunk.Repository.exists(storage)
            if not exists and not create:
                raise NotFoundError(f"no magnetic tier at {url}; pass create=True to create one")
            if not exists:
                with writer_lock(loc):
                    try:
                        cls._create(storage, loc, int(partition_duration_ns), auto)
                    except icechunk.IcechunkError:
                        if not icechunk.Repository.exists(storage):
                            raise  # else another process created it first
            repo = icechunk.Repository.open(storage)
        except icechunk.IcechunkError as exc:
            raise StorageError(f"cannot open the magnetic tier at {url}: {exc}") from exc
        tier = cls(repo, loc, storage_options, int(partition_duration_ns), int(chunk_points), auto)
        tier._remember(tier.snapshot().manifest())  # also checks the format version
        return tier

    def _remember(self, manifest: dict[str, Any]) -> None:
        """Note the width (and whether it is still to choose) of the newest manifest seen."""
        self._partition_ns = int(manifest["partition_duration_ns"])
        self._undecided = self._settle(manifest)

    @staticmethod
    def _create(
        storage: icechunk.Storage, loc: Location, partition_ns: int, auto: bool = False
    ) -> None:
        durability = LocalDurability(loc.path) if loc.kind == "local" else None
        if durability is not None:
            durability.mark()
        repo = icechunk.Repository.create(storage)
        base = repo.lookup_branch(BRANCH)
        session = repo.writable_session(BRANCH)
        root = zarr.open_group(session.store, mode="a", zarr_format=3)
        root.update_attributes(_empty_manifest(partition_ns, auto))
        _commit(
            repo,
            session,
            base,
            durability,
            "create magnetic tier",
            {"kind": "create", "watermark": 0, "batch_id": None, "rows": 0},
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the magnetic tier at {self._loc.url} is closed")

    # -- reading ----------------------------------------------------------------------------------
    def snapshot(self, as_of: pd.Timestamp | str | None = None) -> MagneticSnapshot:
        """A read view of the latest snapshot on ``main``, or of an older one.

        Parameters
        ----------
        as_of : pandas.Timestamp or str, optional
            A time (the newest snapshot written at or before it; naive times are UTC) or a
            snapshot id.

        Raises
        ------
        NotFoundError
            An unknown snapshot id, or a time before the first snapshot.
        """
        self._check_open()
        where = self._loc.url
        try:
            if as_of is None:
                sid = self._repo.lookup_branch(BRANCH)
                head = self._head
                if head is None or head.id != sid:
                    head = self._head = MagneticSnapshot(self._repo, sid, self._cache, where)
                return head
            if isinstance(as_of, str) and _SNAPSHOT_ID.fullmatch(as_of):
                try:
                    info = self._repo.lookup_snapshot(as_of)
                except icechunk.IcechunkError as exc:
                    raise NotFoundError(f"snapshot {as_of!r} not found in {where}") from exc
                return MagneticSnapshot(
                    self._repo,
                    as_of,
                    self._cache,
                    where,
                    pd.Timestamp(info.written_at).tz_convert("UTC"),
                )
            try:
                ts = pd.Timestamp(as_of)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"as_of must be a timestamp or a snapshot id, got {as_of!r}"
                ) from exc
            if ts is pd.NaT:
                raise ValidationError("as_of is NaT; give a timestamp or a snapshot id")
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            for info in self._repo.ancestry(branch=BRANCH):
                written = pd.Timestamp(info.written_at).tz_convert("UTC")
                if written <= ts:
                    return MagneticSnapshot(self._repo, info.id, self._cache, where, written)
            raise NotFoundError(f"{where} has no snapshot written at or before {ts}")
        except icechunk.IcechunkError as exc:
            raise StorageError(f"cannot read the magnetic tier at {where}: {exc}") from exc

    def history(self) -> list[dict[str, Any]]:
        """The snapshots of ``main``, newest first: id, written_at, message, kind, watermark,
        batch_id, rows."""
        self._check_open()
        out = []
        for info in self._repo.ancestry(branch=BRANCH):
            meta = dict(info.metadata or {})
            out.append(
                {
                    "id": info.id,
                    "written_at": pd.Timestamp(info.written_at).tz_convert("UTC"),
                    "message": info.message,
                    "kind": meta.get("kind", "init" if info.parent_id is None else None),
                    "watermark": meta.get("watermark"),
                    "batch_id": meta.get("batch_id"),
                    "rows": meta.get("rows"),
                }
            )
        return out

    def size_bytes(self) -> int:
        """Bytes of every object of the repository (see
        :func:`~tsstore.storage.objectstore.storage_size`)."""
        self._check_open()
        return storage_size(self._loc, self._storage_options, self._repo)

    # -- writing ----------------------------------------------------------------------------------
    def _transaction(
        self, fn: Callable[[zarr.Group, dict[str, Any]], dict[str, Any] | None]
    ) -> str | None:
        """Run ``fn(root, manifest)`` in a writable session and commit what it returns.

        ``fn`` changes the manifest in place and returns the commit metadata, or None to
        commit nothing. Serialised by the writer lock; retried when an object store reports
        that another writer committed first.
        """
        self._check_open()
        with writer_lock(self._loc):
            for _attempt in range(COMMIT_TRIES):
                durability = LocalDurability(self._loc.path) if self._loc.kind == "local" else None
                if durability is not None:
                    durability.mark()
                try:
                    base = self._repo.lookup_branch(BRANCH)
                    session = self._repo.writable_session(BRANCH)
                    root = zarr.open_group(session.store, mode="a", zarr_format=3)
                    manifest = _parse_manifest(root.attrs.asdict(), self._loc.url)
                    meta = fn(root, manifest)
                    if meta is None:
                        return None
                    root.update_attributes(_manifest_attrs(manifest))
                    if not session.has_uncommitted_changes:
                        return base
                    message = f"{meta['kind']}: {meta['rows']} rows"
                    sid = _commit(self._repo, session, base, durability, message, meta)
                    self._remember(manifest)
                    return sid
                except icechunk.ConflictError:
                    time.sleep(random.uniform(0, 0.01 * 2**_attempt))
                    continue
                except icechunk.IcechunkError as exc:
                    raise StorageError(
                        f"cannot commit to the magnetic tier at {self._loc.url}: {exc}"
                    ) from exc
        raise ConcurrencyError(
            f"{COMMIT_TRIES} commits to {self._loc.url} in a row lost a race with another "
            "writer; retry later, and give each table one writer"
        )

    def write(
        self,
        points: Points,
        *,
        watermark: int | None = None,
        kind: str = "write",
        batch_id: str | None = None,
    ) -> str:
        """Merge ``points`` into the partitions they fall in, as one commit.

        Rows replace stored rows of the same identity (series key values and time). A
        partition where no identity collides gets a new segment (no existing data is
        rewritten); where one does, the partition (up to :data:`COLLISION_REWRITE_ROWS` rows),
        else only its colliding segments, is rewritten as one merged segment. The first points
        written to an ``AUTO`` tier choose its partition width (:func:`choose_partition_ns`),
        recorded in the manifest of this same commit.

        Parameters
        ----------
        points : Points
            Storage columns per :mod:`tsstore.model.schema`. Among rows of equal identity in
            ``points`` the last one is kept.
        watermark : int, optional
            Stored in the manifest as ``max(old, watermark)``.
        kind, batch_id : str
            Recorded in the commit metadata (with the watermark and the row count).

        Returns
        -------
        str
            The id of the new snapshot (the current one when there was nothing to commit).
        """
        wm = _to_ns(watermark, "watermark")
        if len(points) == 0 and wm is None:
            self._check_open()
            return self._repo.lookup_branch(BRANCH)
        pts = _compact_sorted(_validated(points))
        chunk_points = self._chunk_points

        def change(root: zarr.Group, manifest: dict[str, Any]) -> dict[str, Any]:
            if self._settle(manifest) and len(pts):
                # The first points of an AUTO tier choose its width, in this same commit.
                manifest["partition_duration_ns"] = choose_partition_ns(pts.time)
                manifest[_AUTO_KEY] = False
            duration = int(manifest["partition_duration_ns"])
            appends: list[tuple[str, Points]] = []
            if len(pts):
                pidx = np.floor_divide(pts.time, duration)
                if pidx[0] == pidx.min() == pidx.max():
                    by_partition = [(int(pidx[0]), pts)]
                else:
                    # A stable sort keeps each partition's rows in (series, time) order.
                    order = np.argsort(pidx, kind="stable")
                    uniq, first = np.unique(pidx[order], return_index=True)
                    bounds = np.append(first, len(order))
                    by_partition = [
                        (p, _compact_sorted(pts.take(order[bounds[i] : bounds[i + 1]])))
                        for i, p in enumerate(uniq.tolist())
                    ]
                for p, part in by_partition:
                    key = self._merge_partition(root, manifest, p, duration, part, chunk_points)
                    if key is not None:
                        appends.append((key, part))
            self._append_segments(root, manifest, appends, chunk_points)
            if wm is not None:
                if not len(pts) and wm <= int(manifest["watermark"]):
                    return None
                manifest["watermark"] = max(int(manifest["watermark"]), wm)
            return {
                "kind": kind,
                "watermark": int(manifest["watermark"]),
                "batch_id": batch_id,
                "rows": len(pts),
            }

        sid = self._transaction(change)
        return sid if sid is not None else self._repo.lookup_branch(BRANCH)

    def _merge_partition(
        self,
        root: zarr.Group,
        manifest: dict[str, Any],
        index: int,
        duration: int,
        new: Points,
        chunk_points: int,
    ) -> str | None:
        """Merge ``new`` into partition ``index``: when an identity collides, rewrite now the
        partition (up to :data:`COLLISION_REWRITE_ROWS` rows) or its colliding segments and
        return None, else return the partition's key for :meth:`_append_segments`."""
        start, end = _partition_bounds(index, duration)
        key = _partition_key(start)
        entry = manifest["partitions"].get(key)
        if entry is None:
            manifest["partitions"][key] = {"start": start, "end": end, "rows": 0, "segments": []}
            return key
        hit = self._colliding(root.store, entry, new)
        if not hit:
            return key
        if int(entry["rows"]) + len(new) <= COLLISION_REWRITE_ROWS:
            hit = list(range(len(entry["segments"])))  # small: merge it whole on the way
        self._rewrite_colliding(root, key, entry, hit, new, chunk_points)
        return None

    def _rewrite_colliding(
        self,
        root: zarr.Group,
        key: str,
        entry: dict[str, Any],
        hit: list[int],
        new: Points,
        chunk_points: int,
    ) -> None:
        """Replace segments ``hit`` of partition ``key`` (at least those sharing an identity
        with ``new``) by one segment holding them and ``new`` merged, new rows winning.

        The other segments hold no identity of ``new`` nor of the replaced ones, so the
        segments of the partition stay disjoint, and the rewrite costs the replaced segments
        only, however wide the partition.
        """
        old = [self._read_whole(root.store, entry["segments"][i]["path"]) for i in hit]
        merged = _compact_sorted(_union([*old, new]))
        path = _new_segment_path(key, entry["segments"])
        seg = run(write_segment(root.store, path, merged, chunk_points, CHUNKS, self._loc.url))
        for i in hit:
            del root[entry["segments"][i]["path"]]
        gone = set(hit)
        kept = [g for i, g in enumerate(entry["segments"]) if i not in gone]
        entry["segments"] = [*kept, seg]
        entry["rows"] = sum(int(g["rows"]) for g in entry["segments"])

    def _append_segments(
        self,
        root: zarr.Group,
        manifest: dict[str, Any],
        appends: list[tuple[str, Points]],
        chunk_points: int,
    ) -> None:
        """Write one new segment per ``(partition key, points)``, concurrently."""
        if not appends:
            return
        data = root.require_group("data")
        for key in {key for key, _ in appends}:  # parents first: creation is not concurrent-safe
            data.require_group(key)
        paths = [
            _new_segment_path(key, manifest["partitions"][key]["segments"]) for key, _ in appends
        ]

        async def write_all() -> list[dict[str, Any]]:
            limit = asyncio.Semaphore(SEGMENT_CONCURRENCY)

            async def one(path: str, points: Points) -> dict[str, Any]:
                async with limit:
                    return await write_segment(
                        root.store, path, points, chunk_points, CHUNKS, self._loc.url
                    )

            jobs = (one(path, pts) for path, (_, pts) in zip(paths, appends, strict=True))
            return list(await asyncio.gather(*jobs))

        for (key, _), seg in zip(appends, run(write_all()), strict=True):
            entry = manifest["partitions"][key]
            entry["segments"].append(seg)
            entry["rows"] = int(entry["rows"]) + int(seg["rows"])

    def _read_whole(self, store: Any, path: str, columns: Sequence[str] | None = None) -> Points:
        async def read() -> tuple[SegmentIndex, Points | None]:
            index = await self._cache.get(store, path)
            return index, await read_segment(store, index, (None, None), None, columns)

        index, pts = run(read())
        return pts if pts is not None else Points.empty(index.keys.iloc[:0])

    def _colliding(self, store: Any, entry: dict[str, Any], new: Points) -> list[int]:
        """Positions of the segments of partition ``entry`` that hold an identity of a row
        of ``new``.

        Pruned by segment time bounds, then series keys, then per-series bounds; only the
        ``time`` chunks of the candidate series are read.
        """
        tlo, thi = int(new.time.min()), int(new.time.max())
        segs = [
            i
            for i, seg in enumerate(entry["segments"])
            if int(seg["tmax"]) >= tlo and int(seg["tmin"]) <= thi
        ]

        async def check(path: str) -> bool:
            index = await self._cache.get(store, path)
            sid = _lookup_keys(new.keys, index.keys)[new.series]
            found = sid >= 0
            if not found.any():
                return False
            safe = np.where(found, sid, 0)
            cand = found & (new.time >= index.tmin[safe]) & (new.time <= index.tmax[safe])
            if not cand.any():
                return False
            series = np.unique(sid[cand])
            rows = ranges(index.offsets[series], index.offsets[series + 1])
            stored_t = await gather_rows(index.array(store, "time"), rows)
            stored_s = np.repeat(series, index.counts[series])
            return _any_common(sid[cand], new.time[cand], stored_s, np.asarray(stored_t, np.int64))

        async def check_all() -> list[bool]:
            paths = [entry["segments"][i]["path"] for i in segs]
            return list(await asyncio.gather(*(check(p) for p in paths)))

        if not segs:
            return []
        return [i for i, hit in zip(segs, run(check_all()), strict=True) if hit]

    def delete_before(self, cutoff: int) -> int:
        """Delete every point with ``time < cutoff`` in one commit; returns the rows deleted.

        Partitions entirely before the cutoff are dropped; segments that straddle it are
        rewritten without the old rows. Nothing is committed when nothing is deleted.
        """
        cut = _to_ns(cutoff, "cutoff")
        assert cut is not None
        chunk_points = self._chunk_points
        deleted = 0

        def change(root: zarr.Group, manifest: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal deleted
            deleted = 0
            parts = manifest["partitions"]
            for key, entry in list(parts.items()):
                if int(entry["start"]) >= cut:
                    continue
                if int(entry["end"]) <= cut:
                    deleted += int(entry["rows"])
                    del root[f"data/{key}"]
                    del parts[key]
                    continue
                kept = []
                for seg in entry["segments"]:
                    if int(seg["tmin"]) >= cut:
                        kept.append(seg)
                        continue
                    old = self._read_whole(root.store, seg["path"])
                    rest = _compact_sorted(old.take(old.time >= cut))
                    deleted += len(old) - len(rest)
                    del root[seg["path"]]
                    if len(rest):
                        path = _new_segment_path(key, entry["segments"] + kept)
                        kept.append(
                            run(
                                write_segment(
                                    root.store, path, rest, chunk_points, CHUNKS, self._loc.url
                                )
                            )
                        )
                entry["segments"] = kept
                entry["rows"] = sum(int(s["rows"]) for s in kept)
                if not kept:
                    del root[f"data/{key}"]
                    del parts[key]
            if deleted == 0:
                return None
            return {
                "kind": "delete",
                "watermark": int(manifest["watermark"]),
                "batch_id": None,
                "rows": deleted,
            }

        self._transaction(change)
        return deleted

    def compact(
        self,
        *,
        max_segments: int = 8,
        sealed_before: int | None = None,
        open_max_segments: int = 64,
        target_rows: int = COMPACT_TARGET_ROWS,
    ) -> int:
        """Merge the small segments of partitions with more than ``max_segments`` segments, in
        one commit; returns the number of partitions changed.

        Consecutive segments are merged in groups of at most ``target_rows`` rows, so memory
        stays bounded (a group is read whole) and big segments are left as they are. With
        ``sealed_before`` (int ns), only partitions ending at or before it (no migration will
        append to them any more) use ``max_segments``; later partitions are merged only past
        ``open_max_segments``, so a partition that still grows is not rewritten at every
        migration.
        """
        if max_segments < 1:
            raise ValidationError(f"max_segments must be at least 1, got {max_segments}")
        chunk_points = self._chunk_points
        merged = 0

        def change(root: zarr.Group, manifest: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal merged
            merged = 0
            rows = 0
            for key, entry in list(manifest["partitions"].items()):
                limit = _segment_limit(entry, max_segments, sealed_before, open_max_segments)
                if len(entry["segments"]) <= limit:
                    continue
                groups = _segment_groups([int(g["rows"]) for g in entry["segments"]], target_rows)
                if not groups:
                    continue
                for first, last in reversed(groups):  # later groups first: indices stay valid
                    rows += sum(int(g["rows"]) for g in entry["segments"][first : last + 1])
                    self._merge_segment_group(root, key, entry, first, last, chunk_points)
                merged += 1
            if merged == 0:
                return None
            return {
                "kind": "compact",
                "watermark": int(manifest["watermark"]),
                "batch_id": None,
                "rows": rows,
            }

        self._transaction(change)
        return merged

    def _merge_segment_group(
        self,
        root: zarr.Group,
        key: str,
        entry: dict[str, Any],
        first: int,
        last: int,
        chunk_points: int,
    ) -> None:
        """Replace segments ``first..last`` (inclusive) of partition ``key`` by one segment.

        Segments of one partition hold disjoint identities, so merging is a concatenation
        re-sorted by (series, time).
        """
        group = entry["segments"][first : last + 1]
        merged = _union([self._read_whole(root.store, g["path"]) for g in group]).sorted()
        path = _new_segment_path(key, entry["segments"])
        seg = run(write_segment(root.store, path, merged, chunk_points, CHUNKS, self._loc.url))
        for g in group:
            del root[g["path"]]
        entry["segments"][first : last + 1] = [seg]

    def maintain(self, *, keep_snapshots: pd.Timedelta) -> dict[str, int]:
        """Expire snapshots of ``main`` older than ``now - keep_snapshots`` and delete the
        objects no snapshot needs any more.

        Readers holding an expired snapshot may fail afterwards. On S3, objects younger than
        :data:`GC_MARGIN_S3` are kept (another process may be about to commit them).

        Returns
        -------
        dict
            ``snapshots_expired`` and icechunk's garbage-collection counts
            (``chunks_deleted``, ``manifests_deleted``, ``snapshots_deleted``,
            ``attributes_deleted``, ``transaction_logs_deleted``, ``bytes_deleted``).
        """
        self._check_open()
        keep = pd.Timedelta(keep_snapshots)
        if keep < pd.Timedelta(0):
            raise ValidationError(f"keep_snapshots must not be negative, got {keep}")
        now = pd.Timestamp.now(tz="UTC")
        cutoff = (now - keep).to_pydatetime()
        # On an object store another process may be writing (its chunks are not committed
        # yet, and no lock of ours covers it): never delete objects younger than a margin.
        gc_cutoff = cutoff
        if self._loc.kind == "s3":
            gc_cutoff = min(cutoff, (now - GC_MARGIN_S3).to_pydatetime())
        with writer_lock(self._loc):
            durability = LocalDurability(self._loc.path) if self._loc.kind == "local" else None
            if durability is not None:
                durability.mark()
            try:
                expired = self._repo.expire_snapshots(older_than=cutoff)
                gc = self._repo.garbage_collect(gc_cutoff)
            except icechunk.IcechunkError as exc:
                raise StorageError(f"cannot maintain {self._loc.url}: {exc}") from exc
            if durability is not None:
                durability.sync_new()
                durability.sync_refs()
        return {
            "snapshots_expired": len(expired),
            "chunks_deleted": int(gc.chunks_deleted),
            "manifests_deleted": int(gc.manifests_deleted),
            "snapshots_deleted": int(gc.snapshots_deleted),
            "attributes_deleted": int(gc.attributes_deleted),
            "transaction_logs_deleted": int(gc.transaction_logs_deleted),
            "bytes_deleted": int(gc.bytes_deleted),
        }

    def close(self) -> None:
        """Release the repository; later calls raise :class:`~tsstore.errors.StorageError`."""
        self._closed = True


def _commit(
    repo: icechunk.Repository,
    session: icechunk.Session,
    base: str,
    durability: LocalDurability | None,
    message: str,
    meta: dict[str, Any],
) -> str:
    """Commit ``session`` on ``main``; on local disk durably and in a crash-safe order.

    Local disk: the session is flushed to a snapshot off the branch, every file written is
    fsynced, then the branch is moved from ``base`` to it and the ref is fsynced. Elsewhere:
    an ordinary commit (raising :class:`icechunk.ConflictError` when ``main`` moved).
    """
    if durability is None:
        return session.commit(message, metadata=meta)
    sid = session.flush(message, metadata=meta)
    durability.sync_new()
    try:
        repo.reset_branch(BRANCH, sid, from_snapshot_id=base)
    except icechunk.IcechunkError as exc:
        raise ConcurrencyError(
            f"branch {BRANCH} moved during a commit despite the writer lock: {exc}"
        ) from exc
    durability.sync_refs()
    return sid


def _validated(points: Points) -> Points:
    """``points`` with arrays of the storage dtypes; raises ValidationError on a mismatch."""
    n = len(points)
    series = np.asarray(points.series)
    if len(series) != n or (n and (series.min() < 0 or series.max() >= len(points.keys))):
        raise ValidationError("Points.series must index Points.keys, one id per row")
    time = np.asarray(points.time)
    if time.dtype.kind not in "iu":
        raise ValidationError(f"Points.time must be int64 ns, got {time.dtype}")
    columns = {}
    types = {}
    for name, mtype in points.types.items():
        mtype = MeasureType(mtype)
        col = np.asarray(points.columns[name])
        if len(col) != n:
            raise ValidationError(f"measure {name!r} has {len(col)} values for {n} rows")
        if mtype is not MeasureType.VARCHAR and col.dtype != mtype.dtype:
            col = col.astype(mtype.dtype)
        columns[name] = col
        types[name] = mtype
    version = None if points.version is None else np.asarray(points.version, dtype=np.int64)
    keys = points.keys
    if len(keys) > 1 and _null_token(keys).duplicated().any():  # one id per series
        unique = keys.loc[~_null_token(keys).duplicated()].reset_index(drop=True)
        series = _lookup_keys(keys, unique)[series]
        keys = unique
    return Points(
        keys,
        series.astype(np.int32, copy=False),
        time.astype(np.int64, copy=False),
        columns,
        types,
        version,
    )
