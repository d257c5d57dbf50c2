"""Timestream's SQL dialect: parse a statement, bind its parameters.

Timestream's SQL is Trino's with a few additions, which :class:`Timestream` (a sqlglot dialect)
understands:

- bare **duration literals**: ``15s``, ``1h``, ``500ms``, ``50ns``, ``10us``, ``15m``, ``1d``
  (also ``1.5h``, read exactly as ``90m``), parsed into the standard
  ``exp.Interval(this=exp.Literal.string("15"), unit=exp.Var(this="MINUTE"))``. Stock dialects
  read ``SELECT 15m`` as ``SELECT 15 AS m``, silently;
- ``measure_value::double`` (``::bigint``, ``::varchar``, ``::boolean``, ``::timestamp``) is the
  *name* of the column of single-measure values, parsed into a quoted column
  ``exp.Column(this=exp.Identifier(this="measure_value::double", quoted=True))``, not a cast;
- ``SHOW DATABASES``, ``SHOW TABLES``, ``SHOW MEASURES`` and ``DESCRIBE``, parsed by
  :func:`parse_statement` into :class:`Show` and :class:`Describe`;
- named parameters ``:name``, bound by :func:`bind_params` as typed literals through the syntax
  tree, never by string formatting.

Examples
--------
>>> stmt = parse_statement("SELECT avg(cpu) FROM iot.metrics WHERE time > ago(15m)")
>>> stmt.ast.sql(dialect="trino")
"SELECT AVG(cpu) FROM iot.metrics WHERE time > AGO(INTERVAL '15' MINUTE)"
>>> parse_statement("SHOW TABLES FROM iot")
Show(kind='tables', database='iot', table=None, like=None)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Literal, TypeAlias

import numpy as np
import pandas as pd
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from tsstore.errors import QueryError

__all__ = [
    "DURATION_UNITS",
    "MEASURE_VALUE_COLUMNS",
    "Describe",
    "QuerySyntaxError",
    "Select",
    "Show",
    "ShowKind",
    "Statement",
    "Timestream",
    "bind_params",
    "parse_statement",
]

#: Duration suffixes, the interval unit each one becomes and its length in nanoseconds.
DURATION_UNITS: Final[dict[str, tuple[str, int]]] = {
    "ns": ("NANOSECOND", 1),
    "us": ("MICROSECOND", 1_000),
    "ms": ("MILLISECOND", 1_000_000),
    "s": ("SECOND", 1_000_000_000),
    "m": ("MINUTE", 60_000_000_000),
    "h": ("HOUR", 3_600_000_000_000),
    "d": ("DAY", 86_400_000_000_000),
}

#: The names of Timestream's single-measure value columns.
MEASURE_VALUE_COLUMNS: Final[frozenset[str]] = frozenset(
    f"measure_value::{t}" for t in ("double", "bigint", "varchar", "boolean", "timestamp")
)

# First words of statements that would change data or schema.
_WRITE_WORDS: Final = frozenset(
    {
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "UPSERT",
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "REPLACE",
        "RENAME",
        "GRANT",
        "REVOKE",
        "COPY",
    }
)
_WRITE_NODES: Final = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
)
# First words of statements that do not write but that tsstore does not run either.
_OTHER_STATEMENT_WORDS: Final = frozenset(
    {
        "USE",
        "SET",
        "RESET",
        "EXPLAIN",
        "ANALYZE",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "CALL",
        "START",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "REFRESH",
        "DECLARE",
        "CACHE",
        "UNCACHE",
        "VACUUM",
        "COMMENT",
    }
)
# First tokens of a query.
_QUERY_STARTS: Final = frozenset({"SELECT", "WITH", "VALUES", "("})
_READ_ONLY: Final = "tsstore's SQL is read-only: write with table.write(...)"
_SUPPORTED: Final = (
    "tsstore's SQL runs queries (SELECT, WITH, UNION ...), SHOW DATABASES, SHOW TABLES, "
    "SHOW MEASURES and DESCRIBE"
)


class QuerySyntaxError(QueryError):
    """SQL that does not parse; the message shows the line with a caret under the spot.

    Attributes
    ----------
    line : int
        1-based line of the error.
    col : int
        1-based column of the error (in characters).
    description : str
        What went wrong, without the position and the caret.
    """

    def __init__(self, message: str, *, line: int, col: int, description: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.description = description or message


def _syntax_error(sql: str, offset: int, description: str) -> QuerySyntaxError:
    """Build a :class:`QuerySyntaxError` pointing at character ``offset`` of ``sql``."""
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    line_start = sql.rfind("\n", 0, offset) + 1
    line_end = sql.find("\n", offset)
    text = sql[line_start : len(sql) if line_end < 0 else line_end].rstrip("\r")
    col = offset - line_start + 1
    # Keep tabs so that the caret lines up however the terminal expands them.
    pad = "".join("\t" if c == "\t" else " " for c in text[: col - 1])
    message = f"syntax error at line {line}, column {col}: {description}\n  {text}\n  {pad}^"
    return QuerySyntaxError(message, line=line, col=col, description=description)


# (unit, nanoseconds), largest first: the first that divides a duration writes it exactly.
_MAX_EXACT_UNITS: Final = sorted(DURATION_UNITS.values(), key=lambda u: -u[1])


class _TimestreamTokenError(TokenError):
    """A tokenizing error that knows where it happened (``offset`` into the SQL)."""

    def __init__(self, description: str, offset: int) -> None:
        super().__init__(description)
        self.description = description
        self.offset = offset


# --------------------------------------------------------------------------------------------
# Tokens: durations and measure_value::<type>
# --------------------------------------------------------------------------------------------


def _duration_tokens(number: Token, suffix: Token, sql: str) -> list[Token]:
    """Turn ``NUMBER`` + unit (``15`` ``m``) into ``INTERVAL '15' MINUTE`` tokens.

    A whole number keeps its unit; a decimal one (``1.5h``) is rewritten exactly in the largest
    unit that makes it whole (``90`` ``MINUTE``).
    """
    text = sql[number.start : suffix.end + 1]
    unit, unit_ns = DURATION_UNITS[suffix.text]
    try:
        value = Decimal(number.text)
    except InvalidOperation as e:  # pragma: no cover - the tokenizer only makes valid numbers
        raise _TimestreamTokenError(f"{text} is not a duration", number.start) from e
    if value != value.to_integral_value():
        total_ns = value * unit_ns
        if total_ns != total_ns.to_integral_value():
            raise _TimestreamTokenError(
                f"duration {text} is not a whole number of nanoseconds", number.start
            )
        for exact_unit, exact_ns in _MAX_EXACT_UNITS:
            if total_ns % exact_ns == 0:
                unit, value = exact_unit, total_ns / exact_ns
                break
    literal = str(int(value))
    where = {"line": number.line, "col": suffix.col, "start": number.start, "end": suffix.end}
    return [
        Token(TokenType.INTERVAL, "INTERVAL", **where),
        Token(TokenType.STRING, literal, **where),
        Token(TokenType.VAR, unit, comments=suffix.comments, **where),
    ]


def _starts_word(sql: str, pos: int) -> bool:
    return pos < len(sql) and (sql[pos].isalpha() or sql[pos] == "_")


def _rewrite_tokens(tokens: list[Token], sql: str) -> list[Token]:
    """Merge duration literals and ``measure_value::<type>`` names into the tokens they mean."""
    out: list[Token] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else None
        if (
            tok.token_type == TokenType.NUMBER
            and nxt is not None
            and nxt.start == tok.end + 1
            and _starts_word(sql, nxt.start)
        ):
            # A number glued to a word: a duration, or a mistake (Trino refuses identifiers that
            # start with a digit too). Never read it as `number AS word`.
            if nxt.token_type == TokenType.VAR and nxt.text in DURATION_UNITS:
                out.extend(_duration_tokens(tok, nxt, sql))
                i += 2
                continue
            glued = sql[tok.start : nxt.end + 1]
            hint = ""
            if nxt.text.lower() in DURATION_UNITS:
                hint = f"; duration units are lowercase: {tok.text}{nxt.text.lower()}"
            elif nxt.text.lower() in {"min", "mins", "minute", "minutes"}:
                hint = f"; write {tok.text}m for minutes"
            raise _TimestreamTokenError(
                f"{glued!r} is not a number or a duration; a duration is a number and a unit "
                f"(ns, us, ms, s, m, h, d) such as 15m, and identifiers cannot start with a "
                f"digit{hint}",
                tok.start,
            )
        if (
            tok.token_type == TokenType.VAR
            and tok.text.lower() == "measure_value"
            and i + 2 < n
            and tokens[i + 1].token_type == TokenType.DCOLON
            and f"measure_value::{tokens[i + 2].text.lower()}" in MEASURE_VALUE_COLUMNS
        ):
            last = tokens[i + 2]
            out.append(
                Token(
                    TokenType.IDENTIFIER,
                    f"measure_value::{last.text.lower()}",
                    line=last.line,
                    col=last.col,
                    start=tok.start,
                    end=last.end,
                    comments=[*tok.comments, *tokens[i + 1].comments, *last.comments],
                )
            )
            i += 3
            continue
        out.append(tok)
        i += 1
    return out


class Timestream(Trino):
    """Amazon Timestream's SQL: Trino plus durations, ``measure_value::<type>`` and SHOW.

    Registered with sqlglot under the name ``"timestream"``.
    """

    class Tokenizer(Trino.Tokenizer):
        """Trino's tokenizer, plus duration literals and ``measure_value::<type>`` names."""

        # `1d` must never become a typed number the way Hive reads `1D` as a DOUBLE.
        NUMERIC_LITERALS: ClassVar[dict[str, str]] = {}
        # SHOW statements are parsed by `parse_statement` from ordinary tokens.
        COMMANDS = Trino.Tokenizer.COMMANDS - {TokenType.SHOW}

        def tokenize(self, sql: str) -> list[Token]:
            """Tokenize ``sql``; see :func:`_rewrite_tokens` for the Timestream additions.

            Raises
            ------
            sqlglot.errors.TokenError
                With an ``offset`` attribute (where) and a ``description`` (what).
            """
            try:
                tokens = super().tokenize(sql)
            except TokenError as e:
                # the cause: chained `from` it, or (sqlglotc, compiled) only as its context
                cause = e.__cause__ or e.__context__
                description = str(cause) if cause is not None else str(e)
                if description.startswith("Missing "):
                    delimiter = description.split()[1]
                    description = f"unterminated literal: missing closing {delimiter}"
                offset = getattr(self._core, "_start", 0)
                raise _TimestreamTokenError(description, int(offset)) from e
            return _rewrite_tokens(tokens, sql)


