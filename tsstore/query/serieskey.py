"""Group and partition by a series key instead of by every dimension's string.

Time-series queries group or partition by *all* of a table's dimensions more often than not:
``GROUP BY device_id, factory, bin(time, 10m)`` downsamples each series, and
``row_number() OVER (PARTITION BY <every dimension> ORDER BY time DESC)`` finds each series'
latest point. DuckDB then hashes or sorts every dimension's string for every row. The store
knows which series each row belongs to: ``Table.scan(series_key=True)`` gives every row an int32
column ``__tsstore_series`` (:data:`~tsstore.storage.codec.SERIES_KEY`). Rows get equal keys
exactly when they have equal values of every dimension, and a missing value equals a missing
value. Those are the values that GROUP BY and PARTITION BY compare. :func:`use_series_keys`
rewrites the kernel's SQL to use the key:

- ``PARTITION BY d1, ..., dn, e`` (every dimension ``d1 .. dn``; other expressions ``e``) becomes
  ``PARTITION BY __tsstore_series, e``. The partitions are the same.
- ``GROUP BY d1, ..., dn, e`` becomes ``GROUP BY __tsstore_series, e``. Every use of a
  dimension outside an aggregate (the SELECT list, HAVING, ORDER BY, QUALIFY) becomes
  ``any_value(d)``: the rows of a group share their ``d``, so any row's is the group's. A bare
  dimension in the SELECT list keeps its name (``any_value(d) AS d``).

On TSBS ``iot`` at 100 trucks this makes DuckDB's statement 2-4x faster: a per-series average
over 778,000 rows, or the latest point of each of 25 trucks.

A SELECT is rewritten only where that is certain to mean the same. Its FROM must be one
scanned table with no join. ROLLUP, CUBE and GROUPING SETS are not rewritten, nor a grouped
SELECT with a window. A dimension must not sit in a function that sqlglot does not know
(``exp.Anonymous``, which could be an aggregate), in an aggregate's FILTER, or in WITHIN GROUP.
The SELECT list must not alias another expression with a dimension's name. No ``*`` may select
from the table, because it would show the key column, and a NATURAL join anywhere turns the
rewrite off.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from sqlglot import exp

from tsstore.storage.codec import SERIES_KEY

__all__ = ["use_series_keys"]

#: Nodes under which a dimension is not replaced by ``any_value``: the function may be an
#: aggregate sqlglot does not know, or the node belongs to an aggregate's own clauses.
_OPAQUE = (exp.Anonymous, exp.Filter, exp.WithinGroup, exp.Window)


def use_series_keys(tree: exp.Expression, dimensions: Mapping[str, Sequence[str]]) -> set[str]:
    """Rewrite ``tree`` (a DuckDB-dialect query, in place) to group and partition by series
    keys where it can (see the module docstring).

    Parameters
    ----------
    tree : sqlglot.exp.Expression
        The kernel's query.
    dimensions : mapping of str to sequence of str
        For each scanned table the rewrite may use (by its name in ``tree``), every dimension
        of the table. A table without dimensions is never rewritten.

    Returns
    -------
    set of str
        The tables whose scans must carry the key column (``Table.scan(series_key=True)``).
    """
    if not dimensions or any(j.args.get("method") for j in tree.find_all(exp.Join)):
        return set()  # NATURAL (or ASOF) joins match columns by name: leave them alone
    starred = set()
    for select in tree.find_all(exp.Select):
        if any(_is_star(p) for p in select.expressions):
            starred |= {t.name for t in _sources(select)}
    keyed: set[str] = set()
    for select in list(tree.find_all(exp.Select)):
        source = _only_source(select)
        if source is None or source.name in starred or not dimensions.get(source.name):
            continue
        dims = set(dimensions[source.name])
        names = {source.name, source.alias_or_name}
        if select.args.get("group") is not None:
            done = _rewrite_group(select, dims, names)
        else:
            done = _rewrite_windows(select, dims, names)
        if done:
            keyed.add(source.name)
    return keyed


def _is_star(node: exp.Expression) -> bool:
    return isinstance(node, exp.Star) or (
        isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
    )


def _sources(select: exp.Select) -> Iterator[exp.Table]:
    """The tables a SELECT reads directly (its FROM and JOINs)."""
    from_ = select.args.get("from_")
    if from_ is not None and isinstance(from_.this, exp.Table):
        yield from_.this
    for join in select.args.get("joins") or ():
        if isinstance(join.this, exp.Table):
            yield join.this


def _only_source(select: exp.Select) -> exp.Table | None:
    """The one table a SELECT reads, when it reads one table and nothing else."""
    from_ = select.args.get("from_")
    if from_ is None or select.args.get("joins") or select.args.get("laterals"):
        return None
    return from_.this if isinstance(from_.this, exp.Table) else None


def _dimension(node: exp.Expression, dims: set[str], names: set[str]) -> str | None:
    """The dimension a column reference names, if it is one of the table's."""
    if (
        isinstance(node, exp.Column)
        and not isinstance(node.this, exp.Star)
        and node.name in dims
        and (not node.table or node.table in names)
    ):
        return node.name
    return None


