"""Workflow configuration: packaged defaults (``soc_api/data/workflow.yml``) merged with an optional
override file (``SOC_WORKFLOW_CONFIG`` or ``<data_dir>/workflow.yaml``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from soc_core.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULTS = DATA_DIR / "workflow.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    vi: str
    en: str


class AlertConfig(_Strict):
    grouping_window_minutes: int = Field(ge=0, le=60 * 24 * 365)
    default_security_level: int = Field(ge=1, le=5)
    level_weights: dict[str, int]
    risk_multiplier: float = Field(gt=0)
    ti_factor: float = Field(ge=0)
    ti_cap: int = Field(ge=0)


class SuppressionConfig(_Strict):
    default_days: int = Field(ge=1)
    max_days: int = Field(ge=1)


class PriorityConfig(_Strict):
    p1_min: int
    p2_min: int
    p3_min: int


class SeriousConfig(_Strict):
    security_levels: list[int]
    impacts: dict[str, Label]


class SatisfiedBy(_Strict):
    form: str
    recipient_kinds: list[str]


class DeadlineConfig(_Strict):
    key: str
    vi: str
    en: str
    hours: float = Field(ge=0)
    warn_hours: float = Field(ge=0)
    applies_to: Literal["all", "serious"]
    satisfied_by: SatisfiedBy


class AttachmentConfig(_Strict):
    max_bytes: int = Field(ge=1)


class PlaybookConfig(_Strict):
    seed_tasks: bool = True


class WorkflowConfig(_Strict):
    alerts: AlertConfig
    suppressions: SuppressionConfig
    priority: PriorityConfig
    serious: SeriousConfig
    deadlines: list[DeadlineConfig]
    attachments: AttachmentConfig
    recipient_kinds: dict[str, Label]
    playbooks: PlaybookConfig = PlaybookConfig()


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read workflow settings: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("workflow settings must be a mapping", source=str(path))
    return data


def load_workflow_config(data_dir: Path | None = None) -> WorkflowConfig:
    """Defaults merged with the override file, validated (a bad file is a :class:`ConfigError`)."""
    raw = _read(DEFAULTS)
    override_s = os.environ.get("SOC_WORKFLOW_CONFIG")
    override = Path(override_s) if override_s else (data_dir / "workflow.yaml" if data_dir else None)
    source = str(DEFAULTS)
    if override_s and override is not None and not override.is_file():
        raise ConfigError("workflow settings file not found", source=str(override))
    if override is not None and override.is_file():
        raw = _merge(raw, _read(override))
        source = str(override)
    try:
        return WorkflowConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid workflow settings: {exc}", source=source) from exc


@lru_cache(maxsize=1)
def default_config() -> WorkflowConfig:
    """The packaged defaults (used by the alert sink when no configuration is handed in)."""
    return WorkflowConfig.model_validate(_read(DEFAULTS))
