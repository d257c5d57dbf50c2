"""Server peers: VictoriaMetrics, InfluxDB 1.x, ClickHouse server and PostgreSQL.

Four database servers as peers of tsstore, next to the in-process peers of ``peers.py``. Each
class implements both the ``Peer`` protocol of ``peers.py`` (``setup`` / ``ingest`` /
``bytes_on_disk`` / ``close``, used by ``bench_core.py``) and the query interface of
``bench_queries.py`` (``supports(qt)`` / ``run(qt, w)`` / ``close``), and is registered in
``peers.PEERS`` and ``bench_queries.KNOWN_PEERS`` as ``victoriametrics``, ``influxdb``,
``clickhouse`` and ``postgres``::

    SERVERS=victoriametrics,influxdb,clickhouse,postgres
    python bench/bench_queries.py --quick --peers duckdb,$SERVERS
    python bench/bench_core.py --quick --peers arcticdb,duckdb,$SERVERS

Server peers
------------

Versions (Debian 12 packages, apt): VictoriaMetrics 1.79.5 (``victoria-metrics``, July 2022),
InfluxDB 1.6.7~rc0 (``influxdb influxdb-client``), ClickHouse 18.16.1 (``clickhouse-server
clickhouse-client``, December 2018), PostgreSQL 15.18 (``postgresql-15``; client psycopg 3).
A missing server is installed when a script asks for it (``apt-get update`` once per run, then
``DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ...``; psycopg
with pip); if that fails the peer is reported as not run, with apt's or pip's message.

Processes. Each server starts once per script run, on first use, listening on 127.0.0.1 only
on free ports, with its data under ``<scratch>/servers/<kind>-server``; the script stops exactly
the processes it started at its end (``finally``; also ``atexit``, Ctrl-C and SIGTERM), and the
scratch folder goes with the script's temporary folder. Each peer instance (each round of
``bench_core``) gets a fresh database (``CREATE DATABASE tsbs_<n>``); VictoriaMetrics, which
has no databases, is restarted on a fresh ``-storageDataPath`` instead. Set-up, restarts and
the compaction step are not timed.

Configuration (defaults unless said):

* VictoriaMetrics: ``-retentionPeriod=100y`` (TSBS data are dated 2016; the default of one
  month drops them silently), ``-search.disableCache`` (no rollup-result cache between timed
  repetitions), ``-loggerLevel=ERROR``.
* InfluxDB: the package's ``/etc/influxdb/influxdb.conf`` with environment overrides: loopback
  bind addresses, meta/data/wal folders, reporting off, HTTP and query logs off, the
  ``_internal`` monitor database off (default on), ``cache-snapshot-write-cold-duration=1s``
  and ``compact-full-write-cold-duration=2s`` (defaults 10 min and 4 h: *below the default*;
  they act only once writes stop, so that the compaction step reaches the fully compacted
  state of a loaded shard in seconds instead of hours). Index ``inmem`` (default), WAL fsync
  on every write (default ``wal-fsync-delay=0``).
* ClickHouse: the package's ``config.xml`` rewritten (``listen_host`` 127.0.0.1, free HTTP/TCP
  ports, no interserver/HTTPS port, all paths under the server folder, ``timezone`` UTC, the
  system log tables off) plus MergeTree housekeeping ``old_parts_lifetime=1``,
  ``cleanup_delay_period=1`` (defaults 480 s and 30 s, *below the default*: parts made obsolete
  by a merge leave the disk before the size is counted); ``users.xml`` limited to 127.0.0.1.
* PostgreSQL: a private cluster (``initdb --auth=trust -E UTF8``) run as user ``postgres``;
  ``shared_buffers=1GB`` (default 128MB), ``maintenance_work_mem=1GB`` (64MB),
  ``max_wal_size=4GB`` (1GB), ``wal_level=minimal`` with ``max_wal_senders=0`` (default replica
  / 10: *below the default*, the manual's bulk-load advice), ``TimeZone=UTC``; fsync,
  synchronous_commit and jit at their defaults (on).

Bulk load (``ingest(df)``, timed end to end from the DataFrame, client-side serialisation
included and also reported alone; durable when it returns):

* VictoriaMetrics: ``/api/v1/import`` JSON lines, one line per series (a host's tags and one
  field, named ``cpu_<field>`` as its Influx endpoint names them) with its values and
  millisecond timestamps, ~1M samples per request on two connections; then
  ``/internal/force_flush`` (makes the rows searchable; 1.79 keeps fresh parts in memory for
  up to ~10 s), ``/snapshot/create`` (writes every in-memory part to disk; the snapshot, hard
  links only, is deleted at once), a check that the parts on disk hold every row, and an fsync
  of every file of the storage folder.
* InfluxDB: line protocol to ``/write`` in batches of 10,000 lines (TSBS's batch size) in time
  order, on two connections, tags sorted by key (the docs' advice), integer fields as ``58i``,
  ``precision`` the coarsest that is exact (``s`` for TSBS). Each request returns after its WAL
  fsync.
* ClickHouse: ``CREATE TABLE cpu (time DateTime, <tags> String, <fields> Int64|Float64)
  ENGINE = MergeTree PARTITION BY toDate(time) ORDER BY (hostname, time)`` and one streamed
  HTTP ``INSERT INTO cpu FORMAT Native`` (column blocks of 100,000 rows). 18.16 has no
  ``DateTime64`` (whole seconds only: the ``jitter`` variant cannot be stored, and is reported
  so), no column codecs and only an experimental ``LowCardinality``: none are used; default
  LZ4. 18.16 does not fsync inserted parts, so the peer fsyncs the table's files itself.
* PostgreSQL: one transaction ``CREATE TABLE cpu (time timestamptz, <tags> text, <fields>
  double precision)``, ``COPY cpu FROM STDIN (FORMAT binary, FREEZE)`` with rows in
  (hostname, time) order, ``CREATE INDEX ON cpu (hostname, time DESC)`` and ``(time DESC)``
  (TSBS's indexes, built after the load), ``COMMIT`` (with ``wal_level=minimal`` the new files
  are fsynced at commit), then ``VACUUM ANALYZE``. A wide table with the tags in it, like the
  other peers (TSBS's default normalises them into a ``tags`` table).

Sizes (``bytes_on_disk``): after a compaction step, every file of the peer's data, each file
counted at ``min(apparent size, allocated blocks)`` (InfluxDB pre-allocates its series-file
segments as sparse 4 MiB files: 32 MiB apparent, ~0.1 MiB used). VictoriaMetrics:
``/internal/force_merge`` until no merge is active, then the whole storage folder. InfluxDB:
wait until each shard's cache is snapshotted, the WAL empty, no compaction active
(``/debug/vars``) and the shard down to one TSM file (or unchanged for 10 s), then
``data/<db>`` + ``wal/<db>``. ClickHouse: ``OPTIMIZE TABLE cpu PARTITION ID '<p>' FINAL`` per
partition, wait until outdated parts are deleted, then the database's data and metadata
folders. PostgreSQL: ``CHECKPOINT``, then ``base/<database oid>``: table, indexes, visibility
and free-space maps and the ~7.7 MB of system catalogs every database carries
(``pg_total_relation_size('cpu')`` is recorded too).

Queries (``run(qt, w)``), each timed from the request to the DataFrame, in the system's own
language as TSBS's query generators write them (``cmd/tsbs_generate_queries/databases/...``),
answering the very windows the other systems answer, and checked against DuckDB:

* InfluxQL over ``GET /query`` (``epoch=ns``, JSON): ``SELECT max(usage_user) AS
  max_usage_user ... WHERE (hostname = 'a' or hostname = 'b') and time >= '<RFC3339>' and time
  < '...' GROUP BY time(1m)``, ``mean(...) ... GROUP BY time(1h), hostname``, ``SELECT * ...
  WHERE usage_user > 90.0``, ``SELECT * FROM cpu GROUP BY "hostname" ORDER BY time DESC LIMIT
  1``; with ``fill(none)`` (no empty buckets, as SQL), ``GROUP BY time(1h)`` for cpu-max-all
  (TSBS's generator says ``1m`` there, against its own description) and ``ORDER BY time DESC
  LIMIT 5`` for groupby-orderby-limit (TSBS's ``limit 5`` alone returns the oldest minutes).
* ClickHouse SQL over HTTP POST, ``FORMAT TabSeparatedWithNamesAndTypes`` parsed by pandas:
  ``toStartOfMinute(time)`` / ``toStartOfHour(time)``, ``PREWHERE`` for high-cpu (TSBS), hosts
  as ``hostname IN (...)`` as for the other SQL systems; the time bounds as
  ``toDateTime(<unix seconds, rounded up>)``, exact for a whole-second column; lastpoint as
  ``WHERE (hostname, time) IN (SELECT hostname, max(time) FROM cpu GROUP BY hostname)`` (TSBS's
  ClickHouse ``SELECT DISTINCT(hostname), *`` returns every row; argMax and an INNER JOIN
  were slower in 18.16).
* PostgreSQL SQL through psycopg 3 (binary results, ``fetchall`` into a DataFrame, no
  prepared statements): TSBS's TimescaleDB queries (``date_trunc``, ``SELECT DISTINCT ON
  (hostname) * FROM cpu ORDER BY hostname, time DESC`` for lastpoint), hosts as ``IN``.
* MetricsQL over ``GET /api/v1/query_range`` (JSON, ``nocache=1``) as TSBS writes it for
  VictoriaMetrics: ``max(max_over_time(<sel>[1m])) by (__name__)`` (hosts as
  ``hostname=~"a|b"``, metrics as ``__name__=~"cpu_(m1|m2)"``), ``avg(avg_over_time(<sel>[1h]))
  by (__name__, hostname)``, step = the bucket width. A rollup at time ``t`` covers samples in
  ``(t - window, t]``; evaluating at each bucket's end minus 1 ms (timestamps are ms) makes each
  point exactly one calendar bucket ``[b, b + width)``, and the first and last bucket, cut by
  the query's window, are answered by instant queries (``/api/v1/query``) with their lookbehind
  clipped to the window: one range query and up to two instant queries per TSBS query, all
  timed. TSBS instead evaluates at ``start + k * step``, whose buckets are not calendar buckets.

Not supported (reported as not run, with the reason; as in TSBS's generator, which panics
for these types in PromQL):

* VictoriaMetrics ``high-cpu-1``, ``high-cpu-all``: PromQL returns aggregated series, not the
  raw rows filtered on a field value.
* VictoriaMetrics ``lastpoint``: no "latest row per host with all its fields" without a
  lookbehind bound.
* VictoriaMetrics ``groupby-orderby-limit``: PromQL cannot order buckets and keep the newest
  five that hold data.
* ClickHouse 18.16 on the ``jitter`` variant (sub-second times) in ``bench_core``'s bytes
  phase: ``DateTime`` holds whole seconds.

Reading the figures: the servers answer over a socket (HTTP/JSON, TSV or the PostgreSQL
protocol) and the client parses the answer into a DataFrame, which in-process peers
(DuckDB, chDB, tsstore) do not pay: the smallest queries take 2-4 ms end to end, and a result
of ~35,000 full rows (high-cpu-all at scale 100) costs tens to hundreds of ms to decode. The
servers share the machine's two cores with the Python client. Ingest rates include the
client's serialisation of the frame into the wire format (also reported alone), which TSBS's
loaders do ahead of time.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import http.client
import importlib
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from peers import DEFAULT_TAGS, _tag_columns

__all__ = [
    "POOL",
    "SERVER_PEERS",
    "ClickHousePeer",
    "InfluxDBPeer",
    "PostgresPeer",
    "ServerPool",
    "VictoriaMetricsPeer",
    "make_server_peer",
    "running",
    "server_missing",
    "stop_all",
]

#: Measurement / table name the peers write (TSBS ``cpu-only``).
MEASUREMENT = "cpu"
#: Seconds a server may take to become ready.
START_TIMEOUT_S = 90.0
#: Seconds a compaction step may take before it is reported as failed.
COMPACT_TIMEOUT_S = 300.0


# ------------------------------------------------------------------------- query typing


class QueryLike(Protocol):
    """The parts of ``bench_queries.QueryType`` the peers read."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def n_hosts(self) -> int: ...

    @property
    def metrics(self) -> tuple[str, ...]: ...


