"""`python -m tsstore demo`: what `make demo` runs."""

from __future__ import annotations

from tsstore.__main__ import main


def test_demo_writes_migrates_and_reads_back(tmp_path, capsys):
    assert main(["demo", "--path", str(tmp_path / "demo"), "--machines", "5"]) == 0
    out = capsys.readouterr().out
    assert "magnetic tier:" in out and "memory tier:" in out
    assert "GROUP BY factory" in out and "f-0" in out
    assert (tmp_path / "demo" / "catalog.json").exists()
