"""Shared helpers of the workflow API tests: seeding alerts through the real sink."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from soc_api.db.models import Alert
from soc_api.sink import ingest_detections
from soc_core.models import Detection
from tests.test_api_auth import ApiEnv

# A complete Mẫu 03 (every mandatory field) for unit reports and form export.
FULL_MAU03: dict[str, Any] = {
    "reporting_org": {
        "name": "Sở Thông tin và Truyền thông Thanh Hóa",
        "address": "28 Đại lộ Lê Lợi, TP Thanh Hóa",
        "phone": "0237 3855 555",
        "email": "sotttt@thanhhoa.gov.vn",
    },
    "contact": {
        "full_name": "Nguyễn Văn An",
        "position": "Chuyên viên",
        "phone": "0912 345 678",
        "email": "an@thanhhoa.gov.vn",
    },
    "system": {"operator_name": "Trung tâm CNTT-TT", "system_name": "Cổng dịch vụ công", "security_level": 3},
    "incident_type": "defacement",
    "summary": "Trang chủ cổng dịch vụ công bị thay đổi giao diện",
    "detected_date": "20/11/2026",
    "detected_time": "08:30",
    "current_status": "in_progress",
    "detection_methods": ["monitoring"],
    "notified": ["national_coordinator"],
    "report_time": "20/11/2026 10:00",
}


def seed_alert(
    env: ApiEnv,
    key: str,
    *,
    unit: str | None = "SO_TTTT",
    rule_id: str = "r-ssh",
    level: str = "high",
    tags: list[str] | None = None,
    entity: dict[str, str] | None = None,
    ts: str = "2026-11-20T08:00:00Z",
    event: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> str:
    det = Detection(
        rule_id=rule_id,
        rule_title=f"rule {rule_id}",
        level=level,
        event_id=event_id or f"ev-{key}",
        timestamp=ts,
        dedup_key=f"{rule_id}|{key}",
        unit=unit,
        tags=tags if tags is not None else ["attack.t1110"],
        entity=entity if entity is not None else {"source.ip": "203.0.113.7"},
        event=event or {},
    )
    with env.sessions() as s:
        ingest_detections(s, [det])
        s.commit()
        return (
            s.scalars(
                select(Alert.id).where(Alert.dedup_key == f"{rule_id}|{key}").order_by(Alert.group_seq.desc())
            ).first()
            or ""
        )
