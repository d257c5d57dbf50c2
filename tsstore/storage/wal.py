"""Write-ahead log of one table: append-only, checksummed, fsync'ed frames of Arrow tables.

A write is acknowledged (:meth:`WriteAheadLog.append` returns its LSN) only after its frame is on
disk. The byte format is documented in ``docs/wal-format.md``; in short, a directory holds segment
files ``wal-<20-digit first LSN>.log``, each a 16-byte header followed by frames, and each frame is
a 36-byte header (magic, payload length, LSN, min/max time, CRC-32) followed by a payload made of a
length-prefixed JSON object and an Arrow IPC stream of one table.

One process writes a log (``readonly=False``, guarded by an advisory lock on ``wal.lock``); any
number of processes may read it at the same time (``readonly=True``).
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import re
import struct
import threading
import zlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from tsstore.errors import (
    ConcurrencyError,
    CorruptDataError,
    FormatVersionError,
    StorageError,
    ValidationError,
)

try:  # POSIX only; on other platforms the writer lock is not taken.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT_VERSION",
    "IPC_COMPRESSION",
    "WalEntry",
    "WalSegment",
    "WriteAheadLog",
]

#: The segment format version this module writes and the newest it reads.
FORMAT_VERSION = 1

SEGMENT_MAGIC = b"TSWAL\x00"
FRAME_MAGIC = b"TSWF"
LOCK_FILE_NAME = "wal.lock"

# Segment header: magic, uint16 version, 8 reserved bytes (zero).
_SEGMENT_HEADER = struct.Struct("<6sH8s")
SEGMENT_HEADER_SIZE = _SEGMENT_HEADER.size  # 16
# Frame header: magic, uint32 payload length, uint64 LSN, int64 min_time, int64 max_time,
# uint32 CRC.
_FRAME_HEADER = struct.Struct("<4sIQqqI")
FRAME_HEADER_SIZE = _FRAME_HEADER.size  # 36
# The bytes of the frame header covered by the CRC: everything between the magic and the CRC.
_CRC_FIELDS = slice(4, 32)
_U32 = struct.Struct("<I")
_MAX_PAYLOAD = 0xFFFF_FFFF
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# The Arrow stream inside a payload starts at a file offset that is a multiple of this, so that
# uncompressed buffers read back zero-copy are aligned as Arrow expects.
_IPC_ALIGNMENT = 8
_SEGMENT_NAME = re.compile(r"^wal-(\d{20})\.log$")


def _pick_codec() -> str | None:
    for codec in ("lz4", "zstd"):
        if pa.Codec.is_available(codec):
            return codec
    return None


#: Compression of the Arrow IPC buffers in new frames (``"lz4"`` is LZ4 frame). Arrow IPC records
#: the codec in each message, so readers need no setting.
IPC_COMPRESSION: str | None = _pick_codec()
#: Tables smaller than this (Arrow buffer bytes) are framed uncompressed: setting up a codec
#: context per buffer costs more than the bytes it saves (a 100-row, 12-column frame decodes in
#: ~10 us uncompressed, ~100 us with LZ4), and a reader catching up with a writer of small
#: writes decodes many of them.
COMPRESS_MIN_BYTES = 64 * 1024
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression=IPC_COMPRESSION)
_WRITE_OPTIONS_SMALL = pa.ipc.IpcWriteOptions(compression=None)


@dataclass(frozen=True, slots=True)
class WalEntry:
    """One frame of the log, as :meth:`WriteAheadLog.replay` yields it.

    Attributes
    ----------
    lsn : int
        Log sequence number, 1-based, increasing by one per frame.
    meta : dict
        The JSON object given to :meth:`WriteAheadLog.append`.
    table : pyarrow.Table
        The table given to :meth:`WriteAheadLog.append`. Uncompressed buffers may be zero-copy
        views of the segment file read into memory, which stays alive as long as they do.
    min_time, max_time : int
        The frame's time range in int64 nanoseconds, as given to :meth:`WriteAheadLog.append`.
    """

    lsn: int
    meta: dict[str, Any]
    table: pa.Table
    min_time: int
    max_time: int


@dataclass(frozen=True, slots=True)
class WalSegment:
    """Summary of one segment file, as :meth:`WriteAheadLog.segments` lists it.

    Attributes
    ----------
    path : pathlib.Path
        The segment file.
    first_lsn : int
        The LSN in the file name: the first frame's LSN, or the next LSN if the file is empty.
    last_lsn : int
        LSN of the last frame, ``first_lsn - 1`` when the segment holds no frame.
    frames : int
        Number of complete frames.
    min_time, max_time : int or None
        Smallest ``min_time`` and largest ``max_time`` of the frames; None when empty.
    size_bytes : int
        Bytes of the header and the complete frames.
    """

    path: Path
    first_lsn: int
    last_lsn: int
    frames: int
    min_time: int | None
    max_time: int | None
    size_bytes: int


@dataclass(slots=True)
class _Segment:
    """Mutable in-memory summary of a segment, kept up to date on open, refresh and append."""

    path: Path
    first_lsn: int
    frames: int = 0
    last_lsn: int = 0
    min_time: int | None = None
    max_time: int | None = None
    #: Offset after the last complete frame; 0 until the file header has been checked.
    end: int = 0

    def __post_init__(self) -> None:
        self.last_lsn = self.first_lsn - 1

    def add(self, lsn: int, min_time: int, max_time: int, end: int) -> None:
        self.frames += 1
        self.last_lsn = lsn
        self.min_time = min_time if self.min_time is None else min(self.min_time, min_time)
        self.max_time = max_time if self.max_time is None else max(self.max_time, max_time)
        self.end = end

    def public(self) -> WalSegment:
        return WalSegment(
            path=self.path,
            first_lsn=self.first_lsn,
            last_lsn=self.last_lsn,
            frames=self.frames,
            min_time=self.min_time,
            max_time=self.max_time,
            size_bytes=self.end,
        )


def segment_file_name(first_lsn: int) -> str:
    """Return the file name of the segment whose first frame has LSN ``first_lsn``.

    Parameters
    ----------
    first_lsn : int
        The first LSN of the segment (1-based).

    Returns
    -------
    str
        ``wal-<first_lsn, 20 digits, zero-padded>.log``.
    """
    return f"wal-{first_lsn:020d}.log"


def _segment_header() -> bytes:
    return _SEGMENT_HEADER.pack(SEGMENT_MAGIC, FORMAT_VERSION, bytes(8))


def _check_segment_header(path: Path, header: bytes | memoryview) -> None:
    magic, version, _reserved = _SEGMENT_HEADER.unpack(header)
    if magic != SEGMENT_MAGIC:
        raise CorruptDataError(
            f"WAL segment {path}: bad file magic {bytes(magic)!r} at byte offset 0, expected "
            f"{SEGMENT_MAGIC!r}; the file is not a tsstore WAL segment or is damaged"
        )
    if version != FORMAT_VERSION:
        raise FormatVersionError(
            f"WAL segment {path} has format version {version}; this tsstore reads WAL format "
            f"version {FORMAT_VERSION} only; open it with a tsstore that reads version {version}"
        )


def _frame_crc(data: memoryview, pos: int, end: int) -> int:
    """CRC-32 of the frame at ``pos``: its header fields after the magic, then its payload."""
    crc = zlib.crc32(data[pos + _CRC_FIELDS.start : pos + _CRC_FIELDS.stop])
    return zlib.crc32(data[pos + FRAME_HEADER_SIZE : end], crc)


def _valid_frame_after(data: memoryview, start: int, min_lsn: int) -> int | None:
    """Offset in ``data`` of the first checksum-valid frame at or after ``start``, or None.

    This tells damage (a good frame at or after the bad bytes) from a torn tail (nothing good
    there). A candidate must start with the frame magic, fit in ``data`` and pass its CRC; after
    ``start`` it must also carry an LSN of at least ``min_lsn`` (so stale bytes of an older frame
    are not taken for one), while at ``start`` any LSN counts: a complete frame with the wrong
    LSN is damage, not a tear.
    """
    raw = bytes(data)  # only after a bad frame: a crash's tail, or damage
    size = len(data)
    pos = raw.find(FRAME_MAGIC, start)
    while pos != -1:
        if pos + FRAME_HEADER_SIZE <= size:
            _, length, lsn, _, _, crc = _FRAME_HEADER.unpack_from(data, pos)
            end = pos + FRAME_HEADER_SIZE + length
            if (
                (pos == start or lsn >= min_lsn)
                and length >= _U32.size
                and end <= size
                and _frame_crc(data, pos, end) == crc
            ):
                return pos
        pos = raw.find(FRAME_MAGIC, pos + 1)
    return None


def _read_whole_file(path: Path, offset: int = 0) -> pa.Buffer | None:
    """Read a file from ``offset`` on into one 64-byte aligned Arrow buffer; None if the file
    does not exist."""
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with f:
        size = max(os.fstat(f.fileno()).st_size - offset, 0)
        if offset:
            f.seek(offset)
        buf = pa.allocate_buffer(size)
        view = memoryview(buf)
        done = 0
        while done < size:
            n = f.readinto(view[done:])
            if not n:
                break
            done += n
        view.release()
    return buf if done == size else buf.slice(0, done)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsync'ed on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_datasync = getattr(os, "fdatasync", os.fsync)
_HAS_WRITEV = hasattr(os, "writev")


def _write_all(fd: int, parts: Sequence[bytes | memoryview]) -> None:
    """Write every byte of ``parts`` at the file position, resuming after short writes."""
    views = [memoryview(p).cast("B") for p in parts]
    views = [v for v in views if len(v)]
    while views:
        n = os.writev(fd, views) if _HAS_WRITEV else os.write(fd, views[0])
        while n and views:
            if n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][n:]
                n = 0


def _as_int64(value: object, name: str) -> int:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValidationError(
            f"{name} must be an integer (int64 nanoseconds), got {type(value).__name__}"
        ) from None
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValidationError(f"{name}={number} does not fit in int64 nanoseconds")
    return number


class WriteAheadLog:
    """The append-only write-ahead log of one table, in one directory on local disk.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory of the segment files; created (with its parents) unless ``readonly``.
    fsync : bool, default True
        Make each frame durable (``fdatasync``) before :meth:`append` returns. Without it a frame
        survives a crash of the process but not of the machine.
    segment_bytes : int, default 64 MiB
        A new segment file is started when the next frame would make the current one larger
        than this (a segment always takes at least one frame, whatever its size).
    readonly : bool, default False
        Open for reading only, possibly while another process writes: nothing is created,
        locked, repaired or deleted, and :attr:`last_lsn`, :attr:`size_bytes` and
        :meth:`segments` look at the files again on each call.

    Raises
    ------
    ConcurrencyError
        If another writer holds the directory's lock (``readonly=False`` only).
    CorruptDataError
        If a segment other than the last holds a bad frame header, or the last segment holds
        a bad frame followed by good ones.
    FormatVersionError
        If a segment was written by a newer format version.
    StorageError
        If the directory or its files cannot be read or written.

    Notes
    -----
    On open a writer reads every frame header (seeking over payloads) to rebuild the summary of
    each segment and the last LSN. An incomplete frame at the end of the last segment, the mark
    of a crash during a write, is cut off so that new frames follow the last complete one.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: bool = True,
        segment_bytes: int = 64 << 20,
        readonly: bool = False,
    ) -> None:
        if (
            isinstance(segment_bytes, bool)
            or not isinstance(segment_bytes, int)
            or segment_bytes < 1
        ):
            raise ValidationError(
                f"segment_bytes must be a positive integer, got {segment_bytes!r}; "
                f"the default is {64 << 20}"
            )
        self._dir = Path(directory)
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._readonly = readonly
        self._lock = threading.RLock()
        self._segments: list[_Segment] = []
        self._last_lsn = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._closed = False
        self._failed: BaseException | None = None
        # Readonly: where the last replay stopped, ``(segment's first LSN, last LSN read, byte
        # offset after it)``. A reader replays every few milliseconds; the next replay reads
        # that segment from there instead of reading and checking the whole file again.
        self._tail: tuple[int, int, int] | None = None
        try:
            if readonly:
                self._refresh()
            else:
                self._open_writer()
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------ opening and scanning

    def _open_writer(self) -> None:
        try:
            if not self._dir.is_dir():
                self._dir.mkdir(parents=True, exist_ok=True)
                _fsync_directory(self._dir.parent)
            self._lock_fd = os.open(self._dir / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open WAL directory {self._dir}: {exc}") from exc
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConcurrencyError(
                    f"WAL {self._dir} is open for writing elsewhere (its {LOCK_FILE_NAME} is "
                    "locked); close the other writer or open this one with readonly=True"
                ) from None
        listing = self._list_segment_files()
        previous: _Segment | None = None
        for index, (first_lsn, path) in enumerate(listing):
            segment = _Segment(path, first_lsn)
            self._check_follows(previous, segment)
            is_last = index == len(listing) - 1
            torn = self._scan(segment, lenient=is_last)
            if is_last and torn is not None:
                self._repair_tail(segment, torn)
            self._segments.append(segment)
            previous = segment
        if self._segments:
            self._last_lsn = self._segments[-1].last_lsn
            self._open_current()
        else:
            self._create_segment(1)

    def _list_segment_files(self) -> list[tuple[int, Path]]:
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            if self._readonly:
                return []
            raise StorageError(f"WAL directory {self._dir} does not exist") from None
        except OSError as exc:
            raise StorageError(f"cannot list WAL directory {self._dir}: {exc}") from exc
        found = []
        for name in names:
            match = _SEGMENT_NAME.match(name)
            if match and int(match.group(1)) >= 1:
                found.append((int(match.group(1)), self._dir / name))
        found.sort()
        return found

    @staticmethod
    def _check_follows(previous: _Segment | None, segment: _Segment) -> None:
        # Gaps between segments are allowed: truncate_before removes whole fully-old segments.
        if previous is not None and segment.first_lsn <= previous.last_lsn:
            raise CorruptDataError(
                f"WAL segment {segment.path} starts at LSN {segment.first_lsn} but "
                f"{previous.path} already holds LSNs up to {previous.last_lsn}; the segments "
                "overlap, so one of them does not belong to this log"
            )

    def _scan(self, segment: _Segment, *, lenient: bool) -> int | None:
        """Read the frame headers of ``segment`` from ``segment.end`` on, updating it in place.

        Returns the offset of a torn tail (an incomplete frame after the last complete one) when
        ``lenient``; otherwise any bad frame raises :class:`CorruptDataError`. Payloads are not
        read, except the last new frame's when ``lenient`` (its CRC tells a complete frame from
        one the file was extended for but never filled). Raises FileNotFoundError if the file is
        gone.
        """
        path = segment.path
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if segment.end == 0:
                head = f.read(SEGMENT_HEADER_SIZE)
                if len(head) < SEGMENT_HEADER_SIZE:
                    if lenient:  # created by a writer that crashed (or is still writing it)
                        return 0
                    raise CorruptDataError(
                        f"WAL segment {path}: truncated file header ({len(head)} of "
                        f"{SEGMENT_HEADER_SIZE} bytes) at byte offset 0"
                    )
                _check_segment_header(path, head)
                segment.end = SEGMENT_HEADER_SIZE
            pos = segment.end
            expected = segment.last_lsn + 1
            new: list[tuple[int, int, int, int, int, int]] = []  # pos, end, lsn, min, max, crc
            problem: str | None = None
            while pos < size:
                if size - pos < FRAME_HEADER_SIZE:
                    problem = f"truncated frame header ({size - pos} bytes)"
                    break
                f.seek(pos)
                header = f.read(FRAME_HEADER_SIZE)
                if len(header) < FRAME_HEADER_SIZE:
                    problem = "truncated frame header"
                    break
                magic, length, lsn, min_time, max_time, crc = _FRAME_HEADER.unpack(header)
                end = pos + FRAME_HEADER_SIZE + length
                if magic != FRAME_MAGIC:
                    problem = f"bad frame magic {magic!r}"
                    break
                if lsn != expected:
                    problem = f"frame LSN {lsn} where LSN {expected} was expected"
                    break
                if length < _U32.size:
                    problem = f"frame payload length {length} is too short"
                    break
                if end > size:
                    problem = f"truncated frame payload ({size - pos} of {end - pos} bytes)"
                    break
                new.append((pos, end, lsn, min_time, max_time, crc))
                expected += 1
                pos = end
            if lenient and new and problem is None:
                # The last frame decides whether the file ends cleanly: check its checksum.
                last_pos, last_end, *_, last_crc = new[-1]
                f.seek(last_pos)
                frame = memoryview(f.read(last_end - last_pos))
                complete = len(frame) == last_end - last_pos
                if not complete or _frame_crc(frame, 0, len(frame)) != last_crc:
                    new.pop()
                    pos = last_pos
                    expected -= 1
                    problem = "frame checksum mismatch"
            if problem is not None:
                if not lenient:
                    raise CorruptDataError(
                        f"WAL segment {path}: {problem} at byte offset {pos}; the segment is "
                        "damaged and is not the last one, so this is not a crash's torn tail"
                    )
                f.seek(pos)
                rest = memoryview(f.read())
                after = _valid_frame_after(rest, 0, expected)
                if after is not None:
                    raise CorruptDataError(
                        f"WAL segment {path}: {problem} at byte offset {pos}, with a valid frame "
                        f"at byte offset {pos + after}; the log is damaged in the middle"
                    )
        for _pos, end, lsn, min_time, max_time, _crc in new:
            segment.add(lsn, min_time, max_time, end)
        return pos if problem is not None else None

    def _repair_tail(self, segment: _Segment, offset: int) -> None:
        """Cut the last segment back to its last complete frame (or rewrite a torn header)."""
        try:
            with open(segment.path, "r+b", buffering=0) as f:
                if offset < SEGMENT_HEADER_SIZE:
                    f.truncate(0)
                    f.write(_segment_header())
                    segment.end = SEGMENT_HEADER_SIZE
                else:
                    f.truncate(offset)
                os.fsync(f.fileno())
        except OSError as exc:
            raise StorageError(
                f"cannot cut the torn tail of WAL segment {segment.path} at byte offset "
                f"{offset}: {exc}"
            ) from exc

    def _open_current(self) -> None:
        segment = self._segments[-1]
        try:
            self._fd = os.open(segment.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
            os.lseek(self._fd, segment.end, os.SEEK_SET)
        except OSError as exc:
            raise StorageError(f"cannot open WAL segment {segment.path}: {exc}") from exc

    def _create_segment(self, first_lsn: int) -> None:
        """Start segment ``first_lsn`` (durably, directory entry included) and append to it."""
        path = self._dir / segment_file_name(first_lsn)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create WAL segment {path}: {exc}") from exc
        try:
            _write_all(fd, [_segment_header()])
            if self._fsync:
                os.fsync(fd)
                _fsync_directory(self._dir)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):  # a later rotation must be able to create it
                os.unlink(path)
            raise StorageError(f"cannot write WAL segment {path}: {exc}") from exc
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        segment = _Segment(path, first_lsn)
        segment.end = SEGMENT_HEADER_SIZE
        self._segments.append(segment)

    def _refresh(self) -> None:
        """Readonly: bring the segment summaries up to date with the files."""
        known = {s.first_lsn: s for s in self._segments}
        listing = self._list_segment_files()
        segments: list[_Segment] = []
        for index, (first_lsn, path) in enumerate(listing):
            segment = known.get(first_lsn) or _Segment(path, first_lsn)
            if segments:
                self._check_follows(segments[-1], segment)
            try:
                self._scan(segment, lenient=index == len(listing) - 1)
            except FileNotFoundError:  # deleted by the writer's truncate_before meanwhile
                continue
            segments.append(segment)
        self._segments = segments
        self._last_lsn = segments[-1].last_lsn if segments else 0

    # ------------------------------------------------------------------ properties

    @property
    def directory(self) -> Path:
        """The directory of the segment files."""
        return self._dir

    @property
    def readonly(self) -> bool:
        """Whether this log was opened for reading only."""
        return self._readonly

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def last_lsn(self) -> int:
        """LSN of the last acknowledged frame; 0 for a log that never held a frame."""
        with self._lock:
            if self._readonly and not self._closed:
                self._refresh()
            return self._last_lsn

    @property
    def size_bytes(self) -> int:
        """Bytes of all segment files (headers and complete frames)."""
        with self._lock:
            if self._readonly and not self._closed:
                self._refresh()
            return sum(s.end for s in self._segments)

    def segments(self) -> list[WalSegment]:
        """List the segment files in LSN order, with what is known of their frames.

        Returns
        -------
        list of WalSegment
            One summary per segment file; the last one is the segment being appended to.
        """
        with self._lock:
            if self._readonly and not self._closed:
                self._refresh()
            return [s.public() for s in self._segments]

    # ------------------------------------------------------------------ writing

    def _check_writable(self) -> None:
        if self._closed:
            raise StorageError(f"WAL {self._dir} is closed; open a new WriteAheadLog")
        if self._readonly:
            raise StorageError(f"WAL {self._dir} was opened readonly; open it with readonly=False")
        if self._failed is not None:
            raise StorageError(
                f"WAL {self._dir} stopped accepting writes after an I/O error "
                f"({self._failed}); close it and open it again"
            )

    def append(self, table: pa.Table, meta: dict[str, Any], *, min_time: int, max_time: int) -> int:
        """Append one frame durably and return its LSN.

        Parameters
        ----------
        table : pyarrow.Table
            The rows to log (a ``pyarrow.RecordBatch`` is accepted too).
        meta : dict
            A JSON-serialisable object stored with the table (string keys; no NaN or infinity).
        min_time, max_time : int
            Smallest and largest value of the table's ``time`` column in int64 nanoseconds;
            :meth:`truncate_before` uses ``max_time``.

        Returns
        -------
        int
            The frame's LSN: one more than :attr:`last_lsn` before the call.

        Raises
        ------
        ValidationError
            If ``table``, ``meta`` or the times are not acceptable, or the frame's payload would
            not fit in 4 GiB; nothing is written.
        StorageError
            If the frame cannot be written or made durable. The log then refuses further writes
            until it is reopened (which repairs any partial frame).
        """
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not isinstance(table, pa.Table):
            raise ValidationError(f"table must be a pyarrow.Table, got {type(table).__name__}")
        if not isinstance(meta, dict):
            raise ValidationError(f"meta must be a dict, got {type(meta).__name__}")
        min_time = _as_int64(min_time, "min_time")
        max_time = _as_int64(max_time, "max_time")
        if min_time > max_time:
            raise ValidationError(f"min_time={min_time} is greater than max_time={max_time}")
        try:
            meta_json = json.dumps(
                meta, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"meta is not JSON-serialisable: {exc}") from exc
        # Serialise outside the lock: it is the expensive part and needs no LSN.
        sink = pa.BufferOutputStream()
        options = _WRITE_OPTIONS if table.nbytes >= COMPRESS_MIN_BYTES else _WRITE_OPTIONS_SMALL
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        ipc = sink.getvalue()
        largest = FRAME_HEADER_SIZE + _U32.size + len(meta_json) + _IPC_ALIGNMENT + ipc.size
        if largest - FRAME_HEADER_SIZE > _MAX_PAYLOAD:
            raise ValidationError(
                f"frame payload of {largest - FRAME_HEADER_SIZE} bytes exceeds the WAL limit of "
                f"{_MAX_PAYLOAD} bytes; append the table in smaller slices"
            )
        with self._lock:
            self._check_writable()
            segment = self._segments[-1]
            if segment.frames and segment.end + largest > self._segment_bytes:
                self._create_segment(self._last_lsn + 1)
                segment = self._segments[-1]
            lsn = self._last_lsn + 1
            pos = segment.end
            json_end = pos + FRAME_HEADER_SIZE + _U32.size + len(meta_json)
            padded_json = meta_json + b" " * (-json_end % _IPC_ALIGNMENT)  # JSON allows spaces
            length = _U32.size + len(padded_json) + ipc.size
            head = bytearray(_FRAME_HEADER.pack(FRAME_MAGIC, length, lsn, min_time, max_time, 0))
            head += _U32.pack(len(padded_json))
            head += padded_json
            crc = zlib.crc32(memoryview(head)[_CRC_FIELDS])
            crc = zlib.crc32(memoryview(head)[FRAME_HEADER_SIZE:], crc)
            crc = zlib.crc32(ipc, crc)
            struct.pack_into("<I", head, FRAME_HEADER_SIZE - 4, crc)
            assert self._fd is not None
            try:
                _write_all(self._fd, [head, ipc])
                if self._fsync:
                    _datasync(self._fd)
            except OSError as exc:
                self._failed = exc
                try:  # best effort: do not leave a partial frame in front of later appends
                    os.ftruncate(self._fd, pos)
                    os.lseek(self._fd, pos, os.SEEK_SET)
                except OSError:
                    pass
                raise StorageError(
                    f"cannot write frame LSN {lsn} to WAL segment {segment.path} at byte offset "
                    f"{pos}: {exc}"
                ) from exc
            segment.add(lsn, min_time, max_time, pos + FRAME_HEADER_SIZE + length)
            self._last_lsn = lsn
            return lsn

    def truncate_before(self, watermark: int) -> int:
        """Delete the segment files whose every frame has ``max_time < watermark``.

        The segment being appended to qualifies too: a new (empty) segment is started first, so
        that the log keeps its place in the LSN sequence. Segments without frames are kept.

        Parameters
        ----------
        watermark : int
            Time in int64 nanoseconds below which every row is stored elsewhere.

        Returns
        -------
        int
            Number of segment files deleted.
        """
        watermark = _as_int64(watermark, "watermark")
        with self._lock:
            self._check_writable()
            victims = [
                s
                for s in self._segments
                if s.frames and s.max_time is not None and s.max_time < watermark
            ]
            if not victims:
                return 0
            if victims[-1] is self._segments[-1]:
                self._create_segment(self._last_lsn + 1)
            try:
                for segment in victims:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(segment.path)
                    self._segments.remove(segment)
                _fsync_directory(self._dir)
            except OSError as exc:
                raise StorageError(f"cannot delete WAL segments in {self._dir}: {exc}") from exc
            return len(victims)

    # ------------------------------------------------------------------ reading

    def replay(self, *, after_lsn: int = 0) -> Iterator[WalEntry]:
        """Yield the frames with an LSN greater than ``after_lsn``, in LSN order.

        A writer yields the frames acknowledged when it is called. A readonly log lists the
        files when it is called and yields every complete frame it finds; a segment deleted
        meanwhile is skipped, and an incomplete frame at the end of the last segment (being
        written, or left by a crash) ends the replay.

        Parameters
        ----------
        after_lsn : int, default 0
            Yield only frames whose LSN is greater than this.

        Yields
        ------
        WalEntry
            One per frame.

        Raises
        ------
        CorruptDataError
            If a frame fails its checksum or format anywhere but at the end of the last segment,
            naming the file and byte offset.
        FormatVersionError
            If a segment was written by a newer format version.
        """
        with self._lock:
            if self._closed:
                raise StorageError(f"WAL {self._dir} is closed; open a new WriteAheadLog")
            if self._readonly:
                listing = self._list_segment_files()
                bound: int | None = None
            else:
                listing = [(s.first_lsn, s.path) for s in self._segments]
                bound = self._last_lsn
        return self._replay(listing, after_lsn, bound)

    def _replay(
        self, listing: list[tuple[int, Path]], after_lsn: int, bound: int | None
    ) -> Iterator[WalEntry]:
        previous_last: int | None = None
        for index, (first_lsn, path) in enumerate(listing):
            is_last = index == len(listing) - 1
            if not is_last and listing[index + 1][0] - 1 <= after_lsn:
                continue  # every frame of this segment is at or below after_lsn
            if bound is not None and first_lsn > bound:
                break
            if previous_last is not None and first_lsn <= previous_last:
                raise CorruptDataError(
                    f"WAL segment {path} starts at LSN {first_lsn} but the previous segment "
                    f"holds LSNs up to {previous_last}; the segments overlap"
                )
            base, expected = 0, first_lsn
            tail = self._tail
            if bound is None and tail is not None and tail[0] == first_lsn and after_lsn >= tail[1]:
                base, expected = tail[2], tail[1] + 1  # frames up to tail[1] were read before
            data = _read_whole_file(path, base)
            if data is None:  # deleted by the writer's truncate_before meanwhile
                continue
            lenient = is_last and bound is None
            previous_last, end = yield from self._read_segment(
                path, data, expected, after_lsn, bound, lenient, base
            )
            if bound is None:
                self._tail = (first_lsn, previous_last, base + end)

    @staticmethod
    def _read_segment(
        path: Path,
        data: pa.Buffer,
        first_lsn: int,
        after_lsn: int,
        bound: int | None,
        lenient: bool,
        base: int = 0,
    ) -> Generator[WalEntry, None, tuple[int, int]]:
        """Yield the entries of one segment read into ``data``; return its last good LSN and
        the offset in ``data`` after that frame.

        ``data`` holds the file from byte ``base`` on: 0 (the whole file, header first) or the
        end of a frame read before, in which case its first frame has LSN ``first_lsn``.
        """
        size = data.size
        view = memoryview(data)
        pos = 0
        if base == 0:
            if size < SEGMENT_HEADER_SIZE:
                if lenient:
                    return first_lsn - 1, 0
                raise CorruptDataError(
                    f"WAL segment {path}: truncated file header ({size} of "
                    f"{SEGMENT_HEADER_SIZE} bytes) at byte offset 0"
                )
            _check_segment_header(path, view[:SEGMENT_HEADER_SIZE])
            pos = SEGMENT_HEADER_SIZE
        expected = first_lsn
        while pos < size and (bound is None or expected <= bound):
            problem: str | None = None
            end = pos
            if size - pos < FRAME_HEADER_SIZE:
                problem = f"truncated frame header ({size - pos} bytes)"
            else:
                magic, length, lsn, min_time, max_time, crc = _FRAME_HEADER.unpack_from(view, pos)
                end = pos + FRAME_HEADER_SIZE + length
                if magic != FRAME_MAGIC:
                    problem = f"bad frame magic {bytes(magic)!r}"
                elif lsn != expected:
                    problem = f"frame LSN {lsn} where LSN {expected} was expected"
                elif length < _U32.size:
                    problem = f"frame payload length {length} is too short"
                elif end > size:
                    problem = f"truncated frame payload ({size - pos} of {end - pos} bytes)"
                elif _frame_crc(view, pos, end) != crc:
                    problem = "frame checksum mismatch"
            if problem is not None:
                if lenient:
                    after = _valid_frame_after(view, pos, expected)
                    if after is None:
                        # A torn tail: the normal end of a log whose writer crashed (or the
                        # frame a live writer is appending).
                        return expected - 1, pos
                    raise CorruptDataError(
                        f"WAL segment {path}: {problem} at byte offset {base + pos}, with a "
                        f"valid frame at byte offset {base + after}; the log is damaged in the "
                        "middle"
                    )
                raise CorruptDataError(
                    f"WAL segment {path}: {problem} at byte offset {base + pos}; the frame is "
                    "damaged and is not a torn tail at the end of the last segment"
                )
            if lsn > after_lsn:
                yield WalEntry(
                    lsn=lsn,
                    meta=_decode_meta(path, view, pos, end),
                    table=_decode_table(path, data, pos, end),
                    min_time=min_time,
                    max_time=max_time,
                )
            expected += 1
            pos = end
        return expected - 1, pos

    # ------------------------------------------------------------------ closing

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def close(self) -> None:
        """Close the log; a writer releases the directory lock. Calling it again does nothing."""
        with self._lock:
            self._closed = True
            self._release()

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self._readonly else "writer"
        state = "closed" if self._closed else f"last_lsn={self._last_lsn}"
        return f"WriteAheadLog({str(self._dir)!r}, {mode}, {state})"


def _json_span(view: memoryview, pos: int, end: int) -> tuple[int, int]:
    start = pos + FRAME_HEADER_SIZE + _U32.size
    (json_len,) = _U32.unpack_from(view, pos + FRAME_HEADER_SIZE)
    return start, start + json_len


def _decode_meta(path: Path, view: memoryview, pos: int, end: int) -> dict[str, Any]:
    start, stop = _json_span(view, pos, end)
    if stop > end:
        raise CorruptDataError(
            f"WAL segment {path}: frame at byte offset {pos} has a metadata length running past "
            "its payload"
        )
    try:
        meta = json.loads(bytes(view[start:stop]))
    except ValueError as exc:
        raise CorruptDataError(
            f"WAL segment {path}: frame at byte offset {pos} has unreadable metadata: {exc}"
        ) from exc
    if not isinstance(meta, dict):
        raise CorruptDataError(
            f"WAL segment {path}: frame at byte offset {pos} has metadata that is not a JSON object"
        )
    return meta


def _decode_table(path: Path, data: pa.Buffer, pos: int, end: int) -> pa.Table:
    view = memoryview(data)
    _, stop = _json_span(view, pos, end)
    try:
        with pa.ipc.open_stream(data.slice(stop, end - stop)) as reader:
            return reader.read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise CorruptDataError(
            f"WAL segment {path}: frame at byte offset {pos} holds an unreadable Arrow stream: "
            f"{exc}"
        ) from exc
