"""Timestream SQL over pandas DataFrames, with no store.

:func:`query_frames` runs one query of tsstore's dialect (``bin``, ``ago``, ``:name``
parameters, the time-series functions ...) over DataFrames registered under table names. It is
the query engine without the storage: the statement is parsed and its parameters bound as in
:class:`~tsstore.query.engine.QueryEngine`, every table of the query is replaced by its frame
(as Arrow, time columns in UTC nanoseconds) and the query runs on the same DuckDB kernel, so a
query gives the same answer over a frame as over a table holding the same rows.

It is what ``df.ts.sql(...)`` (:mod:`tsstore.accessor`) runs.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=4, freq="30s"),
...                    "device_id": ["a", "a", "b", "b"], "cpu": [1.0, 3.0, 5.0, 7.0]})
>>> query_frames("SELECT device_id, bin(time, 1m) AS t, avg(cpu) AS cpu FROM df "
...              "GROUP BY 1, 2 ORDER BY 1", {"df": df})
  device_id                         t  cpu
0         a 2024-01-01 00:00:00+00:00  2.0
1         b 2024-01-01 00:01:00+00:00  6.0
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from sqlglot import exp

from tsstore.errors import QueryError, ValidationError
from tsstore.model.durations import to_utc_timestamp
from tsstore.query import kernel
from tsstore.query.dialect import Select, bind_params, parse_statement
from tsstore.query.engine import _to_pandas
from tsstore.query.translate import integer_divisions, to_duckdb_sql

__all__ = ["frame_to_arrow", "query_frames"]

_TIME_TYPE = pa.timestamp("ns", tz="UTC")


def query_frames(
    sql: str,
    frames: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any] | None = None,
    *,
    now: object | None = None,
) -> pd.DataFrame:
    """Run Timestream SQL over pandas DataFrames.

    Parameters
    ----------
    sql : str
        One query (``SELECT``, ``WITH`` ...) in tsstore's dialect: duration literals (``15m``),
        ``bin``, ``ago``, ``now()``, ``:name`` parameters and Timestream's time-series
        functions. ``SHOW`` and ``DESCRIBE`` are about a store's catalog and are refused.
    frames : Mapping of str to DataFrame
        The tables of the query by name: ``{"df": df}`` answers ``FROM df``; a dotted name
        (``{"iot.metrics": df}``) answers ``FROM iot.metrics``. An unqualified name in the
        query may also match a dotted key by its last part, when only one does.
    params : Mapping of str to value, optional
        Values of the query's ``:name`` parameters, bound as typed literals through the
        syntax tree (see :func:`~tsstore.query.dialect.bind_params`).
    now : Timestamp-like, optional
        The query's current time (``now()``, ``ago()``); default the wall clock. Naive
        values are UTC.

    Returns
    -------
    pandas.DataFrame
        As :meth:`tsstore.Client.query` returns it: timestamps tz-aware UTC, integer columns
        with nulls ``Int64``, unnamed expressions named ``_col<position>``.

    Raises
    ------
    tsstore.errors.QueryError
        A syntax error (the message shows the line with a caret under the spot), a table of
        the query that is not in ``frames`` (with the nearest name), an unknown column (with
        the nearest name), a missing parameter, an unsupported function.
    tsstore.errors.ValidationError
        A frame that cannot become a table: duplicate or non-string column names, a column
        that mixes types, a ``time`` column that does not hold times.

    Notes
    -----
    Datetime columns are converted to Arrow ``timestamp[ns, UTC]``: tz-naive values are
    taken as UTC and tz-aware values converted; a ``time`` column of strings is parsed as
    ISO 8601. A named index (a ``DatetimeIndex`` called ``time`` ...) becomes columns. Float
    NaN is SQL NULL, as when the frame is written to a table.

    Examples
    --------
    >>> df = pd.DataFrame({"time": pd.to_datetime(["2024-01-01"]), "x": [1]})
    >>> query_frames("SELECT x + :k AS y FROM df", {"df": df}, {"k": 2})["y"].tolist()
    [3]
    """
    if not isinstance(frames, Mapping):
        raise ValidationError(
            f"frames must map table names to DataFrames, got {type(frames).__name__}; "
            'write {"df": df}'
        )
    stmt = parse_statement(sql)
    if not isinstance(stmt, Select):
        raise QueryError(
            "SHOW and DESCRIBE read a store's catalog; over DataFrames run a query "
            "(SELECT * FROM df LIMIT 0 shows the columns)"
        )
    when = pd.Timestamp.now(tz="UTC") if now is None else to_utc_timestamp(now, "now")
    ast = bind_params(stmt.ast, params)  # a copy: ours to rewrite
    ctes = {c.alias_or_name for c in ast.find_all(exp.CTE)}
    aliases: dict[str, str] = {}  # frame name -> its name in the kernel
    tables: dict[str, pa.Table] = {}
    for node in list(ast.find_all(exp.Table)):
        if not isinstance(node.this, exp.Identifier):
            continue  # a table function or a subquery in FROM
        if not node.db and node.name in ctes:
            continue
        name = _resolve(node, frames)
        kernel_name = aliases.get(name)
        if kernel_name is None:
            kernel_name = aliases[name] = f"__tsstore_frame_{len(aliases)}"
            tables[kernel_name] = frame_to_arrow(frames[name], name)
        node.replace(
            exp.Table(
                this=exp.to_identifier(kernel_name),
                alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name, quoted=True)),
            )
        )
    ast = integer_divisions(ast, {k: _trino_types(t.schema) for k, t in tables.items()})
    text = to_duckdb_sql(ast, now=when, name_columns=True, copy=False)
    try:
        result = kernel.run(text, tables)
    except duckdb.Error as e:
        raise QueryError(_explain(e, tables)) from e
    return _to_pandas(result)


def frame_to_arrow(df: pd.DataFrame, name: str = "df") -> pa.Table:
    """A DataFrame as the Arrow table :func:`query_frames` registers for it.

    Datetime columns become ``timestamp[ns, UTC]`` (naive = UTC), a ``time`` column of
    strings is parsed as ISO 8601, named index levels become columns.

    Raises
    ------
    tsstore.errors.ValidationError
        Not a DataFrame, duplicate or non-string column names, a column Arrow cannot type
        (mixed types), a ``time`` column that does not hold times. ``name`` is the table name
        the message uses.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"table {name!r} must be a pandas DataFrame, got {type(df).__name__}")
    if any(n is not None for n in df.index.names):
        try:
            df = df.reset_index()
        except ValueError as e:
            raise ValidationError(
                f"frame {name!r}: its index levels {list(df.index.names)} clash with its "
                "columns; drop or rename the index (df.reset_index(drop=True))"
            ) from e
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise ValidationError(
            f"frame {name!r} has column names that are not strings: {bad}; rename them "
            "(df.columns = df.columns.map(str))"
        )
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise ValidationError(f"frame {name!r} has duplicate columns {dup}; rename them")
    if "time" in df.columns:
        df = df.assign(time=_times(df["time"], name))
    if df.attrs:  # e.g. a query result's stats: not data, and not JSON for Arrow's metadata
        df = df.copy(deep=False)
        df.attrs = {}
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        column = _bad_column(df)
        where = f"column {column!r} of frame {name!r}" if column else f"frame {name!r}"
        raise ValidationError(
            f"{where} cannot be a SQL column ({e}); give each column one type "
            "(df[col].astype(str), pd.to_numeric(df[col]) ...)"
        ) from e
    fields = list(table.schema)
    if any(pa.types.is_timestamp(f.type) and f.type != _TIME_TYPE for f in fields):
        schema = pa.schema(
            [f.with_type(_TIME_TYPE) if pa.types.is_timestamp(f.type) else f for f in fields]
        )
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise ValidationError(
                f"frame {name!r}: a datetime column is out of the nanosecond range "
                f"(1677-09-22 .. 2262-04-11): {e}"
            ) from e
    return table.replace_schema_metadata(None)


