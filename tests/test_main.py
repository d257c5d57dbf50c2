"""`python -m tsstore demo`: what `make demo` runs."""

from __future__ import annotations

from tsstore.__main__ import main


def test_demo_writes_migrates_and_reads_back(tmp_path, capsys):
    assert main(["demo", "--path", str(tmp_path / "demo"), "--machines", "5"]) == 0
    out = capsys.readouterr().out
    assert "magnetic tier:" in out and "memory tier:" in out
    assert "GROUP BY factory" in out and "f-0" in out
    assert (tmp_path / "demo" / "catalog.json").exists()


def test_notebook_command_runs_headless_prints_tagged_cells_and_exports_html(tmp_path, capsys):
    import nbformat

    from tsstore.__main__ import main

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\nprint(os.environ['TSSTORE_PATH'])"),
        nbformat.v4.new_code_cell("print('total', 6 * 7)", metadata={"tags": ["summary"]}),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    html = tmp_path / "out" / "n.html"
    assert main(["notebook", str(path), "--path", str(tmp_path / "s"), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "[summary]" in out and "total 42" in out
    assert "2 cells ran" in out and html.exists() and "total 42" in html.read_text()
    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(bad, tmp_path / "bad.ipynb")
    assert main(["notebook", str(tmp_path / "bad.ipynb"), "--path", str(tmp_path / "s")]) == 1
