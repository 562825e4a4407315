"""Detect stage (anomaly models), part 5: streaming scoring — closed windows to Detections.

Neighbours: the pipeline's :class:`~pipeline.worker.EventProcessor` hands each micro-batch of
enriched ECS events to :meth:`AnomalyDetector.process` right after the Sigma detector; the
returned :class:`soc_core.models.Detection` objects go to ``soc.alerts`` with the Sigma ones, and
the API's alert sink folds them by ``dedup_key`` (one alert per model and entity).

Windows are kept by :mod:`.windows`; all windows a micro-batch closes are scored in ONE
``score_samples`` call (a call costs ~8 ms fixed: one row per call would cap the stage at ~120
windows/s, see ``soc bench anomaly``).

The event a Detection carries is the window's **last event** (a real event, already in the event
store under its ``event.id``, so the alert detail page shows it and ``soc detect`` prints it),
copied with a ``soc.anomaly`` block added: model, score, threshold, window start/end, entity,
stream, the feature values and the features that stand out most against the training data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from detections.models.features import FEATURE_NAMES, model_input
from detections.models.store import AnomalyModel
from detections.models.windows import ClosedWindow, WindowConfig, WindowTracker
from soc_core.ecs import get_field
from soc_core.models import Detection

TITLE = "Anomalous entity behaviour / Hành vi bất thường của thực thể (model {name})"
BASE_TAGS = ("soc.anomaly",)
# The feature that stands out most suggests the ATT&CK tactic of the alert.
FEATURE_TAGS: dict[str, tuple[str, ...]] = {
    "auth_failures": ("attack.credential_access", "attack.t1110"),
    "auth_failure_ratio": ("attack.credential_access", "attack.t1110"),
    "auth_events": ("attack.credential_access", "attack.t1110"),
    "distinct_user_names": ("attack.credential_access", "attack.t1110"),
    "http_post_ratio": ("attack.credential_access", "attack.t1110"),
    "distinct_destination_ports": ("attack.discovery", "attack.t1046"),
    "distinct_destinations": ("attack.discovery", "attack.t1046"),
    "distinct_url_paths": ("attack.reconnaissance", "attack.t1595"),
    "http_4xx_ratio": ("attack.reconnaissance", "attack.t1595"),
    "http_4xx": ("attack.reconnaissance", "attack.t1595"),
    "distinct_4xx_paths": ("attack.reconnaissance", "attack.t1595"),
    "distinct_url_queries": ("attack.initial_access", "attack.t1190"),
    "url_length_max": ("attack.initial_access", "attack.t1190"),
    "http_requests": ("attack.reconnaissance", "attack.t1595"),
    "http_5xx_ratio": ("attack.initial_access", "attack.t1190"),
    "bytes_sum": ("attack.exfiltration",),
}
TOP_FEATURES = 3


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# A window of one or two events is no behaviour to call anomalous: an attacker spraying many user
# names would otherwise raise one alert per name, next to the alert on its source address.
DEFAULT_MIN_EVENTS = 3


@dataclass
class AnomalyStats:
    windows_scored: int = 0
    score_calls: int = 0
    anomalies: int = 0
    too_small: int = 0  # closed windows with fewer than ``min_events`` events: not scored


class AnomalyDetector:
    """Per-entity windows scored by one model; same ``process``/``flush`` shape as the Sigma Detector."""

    def __init__(
        self,
        model: AnomalyModel,
        *,
        max_open: int | None = None,
        lateness_seconds: float | None = None,
        min_events: int = DEFAULT_MIN_EVENTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        meta = model.meta
        self.min_events = max(1, min_events)
        self.model = model
        self.name = meta.name
        self.rule_id = f"model:{meta.name}"
        config = WindowConfig(
            window_seconds=meta.window_seconds,
            lateness_seconds=meta.lateness_seconds if lateness_seconds is None else lateness_seconds,
            entity_fields=tuple(meta.entity_fields),
            auth_entity_fields=tuple(meta.auth_entity_fields),
        )
        if max_open is not None:
            config.max_open = max_open
        self.windows = WindowTracker(config, clock=clock)
        self.stats = AnomalyStats()
        self._median = np.asarray(meta.feature_median or [0.0] * len(FEATURE_NAMES), dtype=float)
        self._spread = np.asarray(meta.feature_spread or [1.0] * len(FEATURE_NAMES), dtype=float)

    def process(self, events: Sequence[dict[str, Any]]) -> list[Detection]:
        """Detections for the windows this batch of events closed (scored in one call)."""
        return self._score(self.windows.add(events))

    def flush(self) -> list[Detection]:
        """End of input: every open window is closed and scored."""
        return self._score(self.windows.flush())

    def score_windows(self, closed: Sequence[ClosedWindow]) -> np.ndarray[Any, Any]:
        """``score_samples`` of ``closed`` in ONE call (empty in, empty out)."""
        if not closed:
            return np.zeros(0)
        rows = np.asarray([model_input(w.features.row()) for w in closed], dtype=float)
        self.stats.score_calls += 1
        self.stats.windows_scored += len(closed)
        return self.model.score(rows)

    def _score(self, closed: Sequence[ClosedWindow]) -> list[Detection]:
        kept = [w for w in closed if w.features.events >= self.min_events]
        self.stats.too_small += len(closed) - len(kept)
        closed = kept
        if not closed:
            return []
        scores = self.score_windows(closed)
        threshold = self.model.meta.threshold
        out = [self._detection(w, float(s)) for w, s in zip(closed, scores, strict=True) if s < threshold]
        self.stats.anomalies += len(out)
        return out

    def _top_features(self, row: dict[str, float]) -> list[tuple[str, float]]:
        values = np.asarray(model_input(row), dtype=float)
        z = (values - self._median) / self._spread
        order = np.argsort(-z)
        return [(FEATURE_NAMES[i], float(z[i])) for i in order[:TOP_FEATURES] if z[i] > 0]

    def _detection(self, window: ClosedWindow, score: float) -> Detection:
        meta = self.model.meta
        row = window.features.row()
        top = self._top_features(row)
        tags = list(BASE_TAGS)
        if top:
            tags.extend(FEATURE_TAGS.get(top[0][0], ()))
        key = window.key
        last = window.features.last_event or {}
        event = dict(last)  # a copy: the original event is published to soc.events unchanged
        soc = dict(event["soc"]) if isinstance(event.get("soc"), dict) else {}
        soc["anomaly"] = {
            "model": meta.name,
            "score": round(score, 6),
            "threshold": round(meta.threshold, 6),
            "entity": {key.entity_field: key.entity},
            "stream": key.stream,
            "window": {"start": _iso(key.start), "end": _iso(window.end), "closed_early": window.early},
            "features": {name: round(value, 6) for name, value in row.items()},
            "top_features": [name for name, _ in top],
        }
        event["soc"] = soc
        unit = get_field(last, "soc.unit.code")
        entity = {key.entity_field: key.entity}
        return Detection(
            rule_id=self.rule_id,
            rule_title=TITLE.format(name=meta.name),
            level="high" if score < meta.high_threshold else "medium",
            tags=tuple(tags),
            event_id=str(get_field(last, "event.id") or f"{self.rule_id}:{key.entity}:{int(key.start)}"),
            timestamp=str(get_field(last, "@timestamp") or _iso(window.end)),
            unit=str(unit) if isinstance(unit, str | int) else None,
            entity=entity,
            dedup_key=f"{self.rule_id}|{key.entity_field}={key.entity}",
            event=event,
        )
