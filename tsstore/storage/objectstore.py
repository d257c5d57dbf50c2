"""Where a magnetic tier lives: URL to icechunk storage, the writer lock, durability, size.

Three kinds of location are supported:

* a local path (or ``file://`` URL): :func:`icechunk.local_filesystem_storage`. Icechunk's local
  backend neither serialises concurrent commits (upstream issue 804) nor fsyncs, so commits take
  an exclusive :func:`fcntl.flock` on ``<path>.lock`` (a file *beside* the repository: icechunk
  only creates repositories in empty directories) and :class:`LocalDurability` fsyncs every file
  a commit wrote before the commit is published;
* ``memory://<name>``: :func:`icechunk.in_memory_storage`, kept in a process-wide registry so that
  opening the same name again gives the same repository;
* ``s3://bucket/prefix``: :func:`icechunk.s3_storage`, configured from s3fs-style
  ``storage_options``. Object stores order commits themselves (conditional writes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import icechunk

from tsstore.errors import ConcurrencyError, StorageError, ValidationError

__all__ = [
    "LocalDurability",
    "Location",
    "open_storage",
    "parse_location",
    "storage_size",
    "writer_lock",
]

SUPPORTED_SCHEMES = ("a local path", "file://", "memory://", "s3://")
#: Top-level keys of s3fs-style ``storage_options`` that :func:`open_storage` understands.
S3_OPTIONS = (
    "endpoint_url",
    "key",
    "secret",
    "token",
    "anon",
    "region",
    "client_kwargs",
    "requester_pays",
)
#: Keys of ``storage_options["client_kwargs"]`` that :func:`open_storage` understands.
S3_CLIENT_KWARGS = (
    "endpoint_url",
    "region_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)
#: How long a commit waits for another process's writer lock before giving up.
LOCK_TIMEOUT_S = 300.0

_MEMORY: dict[str, icechunk.Storage] = {}
_MEMORY_LOCK = threading.Lock()
_THREAD_LOCKS: dict[str, threading.RLock] = {}
_logs_quiet = False


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed repository URL.

    Attributes
    ----------
    kind : {"local", "memory", "s3"}
    path : str
        Absolute directory (local), registry name (memory) or ``bucket/prefix`` (s3).
    url : str
        The URL as given.
    """

    kind: str
    path: str
    url: str

    @property
    def key(self) -> str:
        """A process-wide identity of the repository (for in-process locks and caches)."""
        return f"{self.kind}:{self.path}"


def parse_location(url: str) -> Location:
    """Classify ``url``; see :func:`open_storage` for the forms accepted.

    Raises
    ------
    ValidationError
        An empty URL or an unsupported scheme.
    """
    if not isinstance(url, str | os.PathLike) or not str(url):
        raise ValidationError(f"a storage URL must be a non-empty string, got {url!r}")
    url = os.fspath(url)
    if "://" not in url:
        return Location("local", os.path.abspath(os.path.expanduser(url)), url)
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        path = parsed.path if parsed.netloc in ("", "localhost") else parsed.netloc + parsed.path
        return Location("local", os.path.abspath(os.path.expanduser(path)), url)
    if scheme == "memory":
        name = url.split("://", 1)[1].strip("/")
        return Location("memory", name, url)
    if scheme in ("s3", "s3a"):
        bucket = parsed.netloc
        if not bucket:
            raise ValidationError(f"{url!r} names no bucket; write s3://bucket/prefix")
        prefix = parsed.path.strip("/")
        return Location("s3", f"{bucket}/{prefix}" if prefix else bucket, url)
    raise ValidationError(
        f"unsupported storage URL scheme {parsed.scheme!r} in {url!r}; "
        f"use one of: {', '.join(SUPPORTED_SCHEMES)}"
    )