class WindowLike(Protocol):
    """The parts of ``bench_queries.Window`` the peers read."""

    @property
    def start(self) -> pd.Timestamp | None: ...

    @property
    def end(self) -> pd.Timestamp | None: ...

    @property
    def hosts(self) -> tuple[str, ...]: ...


# ---------------------------------------------------------------------------- install


_APT_LOCK = threading.Lock()
_APT_STATE: dict[str, Any] = {"updated": False, "update_error": None}
_CHECKED: dict[str, str | None] = {}


def _tail(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def _find_binary(name: str) -> str | None:
    """Path of an executable called ``name`` (``PATH``, ``/usr/sbin``, PostgreSQL's bin)."""
    if name in ("postgres", "initdb"):  # Debian's layout; 15 first, then the newest
        cands = [f"/usr/lib/postgresql/15/bin/{name}"]
        cands += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
        for cand in cands:
            if os.access(cand, os.X_OK):
                return cand
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def apt_install(packages: Sequence[str]) -> str | None:
    """``apt-get update`` (once per process) and ``apt-get install`` ``packages``.

    Returns:
        None on success, else the reason (not root, no apt-get, the tail of apt's output).
    """
    if os.geteuid() != 0:
        return f"not root: cannot apt-get install {' '.join(packages)}"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _APT_LOCK:
        if not _APT_STATE["updated"]:
            r = subprocess.run(
                ["apt-get", "update"], capture_output=True, text=True, env=env, timeout=900
            )
            _APT_STATE["updated"] = True
            if r.returncode != 0:
                _APT_STATE["update_error"] = f"apt-get update failed: {_tail(r.stderr)}"
        r = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
    if r.returncode != 0:
        why = f"apt-get install {' '.join(packages)} failed (exit {r.returncode}): "
        why += _tail(r.stderr or r.stdout)
        if _APT_STATE["update_error"]:
            why += f"; {_APT_STATE['update_error']}"
        return why
    return None


def ensure_binaries(binaries: Sequence[str], packages: Sequence[str]) -> str | None:
    """None when every binary is found, installing ``packages`` first if needed; else why not."""
    missing = [b for b in binaries if _find_binary(b) is None]
    if not missing:
        return None
    reason = apt_install(packages)
    if reason is not None:
        return f"{', '.join(missing)} not installed; {reason}"
    still = [b for b in binaries if _find_binary(b) is None]
    if still:
        return f"installed {' '.join(packages)} but {', '.join(still)} still not found"
    return None


def ensure_psycopg() -> str | None:
    """None when ``psycopg`` imports, installing ``psycopg[binary]`` with pip if needed."""
    try:
        importlib.import_module("psycopg")
        return None
    except ImportError:
        pass
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "psycopg[binary]"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if r.returncode != 0:
        return f"pip install psycopg[binary] failed: {_tail(r.stderr or r.stdout)}"
    importlib.invalidate_caches()
    try:
        importlib.import_module("psycopg")
    except ImportError as e:
        return f"psycopg installed but does not import: {e}"
    return None


def _package_version(package: str) -> str | None:
    """The installed Debian package version (``dpkg-query``), None if unknown."""
    try:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Process:
    """One server process this module started: its own session, output to a log file.

    ``stop()`` signals exactly that process id (never a name or a group), waits, and kills it
    only if it has not exited after ``grace_s``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.argv = list(argv)
        self.log = log
        self.stop_signal = stop_signal
        log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(log, "ab")  # noqa: SIM115 - kept open for the process's lifetime
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=env,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop it in order
        )

    @property
    def pid(self) -> int:
        """Process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def log_tail(self, n: int = 8) -> str:
        """The last lines of its log."""
        try:
            return _tail(self.log.read_text(errors="replace"), n)
        except OSError:
            return ""

    def stop(self, grace_s: float = 60.0) -> None:
        """Signal the process, wait up to ``grace_s``, then kill it."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(30)
        self._fh.close()


def _wait_until(
    ready: Callable[[], bool], proc: _Process, what: str, timeout: float = START_TIMEOUT_S
) -> None:
    """Poll ``ready()`` until true; raise with the log's tail if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{what} exited with {proc.popen.returncode}: {proc.log_tail()}")
        try:
            if ready():
                return
        except (OSError, http.client.HTTPException):
            pass
        except Exception as e:  # e.g. psycopg.OperationalError while starting
            if "psycopg" not in type(e).__module__:
                raise
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s: {proc.log_tail()}")


def _fsync_tree(path: Path) -> int:
    """fsync every regular file and folder under ``path`` (what a durable write needs)."""
    n = 0
    for root, dirs, files in os.walk(path):
        for name in files:
            fp = os.path.join(root, name)
            if os.path.islink(fp):
                continue
            try:
                fd = os.open(fp, os.O_RDONLY)
            except FileNotFoundError:  # removed by the server meanwhile (e.g. a merged part)
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            n += 1
        for name in [*dirs, "."]:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return n


def tree_sizes(paths: Iterable[Path]) -> dict[str, int]:
    """Sizes of every regular file under ``paths``: apparent, allocated, and the counted size.

    ``bytes`` counts each file at ``min(apparent, allocated)``: a sparse file (e.g. InfluxDB's
    pre-allocated, memory-mapped series-file segments) counts what it occupies on disk, any
    other file its length.
    """
    apparent = allocated = counted = files = 0
    for p in paths:
        if not p.exists():
            continue
        walker = [(str(p.parent), [], [p.name])] if p.is_file() else os.walk(p)
        for root, _dirs, names in walker:
            for name in names:
                fp = os.path.join(root, name)
                try:
                    st = os.lstat(fp)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                alloc = st.st_blocks * 512
                apparent += st.st_size
                allocated += alloc
                counted += min(st.st_size, alloc)
                files += 1
    return {"bytes": counted, "apparent": apparent, "allocated": allocated, "files": files}


class _Http:
    """A keep-alive HTTP/1.1 connection to one server on 127.0.0.1 (``http.client``)."""

    def __init__(self, port: int, timeout: float = 3600.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        *,
        ok: Sequence[int] = (200, 204),
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; return (status, headers, body). Raises on a status not in ``ok``.

        A request whose body is bytes (or none) is retried once on a dropped keep-alive
        connection; a streamed body is not.
        """
        hdrs = dict(headers or {})
        chunked = body is not None and not isinstance(body, bytes | bytearray)
        for attempt in (0, 1):
            conn = self._connect()
            try:
                conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt or chunked:
                    raise
                continue
            if resp.status not in ok:
                raise RuntimeError(
                    f"HTTP {resp.status} from 127.0.0.1:{self.port}{path[:200]}: "
                    f"{data[:2000].decode(errors='replace')}"
                )
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _grant_traverse(path: Path) -> list[tuple[Path, int]]:
    """Add search permission for others on ``path``'s ancestors that lack it.

    The PostgreSQL server runs as user ``postgres`` and must reach its folder under a scratch
    folder that ``tempfile.mkdtemp`` made 0700. Returns what was changed, to restore later.
    """
    changed = []
    for anc in [*reversed(path.parents)]:
        try:
            mode = anc.stat().st_mode
        except OSError:
            continue
        if not mode & stat.S_IXOTH:
            os.chmod(anc, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((anc, stat.S_IMODE(mode)))
    return changed


# ---------------------------------------------------------------------------- servers


class _Server:
    """A server process with its data under ``folder``; subclasses know how to run it."""

    kind: ClassVar[str] = ""
    packages: ClassVar[tuple[str, ...]] = ()
    binaries: ClassVar[tuple[str, ...]] = ()

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.proc: _Process | None = None
        self.version = "?"
        self.port = 0
        self.namespaces = 0
        self.to_drop: list[str] = []

    @classmethod
    def check(cls) -> str | None:
        """None when the server can run here (installing it if needed), else why not."""
        return ensure_binaries(cls.binaries, cls.packages)

    def start(self) -> None:
        """Start the process and wait until it answers."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the process this object started."""
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def new_namespace(self) -> str:
        """A fresh database name (dropping those of closed peers first)."""
        for name in self.to_drop:
            with contextlib.suppress(Exception):
                self.drop_namespace(name)
        self.to_drop.clear()
        self.namespaces += 1
        return f"tsbs_{self.namespaces}"

    def drop_namespace(self, name: str) -> None:
        """Drop the database ``name`` (its files go)."""
        raise NotImplementedError


class VictoriaMetricsServer(_Server):
    """``victoria-metrics`` single node: ``-storageDataPath`` in the folder, loopback port.

    Flags: ``-retentionPeriod=100y`` (TSBS data are dated 2016; the default 1 month drops them
    silently) and ``-search.disableCache`` (no rollup result cache across repetitions). The
    single-node server has one storage and no databases: a fresh peer restarts it on a fresh
    storage folder (:meth:`reset`).
    """

    kind = "victoriametrics"
    packages = ("victoria-metrics",)
    binaries = ("victoria-metrics",)

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.storage: Path | None = None
        self.used = False
        self.http: _Http | None = None

    def start(self) -> None:
        """Start on a fresh storage folder."""
        self.namespaces += 1
        self.storage = self.folder / f"storage-{self.namespaces}"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        exe = _find_binary("victoria-metrics") or "victoria-metrics"
        self.proc = _Process(
            [
                exe,
                f"-storageDataPath={self.storage}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.disableCache",
                "-loggerLevel=ERROR",
            ],
            self.folder / f"vm-{self.namespaces}.log",
            stop_signal=signal.SIGINT,
        )
        self.http = _Http(self.port)
        http_ = self.http
        _wait_until(
            lambda: http_.request("GET", "/health")[2].strip() == b"OK",
            self.proc,
            "VictoriaMetrics",
        )
        self.version = _package_version("victoria-metrics") or "?"
        self.used = False

    def stop(self) -> None:
        """Stop the process (SIGINT: VictoriaMetrics flushes and exits)."""
        if self.http is not None:
            self.http.close()
        super().stop()

    def reset(self) -> None:
        """Restart on a fresh storage folder; the old one (this server's own) is removed."""
        old = self.storage
        self.stop()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.start()


class InfluxDBServer(_Server):
    """``influxd`` 1.x with the package's ``/etc/influxdb/influxdb.conf`` and env overrides.

    Overrides: loopback addresses on free ports, meta/data/wal folders in the server folder,
    reporting (phone home), HTTP and query logs and the ``_internal`` monitor database off, and
    ``cache-snapshot-write-cold-duration=1s`` / ``compact-full-write-cold-duration=2s`` (defaults
    10 min / 4 h) so that a shard that stops receiving writes is snapshotted and fully compacted
    within seconds: the documented end state of a loaded shard, reached without waiting hours.
    They do not act while writes arrive.
    """

    kind = "influxdb"
    packages = ("influxdb", "influxdb-client")
    binaries = ("influxd",)

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.http: _Http | None = None

    def start(self) -> None:
        """Start and wait for ``/ping``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        rpc = free_port()
        conf = "/etc/influxdb/influxdb.conf"
        env = {
            **os.environ,
            "INFLUXDB_REPORTING_DISABLED": "true",
            "INFLUXDB_BIND_ADDRESS": f"127.0.0.1:{rpc}",
            "INFLUXDB_HTTP_BIND_ADDRESS": f"127.0.0.1:{self.port}",
            "INFLUXDB_META_DIR": str(self.folder / "meta"),
            "INFLUXDB_DATA_DIR": str(self.folder / "data"),
            "INFLUXDB_DATA_WAL_DIR": str(self.folder / "wal"),
            "INFLUXDB_HTTP_LOG_ENABLED": "false",
            "INFLUXDB_DATA_QUERY_LOG_ENABLED": "false",
            "INFLUXDB_MONITOR_STORE_ENABLED": "false",
            "INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION": "1s",
            "INFLUXDB_DATA_COMPACT_FULL_WRITE_COLD_DURATION": "2s",
        }
        argv = [_find_binary("influxd") or "influxd", "run"]
        if os.path.exists(conf):
            argv += ["-config", conf]
        self.proc = _Process(argv, self.folder / "influxd.log", env=env)
        self.http = _Http(self.port)
        http_ = self.http
        _wait_until(lambda: http_.request("GET", "/ping")[0] == 204, self.proc, "influxd")
        _st, hdrs, _ = self.http.request("GET", "/ping")
        self.version = hdrs.get("x-influxdb-version", "?")

    def stop(self) -> None:
        """Stop the process."""
        if self.http is not None:
            self.http.close()
        super().stop()

    def query(self, q: str, db: str | None = None, *, post: bool = False) -> dict[str, Any]:
        """Run InfluxQL; the decoded JSON (``epoch=ns`` times). Raises on an error result."""
        if self.http is None:
            raise RuntimeError("influxd not started")
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        enc = urllib.parse.urlencode(params)
        if post:
            _, _, body = self.http.request(
                "POST",
                "/query",
                enc.encode(),
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            _, _, body = self.http.request("GET", "/query?" + enc)
        doc = json.loads(body)
        for r in doc.get("results", []):
            if "error" in r:
                raise RuntimeError(f"InfluxQL error: {r['error']} in {q[:300]}")
        return doc

    def new_namespace(self) -> str:
        """``CREATE DATABASE tsbs_<n>``."""
        name = super().new_namespace()
        self.query(f'CREATE DATABASE "{name}"', post=True)
        return name

    def drop_namespace(self, name: str) -> None:
        """``DROP DATABASE``."""
        self.query(f'DROP DATABASE "{name}"', post=True)


class ClickHouseServer(_Server):
    """``clickhouse-server`` with the package's config rewritten (paths, ports, time zone).

    Rewritten from ``/etc/clickhouse-server/config.xml``: ``listen_host`` 127.0.0.1 only, a free
    HTTP and TCP port, no interserver/HTTPS ports, every path under the server folder,
    ``timezone`` UTC, the system log tables off, and the MergeTree housekeeping settings
    ``old_parts_lifetime=1`` and ``cleanup_delay_period=1`` (defaults 480 s and 30 s), so that
    parts made obsolete by a merge leave the disk before ``bytes_on_disk`` counts. ``users.xml``
    is the package's, with the default user's networks limited to 127.0.0.1.
    """

    kind = "clickhouse"
    packages = ("clickhouse-server", "clickhouse-client")
    binaries = ("clickhouse-server",)

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.http: _Http | None = None

    def _write_config(self) -> Path:
        d = self.folder
        cfg_src = Path("/etc/clickhouse-server/config.xml")
        root = ET.parse(cfg_src).getroot() if cfg_src.exists() else ET.Element("yandex")
        drop = (
            "tcp_port",
            "https_port",
            "tcp_port_secure",
            "interserver_http_port",
            "listen_host",
            "remote_servers",
            "zookeeper",
            "macros",
            "include_from",
            "graphite",
            "query_log",
            "query_thread_log",
            "part_log",
            "trace_log",
            "text_log",
            "merge_tree",
            "distributed_ddl",
        )
        for tag in drop:
            for e in root.findall(tag):
                root.remove(e)

        def put(tag: str, value: str, parent: ET.Element = root) -> None:
            e = parent.find(tag)
            if e is None:
                e = ET.SubElement(parent, tag)
            e.text = value

        put("http_port", str(self.port))
        put("tcp_port", str(free_port()))
        put("listen_host", "127.0.0.1")
        put("path", f"{d}/data/")
        put("tmp_path", f"{d}/tmp/")
        put("user_files_path", f"{d}/user_files/")
        put("format_schema_path", f"{d}/format_schemas/")
        put("users_config", f"{d}/users.xml")
        put("timezone", "UTC")
        logger = root.find("logger")
        if logger is None:
            logger = ET.SubElement(root, "logger")
        put("level", "warning", logger)
        put("log", f"{d}/log/server.log", logger)
        put("errorlog", f"{d}/log/server.err.log", logger)
        mt = ET.SubElement(root, "merge_tree")
        put("old_parts_lifetime", "1", mt)
        put("cleanup_delay_period", "1", mt)
        put("cleanup_delay_period_random_add", "0", mt)
        cfg = d / "config.xml"
        ET.ElementTree(root).write(cfg)
        users_src = Path("/etc/clickhouse-server/users.xml")
        if users_src.exists():
            users = ET.parse(users_src)
            for nets in users.getroot().iter("networks"):
                for c in list(nets):
                    nets.remove(c)
                nets.attrib.pop("incl", None)
                ET.SubElement(nets, "ip").text = "127.0.0.1"
            users.write(d / "users.xml")
        else:
            (d / "users.xml").write_text(
                "<yandex><profiles><default/></profiles><users><default><password/>"
                "<networks><ip>127.0.0.1</ip></networks><profile>default</profile>"
                "<quota>default</quota></default></users><quotas><default/></quotas></yandex>"
            )
        return cfg

    def start(self) -> None:
        """Start and wait for ``/ping``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cfg = self._write_config()
        exe = _find_binary("clickhouse-server") or "clickhouse-server"
        self.proc = _Process([exe, f"--config-file={cfg}"], self.folder / "stdout.log")
        self.http = _Http(self.port)
        http_ = self.http
        _wait_until(
            lambda: http_.request("GET", "/ping")[2].strip() == b"Ok.", self.proc, "clickhouse"
        )
        self.version = self.sql("SELECT version()").decode().strip()

    def stop(self) -> None:
        """Stop the process."""
        if self.http is not None:
            self.http.close()
        super().stop()

    def sql(
        self,
        q: str,
        db: str | None = None,
        body: bytes | Iterable[bytes] | None = None,
        http_: _Http | None = None,
    ) -> bytes:
        """Run one statement over HTTP; its output. With ``body``, the statement is in the URL
        and the body streams the data (an ``INSERT ... FORMAT``)."""
        h = http_ or self.http
        if h is None:
            raise RuntimeError("clickhouse not started")
        params: dict[str, str] = {}
        if db:
            params["database"] = db
        if body is None:
            path = "/?" + urllib.parse.urlencode(params) if params else "/"
            return h.request("POST", path, q.encode())[2]
        params["query"] = q
        return h.request("POST", "/?" + urllib.parse.urlencode(params), body)[2]

    def new_namespace(self) -> str:
        """``CREATE DATABASE tsbs_<n>``."""
        name = super().new_namespace()
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_namespace(self, name: str) -> None:
        """``DROP DATABASE``."""
        self.sql(f"DROP DATABASE IF EXISTS {name}")


class PostgresServer(_Server):
    """PostgreSQL (Debian's ``postgresql-15``): a private cluster, ``initdb`` + ``postgres``.

    Run as user ``postgres`` (when we are root) on 127.0.0.1 and a private Unix socket folder.
    Settings (``-c``), per the manual's "Populating a Database": ``shared_buffers=1GB`` (default
    128MB), ``maintenance_work_mem=1GB`` (64MB; index builds), ``max_wal_size=4GB`` (1GB),
    ``wal_level=minimal`` + ``max_wal_senders=0`` (default replica: with minimal, a table
    created and loaded in one transaction skips the WAL and is fsynced at commit). Everything
    else is the default (fsync on, synchronous_commit on, jit on).
    """

    kind = "postgres"
    packages = ("postgresql-15",)
    binaries = ("postgres", "initdb")

    SETTINGS: ClassVar[dict[str, str]] = {
        "shared_buffers": "1GB",
        "maintenance_work_mem": "1GB",
        "max_wal_size": "4GB",
        "wal_level": "minimal",
        "max_wal_senders": "0",
        "TimeZone": "UTC",
    }

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.datadir = folder / "data"
        self.sockdir = folder / "sock"
        self.user: str | None = None
        self.restore_modes: list[tuple[Path, int]] = []
        self.admin: Any = None

    @classmethod
    def check(cls) -> str | None:
        """Binaries (apt ``postgresql-15`` if missing) and psycopg (pip if missing)."""
        return super().check() or ensure_psycopg()

    def start(self) -> None:
        """``initdb`` (trust auth, UTF8) and start ``postgres``; wait for a connection."""
        import psycopg

        self.folder.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            self.user = "postgres"
            self.restore_modes = _grant_traverse(self.folder)
            for p in (self.folder, self.sockdir):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        initdb = _find_binary("initdb") or "initdb"
        r = subprocess.run(
            [initdb, "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            text=True,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
            timeout=300,
        )
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {_tail(r.stderr or r.stdout)}")
        self.port = free_port()
        argv = [
            _find_binary("postgres") or "postgres",
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.sockdir}",
        ]
        for k, v in self.SETTINGS.items():
            argv += ["-c", f"{k}={v}"]
        self.proc = _Process(
            argv, self.folder / "postgres.log", user=self.user, stop_signal=signal.SIGINT
        )

        def ready() -> bool:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2) as c:
                c.execute("SELECT 1")
            return True

        _wait_until(ready, self.proc, "postgres")
        self.admin = psycopg.connect(self.dsn("postgres"), autocommit=True)
        self.version = str(self.admin.execute("SHOW server_version").fetchone()[0])

    def dsn(self, db: str) -> str:
        """libpq connection string to ``db``."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster); restore the folder modes we changed."""
        if self.admin is not None:
            with contextlib.suppress(Exception):
                self.admin.close()
            self.admin = None
        super().stop()
        for p, mode in reversed(self.restore_modes):
            with contextlib.suppress(OSError):
                os.chmod(p, mode)
        self.restore_modes = []

    def new_namespace(self) -> str:
        """``CREATE DATABASE tsbs_<n>``."""
        name = super().new_namespace()
        self.admin.execute(f"CREATE DATABASE {name}")
        return name

    def drop_namespace(self, name: str) -> None:
        """``DROP DATABASE``."""
        self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


SERVER_CLASSES: dict[str, type[_Server]] = {
    c.kind: c for c in (VictoriaMetricsServer, InfluxDBServer, ClickHouseServer, PostgresServer)
}


class ServerPool:
    """The servers of one script run: each started once, on first use, and stopped at the end.

    The data of each server live in ``<root>/<kind>-server``; ``root`` is set by the script
    (``set_root`` or ``running``) or else is the ``workdir`` of the first peer's ``setup``.
    ``stop_all`` runs at interpreter exit too (``atexit``), and a SIGTERM is turned into a
    normal exit so that it runs then as well.
    """

    def __init__(self) -> None:
        self.root: Path | None = None
        self.servers: dict[str, _Server] = {}
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def set_root(self, root: Path | None) -> None:
        """Where server folders go from now on."""
        self.root = Path(root) if root is not None else None

    def get(self, kind: str, workdir: Path) -> _Server:
        """The running server of ``kind``, started now if needed (raises with the reason)."""
        with self._lock:
            srv = self.servers.get(kind)
            if srv is not None and srv.proc is not None and srv.proc.alive():
                return srv
            if kind in self.failed:
                raise RuntimeError(self.failed[kind])
            reason = server_missing(kind)
            if reason is not None:
                raise RuntimeError(reason)
            _install_sigterm_handler()
            root = self.root if self.root is not None else Path(workdir)
            srv = SERVER_CLASSES[kind](root / f"{kind}-server")
            self.servers[kind] = srv
            try:
                srv.start()
            except Exception as e:
                srv.stop()
                self.failed[kind] = f"{kind} did not start: {e}"
                raise
            return srv

    def stop_all(self) -> None:
        """Stop every server this pool started (their folders stay for the caller to delete)."""
        with self._lock:
            for srv in self.servers.values():
                with contextlib.suppress(Exception):
                    srv.stop()
            self.servers.clear()


#: The pool the peers use by default.
POOL = ServerPool()
atexit.register(POOL.stop_all)


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def _exit(signum: int, _frame: Any) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _exit)