_DIALECT: Final = Timestream()


# --------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------

ShowKind: TypeAlias = Literal["databases", "tables", "measures"]


@dataclass(frozen=True, slots=True)
class Select:
    """A query (SELECT, WITH ..., UNION ..., VALUES ...).

    Attributes
    ----------
    ast : sqlglot.exp.Expression
        The Timestream syntax tree; bind parameters with :func:`bind_params`, translate with
        :func:`tsstore.query.translate.to_duckdb`.
    """

    ast: exp.Expression


@dataclass(frozen=True, slots=True)
class Show:
    """``SHOW DATABASES``, ``SHOW TABLES [FROM db]`` or ``SHOW MEASURES FROM [db.]table``.

    Attributes
    ----------
    kind : {"databases", "tables", "measures"}
    database : str or None
        The database named (``FROM db``, ``IN db``, ``FROM db.table``); None when not named
        (the connection's default database applies).
    table : str or None
        The table, for ``SHOW MEASURES``; None otherwise.
    like : str or None
        The ``LIKE`` pattern, as written (``%`` and ``_`` are wildcards).
    """

    kind: ShowKind
    database: str | None
    table: str | None
    like: str | None


@dataclass(frozen=True, slots=True)
class Describe:
    """``DESCRIBE [db.]table``.

    Attributes
    ----------
    database : str or None
        None when not named (the connection's default database applies).
    table : str
    """

    database: str | None
    table: str


