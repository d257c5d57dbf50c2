"""Derived tables first: a join with a derived table reads only the rows that can match.

The dashboard's "latest reading of every device" (TSBS's *lastpoint*) joins a table with an
aggregate of itself::

    SELECT c.* FROM cpu c
    JOIN (SELECT hostname, max(time) AS max_time FROM cpu GROUP BY hostname) m
      ON c.hostname = m.hostname AND c.time = m.max_time

Run as one statement, the kernel reads every row and column of ``cpu`` to keep one row per
host. :func:`derived_joins` recognises a *derived table* (a subquery in FROM, or a CTE the
query reads once) inner-joined in the top-level SELECT on equalities between its columns and a
table's columns, and not referring to the query around it. The engine then runs it first, as a
query of its own over its own pruned scan (above: ``hostname`` and ``time`` only), registers
its result under a name of its own and, as Trino's *dynamic filters* do, narrows the other
table's scan to what the result allows (:func:`allowed`): ``time`` to the range of the values
it must equal, a dimension to the values it must equal (when there are at most
:data:`MAX_VALUES`). An inner join keeps only the rows whose column equals one of those values
(NULL equals nothing), and the whole ON clause and WHERE still run in the kernel, so the
narrowed scan changes no result. Both reads see one state of each table (``Table.state``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

__all__ = ["MAX_VALUES", "DerivedJoin", "allowed", "derived_joins"]

#: A dimension is narrowed to the derived table's values when it has at most this many.
MAX_VALUES = 10_000


@dataclass(frozen=True, slots=True)
class DerivedJoin:
    """A derived table of the top-level SELECT that is run first.

    Attributes
    ----------
    node : Expression
        What the outer query reads it by: the ``Subquery``, or the ``Table`` naming the CTE.
    query : Expression
        Its query (a node of the same tree).
    alias : str
        Its name in the outer query.
    cte : CTE or None
        The CTE it comes from.
    keys : tuple of (str, str, str)
        ``(table alias, column, derived column)`` for each conjunct ``t.column = d.column``.
    """

    node: exp.Expression
    query: exp.Expression
    alias: str
    cte: exp.CTE | None
    keys: tuple[tuple[str, str, str], ...]


def derived_joins(ast: exp.Expression) -> list[DerivedJoin]:
    """The derived tables of ``ast``'s top-level SELECT that filter a table it joins.

    Recognised: a SELECT whose joins are all inner (``JOIN``, ``INNER JOIN``, with ON); a
    source that is an aliased subquery (without column aliases) or a CTE read once in the
    query; and, among the conjuncts of the ON clauses and the WHERE, at least one equality
    ``t.a = d.b`` between qualified columns of a table ``t`` of the same FROM and the derived
    table ``d``. The derived table's query must not name the query's other sources or CTEs.
    """
    if not isinstance(ast, exp.Select):
        return []
    from_ = ast.args.get("from_")
    joins = ast.args.get("joins") or []
    if from_ is None or not joins or not all(_inner(j) for j in joins):
        return []
    with_ = ast.args.get("with_")
    ctes = {c.alias_or_name: c for c in (with_.expressions if with_ is not None else [])}
    reads: dict[str, int] = {}
    for t in ast.find_all(exp.Table):
        if not t.db and t.name in ctes:
            reads[t.name] = reads.get(t.name, 0) + 1
    tables: set[str] = set()
    derived: dict[str, tuple[exp.Expression, exp.Expression, exp.CTE | None]] = {}
    for source in [from_.this, *(j.this for j in joins)]:
        if isinstance(source, exp.Subquery) and source.alias and not _column_aliases(source):
            derived[source.alias] = (source, source.this, None)
        elif isinstance(source, exp.Table) and not source.db and source.name in ctes:
            cte = ctes[source.name]
            if reads[source.name] == 1 and not _column_aliases(cte):
                derived[source.alias_or_name] = (source, cte.this, cte)
        elif isinstance(source, exp.Table):
            tables.add(source.alias_or_name)
    if not derived or not tables:
        return []
    keys: dict[str, list[tuple[str, str, str]]] = {}
    for cond in _conjuncts(ast, joins):
        if not isinstance(cond, exp.EQ):
            continue
        left, right = cond.this, cond.expression
        for a, b in ((left, right), (right, left)):
            if _qualified(a) and _qualified(b) and a.table in tables and b.table in derived:
                keys.setdefault(b.table, []).append((a.table, a.name, b.name))
    outer = tables | set(derived)
    return [
        DerivedJoin(node, query, alias, cte, tuple(keys[alias]))
        for alias, (node, query, cte) in derived.items()
        if alias in keys and _self_contained(query, outer, set(ctes))
    ]


def allowed(result: pa.Table, column: str, *, is_time: bool) -> tuple[int, int] | list[str] | None:
    """What ``result.column`` allows of a column equal to it: for ``time`` the closed range
    ``(lo, hi)`` of its values (ns since the epoch, UTC; ``hi < lo`` when it has none), for a
    dimension its distinct values (None past :data:`MAX_VALUES`), None when its type cannot
    narrow that column."""
    name = _find(result.column_names, column)
    if name is None:
        return None
    values = result.column(name)
    vtype = values.type
    if pa.types.is_dictionary(vtype):
        values, vtype = values.cast(vtype.value_type), vtype.value_type
    if is_time:
        if not pa.types.is_timestamp(vtype):
            return None
        values = values.cast(pa.timestamp("ns", tz=vtype.tz)).cast(pa.int64())
        bounds = pc.min_max(values).as_py()
        if bounds["min"] is None:
            return (1, 0)
        return (bounds["min"], bounds["max"])
    if not (pa.types.is_string(vtype) or pa.types.is_large_string(vtype)):
        return None
    distinct = pc.unique(values.drop_null())
    if len(distinct) > MAX_VALUES:
        return None
    return sorted(distinct.to_pylist())


# -- helpers ------------------------------------------------------------------------------
def _inner(join: exp.Join) -> bool:
    return (
        not join.side
        and join.kind in ("", "INNER")
        and join.args.get("on") is not None
        and not join.args.get("using")
    )


def _column_aliases(node: exp.Expression) -> bool:
    alias = node.args.get("alias")
    return isinstance(alias, exp.TableAlias) and bool(alias.columns)


def _conjuncts(select: exp.Select, joins: list[exp.Join]) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    for cond in [j.args["on"] for j in joins] + [
        w.this for w in [select.args.get("where")] if w is not None
    ]:
        out += list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
    return [c.unnest() for c in out]


def _qualified(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and bool(node.table) and not node.args.get("db")


def _self_contained(query: exp.Expression, outer: set[str], ctes: set[str]) -> bool:
    """No table of ``query`` is a CTE of the query around it, and no qualified column names
    one of its other sources (a derived table cannot see its siblings; DuckDB's lateral join
    would)."""
    inner: set[str] = set()
    for node in query.find_all(exp.Table, exp.Subquery, exp.CTE):
        if isinstance(node, exp.Table) and not node.db and node.name in ctes:
            return False
        if node.alias_or_name:
            inner.add(node.alias_or_name)
    for node in query.find_all(exp.Table):
        inner.add(node.name)
    return all(
        not col.table or col.table in inner or col.table not in outer
        for col in query.find_all(exp.Column)
    )


def _find(names: list[str], name: str) -> str | None:
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None
