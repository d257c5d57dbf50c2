"""Timestream's time-series functions for the DuckDB kernel (being written)."""

from __future__ import annotations

import duckdb

__all__ = ["install"]


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Register the time-series functions on ``con``."""
