"""Detect stage (anomaly models), part 3: model files — skops serialisation, metadata, safe loading.

Neighbours: :mod:`.train` builds an :class:`AnomalyModel` and :func:`save_model` writes it;
:mod:`.detector` (the worker, ``soc detect --model``) and ``soc models info`` call :func:`load_model`.

A model file is a skops archive (a zip of JSON schema plus numpy arrays; no pickle) holding a dict:
``{"format": "soc-anomaly-model", "meta": {...}, "pipeline": <sklearn Pipeline>}``. Loading first
lists the file's types with ``skops.io.get_untrusted_types`` and refuses anything beyond
:data:`TRUSTED_TYPES` (the one type skops does not trust by default that an IsolationForest
needs); no code from the file runs. Every failure is a :class:`soc_core.errors.ModelError`.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio

from detections.models.features import FEATURE_NAMES, FEATURES_VERSION
from soc_core.errors import ModelError

FORMAT = "soc-anomaly-model"
FORMAT_VERSION = 1
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass
class ModelMeta:
    """What a model file records besides the estimator (printed by ``soc models info``)."""

    name: str
    features_version: str
    features: list[str]
    window_seconds: float
    lateness_seconds: float
    entity_fields: list[str]
    auth_entity_fields: list[str]
    threshold: float  # score_samples below this: anomalous (quantile ``contamination`` of training scores)
    high_threshold: float  # below this (the lowest training score): level "high"
    contamination: float
    trees: int
    training_rows: int
    training_events: int
    sklearn_version: str
    skops_version: str
    trained_at: str
    random_state: int
    feature_median: list[float] = field(default_factory=list)  # per feature, model-input scale
    feature_spread: list[float] = field(default_factory=list)  # interquartile range (> 0)
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnomalyModel:
    meta: ModelMeta
    pipeline: Any  # sklearn.pipeline.Pipeline ending in an IsolationForest

    def score(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``score_samples`` of ``rows`` in ONE call (lower: more anomalous)."""
        return np.asarray(self.pipeline.score_samples(rows), dtype=float)


def save_model(model: AnomalyModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": model.meta.as_dict(),
        "pipeline": model.pipeline,
    }
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED)
    tmp.replace(path)


def _meta(raw: Any, source: str) -> ModelMeta:
    if not isinstance(raw, dict):
        raise ModelError("model metadata missing", source=source)
    try:
        meta = ModelMeta(**raw)
    except TypeError as exc:
        raise ModelError(f"model metadata unreadable: {exc}", source=source) from exc
    if not all(isinstance(v, float | int) and math.isfinite(v) for v in (meta.threshold, meta.high_threshold)):
        raise ModelError("model thresholds are not numbers", source=source)
    return meta


def load_model(path: Path, *, check_features: bool = True) -> AnomalyModel:
    """Load a model file written by :func:`save_model`; :class:`ModelError` when it is anything else.

    ``check_features`` (default) refuses a model trained on another feature list than this
    code's (:data:`~.features.FEATURES_VERSION`); ``soc models info`` reads such files anyway.
    """
    source = str(path)
    if not path.is_file():
        raise ModelError("model file not found", source=source)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelError(f"model file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", source=source)
    if not zipfile.is_zipfile(path):
        raise ModelError("not a skops model file (pickle and other formats are refused)", source=source)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"not a readable skops model file: {exc}", source=source) from exc
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelError(f"model file holds untrusted types, refused: {', '.join(unexpected)}", source=source)
    try:
        payload = sio.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelError(f"model file could not be loaded: {exc}", source=source) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"not a {FORMAT} file", source=source)
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"model format version {payload.get('format_version')!r} not supported", source=source)
    meta = _meta(payload.get("meta"), source)
    pipeline = payload.get("pipeline")
    if not callable(getattr(pipeline, "score_samples", None)):
        raise ModelError("model file holds no scoring estimator", source=source)
    if check_features and (meta.features_version != FEATURES_VERSION or list(meta.features) != list(FEATURE_NAMES)):
        raise ModelError(
            f"model expects feature list version {meta.features_version} ({len(meta.features)} features); "
            f"this SOC computes version {FEATURES_VERSION} ({len(FEATURE_NAMES)} features): retrain it "
            "with `soc models train`",
            source=source,
        )
    return AnomalyModel(meta, pipeline)
