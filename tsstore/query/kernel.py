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

from tsstore.query import progress, timeseries
from tsstore.query.translate import DUCKDB_SESSION_SQL

__all__ = ["connection", "run"]

_local = threading.local()


#: Inputs of fewer rows than this run on a single-threaded connection: DuckDB's scheduling of
#: a statement over its worker threads costs more than they save on small inputs (0.3 ms of a
#: 1.2 ms statement over 360 rows here; on 400,000 rows two threads are 1.3x faster).
SMALL_INPUT_ROWS = 65_536

#: Record batches longer than this are cut (without copying) before DuckDB reads them. Its
#: Arrow scan hands whole batches to its threads, so one long batch (a scan's gathered rows)
#: would run the statement's first pipeline on one thread.
BATCH_ROWS = 65_536


def _batched(table: pa.Table) -> pa.Table:
    """``table`` with no record batch longer than :data:`BATCH_ROWS` (slices: no copy)."""
    if not BATCH_ROWS or table.num_columns == 0:
        return table
    if all(len(chunk) <= BATCH_ROWS for chunk in table.column(0).chunks):
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)


def connection(*, single_threaded: bool = False) -> duckdb.DuckDBPyConnection:
    """This thread's kernel connection (created on first use, then cached); with
    ``single_threaded``, its connection whose DuckDB runs statements on one thread."""
    attr = "con1" if single_threaded else "con"
    con = getattr(_local, attr, None)
    if con is None:
        con = duckdb.connect()
        con.execute(DUCKDB_SESSION_SQL)
        # statements track their progress (for tsstore.query.progress; nothing is printed):
        # no measurable cost on a 13 ms aggregate or a 0.3 ms statement here
        con.execute(
            "SET enable_progress_bar = true; SET enable_progress_bar_print = false; "
            "SET progress_bar_time = 0"
        )
        if single_threaded:
            con.execute("SET threads = 1")
        timeseries.install(con)
        setattr(_local, attr, con)
    return con


def run(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """``sql`` over Arrow ``tables`` (registered under their names for this statement only)
    on this thread's connection (the single-threaded one when the inputs are small). Raises
    ``duckdb.Error`` as DuckDB does (callers word it), and ``KeyboardInterrupt`` when the
    statement was interrupted (SIGINT, a notebook's stop button): Python's convention."""
    rows = sum(t.num_rows for t in tables.values())
    con = connection(single_threaded=rows < SMALL_INPUT_ROWS)
    for name, table in tables.items():
        con.register(name, _batched(table))
    try:
        with progress.running(con):
            return con.sql(sql).to_arrow_table()
    except duckdb.InterruptException:
        raise KeyboardInterrupt("query interrupted") from None
    except RuntimeError as e:  # DuckDB's Arrow stream reports an interrupt this way
        if "interrupted" in str(e).lower():
            raise KeyboardInterrupt("query interrupted") from None
        raise
    finally:
        for name in tables:
            con.unregister(name)
