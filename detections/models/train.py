"""Detect stage (anomaly models), part 4: training — feature rows from events, IsolationForest fit.

Neighbours: ``soc models train`` (and ``soc up --demo``) read and parse log files with the same
readers and parsers as ``soc detect`` and hand the ECS events here; :mod:`.windows` cuts them
into per-entity windows (offline: everything is kept until the end, so file order does not
matter); the fitted :class:`~.store.AnomalyModel` goes to :func:`~.store.save_model`.

The model is ``Pipeline([("forest", IsolationForest)])``: no scaler, because a tree ensemble is
invariant to per-feature scaling; the heavy-tailed counts are log1p-compressed by
:func:`~.features.model_input` instead. The alert threshold is the ``contamination`` quantile of
the training rows' ``score_samples``; level "high" starts below the lowest training score.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sklearn
import skops
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline

from detections.models.features import FEATURE_NAMES, FEATURES_VERSION, model_input
from detections.models.store import AnomalyModel, ModelMeta
from detections.models.windows import ClosedWindow, WindowConfig, WindowTracker
from soc_core.errors import ModelError

CHUNK = 5000
MIN_ROWS = 20


@dataclass
class FeatureRows:
    """Windows cut from a stream of events, and their model-input matrix."""

    windows: list[ClosedWindow] = field(default_factory=list)
    events: int = 0
    late_dropped: int = 0

    def matrix(self) -> np.ndarray[Any, Any]:
        return rows_matrix(self.windows)


def rows_matrix(windows: Iterable[ClosedWindow]) -> np.ndarray[Any, Any]:
    rows = [model_input(w.features.row()) for w in windows]
    return np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def feature_rows(events: Iterable[dict[str, Any]], config: WindowConfig | None = None) -> FeatureRows:
    """Every window of ``events`` (offline: no lateness limit, no cap, all closed at the end)."""
    base = config or WindowConfig()
    offline = WindowConfig(
        window_seconds=base.window_seconds,
        lateness_seconds=float("inf"),
        max_open=10_000_000,
        entity_fields=base.entity_fields,
        auth_entity_fields=base.auth_entity_fields,
    )
    tracker = WindowTracker(offline)
    out = FeatureRows()
    chunk: list[dict[str, Any]] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= CHUNK:
            out.windows.extend(tracker.add(chunk))
            chunk = []
    out.windows.extend(tracker.add(chunk))
    out.windows.extend(tracker.flush())
    out.events, out.late_dropped = tracker.events, tracker.late_dropped
    return out


def fit(
    x: np.ndarray[Any, Any],
    *,
    name: str,
    training_events: int = 0,
    config: WindowConfig | None = None,
    contamination: float = 0.01,
    trees: int = 100,
    random_state: int = 0,
    sources: Iterable[str] = (),
) -> AnomalyModel:
    """Fit an IsolationForest on the model-input matrix ``x`` (rows of :func:`rows_matrix`) and choose
    the thresholds; :class:`ModelError` when there are too few rows."""
    config = config or WindowConfig()
    if not 0.0 < contamination < 0.5:
        raise ModelError(f"contamination must be in (0, 0.5), got {contamination}")
    if trees < 1:
        raise ModelError(f"trees must be >= 1, got {trees}")
    if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES):
        raise ModelError(f"feature matrix must have {len(FEATURE_NAMES)} columns, got shape {x.shape}")
    if len(x) < MIN_ROWS:
        raise ModelError(f"only {len(x)} feature rows (windows) in the input; need at least {MIN_ROWS}")
    pipeline = Pipeline(
        [("forest", IsolationForest(n_estimators=trees, contamination="auto", random_state=random_state, n_jobs=1))]
    )
    pipeline.fit(x)
    scores = np.asarray(pipeline.score_samples(x), dtype=float)
    q25, median, q75 = np.percentile(x, [25, 50, 75], axis=0)
    spread = np.maximum(q75 - q25, np.maximum(np.std(x, axis=0), 1e-3))
    meta = ModelMeta(
        name=name,
        features_version=FEATURES_VERSION,
        features=list(FEATURE_NAMES),
        window_seconds=config.window_seconds,
        lateness_seconds=config.lateness_seconds,
        entity_fields=list(config.entity_fields),
        auth_entity_fields=list(config.auth_entity_fields),
        threshold=float(np.quantile(scores, contamination)),
        high_threshold=float(scores.min()),
        contamination=contamination,
        trees=trees,
        training_rows=len(x),
        training_events=training_events,
        sklearn_version=sklearn.__version__,
        skops_version=skops.__version__,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        random_state=random_state,
        feature_median=[float(v) for v in median],
        feature_spread=[float(v) for v in spread],
        sources=list(sources),
    )
    return AnomalyModel(meta, pipeline)


def train(
    events: Iterable[dict[str, Any]],
    *,
    name: str,
    config: WindowConfig | None = None,
    contamination: float = 0.01,
    trees: int = 100,
    random_state: int = 0,
    sources: Iterable[str] = (),
) -> tuple[AnomalyModel, float]:
    """Feature rows of ``events`` then :func:`fit`; returns the model and the fit time in seconds."""
    rows = feature_rows(events, config)
    started = time.perf_counter()
    model = fit(
        rows.matrix(),
        name=name,
        training_events=rows.events,
        config=config,
        contamination=contamination,
        trees=trees,
        random_state=random_state,
        sources=sources,
    )
    return model, time.perf_counter() - started
