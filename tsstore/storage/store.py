"""The store: databases of tables under one root (a local directory or an fsspec URL)."""

from __future__ import annotations

import atexit
import contextlib
import difflib
import hashlib
import os
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd

from tsstore.errors import (
    AlreadyExistsError,
    ConcurrencyError,
    NotEmptyError,
    NotFoundError,
    ValidationError,
)
from tsstore.model.durations import AUTO, Retention, parse_duration, parse_partition_duration
from tsstore.model.names import validate_resource_name
from tsstore.storage.catalog import Catalog, TableEntry
from tsstore.storage.magnetic import MagneticTier
from tsstore.storage.table import Table
from tsstore.storage.wal import WriteAheadLog

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_PATH", "LIFECYCLE_NICE", "Database", "Store", "lower_thread_priority"]

#: Where ``connect()`` puts the embedded store unless ``$TSSTORE_PATH`` says otherwise.
DEFAULT_PATH = "tsstore-data"


def _wall_clock() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _nearest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; there are: {names}" if names else ""


class Database:
    """A Timestream database: a named group of tables."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self.name = name

    def __repr__(self) -> str:
        return f"<tsstore.Database {self.name}>"

    def create_table(
        self,
        name: str,
        *,
        memory_retention: object = "6h",
        magnetic_retention: object = "73000d",
        magnetic_store_writes: bool = True,
        partition_duration: object = AUTO,
        exist_ok: bool = False,
    ) -> Table:
        """Create a table.

        Parameters
        ----------
        name : str
            3 to 256 characters of ``[a-zA-Z0-9_.-]``.
        memory_retention : str or timedelta, default "6h"
            How long points stay in the memory tier (1 h to 8766 h).
        magnetic_retention : str or timedelta, default "73000d"
            How long points stay in the magnetic tier (1 d to 73000 d).
        magnetic_store_writes : bool, default True
            Accept points older than the memory retention (written straight to the magnetic
            tier). Timestream's default is off; backfills in notebooks want it on.
        partition_duration : "auto", str or timedelta, default "auto"
            Width of the magnetic tier's time partitions (epoch-aligned buckets; 1 h to 366 d).
            ``"auto"`` chooses it from the density of the first points the magnetic tier
            stores: one day for dense tables, up to a year for sparse ones (see
            ``docs/format-magnetic.md``). Fixed for good once the tier holds data.
        exist_ok : bool, default False
            Return the existing table instead of raising :class:`AlreadyExistsError`.
        """
        return self._store._create_table(
            self.name,
            name,
            Retention.parse(memory_retention, magnetic_retention),
            magnetic_store_writes,
            exist_ok,
            parse_partition_duration(partition_duration),
        )

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        return self._store._table(self.name, name)

    __getitem__ = table

    def list_tables(self) -> list[str]:
        return sorted(self._store._databases()[self.name])

    def delete_table(self, name: str) -> None:
        """Delete a table and all of its data."""
        self._store._delete_table(self.name, name)

    def describe(self) -> dict[str, Any]:
        return {"database": self.name, "tables": self.list_tables()}


#: Nice value (Linux scheduling priority, 0 normal, 19 lowest) of the lifecycle thread. Its
#: migrations and compactions are background work: with it at 10, a query or a write wanting
#: the same core gets about 9 parts in 10 of it (CFS weights 1024 : 110), yet the lifecycle
#: still progresses on a machine busy all the time.
LIFECYCLE_NICE = 10


def lower_thread_priority(nice: int = LIFECYCLE_NICE) -> bool:
    """Lower the calling thread's CPU scheduling priority to ``nice``, for background work.

    Linux schedules threads one by one, so only the calling thread (and the threads it starts
    from now on, which inherit it) yields to the others: the process's other threads and other
    processes keep their priority. A thread already at ``nice`` or lower priority is left as
    it is (raising it back needs privileges). Elsewhere this is a no-op.

    Parameters
    ----------
    nice : int, default :data:`LIFECYCLE_NICE`
        Target nice value, 0 (normal) to 19 (lowest).

    Returns
    -------
    bool
        Whether the thread now runs at ``nice`` or lower priority.
    """
    if not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        return False
    return True


class Store:
    """A tsstore store: databases, tables, and their two tiers under one root.

    Use :func:`tsstore.connect` to open one. A store is one writer process (holding the writer
    lock) and any number of reader processes (``read_only=True``).
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        database: str | None = None,
        read_only: bool = False,
        lifecycle_interval: object | None = "60s",
        wal_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        url = os.fspath(url) if url is not None else os.environ.get("TSSTORE_PATH", DEFAULT_PATH)
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.clock = clock or _wall_clock
        self.read_only = read_only
        protocol = fsspec.utils.get_protocol(url)
        self.is_local = protocol in ("file", "local")
        if self.is_local:
            root = str(Path(fsspec.utils.strip_protocol(url) if "://" in url else url).absolute())
            self.root = root
            Path(root).mkdir(parents=True, exist_ok=True) if not read_only else None
            self._fs = fsspec.filesystem("file")
            local_dir = Path(root)
        else:
            self.root = url.rstrip("/")
            self._fs = fsspec.filesystem(protocol, **self.storage_options)
            digest = hashlib.sha1(self.root.encode()).hexdigest()[:16]
            local_dir = Path(os.path.expanduser("~/.cache/tsstore")) / digest
        self._wal_root = Path(wal_dir) if wal_dir is not None else local_dir / "wal"
        self._catalog = Catalog(self._fs, self.root, is_local=self.is_local)
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        if not read_only:
            self._acquire_writer_lock(local_dir)
        self._dbs = self._catalog.load()
        self._tables: dict[str, Table] = {}
        self.default_database = database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not read_only and lifecycle_interval is not None:
            self._start_lifecycle(parse_duration(lifecycle_interval, "lifecycle_interval"))
        self._finalizer = weakref.finalize(self, Store._finalize, self._tables, self._stop)
        atexit.register(self._finalizer)

    # -- plumbing ------------------------------------------------------------------------
    def _acquire_writer_lock(self, local_dir: Path) -> None:
        local_dir.mkdir(parents=True, exist_ok=True)
        path = local_dir / "writer.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                finally:
                    os.close(fd)
                raise ConcurrencyError(
                    f"the store at {self.url} is open for writing in another process "
                    f"({holder or 'unknown pid'}); open it with read_only=True to read, or close "
                    "the other writer first"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._lock_fd = fd

    def _databases(self) -> dict[str, dict[str, TableEntry]]:
        if self.read_only:
            self._dbs = self._catalog.load()
        return self._dbs

    def _save(self) -> None:
        self._catalog.save(self._dbs)

    def _check_writable(self) -> None:
        if self.read_only:
            raise ValidationError(
                f"the store at {self.url} is open read-only; connect without read_only=True to "
                "change it"
            )

    def _table_url(self, entry: TableEntry) -> str:
        return f"{self.root}/tables/{entry.id}/magnetic"

    def _open_table(self, entry: TableEntry) -> Table:
        create = not self.read_only
        width = entry.partition_duration
        magnetic = MagneticTier.open(
            self._table_url(entry),
            storage_options=self.storage_options,
            create=create,
            partition_duration_ns=AUTO if width is None else int(width.value),
        )
        wal_dir = self._wal_root / entry.id
        wal = WriteAheadLog(wal_dir, readonly=self.read_only)
        table = Table(
            entry,
            magnetic=magnetic,
            wal=wal,
            clock=self.clock,
            save_entry=None if self.read_only else self._save_entry,
            read_only=self.read_only,
        )
        table._store_ref = weakref.ref(self)
        return table

    def _save_entry(self, entry: TableEntry) -> None:
        with self._lock:
            self._dbs[entry.database][entry.name] = entry
            self._save()

    # -- databases -----------------------------------------------------------------------
    def create_database(self, name: str, *, exist_ok: bool = False) -> Database:
        """Create a database (``exist_ok=True`` returns an existing one)."""
        self._check_writable()
        validate_resource_name(name, "database")
        with self._lock:
            if name in self._dbs:
                if exist_ok:
                    return Database(self, name)
                raise AlreadyExistsError(
                    f"database {name!r} already exists; pass exist_ok=True to use it"
                )
            self._dbs[name] = {}
            self._save()
        return Database(self, name)

    def database(self, name: str | None = None) -> Database:
        """The database called ``name`` (default: the store's default database)."""
        name = name or self.default_database
        if name is None:
            raise ValidationError("no database named and no default; pass database= to connect()")
        dbs = self._databases()
        if name not in dbs:
            raise NotFoundError(f"database {name!r} does not exist{_nearest(name, list(dbs))}")
        return Database(self, name)

    def list_databases(self) -> list[str]:
        return sorted(self._databases())

    def delete_database(self, name: str) -> None:
        """Delete an empty database (a database with tables is refused)."""
        self._check_writable()
        with self._lock:
            if name not in self._dbs:
                raise NotFoundError(
                    f"database {name!r} does not exist{_nearest(name, list(self._dbs))}"
                )
            if self._dbs[name]:
                raise NotEmptyError(
                    f"database {name!r} still holds tables {sorted(self._dbs[name])}; delete them "
                    "first"
                )
            del self._dbs[name]
            self._save()

    # -- tables --------------------------------------------------------------------------
    def _create_table(
        self,
        db: str,
        name: str,
        retention: Retention,
        magnetic_store_writes: bool,
        exist_ok: bool,
        partition_duration: pd.Timedelta | None = None,
    ) -> Table:
        self._check_writable()
        validate_resource_name(name, "table")
        with self._lock:
            tables = self._dbs.get(db)
            if tables is None:
                raise NotFoundError(f"database {db!r} does not exist")
            if name in tables:
                if exist_ok:
                    return self._table(db, name)
                raise AlreadyExistsError(
                    f"table {db}.{name} already exists; pass exist_ok=True to use it"
                )
            entry = TableEntry.new(db, name, retention, magnetic_store_writes, partition_duration)
            tables[name] = entry
            self._save()
            return self._table(db, name)

    def _table(self, db: str, name: str) -> Table:
        dbs = self._databases()
        if db not in dbs:
            raise NotFoundError(f"database {db!r} does not exist{_nearest(db, list(dbs))}")
        entry = dbs[db].get(name)
        if entry is None:
            raise NotFoundError(f"table {db}.{name} does not exist{_nearest(name, list(dbs[db]))}")
        with self._lock:
            table = self._tables.get(entry.id)
            if table is None:
                table = self._tables[entry.id] = self._open_table(entry)
            elif self.read_only:
                table._entry = entry
            return table

    def _delete_table(self, db: str, name: str) -> None:
        self._check_writable()
        with self._lock:
            entry = self._table(db, name).entry
            table = self._tables.pop(entry.id)
            table.close()
            del self._dbs[db][name]
            self._save()
            self._fs.rm(f"{self.root}/tables/{entry.id}", recursive=True) if self._fs.exists(
                f"{self.root}/tables/{entry.id}"
            ) else None
            wal_dir = self._wal_root / entry.id
            if wal_dir.exists():
                import shutil

                shutil.rmtree(wal_dir)

    def table(self, name: str) -> Table:
        """A table by ``"database.table"`` (or ``"table"`` in the default database)."""
        if not isinstance(name, str):
            raise ValidationError(f"table name must be a string, got {name!r}")
        dbs = self._databases()
        if "." in name:
            # database and table names may contain dots: take the longest known database prefix
            for i in [i for i, c in enumerate(name) if c == "."]:
                if name[:i] in dbs:
                    return self._table(name[:i], name[i + 1 :])
            db, _, tname = name.partition(".")
            return self._table(db, tname)
        if self.default_database is None:
            raise ValidationError(
                f"table {name!r} has no database: write 'database.{name}' or pass database= to "
                "connect()"
            )
        return self._table(self.default_database, name)

    __getitem__ = table

    def tables(self) -> list[Table]:
        """Every table of every database."""
        return [self._table(db, t) for db, ts in sorted(self._databases().items()) for t in ts]

    # -- lifecycle -----------------------------------------------------------------------
    def run_lifecycle(self, now: object | None = None) -> list[dict[str, Any]]:
        """Migrate and expire data in every table now; returns what moved and was deleted."""
        self._check_writable()
        ts = None if now is None else pd.Timestamp(now)
        return [t.run_lifecycle(ts).to_dict() for t in self.tables()]

    def maintain(self, *, keep_snapshots: object = "7d") -> list[dict[str, Any]]:
        """Expire old magnetic snapshots and collect garbage in every table now (see
        :meth:`Table.maintain`)."""
        self._check_writable()
        return [
            {"table": t.full_name, **t.maintain(keep_snapshots=keep_snapshots)}
            for t in self.tables()
        ]

    def _start_lifecycle(self, interval: pd.Timedelta) -> None:
        stop = self._stop
        ref = weakref.ref(self)

        def loop() -> None:
            lower_thread_priority()  # background work: queries and writes come first
            while not stop.wait(interval.total_seconds()):
                store = ref()
                if store is None:
                    return
                try:
                    store.run_lifecycle()
                except Exception as e:  # keep the thread alive; report and retry next time
                    import warnings

                    warnings.warn(f"tsstore lifecycle failed: {e}", RuntimeWarning, stacklevel=1)
                del store

        self._thread = threading.Thread(target=loop, name="tsstore-lifecycle", daemon=True)
        self._thread.start()

    # -- closing -------------------------------------------------------------------------
    @staticmethod
    def _finalize(tables: dict[str, Table], stop: threading.Event) -> None:
        stop.set()
        for t in list(tables.values()):
            with contextlib.suppress(Exception):  # at exit: close what can be closed
                t.close()
        tables.clear()

    def close(self) -> None:
        """Stop the lifecycle thread, close tables and release the writer lock."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._finalizer()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<tsstore.Store {self.url} ({mode}), databases={self.list_databases()}>"
