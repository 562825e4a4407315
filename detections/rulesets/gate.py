"""Detect stage with rule operations applied: only enabled rules alert, state reloaded on change.

Neighbours: the pipeline worker (:mod:`pipeline.worker`) calls :meth:`ActiveDetector.process` per
batch exactly as it would call :class:`detections.sigma.Detector`; ``soc rules enable|disable``
and the API change ``rules-state.yml``, which this class re-reads when its mtime changes. An
optional ``observer`` (the worker's per-rule statistics, :mod:`pipeline.rule_stats`) sees every
batch with the detections that were kept.

When only per-rule flags change, the loaded rules stay and detections of disabled rules are
dropped at once. When the set of files to load changes (a folder disabled or enabled, a rule
enabled again whose file had been left out), the rule set is reloaded; correlation state starts
afresh then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from detections.rulesets.state import RuleState, active_rule_files
from detections.sigma import Detector, RuleInfo, RuleSet, settle_heap
from detections.sigma.values import Placeholders
from soc_core.errors import ConfigError
from soc_core.models import Detection

log = logging.getLogger(__name__)

Observer = Callable[[Sequence[dict[str, Any]], Sequence[Detection]], None]


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


class ActiveDetector(Detector):
    """A :class:`Detector` over the enabled rules of ``paths`` under the state file ``state_file``."""

    def __init__(
        self,
        paths: Sequence[Path],
        state_file: Path | None,
        *,
        observer: Observer | None = None,
        check_every_s: float = 1.0,
        ruleset: RuleSet | None = None,
        placeholders: Placeholders | None = None,
        lateness_seconds: float | None = None,
    ) -> None:
        self.paths = list(paths)
        self.placeholders = placeholders
        self.lateness_seconds = lateness_seconds
        self.state_file = state_file
        self.observer = observer
        self.check_every_s = check_every_s
        self.state = RuleState.load(state_file)
        self._mtime = _mtime(state_file)
        self._files = active_rule_files(self.paths, self.state)
        self._missing = [p for p in self.paths if not p.exists()]
        # the outer Detector only holds the rule set; the inner one (enabled rules) evaluates
        super().__init__(ruleset if ruleset is not None else self._load(self._files), native=False)
        self._inner = Detector(self.ruleset, lateness_seconds=lateness_seconds)
        settle_heap()
        self._paths = {r.id: r.path for r in self.ruleset.rules}
        self._next_check = time.monotonic() + check_every_s
        self.reloads = 0

    def _load(self, files: Sequence[Path]) -> RuleSet:
        return RuleSet.load([*files, *self._missing], placeholders=self.placeholders)

    @property
    def rules(self) -> list[RuleInfo]:
        """Loaded rules that are enabled now."""
        return [r for r in self.ruleset.rules if self.state.is_enabled(r.id, r.path)]

    def maybe_reload(self, *, force: bool = False) -> bool:
        """Re-read the state file if it changed; returns whether anything was reloaded."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return False
        self._next_check = now + self.check_every_s
        mtime = _mtime(self.state_file)
        if not force and mtime == self._mtime:
            return False
        try:
            state = RuleState.load(self.state_file)
        except ConfigError as exc:
            log.error("rule state not reloaded (keeping the previous one): %s", exc)
            self._mtime = mtime
            return False
        self._mtime = mtime
        self.state = state
        files = active_rule_files(self.paths, state)
        if files != self._files:
            self._files = files
            self.ruleset = self._load(files)
            self._inner = Detector(self.ruleset, lateness_seconds=self.lateness_seconds)
            settle_heap()
            self._paths = {r.id: r.path for r in self.ruleset.rules}
            log.info("rule set reloaded after a state change: %d rules", len(self.ruleset.rules))
        self.reloads += 1
        return True

    def process(self, events: Sequence[dict[str, Any]]) -> list[Detection]:
        self.maybe_reload()
        found = self._inner.process(events)
        disabled = self.state.disabled_ids()
        if disabled or self.state.folders:
            state, paths = self.state, self._paths
            found = [d for d in found if state.is_enabled(d.rule_id, paths.get(d.rule_id, ""))]
        if self.observer is not None:
            try:
                self.observer(events, found)
            except Exception:  # statistics must never cost a batch
                log.exception("rule statistics observer failed")
        return found
