"""Windowed features per machine: what the multivariate detectors and the RUL model learn from.

Every feature of row ``i`` is computed from the trailing window of rows ``i - window + 1 .. i``
(causal: a feature never looks ahead, so scores computed in a stream equal scores computed on the
whole history). Rows must be one machine's readings in time order; rows before a full window are
NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tsstore.anomaly.base import as_frame
from tsstore.errors import ValidationError

__all__ = ["STATS", "window_features"]

#: The rolling statistics :func:`window_features` knows.
STATS = ("mean", "std", "min", "max", "slope", "last")


def _slope(x: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope per row over the trailing window (a linear filter: one convolution)."""
    k = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
    kernel = k / np.sum(k * k)
    out = np.full(x.shape, np.nan)
    if len(x) >= window:
        # convolve flips its kernel: the newest row of the window meets the largest weight
        out[window - 1 :] = np.convolve(x, kernel[::-1], mode="valid")
    return out


def _band_energy(x: np.ndarray, window: int, bands: int) -> np.ndarray:
    """Spectral energy of the trailing window in ``bands`` equal bands of frequency (DC left out).

    Returns shape (rows, bands); rows before a full window are NaN.
    """
    out = np.full((len(x), bands), np.nan)
    if len(x) < window:
        return out
    win = sliding_window_view(x, window)
    win = win - win.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(win * np.hanning(window), axis=1)) ** 2
    edges = np.linspace(1, power.shape[1], bands + 1).round().astype(int)
    for b in range(bands):
        lo, hi = edges[b], max(edges[b + 1], edges[b] + 1)
        out[window - 1 :, b] = power[:, lo:hi].sum(axis=1) / window
    return out


def window_features(
    X: Any,
    window: int,
    *,
    stats: Sequence[str] = ("mean", "std", "min", "max", "slope"),
    bands: int = 0,
    band_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rolling features of each measure over the trailing ``window`` rows.

    Parameters
    ----------
    X : DataFrame or 2-D array
        One machine's readings, rows in time order, one column per measure.
    window : int
        Rows per window (at least 2).
    stats : sequence of str
        Any of ``mean, std, min, max, slope, last`` (``slope`` is the least-squares trend per
        row; ``last`` is the reading itself).
    bands : int, default 0
        With ``bands > 0``, also the spectral energy of each window in that many equal
        frequency bands (Hann window, mean removed): the vibration features.
    band_columns : sequence of str, optional
        The measures to take bands of (default: every measure).

    Returns
    -------
    DataFrame
        Same index as ``X``; columns ``"<measure>__<stat>"`` and ``"<measure>__band<k>"``.
        Rows before the first full window are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"v": [1.0, 2.0, 3.0, 5.0]})
    >>> window_features(df, 3, stats=("mean", "slope")).round(3).to_dict("list")
    {'v__mean': [nan, nan, 2.0, 3.333], 'v__slope': [nan, nan, 1.0, 1.5]}
    """
    if int(window) != window or window < 2:
        raise ValidationError(f"window={window!r}: a window holds at least 2 rows (an integer)")
    window = int(window)
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ValidationError(f"unknown stats {unknown}; choose from {list(STATS)}")
    df = as_frame(X)
    roll = df.rolling(window, min_periods=window)
    parts: dict[str, np.ndarray | pd.Series] = {}
    computed = {s: getattr(roll, s)() for s in ("mean", "std", "min", "max") if s in stats}
    for col in df.columns:
        for s in stats:
            key = f"{col}__{s}"
            if s == "slope":
                parts[key] = _slope(df[col].to_numpy(), window)
            elif s == "last":
                parts[key] = df[col].to_numpy()
            else:
                parts[key] = computed[s][col].to_numpy()
    if bands:
        cols = list(df.columns) if band_columns is None else list(band_columns)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValidationError(
                f"band_columns {missing} are not measures of X: {list(df.columns)}"
            )
        for col in cols:
            energy = _band_energy(df[col].to_numpy(), window, bands)
            for b in range(bands):
                parts[f"{col}__band{b}"] = energy[:, b]
    return pd.DataFrame(parts, index=df.index)
