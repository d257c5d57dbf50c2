"""Split a query into stages that run on the parts of a scan: the distributed plan.

A table scan comes in independent parts (one per magnetic partition, one for the memory tier,
see :mod:`tsstore.storage.parts`). :func:`split` turns a bound query into SQL *stages* over
those parts, chosen by what the query does:

``partial``
    GROUP BY (or a global aggregate) whose aggregates all decompose: each part computes partial
    aggregates per group (``avg`` as ``sum`` and ``count``, never an average of averages),
    partials combine in a tree, and a final stage merges them and applies HAVING, the SELECT
    list's expressions, ORDER BY and LIMIT.
``shuffle``
    GROUP BY with an aggregate that does not decompose (``approx_percentile``,
    ``count(DISTINCT)``, ``stddev`` ...) or window functions that all share one PARTITION BY:
    each part filters its rows and hashes the keys into buckets; each bucket gathers its rows
    from every part and runs the whole query; the buckets' results are concatenated, ordered
    and limited.
``scan``
    No aggregate, no window: each part runs the query (with ORDER BY + LIMIT as a per-part
    top-k when there is a LIMIT); a final stage orders and limits.
``gather``
    Anything else (joins, subqueries, several tables, a window over everything): parts are
    filtered where that is safe, gathered, and the query runs once over them.

Stages are Timestream syntax trees (translated to DuckDB's SQL by the caller). Stage inputs
are named :data:`PARTS` (the concatenated outputs of the previous stage); ``partial`` and
``scan`` stages carry hidden columns ``__g<i>`` (group keys), ``__p<j>`` (partial aggregates),
``__o<k>`` (ORDER BY keys) and ``__k<i>`` (shuffle keys, hashed into buckets by the executor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from tsstore.query.translate import TIME_SERIES_AGGREGATES

__all__ = ["PARTS", "Stages", "split"]

#: Name of a stage's input: the concatenated outputs of the stage before it.
PARTS = "__tsstore_parts"


@dataclass
class Stages:
    """The stages of a query over the parts of its scans.

    Attributes
    ----------
    kind : str
        ``partial``, ``shuffle``, ``scan`` or ``gather`` (see the module docstring).
    fragment : Expression or None
        Per part: reads the scan's alias (``partial``, ``shuffle``, ``scan``; for ``gather``
        an optional filter of a single table's parts).
    combine : Expression or None
        ``partial`` only: merges partials into partials (reads :data:`PARTS`).
    bucket : Expression or None
        ``shuffle`` only: the whole query, run per bucket over the bucket's rows (reads the
        scan's alias).
    final : Expression
        Reads :data:`PARTS` (``gather``: the scan aliases) and gives the result.
    reason : str
        Why this kind was chosen (shown by ``explain``).
    """

    kind: str
    final: exp.Expression
    fragment: exp.Expression | None = None
    combine: exp.Expression | None = None
    bucket: exp.Expression | None = None
    reason: str = ""
    keys: int = 0
    trivial_final: bool = False


# -- decomposable aggregates ----------------------------------------------------------------
# Each maps one aggregate call to (partial expressions, combine, final): the partials run per
# part; ``combine`` merges a list of partial columns into the same partials; ``final`` makes
# the aggregate's value from the partial columns.
_Cols = list[exp.Expression]


def _sum(c: exp.Expression) -> exp.Expression:
    return exp.Sum(this=c)


def _same(kind: type[exp.Expression]) -> Callable[[_Cols], list[exp.Expression]]:
    return lambda cols: [kind(this=cols[0])]


def _decompose(
    agg: exp.Expression,
) -> (
    tuple[list[exp.Expression], Callable[[_Cols], _Cols], Callable[[_Cols], exp.Expression]] | None
):
    """(partials, combine, final) for a decomposable aggregate call, else None."""
    if isinstance(agg, exp.Count):
        if isinstance(agg.this, exp.Distinct):
            return None
        return (
            [agg.copy()],
            lambda c: [_sum(c[0])],
            lambda c: exp.cast(
                exp.Coalesce(this=_sum(c[0]), expressions=[exp.Literal.number(0)]), "BIGINT"
            ),
        )
    if isinstance(agg, exp.Avg):
        x = agg.this
        if isinstance(x, exp.Distinct):
            return None
        return (
            [exp.Sum(this=x.copy()), exp.Count(this=x.copy())],
            lambda c: [_sum(c[0]), _sum(c[1])],
            lambda c: exp.Div(
                this=exp.cast(_sum(c[0]), "DOUBLE"),
                expression=exp.Nullif(this=_sum(c[1]), expression=exp.Literal.number(0)),
            ),
        )
    if type(agg) in (exp.Sum, exp.Min, exp.Max, exp.CountIf, exp.LogicalAnd, exp.LogicalOr):
        if isinstance(agg.this, exp.Distinct) and not isinstance(agg, exp.Min | exp.Max):
            return None
        kind = type(agg)
        combine = exp.Sum if kind is exp.CountIf else kind
        return ([agg.copy()], _same(combine), lambda c: combine(this=c[0]))
    if isinstance(agg, exp.AnyValue):
        return ([agg.copy()], _same(exp.AnyValue), lambda c: exp.AnyValue(this=c[0]))
    if isinstance(agg, exp.ArgMax | exp.ArgMin) and agg.args.get("count") is None:
        best = exp.Max if isinstance(agg, exp.ArgMax) else exp.Min
        kind = type(agg)
        return (
            [agg.copy(), best(this=agg.expression.copy())],
            lambda c: [kind(this=c[0], expression=c[1]), best(this=c[1])],
            lambda c: kind(this=c[0], expression=c[1]),
        )
    return None


# -- helpers -------------------------------------------------------------------------------------
def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _table(name: str, alias: str | None = None) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name),
        alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)) if alias else None,
    )


def _simple_select(ast: exp.Expression, aliases: set[str]) -> exp.Table | None:
    """The FROM table of a single SELECT over one scan (no joins, CTEs or subqueries)."""
    if not isinstance(ast, exp.Select) or ast.args.get("with_") or ast.args.get("joins"):
        return None
    if ast.args.get("laterals") or ast.find(exp.Unnest, exp.Lateral):
        return None
    source = ast.args.get("from_")
    node = source.this if source is not None else None
    if not isinstance(node, exp.Table) or node.name not in aliases:
        return None
    if any(s is not ast for s in ast.find_all(exp.Select)):
        return None
    return node


def _is_aggregate(node: exp.Expression) -> bool:
    """An aggregate call: sqlglot's, or one of Timestream's that sqlglot does not know
    (``create_time_series``)."""
    return isinstance(node, exp.AggFunc) or (
        isinstance(node, exp.Anonymous) and node.name.lower() in TIME_SERIES_AGGREGATES
    )


def _aggregates(nodes: list[exp.Expression]) -> list[exp.Expression]:
    """Outermost aggregate calls in ``nodes`` (outside window specifications)."""
    out: list[exp.Expression] = []
    for root in nodes:
        for node in root.walk(prune=lambda n: _is_aggregate(n) or isinstance(n, exp.Window)):
            if _is_aggregate(node) and not isinstance(node.parent, exp.Window):
                out.append(node)
    return out


def _unalias(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def _resolve_key(
    key: exp.Expression, items: list[exp.Expression], columns: set[str]
) -> exp.Expression:
    """An ordinal or a select alias in GROUP BY / ORDER BY as the expression it names."""
    if isinstance(key, exp.Literal) and key.is_int:
        i = int(key.this) - 1
        if 0 <= i < len(items):
            return _unalias(items[i]).copy()
    if isinstance(key, exp.Column) and not key.table and key.name not in columns:
        for item in items:
            if isinstance(item, exp.Alias) and item.alias == key.name:
                return item.this.copy()
    return key


def _replace(node: exp.Expression, table: dict[exp.Expression, exp.Expression]) -> exp.Expression:
    """``node`` with every subtree equal to a key of ``table`` replaced (outermost first)."""

    def swap(n: exp.Expression) -> exp.Expression:
        for k, v in table.items():
            if n == k:
                return v.copy()
        return n

    return node.copy().transform(swap, copy=False)


def _order_hidden(
    ast: exp.Select, items: list[exp.Expression], columns: set[str]
) -> tuple[list[exp.Expression], list[exp.Ordered]]:
    """Hidden select items ``<key> AS __o<k>`` and the final ORDER BY over them."""
    hidden: list[exp.Expression] = []
    final: list[exp.Ordered] = []
    order = ast.args.get("order")
    for k, o in enumerate(order.expressions if order is not None else []):
        key = _resolve_key(o.this, items, columns)
        hidden.append(exp.alias_(key.copy(), f"__o{k}", quoted=True))
        ordered = o.copy()
        ordered.set("this", _col(f"__o{k}"))
        final.append(ordered)
    return hidden, final


def _finish(
    select: exp.Select, ast: exp.Select, order: list[exp.Ordered], hidden: list[str]
) -> exp.Select:
    """``select`` with the query's ORDER BY, LIMIT and OFFSET; ``hidden`` columns (ORDER BY
    keys) are left out of the result."""
    if hidden:
        if select.args.get("distinct") is not None:
            select = exp.select("*").from_(select.subquery("__tsstore_distinct"))
        select.set("expressions", [exp.Star(except_=[_col(h) for h in hidden])])
    if order:
        select.set("order", exp.Order(expressions=order))
    for arg in ("limit", "offset"):
        if ast.args.get(arg) is not None:
            select.set(arg, ast.args[arg].copy())
    return select


def _topk(fragment: exp.Select, ast: exp.Select) -> None:
    """Per-part ORDER BY + LIMIT (limit + offset rows) when the query has a LIMIT."""
    limit = ast.args.get("limit")
    if limit is None or not isinstance(limit.expression, exp.Literal):
        fragment.set("order", None)
        fragment.set("limit", None)
        fragment.set("offset", None)
        return
    n = int(limit.expression.this)
    off = ast.args.get("offset")
    if off is not None:
        if not isinstance(off.expression, exp.Literal):
            fragment.set("limit", None)
            fragment.set("order", None)
            fragment.set("offset", None)
            return
        n += int(off.expression.this)
    fragment.set("offset", None)
    fragment.set("limit", exp.Limit(expression=exp.Literal.number(n)))


# -- the split -----------------------------------------------------------------------------------
def split(
    ast: exp.Expression,
    aliases: dict[str, list[str]],
    names: list[str],
) -> Stages:
    """The stages of ``ast`` over the parts of its scans.

    Parameters
    ----------
    ast : Expression
        The bound query, its tables replaced by the scan aliases (``__tsstore_<i>``).
    aliases : dict of str to list of str
        Each scan alias and the columns its parts hold.
    names : list of str
        The result's column names (from running the query over no rows), so that every plan
        names its columns as the single-stage query does.
    """
    node = _simple_select(ast, set(aliases))
    if node is None:
        return _gather(ast, aliases, "joins, subqueries, CTEs or several tables")
    assert isinstance(ast, exp.Select)
    columns = set(aliases[node.name])
    items = list(ast.expressions)
    group = ast.args.get("group")
    windows = list(ast.find_all(exp.Window))
    aggs = _aggregates(
        [*items, ast.args.get("having") or exp.Null(), ast.args.get("order") or exp.Null()]
    )
    if group is not None and (
        group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")
    ):
        return _gather(ast, aliases, "ROLLUP, CUBE or GROUPING SETS")
    if ast.args.get("distinct") is not None and (group is not None or aggs or windows):
        return _gather(ast, aliases, "DISTINCT with aggregates or windows")

    if not aggs and group is None and not windows:
        return _scan(ast, items)

    keys = [
        _resolve_key(k, items, columns) for k in (group.expressions if group is not None else [])
    ]
    if windows:
        parts = {tuple(w.args.get("partition_by") or []) for w in windows}
        if aggs or group is not None or len(parts) != 1 or not next(iter(parts)):
            return _gather(ast, aliases, "window functions without one shared PARTITION BY")
        return _shuffle(ast, node, list(next(iter(parts))), "windows partitioned alike")
    decomposed = [_decompose(a) for a in aggs]
    if any(d is None for d in decomposed):
        what = sorted(
            {
                a.sql("trino").split("(")[0].lower()
                for a, d in zip(aggs, decomposed, strict=True)
                if d is None
            }
        )
        if keys:
            return _shuffle(ast, node, keys, f"aggregates that do not decompose: {what}")
        return _gather(ast, aliases, f"a global aggregate that does not decompose: {what}")
    return _partial(ast, node, items, keys, aggs, decomposed, names)  # type: ignore[arg-type]


def _gather(ast: exp.Expression, aliases: dict[str, list[str]], why: str) -> Stages:
    fragment = None
    if isinstance(ast, exp.Select):
        node = _simple_select(ast, set(aliases))
        where = ast.args.get("where")
        if node is not None and where is not None:
            fragment = exp.select("*").from_(node.copy()).where(where.this.copy())
    return Stages("gather", ast.copy(), fragment=fragment, reason=f"gather: {why}")


def _scan(ast: exp.Select, items: list[exp.Expression]) -> Stages:
    # ORDER BY names output columns first (Trino), so aliases resolve before table columns.
    hidden_items, order = _order_hidden(ast, items, set())
    fragment = ast.copy()
    fragment.set("expressions", [*fragment.expressions, *hidden_items])
    _topk(fragment, ast)
    hidden = [h.alias for h in hidden_items]
    final = exp.select("*").from_(_table(PARTS))
    if ast.args.get("distinct") is not None:
        final.set("distinct", exp.Distinct())
    final = _finish(final, ast, order, hidden)
    trivial = not hidden and all(
        ast.args.get(a) is None for a in ("order", "limit", "offset", "distinct")
    )
    return Stages(
        "scan",
        final,
        fragment=fragment,
        reason="scan: filter and project per part",
        trivial_final=trivial,
    )


def _shuffle(ast: exp.Select, node: exp.Table, keys: list[exp.Expression], why: str) -> Stages:
    fragment = exp.select("*").from_(node.copy())
    where = ast.args.get("where")
    if where is not None:
        fragment.set("where", where.copy())
    for i, k in enumerate(keys):  # hashed into buckets by the executor
        fragment.select(exp.alias_(k.copy(), f"__k{i}", quoted=True), copy=False)
    # Each bucket runs the whole query; the final stage orders and limits the buckets' rows.
    hidden_items, order = _order_hidden(ast, list(ast.expressions), set())
    per_bucket = ast.copy()
    per_bucket.set("expressions", [*per_bucket.expressions, *hidden_items])
    _topk(per_bucket, ast)
    hidden = [h.alias for h in hidden_items]
    final = _finish(exp.select("*").from_(_table(PARTS)), ast, order, hidden)
    return Stages(
        "shuffle",
        final,
        fragment=fragment,
        bucket=per_bucket,
        reason=f"shuffle: {why}",
        keys=len(keys),
    )


def _partial(
    ast: exp.Select,
    node: exp.Table,
    items: list[exp.Expression],
    keys: list[exp.Expression],
    aggs: list[exp.Expression],
    decomposed: list[
        tuple[list[exp.Expression], Callable[[_Cols], _Cols], Callable[[_Cols], exp.Expression]]
    ],
    names: list[str],
) -> Stages:
    gcols = [f"__g{i}" for i in range(len(keys))]
    frag_items: list[exp.Expression] = [
        exp.alias_(k.copy(), g, quoted=True) for k, g in zip(keys, gcols, strict=True)
    ]
    comb_items: list[exp.Expression] = [_col(g) for g in gcols]
    finals: dict[exp.Expression, exp.Expression] = {}
    j = 0
    for agg, (partials, combine, final) in zip(aggs, decomposed, strict=True):
        pcols = [f"__p{j + i}" for i in range(len(partials))]
        j += len(partials)
        frag_items += [exp.alias_(p, c, quoted=True) for p, c in zip(partials, pcols, strict=True)]
        comb_items += [
            exp.alias_(e, c, quoted=True)
            for e, c in zip(combine([_col(c) for c in pcols]), pcols, strict=True)
        ]
        finals.setdefault(agg, final([_col(c) for c in pcols]))
    fragment = exp.select(*frag_items).from_(node.copy())
    if ast.args.get("where") is not None:
        fragment.set("where", ast.args["where"].copy())
    if keys:
        fragment.set("group", exp.Group(expressions=[k.copy() for k in keys]))
    combine = exp.select(*comb_items).from_(_table(PARTS))
    if keys:
        combine.set("group", exp.Group(expressions=[_col(g) for g in gcols]))

    swap = dict(finals)
    for k, g in zip(keys, gcols, strict=True):
        swap.setdefault(k, _col(g))

    def rewrite(e: exp.Expression) -> exp.Expression:
        return _replace(e, swap)

    out_items = [
        exp.alias_(rewrite(_unalias(item)), name, quoted=True)
        for item, name in zip(items, names, strict=False)
    ]
    if len(out_items) != len(items):
        return Stages("gather", ast.copy(), reason="gather: result names unknown")
    final = exp.select(*out_items).from_(_table(PARTS))
    if keys:
        final.set("group", exp.Group(expressions=[_col(g) for g in gcols]))
    if ast.args.get("having") is not None:
        final.set("having", exp.Having(this=rewrite(ast.args["having"].this)))
    order = []
    if ast.args.get("order") is not None:
        for o in ast.args["order"].expressions:
            ordered = o.copy()
            key = _resolve_key(o.this, items, set())
            # An output name or ordinal stays one (the final SELECT has the same items).
            if not (isinstance(o.this, exp.Literal) or key is not o.this):
                ordered.set("this", rewrite(key))
            order.append(ordered)
    final = _finish(final, ast, order, [])
    order_node = final.args.get("order")
    leftover = [
        c.name
        for c in final.find_all(exp.Column)
        if not c.name.startswith(("__g", "__p"))
        # ORDER BY may name the result's columns
        and not (order_node is not None and c.find_ancestor(exp.Order) and c.name in names)
    ]
    if leftover:
        return Stages(
            "gather", ast.copy(), reason=f"gather: columns outside aggregates: {leftover}"
        )
    return Stages(
        "partial",
        final,
        fragment=fragment,
        combine=combine,
        reason="partial: decomposable aggregates, combined in a tree",
    )
