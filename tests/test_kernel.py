"""The SQL kernel: one DuckDB connection per thread, in UTC, with the time-series functions."""

from __future__ import annotations

import threading

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tsstore.query import kernel


def test_one_connection_per_thread_in_utc():
    con = kernel.connection()
    assert kernel.connection() is con  # cached for the thread
    assert con.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
    seen = []
    t = threading.Thread(target=lambda: seen.append(kernel.connection()))
    t.start()
    t.join()
    assert seen[0] is not con  # another thread, another connection


def test_time_series_functions_are_installed():
    con = kernel.connection()
    names = {r[0] for r in con.sql("SELECT function_name FROM duckdb_functions()").fetchall()}
    assert any(n.startswith("ts_") for n in names)


def test_run_registers_tables_for_one_statement_only():
    data = pa.table({"x": [1, 2, 3]})
    assert kernel.run("SELECT sum(x) AS s FROM t", {"t": data}).to_pylist() == [{"s": 6}]
    with pytest.raises(duckdb.Error):
        kernel.run("SELECT * FROM t", {})  # unregistered after the statement
    with pytest.raises(duckdb.Error):
        kernel.run("SELECT nope FROM t", {"t": data})
    with pytest.raises(duckdb.Error):
        kernel.run("SELECT * FROM t", {})  # unregistered after a failed statement too


def test_small_inputs_run_on_the_single_threaded_connection():
    import pyarrow as pa

    small = pa.table({"x": list(range(10))})
    big = pa.table({"x": pa.array(range(kernel.SMALL_INPUT_ROWS))})
    threads = "SELECT current_setting('threads') AS n, count(*) AS c FROM t"
    assert kernel.run(threads, {"t": small}).to_pylist() == [{"n": 1, "c": 10}]
    got = kernel.run(threads, {"t": big}).to_pylist()[0]
    assert got["c"] == kernel.SMALL_INPUT_ROWS
    default = kernel.connection().execute("SELECT current_setting('threads')").fetchall()
    assert got["n"] == default[0][0]
    # both connections are kernel connections: UTC and the time-series functions
    for con in (kernel.connection(), kernel.connection(single_threaded=True)):
        assert con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0] == "UTC"
    assert kernel.connection(single_threaded=True) is kernel.connection(single_threaded=True)


def test_long_batches_are_cut_without_copying():
    """DuckDB's threads share a statement by record batch: a long one is cut first."""
    n = kernel.BATCH_ROWS * 2 + 10
    x = np.arange(n, dtype=np.float64)
    table = pa.table({"x": x})
    cut = kernel._batched(table)
    assert [b.num_rows for b in cut.to_batches()] == [kernel.BATCH_ROWS] * 2 + [10]
    assert (
        cut.column("x").chunk(1).buffers()[1].address
        == table.column("x").chunk(0).buffers()[1].address
    )
    assert kernel._batched(cut) is cut
    out = kernel.run("SELECT sum(x) AS s, count(*) AS n FROM t", {"t": table})
    assert out.to_pylist() == [{"s": float(x.sum()), "n": n}]