def _quiet_icechunk_logs() -> None:
    """Silence icechunk's per-open warning that local storage is unsafe for concurrent commits.

    tsstore serialises local commits itself (:func:`writer_lock`). An explicit ``ICECHUNK_LOG``
    environment variable is left alone.
    """
    global _logs_quiet
    if not _logs_quiet and "ICECHUNK_LOG" not in os.environ:
        icechunk.set_logs_filter("icechunk=error")
    _logs_quiet = True


def open_storage(url: str, storage_options: dict[str, Any] | None = None) -> icechunk.Storage:
    """The icechunk storage behind ``url``.

    Parameters
    ----------
    url : str
        A local path or ``file://`` URL (:func:`icechunk.local_filesystem_storage`);
        ``memory://name`` (:func:`icechunk.in_memory_storage`, one per name for the life of the
        process); or ``s3://bucket/prefix`` (:func:`icechunk.s3_storage`).
    storage_options : dict, optional
        For ``s3://`` only, in s3fs's vocabulary: ``endpoint_url`` (or
        ``client_kwargs={"endpoint_url": ...}``), ``key``/``secret``/``token``, ``anon``,
        ``region`` (or ``client_kwargs={"region_name": ...}``), ``requester_pays``. A custom
        endpoint turns on path-style addressing, and plain HTTP when it starts with
        ``http://``. Without credentials icechunk's default chain (environment, profile) is used.

    Returns
    -------
    icechunk.Storage

    Raises
    ------
    ValidationError
        An unsupported scheme, or options that are not understood.
    """
    loc = parse_location(url)
    opts = dict(storage_options or {})
    if loc.kind == "local":
        _quiet_icechunk_logs()
        return icechunk.local_filesystem_storage(loc.path)
    if loc.kind == "memory":
        with _MEMORY_LOCK:
            storage = _MEMORY.get(loc.path)
            if storage is None:
                storage = _MEMORY[loc.path] = icechunk.in_memory_storage()
            return storage
    return _s3_storage(loc, opts)


def _s3_storage(loc: Location, opts: dict[str, Any]) -> icechunk.Storage:
    unknown = sorted(set(opts) - set(S3_OPTIONS))
    client = dict(opts.get("client_kwargs") or {})
    unknown += [f"client_kwargs.{k}" for k in sorted(set(client) - set(S3_CLIENT_KWARGS))]
    if unknown:
        raise ValidationError(
            f"storage_options {unknown} are not understood for {loc.url}; the supported ones are "
            f"{list(S3_OPTIONS)} and client_kwargs {list(S3_CLIENT_KWARGS)}"
        )
    bucket, _, prefix = loc.path.partition("/")
    endpoint = opts.get("endpoint_url") or client.get("endpoint_url")
    region = opts.get("region") or client.get("region_name")
    key = opts.get("key") or client.get("aws_access_key_id")
    secret = opts.get("secret") or client.get("aws_secret_access_key")
    token = opts.get("token") or client.get("aws_session_token")
    if endpoint and not region:
        region = "us-east-1"  # S3-compatible servers ignore it, but requests must be signed
    kwargs: dict[str, Any] = {
        "bucket": bucket,
        "prefix": prefix or None,
        "region": region,
        "endpoint_url": endpoint,
        "allow_http": bool(endpoint and str(endpoint).lower().startswith("http://")),
        "force_path_style": bool(endpoint),
        "requester_pays": bool(opts.get("requester_pays", False)),
    }
    if opts.get("anon"):
        kwargs["anonymous"] = True
    elif key or secret:
        if not (key and secret):
            raise ValidationError(
                f"storage_options for {loc.url} give only one of key and secret; give both"
            )
        kwargs.update(access_key_id=key, secret_access_key=secret, session_token=token)
    try:
        return icechunk.s3_storage(**kwargs)
    except (icechunk.IcechunkError, ValueError) as exc:
        raise StorageError(f"cannot configure S3 storage for {loc.url}: {exc}") from exc


def _thread_lock(loc: Location) -> threading.RLock:
    with _MEMORY_LOCK:
        lock = _THREAD_LOCKS.get(loc.key)
        if lock is None:
            lock = _THREAD_LOCKS[loc.key] = threading.RLock()
        return lock


