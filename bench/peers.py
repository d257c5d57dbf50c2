"""Peers for side-by-side benchmarks: what a tsstore user would pick instead.

Every peer has the same small interface (``Peer``): ``setup(workdir)`` creates an empty store in
a folder of its own under ``workdir``; ``ingest(df)`` writes a whole TSBS-shaped DataFrame
(``time`` + tag columns + field columns) durably, the peer's documented best practice;
``bytes_on_disk()`` counts every file the peer wrote (``os.walk`` of its folder, apparent
sizes); ``close()`` releases it. Time only ``ingest``; the rest is untimed set-up and
accounting.

Peers whose package cannot be imported are reported with the reason by ``missing_peers()``;
``available_peers()`` lists the rest. Nothing is skipped silently.

Server peers (``bench/servers.py``: VictoriaMetrics, InfluxDB 1.x, ClickHouse server,
PostgreSQL) implement the same interface against a server process: ``missing_peers()`` installs
a missing server with apt-get (psycopg with pip) and reports the reason when that fails; each
server starts once per script run, on first ``setup()``, and stops at the end of the run
(``servers.stop_all()``, also at interpreter exit).
"""

from __future__ import annotations

import gc
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from tsbs import TAGS

__all__ = [
    "CHDB_TSBS_CODECS",
    "PEERS",
    "SERVER_PEERS",
    "ArcticDBPeer",
    "ChDBPeer",
    "DuckDBPeer",
    "Peer",
    "available_peers",
    "make_peer",
    "missing_peers",
    "peer_dir_bytes",
]

#: Tag columns of TSBS ``cpu-only`` (one list, defined by the generator).
DEFAULT_TAGS: tuple[str, ...] = TAGS


@runtime_checkable
class Peer(Protocol):
    """The interface every peer implements."""

    name: str
    version: str

    def setup(self, workdir: Path) -> None:
        """Create an empty store in a folder of its own under ``workdir``."""
        ...

    def ingest(self, df: pd.DataFrame) -> None:
        """Write the whole frame durably (data are safe on disk when this returns)."""
        ...

    def bytes_on_disk(self) -> int:
        """Bytes of every file the peer wrote, after flushing what it must."""
        ...

    def close(self) -> None:
        """Release files and handles; the folder stays for inspection."""
        ...


