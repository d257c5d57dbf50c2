"""Durability: SIGKILL the writer at random moments; no acknowledged write is ever lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import tsstore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHILD = Path(__file__).with_name("writer_child.py")
sys.path.insert(0, str(CHILD.parent))
from writer_child import BASE, ROWS, STEP  # noqa: E402


def run_until_killed(store: Path, start: int, delay: float) -> list[int]:
    """Start a writer at batch ``start``, SIGKILL it after ``delay`` s; return acked batches."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(store), "--start", str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acked: list[int] = []
    lines: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ACK "):
                acked.append(int(line.split()[1]))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = time.monotonic() + 60
    while not any(x.startswith("READY") for x in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"writer did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    th.join(timeout=10)
    return list(acked)


def check(store: Path, acked: set[int], upto: int) -> None:
    clock_t = BASE + upto * STEP
    with tsstore.connect(store, clock=lambda: clock_t, lifecycle_interval=None) as s:
        df = s.table("db1.tbl").read()
    counts = df.groupby("batch").size()
    for b in acked:
        assert counts.get(b, 0) == ROWS, f"acknowledged batch {b} has {counts.get(b, 0)} rows"
    # every batch present is whole, and no point is there twice
    assert (counts == ROWS).all(), counts[counts != ROWS]
    assert not df.duplicated(["device_id", "time"]).any()


def test_sigkill_loses_no_acknowledged_write(tmp_path):
    rng = random.Random(1234)
    store = tmp_path / "store"
    acked: set[int] = set()
    start = 0
    kills = 0
    while kills < 20:
        got = run_until_killed(store, start, delay=rng.uniform(0.05, 1.2))
        kills += 1
        acked.update(got)
        start = max(acked) + 1 if acked else start
        check(store, acked, start)
    assert len(acked) > 20, "the writer never got far enough to test anything"


def test_reader_process_sees_consistent_data_while_migrations_commit(tmp_path):
    """A reader process reads continuously while a writer writes and migrates."""
    store = tmp_path / "store"
    writer = subprocess.Popen(
        [sys.executable, str(CHILD), str(store), "--count", "400", "--lifecycle-every", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().startswith("READY")
    reader_code = f"""
import sys, time
import pandas as pd
import tsstore
from tsstore.errors import NotFoundError
sys.path.insert(0, {str(CHILD.parent)!r})
from writer_child import ROWS
far = pd.Timestamp("2100-01-01", tz="UTC")
store = tsstore.connect({str(store)!r}, read_only=True, clock=lambda: far)
seen = set()
reads = 0
deadline = time.monotonic() + 12
while time.monotonic() < deadline:
    try:
        df = store.table("db1.tbl").read()
    except NotFoundError:
        continue
    counts = df.groupby("batch").size()
    assert (counts == ROWS).all(), ("torn batch", counts[counts != ROWS].to_dict())
    assert not df.duplicated(["device_id", "time"]).any(), "duplicate points"
    now = set(counts.index)
    assert seen <= now, ("batches vanished", sorted(seen - now)[:5])
    seen = now
    reads += 1
print("READS", reads, "BATCHES", len(seen))
"""
    reader = subprocess.run(
        [sys.executable, "-c", reader_code], capture_output=True, text=True, timeout=120
    )
    writer.kill()
    writer.wait()
    assert reader.returncode == 0, reader.stderr[-3000:]
    reads, batches = reader.stdout.split()[1], reader.stdout.split()[3]
    assert int(reads) > 5 and int(batches) > 5, reader.stdout
    _ = pd  # pandas is imported for the reader's sake
