"""Tests of the write-ahead log: real files in a temporary directory, real processes, no mocks."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.errors import (
    ConcurrencyError,
    CorruptDataError,
    FormatVersionError,
    StorageError,
    ValidationError,
)
from tsstore.storage import wal as wal_module
from tsstore.storage.wal import (
    FORMAT_VERSION,
    FRAME_HEADER_SIZE,
    SEGMENT_HEADER_SIZE,
    WalEntry,
    WriteAheadLog,
    segment_file_name,
)

REPO_ROOT = Path(wal_module.__file__).resolve().parents[2]


def make_table(lsn: int, rows: int = 10) -> pa.Table:
    """A table whose content is determined by ``lsn`` and ``rows``."""
    start = lsn * 1_000_000
    return pa.table(
        {
            "time": pa.array(np.arange(rows, dtype=np.int64) + start),
            "value": pa.array(np.full(rows, lsn, dtype=np.float64)),
            "name": pa.array([f"s{lsn}-{i}" for i in range(rows)]),
        }
    )


def append_lsn(wal: WriteAheadLog, lsn: int, rows: int = 10) -> int:
    start = lsn * 1_000_000
    return wal.append(
        make_table(lsn, rows), {"lsn": lsn, "rows": rows}, min_time=start, max_time=start + rows
    )


def check_entry(entry: WalEntry, rows: int = 10) -> None:
    assert entry.meta == {"lsn": entry.lsn, "rows": rows}
    assert entry.table.equals(make_table(entry.lsn, rows))
    assert entry.min_time == entry.lsn * 1_000_000
    assert entry.max_time == entry.lsn * 1_000_000 + rows


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


def frame_offsets(path: Path) -> list[tuple[int, int]]:
    """(start, end) of each frame of a segment file, from the documented byte format."""
    data = path.read_bytes()
    spans = []
    pos = SEGMENT_HEADER_SIZE
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + FRAME_HEADER_SIZE + length
        spans.append((pos, end))
        pos = end
    return spans


# ---------------------------------------------------------------------------- round trips


def test_round_trip_and_reopen_continue_lsns(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "wal"
    with WriteAheadLog(directory) as wal:
        assert wal.last_lsn == 0
        assert list(wal.replay()) == []
        assert [append_lsn(wal, lsn) for lsn in (1, 2, 3)] == [1, 2, 3]
        assert wal.last_lsn == 3
        entries = list(wal.replay())
    assert [e.lsn for e in entries] == [1, 2, 3]
    for entry in entries:
        check_entry(entry)
    assert [p.name for p in segment_files(directory)] == [segment_file_name(1)]

    with WriteAheadLog(directory) as wal:
        assert wal.last_lsn == 3
        assert append_lsn(wal, 4) == 4
        assert [e.lsn for e in wal.replay()] == [1, 2, 3, 4]
        assert [e.lsn for e in wal.replay(after_lsn=2)] == [3, 4]
        assert wal.size_bytes == sum(p.stat().st_size for p in segment_files(directory))
    with WriteAheadLog(directory, readonly=True) as reader:
        for entry in reader.replay():
            check_entry(entry)
        assert reader.last_lsn == 4


def test_file_layout_follows_the_documented_format(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        append_lsn(wal, 1)
    data = (tmp_path / segment_file_name(1)).read_bytes()
    assert data[:6] == b"TSWAL\x00"
    assert struct.unpack_from("<H", data, 6) == (FORMAT_VERSION,)
    assert data[8:16] == bytes(8)
    magic, length, lsn, min_time, max_time, _crc = struct.unpack_from("<4sIQqqI", data, 16)
    assert (magic, lsn, min_time, max_time) == (b"TSWF", 1, 1_000_000, 1_000_010)
    assert len(data) == 16 + 36 + length
    (json_len,) = struct.unpack_from("<I", data, 52)
    assert (56 + json_len) % 8 == 0  # the Arrow stream starts 8-byte aligned
    reader = pa.ipc.open_stream(data[56 + json_len :])
    assert reader.read_all().equals(make_table(1))


@pytest.mark.skipif(wal_module.IPC_COMPRESSION is None, reason="pyarrow without LZ4 or ZSTD")
def test_small_tables_are_framed_uncompressed_and_large_ones_compressed(tmp_path: Path) -> None:
    small = pa.table({"v": pa.array(np.zeros(100, dtype=np.float64))})  # 800 bytes
    rows = wal_module.COMPRESS_MIN_BYTES // 8
    large = pa.table({"v": pa.array(np.zeros(rows, dtype=np.float64))})
    with WriteAheadLog(tmp_path) as wal:
        wal.append(small, {"n": 1}, min_time=0, max_time=0)
        wal.append(large, {"n": 2}, min_time=0, max_time=0)
    data = (tmp_path / segment_file_name(1)).read_bytes()
    payloads = []
    for start, end in frame_offsets(tmp_path / segment_file_name(1)):
        (json_len,) = struct.unpack_from("<I", data, start + FRAME_HEADER_SIZE)
        payloads.append(end - (start + FRAME_HEADER_SIZE + 4 + json_len))
    assert payloads[0] > small.nbytes  # the zeros as they are
    assert payloads[1] < large.nbytes // 10  # the zeros compressed
    with WriteAheadLog(tmp_path, readonly=True) as reader:
        assert [e.table for e in reader.replay()] == [small, large]


def test_rotation_across_segments(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=3000) as wal:
        for lsn in range(1, 21):
            assert append_lsn(wal, lsn) == lsn
        segments = wal.segments()
        assert len(segments) > 3
        assert all(s.size_bytes <= 3000 for s in segments)
        assert segments[0].first_lsn == 1
        for before, after in itertools.pairwise(segments):
            assert after.first_lsn == before.last_lsn + 1
        assert segments[-1].last_lsn == 20
        assert [p.name for p in segment_files(tmp_path)] == [
            segment_file_name(s.first_lsn) for s in segments
        ]
        assert [e.lsn for e in wal.replay()] == list(range(1, 21))
        middle = segments[2].first_lsn + 1
        assert [e.lsn for e in wal.replay(after_lsn=middle)] == list(range(middle + 1, 21))
    with WriteAheadLog(tmp_path, segment_bytes=3000) as wal:
        assert wal.last_lsn == 20
        assert [s.first_lsn for s in wal.segments()] == [s.first_lsn for s in segments]
        assert append_lsn(wal, 21) == 21
        entries = list(wal.replay())
    assert [e.lsn for e in entries] == list(range(1, 22))
    for entry in entries:
        check_entry(entry)


def test_a_frame_larger_than_a_segment_gets_its_own_segment(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=1000) as wal:
        append_lsn(wal, 1, rows=500)
        append_lsn(wal, 2, rows=500)
        assert [s.frames for s in wal.segments()] == [1, 1]
        assert [e.lsn for e in wal.replay()] == [1, 2]


def test_threads_appending_at_once_get_distinct_lsns(tmp_path: Path) -> None:
    results: list[int] = []
    lock = threading.Lock()
    with WriteAheadLog(tmp_path, segment_bytes=20_000, fsync=False) as wal:

        def worker(seed: int) -> None:
            for i in range(25):
                lsn = wal.append(
                    make_table(seed, 5), {"seed": seed, "i": i}, min_time=0, max_time=1
                )
                with lock:
                    results.append(lsn)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == list(range(1, 101))
        entries = list(wal.replay())
    assert [e.lsn for e in entries] == list(range(1, 101))
    for entry in entries:
        assert entry.table.equals(make_table(entry.meta["seed"], 5))
    with WriteAheadLog(tmp_path) as wal:
        assert len(list(wal.replay())) == 100


# ---------------------------------------------------------------------------- torn tails


def test_torn_tail_at_every_cut_offset(tmp_path: Path) -> None:
    template = tmp_path / "template"
    with WriteAheadLog(template) as wal:
        for lsn in (1, 2, 3):
            append_lsn(wal, lsn, rows=2)
    path = template / segment_file_name(1)
    full = path.read_bytes()
    start, end = frame_offsets(path)[-1]
    assert end == len(full)
    work = tmp_path / "work"
    for cut in range(start, end):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        target = work / segment_file_name(1)
        target.write_bytes(full[:cut])

        with WriteAheadLog(work, readonly=True) as reader:  # a reader only stops
            assert [e.lsn for e in reader.replay()] == [1, 2], cut
            assert reader.last_lsn == 2
        assert target.stat().st_size == cut

        with WriteAheadLog(work, fsync=False) as wal:  # a writer cuts the tail off
            assert target.stat().st_size == start, cut
            assert wal.last_lsn == 2
            assert [e.lsn for e in wal.replay()] == [1, 2]
            assert append_lsn(wal, 3, rows=2) == 3
        with WriteAheadLog(work, fsync=False) as wal:
            entries = list(wal.replay())
        assert [e.lsn for e in entries] == [1, 2, 3], cut
        for entry in entries:
            check_entry(entry, rows=2)
        assert target.read_bytes() == full


@pytest.mark.parametrize("tail", [b"\x00" * 300, b"TSWF" + b"\x00" * 40, b"\xff" * 7])
def test_garbage_after_the_last_frame_is_a_torn_tail(tmp_path: Path, tail: bytes) -> None:
    with WriteAheadLog(tmp_path) as wal:
        append_lsn(wal, 1)
        append_lsn(wal, 2)
    path = tmp_path / segment_file_name(1)
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(tail)
    with WriteAheadLog(tmp_path) as wal:
        assert path.stat().st_size == good
        assert [e.lsn for e in wal.replay()] == [1, 2]
        assert append_lsn(wal, 3) == 3


def test_frame_extended_with_zeros_is_a_torn_tail(tmp_path: Path) -> None:
    # A crash can leave the file size of a write without its data: the frame reads as zeros.
    with WriteAheadLog(tmp_path) as wal:
        for lsn in (1, 2):
            append_lsn(wal, lsn)
    path = tmp_path / segment_file_name(1)
    start, end = frame_offsets(path)[-1]
    data = bytearray(path.read_bytes())
    data[start + FRAME_HEADER_SIZE : end] = bytes(end - start - FRAME_HEADER_SIZE)
    path.write_bytes(bytes(data))
    with WriteAheadLog(tmp_path) as wal:
        assert path.stat().st_size == start
        assert wal.last_lsn == 1
        assert append_lsn(wal, 2) == 2
        for entry in wal.replay():
            check_entry(entry)


@pytest.mark.parametrize("cut", range(SEGMENT_HEADER_SIZE))
def test_torn_header_of_a_new_segment(tmp_path: Path, cut: int) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=1500) as wal:
        while len(wal.segments()) < 2:
            append_lsn(wal, wal.last_lsn + 1)
        last = wal.last_lsn
        first_of_new = wal.segments()[-1].first_lsn
    # The crash happened while the next segment was being created.
    newest = tmp_path / segment_file_name(last + 1)
    newest.write_bytes((tmp_path / segment_file_name(first_of_new)).read_bytes()[:cut])
    with WriteAheadLog(tmp_path, readonly=True) as reader:
        assert reader.last_lsn == last
        assert [e.lsn for e in reader.replay()] == list(range(1, last + 1))
    with WriteAheadLog(tmp_path, segment_bytes=1500) as wal:
        assert wal.last_lsn == last
        assert newest.stat().st_size == SEGMENT_HEADER_SIZE
        assert append_lsn(wal, last + 1) == last + 1
    with WriteAheadLog(tmp_path, readonly=True) as reader:
        assert [e.lsn for e in reader.replay()] == list(range(1, last + 2))


def test_an_emptied_directory_keeps_the_lsn_sequence_after_reopen(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        append_lsn(wal, 1)
        append_lsn(wal, 2)
        assert wal.truncate_before(10**12) == 1
        assert wal.last_lsn == 2
        assert list(wal.replay()) == []
    with WriteAheadLog(tmp_path) as wal:
        assert wal.last_lsn == 2
        assert append_lsn(wal, 3) == 3
        assert [e.lsn for e in wal.replay()] == [3]


# ---------------------------------------------------------------------------- corruption


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_damaged_payload_in_the_middle_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        for lsn in (1, 2, 3):
            append_lsn(wal, lsn)
    path = tmp_path / segment_file_name(1)
    size = path.stat().st_size
    start, end = frame_offsets(path)[1]
    flip_byte(path, (start + end) // 2)
    for readonly in (False, True):
        with WriteAheadLog(tmp_path, readonly=readonly) as wal:
            entries = wal.replay()
            assert next(entries).lsn == 1
            with pytest.raises(CorruptDataError) as info:
                next(entries)
            assert path.name in str(info.value)
            assert f"byte offset {start}" in str(info.value)
    assert path.stat().st_size == size  # nothing was cut off


def test_damaged_frame_header_in_the_middle_fails_open(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        for lsn in (1, 2, 3):
            append_lsn(wal, lsn)
    path = tmp_path / segment_file_name(1)
    size = path.stat().st_size
    start, _ = frame_offsets(path)[1]
    flip_byte(path, start + 5)  # the payload length
    with pytest.raises(CorruptDataError, match=f"byte offset {start}"):
        WriteAheadLog(tmp_path)
    assert path.stat().st_size == size  # nothing was cut off
    with pytest.raises(CorruptDataError, match=f"byte offset {start}"):
        WriteAheadLog(tmp_path, readonly=True)


def test_damage_in_a_segment_that_is_not_the_last_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=1500) as wal:
        while len(wal.segments()) < 3:
            append_lsn(wal, wal.last_lsn + 1)
    first = tmp_path / segment_file_name(1)
    start, end = frame_offsets(first)[-1]
    flip_byte(first, end - 1)  # the last frame of a segment that is not the last
    with WriteAheadLog(tmp_path) as wal, pytest.raises(CorruptDataError) as info:
        list(wal.replay())
    assert first.name in str(info.value) and f"byte offset {start}" in str(info.value)
    with WriteAheadLog(tmp_path, readonly=True) as reader, pytest.raises(CorruptDataError):
        list(reader.replay())

    # A truncated segment that is not the last fails the open itself.
    first.write_bytes(first.read_bytes()[: end - 1])
    with pytest.raises(CorruptDataError, match="byte offset"):
        WriteAheadLog(tmp_path)


def test_damage_to_the_very_last_frame_reads_as_a_torn_tail(tmp_path: Path) -> None:
    # The format cannot tell this from a crash during the write; documented in wal-format.md.
    with WriteAheadLog(tmp_path) as wal:
        for lsn in (1, 2):
            append_lsn(wal, lsn)
    path = tmp_path / segment_file_name(1)
    _, end = frame_offsets(path)[-1]
    flip_byte(path, end - 3)
    with WriteAheadLog(tmp_path, readonly=True) as reader:
        assert [e.lsn for e in reader.replay()] == [1]


def test_newer_format_version_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        append_lsn(wal, 1)
    path = tmp_path / segment_file_name(1)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 6, FORMAT_VERSION + 1)
    path.write_bytes(bytes(data))
    for readonly in (False, True):
        with pytest.raises(FormatVersionError, match=f"version {FORMAT_VERSION}") as info:
            WriteAheadLog(tmp_path, readonly=readonly)
        assert f"version {FORMAT_VERSION + 1}" in str(info.value)
        assert path.name in str(info.value)


def test_a_file_that_is_not_a_segment_raises(tmp_path: Path) -> None:
    (tmp_path / segment_file_name(1)).write_bytes(b"PAR1" + bytes(100))
    with pytest.raises(CorruptDataError, match="magic"):
        WriteAheadLog(tmp_path)


def test_a_frame_whose_lsn_does_not_match_its_segment_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        append_lsn(wal, 1)
    (tmp_path / segment_file_name(1)).rename(tmp_path / segment_file_name(5))
    for readonly in (False, True):
        with pytest.raises(CorruptDataError, match="frame LSN 1 where LSN 5 was expected"):
            WriteAheadLog(tmp_path, readonly=readonly)


def test_overlapping_segments_raise(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        for lsn in (1, 2, 3):
            append_lsn(wal, lsn)
    shutil.copy(tmp_path / segment_file_name(1), tmp_path / segment_file_name(2))
    with pytest.raises(CorruptDataError):
        WriteAheadLog(tmp_path)


# ---------------------------------------------------------------------------- truncation


def test_truncate_before_deletes_only_fully_old_segments(tmp_path: Path) -> None:
    times = {1: 100, 2: 200, 3: 900, 4: 300, 5: 400, 6: 500, 7: 600, 8: 700}
    with WriteAheadLog(tmp_path, segment_bytes=1) as wal:  # one frame per segment
        for lsn, t in times.items():
            wal.append(make_table(lsn), {"lsn": lsn}, min_time=t - 50, max_time=t)
        assert len(wal.segments()) == 8
        assert wal.truncate_before(100) == 0  # max_time 100 is not below 100
        assert wal.truncate_before(450) == 4  # LSNs 1, 2, 4, 5; LSN 3 holds time 900
        assert [s.first_lsn for s in wal.segments()] == [3, 6, 7, 8]
        assert not (tmp_path / segment_file_name(1)).exists()
        size = wal.size_bytes
        assert size == sum(p.stat().st_size for p in segment_files(tmp_path))
        assert [e.lsn for e in wal.replay()] == [3, 6, 7, 8]
        assert [e.lsn for e in wal.replay(after_lsn=6)] == [7, 8]
    with WriteAheadLog(tmp_path, segment_bytes=1) as wal:
        assert [e.lsn for e in wal.replay()] == [3, 6, 7, 8]
        assert wal.last_lsn == 8
        assert wal.truncate_before(650) == 2  # 6 and 7; 8 is current and holds 700
        assert wal.truncate_before(10_000) == 2  # 3, and the current 8 after rotating
        assert [(s.first_lsn, s.frames) for s in wal.segments()] == [(9, 0)]
        assert wal.append(make_table(9), {}, min_time=0, max_time=1) == 9


def test_truncate_before_keeps_a_partly_new_segment(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=10**6) as wal:
        wal.append(make_table(1), {}, min_time=0, max_time=10)
        wal.append(make_table(2), {}, min_time=0, max_time=1000)
        assert wal.truncate_before(500) == 0
        assert wal.last_lsn == 2 and len(wal.segments()) == 1


# ---------------------------------------------------------------------------- readers


def test_a_readonly_reader_sees_frames_appended_by_a_writer(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=2500) as writer:
        reader = WriteAheadLog(tmp_path, readonly=True)
        assert reader.last_lsn == 0
        append_lsn(writer, 1)
        append_lsn(writer, 2)
        assert [e.lsn for e in reader.replay()] == [1, 2]
        assert reader.last_lsn == 2
        for lsn in range(3, 9):
            append_lsn(writer, lsn)
        assert reader.last_lsn == 8
        assert [s.first_lsn for s in reader.segments()] == [s.first_lsn for s in writer.segments()]
        assert reader.size_bytes == writer.size_bytes
        entries = list(reader.replay(after_lsn=2))
        assert [e.lsn for e in entries] == list(range(3, 9))
        for entry in entries:
            check_entry(entry)

        with pytest.raises(StorageError, match="readonly"):
            append_lsn(reader, 10)
        with pytest.raises(StorageError, match="readonly"):
            reader.truncate_before(0)
        reader.close()


def test_a_reader_stops_before_a_frame_being_written(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as writer, WriteAheadLog(tmp_path, readonly=True) as reader:
        append_lsn(writer, 1)
        append_lsn(writer, 2)
        path = tmp_path / segment_file_name(1)
        size = path.stat().st_size
        with open(path, "ab") as f:  # the first bytes of frame 3, as a reader may see them
            f.write(b"TSWF" + struct.pack("<IQ", 500, 3))
        assert [e.lsn for e in reader.replay()] == [1, 2]
        assert reader.last_lsn == 2
        assert path.stat().st_size == size + 16  # a reader repairs nothing
        append_lsn(writer, 3)  # the writer writes over the partial bytes
        assert [e.lsn for e in reader.replay(after_lsn=1)] == [2, 3]
        assert reader.last_lsn == 3


def test_a_reader_following_the_writer_reads_only_new_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that replays after the last LSN it saw resumes at the byte where it stopped:
    through partial frames being written and segment rotations it yields what a full replay
    yields, reading each byte of the log about once."""
    from tsstore.storage import wal as wal_module

    read = []
    whole = wal_module._read_whole_file

    def counting(path: Path, offset: int = 0):
        data = whole(path, offset)
        read.append(0 if data is None else data.size)
        return data

    monkeypatch.setattr(wal_module, "_read_whole_file", counting)
    with (
        WriteAheadLog(tmp_path, segment_bytes=6000) as writer,
        WriteAheadLog(tmp_path, readonly=True) as reader,
    ):
        seen = 0
        for lsn in range(1, 25):
            append_lsn(writer, lsn)
            if lsn % 5 == 0:  # the first bytes of the next frame, as a reader may see them
                path = writer.segments()[-1].path
                with open(path, "ab") as f:
                    f.write(b"TSWF" + struct.pack("<IQ", 500, lsn + 1))
            entries = list(reader.replay(after_lsn=seen))
            assert [e.lsn for e in entries] == [lsn]
            check_entry(entries[0])
            seen = lsn
        assert len(writer.segments()) > 2
        assert [e.lsn for e in reader.replay(after_lsn=seen)] == []
        full = [e.lsn for e in WriteAheadLog(tmp_path, readonly=True).replay()]
        assert full == list(range(1, 25))
        log_bytes = sum(p.stat().st_size for p in segment_files(tmp_path))
        # Every frame once, plus the 16 partial bytes seen at each of 4 cuts, plus one
        # re-read of the last frame of each segment when the next one starts.
        assert sum(read[:25]) < 1.5 * log_bytes


