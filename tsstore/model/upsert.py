"""Timestream's upsert rules on a point's identity (dimensions, measure name, time).

For a record whose identity is already stored:

- the same value: the record is de-duplicated (nothing changes);
- a different value and a higher version: the record replaces the stored one;
- a different value and a lower or equal version: the record is rejected, and the rejection
  carries the stored version (``ExistingVersion``).

Records of one write are applied in order, so two records of one write with the same identity
follow the same rules between themselves.
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
    """Apply the rules among the records of one write; return unique points sorted by identity."""
    order = new.sort_order()
    pts = new.take(order)
    if len(pts) < 2:
        return pts, []
    same_as_prev = (pts.series[1:] == pts.series[:-1]) & (pts.time[1:] == pts.time[:-1])
    if not same_as_prev.any():
        return pts, []
    rejected: list[Rejection] = []
    keep = np.ones(len(pts), dtype=bool)
    versions = pts.versions().copy()
    rows = pts.row if pts.row is not None else np.arange(len(pts))
    types = pts.types
    starts = np.flatnonzero(np.concatenate([[True], ~same_as_prev]))
    ends = np.concatenate([starts[1:], [len(pts)]])
    dup_groups = np.flatnonzero(ends - starts > 1)
    for g in dup_groups:
        cur = starts[g]  # the stored record so far; later records in write order follow
        for j in range(starts[g] + 1, ends[g]):
            idx = np.array([cur]), np.array([j])
            if _values_equal(pts, idx[0], pts, idx[1], types)[0]:
                keep[j] = False
                versions[cur] = max(versions[cur], versions[j])
            elif versions[j] > versions[cur]:
                keep[cur] = False
                cur = j
            else:
                keep[j] = False
                rejected.append(Rejection(int(rows[j]), CONFLICT_REASON, int(versions[cur])))
    if pts.version is not None:
        pts.version = versions
    return pts.take(keep), rejected


@dataclass(slots=True)
class UpsertPlan:
    """What a write changes: rows to insert, stored rows they replace, and rejections."""

    insert: Points
    replaced: np.ndarray  # positions in ``existing`` to delete
    rejected: list[Rejection]


def plan_upsert(existing: Points, new: Points) -> UpsertPlan:
    """Apply the rules between stored points and a write (both in one key space).

    ``new`` must hold unique identities (see :func:`resolve_duplicates`).
    """
    if len(existing) == 0 or len(new) == 0:
        return UpsertPlan(new, np.empty(0, np.int64), [])
    left = pd.DataFrame({"s": existing.series, "t": existing.time, "i": np.arange(len(existing))})
    right = pd.DataFrame({"s": new.series, "t": new.time, "j": np.arange(len(new))})
    m = left.merge(right, on=["s", "t"], how="inner")
    if m.empty:
        return UpsertPlan(new, np.empty(0, np.int64), [])
    ie, jn = m["i"].to_numpy(), m["j"].to_numpy()
    types = {**existing.types, **new.types}
    equal = _values_equal(existing, ie, new, jn, types)
    ev, nv = existing.versions()[ie], new.versions()[jn]
    replace = ~equal & (nv > ev)
    reject = ~equal & ~replace
    drop = np.zeros(len(new), dtype=bool)
    drop[jn[equal | reject]] = True
    rows = new.row if new.row is not None else np.arange(len(new))
    rejected = [
        Rejection(int(rows[j]), CONFLICT_REASON, int(v))
        for j, v in zip(jn[reject], ev[reject], strict=True)
    ]
    return UpsertPlan(new.take(~drop), ie[replace].astype(np.int64), rejected)