Statement: TypeAlias = Select | Show | Describe


def _tokenize(sql: str) -> list[Token]:
    try:
        return _DIALECT.tokenize(sql)
    except _TimestreamTokenError as e:
        raise _syntax_error(sql, e.offset, e.description) from None
    except TokenError as e:  # pragma: no cover - our tokenizer always positions its errors
        raise _syntax_error(sql, 0, str(e)) from None


def _split_statements(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(tok)
    return [s for s in statements if s]


def _raw(sql: str, tok: Token) -> str:
    return sql[tok.start : tok.end + 1]


class _Words:
    """A cursor over the tokens of a SHOW or DESCRIBE statement."""

    def __init__(self, tokens: list[Token], sql: str) -> None:
        self.tokens = tokens
        self.sql = sql
        self.i = 0

    def _here(self) -> int:
        if self.i < len(self.tokens):
            return self.tokens[self.i].start
        last = self.tokens[-1]
        return last.end + 1

    def error(self, description: str) -> QuerySyntaxError:
        return _syntax_error(self.sql, self._here(), description)

    def word(self) -> str | None:
        """The next token as an upper-case keyword (None at the end or for quoted text)."""
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        if tok.token_type in (TokenType.IDENTIFIER, TokenType.STRING):
            return None
        return _raw(self.sql, tok).upper()

    def accept(self, *words: str) -> str | None:
        word = self.word()
        if word in words:
            self.i += 1
            return word
        return None

    def name(self, what: str) -> str:
        if self.i >= len(self.tokens):
            raise self.error(f"expected {what}, found the end of the statement")
        tok = self.tokens[self.i]
        if tok.token_type == TokenType.IDENTIFIER:
            self.i += 1
            return tok.text
        raw = _raw(self.sql, tok)
        if (
            raw
            and (raw[0].isalpha() or raw[0] == "_")
            and all(c.isalnum() or c == "_" for c in raw)
        ):
            self.i += 1
            return raw
        raise self.error(f'expected {what}, found {raw!r} (quote unusual names: "my-db")')

    def qualified(self, what: str) -> tuple[str | None, str]:
        first = self.name(what)
        if self.i < len(self.tokens) and self.tokens[self.i].token_type == TokenType.DOT:
            self.i += 1
            return first, self.name(what)
        return None, first

    def like(self) -> str | None:
        if self.accept("LIKE") is None:
            return None
        if self.i < len(self.tokens) and self.tokens[self.i].token_type == TokenType.STRING:
            self.i += 1
            return self.tokens[self.i - 1].text
        raise self.error("expected a quoted pattern after LIKE, such as LIKE 'cpu%'")

    def end(self, expected: str) -> None:
        if self.i < len(self.tokens):
            raise self.error(f"unexpected {_raw(self.sql, self.tokens[self.i])!r}; {expected}")


def _parse_show(words: _Words) -> Show:
    words.accept("SHOW")
    kind = words.accept("DATABASES", "TABLES", "MEASURES")
    if kind is None:
        raise words.error("expected DATABASES, TABLES or MEASURES after SHOW")
    if kind == "DATABASES":
        like = words.like()
        words.end("expected SHOW DATABASES [LIKE 'pattern']")
        return Show("databases", None, None, like)
    if kind == "TABLES":
        database = words.name("a database name") if words.accept("FROM", "IN") else None
        like = words.like()
        words.end("expected SHOW TABLES [FROM database] [LIKE 'pattern']")
        return Show("tables", database, None, like)
    if words.accept("FROM", "IN") is None:
        raise words.error("expected FROM [database.]table after SHOW MEASURES")
    database, table = words.qualified("a table name")
    like = words.like()
    words.end("expected SHOW MEASURES FROM [database.]table [LIKE 'pattern']")
    return Show("measures", database, table, like)


def _parse_describe(words: _Words) -> Describe:
    words.accept("DESCRIBE", "DESC")
    database, table = words.qualified("a table name")
    words.end("expected DESCRIBE [database.]table")
    return Describe(database, table)


def _parse_error(sql: str, error: ParseError, parser: Parser) -> QuerySyntaxError:
    info = error.errors[0] if error.errors else {}
    # The parser runs with a context as long as the SQL, so the text before the highlighted
    # token is all of the SQL before it: its length is the token's offset.
    offset = len(info.get("start_context") or "")
    description = str(info.get("description") or error)
    last = parser._prev
    if not parser._curr and last and offset == last.start:
        # Out of tokens, sqlglot points at the last one: say so, and point just past it.
        # (Read from the parser's state rather than by overriding `raise_error`: sqlglotc's
        # compiled Parser cannot be subclassed.)
        offset = last.end + 1
        description = f"{description.split(' but got <Token', 1)[0]}, but the query ends"
    if description.startswith("Required keyword:") and " missing for " in description:
        # "Required keyword: 'expression' missing for <class '...Mod'>": an incomplete node.
        name = description.rsplit(".", 1)[-1].split("'", 1)[0]
        node = getattr(exp, name, None)
        at_paren = sql[offset : offset + 1] == ")"
        if isinstance(node, type) and (issubclass(node, exp.Func) or at_paren):
            description = f"{name.lower()}(): an argument is missing"
        elif isinstance(node, type) and issubclass(node, exp.Binary):
            description = "incomplete expression: an operand is missing"
        else:
            description = f"incomplete {name.upper()}: something is missing"
    return _syntax_error(sql, offset, description)


def parse_statement(sql: str) -> Statement:
    """Parse one Timestream SQL statement.

    Parameters
    ----------
    sql : str
        One statement; a trailing ``;`` is allowed.

    Returns
    -------
    Select or Show or Describe
        ``Select(ast)`` for any query, ``Show(kind, database, table, like)`` for
        ``SHOW DATABASES|TABLES|MEASURES``, ``Describe(database, table)`` for ``DESCRIBE``.

    Raises
    ------
    QuerySyntaxError
        SQL that does not parse, empty SQL, or several statements; the message names the line
        and column and shows the line with a caret under the spot.
    tsstore.errors.QueryError
        A statement that writes (``INSERT``, ``CREATE``, ``DROP``, ...) or another statement
        tsstore does not run.

    Examples
    --------
    >>> parse_statement("DESCRIBE iot.metrics")
    Describe(database='iot', table='metrics')
    >>> type(parse_statement("SELECT 1")).__name__
    'Select'
    """
    if not isinstance(sql, str):
        raise QueryError(f"a query is a str of SQL, not {type(sql).__name__}")
    tokens = _tokenize(sql)
    statements = _split_statements(tokens)
    if not statements:
        raise _syntax_error(sql, len(sql), "empty query: write a SELECT, SHOW or DESCRIBE")
    if len(statements) > 1:
        raise _syntax_error(
            sql,
            statements[1][0].start,
            "several statements: send one statement per query (remove the ';' between them)",
        )
    tokens = statements[0]
    first = _raw(sql, tokens[0]).upper()
    if first == "SHOW":
        return _parse_show(_Words(tokens, sql))
    if first in ("DESCRIBE", "DESC"):
        return _parse_describe(_Words(tokens, sql))
    if first in _WRITE_WORDS:
        raise QueryError(f"{first} is not allowed: {_READ_ONLY}")
    if first in _OTHER_STATEMENT_WORDS:
        raise QueryError(f"{first} statements are not supported: {_SUPPORTED}")
    if first not in _QUERY_STARTS:
        raise _syntax_error(
            sql, tokens[0].start, f"expected SELECT, WITH, SHOW or DESCRIBE, found {first!r}"
        )
    parser = _DIALECT.parser(error_level=ErrorLevel.IMMEDIATE, error_message_context=len(sql) + 1)
    try:
        trees = [t for t in parser.parse(tokens, sql) if t is not None]
    except ParseError as e:
        raise _parse_error(sql, e, parser) from None
    except _TimestreamTokenError as e:  # pragma: no cover - defensive
        raise _syntax_error(sql, e.offset, e.description) from None
    if len(trees) != 1:  # pragma: no cover - one statement's tokens give one tree
        raise _syntax_error(sql, tokens[0].start, "expected exactly one statement")
    tree = trees[0]
    if tree.find(*_WRITE_NODES) is not None:
        raise QueryError(_READ_ONLY)
    if not isinstance(tree, exp.Query | exp.Values):  # pragma: no cover - by the first word
        raise QueryError(f"this statement is not supported: {_SUPPORTED}")
    return Select(tree)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _interval_from_ns(ns: int) -> exp.Expression:
    """An interval literal of ``ns`` nanoseconds in the largest unit that keeps it exact."""
    for unit, unit_ns in _MAX_EXACT_UNITS:
        if ns % unit_ns == 0:
            node = exp.Interval(
                this=exp.Literal.string(str(abs(ns) // unit_ns)), unit=exp.Var(this=unit)
            )
            return exp.Neg(this=node) if ns < 0 else node
    raise AssertionError("unreachable: every integer is a whole number of nanoseconds")


def _timestamp_literal(value: Any) -> exp.Expression:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    iso = ts.tz_localize(None).isoformat()
    return exp.FromISO8601Timestamp(this=exp.Literal.string(f"{iso}Z"))


def _literal(value: Any, name: str) -> exp.Expression:
    """The typed literal of one parameter value (see :func:`bind_params`)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return exp.Null()
    if isinstance(value, bool | np.bool_):
        return exp.Boolean(this=bool(value))
    if isinstance(value, int | np.integer):
        return exp.Literal.number(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isfinite(f):
            return (
                exp.Literal.number(repr(f))
                if f >= 0
                else exp.Neg(this=exp.Literal.number(repr(-f)))
            )
        text = "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
        return exp.cast(exp.Literal.string(text), exp.DataType.Type.DOUBLE)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise QueryError(f"parameter :{name} is {value}, not a finite number")
        text = str(value)
        return exp.Neg(this=exp.Literal.number(text[1:])) if value < 0 else exp.Literal.number(text)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, pd.Timestamp | dt.datetime | np.datetime64):
        if pd.isna(value):
            return exp.Null()
        return _timestamp_literal(value)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, pd.Timedelta | dt.timedelta | np.timedelta64):
        if pd.isna(value):
            return exp.Null()
        return _interval_from_ns(pd.Timedelta(value).value)
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, list | tuple):
                raise QueryError(f"parameter :{name} nests a list in a list; give a flat list")
            items.append(_literal(item, name))
        return exp.Tuple(expressions=items)
    raise QueryError(
        f"parameter :{name} has unsupported type {type(value).__name__}; give a str, int, "
        "float, bool, None, timestamp, date, timedelta, or a list or tuple of those"
    )


def bind_params(ast: exp.Expression, params: Mapping[str, Any] | None) -> exp.Expression:
    """Replace named parameters ``:name`` with typed literals, through the syntax tree.

    Values become: ``str`` a string literal; ``int``, ``float``, ``Decimal`` a number (NaN and
    infinities ``CAST('NaN' AS DOUBLE)``); ``bool`` a boolean; ``None`` (and NaT) ``NULL``; a
    ``pd.Timestamp``, ``datetime`` or ``np.datetime64`` ``from_iso8601_timestamp('...Z')`` with
    nanoseconds kept (naive values are UTC); a ``date`` a DATE; a timedelta an interval; a list
    or tuple a tuple of those, spliced into ``IN (:p)`` and ``IN :p`` as the IN list. No value is
    ever formatted into SQL text, so a quote inside a string cannot change the query.

    Parameters
    ----------
    ast : sqlglot.exp.Expression
        A parsed query (``parse_statement(sql).ast``); it is not modified.
    params : Mapping of str to value, or None
        Parameter values by name (without the colon). Unused names are ignored.

    Returns
    -------
    sqlglot.exp.Expression
        A copy of ``ast`` without named parameters.

    Raises
    ------
    tsstore.errors.QueryError
        A parameter with no value (the message lists the names given), a positional ``?``
        parameter, an empty list, or a value of an unsupported type.

    Examples
    --------
    >>> ast = parse_statement("SELECT * FROM t WHERE d = :d").ast
    >>> bind_params(ast, {"d": "x' OR '1'='1"}).sql(dialect="trino")
    "SELECT * FROM t WHERE d = 'x'' OR ''1''=''1'"
    """
    params = dict(params or {})
    tree = ast.copy()
    placeholders = list(tree.find_all(exp.Placeholder, bfs=False))
    if any(not node.name or node.name == "?" for node in placeholders):
        raise QueryError(
            "positional parameters (?) are not supported; name them (:name) and pass a dict"
        )
    missing = list(dict.fromkeys(n.name for n in placeholders if n.name not in params))
    if missing:
        given = ", ".join(f":{k}" for k in params) or "none"
        names = ", ".join(f":{k}" for k in missing)
        plural = "s" if len(missing) > 1 else ""
        raise QueryError(f"no value for query parameter{plural} {names}; parameters given: {given}")
    for node in placeholders:
        name = node.name
        value = params[name]
        parent = node.parent
        if isinstance(parent, exp.In) and node.arg_key == "field":
            value = list(value) if isinstance(value, list | tuple) else [value]  # `IN :p`
        if isinstance(parent, exp.In) and isinstance(value, list | tuple):
            in_list = node.arg_key == "field" or (
                node.arg_key == "expressions" and len(parent.expressions) == 1
            )
            if in_list:
                if not value:
                    raise QueryError(
                        f"parameter :{name} is an empty list; IN needs at least one value"
                    )
                items = _literal(value, name).expressions
                parent.set("field", None)
                parent.set("expressions", items)
                continue
        replacement = _literal(value, name)
        if node is tree:
            tree = replacement
        else:
            node.replace(replacement)
    return tree
