"""Predictive maintenance on top of the store: anomaly detectors, remaining useful life,
thresholds, alarms grouped into events, and scoring a fleet with Dask (:func:`detect`).

See ``docs/anomaly.md``.
"""

from __future__ import annotations

from tsstore.anomaly.alarms import events, threshold_for_budget, threshold_from_labels
from tsstore.anomaly.autoencoder import AutoencoderDetector
from tsstore.anomaly.base import Detector
from tsstore.anomaly.detect import DetectResult, detect, score_frame
from tsstore.anomaly.features import window_features
from tsstore.anomaly.multivariate import (
    SKAB_CONFIG,
    IsolationForestDetector,
    OneClassDetector,
    PCADetector,
    skab_preset,
)
from tsstore.anomaly.persist import load_model, save_model
from tsstore.anomaly.rul import RULRegressor
from tsstore.anomaly.univariate import (
    ForecastResidual,
    NoveltyDetector,
    RollingZScore,
    SeasonalResidual,
)

__all__ = [
    "SKAB_CONFIG",
    "AutoencoderDetector",
    "DetectResult",
    "Detector",
    "ForecastResidual",
    "IsolationForestDetector",
    "NoveltyDetector",
    "OneClassDetector",
    "PCADetector",
    "RULRegressor",
    "RollingZScore",
    "SeasonalResidual",
    "detect",
    "events",
    "load_model",
    "save_model",
    "score_frame",
    "skab_preset",
    "threshold_for_budget",
    "threshold_from_labels",
    "window_features",
]
