"""Resources: databases and tables, names, the catalog, the writer lock."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import pandas as pd
import pytest

import tsstore
from tsstore.errors import (
    AlreadyExistsError,
    ConcurrencyError,
    FormatVersionError,
    NotEmptyError,
    NotFoundError,
    ValidationError,
)

NOW = pd.Timestamp("2024-06-01 12:00", tz="UTC")


@pytest.fixture
def store(tmp_path):
    s = tsstore.connect(tmp_path / "store", clock=lambda: NOW, lifecycle_interval=None)
    yield s
    s.close()


def test_databases_and_tables(store):
    db = store.create_database("industrial_monitoring_db")
    t = db.create_table("machine_metrics", memory_retention="12h", magnetic_retention="3650d")
    assert store.list_databases() == ["industrial_monitoring_db"]
    assert db.list_tables() == ["machine_metrics"]
    assert store.table("industrial_monitoring_db.machine_metrics") is t
    assert store["industrial_monitoring_db.machine_metrics"] is t
    assert db["machine_metrics"] is t
    d = t.describe()
    assert d["memory_retention"] == "12h" and d["magnetic_retention"] == "3650d"
    t.update(memory_retention="24h")
    assert t.describe()["memory_retention"] == "24h"
    with pytest.raises(NotEmptyError, match="still holds tables"):
        store.delete_database("industrial_monitoring_db")
    db.delete_table("machine_metrics")
    assert db.list_tables() == []
    store.delete_database("industrial_monitoring_db")
    assert store.list_databases() == []


def test_exist_ok_and_already_exists(store):
    db = store.create_database("db1")
    assert store.create_database("db1", exist_ok=True).name == "db1"
    with pytest.raises(AlreadyExistsError, match="exist_ok=True"):
        store.create_database("db1")
    t = db.create_table("tbl")
    assert db.create_table("tbl", exist_ok=True) is t
    with pytest.raises(AlreadyExistsError):
        db.create_table("tbl")


def test_not_found_suggests_the_nearest_name(store):
    db = store.create_database("factory")
    db.create_table("machine_metrics")
    with pytest.raises(NotFoundError, match="did you mean 'machine_metrics'"):
        store.table("factory.machine_metric")
    with pytest.raises(NotFoundError, match="did you mean 'factory'"):
        store.database("factroy")


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../../etc", "/abs", "ab", "x" * 257, "a b"])
def test_bad_names_are_refused(store, name):
    with pytest.raises(ValidationError):
        store.create_database(name)
    assert store.list_databases() == []


def test_names_with_dots_resolve(store):
    db = store.create_database("my.db")
    t = db.create_table("t.1")
    assert store.table("my.db.t.1") is t


def test_retention_bounds(store):
    db = store.create_database("db1")
    with pytest.raises(ValidationError, match="between 1h and 8766h"):
        db.create_table("tbl", memory_retention="30m")
    with pytest.raises(ValidationError, match="between 1d and 73000d"):
        db.create_table("tbl", magnetic_retention="73001d")
    with pytest.raises(ValidationError, match="not a duration"):
        db.create_table("tbl", memory_retention="twelve hours")
    assert db.list_tables() == []


def test_default_database(tmp_path):
    with tsstore.connect(tmp_path, database="db1", lifecycle_interval=None) as s:
        s.create_database("db1").create_table("tbl")
        assert s.table("tbl").full_name == "db1.tbl"
        assert s.database().name == "db1"


def test_catalog_is_versioned_json_and_persists(tmp_path):
    with tsstore.connect(tmp_path, lifecycle_interval=None) as s:
        s.create_database("db1").create_table("tbl", memory_retention="2h")
    doc = json.loads((tmp_path / "catalog.json").read_text())
    assert doc["format_version"] == 1
    assert doc["databases"]["db1"]["tables"]["tbl"]["memory_retention"] == "2h"
    with tsstore.connect(tmp_path, lifecycle_interval=None) as s:
        assert s.table("db1.tbl").describe()["memory_retention"] == "2h"


def test_newer_catalog_format_is_refused(tmp_path):
    with tsstore.connect(tmp_path, lifecycle_interval=None) as s:
        s.create_database("db1")
    doc = json.loads((tmp_path / "catalog.json").read_text())
    doc["format_version"] = 99
    (tmp_path / "catalog.json").write_text(json.dumps(doc))
    with pytest.raises(FormatVersionError, match="upgrade tsstore"):
        tsstore.connect(tmp_path, lifecycle_interval=None)


def test_second_writer_gets_a_clear_error(tmp_path):
    with tsstore.connect(tmp_path, lifecycle_interval=None):
        with pytest.raises(ConcurrencyError, match="read_only=True"):
            tsstore.connect(tmp_path, lifecycle_interval=None)
        reader = tsstore.connect(tmp_path, read_only=True)
        assert reader.list_databases() == []
        with pytest.raises(ValidationError, match="read-only"):
            reader.create_database("db1")
        reader.close()
    # the lock is released on close
    tsstore.connect(tmp_path, lifecycle_interval=None).close()


def test_default_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TSSTORE_PATH", str(tmp_path / "env-store"))
    with tsstore.connect(lifecycle_interval=None) as s:
        s.create_database("db1")
    assert (tmp_path / "env-store" / "catalog.json").exists()


def test_background_lifecycle_thread_migrates(tmp_path):
    now = {"t": NOW}
    with tsstore.connect(tmp_path, clock=lambda: now["t"], lifecycle_interval="50ms") as s:
        t = s.create_database("db1").create_table("tbl", memory_retention="1h")
        df = pd.DataFrame({"time": [NOW - pd.Timedelta("30min")], "d": ["a"], "x": [1.0]})
        t.write(df, dimensions=["d"])
        now["t"] = NOW + pd.Timedelta("2h")
        import time

        deadline = time.monotonic() + 20
        while t.describe()["magnetic_rows"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        d = t.describe()
        assert (d["magnetic_rows"], d["memory_rows"]) == (1, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_lifecycle_thread_runs_at_a_lower_cpu_priority(tmp_path):
    """Migrations are background work: the lifecycle thread lowers its own priority (nice),
    the threads that write and query keep theirs."""
    from tsstore.storage.store import LIFECYCLE_NICE, lower_thread_priority

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    s = tsstore.connect(tmp_path / "s", lifecycle_interval="1h")
    try:
        tid = s._thread.native_id
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, tid) != max(before, LIFECYCLE_NICE):
            assert time.monotonic() < deadline, "the lifecycle thread kept its priority"
            time.sleep(0.01)
    finally:
        s.close()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before

    seen: list[tuple[bool, int]] = []

    def background() -> None:
        tid = threading.get_native_id()
        seen.append((lower_thread_priority(15), os.getpriority(os.PRIO_PROCESS, tid)))
        seen.append((lower_thread_priority(5), os.getpriority(os.PRIO_PROCESS, tid)))

    t = threading.Thread(target=background)
    t.start()
    t.join()
    low = max(before, 15)  # a test run already niced lower keeps its own
    assert seen == [(True, low), (True, low)]  # never raised back
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
