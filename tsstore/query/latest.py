"""The newest time of each series, from metadata: ``SELECT hostname, max(time) ... GROUP BY``.

"When did each device last report" reads, for every series, one number the store keeps
already: the magnetic segments index each series' time bounds, and each memory run's rows are
sorted by series and time. :func:`newest_only` recognises a SELECT that needs nothing else of
its one table: every aggregate is ``max(time)``, every other column it names is a series key
(a dimension or ``measure_name``), and its WHERE is a conjunction of conditions on keys and
*lower* bounds on ``time`` (``time > ago(1h)``). The engine then runs the same SQL over
``Table.latest_times`` (one row per series: its keys and newest time in the scan's range)
instead of the table's rows. The answer is the same: the max of a group's times is the max
of its series' newest times, and the WHERE, run again over that table, keeps exactly the
series it kept before (a series' newest time passes a lower bound when any of its times
does). An upper bound on ``time`` is not allowed: the scan's range is widened by a
microsecond at each end, and a series' newest time in the widened range could fall past the
exact bound while older times of the series do not.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["newest_only", "newest_rows_only"]

_LOWER = {exp.GT: "lower", exp.GTE: "lower", exp.LT: "upper", exp.LTE: "upper"}


def newest_only(select: exp.Expression, keys: set[str]) -> bool:
    """True when ``select`` (one table, columns ``keys`` its series keys) reads nothing of
    its table but each series' newest time (see the module docstring)."""
    if not isinstance(select, exp.Select) or select.args.get("joins"):
        return False
    if select.args.get("distinct") or any(
        select.find(kind) is not None for kind in (exp.Window, exp.Subquery, exp.Star)
    ):
        return False
    if len(list(select.find_all(exp.Select))) > 1 or len(list(select.find_all(exp.Table))) != 1:
        return False
    group = select.args.get("group")
    if group is not None and any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        return False
    aggregates = list(select.find_all(exp.AggFunc))
    if not aggregates or not all(_max_time(a) for a in aggregates):
        return False
    aliases = {e.alias for e in select.expressions if e.alias}
    for col in select.find_all(exp.Column):
        if col.find_ancestor(exp.AggFunc, exp.Where) is not None:
            continue  # the time inside max(time); the WHERE is checked below
        if col.name in keys:
            continue
        if col.name in aliases and col.find_ancestor(exp.Order, exp.Having) is not None:
            continue
        return False
    where = select.args.get("where")
    return where is None or all(_allowed(c, keys) for c in _conjuncts(where.this))


def _max_time(agg: exp.Expression) -> bool:
    return (
        isinstance(agg, exp.Max)
        and isinstance(agg.this, exp.Column)
        and agg.this.name == "time"
        and not agg.expressions
    )


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.unnest()
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _allowed(cond: exp.Expression, keys: set[str]) -> bool:
    """A condition on series keys only, or a lower bound of ``time`` by a constant."""
    cond = cond.unnest()
    columns = list(cond.find_all(exp.Column))
    if columns and all(c.name in keys for c in columns):
        return not any(cond.find(kind) is not None for kind in (exp.AggFunc, exp.Subquery))
    if type(cond) not in _LOWER or len(columns) != 1 or columns[0].name != "time":
        return False
    left, right = cond.this, cond.expression
    side = _LOWER[type(cond)]
    if right is columns[0]:  # const < time: the flipped comparison
        side = "lower" if side == "upper" else "upper"
        left = right
    return side == "lower" and left is columns[0]


def newest_rows_only(select: exp.Expression, keys: set[str]) -> bool:
    """True when the query around ``select`` keeps only each partition's newest row of its
    one table, so that the scan may read each series' newest rows alone.

    That is TSBS iot's ``last-loc`` and every "latest value per device" query::

        SELECT ... FROM (SELECT ..., row_number() OVER (PARTITION BY <keys> ORDER BY time DESC)
                         AS rn FROM t WHERE <keys and lower time bounds>) WHERE rn = 1

    ``select`` is the inner SELECT: one table, no join, grouping, aggregate or DISTINCT, one
    window, ``row_number()`` partitioned by series keys (``keys``: dimensions and
    ``measure_name``; none at all is allowed) and ordered by ``time DESC`` alone, and a WHERE
    of conditions on keys and lower bounds on ``time`` (as :func:`newest_only`). The query
    around it must keep only ``rn = 1`` (a conjunct of its WHERE). Each partition is then a
    union of whole series, so its newest row is at or after the newest time of every one of
    them: a scan of each series' newest rows (``Table.scan(newest_rows=True)``) holds every
    row the query keeps, ranked as a whole scan ranks it.
    """
    if not isinstance(select, exp.Select) or select.args.get("joins"):
        return False
    if any(select.args.get(k) for k in ("group", "having", "distinct", "qualify", "windows")):
        return False
    windows = list(select.find_all(exp.Window))
    if len(windows) != 1 or select.find(exp.Subquery) is not None:
        return False
    (window,) = windows
    alias = window.parent
    if not isinstance(alias, exp.Alias) or alias.parent is not select:
        return False
    if not isinstance(window.this, exp.RowNumber) or window.args.get("spec") is not None:
        return False
    parts = window.args.get("partition_by") or []
    if not all(isinstance(p, exp.Column) and p.name in keys for p in parts):
        return False
    order = window.args.get("order")
    ordered = order.expressions if order is not None else []
    if (
        len(ordered) != 1
        or not ordered[0].args.get("desc")
        or not isinstance(ordered[0].this, exp.Column)
        or ordered[0].this.name != "time"
    ):
        return False
    if any(
        a.find_ancestor(exp.Window) is None for a in select.find_all(exp.AggFunc)
    ):  # an aggregate outside the window
        return False
    where = select.args.get("where")
    if where is not None and not all(_allowed(c, keys) for c in _conjuncts(where.this)):
        return False
    sub = select.parent
    if not isinstance(sub, exp.Subquery) or not isinstance(sub.parent, exp.From):
        return False
    outer = sub.parent.parent
    if not isinstance(outer, exp.Select) or outer.args.get("joins"):
        return False
    name = alias.alias
    outer_where = outer.args.get("where")
    if outer_where is None:
        return False
    for c in _conjuncts(outer_where.this):
        if isinstance(c, exp.EQ):
            col, one = (c.this, c.expression)
            if isinstance(one, exp.Column):
                col, one = one, col
            if (
                isinstance(col, exp.Column)
                and col.name == name
                and isinstance(one, exp.Literal)
                and not one.is_string
                and one.name == "1"
            ):
                return True
    return False
