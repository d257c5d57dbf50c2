"""Independent parts of a table scan, for parallel and distributed execution.

:meth:`Table.scan_parts <tsstore.storage.table.Table.scan_parts>` splits a scan into one part per
magnetic partition plus one for the memory tier. A part is a callable returning the rows as an
Arrow table (the query engine's input, see :func:`~tsstore.storage.codec.points_to_query_table`).

Parts travel: a Dask scheduler may run them in threads of this process or pickle them to worker
processes on other machines.

- A :class:`MagneticPart` names what it reads (the tier's URL, the snapshot id, the time range,
  filters and columns), so a worker in another process opens the tier itself (once per process)
  and reads exactly the snapshot the query captured. In the process that planned the query it
  reads through the table's already open snapshot.
- A :class:`MemoryPart` reads the writer's RAM, which only this process holds: when pickled it
  is read first and travels as its Arrow rows (:class:`ArrowPart`). The memory tier holds recent
  data only, so this is small.

Nothing here is written to storage: pickling only moves tasks between live processes.
"""

from __future__ import annotations

import abc
import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tsstore.model.schema import MeasureType, RowFilter
from tsstore.storage.codec import points_to_query_table
from tsstore.storage.magnetic import MagneticSnapshot, MagneticTier

if TYPE_CHECKING:
    from tsstore.model.points import Points

__all__ = ["ArrowPart", "MagneticPart", "MemoryPart", "ScanPart"]


class ScanPart(abc.ABC):
    """One independent part of a scan; call it for its rows."""

    tier: str = ""

    @abc.abstractmethod
    def __call__(self) -> pa.Table:
        """The part's rows (see :func:`~tsstore.storage.codec.points_to_query_table`)."""


class ArrowPart(ScanPart):
    """Rows already read (a memory part after it travelled to another process)."""

    tier = "memory"

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __call__(self) -> pa.Table:
        return self.table


class MemoryPart(ScanPart):
    """The memory tier's rows of a scan, read from this process's RAM when called."""

    tier = "memory"

    def __init__(
        self,
        read: Any,
        dimensions: list[str],
        types: dict[str, MeasureType],
        distinct_dictionaries: bool = True,
        table: Any = None,
    ) -> None:
        self._read = read  # () -> Points, bound to the scan's consistent view
        self.dimensions = dimensions
        self.types = types
        self.distinct = distinct_dictionaries
        # () -> pa.Table, the kernel's table straight from the runs (no copy where it can)
        self._table = table

    def __call__(self) -> pa.Table:
        if not self.distinct and self._table is not None:
            return self._table()
        return points_to_query_table(
            self._read(), self.dimensions, self.types, distinct_dictionaries=self.distinct
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (ArrowPart, (self(),))


class MagneticPart(ScanPart):
    """One magnetic partition's rows of a scan, from the snapshot the query captured.

    Parameters
    ----------
    url, storage_options
        Where the table's magnetic tier lives (a worker process opens it from these).
    snapshot_id : str
        The snapshot to read: all parts of a query read the same one.
    start, end : int or None
        ``[start, end)`` in ns.
    where, measures, dimensions, types
        The scan's filters and columns.
    snapshot : MagneticSnapshot, optional
        The open snapshot in the planning process (not pickled).
    distinct_dictionaries, filters
        As in :meth:`Table.scan <tsstore.storage.table.Table.scan>`.
    """

    tier = "magnetic"

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None,
        snapshot_id: str,
        start: int | None,
        end: int | None,
        where: dict[str, list[str]],
        measures: list[str] | None,
        dimensions: list[str],
        types: dict[str, MeasureType],
        snapshot: MagneticSnapshot | None = None,
        distinct_dictionaries: bool = True,
        filters: tuple[RowFilter, ...] = (),
    ) -> None:
        self.url, self.storage_options, self.snapshot_id = url, storage_options, snapshot_id
        self.start, self.end = start, end
        self.where, self.measures = where, measures
        self.dimensions, self.types = dimensions, types
        self.distinct = distinct_dictionaries
        self.filters = filters
        self._snapshot = snapshot

    def __repr__(self) -> str:
        return f"MagneticPart({self.url!r}, [{self.start}, {self.end}))"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_snapshot"] = None
        state["types"] = {m: t.value for m, t in self.types.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["types"] = {m: MeasureType(t) for m, t in state["types"].items()}
        self.__dict__.update(state)

    @property
    def snapshot(self) -> MagneticSnapshot | None:
        """The open snapshot in the planning process (None after travelling)."""
        return self._snapshot

    def points(self) -> Points:
        snap = self._snapshot
        if snap is None:
            snap = _open_snapshot(self.url, self.storage_options, self.snapshot_id)
        return snap.read(
            time_range=(self.start, self.end),
            where=self.where or None,
            measures=self.measures,
            filters=self.filters,
        )

    def __call__(self) -> pa.Table:
        return points_to_query_table(
            self.points(), self.dimensions, self.types, distinct_dictionaries=self.distinct
        )


_TIERS: dict[tuple[str, str], MagneticTier] = {}
_SNAPSHOTS: OrderedDict[tuple[str, str, str], MagneticSnapshot] = OrderedDict()
_LOCK = threading.Lock()


def _open_snapshot(
    url: str, storage_options: dict[str, Any] | None, snapshot_id: str
) -> MagneticSnapshot:
    """A snapshot of the tier at ``url``; tiers and recent snapshots stay open per process."""
    tier_key = (url, json.dumps(storage_options or {}, sort_keys=True, default=str))
    snap_key = (*tier_key, snapshot_id)
    with _LOCK:
        snap = _SNAPSHOTS.get(snap_key)
        if snap is not None:
            _SNAPSHOTS.move_to_end(snap_key)
            return snap
        tier = _TIERS.get(tier_key)
        if tier is None:
            tier = _TIERS[tier_key] = MagneticTier.open(url, storage_options=storage_options)
    snap = tier.snapshot(snapshot_id)
    with _LOCK:
        _SNAPSHOTS[snap_key] = snap
        while len(_SNAPSHOTS) > 64:
            _SNAPSHOTS.popitem(last=False)
    return snap
