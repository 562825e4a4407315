"""Settings from environment variables (``SOC_*``) and an optional YAML file.

Precedence: explicit arguments > environment > YAML file (``SOC_CONFIG`` or ``<data_dir>/soc.yaml``)
> defaults. Secrets (database passwords, tokens) come from the environment only and are never
logged: they are ``SecretStr``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from soc_core.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOC_", extra="ignore")

    mode: Literal["embedded", "distributed"] = "embedded"
    data_dir: Path = Path(".soc-data")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    syslog_host: str = "127.0.0.1"
    syslog_port: int = 5514
    syslog_max_message: int = 1024 * 1024  # bytes; longer records are dead-lettered whole

    # Files to tail: list of {path: ..., format: ..., unit: ...}
    tail: list[dict[str, str]] = Field(default_factory=list)

    # Live packet capture by `soc collect` (pyshark; needs dumpcap privileges): interfaces to sniff
    # (none: off), a BPF filter, and how often flow summaries are published.
    pcap_interfaces: list[str] = Field(default_factory=list)
    pcap_bpf_filter: str = ""
    pcap_flow_interval_seconds: float = Field(default=60.0, gt=0)

    assets_file: Path | None = None
    # Enrich stage: threat-intel indicator files (.csv or STIX 2.1 bundle .json; `soc up --demo`
    # uses soc_demo/threat_intel.csv when empty), MaxMind-format GeoIP databases, and the offline
    # country-only fallback (iptocc) used when no city database is set.
    threat_intel_paths: list[Path] = Field(default_factory=list)
    geoip_city_db: Path | None = None
    geoip_asn_db: Path | None = None
    geoip_fallback_country: bool = True
    rules: list[Path] = Field(default_factory=lambda: [Path(__file__).resolve().parent.parent / "detections" / "rules"])
    # Values of Sigma ``|expand`` placeholders (YAML: name -> list of values); rules using a
    # placeholder without values are listed by ``soc rules check``, not evaluated.
    sigma_placeholders: Path | None = None
    # How late (event time, seconds) an observation of a correlation rule may arrive and still
    # count; emission waits that long. 0 keeps the stream live (no reordering); raise it when
    # sources deliver out of order (batching forwarders, clock skew).
    sigma_lateness_seconds: float = Field(default=0.0, ge=0.0, le=86_400.0)
    # Anomaly models (skops files from `soc models train`) scored in the detect stage after the
    # Sigma rules; each keeps at most this many open (entity, window) accumulators.
    anomaly_models: list[Path] = Field(default_factory=list)
    anomaly_max_open_windows: int = Field(default=50_000, ge=1)
    anomaly_min_events: int = Field(default=3, ge=1)  # smaller windows are not scored
    # IANA zone of log timestamps that carry none (RFC 3164 syslog, auth.log): the senders' clocks.
    log_timezone: str = "Asia/Ho_Chi_Minh"

    # Distributed mode
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    elasticsearch_url: str = "http://127.0.0.1:9200"
    database_url: SecretStr | None = None  # e.g. postgresql+psycopg://…; embedded: sqlite file
    # Kafka topics (logical names, before topic_prefix): partitions and retention
    topic_partitions: dict[str, int] = Field(
        default_factory=lambda: {"soc.raw": 6, "soc.events": 6, "soc.alerts": 2, "soc.dlq": 2, "soc.counts": 1}
    )
    topic_retention_hours: dict[str, int] = Field(
        default_factory=lambda: {
            "soc.raw": 168,
            "soc.events": 168,
            "soc.alerts": 336,
            "soc.dlq": 720,
            "soc.counts": 720,
        }
    )
    kafka_session_timeout_ms: int = 6000  # a killed worker's partitions move within this
    # Kafka client library behind the bus adapter (docs/distributed.md, "Kafka client"): kafka-python
    # (soc_core.adapters.kafka_bus) or confluent-kafka/librdkafka (soc_core.adapters.confluent_bus)
    kafka_client: Literal["kafka-python", "confluent"] = "kafka-python"
    es_index_prefix: str = "soc"
    # Days events of a system at each security level (Decree 85/2016) are kept; unknown level -> 1
    retention_days_by_level: dict[int, int] = Field(default_factory=lambda: {1: 31, 2: 31, 3: 92, 4: 183, 5: 366})
    # collect/worker roles serve /metrics and /health here (0: any free port, printed in the log)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464

    token_ttl_minutes: int = 480

    # National feed (soc_api/feed): STIX 2.1 over TAXII 2.1 and pushed through the outbox.
    feed_identity_name: str = "Trung tâm điều hành an toàn, an ninh mạng tỉnh"  # the producer of every object
    feed_tlp: Literal["white", "green", "amber", "red"] = "amber"  # TLP marking on every shared object
    feed_auto_share_serious: bool = True  # serious incidents are shared once confirmed (status past "open")
    taxii_api_root: str = Field(default="feed", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    # Bearer secret sent to push recipients: one per recipient code, else the default one. Env only.
    feed_push_token: SecretStr | None = None
    feed_push_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    feed_push_interval_seconds: float = Field(default=60.0, ge=0)  # API process sender; 0 disables it
    feed_push_timeout_seconds: float = Field(default=15.0, gt=0)
    feed_push_backoff_seconds: float = Field(default=30.0, gt=0)  # first retry delay, doubled each attempt
    feed_push_backoff_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    feed_push_max_attempts: int = Field(default=12, ge=1)  # then the row is failed (soc feed push --retry-failed)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    def db_url(self) -> str:
        """SQLAlchemy URL of the tickets/alerts/users/audit database."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'soc.db'}"

    @field_validator("log_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Ho_Chi_Minh or UTC)") from exc
        return value

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)


class _YamlSource(PydanticBaseSettingsSource):
    """Reads ``SOC_CONFIG`` (or ``soc.yaml`` in the data directory) if it exists."""

    def _load(self) -> dict[str, Any]:
        path_s = os.environ.get("SOC_CONFIG")
        if path_s:
            path = Path(path_s)
            if not path.is_file():
                raise ConfigError("settings file not found", source=str(path))
        else:
            path = Path(os.environ.get("SOC_DATA_DIR", ".soc-data")) / "soc.yaml"
            if not path.is_file():
                return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise ConfigError(
                f"invalid YAML: {exc}", source=str(path), line=None if line is None else line + 1
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError("settings file must hold a mapping", source=str(path))
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._load().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._load().items() if k in self.settings_cls.model_fields}


def load_settings(**overrides: Any) -> Settings:
    """Settings with explicit overrides (e.g. from CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