def _own_nodes(root: exp.Expression) -> Iterator[exp.Expression]:
    """``root`` and its descendants; a nested query is yielded, its insides are not."""
    yield from root.walk(prune=lambda n: n is not root and isinstance(n, exp.Query))


def _clauses(select: exp.Select) -> list[exp.Expression]:
    """The parts of a SELECT evaluated after grouping: its list, HAVING, QUALIFY, ORDER BY."""
    parts = list(select.expressions)
    parts += [select.args[k] for k in ("having", "qualify", "order") if select.args.get(k)]
    return parts


def _rewrite_windows(select: exp.Select, dims: set[str], names: set[str]) -> bool:
    """PARTITION BY every dimension -> PARTITION BY the series key, in an ungrouped SELECT."""
    windows = []
    for part in _clauses(select):
        for node in _own_nodes(part):
            if isinstance(node, exp.AggFunc) and not isinstance(
                node.find_ancestor(exp.Window, exp.Select), exp.Window
            ):
                return False  # an aggregate without GROUP BY: windows run over its one row
            if isinstance(node, exp.Window):
                windows.append(node)
    done = False
    for window in windows:
        keys = window.args.get("partition_by") or []
        found = {_dimension(k, dims, names) for k in keys} - {None}
        if found != dims:
            continue
        rest = [k for k in keys if _dimension(k, dims, names) is None]
        window.set("partition_by", [exp.column(SERIES_KEY), *rest])
        done = True
    return done


def _rewrite_group(select: exp.Select, dims: set[str], names: set[str]) -> bool:
    """GROUP BY every dimension -> GROUP BY the series key, dimensions read by any_value."""
    group = select.args["group"]
    if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "totals", "all")):
        return False
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on") is not None:
        return False
    projections = select.expressions
    for p in projections:  # an alias that hides a dimension: GROUP BY d would be ambiguous
        if (
            isinstance(p, exp.Alias)
            and p.alias in dims
            and _dimension(p.this, dims, names) != p.alias
        ):
            return False
    keys = list(group.expressions)
    dim_keys = []
    for key in keys:
        target = key
        if isinstance(key, exp.Literal) and key.is_int:
            i = int(key.name) - 1
            target = projections[i].unalias() if 0 <= i < len(projections) else key
        if _dimension(target, dims, names) is not None:
            dim_keys.append(key)
    if {_dimension(_target(k, projections), dims, names) for k in dim_keys} != dims:
        return False
    uses: list[exp.Column] = []
    for part in _clauses(select):
        for node in _own_nodes(part):
            if isinstance(node, exp.Window | exp.Query) and node is not part:
                return False  # a window over groups, or a subquery: leave the SELECT alone
            if _dimension(node, dims, names) is None:
                continue
            ancestor = node.parent
            while ancestor is not None and ancestor is not select:
                if isinstance(ancestor, exp.AggFunc):
                    break  # read inside an aggregate: stays as it is
                if isinstance(ancestor, _OPAQUE):
                    return False
                ancestor = ancestor.parent
            else:
                uses.append(node)
    rest = [k for k in keys if not any(k is d for d in dim_keys)]
    group.set("expressions", [*rest, exp.column(SERIES_KEY)])
    for col in uses:
        value = exp.AnyValue(this=col.copy())
        if col.parent is select:  # a bare column of the SELECT list keeps its name
            col.replace(exp.alias_(value, col.name, quoted=True))
        else:
            col.replace(value)
    return True


def _target(key: exp.Expression, projections: list[exp.Expression]) -> exp.Expression:
    """A GROUP BY key, with an ordinal resolved to the projection it names."""
    if isinstance(key, exp.Literal) and key.is_int:
        i = int(key.name) - 1
        if 0 <= i < len(projections):
            return projections[i].unalias()
    return key
