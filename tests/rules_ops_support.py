"""Small project-written Sigma rules and ECS events for the rule-operations tests (no SigmaHQ content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SQLI_ID = "5b1c0e6a-1111-4a8e-9d00-000000000001"
ADMIN_ID = "5b1c0e6a-1111-4a8e-9d00-000000000002"
KEYWORD_ID = "5b1c0e6a-1111-4a8e-9d00-000000000003"
PLACEHOLDER_ID = "5b1c0e6a-1111-4a8e-9d00-000000000004"
BROKEN_ID = "5b1c0e6a-1111-4a8e-9d00-000000000005"

RULES: dict[str, str] = {
    "rules/web/sqli_union.yml": f"""
title: Test SQL injection UNION SELECT in query
id: {SQLI_ID}
status: test
logsource: {{category: webserver}}
detection:
  sel:
    cs-uri-query|contains: 'union select'
  condition: sel
level: high
""",
    "rules/windows/new_admin.yml": f"""
title: Test user added to local administrators
id: {ADMIN_ID}
status: test
logsource: {{product: windows, service: security}}
detection:
  sel:
    EventID: 4732
    TargetUserName: Administrators
  condition: sel
level: medium
""",
    "rules/linux/keyword.yml": f"""
title: Test keyword in auth log
id: {KEYWORD_ID}
status: test
logsource: {{product: linux, service: auth}}
detection:
  keywords:
    - 'evil-keyword'
  condition: keywords
level: low
""",
    "rules-placeholder/web/admin_ips.yml": f"""
title: Test placeholder rule
id: {PLACEHOLDER_ID}
status: test
logsource: {{category: webserver}}
detection:
  sel:
    c-ip|expand: '%admin_ips%'
  condition: sel
level: low
""",
    "rules/web/broken.yml": f"""
title: Test broken rule
id: {BROKEN_ID}
status: test
logsource: {{category: webserver}}
detection:
  sel:
    cs-uri-query|nosuchmodifier: 'x'
  condition: sel
level: low
""",
}


def write_rules(root: Path, names: list[str] | None = None) -> Path:
    for rel, text in RULES.items():
        if names is None or rel in names:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip(), encoding="utf-8")
    return root


def web_event(i: int, query: str, ts: str, *, domain: str = "dichvucong.thanhhoa.gov.vn") -> dict[str, Any]:
    return {
        "@timestamp": ts,
        "event": {"id": f"web-{i}", "dataset": "nginx.access", "original": f"GET /search?{query} HTTP/1.1"},
        "url": {"original": f"/search?{query}", "path": "/search", "query": query, "domain": domain},
        "source": {"ip": f"10.0.0.{i % 250 + 1}"},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
    }


def win_event(i: int, event_id: int, target: str, ts: str) -> dict[str, Any]:
    return {
        "@timestamp": ts,
        "event": {"id": f"win-{i}", "dataset": "windows.security", "code": str(event_id)},
        "winlog": {
            "channel": "Security",
            "event_id": event_id,
            "event_data": {"TargetUserName": target, "MemberName": "-"},
        },
        "host": {"name": "ws-01"},
    }
