"""Schema-driven fuzzing (schemathesis) of the whole OpenAPI document against the real app: real
SQLite database migrated through Alembic, real embedded event store, authenticated as admin, with
seeded alerts/incidents so object routes reach their handlers. No request may produce a 5xx.

Bounded: a few examples per operation (``SOC_FUZZ_EXAMPLES``, default 6).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from soc_api.crud import incidents
from soc_api.services.config import default_config
from tests.test_api_auth import build_env
from tests.workflow_support import FULL_MAU03, seed_alert

_DIR = Path(tempfile.mkdtemp(prefix="soc-fuzz-"))
ENV, _STORE = build_env(_DIR)
ALERT_ID = seed_alert(ENV, "fuzz", event={"soc": {"security_level": 3}})
with ENV.sessions() as _s:
    _inc = incidents.create(_s, default_config(), actor="fuzz", title="fuzz", alert_ids=[ALERT_ID], unit_code="SO_TTTT")
    _inc.forms = {"mau03": FULL_MAU03}
    _s.commit()
ADMIN = ENV.auth("admin")
EXAMPLES = int(os.environ.get("SOC_FUZZ_EXAMPLES", "6"))

schema = schemathesis.openapi.from_asgi("/openapi.json", ENV.client.app)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call(headers=ADMIN)
    if response.status_code == 503 and case.path.startswith("/api/v1/rules"):
        # Rule operations answer 503 "not available in this process" when the app is built
        # without them (as here): a documented refusal, not a crash.
        return
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:500])