def _times(s: pd.Series, name: str) -> pd.Series:
    """A ``time`` column as ``datetime64[ns, UTC]``; strings parsed as ISO 8601."""
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):
            raise ValidationError(
                f"column 'time' of frame {name!r} holds {s.dtype}, not times; convert it with "
                "pd.to_datetime(df['time'], utc=True) (unit='s' for epoch seconds)"
            )
        try:
            return pd.to_datetime(s, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
        except (ValueError, TypeError) as e:
            raise ValidationError(
                f"column 'time' of frame {name!r} holds values that are not times ({e}); "
                "convert it with pd.to_datetime(df['time'], utc=True)"
            ) from e
    if getattr(s.dt, "tz", None) is None:
        s = s.dt.tz_localize("UTC")
    return s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _bad_column(df: pd.DataFrame) -> str | None:
    """The first column Arrow cannot convert."""
    for c in df.columns:
        try:
            pa.Array.from_pandas(df[c])
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return str(c)
    return None


def _resolve(node: exp.Table, frames: Mapping[str, pd.DataFrame]) -> str:
    """The key of ``frames`` that a table of the query names."""
    parts = [p.name for p in (node.args.get("catalog"), node.args.get("db")) if p is not None]
    name = ".".join([*parts, node.name])
    if name in frames:
        return name
    names = [str(k) for k in frames]
    folded = [k for k in names if k.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    if "." not in name:  # ``FROM metrics`` for a frame registered as "iot.metrics"
        tails = [k for k in names if k.rsplit(".", 1)[-1] == name]
        if len(tails) == 1:
            return tails[0]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    given = ", ".join(repr(k) for k in names) or "none"
    raise QueryError(
        f"table {name!r} is not one of the frames given ({given}){hint} Pass each table of "
        "the query as frames={'name': df}"
    )


def _trino_type(kind: pa.DataType) -> str:
    if pa.types.is_dictionary(kind):
        return _trino_type(kind.value_type)
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE"
    if pa.types.is_decimal(kind):
        return "DECIMAL"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_date(kind):
        return "DATE"
    return "VARCHAR"


def _trino_types(schema: pa.Schema) -> dict[str, str]:
    """The Trino type of every column (for the translation's typing of divisions)."""
    return {f.name: _trino_type(f.type) for f in schema}


def _explain(e: Exception, tables: Mapping[str, pa.Table]) -> str:
    """A kernel error as a user message; unknown columns get "did you mean"."""
    msg = str(e).split("\n")[0]
    m = re.search(r'[Cc]olumn "([^"]+)" not found', msg) or re.search(
        r'Referenced column "([^"]+)"', msg
    )
    if m:
        names = sorted({n for t in tables.values() for n in t.column_names})
        close = difflib.get_close_matches(m.group(1), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {names}"
        return f"column {m.group(1)!r} does not exist{hint}"
    return f"query failed: {msg}"
