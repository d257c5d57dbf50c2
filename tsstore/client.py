"""The object users hold: a store that also answers Timestream SQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd

from tsstore.query.engine import QueryEngine, QueryPage, QueryStats
from tsstore.storage.store import Store

__all__ = ["Client", "connect"]


class Client(Store):
    """A :class:`~tsstore.Store` with SQL: ``query``, ``explain`` and the last query's stats.

    Examples
    --------
    >>> import tsstore
    >>> client = tsstore.connect("/tmp/doctest-client", lifecycle_interval=None)
    >>> client.query("SHOW DATABASES").columns.tolist()
    ['Database']
    >>> client.close()
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._engine = QueryEngine(self)

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        as_of: object | None = None,
        lazy: bool = False,
        distributed: bool | None = None,
    ) -> Any:
        """Run Timestream SQL over both tiers; the result as a pandas DataFrame.

        Parameters
        ----------
        sql : str
            One statement: a query (``SELECT``, ``WITH`` ...), ``SHOW DATABASES``,
            ``SHOW TABLES [FROM db]``, ``SHOW MEASURES FROM db.table`` or ``DESCRIBE db.table``.
            Unqualified table names resolve against the default database (``database=``).
        params : dict, optional
            Values of named parameters (``:device``), bound as typed literals through the
            syntax tree: a quote in a value can never change the query.
        as_of : Timestamp or str, optional
            Answer over the magnetic tier as of that time or snapshot id.
        lazy : bool, default False
            Return a Dask DataFrame computed by the distributed plan: a scan has one partition
            per part of the table (a magnetic partition, the memory tier), any other query one
            partition, its result.
        distributed : bool, optional
            Run the distributed plan (partial aggregates per part combined in a tree,
            shuffles for what does not decompose, see ``docs/query.md``) on Dask. Default:
            when a ``dask.distributed`` client is active (its workers may be other processes
            or machines); otherwise the query runs in one stage in this process, the fastest
            way for data that fits here. True forces the Dask plan (Dask's threads without a
            client), False forbids it.

        Returns
        -------
        pandas.DataFrame, or dask.dataframe.DataFrame with ``lazy=True``

        Raises
        ------
        QueryError
            Syntax errors (with line, column and a caret), unknown tables or columns (with the
            nearest name), unsupported functions (named).
        """
        if lazy:
            return self._engine.query_lazy(sql, params, as_of=as_of)
        return self._engine.query(sql, params, as_of=as_of, distributed=distributed)

    def query_pages(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_rows: int = 1000,
        as_of: object | None = None,
    ) -> Iterator[QueryPage]:
        """The result in pages of at most ``max_rows`` rows, each with a ``next_token`` (None
        on the last), like Timestream's paginated ``Query`` API.

        Examples
        --------
        >>> for page in store.query_pages("SELECT * FROM t", max_rows=500):  # doctest: +SKIP
        ...     handle(page.rows)
        """
        return self._engine.query_pages(sql, params, max_rows=max_rows, as_of=as_of)

    def explain(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """The plan of a query: each table's pruned scan and the SQL the kernel runs."""
        return self._engine.explain(sql, params)

    def clear_query_caches(self) -> None:
        """Forget cached parses and prepared plans, so that the next query is planned cold
        (benchmarks of one-off queries call this between runs)."""
        self._engine.clear_caches()

    @property
    def last_query_stats(self) -> QueryStats | None:
        """Rows and bytes scanned, the scans, and time per stage of the last query."""
        return self._engine.last_stats


def connect(
    url: str | os.PathLike[str] | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
    clock: Callable[[], pd.Timestamp] | None = None,
    database: str | None = None,
    read_only: bool = False,
    lifecycle_interval: object | None = "60s",
    wal_dir: str | os.PathLike[str] | None = None,
) -> Client:
    """Open (or create) a store.

    Parameters
    ----------
    url : str or path, optional
        A local directory or an fsspec URL (``s3://bucket/prefix``). Default: ``$TSSTORE_PATH``
        or ``./tsstore-data``, the embedded default store.
    storage_options : dict, optional
        fsspec/s3fs options for object storage (``endpoint_url``, ``key``, ``secret`` ...).
    clock : callable, optional
        Returns "now" as a tz-aware Timestamp; default the wall clock. Tests, demos and
        backfills pass their own to run on historical time.
    database : str, optional
        Default database for unqualified table names (in SQL and in ``store.table``).
    read_only : bool, default False
        Open as a reader: no writer lock, sees the writer's acknowledged writes.
    lifecycle_interval : str or None, default "60s"
        How often the background thread migrates and expires data; None disables it
        (call :meth:`Store.run_lifecycle` yourself).
    wal_dir : path, optional
        Where write-ahead logs live; default ``<root>/wal`` for local stores and a local cache
        directory for object storage (a write-ahead log needs a local disk with fsync).

    Examples
    --------
    >>> import tsstore
    >>> store = tsstore.connect("/tmp/doctest-store", lifecycle_interval=None)
    >>> db = store.create_database("factory", exist_ok=True)
    >>> store.close()
    """
    return Client(
        url,
        storage_options=storage_options,
        clock=clock,
        database=database,
        read_only=read_only,
        lifecycle_interval=lifecycle_interval,
        wal_dir=wal_dir,
    )
