"""What every tsstore detector shares: the score convention, thresholds and alarms.

A detector is a scikit-learn estimator (``fit`` / ``score_samples`` / ``predict``,
``get_params`` / ``set_params``, ``clone``-able) whose score is an **anomaly score in [0, 1]**,
one per row, higher meaning more anomalous. Note the difference from scikit-learn's own outlier
detectors, whose ``score_samples`` is higher for *normal* points: ours follows PyOD and the
alarm you would draw, so that a threshold of 0.5 means the same thing for every detector family
(documented per detector).

``predict`` returns ``1`` for an anomalous row and ``0`` for a normal one, using the fitted
``threshold_`` (the ``threshold`` parameter, or a threshold chosen by :func:`tsstore.anomaly.
thresholds.threshold_for_budget` / :func:`~tsstore.anomaly.thresholds.threshold_from_labels`).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tsstore.errors import ValidationError

__all__ = ["Detector", "as_frame", "as_values", "squash"]


def squash(z: np.ndarray, scale: float) -> np.ndarray:
    """Map a non-negative deviation to a score in [0, 1): ``z / (z + scale)``.

    Unlike a normal CDF it never saturates to exactly 1.0 in floating point, so scores keep
    their order far into the tail (a threshold can always separate 20 sigmas from 30). A
    deviation of ``scale`` scores 0.5, an infinite one 1.0. NaN stays NaN.

    Examples
    --------
    >>> squash(np.array([0.0, 3.0, 9.0, np.inf]), 3.0).tolist()
    [0.0, 0.5, 0.75, 1.0]
    """
    z = np.abs(np.asarray(z, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        out = z / (z + scale)
    out[np.isposinf(z)] = 1.0
    return out


def as_values(x: Any, what: str = "x") -> np.ndarray:
    """A 1-D float64 array from an array, Series or one-column DataFrame (a copy only if needed)."""
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise ValidationError(
                f"{what} has {x.shape[1]} columns {list(x.columns)[:5]}; a univariate detector "
                "scores one series: pass one column (df['value']) or use a multivariate detector"
            )
        x = x.iloc[:, 0]
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} must be numbers; found {e}") from e
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValidationError(
            f"{what} has shape {arr.shape}; a univariate detector scores one series (1-D): "
            "pass one column or use a multivariate detector"
        )
    return arr


def as_frame(X: Any, what: str = "X") -> pd.DataFrame:
    """A DataFrame of float columns, rows in time order (names ``x0, x1, ...`` for arrays)."""
    if isinstance(X, pd.DataFrame):
        df = X
    else:
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValidationError(f"{what} has shape {arr.shape}; expected rows x measures (2-D)")
        df = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValidationError(
            f"{what} has non-numeric columns {bad}; detectors score measures: drop or "
            "encode them (dimensions go in detect(..., by=...))"
        )
    return df.astype(np.float64, copy=False)


class Detector(BaseEstimator, metaclass=ABCMeta):  # type: ignore[misc]
    """Base class of tsstore's detectors: anomaly scores in [0, 1], ``predict`` by threshold.

    Subclasses implement ``fit`` and ``score_samples`` (an abstract method: a subclass without
    it cannot be instantiated); ``threshold`` is a parameter of every detector (default 0.5).
    """

    threshold: float

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise ValidationError(
                f"{type(self).__name__} is not fitted yet: call fit(X) first (on normal data)"
            )

    @property
    def threshold_(self) -> float:
        """The score at or above which ``predict`` reports an anomaly."""
        return float(self.threshold)

    @abstractmethod
    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score in [0, 1] per row (NaN where the detector cannot score yet)."""

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows whose score reaches ``threshold_``, 0 otherwise (NaN scores are 0)."""
        s = self.score_samples(X)
        return (np.nan_to_num(s, nan=0.0) >= self.threshold_).astype(np.int8)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).predict(X)``."""
        return self.fit(X, y).predict(X)  # type: ignore[no-any-return, attr-defined]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        return tags
