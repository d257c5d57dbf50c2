"""Timestream's upsert rules on a point's identity (dimensions, measure name, time).

For a record whose identity is already stored:

- a higher version: the record replaces the stored one (when the value is the same, only the
  version changes, as in Timestream);
- the same value and a lower or equal version: the record is de-duplicated (nothing changes);
- a different value and a lower or equal version: the record is rejected, and the rejection
  carries the stored version (``ExistingVersion``).

Records of one write are applied in order, so two records of one write with the same identity
follow the same rules between themselves: the outcome is exactly that of writing the records one
at a time. Only :func:`plan_upsert` sees both the stored record and the write, so it applies the
rules; :func:`resolve_duplicates` only orders the write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsstore.model.points import Points
from tsstore.model.records import Rejection
from tsstore.model.schema import MeasureType, empty_column, null_mask

__all__ = ["CONFLICT_REASON", "UpsertPlan", "plan_upsert", "resolve_duplicates"]

CONFLICT_REASON = (
    "A record with the same dimensions, timestamp, and measure name already exists with a "
    "different value and an equal or higher version. Write it with a higher Version to update it."
)


def _values_equal(
    a: Points, ia: np.ndarray, b: Points, ib: np.ndarray, types: dict[str, MeasureType]
) -> np.ndarray:
    """Row-wise equality of ``a[ia]`` and ``b[ib]`` over every measure (null equals null)."""
    eq = np.ones(len(ia), dtype=bool)
    for name, mtype in types.items():
        va = a.columns[name][ia] if name in a.columns else empty_column(mtype, len(ia))
        vb = b.columns[name][ib] if name in b.columns else empty_column(mtype, len(ib))
        na, nb = null_mask(va, mtype), null_mask(vb, mtype)
        same = na & nb
        both = ~na & ~nb
        if mtype is MeasureType.VARCHAR:
            same[both] = va[both] == vb[both]
        else:
            same |= both & (va == vb)
        eq &= same
    return eq


def resolve_duplicates(new: Points) -> tuple[Points, list[Rejection]]:
    """The records of one write ordered by identity, in write order within an identity.

    No record is dropped or rejected here: what happens to a repeated identity depends on the
    stored record too (a stored higher version rejects both records of ``[v2: a, v3: b]``; none
    lets the second replace the first), so :func:`plan_upsert` applies the rules to the whole
    chain. Returns the ordered points and an empty list (kept for callers that collect
    rejections from every stage).
    """
    return _write_ordered(new), []


def _write_ordered(new: Points) -> Points:
    """``new`` sorted by (series, time, position in the write)."""
    pts = new.sorted()
    if pts.row is None or len(pts) < 2:
        return pts
    same = (pts.series[1:] == pts.series[:-1]) & (pts.time[1:] == pts.time[:-1])
    if same.any() and np.any(pts.row[1:][same] < pts.row[:-1][same]):
        pts = pts.take(np.lexsort((pts.row, pts.time, pts.series)))
    return pts


@dataclass(slots=True)
class UpsertPlan:
    """What a write changes: rows to insert, stored rows they replace, and rejections."""

    insert: Points
    replaced: np.ndarray  # positions in ``existing`` to delete
    rejected: list[Rejection]


_NONE, _STORED, _NEW = 0, 1, 2


def plan_upsert(existing: Points, new: Points) -> UpsertPlan:
    """Apply the rules between stored points and a write (both in one key space).

    ``existing`` holds at most one row per identity. ``new`` may repeat an identity: its
    records are applied in write order (``new.row``, else position), so the plan is exactly
    that of writing the records one at a time. ``insert`` holds one row per identity, sorted
    by (series, time); ``replaced`` indexes ``existing``.
    """
    empty = np.empty(0, np.int64)
    if len(new) == 0:
        return UpsertPlan(new, empty, [])
    pts = _write_ordered(new)
    n = len(pts)
    first = np.ones(n, dtype=bool)
    first[1:] = (pts.series[1:] != pts.series[:-1]) | (pts.time[1:] != pts.time[:-1])
    starts = np.flatnonzero(first)
    if len(starts) == n and len(existing) == 0:  # no repeats, nothing stored: all new
        return UpsertPlan(pts, empty, [])
    sizes = np.diff(np.append(starts, n))
    groups = len(starts)

    # The state of every identity: nothing, a stored row (index into existing) or a new row.
    src = np.full(groups, _NONE, dtype=np.int8)
    idx = np.zeros(groups, dtype=np.int64)
    ver = np.zeros(groups, dtype=np.int64)
    stored_at = np.full(groups, -1, dtype=np.int64)
    if len(existing):
        left = pd.DataFrame(
            {"s": existing.series, "t": existing.time, "i": np.arange(len(existing))}
        )
        right = pd.DataFrame(
            {"s": pts.series[starts], "t": pts.time[starts], "g": np.arange(groups)}
        )
        m = left.merge(right, on=["s", "t"], how="inner")
        g, ie = m["g"].to_numpy(), m["i"].to_numpy()
        src[g], idx[g], ver[g], stored_at[g] = _STORED, ie, existing.versions()[ie], ie

    types = {**existing.types, **pts.types}
    versions = pts.versions()
    rows = pts.row if pts.row is not None else np.arange(n)
    rej_rows: list[np.ndarray] = []
    rej_vers: list[np.ndarray] = []
    for k in range(int(sizes.max())):
        gs = np.flatnonzero(sizes > k)  # identities with a k-th record
        j = starts[gs] + k
        vj = versions[j]
        fresh = src[gs] == _NONE
        higher = ~fresh & (vj > ver[gs])
        equal = np.zeros(len(gs), dtype=bool)
        for kind, table in ((_STORED, existing), (_NEW, pts)):
            sel = np.flatnonzero(src[gs] == kind)
            if len(sel):
                equal[sel] = _values_equal(table, idx[gs[sel]], pts, j[sel], types)
        reject = ~fresh & ~higher & ~equal
        if reject.any():
            rej_rows.append(rows[j[reject]])
            rej_vers.append(ver[gs[reject]])
        take = fresh | higher  # the record becomes the identity's state
        src[gs[take]], idx[gs[take]], ver[gs[take]] = _NEW, j[take], vj[take]

    winners = np.flatnonzero(src == _NEW)  # group order: sorted by (series, time)
    replaced = stored_at[winners]
    rejected = [
        Rejection(int(r), CONFLICT_REASON, int(v))
        for r, v in zip(
            np.concatenate(rej_rows or [empty]), np.concatenate(rej_vers or [empty]), strict=True
        )
    ]
    return UpsertPlan(
        pts.take(idx[winners]), np.sort(replaced[replaced >= 0]).astype(np.int64), rejected
    )
