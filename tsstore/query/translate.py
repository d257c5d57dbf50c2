"""Translate a Timestream syntax tree into DuckDB's.

sqlglot's Trino-to-DuckDB transpilation does most of the work; this module adds what it does not
know or gets wrong for Timestream:

- ``now()``, ``current_timestamp`` and ``localtimestamp`` become one ``TIMESTAMPTZ_NS`` literal of
  the query's ``now`` (bound once, on the client, nanoseconds kept); ``current_date``,
  ``current_time`` and ``current_timezone()`` follow from it (UTC);
- ``ago(d)`` is ``now - d``; ``bin(t, d)`` is aligned to 1970-01-01 like Timestream's (DuckDB's
  default origin is 2000-01-03): for a fixed width of whole microseconds it is integer
  arithmetic on ``epoch_ns(t)``, floored (twice as fast as ``time_bucket`` on a TIMESTAMPTZ,
  which goes through the ICU calendar), else ``time_bucket(d, t, <epoch>)``;
- Timestream's ``timestamp`` type (nanoseconds, UTC) is DuckDB's ``TIMESTAMPTZ_NS``, nested ones
  too (``CAST(... AS ARRAY(ROW(time TIMESTAMP, value DOUBLE)))``, a literal timeseries);
- durations in nanoseconds (DuckDB reads ``INTERVAL '50' NANOSECOND`` as 50 *seconds*) and
  decimal durations (DuckDB truncates ``INTERVAL '1.5' HOUR`` to one hour) are rewritten exactly;
  a duration that is not whole microseconds (DuckDB's interval resolution), as in ``ago(50ns)``
  or ``now() + (1h + 50ns)``, moves a timestamp by arithmetic on epoch nanoseconds;
- ``date_diff`` counts whole units elapsed (DuckDB's ``date_sub``, not its ``date_diff``, which
  counts boundaries crossed), ``millisecond()`` is 0-999 (DuckDB's includes the seconds),
  ``approx_percentile`` is the exact ``quantile_cont``, and the subtraction of two timestamps
  works for every DuckDB timestamp type (it does not bind for ``TIMESTAMPTZ_NS``);
- ``from_milliseconds``, ``from_nanoseconds``, ``to_milliseconds``, ``to_nanoseconds``,
  ``format_datetime`` (Joda patterns, see :func:`joda_to_strftime`), ``parse_duration``,
  ``to_iso8601`` and a few math and string functions get DuckDB equivalents.

Timestream's time-series functions (:data:`TIME_SERIES_FUNCTIONS`: ``create_time_series``,
``interpolate_*``, ``derivative_linear``, ``integral_trapezoidal``, ``correlate_*`` ...) become
the kernel functions that :mod:`tsstore.query.timeseries` installs on every kernel connection
(``ts_create_time_series`` ...). Where the syntax tells whether an interpolation's second
argument is an array of timestamps (``sequence(...)``, ``ARRAY[...]``) or one timestamp
(``time``, ``now()``, ``ago(1h)`` ...), the matching form is named (``..._series`` or ``..._at``);
otherwise DuckDB picks it by the argument's type. ``sequence(start, stop, step)`` over
timestamps becomes ``ts_sequence`` (DuckDB's ``generate_series`` has no ``TIMESTAMPTZ_NS``
form), and ``CROSS JOIN UNNEST(ts) AS t(time, value)`` over an array of rows (a timeseries)
becomes a lateral ``(SELECT UNNEST(ts, max_depth := 2)) AS t(time, value)``, one column per
field, as in Trino (without column names, a timeseries' columns are ``time`` and ``value``).
``filter``, ``transform`` and ``reduce`` work on a timeseries as on any array
(``x -> x.value > 10``).

A function that is neither known to sqlglot nor listed here raises
:class:`~tsstore.errors.QueryError` naming it.

The generated SQL must run on a DuckDB connection whose time zone is UTC
(:data:`DUCKDB_SESSION_SQL`): DuckDB evaluates ``hour()``, ``date_trunc()`` and friends of a
``TIMESTAMPTZ`` in the session's time zone, and Timestream's are UTC.

Examples
--------
>>> import pandas as pd
>>> from tsstore.query.dialect import parse_statement
>>> ast = parse_statement("SELECT max(x) FROM t WHERE time > ago(1h)").ast
>>> print(to_duckdb_sql(ast, now=pd.Timestamp("2024-03-05 12:00", tz="UTC")))
... # doctest: +NORMALIZE_WHITESPACE
SELECT MAX(x) FROM t
    WHERE time > (CAST('2024-03-05 12:00:00.000000000+00:00' AS TIMESTAMPTZ_NS)
    - INTERVAL '1' HOUR)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import pandas as pd
from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify_columns import qualify_columns

from tsstore.errors import QueryError, ValidationError
from tsstore.model.durations import parse_duration
from tsstore.query.dialect import DURATION_UNITS
from tsstore.query.timeseries import KERNEL_NAMES, SEQUENCE

__all__ = [
    "DUCKDB_SESSION_SQL",
    "PASSTHROUGH_FUNCTIONS",
    "TIME_SERIES_AGGREGATES",
    "TIME_SERIES_FUNCTIONS",
    "TRANSLATED_FUNCTIONS",
    "duckdb_sql",
    "integer_divisions",
    "joda_to_strftime",
    "to_duckdb",
    "to_duckdb_sql",
]

#: Run this on the DuckDB connection before any translated query.
DUCKDB_SESSION_SQL: Final = "SET TimeZone = 'UTC'"

#: Timestream's time-series functions, run by the kernel functions of
#: :mod:`tsstore.query.timeseries`.
TIME_SERIES_FUNCTIONS: Final[frozenset[str]] = frozenset(KERNEL_NAMES)

#: Timestream's aggregates among them (sqlglot parses them as plain functions, not
#: ``AggFunc``): a planner must treat them as aggregates that do not decompose.
TIME_SERIES_AGGREGATES: Final[frozenset[str]] = frozenset({"create_time_series"})

#: Functions sqlglot does not know that DuckDB has under the same name, with the same meaning.
PASSTHROUGH_FUNCTIONS: Final[frozenset[str]] = frozenset(
    {"geometric_mean", "bit_count", "json_array_length", "map_values", "histogram"}
)

_NS_TYPE: Final = "TIMESTAMPTZ_NS"  # DuckDB's name for Timestream's `timestamp`


def _ns_type() -> exp.DataType:
    # sqlglot does not know TIMESTAMPTZ_NS; a user-defined type is generated verbatim.
    return exp.DataType.build(_NS_TYPE, udt=True)


@functools.lru_cache(maxsize=64)
def _duckdb_type(name: str) -> exp.DataType:
    """A DuckDB type by name, parsed once (callers copy it)."""
    return exp.DataType.build(name, dialect="duckdb")


def _cast(node: exp.Expression, to: str | exp.DataType) -> exp.Cast:
    to_type = to if isinstance(to, exp.DataType) else _duckdb_type(to).copy()
    return exp.Cast(this=node, to=to_type)


def _func(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _epoch_origin() -> exp.Expression:
    return _cast(exp.Literal.string("1970-01-01 00:00:00+00:00"), "TIMESTAMPTZ")


class _Context:
    """What one translation needs: the query's ``now``."""

    def __init__(self, now: Any) -> None:
        try:
            ts = pd.Timestamp(now)
        except (TypeError, ValueError) as e:
            raise QueryError(f"now={now!r} is not a timestamp") from e
        if ts is pd.NaT:
            raise QueryError("now is NaT; give the query's current time as a pd.Timestamp")
        self.now = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    def now_literal(self) -> exp.Expression:
        return self.literal(self.now)

    @staticmethod
    def literal(ts: pd.Timestamp) -> exp.Expression:
        """A ``TIMESTAMPTZ_NS`` literal of a UTC timestamp, nanoseconds kept."""
        naive = ts.tz_convert("UTC").tz_localize(None)
        text = f"{naive.strftime('%Y-%m-%d %H:%M:%S')}.{naive.value % 1_000_000_000:09d}+00:00"
        return exp.Cast(this=exp.Literal.string(text), to=_ns_type())

    def today_literal(self) -> exp.Expression:
        return _cast(exp.Literal.string(self.now.strftime("%Y-%m-%d")), "DATE")

    def time_literal(self) -> exp.Expression:
        return _cast(exp.Literal.string(self.now.strftime("%H:%M:%S.%f")), "TIME")


