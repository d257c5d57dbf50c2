"""Durations and retention periods (``"12h"``, ``"3650d"``, ``pd.Timedelta``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from tsstore.errors import ValidationError

__all__ = [
    "AUTO",
    "MAGNETIC_RETENTION_BOUNDS",
    "MEMORY_RETENTION_BOUNDS",
    "PARTITION_DURATION_BOUNDS",
    "Retention",
    "format_duration",
    "format_partition_duration",
    "parse_duration",
    "parse_partition_duration",
    "to_utc_timestamp",
]

_UNITS = {
    "min": 60 * 1_000_000_000,  # pandas' spelling of minutes ("10min")
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|min|s|m|h|d)\s*", re.ASCII)
_MAX_NS = np.iinfo(np.int64).max

#: Timestream's bounds on the memory store retention.
MEMORY_RETENTION_BOUNDS = (pd.Timedelta(hours=1), pd.Timedelta(hours=8766))
#: Timestream's bounds on the magnetic store retention.
MAGNETIC_RETENTION_BOUNDS = (pd.Timedelta(days=1), pd.Timedelta(days=73000))
#: Bounds on a table's explicit magnetic partition width (``partition_duration``).
PARTITION_DURATION_BOUNDS = (pd.Timedelta(hours=1), pd.Timedelta(days=366))
#: ``partition_duration="auto"``: the magnetic tier chooses the width from the data.
AUTO = "auto"


def parse_duration(value: object, what: str = "duration") -> pd.Timedelta:
    """Parse ``"15m"`` (or ``"15min"``), ``"12h"``, ``"3650d"``, ``"500ms"`` or a timedelta.

    Raises
    ------
    ValidationError
        Not a number and a unit, a fraction of a nanosecond, NaT, or over about 292 years.

    Examples
    --------
    >>> parse_duration("90s")
    Timedelta('0 days 00:01:30')
    """
    if isinstance(value, pd.Timedelta | timedelta | np.timedelta64):
        try:
            td = pd.Timedelta(value)
        except (OverflowError, ValueError) as e:
            raise ValidationError(f"{what} {value!r} is out of range: {e}") from e
        if td is pd.NaT:
            raise ValidationError(f"{what} is NaT; give a duration such as '12h' or '3650d'")
        return td
    if isinstance(value, str):
        m = _DURATION_RE.fullmatch(value)
        if m:
            # Exact decimal arithmetic: "1.1h" is 3_960_000_000_000 ns, not a float's guess.
            ns = Decimal(m.group(1)) * _UNITS[m.group(2)]
            if ns != ns.to_integral_value():
                raise ValidationError(
                    f"{what} {value!r} is not a whole number of nanoseconds; use fewer decimals"
                )
            if ns > _MAX_NS:
                raise ValidationError(
                    f"{what} {value!r} is too long; durations are at most {_MAX_NS // _UNITS['d']}d"
                )
            return pd.Timedelta(int(ns), unit="ns")
    raise ValidationError(
        f"{what} {value!r} is not a duration; write it as a number and a unit "
        "(ns, us, ms, s, m or min, h, d), e.g. '12h' or '3650d'"
    )


def format_duration(td: pd.Timedelta, unit: str | None = None) -> str:
    """The shortest exact ``<n><unit>`` spelling of a duration (``"12h"``, ``"3650d"``).

    With ``unit``, that unit is used whenever it is exact (``format_duration(1 day, "h")`` is
    ``"24h"``, as Timestream counts memory retention in hours).

    Examples
    --------
    >>> format_duration(pd.Timedelta(hours=36))
    '36h'
    >>> format_duration(pd.Timedelta(days=1), "h")
    '24h'
    """
    ns = int(td.value)
    if unit is not None and ns % _UNITS[unit] == 0:
        return f"{ns // _UNITS[unit]}{unit}"
    for unit in ("d", "h", "m", "s", "ms", "us"):
        if ns % _UNITS[unit] == 0:
            return f"{ns // _UNITS[unit]}{unit}"
    return f"{ns}ns"


def parse_partition_duration(value: object) -> pd.Timedelta | None:
    """Parse a table's ``partition_duration``: ``"auto"`` (None) or a duration of 1 h to 366 d.

    Raises
    ------
    ValidationError
        Neither ``"auto"`` nor a duration, or a duration out of bounds.

    Examples
    --------
    >>> parse_partition_duration("7d")
    Timedelta('7 days 00:00:00')
    >>> parse_partition_duration("auto") is None
    True
    """
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return None
    if not isinstance(value, str | pd.Timedelta | timedelta | np.timedelta64):
        raise ValidationError(
            f"partition_duration {value!r} is not 'auto' or a duration; write 'auto' (the "
            "default: chosen from the data) or a width such as '1d', '7d' or '12h'"
        )
    td = parse_duration(value, "partition_duration")
    lo, hi = PARTITION_DURATION_BOUNDS
    if not lo <= td <= hi:
        raise ValidationError(
            f"partition_duration {format_duration(td)} is out of bounds; choose between "
            f"{format_duration(lo)} and {format_duration(hi)} (e.g. '1d' for dense tables, "
            "'30d' for sparse ones), or 'auto'"
        )
    return td


def format_partition_duration(td: pd.Timedelta | None) -> str:
    """``"auto"`` for None, else the duration's shortest spelling (``"7d"``, ``"12h"``)."""
    return AUTO if td is None else format_duration(td)


