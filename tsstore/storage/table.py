"""A table: its memory tier, write-ahead log and magnetic tier, and the paths between them.

Invariant
---------
The magnetic tier's latest snapshot carries a *watermark* ``W``. Every acknowledged point with
``time < W`` is in that snapshot; the memory tier holds exactly the acknowledged points with
``time >= W``. A migration moves the memory points older than the new watermark into the
magnetic tier in one commit that also records the new watermark, and only then drops them from
memory and from the write-ahead log. A reader combines one magnetic snapshot with the memory
points at or above *its* watermark, so it sees every point exactly once, whenever it reads.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import xarray as xr

from tsstore.errors import RejectedRecordsError, ValidationError
from tsstore.model.durations import (
    AUTO,
    format_duration,
    format_partition_duration,
    parse_duration,
    to_utc_timestamp,
)
from tsstore.model.frames import points_from_frame
from tsstore.model.points import MEASURE_NAME, GridTranspose, Points, keys_frame
from tsstore.model.records import Rejection, parse_records
from tsstore.model.schema import RowFilter, TableSchema, null_mask
from tsstore.model.upsert import plan_upsert, resolve_duplicates
from tsstore.storage.codec import (
    compact_keys,
    concat_query_tables,
    points_from_arrow,
    points_to_arrow,
    points_to_query_table,
    series_key_ids,
)
from tsstore.storage.magnetic import MagneticSnapshot, MagneticTier
from tsstore.storage.memory import MemoryTier, MemoryView
from tsstore.storage.parts import MagneticPart, MemoryPart, ScanPart
from tsstore.storage.wal import WalEntry, WriteAheadLog

if TYPE_CHECKING:
    from tsstore.storage.catalog import TableEntry

__all__ = ["FUTURE_WINDOW", "Table", "WriteResult"]

#: Records newer than now + this are rejected (Timestream's rule).
FUTURE_WINDOW = pd.Timedelta(minutes=15)
#: A sealed magnetic partition with more segments than this is merged into one.
COMPACT_SEGMENTS = 4
#: A partition that migrations still append to is merged past this many segments: every
#: segment costs each scan of the partition an index read (a mixed-load run measured
#: cpu-max-all-8 at 78 ms over 9 segments, 25 ms once merged), while merging sooner would
#: rewrite the growing partition at every migration.
OPEN_MAX_SEGMENTS = 16
#: Magnetic snapshots (time travel with ``as_of``) are kept this long ...
SNAPSHOT_RETENTION = pd.Timedelta(days=7)
#: ... and expired, with garbage collection, at most this often.
MAINTAIN_EVERY = pd.Timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write stored, shaped like the response of Timestream's ``WriteRecords``.

    Attributes
    ----------
    records_ingested : dict
        ``{"Total", "MemoryStore", "MagneticStore"}`` counts of stored records.
    rejected_records : list of dict
        ``{"RecordIndex", "Reason", "ExistingVersion"?}`` per rejected record or row.
    """

    records_ingested: dict[str, int]
    rejected_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected_records


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    """What one lifecycle pass did to a table."""

    table: str
    migrated: int
    deleted_magnetic: int
    watermark: pd.Timestamp | None
    compacted_partitions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "migrated": self.migrated,
            "deleted": self.deleted_magnetic,
            "watermark": self.watermark,
            "compacted_partitions": self.compacted_partitions,
        }


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.value)