def peer_dir_bytes(path: str | os.PathLike[str]) -> int:
    """Apparent size of every regular file under ``path`` (``os.walk``, links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            fp = os.path.join(root, f)
            if not os.path.islink(fp):
                total += os.stat(fp).st_size
    return total


def _tag_columns(df: pd.DataFrame, tags: Sequence[str]) -> list[str]:
    """The tag columns of ``df``: the given names that are present, else string-like columns."""
    present = [t for t in tags if t in df.columns]
    if present:
        return present
    return [
        c
        for c in df.columns
        if c != "time"
        and (
            df[c].dtype == object
            or isinstance(df[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(df[c].dtype)
        )
    ]


# -------------------------------------------------------------------------------- ArcticDB


class ArcticDBPeer:
    """ArcticDB on its LMDB backend (``lmdb://<dir>?map_size=16GB``).

    Modes:

    * default (``per_host=False``): the whole frame as ONE symbol indexed by time
      (``df.set_index("time")``), tags kept as columns. ArcticDB's documented way to store a
      DataFrame, and the one measured by default.
    * ``per_host=True``: one symbol per host (``write_batch``), the fields indexed by time, the
      host's constant tags in the symbol's metadata instead of repeated columns.

    Durability: every ArcticDB write is an LMDB transaction committed (and synced: ArcticDB
    opens the environment without ``MDB_NOSYNC``) before ``write`` returns.
    Category tag columns are written as plain strings (ArcticDB has no dictionary type).
    """

    def __init__(
        self,
        *,
        per_host: bool = False,
        map_size: str = "16GB",
        library: str = "tsbs",
        symbol: str = "cpu",
        tags: Sequence[str] = DEFAULT_TAGS,
        host_column: str = "hostname",
    ) -> None:
        import arcticdb

        self.per_host = per_host
        self.mode = "per-host" if per_host else "one-symbol"
        self.name = "arcticdb-per-host" if per_host else "arcticdb"
        self.version = str(arcticdb.__version__)
        self.map_size = map_size
        self.library = library
        self.symbol = symbol
        self.tags = tuple(tags)
        self.host_column = host_column
        self.path: Path | None = None
        self._ac: Any = None
        self._lib: Any = None

    @property
    def uri(self) -> str:
        """The LMDB connection string."""
        if self.path is None:
            raise RuntimeError("setup() first")
        return f"lmdb://{self.path}?map_size={self.map_size}"

    def setup(self, workdir: Path) -> None:
        """Create ``<workdir>/arcticdb`` and an empty library with default options."""
        import arcticdb

        self.path = Path(workdir) / "arcticdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self._ac = arcticdb.Arctic(self.uri)
        self._lib = self._ac.get_library(self.library, create_if_missing=True)

    def _plain(self, df: pd.DataFrame) -> pd.DataFrame:
        cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        if not cats:
            return df
        return df.assign(**{c: df[c].astype(object) for c in cats})

    def ingest(self, df: pd.DataFrame) -> None:
        """Write ``df`` (must have a ``time`` column, sorted by time) durably."""
        if self._lib is None:
            raise RuntimeError("setup() first")
        df = self._plain(df)
        if not self.per_host:
            self._lib.write(self.symbol, df.set_index("time"))
            return
        from arcticdb.version_store.library import WritePayload

        tags = _tag_columns(df, self.tags)
        payloads = []
        for host, g in df.groupby(self.host_column, sort=False, observed=True):
            meta = {t: g[t].iat[0] for t in tags}
            frame = g.drop(columns=tags).set_index("time")
            payloads.append(WritePayload(str(host), frame, metadata=meta))
        results = self._lib.write_batch(payloads)
        errors = [r for r in results if not hasattr(r, "version")]
        if errors:
            raise RuntimeError(
                f"ArcticDB write_batch failed for {len(errors)} symbols: {errors[0]}"
            )

    def bytes_on_disk(self) -> int:
        """All files under ``<workdir>/arcticdb`` (the LMDB data and lock files)."""
        if self.path is None:
            return 0
        return peer_dir_bytes(self.path)

    def close(self) -> None:
        """Drop the library and Arctic handles (ArcticDB has no explicit close)."""
        self._lib = None
        self._ac = None
        gc.collect()


# ---------------------------------------------------------------------------------- DuckDB


class DuckDBPeer:
    """DuckDB, one database file, table ``cpu`` created from the DataFrame.

    Best practice for compression: tags as ``VARCHAR`` (dictionary/FSST-compressed by DuckDB),
    rows sorted ``ORDER BY hostname, time`` so each row group holds long runs of one host, then
    ``CHECKPOINT`` so everything is in the database file (not only the WAL). The ``time`` column
    keeps the frame's type (``TIMESTAMP WITH TIME ZONE`` for tz-aware UTC times).

    Durability: the ``CREATE TABLE AS`` commits, and ``CHECKPOINT`` writes and syncs the
    database file before ``ingest`` returns.
    """

    def __init__(
        self,
        *,
        order_by: Sequence[str] | None = ("hostname", "time"),
        threads: int | None = None,
        table: str = "cpu",
        tags: Sequence[str] = DEFAULT_TAGS,
    ) -> None:
        import duckdb

        self.name = "duckdb" if order_by else "duckdb-unsorted"
        self.version = str(duckdb.__version__)
        self.order_by = tuple(order_by) if order_by else ()
        self.mode = "sorted " + ",".join(self.order_by) if self.order_by else "insertion order"
        self.threads = threads
        self.table = table
        self.tags = tuple(tags)
        self.path: Path | None = None
        self.file: Path | None = None
        self._con: Any = None

    def setup(self, workdir: Path) -> None:
        """Create ``<workdir>/duckdb/tsbs.duckdb`` and connect."""
        import duckdb

        self.path = Path(workdir) / "duckdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.file = self.path / "tsbs.duckdb"
        config = {"threads": self.threads} if self.threads else {}
        self._con = duckdb.connect(str(self.file), config=config)

    def ingest(self, df: pd.DataFrame) -> None:
        """``CREATE TABLE cpu AS SELECT ... FROM df ORDER BY hostname, time``; ``CHECKPOINT``."""
        if self._con is None:
            raise RuntimeError("setup() first")
        tags = set(_tag_columns(df, self.tags))
        cols = []
        for c in df.columns:
            q = '"' + str(c).replace('"', '""') + '"'
            cols.append(f"CAST({q} AS VARCHAR) AS {q}" if c in tags else q)
        sql = f'CREATE TABLE "{self.table}" AS SELECT {", ".join(cols)} FROM _tsbs_ingest'
        if self.order_by:
            sql += " ORDER BY " + ", ".join(f'"{c}"' for c in self.order_by)
        self._con.register("_tsbs_ingest", df)
        try:
            self._con.execute(sql)
        finally:
            self._con.unregister("_tsbs_ingest")
        self._con.execute("CHECKPOINT")

    def bytes_on_disk(self) -> int:
        """The database file plus its ``.wal`` if any (everything under ``<workdir>/duckdb``)."""
        if self.path is None:
            return 0
        return peer_dir_bytes(self.path)

    def close(self) -> None:
        """Close the connection (a clean close also checkpoints)."""
        if self._con is not None:
            self._con.close()
            self._con = None


# ------------------------------------------------------------------------------------ chDB

#: ``ChDBPeer``'s column codecs by column kind: ClickHouse's specialised codecs for time series,
#: each chained with ZSTD (the docs' "specialised codec, then a general-purpose one"). Where
#: the docs name two candidates, the smaller on ``bench_core.py --quick``'s data (TSBS cpu-only,
#: 20 hosts x 1 day, ``ORDER BY (hostname, time)``, after ``OPTIMIZE``; compressed bytes of the
#: columns / points, chDB 4.4 = ClickHouse 26.9) is used:
#:
#: * ``int`` (the ``tsbs`` fields: random walks in [0, 100] truncated to integers, gauges):
#:   ``T64`` 0.532 B/point against ``Delta`` 0.587 (both + ZSTD; ZSTD alone 1.02, LZ4 2.22).
#:   T64 keeps only the 7 low bits these values use; Delta suits monotonic sequences, while a
#:   gauge's differences change sign at random, and each negative one is an Int64 whose high
#:   bytes are all ones: random sign bytes that ZSTD then has to encode.
#: * ``time`` (``DateTime64(9)``): ``Delta`` 0.0012 B/point against ``DoubleDelta`` 0.0013 on the
#:   aligned 10 s clock, and 0.357 against 0.450 on the ``jitter`` variant's irregular clock
#:   (DoubleDelta pays for every change of step). ``bench_real.py`` keeps DoubleDelta.
#: * ``float`` (the ``float`` and ``jitter`` variants): ``FPC`` 6.85 B/point against ``Gorilla``
#:   7.28 (ZSTD alone 7.44, LZ4 7.95): FPC predicts each value from the ones before, Gorilla
#:   XORs it with the previous one, which leaves more bits for noisy walks like these.
#:
#: Tags are ``LowCardinality(String)`` (dictionary-encoded; allowed in the sort key).
CHDB_TSBS_CODECS: dict[str, str] = {
    "time": "CODEC(Delta, ZSTD)",
    "int": "CODEC(T64, ZSTD)",
    "float": "CODEC(FPC, ZSTD)",
}


class ChDBPeer:
    """chDB (in-process ClickHouse), a persistent session folder, one ``MergeTree`` table.

    ClickHouse's documented layout for TSBS ``cpu-only``: tags ``LowCardinality(String)``,
    ``time DateTime64(9, 'UTC')`` (the frame's nanoseconds), fields ``Int64`` as generated,
    ``ORDER BY (hostname, time)``, with ClickHouse's column codecs for time series
    (``CHDB_TSBS_CODECS``): time ``CODEC(Delta, ZSTD)``, integer fields ``CODEC(T64, ZSTD)``, float
    fields ``CODEC(FPC, ZSTD)``; ``codecs=False`` gives the default codec (LZ4) everywhere.
    The frame goes in with one ``INSERT INTO cpu SELECT * FROM Python(df)``, then
    ``OPTIMIZE TABLE cpu FINAL`` merges the inserted parts into one so no background merge runs
    later (e.g. during queries).

    Durability: the table has ``fsync_after_insert = 1, fsync_part_directory = 1``, so the
    inserted part is synced before ``INSERT`` returns.
    """

    def __init__(
        self,
        *,
        table: str = "cpu",
        tags: Sequence[str] = DEFAULT_TAGS,
        order_by: Sequence[str] = ("hostname", "time"),
        optimize: bool = True,
        codecs: bool = True,
    ) -> None:
        import chdb

        self.name = "chdb"
        engine = getattr(chdb, "engine_version", None)
        self.version = str(chdb.__version__) + (f" (ClickHouse {engine})" if engine else "")
        self.table = table
        self.tags = tuple(tags)
        self.order_by = tuple(order_by)
        self.optimize = optimize
        self.codecs = codecs
        self.mode = "MergeTree ORDER BY (" + ", ".join(self.order_by) + ")"
        if codecs:
            self.mode += ", " + ", ".join(f"{k} {v}" for k, v in CHDB_TSBS_CODECS.items())
        self.path: Path | None = None
        self.session: Any = None

    def setup(self, workdir: Path) -> None:
        """Open a chDB session whose data live in ``<workdir>/chdb``."""
        from chdb import session

        self.path = Path(workdir) / "chdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(self.path))

    def _column_type(self, df: pd.DataFrame, c: str, tags: set[str]) -> str:
        if c in tags:
            return "LowCardinality(String)"
        dt = df[c].dtype
        if isinstance(dt, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dt):
            return "DateTime64(9, 'UTC')"
        if pd.api.types.is_integer_dtype(dt):
            return "Int64"
        if pd.api.types.is_float_dtype(dt):
            return "Float64"
        return "String"

    def _column_def(self, df: pd.DataFrame, c: str, tags: set[str]) -> str:
        """The column's type and, with ``codecs``, its codec from ``CHDB_TSBS_CODECS``."""
        t = self._column_type(df, c, tags)
        kind = {"Int64": "int", "Float64": "float"}.get(
            t, "time" if t.startswith("DateTime") else ""
        )
        return f"{t} {CHDB_TSBS_CODECS[kind]}" if self.codecs and kind else t

    def ingest(self, df: pd.DataFrame) -> None:
        """``CREATE TABLE ... ENGINE = MergeTree``; ``INSERT ... FROM Python(df)``; ``OPTIMIZE``."""
        if self.session is None:
            raise RuntimeError("setup() first")
        tags = set(_tag_columns(df, self.tags))
        cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        if cats:
            df = df.assign(**{c: df[c].astype(object) for c in cats})
        cols = ", ".join(f"`{c}` {self._column_def(df, c, tags)}" for c in df.columns)
        order = ", ".join(f"`{c}`" for c in self.order_by)
        self.session.query(
            f"CREATE TABLE `{self.table}` ({cols}) ENGINE = MergeTree ORDER BY ({order}) "
            "SETTINGS fsync_after_insert = 1, fsync_part_directory = 1"
        )
        names = ", ".join(f"`{c}`" for c in df.columns)
        # Python(df): chDB finds the frame by its variable name in this function's locals.
        self.session.query(f"INSERT INTO `{self.table}` ({names}) SELECT {names} FROM Python(df)")
        if self.optimize:
            self.session.query(f"OPTIMIZE TABLE `{self.table}` FINAL")

    def query(self, sql: str, fmt: str = "DataFrame") -> Any:
        """Run ``sql`` in the session; the result in ``fmt`` (``"DataFrame"``, ``"ArrowTable"``)."""
        if self.session is None:
            raise RuntimeError("setup() first")
        return self.session.query(sql, fmt)

    def bytes_on_disk(self) -> int:
        """Everything under ``<workdir>/chdb`` (parts, metadata, the session's own files)
        except the parts ``OPTIMIZE`` made inactive: ClickHouse removes them only after
        ``old_parts_lifetime`` (8 minutes), and counting them doubled the figure."""
        if self.path is None:
            return 0
        inactive = 0
        if self.session is not None:
            q = f"SELECT path FROM system.parts WHERE table = '{self.table}' AND NOT active"
            for part in self.session.query(q, "DataFrame")["path"]:
                if os.path.isdir(part):
                    inactive += peer_dir_bytes(part)
        return peer_dir_bytes(self.path) - inactive

    def close(self) -> None:
        """Close the session; the folder stays."""
        if self.session is not None:
            self.session.close()
            self.session = None


# ------------------------------------------------------------------------------ registry

#: Peers that are servers (``bench/servers.py``), started once per script run.
SERVER_PEERS: tuple[str, ...] = ("victoriametrics", "influxdb", "clickhouse", "postgres")


def _server_factory(name: str) -> Callable[[], Peer]:
    """A factory of the server peer ``name`` (``servers`` is imported when it is called)."""

    def make() -> Peer:
        import servers

        return servers.make_server_peer(name)

    return make


#: name -> (module that must import, factory).
PEERS: dict[str, tuple[str, Callable[[], Peer]]] = {
    "arcticdb": ("arcticdb", ArcticDBPeer),
    "arcticdb-per-host": ("arcticdb", lambda: ArcticDBPeer(per_host=True)),
    "chdb": ("chdb", ChDBPeer),
    "duckdb": ("duckdb", DuckDBPeer),
    "duckdb-unsorted": ("duckdb", lambda: DuckDBPeer(order_by=None)),
    **{n: ("servers", _server_factory(n)) for n in SERVER_PEERS},
}


def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as e:  # any import failure is a reason to report
        return f"{type(e).__name__}: {e}"
    return None


def missing_peers(names: Sequence[str] | None = None) -> dict[str, str]:
    """``{peer name: reason}`` for every requested peer that cannot run here.

    A server peer is installed here if it is missing (apt-get; pip for psycopg), once per
    process; it is missing only if that fails, with apt's or pip's reason.
    """
    out: dict[str, str] = {}
    for n in names if names is not None else PEERS:
        if n not in PEERS:
            out[n] = f"unknown peer (known: {', '.join(PEERS)})"
            continue
        reason = _import_error(PEERS[n][0])
        if reason is None and n in SERVER_PEERS:
            import servers

            reason = servers.server_missing(n)
        if reason is not None:
            out[n] = reason
    return out


def available_peers(names: Sequence[str] | None = None) -> dict[str, Callable[[], Peer]]:
    """``{peer name: factory}`` for every requested peer whose package imports.

    Callers should also print ``missing_peers(names)`` so a missing peer is never silent.
    """
    requested = list(names) if names is not None else list(PEERS)
    missing = missing_peers(requested)
    return {n: PEERS[n][1] for n in requested if n not in missing}


def make_peer(name: str) -> Peer:
    """Construct the peer called ``name``; raises ``RuntimeError`` with the reason if missing."""
    reason = missing_peers([name]).get(name)
    if reason is not None:
        raise RuntimeError(f"peer {name!r} is not available: {reason}")
    return PEERS[name][1]()
