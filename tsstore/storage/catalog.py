"""The store catalog: databases, tables, schemas and retention, as one versioned JSON document.

The document lives at ``<root>/catalog.json`` (format in ``docs/format.md``). It is replaced
whole on every change: on local disk through a temporary file, fsync and ``os.replace``; on
object storage by a single PUT, which S3 makes atomic. Table data live under
``<root>/tables/<table id>/``: a name never becomes a path, so no name can escape the root.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import fsspec
import pandas as pd

from tsstore.errors import CorruptDataError, FormatVersionError, StorageError, ValidationError
from tsstore.model.durations import (
    Retention,
    format_partition_duration,
    parse_partition_duration,
)
from tsstore.model.schema import TableSchema

__all__ = ["CATALOG_FORMAT_VERSION", "Catalog", "TableEntry"]

#: Version of the catalog document this tsstore writes and the newest it reads.
CATALOG_FORMAT_VERSION = 1
_KIND = "tsstore-catalog"


@dataclass(frozen=True, slots=True)
class TableEntry:
    """A table as the catalog records it.

    ``partition_duration`` is the magnetic partition width asked for at creation: None for
    ``"auto"`` (the magnetic tier chooses it from the first points it stores), else a
    duration. The width in use is the magnetic manifest's.
    """

    id: str
    name: str
    database: str
    retention: Retention
    magnetic_store_writes: bool
    schema: TableSchema = field(default_factory=TableSchema)
    created: str = ""
    bytes_ingested: int = 0
    partition_duration: pd.Timedelta | None = None

    @classmethod
    def new(
        cls,
        database: str,
        name: str,
        retention: Retention,
        magnetic_store_writes: bool,
        partition_duration: pd.Timedelta | None = None,
    ) -> TableEntry:
        return cls(
            id=uuid.uuid4().hex,
            name=name,
            database=database,
            retention=retention,
            magnetic_store_writes=magnetic_store_writes,
            created=pd.Timestamp.now(tz="UTC").isoformat(),
            partition_duration=partition_duration,
        )

    def with_(self, **changes: Any) -> TableEntry:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "memory_retention": self.retention.to_json()["memory"],
            "magnetic_retention": self.retention.to_json()["magnetic"],
            "magnetic_store_writes": self.magnetic_store_writes,
            "partition_duration": format_partition_duration(self.partition_duration),
            "schema": self.schema.to_json(),
            "bytes_ingested": self.bytes_ingested,
        }

    @classmethod
    def from_json(cls, database: str, name: str, obj: dict[str, Any]) -> TableEntry:
        try:  # absent in catalogs written before the field existed: "auto"
            partition = parse_partition_duration(obj.get("partition_duration", "auto"))
        except ValidationError as e:
            raise CorruptDataError(f"table {database}.{name} in the catalog: {e}") from e
        return cls(
            id=obj["id"],
            name=name,
            database=database,
            retention=Retention.parse(obj["memory_retention"], obj["magnetic_retention"]),
            magnetic_store_writes=bool(obj["magnetic_store_writes"]),
            schema=TableSchema.from_json(obj.get("schema", {})),
            created=obj.get("created", ""),
            bytes_ingested=int(obj.get("bytes_ingested", 0)),
            partition_duration=partition,
        )


class Catalog:
    """Reads and writes ``catalog.json`` under a store root (a local path or an fsspec URL)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, *, is_local: bool) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.path = f"{self.root}/catalog.json"
        self.is_local = is_local

    def load(self) -> dict[str, dict[str, TableEntry]]:
        """``{database: {table: entry}}``; an empty catalog when none exists yet."""
        try:
            raw = self.fs.cat_file(self.path)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StorageError(f"cannot read the catalog {self.path}: {e}") from e
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise CorruptDataError(f"the catalog {self.path} is not valid JSON: {e}") from e
        if doc.get("kind") != _KIND:
            raise CorruptDataError(f"{self.path} is not a tsstore catalog")
        version = doc.get("format_version")
        if not isinstance(version, int) or version > CATALOG_FORMAT_VERSION:
            raise FormatVersionError(
                f"the store at {self.root} has catalog format version {version}; this tsstore "
                f"reads versions up to {CATALOG_FORMAT_VERSION}: upgrade tsstore to open it"
            )
        return {
            db: {t: TableEntry.from_json(db, t, obj) for t, obj in d.get("tables", {}).items()}
            for db, d in doc.get("databases", {}).items()
        }

    def save(self, databases: dict[str, dict[str, TableEntry]]) -> None:
        """Replace the catalog atomically and durably."""
        doc = {
            "kind": _KIND,
            "format_version": CATALOG_FORMAT_VERSION,
            "databases": {
                db: {"tables": {name: e.to_json() for name, e in sorted(tables.items())}}
                for db, tables in sorted(databases.items())
            },
        }
        data = json.dumps(doc, indent=1).encode()
        try:
            if self.is_local:
                _atomic_write_local(self.path, data)
            else:
                self.fs.pipe_file(self.path, data)
        except OSError as e:
            raise StorageError(f"cannot write the catalog {self.path}: {e}") from e


def _atomic_write_local(path: str, data: bytes) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