def test_a_reader_skips_a_segment_deleted_while_it_reads(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=1) as wal:
        for lsn in (1, 2, 3):
            append_lsn(wal, lsn)
    with WriteAheadLog(tmp_path, readonly=True) as reader:
        entries = reader.replay()
        assert next(entries).lsn == 1
        (tmp_path / segment_file_name(2)).unlink()
        assert [e.lsn for e in entries] == [3]


def test_a_reader_of_a_missing_directory_sees_an_empty_log(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path / "nothing", readonly=True) as reader:
        assert reader.last_lsn == 0 and list(reader.replay()) == [] and reader.segments() == []
    assert not (tmp_path / "nothing").exists()


# ---------------------------------------------------------------------------- misuse


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path):
        with pytest.raises(ConcurrencyError, match="readonly=True"):
            WriteAheadLog(tmp_path)
        WriteAheadLog(tmp_path, readonly=True).close()
    WriteAheadLog(tmp_path).close()


def test_bad_appends_are_refused_and_write_nothing(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        table = make_table(1)
        with pytest.raises(ValidationError, match="greater"):
            wal.append(table, {}, min_time=2, max_time=1)
        with pytest.raises(ValidationError, match="JSON"):
            wal.append(table, {"x": object()}, min_time=0, max_time=1)
        with pytest.raises(ValidationError, match="JSON"):
            wal.append(table, {"x": float("nan")}, min_time=0, max_time=1)
        with pytest.raises(ValidationError, match="int64"):
            wal.append(table, {}, min_time=0, max_time=1 << 63)
        with pytest.raises(ValidationError, match=r"pyarrow\.Table"):
            wal.append({"a": [1]}, {}, min_time=0, max_time=1)  # type: ignore[arg-type]
        assert wal.last_lsn == 0 and wal.size_bytes == SEGMENT_HEADER_SIZE
        batch = table.to_batches()[0]
        assert wal.append(batch, {}, min_time=np.int64(0), max_time=1) == 1
    with pytest.raises(StorageError, match="closed"):
        append_lsn(wal, 2)
    with pytest.raises(StorageError, match="closed"):
        list(wal.replay())
    wal.close()


# ---------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@st.composite
def small_tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 12))
    ints = st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows)
    floats = st.lists(st.floats(allow_nan=False), min_size=rows, max_size=rows)
    texts = st.lists(st.none() | st.text(max_size=8), min_size=rows, max_size=rows)
    columns: dict[str, pa.Array] = {
        "time": pa.array(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=rows, max_size=rows)), pa.int64()
        ),
        "i": pa.array(draw(ints), pa.int64()),
        "f": pa.array(draw(floats), pa.float64()),
        "s": pa.array(draw(texts), pa.string()),
    }
    return pa.table(columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.tuples(small_tables(), st.dictionaries(st.text(max_size=6), json_values, max_size=4)),
        max_size=8,
    ),
    segment_bytes=st.sampled_from([1, 2000, 64 << 20]),
)
def test_any_appended_tables_replay_equal(
    frames: list[tuple[pa.Table, dict[str, Any]]], segment_bytes: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        with WriteAheadLog(directory, fsync=False, segment_bytes=segment_bytes) as wal:
            for table, meta in frames:
                times = table.column("time").to_numpy()
                low, high = (int(times.min()), int(times.max())) if len(times) else (0, 0)
                wal.append(table, meta, min_time=low, max_time=high)
        with WriteAheadLog(directory, readonly=True) as reader:
            entries = list(reader.replay())
    assert [e.lsn for e in entries] == list(range(1, len(frames) + 1))
    for entry, (table, meta) in zip(entries, frames, strict=True):
        assert entry.table.equals(table, check_metadata=True)
        assert entry.meta == meta


# ---------------------------------------------------------------------------- crashes

_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pyarrow as pa
    from tsstore.storage.wal import WriteAheadLog

    wal = WriteAheadLog(sys.argv[1], segment_bytes=150_000)
    rng = np.random.default_rng(int(sys.argv[2]))
    while True:
        lsn = wal.last_lsn + 1
        rows = int(rng.integers(1, 4000))
        table = pa.table({
            "time": np.arange(rows, dtype=np.int64) + lsn * 10_000,
            "v": np.full(rows, lsn, dtype=np.int64),
        })
        meta = {"lsn": lsn, "rows": rows}
        got = wal.append(table, meta, min_time=lsn * 10_000, max_time=lsn * 10_000 + rows - 1)
        assert got == lsn, (got, lsn)
        print(got, flush=True)
    """
)


def test_sigkill_during_appends_loses_no_acknowledged_frame(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    rng = random.Random(20240521)
    acked: list[int] = []
    deadline = time.monotonic() + 60
    for round_ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(directory), str(round_)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        wanted = rng.randint(1, 40)
        seen = 0
        while seen < wanted and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked.append(int(line))
            seen += 1
        time.sleep(rng.uniform(0, 0.01))
        child.send_signal(signal.SIGKILL)
        rest, errors = child.communicate()
        acked.extend(int(x) for x in rest.split())
        assert child.returncode == -signal.SIGKILL, errors.decode()
        assert seen == wanted, errors.decode()

        with WriteAheadLog(directory, readonly=True) as reader:
            assert reader.last_lsn >= acked[-1]
        with WriteAheadLog(directory) as wal:
            entries = list(wal.replay())
        lsns = [e.lsn for e in entries]
        assert lsns == list(range(1, len(lsns) + 1))
        assert set(acked) <= set(lsns)  # every acknowledged frame survived
        assert len(lsns) - acked[-1] in (0, 1)  # and at most one written but not acknowledged
        for entry in entries:
            rows = entry.meta["rows"]
            assert entry.meta["lsn"] == entry.lsn
            assert entry.table.column("v").to_pylist() == [entry.lsn] * rows
            assert entry.table.column("time").to_pylist() == list(
                range(entry.lsn * 10_000, entry.lsn * 10_000 + rows)
            )
    assert len(acked) >= 5