def stop_all() -> None:
    """Stop every server of the default pool."""
    POOL.stop_all()


@contextlib.contextmanager
def running(root: Path | None) -> Iterator[ServerPool]:
    """``with running(scratch):`` servers started inside go under ``scratch`` and stop at exit."""
    POOL.set_root(root)
    try:
        yield POOL
    finally:
        POOL.stop_all()


def server_missing(kind: str) -> str | None:
    """None when the server ``kind`` can run here (installed now if it was not), else why not.

    Checked once per process.
    """
    if kind not in _CHECKED:
        cls = SERVER_CLASSES.get(kind)
        if cls is None:
            return f"unknown server {kind!r}"
        _CHECKED[kind] = cls.check()
    return _CHECKED[kind]


# ------------------------------------------------------------------------- frame helpers


def _series(df: pd.DataFrame, tags: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The series of ``df`` (distinct tag combinations) and how rows map to them.

    Returns:
        ``(series, ids, order)``: one row per series with its tag values (in order of first
        appearance), the series number of every row, and the row order by (series, time).
    """
    n = len(df)
    if not tags:
        ids = np.zeros(n, dtype=np.int64)
    else:
        ids = pd.factorize(df[tags[0]], sort=False)[0].astype(np.int64)
        for t in tags[1:]:
            codes = pd.factorize(df[t], sort=False)[0].astype(np.int64)
            ids = pd.factorize(ids * (int(codes.max(initial=0)) + 1) + codes, sort=False)[0]
            ids = ids.astype(np.int64)
    _, first = np.unique(ids, return_index=True)
    series = df.iloc[first][list(tags)].reset_index(drop=True)
    t_ns = _time_ns(df)
    order = np.lexsort((t_ns, ids))
    return series, ids, order


def _time_ns(df: pd.DataFrame) -> np.ndarray:
    """The ``time`` column as int64 ns since the epoch (UTC)."""
    idx = pd.DatetimeIndex(df["time"])
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.as_unit("ns").asi8


def _fields(df: pd.DataFrame, tags: Sequence[str]) -> list[str]:
    return [c for c in df.columns if c != "time" and c not in tags]


def _utc(ns: np.ndarray | Sequence[int], unit: str = "ns") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ns, dtype=np.int64), unit=unit, utc=True))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _label(qt: QueryLike) -> tuple[str, int]:
    """The bucket column and its width in seconds for a bucketed query type."""
    if qt.kind in ("single-groupby", "orderby-limit"):
        return "minute", 60
    return "hour", 3600


# ------------------------------------------------------------------------------- peers


class _ServerPeer:
    """What the four server peers share: the ``Peer`` protocol of ``peers.py`` and the query
    interface of ``bench_queries.py`` (``supports``, ``run``, ``close``).

    Life cycle: ``setup(workdir)`` gets the pool's running server (starting it on first use)
    and a fresh database; ``ingest(df)`` loads the frame by the system's bulk-load best
    practice and returns when it is durable; ``compact()`` is the documented flush/compaction
    step (idempotent), run by ``bytes_on_disk()`` before it counts and by the query benchmark
    before it queries; ``close()`` releases the connection; the database stays (inspection,
    ``bytes_on_disk`` after close) until the next peer of the same server is set up.
    """

    kind: ClassVar[str] = ""
    UNSUPPORTED: ClassVar[dict[str, str]] = {}

    def __init__(self, *, pool: ServerPool | None = None, tags: Sequence[str] = DEFAULT_TAGS):
        self.pool = pool or POOL
        self.name = self.kind
        self.version = "?"
        self.mode = ""
        self.tags_hint = tuple(tags)
        self.server: Any = None
        self.db = ""
        self.tags: list[str] = []
        self.fields: list[str] = []
        self.columns: list[str] = []
        self.field_dtypes: dict[str, np.dtype] = {}
        self.rows = 0
        self.compacted = False
        self.closed = False
        self.last_ingest: dict[str, Any] = {}
        self.last_size: dict[str, Any] = {}

    # -- Peer protocol

    def setup(self, workdir: Path) -> None:
        """Get the running server (start it on first use) and a fresh database."""
        self.server = self.pool.get(self.kind, Path(workdir))
        self.version = self.server.version
        self._open()

    def _open(self) -> None:
        self.db = self.server.new_namespace()

    def _remember(self, df: pd.DataFrame) -> None:
        self.tags = _tag_columns(df, self.tags_hint)
        self.fields = _fields(df, self.tags)
        self.columns = list(df.columns)
        self.field_dtypes = {f: df[f].dtype for f in self.fields}
        self.rows += len(df)
        self.compacted = False

    def ingest(self, df: pd.DataFrame) -> None:
        """Write the whole frame durably."""
        raise NotImplementedError

    def compact(self) -> None:
        """The flush/compaction step before sizes are counted or queries run."""
        self.compacted = True

    def data_paths(self) -> list[Path]:
        """Every folder/file that holds this peer's data."""
        raise NotImplementedError

    def bytes_on_disk(self) -> int:
        """Every file of this peer's data, after :meth:`compact` (see ``tree_sizes``)."""
        if not self.compacted and not self.closed and self.server is not None:
            self.compact()
        self.last_size = tree_sizes(self.data_paths())
        return int(self.last_size["bytes"])

    def close(self) -> None:
        """Release connections; the database is dropped when the next peer is set up."""
        if self.server is not None and self.db and not self.closed:
            self.server.to_drop.append(self.db)
        self.closed = True

    # -- queries

    def supports(self, qt: QueryLike) -> str | None:
        """None when the type runs here, else why not."""
        return self.UNSUPPORTED.get(qt.kind)

    def run(self, qt: QueryLike, w: WindowLike) -> pd.DataFrame:
        """Answer one query; a frame with the same columns as bench_queries' DuckDB SQL."""
        raise NotImplementedError

    def row_count(self) -> int:
        """Rows the database holds (a check after loading)."""
        raise NotImplementedError

    def query_text(self, qt: QueryLike, w: WindowLike) -> str:
        """The query as sent (for the record)."""
        raise NotImplementedError

    #: The word joining the conditions of a window's WHERE clause.
    AND: ClassVar[str] = " AND "

    def _t(self, ts: pd.Timestamp) -> str:
        """A time literal in the system's language."""
        raise NotImplementedError

    def _str(self, s: str) -> str:
        """A string literal in the system's language."""
        raise NotImplementedError

    def _hosts(self, hosts: Sequence[str]) -> str:
        return "hostname IN (" + ", ".join(self._str(h) for h in hosts) + ")"

    def _where(self, w: WindowLike, extra: Sequence[str] = ()) -> str:
        """The conditions of window ``w`` (hosts, ``[start, end)``) after ``extra``."""
        conds = list(extra)
        if w.hosts:
            conds.append(self._hosts(w.hosts))
        if w.start is not None:
            conds.append(f"time >= {self._t(w.start)}")
        if w.end is not None:
            conds.append(f"time < {self._t(w.end)}")
        return self.AND.join(conds)

    def _raw_columns(self) -> list[str]:
        """``SELECT *`` columns in the frame's order."""
        return list(self.columns)

    def _result_columns(self, qt: QueryLike) -> list[str]:
        """The columns of bench_queries' DuckDB SQL for ``qt``."""
        if qt.kind in ("high-cpu", "lastpoint"):
            return self._raw_columns()
        label, _ = _label(qt)
        agg = "mean" if qt.kind == "double-groupby" else "max"
        keys = [label, "hostname"] if qt.kind == "double-groupby" else [label]
        return [*keys, *(f"{agg}_{m}" for m in qt.metrics)]

    def _empty(self, qt: QueryLike) -> pd.DataFrame:
        """An empty result with the columns and types of a non-empty one."""
        out = {}
        for c in self._result_columns(qt):
            if c in ("time", "minute", "hour"):
                out[c] = pd.Series([], dtype="datetime64[ns, UTC]")
            elif c in self.tags:
                out[c] = pd.Series([], dtype=object)
            else:
                out[c] = pd.Series([], dtype=self.field_dtypes.get(c, np.dtype(np.float64)))
        return pd.DataFrame(out)


# ---------------------------------------------------------------- VictoriaMetrics peer


def _prom_str(s: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class VictoriaMetricsPeer(_ServerPeer):
    """VictoriaMetrics: one series per (host's tags, field), named ``cpu_<field>``, as its
    Influx endpoint would name them; loaded through ``/api/v1/import`` (JSON lines, one line per
    series with its values and millisecond timestamps), batches of ~1M samples on two
    connections; then ``/internal/force_flush`` (searchable), ``/snapshot/create`` +
    ``/snapshot/delete`` (which writes the in-memory parts to disk), a check that every row is
    in a part on disk, and an fsync of the storage folder.

    Compaction step: ``/internal/force_merge``, waiting until no merge is active.

    Queries: MetricsQL as TSBS writes it for VictoriaMetrics (``max(max_over_time(sel[1m])) by
    (__name__)``, ``avg(avg_over_time(sel[1h])) by (__name__, hostname)``) through
    ``/api/v1/query_range`` with a step of the bucket width. A rollup at time ``t`` covers
    samples in ``(t - window, t]``, so evaluation times are the bucket ends minus 1 ms
    (timestamps are ms), which makes each point one calendar bucket ``[b, b + width)``.
    Buckets cut by the window's start or end are answered by instant queries
    (``/api/v1/query``) whose lookbehind window is clipped to the window, so every bucket
    holds exactly the samples of ``[start, end)``: one range query plus up to two instant
    queries per TSBS query, all timed.
    """

    kind = "victoriametrics"
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "high-cpu": "PromQL/MetricsQL returns aggregated series, not raw rows filtered on a "
        "field (TSBS: HighCPUForHosts not supported in PromQL)",
        "lastpoint": "PromQL has no 'latest row per host with all its fields' without a "
        "lookbehind bound (TSBS: LastPointPerHost not supported in PromQL)",
        "orderby-limit": "PromQL cannot order buckets and limit to the newest 5 that hold data "
        "(TSBS: GroupByOrderByLimit not supported in PromQL)",
    }

    BATCH_SAMPLES = 1_000_000
    WORKERS = 2

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = "/api/v1/import JSON lines, one series per (tags, field)"
        self.srv: VictoriaMetricsServer | None = None
        self.t_min_ms = 0
        self.t_max_ms = 0

    def _open(self) -> None:
        srv = self.server
        assert isinstance(srv, VictoriaMetricsServer)
        if srv.used:
            srv.reset()
        srv.used = True
        self.srv = srv
        self.version = srv.version
        self.db = srv.storage.name if srv.storage else ""

    def close(self) -> None:
        """Nothing to release (the storage goes when the next peer restarts the server)."""
        self.closed = True

    def _http(self) -> _Http:
        if self.srv is None or self.srv.http is None:
            raise RuntimeError("setup() first")
        return self.srv.http

    def ingest(self, df: pd.DataFrame) -> None:
        """``/api/v1/import``, then force_flush and fsync (durable when it returns)."""
        srv = self.srv
        if srv is None or srv.storage is None:
            raise RuntimeError("setup() first")
        self._remember(df)
        t0 = time.perf_counter()
        t_ns = _time_ns(df)
        if (t_ns % 1_000_000).any():
            raise ValueError("VictoriaMetrics stores millisecond timestamps; times are finer")
        t_ms = t_ns // 1_000_000
        self.t_min_ms, self.t_max_ms = int(t_ms.min()), int(t_ms.max())
        series, ids, order = _series(df, self.tags)
        bounds = np.searchsorted(ids[order], np.arange(len(series) + 1))
        values = {f: df[f].to_numpy() for f in self.fields}
        local = threading.local()
        build_s = 0.0
        requests = 0

        def send(payload: bytes) -> None:
            h = getattr(local, "h", None)
            if h is None:
                h = local.h = _Http(srv.port)
            h.request("POST", "/api/v1/import", payload)

        pending: list[Future[None]] = []
        with ThreadPoolExecutor(self.WORKERS) as pool:
            lines: list[str] = []
            samples = 0
            for s in range(len(series)):
                tb = time.perf_counter()
                rows = order[bounds[s] : bounds[s + 1]]
                labels = {t: str(series.iat[s, k]) for k, t in enumerate(self.tags)}
                ts = t_ms[rows]
                ts_json = json.dumps(ts.tolist())
                for f in self.fields:
                    v = values[f][rows]
                    tsj = ts_json
                    if v.dtype.kind == "f" and np.isnan(v).any():
                        keep = ~np.isnan(v)
                        v, tsj = v[keep], json.dumps(ts[keep].tolist())
                    metric = json.dumps({"__name__": f"{MEASUREMENT}_{f}", **labels})
                    lines.append(
                        f'{{"metric":{metric},"values":{json.dumps(v.tolist())},'
                        f'"timestamps":{tsj}}}'
                    )
                    samples += len(v)
                build_s += time.perf_counter() - tb
                if samples >= self.BATCH_SAMPLES or s == len(series) - 1:
                    tb = time.perf_counter()
                    payload = "\n".join(lines).encode()
                    build_s += time.perf_counter() - tb
                    lines, samples = [], 0
                    pending.append(pool.submit(send, payload))
                    requests += 1
                    while len(pending) > 2 * self.WORKERS:
                        pending.pop(0).result()
            for fut in pending:
                fut.result()
        h = self._http()
        h.request("GET", "/internal/force_flush")  # rows searchable (in-memory parts)
        # A snapshot writes every in-memory part to disk at once (1.79 otherwise keeps fresh
        # parts in memory for seconds); it is only hard links, deleted right away.
        snap = json.loads(h.request("GET", "/snapshot/create")[2])
        if snap.get("status") != "ok":
            raise RuntimeError(f"VictoriaMetrics /snapshot/create: {snap}")
        h.request(
            "GET", "/snapshot/delete?" + urllib.parse.urlencode({"snapshot": snap["snapshot"]})
        )
        self._wait_on_disk()
        synced = _fsync_tree(srv.storage)
        self.last_ingest = {
            "seconds": time.perf_counter() - t0,
            "client_build_s": build_s,
            "requests": requests,
            "series": len(series) * len(self.fields),
            "files_fsynced": synced,
        }

    def _wait_on_disk(self) -> None:
        """Wait until every stored row is in a part on disk.

        ``force_flush`` makes the rows searchable, but 1.79 keeps fresh small parts in memory
        until its background merger writes them out (within about a second). Done when no
        storage merge is active and the rows of the part folders on disk (their names start
        with the row count) add up to ``vm_rows`` of the storage.
        """
        srv = self.srv
        assert srv is not None and srv.storage is not None
        deadline = time.monotonic() + COMPACT_TIMEOUT_S
        while True:
            stored = self._metric('vm_rows{type="storage/')
            merging = self._metric('vm_active_merges{type="storage/')
            on_disk = 0
            for kind in ("small", "big"):
                for part in (srv.storage / "data" / kind).glob("*/*"):
                    m = re.match(r"(\d+)_\d+_", part.name)
                    if m and (part / "metaindex.bin").exists():
                        on_disk += int(m.group(1))
            if not merging and on_disk == stored:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"VictoriaMetrics: {stored:.0f} rows, {on_disk} on disk")
            time.sleep(0.05)

    def _metric(self, name: str) -> float:
        _, _, body = self._http().request("GET", "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def compact(self) -> None:
        """``/internal/force_merge`` of every partition; wait until merges are done."""
        t0 = time.perf_counter()
        self._http().request("GET", "/internal/force_merge")
        deadline = time.monotonic() + COMPACT_TIMEOUT_S
        time.sleep(0.5)
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("VictoriaMetrics force_merge did not finish")
            busy = self._metric("vm_active_force_merges") + self._metric("vm_active_merges")
            quiet = quiet + 1 if busy == 0 else 0
            time.sleep(0.3)
        self.last_ingest["compact_s"] = time.perf_counter() - t0
        self.compacted = True

    def data_paths(self) -> list[Path]:
        """The storage folder (data, indexdb, metadata)."""
        return [self.srv.storage] if self.srv and self.srv.storage else []

    # -- queries

    def _selector(self, metrics: Sequence[str], hosts: Sequence[str]) -> str:
        conds = []
        if len(metrics) == 1:
            head = f"{MEASUREMENT}_{metrics[0]}"
        else:
            head = ""
            alt = "|".join(re.escape(m) for m in metrics)
            conds.append(f"__name__=~{_prom_str(f'{MEASUREMENT}_({alt})')}")
        if len(hosts) == 1:
            conds.append(f"hostname={_prom_str(hosts[0])}")
        elif hosts:
            conds.append(f"hostname=~{_prom_str('|'.join(re.escape(h) for h in hosts))}")
        return head + "{" + ", ".join(conds) + "}"

    def _expr(self, qt: QueryLike, w: WindowLike, window: str) -> str:
        sel = self._selector(qt.metrics, w.hosts)
        if qt.kind == "double-groupby":
            return f"avg(avg_over_time({sel}[{window}])) by (__name__, hostname)"
        return f"max(max_over_time({sel}[{window}])) by (__name__)"

    def _plan(self, qt: QueryLike, w: WindowLike) -> list[tuple[str, dict[str, str], int]]:
        """The requests for one query: (path, params, offset from a point's time to its
        bucket's start in ms)."""
        if w.start is None or w.end is None:
            raise ValueError(f"{qt.name} needs a bounded window")
        _, width_s = _label(qt)
        u = width_s * 1000
        lo = _ceil_div(pd.Timestamp(w.start).value, 1_000_000)  # first ms >= start
        hi = _ceil_div(pd.Timestamp(w.end).value, 1_000_000)  # rows have ms < hi
        first_full, last_end = _ceil_div(lo, u) * u, (hi // u) * u
        out: list[tuple[str, dict[str, str], int]] = []
        if first_full + u <= last_end:
            params = {
                "query": self._expr(qt, w, f"{width_s}s"),
                "start": f"{(first_full + u - 1) / 1000:.3f}",
                "end": f"{(last_end - 1) / 1000:.3f}",
                "step": f"{width_s}s",
                "nocache": "1",
            }
            out.append(("/api/v1/query_range", params, u - 1))
        edges = []
        if lo < first_full:
            edges.append((lo, min(first_full, hi)))
        if first_full <= last_end < hi:
            edges.append((max(last_end, lo), hi))
        for a, b in edges:
            if b <= a:
                continue
            params = {
                "query": self._expr(qt, w, f"{b - a}ms"),
                "time": f"{(b - 1) / 1000:.3f}",
                "nocache": "1",
            }
            out.append(("/api/v1/query", params, (b - 1) - (a // u) * u))
        return out

    def query_text(self, qt: QueryLike, w: WindowLike) -> str:
        """The requests, one per line."""
        return "\n".join(f"{path}?{urllib.parse.urlencode(p)}" for path, p, _ in self._plan(qt, w))

    def run(self, qt: QueryLike, w: WindowLike) -> pd.DataFrame:
        """The range query (and edge instant queries); points pivoted into one row per bucket
        (and host), one column per metric."""
        cols = self._result_columns(qt)
        label = cols[0]
        by_host = qt.kind == "double-groupby"
        h = self._http()
        prefix = len(MEASUREMENT) + 1
        # (bucket start ms, hostname) -> {metric: value}
        rows: dict[tuple[int, str], dict[str, float]] = {}
        for path, params, offset in self._plan(qt, w):
            _, _, body = h.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
            doc = json.loads(body)
            if doc.get("status") != "success":
                raise RuntimeError(f"VictoriaMetrics: {doc}")
            for r in doc["data"]["result"]:
                m = r["metric"]
                metric = m.get("__name__", "")[prefix:]
                host = m.get("hostname", "") if by_host else ""
                for t, v in r["values"] if "values" in r else [r["value"]]:
                    rows.setdefault((round(t * 1000) - offset, host), {})[metric] = float(v)
        if not rows:
            return self._empty(qt)
        keys = sorted(rows)
        agg_cols = cols[2:] if by_host else cols[1:]
        out: dict[str, Any] = {
            label: _utc(np.fromiter((k[0] for k in keys), np.int64, len(keys)), "ms")
        }
        if by_host:
            out["hostname"] = [k[1] for k in keys]
        for c, metric in zip(agg_cols, qt.metrics, strict=True):
            out[c] = np.fromiter(
                (rows[k].get(metric, math.nan) for k in keys), np.float64, len(keys)
            )
        return pd.DataFrame(out, columns=cols)

    def row_count(self) -> int:
        """Samples of the first field / 1 (every row has every field)."""
        span_s = (self.t_max_ms - self.t_min_ms) // 1000 + 2
        q = f"sum(count_over_time({MEASUREMENT}_{self.fields[0]}[{span_s}s]))"
        params = {"query": q, "time": f"{(self.t_max_ms + 1) / 1000:.3f}", "nocache": "1"}
        _, _, body = self._http().request("GET", "/api/v1/query?" + urllib.parse.urlencode(params))
        res = json.loads(body)["data"]["result"]
        return int(float(res[0]["value"][1])) if res else 0


# ------------------------------------------------------------------------ InfluxDB peer


def _lp_escape(s: str, *, measurement: bool = False) -> str:
    """Escape a line-protocol measurement, tag key/value or field key."""
    s = s.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")
    return s if measurement else s.replace("=", "\\=")


def _influx_time(ts: pd.Timestamp) -> str:
    t = pd.Timestamp(ts).tz_convert("UTC")
    return f"'{t.strftime('%Y-%m-%dT%H:%M:%S')}.{t.value % 1_000_000_000:09d}Z'"


def _influx_ident(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _influx_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxDBPeer(_ServerPeer):
    """InfluxDB 1.x: measurement ``cpu``, the tags as tags (sorted by key, as the docs advise),
    the fields as fields (``58i`` integers for int64 columns), one database per peer
    (``autogen``, default shard duration 7 days).

    Load: line protocol over HTTP ``/write`` in batches of 10,000 lines (TSBS's batch size) in
    frame (time) order, on two connections, ``precision`` the coarsest unit that holds the
    times exactly (``s`` for TSBS data). Each ``/write`` returns after the WAL is fsynced
    (``wal-fsync-delay`` 0, the default), so the data are durable when ``ingest`` returns.

    Compaction step: wait until the shard's cache is snapshotted to TSM files, the WAL is
    empty, no compaction active (``/debug/vars``) and the shard down to one TSM file or
    unchanged for 10 s, with the cold durations
    the server runs with (see ``InfluxDBServer``).

    Queries: InfluxQL as TSBS writes it (``GROUP BY time(1m)``, ``(hostname = 'a' or hostname
    = 'b')``), with ``fill(none)`` (no empty buckets, as SQL), ``AS`` aliases, ``GROUP BY
    time(1h)`` for cpu-max-all (TSBS's generator says 1m there, against its own description),
    and ``ORDER BY time DESC LIMIT 5`` for groupby-orderby-limit (TSBS's ``limit 5`` alone
    returns the oldest five minutes).
    """

    kind = "influxdb"
    BATCH_LINES = 10_000
    WORKERS = 2

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = "line protocol /write, 10k-line batches"

    def _srv(self) -> InfluxDBServer:
        srv = self.server
        if not isinstance(srv, InfluxDBServer) or srv.http is None:
            raise RuntimeError("setup() first")
        return srv

    def ingest(self, df: pd.DataFrame) -> None:
        """Line protocol batches to ``/write`` (each fsynced in the WAL before it returns)."""
        srv = self._srv()
        self._remember(df)
        t0 = time.perf_counter()
        t_ns = _time_ns(df)
        precision, div = "ns", 1
        for p, d in (("s", 10**9), ("ms", 10**6), ("u", 10**3)):
            if not (t_ns % d).any():
                precision, div = p, d
                break
        ts = t_ns // div
        series, ids, _ = _series(df, self.tags)
        tag_order = sorted(self.tags)
        prefixes = np.empty(len(series), dtype=object)
        for s in range(len(series)):
            kv = ",".join(f"{_lp_escape(t)}={_lp_escape(str(series.at[s, t]))}" for t in tag_order)
            prefixes[s] = f"{_lp_escape(MEASUREMENT, measurement=True)},{kv}"
        row_prefix = prefixes[ids]
        cols = [df[f].to_numpy() for f in self.fields]
        has_nan = any(c.dtype.kind == "f" and np.isnan(c).any() for c in cols)
        parts = [
            f"{_lp_escape(f)}=%di" if c.dtype.kind in "iu" else f"{_lp_escape(f)}=%r"
            for f, c in zip(self.fields, cols, strict=True)
        ]
        fmt = "%s " + ",".join(parts) + " %d"
        path = f"/write?{urllib.parse.urlencode({'db': self.db, 'precision': precision})}"
        local = threading.local()

        def send(payload: bytes) -> None:
            h = getattr(local, "h", None)
            if h is None:
                h = local.h = _Http(srv.port)
            h.request("POST", path, payload)

        build_s = 0.0
        requests = 0
        n = len(df)
        pending: list[Future[None]] = []
        with ThreadPoolExecutor(self.WORKERS) as pool:
            for i in range(0, n, self.BATCH_LINES):
                tb = time.perf_counter()
                j = min(n, i + self.BATCH_LINES)
                chunk = [c[i:j].tolist() for c in cols]
                if has_nan:
                    lines = [
                        self._line_nan(p, vals, t)
                        for p, vals, t in zip(
                            row_prefix[i:j], zip(*chunk, strict=True), ts[i:j].tolist(), strict=True
                        )
                    ]
                    lines = [ln for ln in lines if ln]
                else:
                    lines = [
                        fmt % r
                        for r in zip(
                            row_prefix[i:j].tolist(), *chunk, ts[i:j].tolist(), strict=True
                        )
                    ]
                payload = "\n".join(lines).encode()
                build_s += time.perf_counter() - tb
                pending.append(pool.submit(send, payload))
                requests += 1
                while len(pending) > 2 * self.WORKERS:
                    pending.pop(0).result()
            for fut in pending:
                fut.result()
        self.last_ingest = {
            "seconds": time.perf_counter() - t0,
            "client_build_s": build_s,
            "requests": requests,
            "precision": precision,
        }

    def _line_nan(self, prefix: str, vals: Sequence[Any], t: int) -> str:
        kv = []
        for f, v in zip(self.fields, vals, strict=True):
            if isinstance(v, float):
                if not math.isnan(v):
                    kv.append(f"{_lp_escape(f)}={v!r}")
            else:
                kv.append(f"{_lp_escape(f)}={v}i")
        return f"{prefix} {','.join(kv)} {t}" if kv else ""

    def _shard_stats(self) -> list[dict[str, dict[str, float]]]:
        srv = self._srv()
        assert srv.http is not None
        doc = json.loads(srv.http.request("GET", "/debug/vars")[2])
        shards: dict[str, dict[str, dict[str, float]]] = {}
        for v in doc.values():
            if not isinstance(v, dict):
                continue
            tags = v.get("tags") or {}
            if tags.get("database") != self.db or "id" not in tags:
                continue
            shards.setdefault(tags["id"], {})[v.get("name", "")] = v.get("values", {})
        return list(shards.values())

    def compact(self) -> None:
        """Wait until every shard is snapshotted, its WAL empty and fully compacted.

        Done when no shard has cache or WAL bytes, no compaction is active, no
        ``.tmp`` file is being written, and either every shard is down to one TSM file (held
        for a second) or nothing has changed for 10 s (five cold durations: the planner, which
        looks every second, would have started a full compaction).
        """
        t0 = time.perf_counter()
        deadline = time.monotonic() + COMPACT_TIMEOUT_S
        shard_dir = self._srv().folder / "data" / self.db
        last: tuple[Any, ...] = ()
        since = time.monotonic()
        time.sleep(1.0)
        while True:
            shards = self._shard_stats()
            why = [] if shards else ["no shard statistics yet"]
            why += [str(p.name) for p in shard_dir.rglob("*.tmp")]
            sig: list[Any] = []
            single = True
            for st in shards:
                cache = st.get("tsm1_cache", {})
                wal = st.get("tsm1_wal", {})
                eng = st.get("tsm1_engine", {})
                fs = st.get("tsm1_filestore", {})
                for k, v in [*cache.items(), *wal.items()]:
                    if k in ("memBytes", "currentSegmentDiskBytes", "oldSegmentsDiskBytes") and v:
                        why.append(f"{k}={v}")
                for k, v in eng.items():  # (the *Queue gauges can stay at 1 when idle)
                    if k.endswith("Active") and v:
                        why.append(f"{k}={v}")
                single = single and fs.get("numFiles") == 1
                sig.append((fs.get("numFiles"), fs.get("diskBytes")))
            key = (bool(why), tuple(sig))
            if key != last:
                last, since = key, time.monotonic()
            quiet = time.monotonic() - since
            if not why and ((single and quiet >= 1.0) or quiet >= 10.0):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"InfluxDB shards did not finish compacting: {why} {sig}")
            time.sleep(0.25)
        self.last_ingest["compact_s"] = time.perf_counter() - t0
        self.compacted = True

    def data_paths(self) -> list[Path]:
        """``data/<db>`` (TSM files, series file, index) and ``wal/<db>``."""
        srv = self.server
        return [srv.folder / "data" / self.db, srv.folder / "wal" / self.db]

    # -- queries

    AND = " and "

    def _t(self, ts: pd.Timestamp) -> str:
        return _influx_time(ts)

    def _hosts(self, hosts: Sequence[str]) -> str:
        return "(" + " or ".join(f"hostname = {_influx_str(h)}" for h in hosts) + ")"

    def query_text(self, qt: QueryLike, w: WindowLike) -> str:
        """InfluxQL of one query."""
        m = MEASUREMENT
        if qt.kind in ("single-groupby", "cpu-max-all"):
            unit = "1m" if qt.kind == "single-groupby" else "1h"
            sel = ", ".join(f"max({_influx_ident(x)}) AS max_{x}" for x in qt.metrics)
            return f"SELECT {sel} FROM {m} WHERE {self._where(w)} GROUP BY time({unit}) fill(none)"
        if qt.kind == "double-groupby":
            sel = ", ".join(f"mean({_influx_ident(x)}) AS mean_{x}" for x in qt.metrics)
            return (
                f"SELECT {sel} FROM {m} WHERE {self._where(w)} "
                "GROUP BY time(1h), hostname fill(none)"
            )
        if qt.kind == "high-cpu":
            return f"SELECT * FROM {m} WHERE {self._where(w, ['usage_user > 90.0'])}"
        if qt.kind == "lastpoint":
            return f'SELECT * FROM {m} GROUP BY "hostname" ORDER BY time DESC LIMIT 1'
        if qt.kind == "orderby-limit":
            return (
                f"SELECT max(usage_user) AS max_usage_user FROM {m} WHERE {self._where(w)} "
                "GROUP BY time(1m) fill(none) ORDER BY time DESC LIMIT 5"
            )
        raise ValueError(f"unknown query kind {qt.kind!r}")

    def run(self, qt: QueryLike, w: WindowLike) -> pd.DataFrame:
        """``GET /query`` (``epoch=ns``); series (one per group) into one frame."""
        doc = self._srv().query(self.query_text(qt, w), self.db)
        frames = []
        for res in doc.get("results", []):
            for s in res.get("series", []) or []:
                f = pd.DataFrame(s["values"], columns=s["columns"])
                for k, v in (s.get("tags") or {}).items():
                    f[k] = v
                frames.append(f)
        if not frames:
            return self._empty(qt)
        cols = self._result_columns(qt)
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        raw = qt.kind in ("high-cpu", "lastpoint")
        if not raw:
            out = out.rename(columns={"time": cols[0]})
        tcol = "time" if raw else cols[0]
        out[tcol] = _utc(out[tcol].to_numpy())
        return out[cols]

    def row_count(self) -> int:
        """``SELECT count(<first field>)``."""
        doc = self._srv().query(
            f"SELECT count({_influx_ident(self.fields[0])}) FROM {MEASUREMENT}", self.db
        )
        series = doc["results"][0].get("series") or []
        return int(series[0]["values"][0][1]) if series else 0


# ---------------------------------------------------------------------- ClickHouse peer


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _native_str(s: str) -> bytes:
    b = s.encode()
    return _varint(len(b)) + b


def _native_strings(codes: np.ndarray, uniques: Sequence[Any]) -> bytes:
    """A Native ``String`` column (varint length + UTF-8 per row) from dictionary codes."""
    enc = [_native_str(str(u)) for u in uniques]
    lens = np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(enc))
    pool = np.frombuffer(b"".join(enc), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    row_len = lens[codes]
    total = int(row_len.sum())
    row_start = np.cumsum(row_len) - row_len
    idx = np.repeat(starts[codes] - row_start, row_len) + np.arange(total, dtype=np.int64)
    return pool[idx].tobytes()


class ClickHousePeer(_ServerPeer):
    """ClickHouse server 18.16: ``MergeTree PARTITION BY toDate(time) ORDER BY (hostname,
    time)``, ``time DateTime`` (18.16 has no DateTime64: whole seconds only; TSBS data are),
    tags ``String`` (``LowCardinality`` is experimental in 18.16, behind
    ``allow_experimental_low_cardinality_type``), fields ``Int64``/``Float64`` as in the frame,
    default compression (LZ4; column codecs arrived in 19.x).

    Load: one HTTP ``INSERT INTO cpu FORMAT Native`` streaming column blocks of 100,000 rows
    (the server squashes them into blocks of up to 1M rows). 18.16 does not fsync inserted
    parts (``fsync_after_insert`` came later), so ``ingest`` fsyncs the table's files itself
    before it returns.

    Compaction step: ``OPTIMIZE TABLE cpu PARTITION ID '<p>' FINAL`` per partition, then wait
    until only active parts remain on disk.

    Queries: ClickHouse SQL as TSBS writes it for ClickHouse (``toStartOfMinute``,
    ``toStartOfHour``, ``PREWHERE`` for high-cpu), hosts as ``hostname IN (...)`` as for the
    other SQL peers. Time bounds are ``toDateTime(<unix seconds>)`` rounded up: for a
    whole-second column ``time >= t`` equals ``time >= ceil(t)`` and ``time < t`` equals ``time
    < ceil(t)``. lastpoint is ``WHERE (hostname, time) IN (SELECT hostname, max(time) ...
    GROUP BY hostname)`` (TSBS's ClickHouse ``SELECT DISTINCT(hostname), *`` returns every
    row). Results come back as ``TabSeparatedWithNamesAndTypes``, parsed by pandas.
    """

    kind = "clickhouse"
    BLOCK_ROWS = 100_000

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = "MergeTree PARTITION BY toDate(time) ORDER BY (hostname, time)"

    def _srv(self) -> ClickHouseServer:
        srv = self.server
        if not isinstance(srv, ClickHouseServer) or srv.http is None:
            raise RuntimeError("setup() first")
        return srv

    @staticmethod
    def _type(dt: np.dtype) -> str:
        if dt.kind in "iu":
            return "Int64"
        if dt.kind == "f":
            return "Float64"
        raise TypeError(f"unsupported field dtype {dt}")

    def _table_dir(self) -> Path:
        return self._srv().folder / "data" / "data" / self.db / MEASUREMENT

    def ingest(self, df: pd.DataFrame) -> None:
        """``CREATE TABLE``; ``INSERT ... FORMAT Native`` (streamed); fsync the table's files."""
        srv = self._srv()
        self._remember(df)
        t0 = time.perf_counter()
        t_ns = _time_ns(df)
        if (t_ns % 1_000_000_000).any():
            raise ValueError(
                "ClickHouse 18.16 DateTime holds whole seconds (DateTime64 came in 20.1); "
                "this frame has sub-second times"
            )
        secs = (t_ns // 1_000_000_000).astype("<u4")
        # No column codecs (chDB's CHDB_TSBS_CODECS): 18.16 rejects CODEC(...) as a syntax error.
        cols_sql = ["`time` DateTime"] + [f"`{t}` String" for t in self.tags]
        cols_sql += [f"`{f}` {self._type(df[f].dtype)}" for f in self.fields]
        srv.sql(
            f"CREATE TABLE {MEASUREMENT} ({', '.join(cols_sql)}) ENGINE = MergeTree "
            "PARTITION BY toDate(time) ORDER BY (hostname, time)",
            self.db,
        )
        codes = {}
        for t in self.tags:
            c, u = pd.factorize(df[t], sort=False)
            codes[t] = (c, list(u))
        fields = {f: df[f].to_numpy() for f in self.fields}
        build = {"s": 0.0}
        n = len(df)
        names = ["time", *self.tags, *self.fields]

        def blocks() -> Iterator[bytes]:
            for i in range(0, n, self.BLOCK_ROWS):
                tb = time.perf_counter()
                j = min(n, i + self.BLOCK_ROWS)
                parts = [_varint(len(names)), _varint(j - i)]
                parts += [_native_str("time"), _native_str("DateTime"), secs[i:j].tobytes()]
                for t in self.tags:
                    c, u = codes[t]
                    parts += [_native_str(t), _native_str("String"), _native_strings(c[i:j], u)]
                for f, v in fields.items():
                    typ = self._type(v.dtype)
                    arr = v[i:j].astype("<i8" if typ == "Int64" else "<f8", copy=False)
                    parts += [_native_str(f), _native_str(typ), arr.tobytes()]
                out = b"".join(parts)
                build["s"] += time.perf_counter() - tb
                yield out

        srv.sql(f"INSERT INTO {MEASUREMENT} FORMAT Native", self.db, body=blocks())
        synced = _fsync_tree(self._table_dir())
        self.last_ingest = {
            "seconds": time.perf_counter() - t0,
            "client_build_s": build["s"],
            "requests": 1,
            "files_fsynced": synced,
        }

    def _parts(self) -> list[tuple[str, str, int]]:
        out = self._srv().sql(
            "SELECT partition_id, name, active FROM system.parts "
            f"WHERE database = '{self.db}' AND table = '{MEASUREMENT}' FORMAT TabSeparated"
        )
        rows = [ln.split("\t") for ln in out.decode().splitlines() if ln]
        return [(r[0], r[1], int(r[2])) for r in rows]

    def compact(self) -> None:
        """``OPTIMIZE ... FINAL`` per partition; wait until outdated parts are deleted."""
        srv = self._srv()
        t0 = time.perf_counter()
        for pid in sorted({p for p, _, a in self._parts() if a}):
            srv.sql(f"OPTIMIZE TABLE {MEASUREMENT} PARTITION ID '{pid}' FINAL", self.db)
        deadline = time.monotonic() + COMPACT_TIMEOUT_S
        while True:
            parts = self._parts()
            active = {name for _, name, a in parts if a}
            on_disk = {
                p.name for p in self._table_dir().iterdir() if p.is_dir() and p.name != "detached"
            }
            if all(a for _, _, a in parts) and on_disk <= active:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("ClickHouse: outdated parts were not removed")
            time.sleep(0.5)
        self.last_ingest["compact_s"] = time.perf_counter() - t0
        self.compacted = True

    def data_paths(self) -> list[Path]:
        """The database's data folder and its metadata (``.sql`` files)."""
        base = self._srv().folder / "data"
        return [
            base / "data" / self.db,
            base / "metadata" / self.db,
            base / "metadata" / f"{self.db}.sql",
        ]

    # -- queries

    def _t(self, ts: pd.Timestamp) -> str:
        return f"toDateTime({_ceil_div(pd.Timestamp(ts).value, 1_000_000_000)})"

    def _str(self, s: str) -> str:
        return _sql_str(s)

    def query_text(self, qt: QueryLike, w: WindowLike) -> str:
        """ClickHouse SQL of one query."""
        m = MEASUREMENT
        if qt.kind in ("single-groupby", "cpu-max-all"):
            label, _ = _label(qt)
            fn = "toStartOfMinute" if label == "minute" else "toStartOfHour"
            aggs = ", ".join(f"max({x}) AS max_{x}" for x in qt.metrics)
            return (
                f"SELECT {fn}(time) AS {label}, {aggs} FROM {m} WHERE {self._where(w)} "
                f"GROUP BY {label} ORDER BY {label}"
            )
        if qt.kind == "double-groupby":
            aggs = ", ".join(f"avg({x}) AS mean_{x}" for x in qt.metrics)
            return (
                f"SELECT toStartOfHour(time) AS hour, hostname, {aggs} FROM {m} "
                f"WHERE {self._where(w)} GROUP BY hour, hostname ORDER BY hour, hostname"
            )
        if qt.kind == "high-cpu":
            return f"SELECT * FROM {m} PREWHERE {self._where(w, ['usage_user > 90.0'])}"
        if qt.kind == "lastpoint":
            return (
                f"SELECT * FROM {m} WHERE (hostname, time) IN (SELECT hostname, max(time) "
                f"FROM {m} GROUP BY hostname) ORDER BY hostname"
            )
        if qt.kind == "orderby-limit":
            return (
                f"SELECT toStartOfMinute(time) AS minute, max(usage_user) AS max_usage_user "
                f"FROM {m} WHERE {self._where(w)} GROUP BY minute ORDER BY minute DESC LIMIT 5"
            )
        raise ValueError(f"unknown query kind {qt.kind!r}")

    def run(self, qt: QueryLike, w: WindowLike) -> pd.DataFrame:
        """POST the SQL; parse ``TabSeparatedWithNamesAndTypes``."""
        body = self._srv().sql(
            self.query_text(qt, w) + " FORMAT TabSeparatedWithNamesAndTypes", self.db
        )
        return _parse_tsv(body)

    def row_count(self) -> int:
        """``SELECT count()``."""
        return int(self._srv().sql(f"SELECT count() FROM {MEASUREMENT}", self.db))


def _sql_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parse_tsv(body: bytes) -> pd.DataFrame:
    """``TabSeparatedWithNamesAndTypes`` into a frame: DateTime as UTC times, numbers as
    numbers, strings as ``str``."""
    head_end = body.index(b"\n", body.index(b"\n") + 1) + 1
    names, types = (ln.split("\t") for ln in body[:head_end].decode().splitlines())
    dtypes: dict[str, Any] = {}
    for n, t in zip(names, types, strict=True):
        if t.startswith(("Int", "UInt")):
            dtypes[n] = np.int64
        elif t.startswith("Float"):
            dtypes[n] = np.float64
        else:
            dtypes[n] = str
    if head_end == len(body):
        out = pd.DataFrame({n: pd.Series([], dtype=d) for n, d in dtypes.items()})
    else:
        out = pd.read_csv(
            io.BytesIO(body[head_end:]),
            sep="\t",
            header=None,
            names=names,
            dtype=dtypes,
            na_filter=False,
            quoting=3,  # csv.QUOTE_NONE: TSV escapes with backslashes, not quotes
            engine="c",
        )
    for n, t in zip(names, types, strict=True):
        if t.startswith("DateTime"):
            out[n] = pd.to_datetime(out[n], format="%Y-%m-%d %H:%M:%S").dt.tz_localize("UTC")
        elif dtypes[n] is str and len(out) and out[n].str.contains("\\", regex=False).any():
            out[n] = out[n].str.replace(r"\\(.)", _tsv_unescape, regex=True)
    return out


def _tsv_unescape(m: re.Match[str]) -> str:
    c = m.group(1)
    return {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "\\": "\\", "'": "'"}.get(c, c)


# ------------------------------------------------------------------------ PostgreSQL peer


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970


class PostgresPeer(_ServerPeer):
    """PostgreSQL 15 as a row store (= TSBS ``--use-hypertable=false``): one table ``cpu``
    (``time timestamptz``, the tags ``text``, the fields ``double precision`` as TSBS's
    TimescaleDB loader declares them), TSBS's indexes ``(hostname, time DESC)`` and ``(time
    DESC)``. TSBS's default keeps the tags in a separate ``tags`` table joined by ``tags_id``;
    here they are in the table, like every other peer's, so ``SELECT *`` answers alike.

    Load (the manual's "Populating a Database"): in one transaction ``CREATE TABLE``, ``COPY
    cpu FROM STDIN (FORMAT binary, FREEZE)`` with rows in (hostname, time) order (as the
    DuckDB peer sorts; a CLUSTER order for per-host ranges), then ``CREATE INDEX`` x 2 (after
    the load, faster than maintaining them row by row), ``COMMIT`` (durable: with
    ``wal_level=minimal`` the new files are fsynced at commit), then ``VACUUM ANALYZE``. All
    of it is timed.

    Compaction step: ``CHECKPOINT``. Bytes: every file of the database's folder
    ``base/<oid>`` (table, indexes, visibility/free-space maps, and the ~7.5 MB of catalogs
    every database has); ``pg_total_relation_size('cpu')`` is recorded too.

    Queries: TSBS's TimescaleDB SQL (``date_trunc``, ``DISTINCT ON (hostname) ... ORDER BY
    hostname, time DESC`` for lastpoint), hosts as ``hostname IN (...)``, through psycopg 3
    (``fetchall`` into a DataFrame; a fresh plan per query: no prepared statements).
    """

    kind = "postgres"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = "heap + btree (hostname, time DESC), (time DESC); COPY binary"
        self.conn: Any = None
        self.oid = 0

    def _srv(self) -> PostgresServer:
        srv = self.server
        if not isinstance(srv, PostgresServer):
            raise RuntimeError("setup() first")
        return srv

    def _open(self) -> None:
        import psycopg

        super()._open()
        srv = self._srv()
        # autocommit: each query is its own statement; the load uses an explicit transaction
        self.conn = psycopg.connect(srv.dsn(self.db), autocommit=True, prepare_threshold=None)
        self.oid = int(
            srv.admin.execute(
                "SELECT oid FROM pg_database WHERE datname = %s", (self.db,)
            ).fetchone()[0]
        )

    def _copy_chunks(self, df: pd.DataFrame) -> Iterator[bytes]:
        """``COPY ... (FORMAT binary)`` data, rows by (series, time), in ~8 MB pieces."""
        series, ids, order = _series(df, self.tags)
        bounds = np.searchsorted(ids[order], np.arange(len(series) + 1))
        us = _time_ns(df) // 1000 - _PG_EPOCH_US
        fields = [df[f].to_numpy(dtype=np.float64) for f in self.fields]
        ncols = 1 + len(self.tags) + len(self.fields)
        buf: list[bytes] = [b"PGCOPY\n\xff\r\n\x00", b"\x00\x00\x00\x00", b"\x00\x00\x00\x00"]
        size = 0
        for s in range(len(series)):
            rows = order[bounds[s] : bounds[s + 1]]
            tag_vals = [str(series.at[s, t]).encode() for t in self.tags]
            spec: list[tuple[str, str]] = [("n", ">i2"), ("tl", ">i4"), ("t", ">i8")]
            for k, v in enumerate(tag_vals):
                spec.append((f"l{k}", ">i4"))
                if v:
                    spec.append((f"v{k}", f"S{len(v)}"))
            for k in range(len(fields)):
                spec += [(f"fl{k}", ">i4"), (f"f{k}", ">f8")]
            a = np.empty(len(rows), dtype=np.dtype(spec))
            a["n"] = ncols
            a["tl"] = 8
            a["t"] = us[rows]
            for k, v in enumerate(tag_vals):
                a[f"l{k}"] = len(v)
                if v:
                    a[f"v{k}"] = v
            for k, col in enumerate(fields):
                a[f"fl{k}"] = 8
                a[f"f{k}"] = col[rows]
            b = a.tobytes()
            buf.append(b)
            size += len(b)
            if size >= 8 << 20:
                yield b"".join(buf)
                buf, size = [], 0
        buf.append(b"\xff\xff")
        yield b"".join(buf)

    def ingest(self, df: pd.DataFrame) -> None:
        """CREATE TABLE + COPY binary FREEZE + CREATE INDEX in one transaction; VACUUM ANALYZE."""
        if self.conn is None:
            raise RuntimeError("setup() first")
        self._remember(df)
        t0 = time.perf_counter()
        cols = ["time timestamptz NOT NULL"] + [f'"{t}" text' for t in self.tags]
        cols += [f'"{f}" double precision' for f in self.fields]
        names = ", ".join(f'"{c}"' for c in ["time", *self.tags, *self.fields])
        m = MEASUREMENT
        copy_s = 0.0
        with self.conn.transaction():
            cur = self.conn.cursor()
            cur.execute(f"CREATE TABLE {m} ({', '.join(cols)})")
            tc = time.perf_counter()
            with cur.copy(f"COPY {m} ({names}) FROM STDIN (FORMAT binary, FREEZE)") as cp:
                for chunk in self._copy_chunks(df):
                    cp.write(chunk)
            copy_s = time.perf_counter() - tc
            ti = time.perf_counter()
            cur.execute(f"CREATE INDEX ON {m} (hostname, time DESC)")
            cur.execute(f"CREATE INDEX ON {m} (time DESC)")
            index_s = time.perf_counter() - ti
        tv = time.perf_counter()
        self.conn.execute(f"VACUUM ANALYZE {m}")
        self.last_ingest = {
            "seconds": time.perf_counter() - t0,
            "copy_s": copy_s,
            "index_s": index_s,
            "vacuum_analyze_s": time.perf_counter() - tv,
        }

    def compact(self) -> None:
        """``CHECKPOINT`` (every dirty buffer to the data files)."""
        srv = self._srv()
        srv.admin.execute("CHECKPOINT")
        if self.conn is not None:
            size = self.conn.execute(f"SELECT pg_total_relation_size('{MEASUREMENT}')").fetchone()
            self.last_ingest["pg_total_relation_size"] = int(size[0])
        self.compacted = True

    def data_paths(self) -> list[Path]:
        """``base/<database oid>``."""
        return [self._srv().datadir / "base" / str(self.oid)]

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        super().close()

    # -- queries

    def _t(self, ts: pd.Timestamp) -> str:
        t = pd.Timestamp(ts).tz_convert("UTC")
        return f"'{t.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"

    def _str(self, s: str) -> str:
        return _pg_str(s)

    def query_text(self, qt: QueryLike, w: WindowLike) -> str:
        """PostgreSQL SQL of one query."""
        m = MEASUREMENT
        if qt.kind in ("single-groupby", "cpu-max-all"):
            label, _ = _label(qt)
            aggs = ", ".join(f"max({x}) AS max_{x}" for x in qt.metrics)
            return (
                f"SELECT date_trunc('{label}', time) AS {label}, {aggs} FROM {m} "
                f"WHERE {self._where(w)} GROUP BY {label} ORDER BY {label}"
            )
        if qt.kind == "double-groupby":
            aggs = ", ".join(f"avg({x}) AS mean_{x}" for x in qt.metrics)
            return (
                f"SELECT date_trunc('hour', time) AS hour, hostname, {aggs} FROM {m} "
                f"WHERE {self._where(w)} GROUP BY hour, hostname ORDER BY hour, hostname"
            )
        if qt.kind == "high-cpu":
            return f"SELECT * FROM {m} WHERE {self._where(w, ['usage_user > 90.0'])}"
        if qt.kind == "lastpoint":
            return f"SELECT DISTINCT ON (hostname) * FROM {m} ORDER BY hostname, time DESC"
        if qt.kind == "orderby-limit":
            return (
                f"SELECT date_trunc('minute', time) AS minute, max(usage_user) AS "
                f"max_usage_user FROM {m} WHERE {self._where(w)} "
                "GROUP BY minute ORDER BY minute DESC LIMIT 5"
            )
        raise ValueError(f"unknown query kind {qt.kind!r}")

    def run(self, qt: QueryLike, w: WindowLike) -> pd.DataFrame:
        """``cursor.execute`` + ``fetchall`` into a DataFrame."""
        if self.conn is None:
            raise RuntimeError("setup() first")
        cur = self.conn.cursor(binary=True)
        cur.execute(self.query_text(qt, w))
        rows = cur.fetchall()
        names = [d.name for d in cur.description]
        if not rows:
            return self._empty(qt)
        out = pd.DataFrame(rows, columns=names)
        for c in names:
            if c in ("time", "minute", "hour"):
                out[c] = pd.to_datetime(out[c], utc=True)
        return out

    def row_count(self) -> int:
        """``SELECT count(*)``."""
        n = self.conn.execute(f"SELECT count(*) FROM {MEASUREMENT}").fetchone()[0]
        return int(n)


def _pg_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------------------ registry


#: Peer name -> class.
SERVER_PEERS: dict[str, type[_ServerPeer]] = {
    "victoriametrics": VictoriaMetricsPeer,
    "influxdb": InfluxDBPeer,
    "clickhouse": ClickHousePeer,
    "postgres": PostgresPeer,
}


def make_server_peer(name: str, **kw: Any) -> _ServerPeer:
    """A new (not yet set up) server peer called ``name``."""
    return SERVER_PEERS[name](**kw)