@contextlib.contextmanager
def writer_lock(loc: Location, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the repository's writer lock: a process-wide lock, plus ``flock`` on local disk.

    Raises
    ------
    ConcurrencyError
        Another process held the lock for longer than ``timeout`` seconds.
    """
    with _thread_lock(loc):
        if loc.kind != "local":
            yield
            return
        lock_path = loc.path.rstrip(os.sep) + ".lock"
        os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ConcurrencyError(
                            f"another process has held the writer lock {lock_path} for more "
                            f"than {timeout:.0f} s; wait for it to finish or stop it"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


_FSYNC_POOL: ThreadPoolExecutor | None = None


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalDurability:
    """Make what a commit wrote to a local repository durable, in the order that keeps it valid.

    Icechunk's local backend writes files without fsync. Usage: :meth:`mark` before the session
    writes anything; after the session is flushed to a snapshot (not yet on the branch),
    :meth:`sync_new` fsyncs every file that appeared since (chunks, manifests, snapshot,
    transaction log) and their directories; after the branch ref moves, :meth:`sync_refs`
    fsyncs the ref. A crash at any point leaves the branch on a snapshot whose files are all on
    disk.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._before: dict[str, set[str]] = {}

    def _listing(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for dirpath, _dirs, files in os.walk(self.root):
            out[dirpath] = set(files)
        return out

    def mark(self) -> None:
        """Remember the files present now."""
        self._before = self._listing()

    def sync_new(self) -> int:
        """fsync files that appeared since :meth:`mark`, then their directories; returns count."""
        after = self._listing()
        paths: list[str] = []
        dirs: list[str] = []
        for d, files in after.items():
            new = files - self._before.get(d, set())
            if new:
                paths.extend(os.path.join(d, f) for f in new)
                dirs.append(d)
            if d not in self._before:
                dirs.append(d)
                parent = os.path.dirname(d)
                if parent not in dirs:
                    dirs.append(parent)
        _fsync_all(paths)
        _fsync_all(dirs)
        return len(paths)

    def sync_refs(self) -> None:
        """fsync the branch and tag refs and their directories (after a branch moved)."""
        refs = os.path.join(self.root, "refs")
        paths, dirs = [], [self.root]
        for dirpath, _dirs, files in os.walk(refs):
            dirs.append(dirpath)
            paths.extend(os.path.join(dirpath, f) for f in files)
        _fsync_all(paths)
        _fsync_all(dirs)


def _fsync_all(paths: list[str]) -> None:
    global _FSYNC_POOL
    paths = [p for p in paths if os.path.exists(p)]
    if len(paths) <= 4:
        for p in paths:
            _fsync_path(p)
        return
    if _FSYNC_POOL is None:
        _FSYNC_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tsstore-fsync")
    for _ in _FSYNC_POOL.map(_fsync_path, paths):
        pass


def storage_size(
    loc: Location, storage_options: dict[str, Any] | None, repo: icechunk.Repository
) -> int:
    """Bytes of every object of the repository.

    Local: the sum of the file sizes under the directory. S3: the sum of the object sizes under
    the prefix (listed with s3fs when it is installed). Memory: icechunk offers no listing, so
    the bytes of the chunks reachable from the branches.
    """
    if loc.kind == "local":
        total = 0
        for dirpath, _dirs, files in os.walk(loc.path):
            for f in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(dirpath, f)).st_size
        return total
    if loc.kind == "s3":
        try:
            import s3fs  # optional dependency
        except ImportError:
            pass
        else:
            opts = dict(storage_options or {})
            if opts.get("region") and "client_kwargs" not in opts:
                opts["client_kwargs"] = {"region_name": opts.pop("region")}
            else:
                opts.pop("region", None)
            fs = s3fs.S3FileSystem(**opts)
            fs.invalidate_cache()
            try:
                return int(fs.du(loc.path, total=True))
            except FileNotFoundError:
                return 0
    return int(repo.chunk_storage_stats().total_bytes())
