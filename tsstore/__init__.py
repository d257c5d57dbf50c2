"""tsstore: Amazon Timestream's data model in a notebook, with no server and no bill.

A store holds databases, a database holds tables, a table holds time series. Recent points live
in RAM (the memory tier, xarray); history lives as Blosc-compressed Zarr v3 committed through
icechunk (the magnetic tier), on local disk or object storage.

Examples
--------
>>> import tsstore
>>> store = tsstore.connect("/tmp/doctest-quickstart", lifecycle_interval=None)
>>> db = store.create_database("iot", exist_ok=True)
>>> table = db.create_table("metrics", memory_retention="12h", exist_ok=True)
>>> store.close()
"""

from __future__ import annotations

import tsstore.accessor  # noqa: F401  (registers the df.ts and ds.ts accessors)
from tsstore.client import Client, connect
from tsstore.errors import (
    AlreadyExistsError,
    ConcurrencyError,
    CorruptDataError,
    FormatVersionError,
    NotEmptyError,
    NotFoundError,
    QueryError,
    RejectedRecordsError,
    StorageError,
    TsstoreError,
    ValidationError,
)
from tsstore.query.progress import ProgressBar
from tsstore.storage.store import Database, Store
from tsstore.storage.table import Table, WriteResult

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext tsstore``: the ``%tsql`` / ``%%tsql`` magic (see :mod:`tsstore.magic`)."""
    from tsstore.magic import load_ipython_extension as load

    load(ipython)  # type: ignore[arg-type]


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext tsstore``: close the store the magic opened."""
    from tsstore.magic import unload_ipython_extension as unload

    unload(ipython)  # type: ignore[arg-type]


__all__ = [
    "AlreadyExistsError",
    "Client",
    "ConcurrencyError",
    "CorruptDataError",
    "Database",
    "FormatVersionError",
    "NotEmptyError",
    "NotFoundError",
    "ProgressBar",
    "QueryError",
    "RejectedRecordsError",
    "StorageError",
    "Store",
    "Table",
    "TsstoreError",
    "ValidationError",
    "WriteResult",
    "__version__",
    "connect",
    "load_ipython_extension",
    "unload_ipython_extension",
]
