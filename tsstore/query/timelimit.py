"""Newest first: a LIMIT over time buckets reads only the buckets it needs.

A dashboard's commonest query is "the latest N": ``ORDER BY time DESC LIMIT 10``, or the last
N buckets of an aggregate, ``GROUP BY bin(time, 1m) ORDER BY 1 DESC LIMIT 5``. Its answer
lies in the newest few minutes of the table, yet a plain plan scans every row the WHERE
allows and lets the kernel throw nearly all of them away.

:func:`time_limit` recognises such a query: one table, no join, subquery or window function,
LIMIT k, and a first ORDER BY key ``g`` that is ``time`` or a fixed-width bucket of it
(``bin(time, d)``, ``date_trunc('minute', time)`` ...) and, with a GROUP BY, one of its keys.
Every row or group then belongs to exactly one bucket of ``g``, and a scan cut at a bucket
boundary ``s`` returns *exactly* the query's rows whose ``g >= s``: whole groups, nothing
partial. If that gives at least k rows (``k`` = LIMIT + OFFSET), they are the query's first k
rows, since every row left out sorts after them.

:func:`ranges` yields the cuts to try, newest first: from the bucket of the newest stored time
back over enough buckets for k rows (at least k buckets; for raw rows, twice the span that
holds k rows at the table's mean density), then eight times as far each round, and finally the
query's own range. The engine runs the query on each cut in turn and stops at the first that
returns k rows. ``ORDER BY ... ASC`` works the same way from the oldest time. HAVING and
filters on any column are safe (they act within whole groups); a result with fewer than k
rows simply widens the cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

from tsstore.query.planner import _aggregates, _resolve_key, _simple_select, _unalias
from tsstore.query.translate import _fixed_ns

__all__ = ["TRUNC_NS", "TimeLimit", "ranges", "time_limit"]

#: Fixed-width units of ``date_trunc`` (epoch-aligned in UTC, the kernel's session zone).
TRUNC_NS = {
    "MICROSECOND": 1_000,
    "MILLISECOND": 1_000_000,
    "SECOND": 10**9,
    "MINUTE": 60 * 10**9,
    "HOUR": 3600 * 10**9,
    "DAY": 86400 * 10**9,
}

#: How much further each round reaches back than the one before.
GROWTH = 8


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A query whose LIMIT is met by the newest (or oldest) buckets of one scan's time.

    Attributes
    ----------
    alias : str
        The scan.
    width : int
        Width of the ORDER BY key's buckets in ns (1: ``time`` itself).
    limit : int
        The LIMIT: a result with this many rows is complete.
    rows : int
        LIMIT + OFFSET: the rows a cut must produce before the LIMIT.
    newest : bool
        ``ORDER BY ... DESC`` (else ASC: oldest first).
    """

    alias: str
    width: int
    limit: int
    rows: int
    newest: bool

    def describe(self) -> str:
        first = "newest" if self.newest else "oldest"
        unit = "rows" if self.width == 1 else f"buckets of {self.width} ns"
        return (
            f"time limit: LIMIT {self.limit} over {first} {unit} of {self.alias}: reads the "
            f"{first} buckets first, {GROWTH}x further each round, until {self.rows} rows"
        )


def _count(node: exp.Expression | None) -> int | None:
    """The integer of a LIMIT / OFFSET clause (None when absent or not a literal)."""
    value = node.args.get("expression") if node is not None else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return None


def _width(node: exp.Expression) -> int | None:
    """Bucket width (ns) of ``time``, ``bin(time, d)`` or ``date_trunc(unit, time)``."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return 1 if node.name == "time" else None
    if isinstance(node, exp.Anonymous) and node.name.lower() == "bin":
        if len(node.expressions) != 2:
            return None
        ts, duration = node.expressions
        return _fixed_ns(duration) if _width(ts) == 1 else None
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and _width(node.this) == 1:
        unit = node.args.get("unit")
        return TRUNC_NS.get(unit.name.upper()) if isinstance(unit, exp.Var) else None
    return None


def time_limit(ast: exp.Expression, aliases: dict[str, list[str]]) -> TimeLimit | None:
    """The :class:`TimeLimit` of a bound query over scans ``aliases`` (alias -> its columns),
    or None when the query is not one (see the module docstring)."""
    node = _simple_select(ast, set(aliases))
    if node is None or not isinstance(ast, exp.Select) or ast.args.get("distinct"):
        return None
    order = ast.args.get("order")
    limit = _count(ast.args.get("limit"))
    offset = _count(ast.args.get("offset")) if ast.args.get("offset") is not None else 0
    if order is None or not order.expressions or not limit or offset is None:
        return None
    if ast.find(exp.Window) is not None:
        return None
    items = ast.expressions
    columns = set(aliases[node.name])
    first = order.expressions[0]
    key = first.this
    # An output name first (ORDER BY sees the SELECT's aliases), then the input column.
    if isinstance(key, exp.Column) and not key.table:
        named = [i.this for i in items if isinstance(i, exp.Alias) and i.alias == key.name]
        key = named[0].copy() if len(named) == 1 else key
    key = _resolve_key(key, items, columns)
    width = _width(key)
    if width is None:
        return None
    group = ast.args.get("group")
    if group is not None:
        keys = [_resolve_key(g, items, columns) for g in group.expressions]
        if not any(k == key for k in keys):
            return None
    elif _aggregates([_unalias(i) for i in items]) or ast.args.get("having") is not None:
        return None  # one global aggregate: nothing to cut
    return TimeLimit(node.name, width, limit, limit + offset, bool(first.args.get("desc")))


def ranges(
    limit: TimeLimit,
    lo: int | None,
    hi: int | None,
    tmin: int | None,
    tmax: int | None,
    stored: int,
) -> Iterator[tuple[int | None, int | None]]:
    """The ``[lo, hi)`` cuts to try in turn (int ns; None: open); the last is ``(lo, hi)``.

    ``lo`` / ``hi`` are the query's own range, ``tmin`` / ``tmax`` bounds of the stored times
    (every stored time lies within them) and ``stored`` the number of rows stored.
    """
    w = limit.width
    span = limit.rows * w
    if tmin is not None and tmax is not None and stored > 0 and tmax > tmin:
        span = max(span, math.ceil(2 * limit.rows * (tmax - tmin + 1) / stored))
    if tmin is not None and tmax is not None:
        if limit.newest:
            anchor = tmax if hi is None else min(hi - 1, tmax)
            top = anchor - anchor % w  # the newest bucket's start (floored, also before 1970)
            while True:
                start = top - (math.ceil(span / w) - 1) * w
                if start <= tmin or (lo is not None and start <= lo):
                    break
                yield start, hi
                span *= GROWTH
        else:
            anchor = tmin if lo is None else max(lo, tmin)
            bottom = anchor - anchor % w
            while True:
                end = bottom + math.ceil(span / w) * w
                if end > tmax or (hi is not None and end >= hi):
                    break
                yield lo, end
                span *= GROWTH
    yield lo, hi
