"""Anomaly models for the detect stage: per-entity window features scored by scikit-learn.

Neighbours: the pipeline's detect stage (:mod:`pipeline.worker`) runs :class:`AnomalyDetector`
next to the Sigma :class:`detections.sigma.Detector`; ``soc models train`` builds model files.
Modules: :mod:`.features` (feature list, per-window counters), :mod:`.windows` (tumbling windows,
bounded memory), :mod:`.train` (IsolationForest fit, thresholds), :mod:`.store` (skops files,
safe loading), :mod:`.detector` (streaming scoring to Detections).
"""

from detections.models.detector import AnomalyDetector
from detections.models.features import FEATURE_NAMES, FEATURES, FEATURES_VERSION
from detections.models.store import AnomalyModel, ModelMeta, load_model, save_model
from detections.models.train import feature_rows, fit, train
from detections.models.windows import WindowConfig, WindowTracker

__all__ = [
    "FEATURES",
    "FEATURES_VERSION",
    "FEATURE_NAMES",
    "AnomalyDetector",
    "AnomalyModel",
    "ModelMeta",
    "WindowConfig",
    "WindowTracker",
    "feature_rows",
    "fit",
    "load_model",
    "save_model",
    "train",
]