def _args(node: exp.Expression, name: str, low: int, high: int | None = None) -> list[Any]:
    args = list(node.expressions)
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise QueryError(f"function {name} takes {want} arguments, got {len(args)}")
    return args


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_UNIT_NS: Final[dict[str, int]] = {unit: ns for unit, ns in DURATION_UNITS.values()}
_LARGEST_FIRST: Final = sorted(_UNIT_NS.items(), key=lambda u: -u[1])


def _interval(node: exp.Interval) -> exp.Expression:
    """Rewrite an interval DuckDB would misread: nanoseconds and decimals."""
    unit_node = node.args.get("unit")
    value = node.this
    if not isinstance(unit_node, exp.Var) or not isinstance(value, exp.Literal):
        return node
    unit = unit_node.name.upper()
    if unit.endswith("S") and unit[:-1] in _UNIT_NS:
        unit = unit[:-1]
    try:
        amount = Decimal(value.name.strip())
    except InvalidOperation:
        return node  # e.g. INTERVAL '1 02:00:00' DAY TO SECOND: leave it to DuckDB
    if unit not in _UNIT_NS:
        if amount != amount.to_integral_value():
            raise QueryError(f"interval {amount} {unit} is not a whole number of {unit.lower()}s")
        return node
    if unit != "NANOSECOND" and amount == amount.to_integral_value():
        return node
    total_ns = amount * _UNIT_NS[unit]
    if total_ns != total_ns.to_integral_value():
        raise QueryError(f"interval {amount} {unit} is not a whole number of nanoseconds")
    if total_ns % 1000 != 0:
        return _ns_duration(int(total_ns))  # folded into timestamp arithmetic by _rewrite
    for name, unit_ns in _LARGEST_FIRST:
        if total_ns % unit_ns == 0:
            return exp.Interval(
                this=exp.Literal.string(str(int(total_ns / unit_ns))), unit=exp.Var(this=name)
            )
    raise AssertionError("unreachable")  # pragma: no cover


#: Name of the placeholder of a duration that is not whole microseconds (DuckDB's intervals are
#: microseconds): ``_rewrite`` folds sums of durations and turns ``timestamp +/- duration`` into
#: arithmetic on epoch nanoseconds; one left over is refused.
_NS_DURATION: Final = "__tsstore_ns_duration"


def _ns_duration(total_ns: int) -> exp.Expression:
    return exp.Anonymous(this=_NS_DURATION, expressions=[exp.Literal.number(total_ns)])


