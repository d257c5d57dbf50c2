"""The one error hierarchy of tsstore.

Every error a user can see derives from :class:`TsstoreError`. Messages name the thing, what was
expected, what was found, and the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExistsError",
    "ConcurrencyError",
    "CorruptDataError",
    "FormatVersionError",
    "NotEmptyError",
    "NotFoundError",
    "QueryError",
    "RejectedRecordsError",
    "StorageError",
    "TsstoreError",
    "ValidationError",
]


class TsstoreError(Exception):
    """Base class of every error raised by tsstore."""


class ValidationError(TsstoreError, ValueError):
    """Input that tsstore refuses: a bad name, a bad retention, a bad row or record.

    A validation error never changes what is already stored.
    """


class RejectedRecordsError(ValidationError):
    """Some records of a write were rejected (raised only on request; see ``errors="raise"``).

    Attributes
    ----------
    rejected_records : list of dict
        Timestream-shaped rejections: ``{"RecordIndex", "Reason", "ExistingVersion"}``.
    """

    def __init__(self, message: str, rejected_records: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rejected_records = rejected_records


class NotFoundError(TsstoreError, KeyError):
    """A database, table, column or snapshot that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(TsstoreError):
    """A database or table that already exists (pass ``exist_ok=True`` to reuse it)."""


class NotEmptyError(TsstoreError):
    """A database that still holds tables cannot be deleted."""


class ConcurrencyError(TsstoreError):
    """Another process holds the store's writer lock."""


class StorageError(TsstoreError, OSError):
    """The store's files or objects cannot be read or written."""


class CorruptDataError(StorageError):
    """Stored bytes fail their checksum or do not follow the documented format."""


class FormatVersionError(StorageError):
    """The store was written by a newer (or unknown) format version than this tsstore reads."""


class QueryError(TsstoreError):
    """A query that cannot be answered."""
