"""Names of databases, tables, dimensions and measures, checked as Timestream checks them."""

from __future__ import annotations

import re

from tsstore.errors import ValidationError

__all__ = [
    "RESERVED_COLUMNS",
    "validate_column_name",
    "validate_resource_name",
]

_RESOURCE_CHAR = re.compile(r"[a-zA-Z0-9_.\-]")
#: Column names a dimension or measure may not take (compared case-insensitively).
RESERVED_COLUMNS = frozenset({"time", "measure_name", "measure_value"})
#: Prefixes a measure name may not start with (case-insensitively): ``measure_value::double``
#: and its kin are the columns of single-measure records.
_RESERVED_PREFIXES = ("ts_", "measure_value::")
#: Timestream refuses every dimension name starting with ``measure_value``.
_DIMENSION_RESERVED_PREFIXES = ("ts_", "measure_value")

DATABASE_NAME_MAX = 256
TABLE_NAME_MAX = 256
DIMENSION_NAME_MAX = 60
MEASURE_NAME_MAX = 256


def validate_resource_name(name: object, kind: str) -> str:
    """Check a database or table name; return it.

    Names are 3 to 256 characters of ``[a-zA-Z0-9_.-]`` as in Timestream, and can never name a
    path outside the store: ``.`` and ``..`` are refused.

    Examples
    --------
    >>> validate_resource_name("iot", "database")
    'iot'
    """
    if not isinstance(name, str):
        raise ValidationError(f"{kind} name must be a string, got {type(name).__name__}")
    limit = DATABASE_NAME_MAX if kind == "database" else TABLE_NAME_MAX
    if not 3 <= len(name) <= limit:
        raise ValidationError(
            f"{kind} name {name!r} has {len(name)} characters; use 3 to {limit} characters"
        )
    bad = sorted({c for c in name if not _RESOURCE_CHAR.fullmatch(c)})
    if bad:
        raise ValidationError(
            f"{kind} name {name!r} contains {''.join(bad)!r}; "
            "use only letters, digits, '_', '.' and '-'"
        )
    if set(name) == {"."}:
        raise ValidationError(f"{kind} name {name!r} is not allowed: it would name a directory")
    return name


def validate_column_name(name: object, kind: str) -> str:
    """Check a dimension or measure name; return it.

    Reserved names (``time``, ``measure_name``, ``measure_value`` and any name starting with
    ``ts_`` or ``measure_value::``) are refused, as are empty names and names over Timestream's
    length limits (60 bytes for a dimension, 256 for a measure, UTF-8). A dimension name may not
    contain ``:``, as in Timestream.

    Examples
    --------
    >>> validate_column_name("device_id", "dimension")
    'device_id'
    """
    if not isinstance(name, str):
        raise ValidationError(f"{kind} name must be a string, got {name!r}")
    limit = DIMENSION_NAME_MAX if kind == "dimension" else MEASURE_NAME_MAX
    if not name:
        raise ValidationError(f"{kind} name is empty; give every {kind} a name")
    if len(name.encode()) > limit:
        raise ValidationError(
            f"{kind} name {name[:40]!r}... is {len(name.encode())} bytes long; "
            f"the limit is {limit} bytes"
        )
    low = name.lower()
    prefixes = _DIMENSION_RESERVED_PREFIXES if kind == "dimension" else _RESERVED_PREFIXES
    if low in RESERVED_COLUMNS or low.startswith(prefixes):
        if kind == "dimension":  # "measure_value_value" would be reserved again
            fix = "d_" + name.replace(":", "_")
        else:
            fix = name + "_value" if low in RESERVED_COLUMNS else "m_" + name
        raise ValidationError(
            f"{kind} name {name!r} is reserved (time, measure_name, measure_value and names "
            f"starting with {' or '.join(repr(p) for p in prefixes)} are); rename the column, "
            f"e.g. to {fix!r}"
        )
    if kind == "dimension" and ":" in name:
        raise ValidationError(
            f"dimension name {name!r} contains ':'; Timestream's dimension names cannot: "
            f"rename it, e.g. to {name.replace(':', '_')!r}"
        )
    return name
