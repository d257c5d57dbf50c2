"""Durations and retention periods (``"12h"``, ``"3650d"``, ``pd.Timedelta``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from tsstore.errors import ValidationError

__all__ = [
    "MAGNETIC_RETENTION_BOUNDS",
    "MEMORY_RETENTION_BOUNDS",
    "Retention",
    "format_duration",
    "parse_duration",
    "to_utc_timestamp",
]

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)\s*$")

#: Timestream's bounds on the memory store retention.
MEMORY_RETENTION_BOUNDS = (pd.Timedelta(hours=1), pd.Timedelta(hours=8766))
#: Timestream's bounds on the magnetic store retention.
MAGNETIC_RETENTION_BOUNDS = (pd.Timedelta(days=1), pd.Timedelta(days=73000))


def parse_duration(value: object, what: str = "duration") -> pd.Timedelta:
    """Parse ``"15m"``, ``"12h"``, ``"3650d"``, ``"500ms"`` or a timedelta into a Timedelta.

    Examples
    --------
    >>> parse_duration("90s")
    Timedelta('0 days 00:01:30')
    """
    if isinstance(value, pd.Timedelta | timedelta | np.timedelta64):
        return pd.Timedelta(value)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return pd.Timedelta(int(float(m.group(1)) * _UNITS[m.group(2)]), unit="ns")
    raise ValidationError(
        f"{what} {value!r} is not a duration; write it as a number and a unit "
        "(ns, us, ms, s, m, h, d), e.g. '12h' or '3650d'"
    )


def format_duration(td: pd.Timedelta) -> str:
    """The shortest exact ``<n><unit>`` spelling of a duration (``"12h"``, ``"3650d"``)."""
    ns = int(td.value)
    for unit in ("d", "h", "m", "s", "ms", "us"):
        if ns % _UNITS[unit] == 0:
            return f"{ns // _UNITS[unit]}{unit}"
    return f"{ns}ns"


def to_utc_timestamp(value: object, what: str = "time") -> pd.Timestamp:
    """Any time-like value as a tz-aware UTC Timestamp; tz-naive values are taken as UTC."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} {value!r} is not a time: {e}") from e
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
        return {"memory": format_duration(self.memory), "magnetic": format_duration(self.magnetic)}