def _duration_ns(node: exp.Expression) -> int | None:
    """Nanoseconds of a constant duration: a placeholder, a fixed-unit interval, or a
    parenthesised sum or difference of those; else None."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Anonymous) and node.name == _NS_DURATION:
        return int(node.expressions[0].name)
    if isinstance(node, exp.Interval):
        return _fixed_ns(node)
    if isinstance(node, exp.Add | exp.Sub):
        a, b = _duration_ns(node.this), _duration_ns(node.expression)
        if a is not None and b is not None:
            return a + b if isinstance(node, exp.Add) else a - b
    return None


def _has_ns_duration(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.Anonymous) and n.name == _NS_DURATION for n in node.walk())


def _shift_ns(ts: exp.Expression, delta_ns: int) -> exp.Expression:
    """``ts`` moved by ``delta_ns`` nanoseconds, exactly (a TIMESTAMPTZ_NS)."""
    moved = exp.Add(this=_func("epoch_ns", ts), expression=exp.Literal.number(delta_ns))
    return exp.Cast(this=_func("make_timestamp_ns", moved), to=_ns_type())


# --------------------------------------------------------------------------------------------
# format_datetime: Joda patterns
# --------------------------------------------------------------------------------------------

_JODA: Final[dict[str, Callable[[int], str | None]]] = {
    "y": lambda n: "%y" if n == 2 else "%Y",
    "Y": lambda n: "%y" if n == 2 else "%Y",
    "x": lambda n: "%G" if n != 2 else None,
    "M": lambda n: {1: "%-m", 2: "%m", 3: "%b"}.get(n, "%B"),
    "d": lambda n: {1: "%-d", 2: "%d"}.get(n),
    "D": lambda n: {1: "%-j", 3: "%j"}.get(n),
    "H": lambda n: {1: "%-H", 2: "%H"}.get(n),
    "h": lambda n: {1: "%-I", 2: "%I"}.get(n),
    "m": lambda n: {1: "%-M", 2: "%M"}.get(n),
    "s": lambda n: {1: "%-S", 2: "%S"}.get(n),
    "S": lambda n: {3: "%g", 6: "%f", 9: "%n"}.get(n),
    "a": lambda n: "%p" if n == 1 else None,
    "E": lambda n: "%a" if n <= 3 else "%A",
    "e": lambda n: "%u" if n == 1 else None,
    "w": lambda n: "%V" if n == 2 else None,
    "Z": lambda n: {1: "+0000", 2: "+00:00"}.get(n, "UTC"),
    "z": lambda n: "UTC",
    "G": lambda n: "AD",
}

_JODA_HELP: Final = (
    "yyyy yy MMMM MMM MM M dd d DDD D HH H hh h mm m ss s SSS SSSSSS SSSSSSSSS a EEEE EEE e ww "
    "xxxx Z ZZ z G and 'quoted text'"
)


def joda_to_strftime(pattern: str) -> str:
    """Translate a Joda-Time pattern (``format_datetime``'s) into a DuckDB strftime format.

    Supported letters: ``yyyy yy`` (year), ``xxxx`` (ISO week year), ``MMMM MMM MM M`` (month),
    ``dd d`` (day), ``DDD D`` (day of year), ``HH H`` / ``hh h`` (hour, 24 / 12), ``mm m``,
    ``ss s``, ``SSS SSSSSS SSSSSSSSS`` (milli-, micro-, nanoseconds), ``a`` (AM/PM),
    ``EEEE EEE`` (day name), ``e`` (ISO day of week), ``ww`` (ISO week), ``Z ZZ z`` (UTC's
    offset or name: every time is UTC), ``G`` (era) and ``'quoted text'`` (``''`` is a quote).
    Other characters are copied.

    Raises
    ------
    tsstore.errors.QueryError
        A letter or a letter count outside that subset, or an unterminated quote.

    Examples
    --------
    >>> joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS")
    '%Y-%m-%dT%H:%M:%S.%g'
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            end = i + 1
            text: list[str] = []
            while True:
                if end >= n:
                    raise QueryError(f"format_datetime pattern {pattern!r} has an unclosed quote")
                if pattern[end] == "'":
                    if end + 1 < n and pattern[end + 1] == "'":
                        text.append("'")
                        end += 2
                        continue
                    break
                text.append(pattern[end])
                end += 1
            out.append("".join(text).replace("%", "%%"))
            i = end + 1
            continue
        if c.isascii() and c.isalpha():
            run = i
            while run < n and pattern[run] == c:
                run += 1
            count = run - i
            spec = _JODA[c](count) if c in _JODA else None
            if spec is None:
                raise QueryError(
                    f"format_datetime: pattern letter {c * count!r} is not supported; "
                    f"supported: {_JODA_HELP}"
                )
            out.append(spec)
            i = run
            continue
        out.append("%%" if c == "%" else c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------

_Handler = Callable[[exp.Anonymous, _Context], exp.Expression]


def _ago(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (duration,) = _args(node, "ago", 1)
    if _has_ns_duration(duration):
        ns = _duration_ns(duration)
        if ns is None:
            raise QueryError("ago() of a duration with nanoseconds takes a constant duration")
        return ctx.literal(ctx.now - pd.Timedelta(ns, unit="ns"))
    return exp.Paren(this=exp.Sub(this=ctx.now_literal(), expression=duration))


def _bin(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    ts, duration = _args(node, "bin", 2)
    width = _fixed_ns(duration)
    if width is None or width % 1000:
        return _func("time_bucket", duration, ts, _epoch_origin())
    # A fixed width of whole microseconds: integer arithmetic on epoch nanoseconds, floored
    # (also before 1970), about twice as fast as DuckDB's time_bucket on a TIMESTAMPTZ (which
    # goes through the ICU calendar even in UTC); the same TIMESTAMPTZ result.
    x = _func("epoch_ns", ts)
    w = exp.Literal.number(width)
    rem = exp.Mod(
        this=exp.Paren(
            this=exp.Add(this=exp.Mod(this=x.copy(), expression=w), expression=w.copy())
        ),
        expression=w.copy(),
    )
    start_ns = exp.Paren(this=exp.Sub(this=x, expression=exp.Paren(this=rem)))
    return _func("make_timestamptz", exp.IntDiv(this=start_ns, expression=exp.Literal.number(1000)))


def _fixed_ns(node: exp.Expression) -> int | None:
    """Nanoseconds of a literal duration of fixed length (ns to days), else None."""
    if not isinstance(node, exp.Interval) or not isinstance(node.this, exp.Literal):
        return None
    unit_node = node.args.get("unit")
    if not isinstance(unit_node, exp.Var):
        return None
    unit = unit_node.name.upper()
    if unit.endswith("S") and unit[:-1] in _UNIT_NS:
        unit = unit[:-1]
    if unit not in _UNIT_NS:
        return None
    try:
        total = Decimal(node.this.name.strip()) * _UNIT_NS[unit]
    except InvalidOperation:
        return None
    if total <= 0 or total != total.to_integral_value():
        return None
    return int(total)


def _from_milliseconds(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (ms,) = _args(node, "from_milliseconds", 1)
    return _cast(_func("epoch_ms", _cast(ms, "BIGINT")), "TIMESTAMPTZ")


def _from_nanoseconds(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (ns,) = _args(node, "from_nanoseconds", 1)
    return exp.Cast(this=_func("make_timestamp_ns", _cast(ns, "BIGINT")), to=_ns_type())


def _to_milliseconds(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    # epoch_ns binds for every timestamp type and for intervals; epoch_ms does not (TZ_NS).
    (x,) = _args(node, "to_milliseconds", 1)
    return exp.IntDiv(this=_func("epoch_ns", x), expression=exp.Literal.number(1_000_000))


def _to_nanoseconds(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (x,) = _args(node, "to_nanoseconds", 1)
    return _func("epoch_ns", x)


def _format_datetime(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    ts, fmt = _args(node, "format_datetime", 2)
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise QueryError("format_datetime needs its pattern as a string literal")
    return _func("strftime", ts, exp.Literal.string(joda_to_strftime(fmt.name)))


def _to_iso8601(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (ts,) = _args(node, "to_iso8601", 1)
    return _func("strftime", ts, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%nZ"))


def _millisecond(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    # DuckDB's millisecond() counts the milliseconds of the minute (0-59999).
    (ts,) = _args(node, "millisecond", 1)
    return exp.Paren(
        this=exp.Mod(this=_func("millisecond", ts), expression=exp.Literal.number(1000))
    )


def _parse_duration(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (text,) = _args(node, "parse_duration", 1)
    if not (isinstance(text, exp.Literal) and text.is_string):
        raise QueryError("parse_duration needs a string literal such as '1.5h'")
    try:
        ns = parse_duration(text.name, "parse_duration argument").value
    except ValidationError as e:
        raise QueryError(str(e)) from e
    for unit, unit_ns in _LARGEST_FIRST:
        if ns % unit_ns == 0:
            return _interval(
                exp.Interval(this=exp.Literal.string(str(ns // unit_ns)), unit=exp.Var(this=unit))
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _renamed(name: str, low: int, high: int | None = None) -> _Handler:
    def handler(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
        return _func(name, *_args(node, node.name.lower(), low, high))

    return handler


def _special_double(text: str) -> _Handler:
    def handler(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
        _args(node, node.name.lower(), 0)
        return _cast(exp.Literal.string(text), "DOUBLE")

    return handler


def _e(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    _args(node, "e", 0)
    return exp.Exp(this=exp.Literal.number("1.0"))


def _year_of_week(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (ts,) = _args(node, "yow", 1)
    return exp.YearOfWeek(this=ts)


def _to_base(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    # Trino's digits are lower case and a negative number gets a '-'; DuckDB's to_base
    # takes numbers >= 0 only and writes upper case.
    x, radix = _args(node, "to_base", 2)
    return exp.maybe_parse(
        f"CASE WHEN ({x.sql('duckdb')}) < 0 THEN '-' || lower(to_base(-({x.sql('duckdb')}), "
        f"{radix.sql('duckdb')})) ELSE lower(to_base({x.sql('duckdb')}, {radix.sql('duckdb')})) "
        "END",
        dialect="duckdb",
    )


def _from_base(s: exp.Expression, radix: exp.Expression) -> exp.Expression:
    """``from_base(s, radix)``: DuckDB has none; the digits of ``lower(s)`` are folded."""
    text, r = s.sql("duckdb"), radix.sql("duckdb")
    digits = (
        f"list_transform(string_split(lower(ltrim({text}, '-')), ''), c -> "
        "CAST(strpos('0123456789abcdefghijklmnopqrstuvwxyz', c) - 1 AS BIGINT))"
    )
    return exp.maybe_parse(
        f"(CASE WHEN starts_with({text}, '-') THEN -1 ELSE 1 END * "
        f"list_reduce({digits}, (acc, d) -> acc * CAST({r} AS BIGINT) + d))",
        dialect="duckdb",
    )


def _every(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    (x,) = _args(node, "every", 1)
    return exp.LogicalAnd(this=x)


# --------------------------------------------------------------------------------------------
# Time-series functions
# --------------------------------------------------------------------------------------------

_INTERPOLATIONS: Final = frozenset(
    {"interpolate_linear", "interpolate_spline_cubic", "interpolate_locf", "interpolate_fill"}
)
# Marks set on the tree before the rewrite, while the arguments' syntax is still Timestream's.
_FORM: Final = "tsstore_ts_form"  # an interpolation's second argument: "series" or "at"
_TIMESTAMP_SEQUENCE: Final = "tsstore_ts_sequence"  # a sequence over timestamps

# Nodes that are arrays whatever their arguments.
_ARRAY_NODES: Final = (
    exp.GenerateSeries,
    exp.Array,
    exp.ArrayAgg,
    exp.ArrayUnionAgg,
    exp.ArrayFilter,
    exp.Transform,
    exp.ArrayConcat,
    exp.ArraySlice,
    exp.ArraySort,
    exp.ArrayDistinct,
    exp.ArrayReverse,
)


def _time_argument_form(node: exp.Expression) -> str | None:
    """``"series"`` for an array of timestamps, ``"at"`` for one timestamp, None when the
    syntax does not tell (DuckDB then picks by type)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, _ARRAY_NODES) or (
        isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.ARRAY)
    ):
        return "series"
    # An aggregate that is not an array one gives one value: here, one timestamp.
    return "at" if _is_timestamp(node) or isinstance(node, exp.AggFunc) else None


def _is_date(node: exp.Expression) -> bool:
    return isinstance(node, exp.CurrentDate) or (
        isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)
    )


def _mark_time_series(tree: exp.Expression) -> None:
    """Record what only the untranslated syntax tells: interpolation forms, timestamp
    sequences."""
    for node in tree.find_all(exp.Anonymous):
        if node.name.lower() in _INTERPOLATIONS and len(node.expressions) >= 2:
            form = _time_argument_form(node.expressions[1])
            if form is not None:
                node.meta[_FORM] = form
    for seq in tree.find_all(exp.GenerateSeries):
        start, end, step = (seq.args.get(k) for k in ("start", "end", "step"))
        if start is None or end is None or _is_date(start) or _is_date(end):
            continue
        if _is_timestamp(start) or _is_timestamp(end) or (step is not None and _is_interval(step)):
            seq.meta[_TIMESTAMP_SEQUENCE] = True


def _timestamp_sequence(node: exp.GenerateSeries) -> exp.Expression:
    step = node.args.get("step")
    if step is None:
        raise QueryError("sequence over timestamps needs a step, e.g. sequence(start, stop, 15s)")
    return _func(SEQUENCE, node.args["start"], node.args["end"], step)


def _unnest_rows(node: exp.Unnest) -> exp.Expression:
    """``UNNEST(ts) AS t(time, value)`` in FROM: Trino gives one column per field of the rows;
    DuckDB's table function gives one struct column, its ``unnest(..., max_depth := 2)`` in a
    (lateral) subquery gives the fields. ``WITH ORDINALITY`` adds the position, from 1."""
    alias = node.args.get("alias")
    alias = alias.copy() if alias is not None else None
    (array,) = node.expressions
    columns: list[exp.Expression] = [
        _func(
            "UNNEST",
            array,
            exp.PropertyEQ(this=exp.to_identifier("max_depth"), expression=exp.Literal.number(2)),
        )
    ]
    ordinality = node.args.get("offset")
    if ordinality:
        columns.append(_func("generate_subscripts", array.copy(), exp.Literal.number(1)))
        if isinstance(ordinality, exp.Identifier) and alias is not None:  # kept apart
            alias.append("columns", ordinality.copy())
    return exp.Subquery(this=exp.select(*columns), alias=alias)


def _is_row_unnest(node: exp.Unnest) -> bool:
    """An UNNEST in FROM of one array into two or more named columns (an array of rows), or
    with no column names (a timeseries' columns are then ``time`` and ``value``, as in
    Timestream's documented ``CROSS JOIN UNNEST(ts)``)."""
    alias = node.args.get("alias")
    named = len(alias.columns) if isinstance(alias, exp.TableAlias) else 0
    return (
        len(node.expressions) == 1 and named != 1 and isinstance(node.parent, exp.Join | exp.From)
    )


def _time_series(name: str, low: int, high: int | None = None) -> _Handler:
    kernel = KERNEL_NAMES[name]

    def handler(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
        return _func(kernel, *_args(node, name, low, high))

    return handler


def _interpolation(name: str) -> _Handler:
    kernel = KERNEL_NAMES[name]
    count = 3 if name == "interpolate_fill" else 2

    def handler(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
        args = _args(node, name, count)
        form = node.meta.get(_FORM)
        return _func(f"{kernel}_{form}" if form else kernel, *args)

    return handler


def _integral_trapezoidal(node: exp.Anonymous, ctx: _Context) -> exp.Expression:
    args = _args(node, "integral_trapezoidal", 1, 2)
    if len(args) == 1:  # Timestream's default unit: 1s
        args.append(exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this="SECOND")))
    return _func(KERNEL_NAMES["integral_trapezoidal"], *args)


_TIME_SERIES_HANDLERS: Final[dict[str, _Handler]] = {
    "create_time_series": _time_series("create_time_series", 2),
    **{name: _interpolation(name) for name in sorted(_INTERPOLATIONS)},
    "derivative_linear": _time_series("derivative_linear", 2),
    "non_negative_derivative_linear": _time_series("non_negative_derivative_linear", 2),
    "integral_trapezoidal": _integral_trapezoidal,
    "correlate_pearson": _time_series("correlate_pearson", 2),
    "correlate_spearman": _time_series("correlate_spearman", 2),
}
assert set(_TIME_SERIES_HANDLERS) == TIME_SERIES_FUNCTIONS

_HANDLERS: Final[dict[str, _Handler]] = {
    "ago": _ago,
    "bin": _bin,
    "from_milliseconds": _from_milliseconds,
    "from_nanoseconds": _from_nanoseconds,
    "to_milliseconds": _to_milliseconds,
    "to_nanoseconds": _to_nanoseconds,
    "format_datetime": _format_datetime,
    "to_iso8601": _to_iso8601,
    "millisecond": _millisecond,
    "parse_duration": _parse_duration,
    "e": _e,
    "nan": _special_double("NaN"),
    "infinity": _special_double("Infinity"),
    "is_finite": _renamed("isfinite", 1),
    "is_infinite": _renamed("isinf", 1),
    "hamming_distance": _renamed("hamming", 2),
    "codepoint": _renamed("unicode", 1),
    "yow": _year_of_week,
    "every": _every,
    "to_base": _to_base,
    **_TIME_SERIES_HANDLERS,
}

#: Timestream functions that sqlglot does not know and that this module translates.
TRANSLATED_FUNCTIONS: Final[frozenset[str]] = frozenset(_HANDLERS)

# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------

_TIMESTAMP_FUNCS: Final = frozenset(
    {"ago", "bin", "from_milliseconds", "from_nanoseconds", "from_iso8601_timestamp"}
)
_TIMESTAMP_NODES: Final = (
    exp.CurrentTimestamp,
    exp.Localtimestamp,
    exp.FromISO8601Timestamp,
    exp.UnixToTime,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.StrToTime,
    exp.ParseDatetime,
)
_SAME_TYPE_NODES: Final = (
    exp.Max,
    exp.Min,
    exp.AnyValue,
    exp.ArgMax,
    exp.ArgMin,
    exp.FirstValue,
    exp.LastValue,
    exp.Lag,
    exp.Lead,
    exp.Window,
    exp.Paren,
    exp.Coalesce,
)
# Timestream's timestamp types, all TIMESTAMPTZ_NS in DuckDB.
_TIMESTAMP_TYPES: Final = (
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPLTZ,
    exp.DataType.Type.TIMESTAMPNTZ,
)


def _is_interval(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    return isinstance(node, exp.Interval) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "parse_duration"
    )


def _is_timestamp(node: exp.Expression) -> bool:
    """Whether ``node`` is (syntactically) a Timestream timestamp."""
    if isinstance(node, exp.Column):
        return node.name.lower() == "time" or node.name == "measure_value::timestamp"
    if isinstance(node, _TIMESTAMP_NODES):
        return True
    if isinstance(node, exp.Cast):
        return node.to.this in _TIMESTAMP_TYPES
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in _TIMESTAMP_FUNCS
    if isinstance(node, exp.DateAdd):
        return _is_timestamp(node.this)
    if isinstance(node, exp.Add | exp.Sub):
        return (_is_timestamp(node.this) and _is_interval(node.expression)) or (
            isinstance(node, exp.Add) and _is_interval(node.this) and _is_timestamp(node.expression)
        )
    if isinstance(node, _SAME_TYPE_NODES):
        return _is_timestamp(node.this)
    return False


def _has_timestamp(to: exp.DataType) -> bool:
    return any(isinstance(n, exp.DataType) and n.this in _TIMESTAMP_TYPES for n in to.walk())


def _ns_types(to: exp.DataType) -> exp.DataType:
    """``to`` with every timestamp type in it as ``TIMESTAMPTZ_NS``, nested ones included
    (``ARRAY(ROW(time TIMESTAMP, value DOUBLE))``, a literal timeseries)."""
    if to.this in _TIMESTAMP_TYPES:
        return _ns_type()

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this in _TIMESTAMP_TYPES:
            return _ns_type()
        return node

    return to.transform(swap)


def _as_timestamp_ns(node: exp.Expression) -> exp.Expression:
    # In a UTC session, TIMESTAMP_NS is the UTC wall clock, for every timestamp type.
    return exp.Cast(this=node, to=exp.DataType(this=exp.DataType.Type.TIMESTAMP_NS))


# --------------------------------------------------------------------------------------------
# The translation
# --------------------------------------------------------------------------------------------


# Trino's EXTRACT fields that DuckDB spells differently.
_EXTRACT_FIELDS: Final = {
    "DAY_OF_WEEK": "ISODOW",
    "DOW": "ISODOW",
    "DAY_OF_YEAR": "DOY",
    "YEAR_OF_WEEK": "ISOYEAR",
    "YOW": "ISOYEAR",
}


def _check_functions(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.Anonymous):
        name = node.name.lower()
        if name not in _HANDLERS and name not in PASSTHROUGH_FUNCTIONS:
            raise QueryError(f"function {node.name} is not supported by tsstore's SQL")
    for node in tree.find_all(exp.Placeholder):
        label = f":{node.name}" if node.name and node.name != "?" else "?"
        raise QueryError(f"query parameter {label} is not bound; pass its value in params")
    approx = tree.find(exp.ApproxQuantile)
    if approx is not None and approx.args.get("weight") is not None:
        raise QueryError("approx_percentile with weights is not supported by tsstore's SQL")


def _reduce_with_finish(node: exp.Reduce) -> exp.Expression:
    """``reduce(array, initial, (s, x) -> ..., s -> finish)``: DuckDB's ``list_reduce`` has no
    finishing function, so the finish lambda's body is applied to the reduced value."""
    finish = node.args["finish"]
    reduced = node.copy()
    reduced.set("finish", None)
    if not isinstance(finish, exp.Lambda) or len(finish.expressions) != 1:
        raise QueryError("reduce(...)'s output function must be a one-argument lambda")
    param = finish.expressions[0].name
    body = finish.this.copy()
    if isinstance(body, exp.Column | exp.Identifier) and body.name == param:
        return reduced  # s -> s
    for ref in list(body.find_all(exp.Column, exp.Identifier)):
        if ref.name == param and not isinstance(ref.parent, exp.Column):
            ref.replace(exp.Paren(this=reduced.copy()))
    return body


_FLOAT_TYPES_SQL: Final = exp.Tuple(
    expressions=[exp.Literal.string("DOUBLE"), exp.Literal.string("FLOAT")]
)


def _is_string_or_integer(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return True  # a string, an integer or a decimal (DuckDB rounds decimals like Trino)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.TEXT_TYPES, *exp.DataType.INTEGER_TYPES)
    return False


def _rounding_cast(node: exp.Cast) -> exp.Expression:
    """``CAST(x AS <integer type>)``: Trino rounds a double half away from zero (2.5 -> 3,
    -2.5 -> -3), DuckDB half to even. A double (or real) is rounded first; whether ``x`` is
    one is decided by DuckDB (``typeof``), as a column's type is not in the syntax."""
    x = node.this
    if _is_string_or_integer(x):
        return node
    if isinstance(x, exp.Cast) and x.to.is_type(exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT):
        return node.__class__(this=exp.Round(this=x.copy()), to=node.to.copy())
    rounded = node.__class__(
        this=exp.Round(this=exp.TryCast(this=x.copy(), to=exp.DataType.build("DOUBLE"))),
        to=node.to.copy(),
    )
    is_float = exp.In(this=_func("typeof", x.copy()), expressions=_FLOAT_TYPES_SQL.expressions)
    return exp.Case(ifs=[exp.If(this=is_float, true=rounded)], default=node.copy())


def _ns_arithmetic(node: exp.Expression) -> exp.Expression:
    """Fold durations with nanoseconds: a constant sum becomes one placeholder; a timestamp
    plus or minus one becomes exact arithmetic on epoch nanoseconds."""
    total = _duration_ns(node)
    if total is not None:
        return _ns_duration(total)
    if isinstance(node, exp.Add | exp.Sub):
        delta = _duration_ns(node.expression)
        if delta is not None:
            return _shift_ns(node.this, delta if isinstance(node, exp.Add) else -delta)
        delta = _duration_ns(node.this)
        if delta is not None and isinstance(node, exp.Add):
            return _shift_ns(node.expression, delta)
    return node


def _rewrite(node: exp.Expression, ctx: _Context) -> exp.Expression:
    """Translate one node whose children are already translated."""
    if isinstance(node, exp.Anonymous):
        handler = _HANDLERS.get(node.name.lower())
        return handler(node, ctx) if handler is not None else node
    if isinstance(node, exp.CurrentTimestamp | exp.Localtimestamp):
        return ctx.now_literal()
    if isinstance(node, exp.CurrentDate):
        return ctx.today_literal()
    if isinstance(node, exp.CurrentTime | exp.Localtime):
        return ctx.time_literal()
    if isinstance(node, exp.CurrentTimezone):
        return exp.Literal.string("UTC")
    if isinstance(node, exp.Interval):
        return _interval(node)
    if isinstance(node, exp.Paren | exp.Add | exp.Sub) and _has_ns_duration(node):
        return _ns_arithmetic(node)
    if isinstance(node, exp.GenerateSeries) and node.meta.get(_TIMESTAMP_SEQUENCE):
        return _timestamp_sequence(node)
    if isinstance(node, exp.Unnest) and _is_row_unnest(node):
        return _unnest_rows(node)
    if isinstance(node, exp.Reduce) and node.args.get("finish") is not None:
        return _reduce_with_finish(node)
    if isinstance(node, exp.Extract) and isinstance(node.this, exp.Var):
        field = _EXTRACT_FIELDS.get(node.this.name.upper())
        if field is not None:
            node.set("this", exp.Var(this=field))
        return node
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(*exp.DataType.TEXT_TYPES)
        and _is_timestamp(node.this)
    ):
        # Timestream's text of a timestamp: nanoseconds, no zone ('2024-03-05 12:00:00.123456789')
        return _func("strftime", node.this, exp.Literal.string("%Y-%m-%d %H:%M:%S.%n"))
    if isinstance(node, exp.Skewness):
        # Trino's is the population coefficient; DuckDB's is sample-adjusted: undo it
        n = exp.Count(this=node.this.copy())
        factor = exp.Div(
            this=exp.Paren(
                this=exp.Sub(this=exp.cast(n, "DOUBLE"), expression=exp.Literal.number(2))
            ),
            expression=_func(
                "sqrt",
                exp.Mul(
                    this=exp.cast(n.copy(), "DOUBLE"),
                    expression=exp.Paren(
                        this=exp.Sub(this=n.copy(), expression=exp.Literal.number(1))
                    ),
                ),
            ),
        )
        return exp.Paren(this=exp.Mul(this=node.copy(), expression=factor))
    if isinstance(node, exp.WidthBucket):
        x, lo, hi = node.this, node.args["min_value"], node.args["max_value"]
        buckets = node.args["num_buckets"]
        inside = exp.Add(
            this=_func(
                "floor",
                exp.Div(
                    this=exp.Mul(
                        this=exp.Paren(this=exp.Sub(this=x.copy(), expression=lo.copy())),
                        expression=exp.cast(buckets.copy(), "DOUBLE"),
                    ),
                    expression=exp.Paren(this=exp.Sub(this=hi.copy(), expression=lo.copy())),
                ),
            ),
            expression=exp.Literal.number(1),
        )
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.LT(this=x.copy(), expression=lo.copy()), true=exp.Literal.number(0)
                ),
                exp.If(
                    this=exp.GTE(this=x.copy(), expression=hi.copy()),
                    true=exp.Add(this=buckets.copy(), expression=exp.Literal.number(1)),
                ),
            ],
            default=exp.cast(inside, "BIGINT"),
        )
    if isinstance(node, exp.Cast) and _has_timestamp(node.to):
        node.set("to", _ns_types(node.to))
        return node
    if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.INTEGER_TYPES):
        return _rounding_cast(node)
    if isinstance(node, exp.FromISO8601Timestamp):
        return exp.Cast(this=node.this, to=_ns_type())
    if isinstance(node, exp.Group) and node.args.get("all") is False:
        node.set("all", None)  # GROUP BY DISTINCT: only drops duplicate grouping sets
        return node
    if isinstance(node, exp.SplitPart):
        # Trino: NULL beyond the last field (DuckDB: '').
        parts = _func("len", _func("string_split", node.this.copy(), node.args["delimiter"].copy()))
        beyond = exp.GT(this=node.args["part_index"].copy(), expression=parts)
        return exp.Case(ifs=[exp.If(this=beyond, true=exp.null())], default=node.copy())
    if isinstance(node, exp.RegexpReplace):
        repl = node.args.get("replacement")
        if isinstance(repl, exp.Literal) and repl.is_string and "$" in repl.name:
            node.set("replacement", exp.Literal.string(re.sub(r"\$(\d)", r"\\\1", repl.name)))
        return node
    if isinstance(node, exp.Length) and isinstance(node.this, exp.Encode):
        return _func("octet_length", node.this)
    if isinstance(node, exp.FromBase):
        return _from_base(node.this, node.expression)
    if isinstance(node, exp.ArrayPosition):
        return exp.Coalesce(this=node.copy(), expressions=[exp.Literal.number(0)])
    if isinstance(node, exp.ArraySlice) and node.args.get("end") is not None:
        # Trino's slice(a, start, length); DuckDB's list_slice(a, start, end).
        start, length = node.args["start"], node.args["end"]
        end = exp.Sub(
            this=exp.Add(this=start.copy(), expression=length.copy()),
            expression=exp.Literal.number(1),
        )
        return _func("list_slice", node.this.copy(), start.copy(), end)
    if isinstance(node, exp.ArrayDistinct):
        # Trino keeps the first occurrences, in order; DuckDB's list_distinct does not.
        a = node.this.sql("duckdb")
        return exp.maybe_parse(
            f"list_filter({a}, (__ts_e, __ts_i) -> list_position({a}, __ts_e) = __ts_i)",
            dialect="duckdb",
        )
    if isinstance(node, exp.ApproxQuantile):
        return _func("quantile_cont", node.this, node.args["quantile"])
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        unit_name = unit.name.lower() if unit is not None else "day"
        return _func(
            "date_sub",
            exp.Literal.string(unit_name),
            _as_timestamp_ns(node.expression),
            _as_timestamp_ns(node.this),
        )
    return node


def integer_divisions(
    ast: exp.Expression, schema: Mapping[str, Mapping[str, str]]
) -> exp.Expression:
    """``ast`` with each ``a / b`` of two integers (by the tables' column types, ``schema``:
    table -> column -> Trino type) made an integer division, as in Trino (``7 / 2 = 3``,
    truncated toward zero, DuckDB's ``//``); DuckDB's ``/`` always divides as decimals.

    The tree is typed on a copy (sqlglot qualifies its columns with ``schema``, then
    annotates types); a query sqlglot cannot qualify is returned as it is (literals and
    aggregates are still typed by :func:`to_duckdb`).
    """
    if ast.find(exp.Div) is None:
        return ast
    tables = {t: dict(c) for t, c in schema.items()}
    try:
        typed = qualify_columns(
            ast.copy(), schema=tables, expand_alias_refs=False, expand_stars=False, dialect="trino"
        )
        annotate_types(typed, schema=tables, dialect="trino")
    except Exception:
        return ast
    out = ast.copy()
    for node, twin in zip(list(out.find_all(exp.Div)), list(typed.find_all(exp.Div)), strict=False):
        a, b = twin.this.type, twin.expression.type
        if (
            a is not None
            and b is not None
            and a.is_type(*exp.DataType.INTEGER_TYPES)
            and (b.is_type(*exp.DataType.INTEGER_TYPES))
        ):
            node.replace(exp.IntDiv(this=node.this.copy(), expression=node.expression.copy()))
    return out


def to_duckdb(
    ast: exp.Expression, *, now: pd.Timestamp, name_columns: bool = False, copy: bool = True
) -> exp.Expression:
    """Translate a Timestream syntax tree into a DuckDB one.

    Parameters
    ----------
    ast : sqlglot.exp.Expression
        A parsed query (``parse_statement(sql).ast``) with its parameters bound; not modified.
    now : pd.Timestamp
        The query's current time, bound once (``now()``, ``current_timestamp``, ``ago()``).
        A naive timestamp is UTC. Nanoseconds are kept (the literal is ``TIMESTAMPTZ_NS``).
    name_columns : bool, default False
        Name the result's unnamed expressions ``_col<position>`` as Timestream does (the query
        engine asks for it; without it DuckDB names them after their text).
    copy : bool, default True
        Translate a copy; False rewrites ``ast`` itself (a caller that owns a copy already
        saves one).

    Returns
    -------
    sqlglot.exp.Expression
        A tree to generate with ``dialect="duckdb"``; run it in a UTC session
        (:data:`DUCKDB_SESSION_SQL`).

    Raises
    ------
    tsstore.errors.QueryError
        An unsupported function or a wrong number of arguments (named), an unbound parameter,
        a ``sequence`` over timestamps without a step, or an interval DuckDB cannot represent.
    """
    ctx = _Context(now)
    tree = ast.copy() if copy else ast
    _check_functions(tree)
    if tree.find(exp.Div) is not None:
        # Trino divides integers as integers (7 / 2 = 3, truncated), DuckDB's `/` never does:
        # sqlglot generates the integer division where it knows both sides are integers.
        annotate_types(tree, dialect="trino")
    _mark_time_series(tree)
    # The difference of two timestamps does not bind in DuckDB for TIMESTAMPTZ_NS: compare
    # UTC wall clocks in TIMESTAMP_NS instead (before the rewrites, which hide the types).
    for sub in list(tree.find_all(exp.Sub)):
        if _is_timestamp(sub.this) and _is_timestamp(sub.expression):
            sub.set("this", _as_timestamp_ns(sub.this))
            sub.set("expression", _as_timestamp_ns(sub.expression))
    # Children before parents: reversed pre-order visits every node after its descendants.
    for node in reversed(list(tree.walk(bfs=False))):
        new = _rewrite(node, ctx)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    if name_columns:
        _name_columns(tree)
    for node in tree.find_all(exp.Anonymous):
        if node.name == _NS_DURATION:
            raise QueryError(
                f"a duration of {node.expressions[0].name} ns is used where DuckDB needs an "
                "interval (microsecond resolution): add it to or subtract it from a timestamp, "
                "or use a multiple of 1000ns (1us)"
            )
    return tree


def _name_columns(tree: exp.Expression) -> None:
    """Name the result's unnamed expressions ``_col<position>``, as Timestream (Trino) does;
    a bare column keeps its name. Only the outermost SELECT (the leftmost of a set operation)
    names the result."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if isinstance(select, exp.Subquery):
        select = select.unnest()
    if not isinstance(select, exp.Select):
        return
    for i, item in enumerate(select.expressions):
        if isinstance(item, exp.Alias | exp.Column | exp.Star) or item.alias:
            continue
        item.replace(exp.alias_(item.copy(), f"_col{i}", quoted=True))


def to_duckdb_sql(
    ast: exp.Expression, *, now: pd.Timestamp, name_columns: bool = False, copy: bool = True
) -> str:
    """Translate a Timestream syntax tree into DuckDB SQL (see :func:`to_duckdb`).

    With ``copy=False`` the tree is consumed: translated and then generated in place.

    Raises
    ------
    tsstore.errors.QueryError
        As :func:`to_duckdb`, and for constructs sqlglot cannot express in DuckDB's SQL.
    """
    # ``tree`` is a copy of ours or was given up (copy=False): no second copy
    return duckdb_sql(to_duckdb(ast, now=now, name_columns=name_columns, copy=copy))


def duckdb_sql(tree: exp.Expression) -> str:
    """The SQL of a DuckDB tree (from :func:`to_duckdb`), generated in place.

    Raises
    ------
    tsstore.errors.QueryError
        For constructs sqlglot cannot express in DuckDB's SQL.
    """
    try:
        return tree.sql(dialect="duckdb", copy=False, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as e:
        raise QueryError(f"this query cannot run in tsstore's SQL engine: {e}") from e
