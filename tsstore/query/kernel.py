"""The SQL kernel: one DuckDB connection per thread, set up for Timestream semantics.

Every fragment of a query, in the calling thread or in a Dask worker (a thread of this process
or another process), runs on a connection from :func:`connection`: its session time zone is UTC
(:data:`~tsstore.query.translate.DUCKDB_SESSION_SQL`) and Timestream's time-series functions
are installed (:mod:`tsstore.query.timeseries`).
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa

from tsstore.query import timeseries
from tsstore.query.translate import DUCKDB_SESSION_SQL

__all__ = ["connection", "run"]

_local = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's kernel connection (created on first use, then cached)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute(DUCKDB_SESSION_SQL)
        timeseries.install(con)
        _local.con = con
    return con


def run(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """``sql`` over Arrow ``tables`` (registered under their names for this statement only)
    on this thread's connection. Raises ``duckdb.Error`` as DuckDB does; callers word it."""
    con = connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