def to_utc_timestamp(value: object, what: str = "time") -> pd.Timestamp:
    """Any time-like value as a tz-aware UTC Timestamp in nanoseconds; tz-naive values are
    taken as UTC.

    Raises
    ------
    ValidationError
        Not a time, NaT, or outside the nanosecond range (1677-09-22 .. 2262-04-11).

    Examples
    --------
    >>> to_utc_timestamp("2024-01-01 09:00+09:00")
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    """
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
        if ts is not pd.NaT:
            ts = ts.as_unit("ns")
    except (TypeError, ValueError, OverflowError) as e:
        raise ValidationError(
            f"{what} {value!r} is not a time tsstore stores (UTC nanoseconds from 1677-09-22 "
            f"to 2262-04-11): {e}"
        ) from e
    if ts is pd.NaT:
        raise ValidationError(f"{what} is NaT; give a real time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _check_bounds(td: pd.Timedelta, bounds: tuple[pd.Timedelta, pd.Timedelta], what: str) -> None:
    lo, hi = bounds
    if not lo <= td <= hi:
        raise ValidationError(
            f"{what} {format_duration(td)} is out of bounds; "
            f"choose between {format_duration(lo)} and {format_duration(hi)}"
        )


@dataclass(frozen=True, slots=True)
class Retention:
    """A table's retention policy.

    Parameters
    ----------
    memory : pd.Timedelta
        How long points stay in the memory tier (1 h to 8766 h; Timestream's default 6 h).
    magnetic : pd.Timedelta
        How long points stay in the magnetic tier after that (1 d to 73000 d).
    """

    memory: pd.Timedelta
    magnetic: pd.Timedelta

    @classmethod
    def parse(cls, memory: object = "6h", magnetic: object = "73000d") -> Retention:
        """Parse and bound-check both periods."""
        mem = parse_duration(memory, "memory_retention")
        mag = parse_duration(magnetic, "magnetic_retention")
        _check_bounds(mem, MEMORY_RETENTION_BOUNDS, "memory_retention")
        _check_bounds(mag, MAGNETIC_RETENTION_BOUNDS, "magnetic_retention")
        return cls(mem, mag)

    def to_json(self) -> dict[str, str]:
        """Both periods in Timestream's units where exact: memory in hours, magnetic in days."""
        return {
            "memory": format_duration(self.memory, "h"),
            "magnetic": format_duration(self.magnetic, "d"),
        }