class Table:
    """A Timestream table: time series of points with dimensions and measures.

    Obtain tables from a :class:`~tsstore.Database` (``db.create_table``, ``db.table``) or from
    the store (``store.table("db.table")``). Writes are durable when they return; reads see every
    acknowledged write across both tiers.

    Concurrency: one writer process per store; within it, writes, reads and the lifecycle are
    thread-safe. Readers in other processes (``connect(..., read_only=True)``) see every
    acknowledged write.
    """

    def __init__(
        self,
        entry: TableEntry,
        *,
        magnetic: MagneticTier,
        wal: WriteAheadLog,
        clock: Callable[[], pd.Timestamp],
        save_entry: Callable[[TableEntry], None] | None,
        read_only: bool,
    ) -> None:
        self._entry = entry
        self._magnetic = magnetic
        self._wal = wal
        self._clock = clock
        self._save_entry = save_entry
        self.read_only = read_only
        # Locks (always taken in this order): ``_lifecycle`` serialises lifecycle passes and
        # maintenance; ``_lock`` serialises writers (held across a write's log fsync);
        # ``_publish`` is held briefly to change, or to capture, what readers see together
        # (the memory tier's runs and registry, the watermark and the magnetic snapshot).
        # Readers take only ``_publish``, so a query never waits for a write's fsync or for
        # a migration's commit.
        self._lifecycle = threading.Lock()
        self._lock = threading.RLock()
        self._publish = threading.RLock()
        # Set while a migration to this watermark commits outside ``_lock``: writes with
        # points below it wait on ``_migrated`` (the rows they could collide with are being
        # moved), every other write goes on.
        self._migrating_to: int | None = None
        self._migrated = threading.Condition(self._lock)
        self._memory = MemoryTier()
        self._snapshot: MagneticSnapshot | None = magnetic.snapshot()
        self._watermark = self._snapshot.watermark
        self._applied_lsn = _applied_lsn(magnetic)
        self._replayed_lsn = 0
        # (keys of the last frame replayed, their series ids, dimensions named)
        self._replay_keys: tuple[Any, np.ndarray, list[str]] | None = None
        self._bytes_ingested = entry.bytes_ingested
        self._last_maintain = time.monotonic()
        self._wal_thread = ThreadPoolExecutor(1, thread_name_prefix="tsstore-wal")
        # the store that opened this table (set by it; a weak reference: no cycle)
        self._store_ref: Callable[[], Any] | None = None
        self._replay()

    # -- identity -------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The :class:`~tsstore.Store` this table was opened from (None once it is gone)."""
        return None if self._store_ref is None else self._store_ref()

    @property
    def name(self) -> str:
        return self._entry.name

    @property
    def database(self) -> str:
        return self._entry.database

    @property
    def full_name(self) -> str:
        return f"{self._entry.database}.{self._entry.name}"

    @property
    def schema(self) -> TableSchema:
        return self._entry.schema

    @property
    def entry(self) -> TableEntry:
        return self._entry

    def __repr__(self) -> str:
        return f"<tsstore.Table {self.full_name}>"

    # -- write paths ----------------------------------------------------------------------
    def write(
        self,
        df: pd.DataFrame,
        *,
        dimensions: Sequence[str],
        time: str = "time",
        measure_name: str | None = None,
        measures: Sequence[str] | None = None,
        version: str | int | None = None,
    ) -> WriteResult:
        """Write a DataFrame of multi-measure rows (the fast path).

        Every column other than ``time``, the dimensions and the version is a measure. The frame
        is validated whole first: any bad row raises and nothing is written.

        Parameters
        ----------
        df : DataFrame
        dimensions : sequence of str
            Columns identifying a series (e.g. ``["device_id", "factory"]``). A missing value
            (None, NaN) is an absent dimension, as in a record that does not list it.
        time : str, default "time"
            Time column; tz-naive times are UTC.
        measure_name : str, optional
            Timestream ``MeasureName`` of the rows.
        measures : sequence of str, optional
            Measure columns (default: all remaining columns).
        version : str or int, optional
            Version column, or one version for all rows (default 1). A row with the identity
            (dimensions, measure name, time) of a stored point replaces it only with a higher
            version; the same value is de-duplicated; else the row is rejected.

        Returns
        -------
        WriteResult
            Counts per tier, and rows rejected by the version rules (``RecordIndex`` is the
            row position in ``df``).

        Raises
        ------
        ValidationError
            Bad rows (NaN/NaT time, empty dimension values, NaN/inf measures, mixed types, reserved
            names), a time outside the ingestion window, or a measure type conflict.

        Examples
        --------
        >>> table.write(df, dimensions=["device_id", "factory"])  # doctest: +SKIP
        """
        self._check_writable()
        points = points_from_frame(
            df,
            dimensions=dimensions,
            time=time,
            measure_name=measure_name,
            measures=measures,
            version=version,
        )
        return self._ingest(points, [], strict=True, dimensions=list(dimensions))

    def write_records(
        self,
        records: Sequence[Mapping[str, Any]],
        common_attributes: Mapping[str, Any] | None = None,
        *,
        errors: str = "return",
    ) -> WriteResult:
        """Write Timestream ``WriteRecords`` records (boto3's record dicts, as they are).

        Valid records are stored; invalid ones come back in ``rejected_records`` with
        Timestream's reasons (or raise :class:`~tsstore.errors.RejectedRecordsError` with
        ``errors="raise"``, after the valid ones are stored, as Timestream does).
        """
        self._check_writable()
        parsed = parse_records(records, common_attributes)
        dims = [c for c in parsed.points.keys.columns if c != MEASURE_NAME]
        result = self._ingest(parsed.points, list(parsed.rejected), strict=False, dimensions=dims)
        if errors == "raise" and result.rejected_records:
            raise RejectedRecordsError(
                f"{len(result.rejected_records)} of {len(records)} records were rejected; "
                f"first: {result.rejected_records[0]['Reason']}",
                result.rejected_records,
            )
        return result

    def _check_writable(self) -> None:
        if self.read_only:
            raise ValidationError(
                f"table {self.full_name} is open read-only; connect without read_only=True "
                "(in the one process that writes) to write"
            )

    def _window(self, points: Points, now: pd.Timestamp) -> tuple[np.ndarray, list[str]]:
        """Mask of rows inside the ingestion window, and a reason per kind of violation."""
        ret = self._entry.retention
        future = points.time > _ns(now + FUTURE_WINDOW)
        memory_floor = _ns(now - ret.memory)
        magnetic_floor = _ns(now - ret.memory - ret.magnetic)
        if self._entry.magnetic_store_writes:
            old = points.time < magnetic_floor
            low = magnetic_floor
        else:
            old = points.time < memory_floor
            low = memory_floor
        lo = pd.Timestamp(low, tz="UTC").isoformat()
        hi = (now + FUTURE_WINDOW).isoformat()
        reason = (
            f"The record timestamp is outside the time range [{lo}, {hi}) of the data "
            "ingestion window."
        )
        if not self._entry.magnetic_store_writes:
            reason += " Enable magnetic_store_writes on the table to write older data."
        return ~(future | old), [reason]

    def _check_types(self, points: Points) -> tuple[np.ndarray, list[str]]:
        """Rows whose measure types conflict with the table's schema (records path)."""
        bad = np.zeros(len(points), dtype=bool)
        reasons = np.full(len(points), None, dtype=object)
        for name, mtype in points.types.items():
            have = self._entry.schema.measures.get(name)
            if have is not None and have != mtype:
                rows = ~null_mask(points.columns[name], mtype)
                reasons[rows & ~bad] = (
                    f"Measure '{name}' has type {mtype} but the table stores it as {have}."
                )
                bad |= rows
        return bad, list(reasons)

    def _ingest(
        self, points: Points, rejected: list[Rejection], *, strict: bool, dimensions: list[str]
    ) -> WriteResult:
        with self._lock:
            while self._migrating_to is not None and len(points):
                if int(points.time.min()) >= self._migrating_to:
                    break
                self._migrated.wait()
            now = to_utc_timestamp(self._clock(), "clock()")
            inside, (reason,) = self._window(points, now)
            if not inside.all():
                if strict:
                    pos = int(np.argmin(inside))
                    raise ValidationError(
                        f"row {pos} has time "
                        f"{pd.Timestamp(int(points.time[pos]), tz='UTC').isoformat()}: {reason} "
                        f"({int((~inside).sum())} rows in all; nothing was written)"
                    )
                rows = points.row if points.row is not None else np.arange(len(points))
                rejected += [Rejection(int(r), reason) for r in rows[~inside]]
                points = points.take(inside)
            if not strict:
                bad, why = self._check_types(points)
                if bad.any():
                    rows = points.row if points.row is not None else np.arange(len(points))
                    rejected += [Rejection(int(rows[i]), why[i]) for i in np.flatnonzero(bad)]
                    points = points.take(~bad)
            # Names of dimensions come from the write; empty columns are not added.
            schema = self._entry.schema.extend(dimensions, dict(points.types))
            # Register first so that the one sort orders rows by the memory tier's series ids.
            with self._publish:
                points = self._memory.register(points)
            if schema is not self._entry.schema:
                self._update_entry(schema=schema)
            if not rejected and self._append_fast(points):
                return WriteResult(
                    {"Total": len(points), "MemoryStore": len(points), "MagneticStore": 0}
                )
            points, dup_rejected = resolve_duplicates(points)
            rejected += dup_rejected

            late_mask = points.time < self._watermark
            mem_pts = points.take(~late_mask) if late_mask.any() else points
            cands, locs = self._memory.candidates(mem_pts)
            plan = plan_upsert(cands, mem_pts)
            rejected += plan.rejected
            late_insert = None
            if late_mask.any():
                late_pts = points.take(late_mask)
                existing = self._magnetic_candidates(late_pts)
                late_plan = plan_upsert(existing, late_pts)
                rejected += late_plan.rejected
                late_insert = late_plan.insert

            n_late = 0 if late_insert is None else len(late_insert)
            accepted = (
                plan.insert
                if late_insert is None
                else Points.concat([late_insert, plan.insert], keys=self._memory.registry.frame)
            )
            if len(accepted):
                table, meta = points_to_arrow(accepted)
                meta["late"] = n_late
                lsn = self._wal.append(
                    table,
                    meta,
                    min_time=int(accepted.time.min()),
                    max_time=int(accepted.time.max()),
                )
                self._replayed_lsn = lsn
                if n_late:
                    assert late_insert is not None
                    self._write_magnetic(late_insert, kind="write", lsn=lsn)
                with self._publish:
                    self._memory.apply(plan.insert, plan.replaced, locs)
                self._bytes_ingested += _billed_bytes(accepted, self._memory.registry.key_bytes)
            return WriteResult(
                records_ingested={
                    "Total": len(accepted),
                    "MemoryStore": len(plan.insert),
                    "MagneticStore": n_late,
                },
                rejected_records=[r.to_dict() for r in sorted(rejected, key=lambda r: r.index)],
            )

    def _append_fast(self, points: Points) -> bool:
        """Store a write that only appends (the common case) and return True; else False.

        A write appends when no point is below the watermark, no identity repeats in it, and
        every series' oldest new point is newer than its newest stored one: then every row is
        accepted and nothing needs the upsert rules. The write-ahead log frame (of the rows in
        their given order) is written and fsync'ed on the log's thread while this thread sorts
        the rows into a memory run; the run is added only once the frame is durable.
        """
        if not len(points) or points.time.min() < self._watermark:
            return False
        permute: Callable[[np.ndarray], np.ndarray] | None = None
        if not points.is_sorted():
            permute = GridTranspose.detect(points.series, points.time)
            if permute is None:
                permute = functools.partial(_gather, points.sort_order())
        s = points.series if permute is None else permute(points.series)
        t = points.time if permute is None else permute(points.time)
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        repeats = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
        if repeats.any() or not np.all(t[starts] > self._memory.newest(s[starts])):
            return False
        table, meta = points_to_arrow(points)
        meta["late"] = 0
        logged = self._wal_thread.submit(
            self._wal.append, table, meta, min_time=int(t.min()), max_time=int(t.max())
        )
        if permute is not None:
            points = Points(
                points.keys,
                s,
                t,
                {k: permute(v) for k, v in points.columns.items()},
                points.types,
                None if points.version is None else permute(points.version),
                None if points.row is None else permute(points.row),
            )
        self._replayed_lsn = logged.result()  # raises (and stores nothing) if the log failed
        with self._publish:
            self._memory.apply(points)
        self._bytes_ingested += _billed_bytes(points, self._memory.registry.key_bytes)
        return True

    def _magnetic_candidates(self, late: Points) -> Points:
        """Stored magnetic points that may share an identity with ``late`` (registry ids)."""
        keys = compact_keys(late).keys
        where = {c: sorted({v for v in keys[c] if v is not None}) for c in keys.columns}
        where = {c: v for c, v in where.items() if v and c in keys.columns}
        stored = self._latest().read(
            time_range=(int(late.time.min()), int(late.time.max()) + 1), where=where or None
        )
        with self._publish:
            return self._memory.register(stored)

    def _write_magnetic(self, points: Points, *, kind: str, lsn: int | None = None) -> None:
        batch = None if lsn is None else f"lsn:{lsn}"
        try:
            self._magnetic.write(compact_keys(points), kind=kind, batch_id=batch)
        finally:
            self._forget_snapshot()
        if lsn is not None:
            self._applied_lsn = max(self._applied_lsn, lsn)

    def _forget_snapshot(self) -> None:
        """Drop the writer's cached snapshot after one of its commits (or a failed one)."""
        with self._publish:
            self._snapshot = None

    def _latest(self) -> MagneticSnapshot:
        """The newest magnetic snapshot. The writer caches it: only its own commits move the
        branch, and each drops the cache once committed, so readers of this process go on
        reading the state before a commit (paired with the memory tier of that state) until
        the commit is published. Readers in other processes look again every time."""
        if self.read_only:
            return self._magnetic.snapshot()
        with self._publish:
            if self._snapshot is None:
                self._snapshot = self._magnetic.snapshot()
            return self._snapshot

    def _update_entry(self, **changes: Any) -> None:
        self._entry = self._entry.with_(**changes)
        if self._save_entry is not None:
            self._save_entry(self._entry)

    # -- recovery and refresh ---------------------------------------------------------------
    def _replay(self) -> None:
        """Apply write-ahead log frames after the last one applied (on open, and for readers).

        The memory rows of all new frames go into the memory tier as one upsert (the last
        frame's row wins among rows of one identity, as frame-by-frame replay would have it):
        a reader catching up with a writer of many small writes pays the per-write costs once.
        Consecutive frames usually name the same series with the same columns: their Arrow
        tables are decoded as one (:func:`_frame_groups`) and their key table is registered
        once.
        """
        pending: list[Points] = []
        frames = 0
        registry = self._memory.registry
        seen = self._replay_keys
        for group in _frame_groups(self._wal.replay(after_lsn=self._replayed_lsn)):
            entry = group[0]
            raw_keys = entry.meta["keys"]
            if seen is None or seen[0] != raw_keys:
                dims = [
                    c
                    for c, values in raw_keys.items()
                    if c != MEASURE_NAME and any(v is not None for v in values)
                ]
                seen = (raw_keys, registry.ids_for(keys_frame(raw_keys)), dims)
            table = entry.table if len(group) == 1 else pa.concat_tables(e.table for e in group)
            pts = self._memory.register(points_from_arrow(table, entry.meta, keys=False), seen[1])
            if self.read_only:
                # A reader learns new dimensions and measures from the log, as the writer
                # learned them from the write (the writer saves them in the catalog).
                schema = self._entry.schema.extend(seen[2], dict(pts.types))
                if schema is not self._entry.schema:
                    self._entry = self._entry.with_(schema=schema)
            n_late = int(entry.meta.get("late", 0))  # a frame with late rows is a group alone
            if n_late and entry.lsn > self._applied_lsn and not self.read_only:
                # The process stopped between logging this write and committing its late rows:
                # writes are serialised, so replaying them with replace semantics is exact.
                self._write_magnetic(pts.take(np.arange(n_late)), kind="write", lsn=entry.lsn)
            mem = pts.take(np.arange(n_late, len(pts))) if n_late else pts
            mem = mem.take(mem.time >= self._watermark) if len(mem) else mem
            if len(mem):
                pending.append(mem)
            frames += len(group)
            self._replayed_lsn = group[-1].lsn
        # The series ids of the last frame's keys stay valid (the table keeps one registry,
        # which only grows): a reader following a writer whose frames name the same series
        # maps them once, not once per catch-up.
        self._replay_keys = seen
        if pending:
            batch = Points.concat(pending, keys=registry.frame)
            self._memory.upsert(_last_wins(batch) if frames > 1 else batch)

    def refresh(self) -> None:
        """Catch up with the writer (readers in other processes; a no-op for the writer)."""
        if not self.read_only:
            return
        with self._lock, self._publish:
            self._replay()
            snap = self._latest()
            if snap.watermark > self._watermark:
                self._watermark = snap.watermark
                self._memory.drop_before(self._watermark)

    # -- reading --------------------------------------------------------------------------
    def _read_plan(
        self,
        time_range: tuple[object, object] | None,
        where: Mapping[str, Sequence[str] | str] | None,
        measures: Sequence[str] | None,
        as_of: object | None,
        filters: Sequence[RowFilter] = (),
        state: TableState | None = None,
    ) -> _ReadPlan:
        """Validate a read and capture one consistent state of both tiers for it (or read
        ``state``, captured before by :meth:`state`)."""
        start, end = _parse_range(time_range)
        where_l = {k: [v] if isinstance(v, str) else list(v) for k, v in (where or {}).items()}
        if measures is not None:
            unknown = [m for m in measures if m not in self._entry.schema.measures]
            if unknown:
                raise ValidationError(
                    f"table {self.full_name} has no measures {unknown}; it has "
                    f"{list(self._entry.schema.measures)}"
                )
        now = to_utc_timestamp(self._clock(), "clock()")
        ret = self._entry.retention
        floor = _ns(now - ret.memory - ret.magnetic)
        start = floor if start is None else max(start, floor)
        if state is not None and as_of is None:
            snap, view = state.snap, state.view
            with self._publish:
                series = self._memory.registry.select(where_l)  # ids only grow: a superset
        else:
            self.refresh()
            with self._publish:
                snap = self._magnetic.snapshot(as_of) if as_of is not None else self._latest()
                view = None if as_of is not None else self._memory.view()
                series = self._memory.registry.select(where_l)
        types = {
            m: t
            for m, t in self._entry.schema.measures.items()
            if measures is None or m in measures
        }
        return _ReadPlan(
            snap,
            view,
            series,
            start,
            end,
            where_l,
            None if measures is None else list(measures),
            types,
            tuple(filters),
        )

    def _read_points(
        self,
        time_range: tuple[object, object] | None,
        where: Mapping[str, Sequence[str] | str] | None,
        measures: Sequence[str] | None,
        as_of: object | None,
    ) -> Points:
        return self._read_plan(time_range, where, measures, as_of).points()

    def scan_parts(
        self,
        time_range: tuple[object, object] | None = None,
        *,
        where: Mapping[str, Sequence[str] | str] | None = None,
        measures: Sequence[str] | None = None,
        dimensions: Sequence[str] | None = None,
        as_of: object | None = None,
        distinct_dictionaries: bool = True,
        filters: Sequence[RowFilter] = (),
        state: TableState | None = None,
    ) -> list[ScanPart]:
        """The rows :meth:`scan` returns, split into independent parts (one per magnetic
        partition, one for the memory tier), each a callable returning an Arrow table.

        All parts read one consistent state, captured here: together they return each point
        exactly once. Parts can run in any order, in parallel threads or, pickled, in other
        processes (Dask workers): see :mod:`tsstore.storage.parts`. Arguments as in
        :meth:`scan`.
        """
        plan = self._read_plan(time_range, where, measures, as_of, filters, state)
        dims = self._dims(dimensions)
        types = dict(plan.types)
        snap = plan.snap
        parts: list[ScanPart] = [
            MagneticPart(
                self._magnetic.url,
                self._magnetic.storage_options,
                snap.id,
                ref.start if plan.start is None else max(ref.start, plan.start),
                ref.end if plan.end is None else min(ref.end, plan.end),
                plan.where,
                plan.measures,
                dims,
                types,
                snapshot=snap,
                distinct_dictionaries=distinct_dictionaries,
                filters=plan.filters,
            )
            for ref in snap.partitions((plan.start, plan.end))
        ]
        floor = plan.snap.watermark if plan.start is None else max(plan.start, plan.snap.watermark)
        if plan.view is not None and _overlaps_runs(plan.view, floor, plan.end):
            parts.append(
                MemoryPart(
                    functools.partial(plan.points, magnetic=False, memory=True, ordered=False),
                    dims,
                    types,
                    distinct_dictionaries,
                    table=functools.partial(plan.table, dims, magnetic=False),
                )
            )
        return parts

    def read(
        self,
        time_range: tuple[object, object] | None = None,
        *,
        where: Mapping[str, Sequence[str] | str] | None = None,
        measures: Sequence[str] | None = None,
        as_of: object | None = None,
    ) -> pd.DataFrame:
        """Points across both tiers as a long DataFrame, sorted by series then time.

        Parameters
        ----------
        time_range : (start, end), optional
            ``start <= time < end``; either may be None (open). Strings, datetimes and
            Timestamps are accepted; tz-naive values are UTC.
        where : dict, optional
            Allowed values per dimension (or ``measure_name``): ``{"device_id": ["m-1", "m-2"]}``.
        measures : list of str, optional
            Measure columns to return (default all).
        as_of : Timestamp or str, optional
            Read the magnetic tier as it was at that time, or at that snapshot id (time travel).

        Returns
        -------
        DataFrame
            Columns: dimensions, ``measure_name`` (when any point has one), ``time``
            (``datetime64[ns, UTC]``) and measures (pandas nullable dtypes).
        """
        pts = self._read_points(time_range, where, measures, as_of)
        return _sorted_frame(pts, self._entry.schema, measures)

    def scan(
        self,
        time_range: tuple[object, object] | None = None,
        *,
        where: Mapping[str, Sequence[str] | str] | None = None,
        measures: Sequence[str] | None = None,
        dimensions: Sequence[str] | None = None,
        as_of: object | None = None,
        distinct_dictionaries: bool = True,
        filters: Sequence[RowFilter] = (),
        state: TableState | None = None,
        series_key: bool = False,
        newest_rows: bool = False,
    ) -> pa.Table:
        """Points across both tiers as an Arrow table, in no particular order (the query
        engine's input; :meth:`read` is the sorted, pandas form). The schema metadata
        ``tsstore.rows_magnetic`` and ``tsstore.rows_memory`` count the rows from each tier,
        ``tsstore.bytes_magnetic`` and ``tsstore.bytes_memory`` their decoded bytes, and
        ``tsstore.partitions_scanned`` / ``tsstore.partitions_total`` the magnetic partitions
        opened out of those stored (the rest were pruned by time).

        Columns: the dimensions (all, or ``dimensions``; dictionary-encoded strings),
        ``measure_name``, ``time`` (``timestamp[ns, UTC]``) and the measures (all, or
        ``measures``) with real nulls. Other arguments as in :meth:`read`.

        ``distinct_dictionaries=False`` gives key columns one dictionary entry per series
        (duplicates allowed) sharing one index array: no work per row and per key, for
        consumers that read values rather than codes (the SQL kernel); pandas' Categorical
        needs the default.

        ``filters`` (:class:`~tsstore.model.schema.RowFilter`, ``measure <op> number``) drop
        rows early: each tier reads the filter's measure first and the other columns only for
        the rows that pass. Nulls never pass. Where most of a memory run's or a magnetic
        segment's selected rows pass, the rows that fail may stay (a superset: the query
        engine applies its WHERE again, and that costs less than gathering the others).

        ``state`` (from :meth:`state`) reads that state of the table instead of the latest:
        reads given the same state agree with each other whatever was written in between.

        ``series_key`` adds an int32 column ``__tsstore_series`` (``codec.SERIES_KEY``), last:
        equal for rows with equal values of ``dimensions`` (none equal to none), different
        otherwise. The SQL kernel groups and partitions by it (:mod:`tsstore.query.serieskey`).

        ``newest_rows`` (with ``distinct_dictionaries=False``) allows leaving out rows older
        than their series' newest time in ``time_range``: the memory tier then gives each
        series' newest row only (where its runs' last rows tell it), the magnetic tier each
        segment's last row of each series. For a query that keeps each series' (or group of
        series') newest row alone (:mod:`tsstore.query.latest`).
        """
        plan = self._read_plan(time_range, where, measures, as_of, filters, state)
        dims = self._dims(dimensions)
        if not distinct_dictionaries:
            table = plan.table(dims, series_key=series_key, newest_rows=newest_rows)
        else:
            pts = plan.points(ordered=False)
            key = series_key_ids([pts.keys], dims)[0] if series_key else None
            table = points_to_query_table(pts, dims, dict(plan.types), series_key=key)
        return table.replace_schema_metadata(
            {
                **{f"tsstore.rows_{tier}": str(n) for tier, n in plan.rows_read.items()},
                **{f"tsstore.{k}": str(n) for k, n in plan.read_stats.items()},
            }
        )

    def latest_times(
        self,
        time_range: tuple[object, object] | None = None,
        *,
        where: Mapping[str, Sequence[str] | str] | None = None,
        dimensions: Sequence[str] | None = None,
        state: TableState | None = None,
    ) -> pa.Table:
        """The newest time of each series with points in ``time_range``: the dimensions (all,
        or ``dimensions``), ``measure_name`` and ``time``, one row per series, in no order.

        Read from metadata when it can be: the magnetic segments' per-series time bounds and
        each memory run's last row per series, without decoding a point. Where metadata cannot
        tell (a memory run with replaced rows, a segment reaching past the range's end) the
        series' times are scanned. Other arguments as in :meth:`scan`.
        """
        plan = self._read_plan(time_range, where, [], None, (), state)
        newest = self._newest(plan)
        if newest is None:  # metadata cannot tell: scan the times, keep each series' last
            pts = plan.points(ordered=True)
            last = (
                np.flatnonzero(np.r_[pts.series[1:] != pts.series[:-1], True]) if len(pts) else []
            )
            newest = pts.take(np.asarray(last, dtype=np.int64))
        table = points_to_query_table(newest, self._dims(dimensions), {})
        if table.num_rows <= 1:
            return table
        keys = [c for c in table.column_names if c != "time"]
        plain = table.cast(
            pa.schema([pa.field(k, pa.string()) for k in keys] + [table.schema.field("time")])
        )
        return (
            plain.group_by(keys, use_threads=False)
            .aggregate([("time", "max")])
            .rename_columns([*keys, "time"])
        )

    def _newest(self, plan: _ReadPlan) -> Points | None:
        """Each series' newest time in ``plan``'s range from both tiers' metadata (a row per
        tier part and series), or None where metadata cannot tell."""
        start, end = plan.start, plan.end
        parts = []
        if start is None or start < plan.snap.watermark or plan.view is None:
            mag = plan.snap.newest(time_range=(start, end), where=plan.where or None)
            if mag is None:
                return None
            parts.append(mag)
        if plan.view is not None:
            w = plan.snap.watermark
            mem = plan.view.newest((w if start is None else max(start, w), end), plan.series)
            if mem is None:
                return None
            parts.append(mem)
        return _join_tiers(parts, plan.view, {})

    def _dims(self, dimensions: Sequence[str] | None) -> list[str]:
        dims = self._entry.schema.dimensions
        return list(dims) if dimensions is None else [d for d in dims if d in dimensions]

    def to_xarray(
        self,
        time_range: tuple[object, object] | None = None,
        *,
        freq: str = "10s",
        agg: str = "mean",
        where: Mapping[str, Sequence[str] | str] | None = None,
        measures: Sequence[str] | None = None,
    ) -> xr.Dataset:
        """The regular-grid cube ``(series, time)`` of the measures, aggregated per bin.

        Bins are ``freq`` wide (aligned to the epoch); ``agg`` is any pandas groupby
        aggregation (``"mean"``, ``"max"``, ``"last"`` ...). Empty bins are NaN.
        """
        step = parse_duration(freq, "freq")
        df = self.read(time_range, where=where, measures=measures)
        dims = [d for d in self._entry.schema.dimensions if d in df.columns]
        keys = dims + ([MEASURE_NAME] if MEASURE_NAME in df.columns else [])
        values = [c for c in df.columns if c not in (*keys, "time")]
        numeric = [
            c
            for c in values
            if pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
        df = df.assign(time=df["time"].dt.floor(step))
        grid = df.groupby([*keys, "time"], sort=True, dropna=False)[numeric].agg(agg)
        grid = grid.astype("float64")
        series = grid.index.droplevel("time").unique()
        times = pd.date_range(df["time"].min(), df["time"].max(), freq=step) if len(df) else []
        full = pd.MultiIndex.from_product([range(len(series)), times], names=["series", "time"])
        code = series.get_indexer(grid.index.droplevel("time"))
        grid.index = pd.MultiIndex.from_arrays(
            [code, grid.index.get_level_values("time")], names=["series", "time"]
        )
        ds = grid.reindex(full).to_xarray()
        for i, k in enumerate(keys):
            ds = ds.assign_coords({k: ("series", series.get_level_values(i).to_numpy(object))})
        ds.attrs.update(freq=str(freq), agg=agg, table=self.full_name)
        return ds

    @property
    def memory(self) -> MemoryTier:
        """The memory tier (``table.memory.to_xarray()`` is the in-RAM cube)."""
        return self._memory

    @property
    def magnetic(self) -> MagneticTier:
        return self._magnetic

    def describe(self) -> dict[str, Any]:
        """Rows and bytes per tier, series, time range, retention, schema and billed bytes.

        ``partition_duration`` is the magnetic partition width in use (``"auto"`` while the
        table's first points have yet to reach the magnetic tier and choose it);
        ``partition_duration_setting`` is what the table was created with.
        """
        self.refresh()
        with self._publish:
            view = self._memory.view()
            snap = self._latest()
        mem_rows = view.rows
        mag_rows = snap.rows()
        lo, hi = _time_bounds(view, snap)
        mag_bytes = self._magnetic.size_bytes()
        width = self._magnetic.partition_width(snap)
        ret = self._entry.retention
        return {
            "database": self.database,
            "table": self.name,
            "memory_retention": ret.to_json()["memory"],
            "magnetic_retention": ret.to_json()["magnetic"],
            "magnetic_store_writes": self._entry.magnetic_store_writes,
            "partition_duration": (
                AUTO if width is None else format_duration(pd.Timedelta(width, unit="ns"))
            ),
            "partition_duration_setting": format_partition_duration(self._entry.partition_duration),
            "dimensions": list(self._entry.schema.dimensions),
            "measures": {k: v.value for k, v in self._entry.schema.measures.items()},
            "series": len(self._memory.registry),
            "memory_rows": mem_rows,
            "memory_bytes": view.nbytes,
            "magnetic_rows": mag_rows,
            "magnetic_bytes": mag_bytes,
            "wal_bytes": self._wal.size_bytes,
            "time_min": None if lo is None else pd.Timestamp(lo, tz="UTC"),
            "time_max": None if hi is None else pd.Timestamp(hi, tz="UTC"),
            "watermark": pd.Timestamp(snap.watermark, tz="UTC") if snap.watermark else None,
            "bytes_ingested": self._bytes_ingested,
            "bytes_stored_memory": view.nbytes,
            "bytes_stored_magnetic": mag_bytes,
        }

    def state(self) -> TableState:
        """The table's current state (both tiers, captured together), for reads that must
        agree: a query reading the table more than once passes it to each :meth:`scan`."""
        self.refresh()
        with self._publish:
            return TableState(self._latest(), self._memory.view())

    def extent(self) -> tuple[int | None, int | None, int]:
        """Bounds of the stored times and the number of rows stored, from metadata only.

        Returns ``(tmin, tmax, rows)``: every stored point's time (int ns since the epoch, UTC)
        lies in ``[tmin, tmax]`` (``(None, None, 0)`` when the table is empty). The bounds are
        those of the memory tier's runs and the magnetic tier's segments, so points deleted
        since may leave them wider than the live data.
        """
        self.refresh()
        with self._publish:
            view = self._memory.view()
            snap = self._latest()
        lo, hi = _time_bounds(view, snap)
        return lo, hi, view.rows + snap.rows()

    def update(
        self,
        *,
        memory_retention: object | None = None,
        magnetic_retention: object | None = None,
        magnetic_store_writes: bool | None = None,
    ) -> Table:
        """Change the retention or magnetic store writes; takes effect at the next write or
        lifecycle pass."""
        self._check_writable()
        from tsstore.model.durations import Retention

        ret = self._entry.retention
        new = Retention.parse(
            memory_retention if memory_retention is not None else ret.memory,
            magnetic_retention if magnetic_retention is not None else ret.magnetic,
        )
        changes: dict[str, Any] = {"retention": new}
        if magnetic_store_writes is not None:
            changes["magnetic_store_writes"] = bool(magnetic_store_writes)
        with self._lock:
            self._update_entry(**changes)
        return self

    # -- lifecycle --------------------------------------------------------------------------
    def run_lifecycle(self, now: pd.Timestamp | None = None) -> LifecycleResult:
        """Migrate points older than the memory retention; delete those past the magnetic one.

        Writes and queries go on while the magnetic tier commits: queries read the state
        before the migration until it is published (one short lock); writes wait only if they
        hold points below the new watermark (late points, which go to the magnetic tier).
        """
        self._check_writable()
        with self._lifecycle:
            with self._lock:
                now = to_utc_timestamp(now if now is not None else self._clock(), "now")
                ret = self._entry.retention
                target = _ns(now - ret.memory)
                pts = None
                if target > self._watermark:
                    pts = self._memory.select_before(target)
                    self._latest()  # readers keep this snapshot until the migration is published
                    self._migrating_to = target
            moved = 0
            if pts is not None:
                try:
                    self._magnetic.write(compact_keys(pts), watermark=target, kind="migrate")
                    with self._lock:
                        with self._publish:
                            self._snapshot = None
                            self._watermark = target
                            moved = self._memory.drop_before(target)
                        self._wal.truncate_before(target)
                finally:
                    with self._lock:
                        self._migrating_to = None
                        self._migrated.notify_all()
            # Deletion and compaction open a transaction only when the newest snapshot (the
            # writer's own: only its commits move the branch) says there is work: an idle pass
            # costs one snapshot read instead of two empty transactions. Neither changes what a
            # query sees within the retention, so both commit without the writers' lock.
            latest = self._latest()
            cutoff = _ns(now - ret.memory - ret.magnetic)
            oldest, _ = latest.time_bounds()
            deleted = 0
            if oldest is not None and oldest < cutoff:
                try:
                    deleted = self._magnetic.delete_before(cutoff)
                finally:
                    self._forget_snapshot()
            compacted = 0
            if latest.compaction_due(COMPACT_SEGMENTS, self._watermark, OPEN_MAX_SEGMENTS):
                try:
                    compacted = self._magnetic.compact(
                        max_segments=COMPACT_SEGMENTS,
                        sealed_before=self._watermark,
                        open_max_segments=OPEN_MAX_SEGMENTS,
                    )
                finally:
                    self._forget_snapshot()
            self._maybe_maintain()
            with self._lock:
                if self._bytes_ingested != self._entry.bytes_ingested:
                    self._update_entry(bytes_ingested=self._bytes_ingested)
                watermark = self._watermark
            return LifecycleResult(
                self.full_name, moved, deleted, pd.Timestamp(watermark, tz="UTC"), compacted
            )

    def maintain(self, *, keep_snapshots: object = SNAPSHOT_RETENTION) -> dict[str, int]:
        """Expire magnetic snapshots older than ``keep_snapshots`` and delete the objects no
        snapshot needs any more (what compactions and rewrites left behind).

        Time travel (``read(as_of=...)``) reaches back ``keep_snapshots``. The lifecycle does
        this at most hourly with the default of 7 days; call it to reclaim space at once.
        """
        self._check_writable()
        keep = parse_duration(keep_snapshots, "keep_snapshots")
        with self._lifecycle:
            try:
                out = self._magnetic.maintain(keep_snapshots=keep)
            finally:
                self._forget_snapshot()
            self._last_maintain = time.monotonic()
            return out

    def _maybe_maintain(self) -> None:
        """Expire old snapshots and collect garbage, at most once per MAINTAIN_EVERY (wall time:
        icechunk stamps snapshots with the wall clock)."""
        wall = time.monotonic()
        if wall - self._last_maintain < MAINTAIN_EVERY.total_seconds():
            return
        try:
            self._magnetic.maintain(keep_snapshots=SNAPSHOT_RETENTION)
        finally:
            self._forget_snapshot()
        self._last_maintain = wall

    def close(self) -> None:
        with self._lifecycle, self._lock:
            if not self.read_only and self._bytes_ingested != self._entry.bytes_ingested:
                self._update_entry(bytes_ingested=self._bytes_ingested)
            self._wal_thread.shutdown()
            self._wal.close()
            self._magnetic.close()


def _time_bounds(view: MemoryView, snap: MagneticSnapshot) -> tuple[int | None, int | None]:
    """Smallest and largest time (int ns) of the memory runs and magnetic segments."""
    mag_lo, mag_hi = snap.time_bounds()
    mem_lo = min((r.tmin for r in view.runs if len(r)), default=None)
    mem_hi = max((r.tmax for r in view.runs if len(r)), default=None)
    lo = min((t for t in (mag_lo, mem_lo) if t is not None), default=None)
    hi = max((t for t in (mag_hi, mem_hi) if t is not None), default=None)
    return lo, hi


def _applied_lsn(magnetic: MagneticTier) -> int:
    """The newest write-ahead log frame whose late rows the magnetic tier already holds."""
    best = 0
    for snap in magnetic.history():
        batch = snap.get("batch_id") or ""
        if isinstance(batch, str) and batch.startswith("lsn:"):
            best = max(best, int(batch[4:]))
    return best


def _gather(order: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values[order]


#: Rows at most in one group of frames decoded together (bounds the concatenated copy).
_GROUP_ROWS = 1 << 20


def _frame_groups(entries: Iterable[WalEntry]) -> Iterator[list[WalEntry]]:
    """Runs of consecutive log entries that decode as one table: the same series keys, the
    same Arrow schema, no late rows (those are applied frame by frame), at most
    ``_GROUP_ROWS`` rows."""
    group: list[WalEntry] = []
    rows = 0
    for entry in entries:
        if group:
            head = group[0]
            if (
                entry.meta.get("late", 0)
                or head.meta.get("late", 0)
                or rows + entry.table.num_rows > _GROUP_ROWS
                or entry.meta["keys"] != head.meta["keys"]
                or entry.meta["types"] != head.meta["types"]
                or not entry.table.schema.equals(head.table.schema)
            ):
                yield group
                group, rows = [], 0
        group.append(entry)
        rows += entry.table.num_rows
    if group:
        yield group


def _last_wins(p: Points) -> Points:
    """``p`` without the earlier rows of each repeated identity (series, time)."""
    order = np.lexsort((np.arange(len(p)), p.time, p.series))
    s, t = p.series[order], p.time[order]
    repeated = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    if not repeated.any():
        return p
    keep = np.append(~repeated, True)  # the last row of each run of one identity
    return p.take(np.sort(order[keep]))


def _billed_bytes(p: Points, key_bytes: np.ndarray) -> int:
    """Bytes as Timestream bills ingestion: time, dimension values, measure names and values.

    ``p`` holds registered series ids; ``key_bytes`` the registry's characters per series.
    """
    if not len(p):
        return 0
    per_row = int(key_bytes[p.series].sum())
    return int(8 * len(p) + per_row + 8 * len(p) * len(p.columns))


def _parse_range(time_range: tuple[object, object] | None) -> tuple[int | None, int | None]:
    if time_range is None:
        return None, None
    if not isinstance(time_range, tuple | list) or len(time_range) != 2:
        raise ValidationError(f"time_range must be (start, end), got {time_range!r}")
    out = []
    for what, v in zip(("start", "end"), time_range, strict=True):
        out.append(None if v is None else _ns(to_utc_timestamp(v, f"time_range {what}")))
    return out[0], out[1]


def _sorted_frame(pts: Points, schema: TableSchema, measures: Sequence[str] | None) -> pd.DataFrame:
    keys = pts.keys
    dims = [d for d in schema.dimensions if d in keys.columns]
    if len(pts):
        order_keys = keys.reindex(columns=[*dims, MEASURE_NAME]).fillna("").astype(str)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[np.lexsort([order_keys[c].to_numpy() for c in reversed(order_keys.columns)])] = (
            np.arange(len(keys))
        )
        order = np.lexsort((pts.time, rank[pts.series]))
        pts = pts.take(order)
    wanted = list(measures) if measures is not None else list(schema.measures)
    pts = pts.with_types({m: schema.measures[m] for m in wanted if m in schema.measures})
    df = pts.to_pandas(dimensions=list(schema.dimensions))
    cols = [*schema.dimensions, MEASURE_NAME, "time", *[m for m in wanted if m in pts.columns]]
    df = df[cols]
    if df[MEASURE_NAME].isna().all():
        df = df.drop(columns=MEASURE_NAME)
    return df.reset_index(drop=True)


def _overlaps_runs(view: Any, start: int | None, end: int | None) -> bool:
    """Whether a memory view may hold rows in ``[start, end)`` (an empty tier adds no part)."""
    return any(
        (start is None or run.tmax >= start) and (end is None or run.tmin < end)
        for run in view.runs
    )


def _join_tiers(parts: list[Points], view: MemoryView | None, types: dict[str, Any]) -> Points:
    """The points of both tiers' reads as one, keyed by the memory tier's series keys."""
    parts = [p for p in parts if len(p)]
    if not parts:
        keys = view.keys if view is not None else pd.DataFrame()
        return Points.empty(keys, types)
    # One tier only (the common case): its rows keep their own series keys, no re-keying.
    keys = parts[0].keys if len(parts) == 1 or view is None else view.keys
    return Points.concat([p.remap(keys) if p.keys is not keys else p for p in parts])


@dataclass(frozen=True, slots=True)
class TableState:
    """One consistent state of a table's two tiers (see :meth:`Table.state`): immutable, so
    holding it costs nothing but keeping that state's data alive."""

    snap: MagneticSnapshot
    view: MemoryView


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """One consistent state of both tiers for a read: a magnetic snapshot and the memory view
    taken together (under the table lock), and the read's filters."""

    snap: MagneticSnapshot
    view: Any  # MemoryView, or None when reading as of an old snapshot
    series: np.ndarray | None
    start: int | None
    end: int | None
    where: dict[str, list[str]]
    measures: list[str] | None
    types: dict[str, Any]
    filters: tuple[RowFilter, ...] = ()
    #: Rows read so far per tier (for query statistics).
    rows_read: dict[str, int] = field(default_factory=lambda: {"magnetic": 0, "memory": 0})
    #: Bytes read so far per tier and magnetic partitions opened / pruned (query statistics).
    read_stats: dict[str, int] = field(default_factory=dict)

    def points(
        self,
        lo: int | None = None,
        hi: int | None = None,
        *,
        magnetic: bool = True,
        memory: bool = True,
        ordered: bool = True,
        newest_rows: bool = False,
    ) -> Points:
        """The rows in ``[lo, hi)`` (within the plan's range) from the chosen tiers; each
        tier's rows ordered by (series, time) unless ``ordered`` is false (queries)."""
        start = self.start if lo is None else (lo if self.start is None else max(lo, self.start))
        end = self.end if hi is None else (hi if self.end is None else min(hi, self.end))
        parts = []
        # The magnetic tier holds only points below its watermark (the invariant), so a range
        # at or above it need not open the snapshot's segments at all.
        below_watermark = start is None or start < self.snap.watermark or self.view is None
        stats = self.read_stats
        if magnetic:
            total = len(self.snap.manifest_partitions())
            kept = len(self.snap.partitions((start, end))) if below_watermark else 0
            stats["partitions_total"] = stats.get("partitions_total", 0) + total
            stats["partitions_scanned"] = stats.get("partitions_scanned", 0) + kept
        if magnetic and below_watermark:
            mag = self.snap.read(
                time_range=(start, end),
                where=self.where or None,
                measures=self.measures,
                filters=self.filters,
                newest_rows=newest_rows,
                loose_filters=True,  # only the query engine's scans have filters
            )
            self.rows_read["magnetic"] += len(mag)
            stats["bytes_magnetic"] = stats.get("bytes_magnetic", 0) + mag.nbytes
            parts.append(mag)
        if memory and self.view is not None:
            w = self.snap.watermark
            floor = w if start is None else max(start, w)
            mem = self.view.read(
                time_range=(floor, end),
                series=self.series,
                measures=self.measures,
                filters=self.filters,
                ordered=ordered,
            )
            self.rows_read["memory"] += len(mem)
            stats["bytes_memory"] = stats.get("bytes_memory", 0) + mem.nbytes
            parts.append(mem)
        return _join_tiers(parts, self.view, dict(self.types))

    def table(
        self,
        dimensions: list[str],
        *,
        magnetic: bool = True,
        series_key: bool = False,
        newest_rows: bool = False,
    ) -> pa.Table:
        """The plan's rows (of both tiers, or of the memory tier) as the query engine's Arrow
        table, one dictionary entry per series (``Table.scan(distinct_dictionaries=False)``).
        The memory tier's rows are slices of its runs where it can (no copy: see
        :meth:`MemoryView.read_table`). ``series_key`` adds the ``SERIES_KEY`` column, its
        ids numbered across both tiers (:func:`~tsstore.storage.codec.series_key_ids`).
        ``newest_rows``: each series' newest rows only, or a few more: the memory tier's
        where its runs tell (``MemoryView.read_table``), each magnetic segment's last row of
        each series (``MagneticSnapshot.read``)."""
        types = dict(self.types)
        mag = self.points(memory=False, newest_rows=newest_rows) if magnetic else None
        if mag is not None and not len(mag):
            mag = None
        mem_keys = self.view.keys if self.view is not None else None
        key_mag = key_mem = None
        if series_key:
            # the memory tier's selected series only (a read of a few devices of thousands)
            picked = self.series if mem_keys is not None and self.series is not None else None
            if picked is not None:
                picked = picked[picked < len(mem_keys)]
            mem_frame = mem_keys if picked is None else mem_keys.iloc[picked]
            key_mag, key_sel = series_key_ids(
                [None if mag is None else mag.keys, mem_frame], dimensions
            )
            key_mem = key_sel
            if picked is not None:  # unselected series never appear in the read
                key_mem = np.full(len(mem_keys), -1, dtype=np.int32)
                key_mem[picked] = key_sel
        tables = []
        if mag is not None:
            tables.append(
                points_to_query_table(
                    mag, dimensions, types, distinct_dictionaries=False, series_key=key_mag
                )
            )
        if self.view is not None:
            w = self.snap.watermark
            mem, rows, nbytes = self.view.read_table(
                dimensions=dimensions,
                types=types,
                time_range=(w if self.start is None else max(self.start, w), self.end),
                series=self.series,
                filters=self.filters,
                series_key=key_mem,
                newest_rows=newest_rows,
            )
            self.rows_read["memory"] += rows
            self.read_stats["bytes_memory"] = self.read_stats.get("bytes_memory", 0) + nbytes
            if mem is not None:
                tables.append(mem)
        if not tables:
            empty = Points.empty(mem_keys, types)
            return points_to_query_table(
                empty,
                dimensions,
                types,
                distinct_dictionaries=False,
                series_key=np.zeros(len(empty.keys), np.int32) if series_key else None,
            )
        return concat_query_tables(tables)
