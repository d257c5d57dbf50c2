"""The %tsql / %%tsql magic in an in-process IPython shell (real kernels: tests/integration)."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import tsstore
from tsstore.magic import ExplainText, TsqlMagics, _split_line, bind_identifiers, parameter_names

NOW = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


@pytest.fixture
def shell(tmp_path):
    sh = InteractiveShell.instance()
    if "tsstore" not in sh.extension_manager.loaded:
        sh.run_line_magic("load_ext", "tsstore")
    store = tsstore.connect(
        tmp_path / "store", database="iot", lifecycle_interval=None, clock=lambda: NOW
    )
    table = store.create_database("iot").create_table("metrics", memory_retention="1d")
    table.write(
        pd.DataFrame(
            {
                "device": ["a", "b", "a", "b"],
                "time": NOW - pd.to_timedelta(["1min", "1min", "2min", "30min"]),
                "temperature": [1.0, 2.0, 3.0, 4.0],
            }
        ),
        dimensions=["device"],
    )
    sh.user_ns["store"] = store
    sh.run_line_magic("tsql", "--connect store")
    yield sh
    magics = sh.magics_manager.registry["TsqlMagics"]
    magics.close()
    for name in ("store", "out", "r", "dev", "tbl", "bad", "n"):
        sh.user_ns.pop(name, None)
    store.close()


def test_line_and_cell_forms_return_the_result(shell):
    got = shell.run_line_magic(
        "tsql", "SELECT device, avg(temperature) AS t FROM metrics GROUP BY 1 ORDER BY 1"
    )
    assert got.to_dict("list") == {"device": ["a", "b"], "t": [2.0, 3.0]}
    got = shell.run_cell_magic("tsql", "", "SELECT count(*) AS n\nFROM iot.metrics")
    assert got["n"].tolist() == [4]


def test_output_variable_with_o_and_with_jupysql_arrow(shell):
    assert (
        shell.run_cell_magic("tsql", "-o out", "SELECT max(temperature) AS m FROM metrics") is None
    )
    assert shell.user_ns["out"]["m"].tolist() == [4.0]
    assert shell.run_cell_magic("tsql", "r <<", "SELECT min(temperature) AS m FROM metrics") is None
    assert shell.user_ns["r"]["m"].tolist() == [1.0]
    shell.run_line_magic("tsql", "n << SELECT count(*) AS c FROM metrics")
    assert shell.user_ns["n"]["c"].tolist() == [4]


def test_parameters_bind_notebook_variables_as_values_never_as_sql(shell):
    shell.user_ns["dev"] = "a"
    got = shell.run_cell_magic("tsql", "", "SELECT count(*) AS n FROM metrics WHERE device = :dev")
    assert got["n"].tolist() == [2]
    shell.user_ns["dev"] = "a' OR '1'='1"  # an injection attempt stays one string value
    got = shell.run_cell_magic("tsql", "", "SELECT count(*) AS n FROM metrics WHERE device = :dev")
    assert got["n"].tolist() == [0]
    shell.user_ns["dev"] = ["a", "b"]
    got = shell.run_cell_magic("tsql", "", "SELECT count(*) AS n FROM metrics WHERE device IN :dev")
    assert got["n"].tolist() == [4]
    with pytest.raises(UsageError, match=":missing_var: no notebook variable"):
        shell.run_cell_magic("tsql", "", "SELECT * FROM metrics WHERE device = :missing_var")


def test_braces_substitute_identifiers_only(shell):
    shell.user_ns["tbl"] = "metrics"
    assert shell.run_cell_magic("tsql", "", "SELECT count(*) AS n FROM {tbl}")["n"].tolist() == [4]
    shell.user_ns["tbl"] = "iot.metrics"
    assert shell.run_cell_magic("tsql", "", "SELECT count(*) AS n FROM {tbl}")["n"].tolist() == [4]
    shell.user_ns["bad"] = "metrics; DROP TABLE x"
    with pytest.raises(UsageError, match="substitutes identifiers only"):
        shell.run_cell_magic("tsql", "", "SELECT * FROM {bad}")
    with pytest.raises(UsageError, match="no variable 'nowhere'"):
        shell.run_cell_magic("tsql", "", "SELECT * FROM {nowhere}")


def test_errors_are_short_usage_errors_with_the_caret(shell):
    with pytest.raises(UsageError) as e:
        shell.run_line_magic("tsql", "SELEC * FROM metrics")
    assert "line 1, column 1" in str(e.value) and "^" in str(e.value)
    with pytest.raises(UsageError, match="did you mean 'metrics'"):
        shell.run_line_magic("tsql", "SELECT * FROM metric")
    with pytest.raises(UsageError, match="column 'temperatur' does not exist; did you mean"):
        shell.run_line_magic("tsql", "SELECT temperatur FROM metrics")
    with pytest.raises(UsageError, match="no SQL given"):
        shell.run_cell_magic("tsql", "", "   ")
    # a failed query leaves the store as it was
    assert shell.run_line_magic("tsql", "SELECT count(*) AS n FROM metrics")["n"].tolist() == [4]


def test_explain_plot_lazy_and_show(shell):
    text = shell.run_line_magic("tsql", "--explain SELECT * FROM metrics WHERE time > ago(10m)")
    assert isinstance(text, ExplainText)
    assert (
        "scan iot.metrics" in text and "memory: 1 of 1 runs" in text and "kernel (DuckDB)" in text
    )
    chart = shell.run_cell_magic(
        "tsql", "--plot line -o out", "SELECT time, temperature, device FROM metrics"
    )
    assert type(chart).__name__ == "NdOverlay"  # one curve per device
    assert len(shell.user_ns["out"]) == 4
    lazy = shell.run_line_magic("tsql", "--lazy SELECT * FROM metrics")
    assert type(lazy).__module__.startswith("dask") and len(lazy.compute()) == 4
    tables = shell.run_line_magic("tsql", "SHOW TABLES")
    assert tables["Table"].tolist() == ["metrics"]


def test_connect_by_path_and_default_database(shell, tmp_path, monkeypatch):
    other = tsstore.connect(tmp_path / "other", lifecycle_interval=None, clock=lambda: NOW)
    other.create_database("lab").create_table("readings").write(
        pd.DataFrame({"time": [NOW], "v": [1.5]}), dimensions=[]
    )
    other.close()
    shell.run_line_magic("tsql", f"--connect {tmp_path / 'other'} --database lab")
    assert shell.run_line_magic("tsql", "SELECT v FROM readings")["v"].tolist() == [1.5]
    with pytest.raises(UsageError, match="not a tsstore client"):
        shell.user_ns["bad"] = 42
        shell.run_line_magic("tsql", "--connect bad")
    # without --connect: $TSSTORE_PATH
    magics = shell.magics_manager.registry["TsqlMagics"]
    magics.close()
    monkeypatch.setenv("TSSTORE_PATH", str(tmp_path / "other"))
    got = shell.run_line_magic("tsql", "SELECT v FROM lab.readings")
    assert got["v"].tolist() == [1.5]
    magics.close()


def test_interrupt_leaves_the_store_untouched(shell, monkeypatch):
    from tsstore.query import kernel

    before = shell.run_line_magic("tsql", "SELECT * FROM metrics ORDER BY time")

    def interrupted(sql, tables):
        raise KeyboardInterrupt  # what the kernel's stop button raises mid-query

    monkeypatch.setattr(kernel, "run", interrupted)
    with pytest.raises(UsageError, match=r"query interrupted; .* the store is unchanged"):
        shell.run_line_magic("tsql", "SELECT * FROM metrics")
    monkeypatch.undo()
    after = shell.run_line_magic("tsql", "SELECT * FROM metrics ORDER BY time")
    pd.testing.assert_frame_equal(before, after)


def test_helpers():
    assert parameter_names("SELECT :a, :b FROM t WHERE x = :a") == ["a", "b"]
    assert parameter_names("SHOW TABLES") == []
    assert (
        bind_identifiers("SELECT * FROM {t}", {"t": '"my db".cpu'}) == 'SELECT * FROM "my db".cpu'
    )
    assert _split_line("-o x --plot line SELECT '-o' FROM t") == (
        "-o x --plot line ",
        "SELECT '-o' FROM t",
    )
    assert _split_line("--explain") == ("--explain", "")
    assert _split_line("--connect 'a b' --database d") == ("--connect 'a b' --database d", "")
    assert issubclass(TsqlMagics, object)


@pytest.mark.parametrize("option", ["", "--distributed "])
def test_queries_show_a_progress_bar(shell, monkeypatch, capsys, option):
    from tsstore import magic

    monkeypatch.setattr(magic, "PROGRESS_AFTER_S", 0.0)
    got = shell.run_line_magic("tsql", f"{option}SELECT count(*) AS n FROM metrics")
    assert got["n"].tolist() == [4]
    assert "100% Completed" in capsys.readouterr().out


def test_quick_queries_draw_no_bar(shell, capsys):
    shell.run_line_magic("tsql", "SELECT count(*) AS n FROM metrics")
    assert "Completed" not in capsys.readouterr().out
