"""Response playbooks: one per national incident type, loaded safely (file:line errors, no Python
tags), seeded as incident tasks (owners, due dates, type and severity changes), served by the API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from playbooks import (
    PHASES,
    PlaybookCoverageError,
    PlaybookError,
    Step,
    load_file,
    load_registry,
    load_text,
)
from soc_api.crud import audit, incidents
from soc_api.services.config import PlaybookConfig, default_config
from soc_core.errors import SocError
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import FULL_MAU03

REPO = Path(__file__).resolve().parent.parent
TYPES_FILE = REPO / "soc_api" / "data" / "incident_types.yml"
WORKFLOW_FILE = REPO / "soc_api" / "data" / "workflow.yml"


def national_type_keys() -> list[str]:
    """The 10 national incident types, read straight from the API's data file (no soc_api import)."""
    return [t["key"] for t in yaml.safe_load(TYPES_FILE.read_text(encoding="utf-8"))["types"]]


def deadline_keys() -> set[str]:
    return {d["key"] for d in yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))["deadlines"]}


# --- the playbooks themselves ---------------------------------------------------------------


def test_every_national_type_has_a_playbook_that_loads() -> None:
    keys = national_type_keys()
    assert len(keys) == 10
    reg = load_registry()
    reg.check_types(keys)
    reg.check_deadlines(deadline_keys())
    assert sorted(reg) == sorted(keys)
    common = {
        "triage_scope",
        "preserve_evidence",
        "unit_initial_report",
        "notify_national",
        "emergency_report",
        "response_plan_direction",
        "situation_updates",
        "share_indicators",
        "end_report",
        "lessons_learned",
    }
    for key in keys:
        book = reg[key]
        assert book.incident_type == key and book.title_vi and book.title_en and book.source
        phases = {s.phase for s in book.steps}
        assert {"detection_analysis", "containment", "eradication", "recovery", "post_incident"} <= phases, key
        # Each type has its own steps besides the shared reporting and review ones.
        assert book.step_keys - common, key
        notify = book.step("notify_national")
        assert notify is not None and notify.deadline == "national_notification" and notify.due_hours == 120
        assert notify.applies_if_severity is None
        emergency = book.step("emergency_report")
        assert emergency is not None and emergency.applies_if_severity == "serious"
        assert emergency.deadline == "emergency_report"
        assert "emergency_report" not in {s.key for s in book.steps_for("normal")}
        for step in book.steps:
            assert step.title_vi != step.title_en and step.description_vi and step.description_en, (key, step.key)
    unauthorised = reg["unauthorised_access"].step_keys
    assert {"isolate_account", "reset_credentials", "check_persistence", "preserve_evidence"} <= unauthorised
    assert {"capture_defacement", "find_webshell", "restore_site"} <= reg["defacement"].step_keys
    assert {"contact_isp", "filter_traffic"} <= reg["denial_of_service"].step_keys


def test_coverage_check_runs_without_soc_api(tmp_path: Path) -> None:
    # The import direction (soc_api -> playbooks) holds: the check needs only the list of keys.
    code = (
        "import sys, yaml, playbooks\n"
        f"keys = [t['key'] for t in yaml.safe_load(open({str(TYPES_FILE)!r}, encoding='utf-8'))['types']]\n"
        "playbooks.load_registry().check_types(keys)\n"
        "assert not [m for m in sys.modules if m.startswith('soc_api')], 'soc_api imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_missing_or_unknown_type_is_named(tmp_path: Path) -> None:
    shutil_copy(REPO / "playbooks" / "data" / "malware.yml", tmp_path / "malware.yml")
    with pytest.raises(PlaybookCoverageError, match="defacement") as err:
        load_registry(tmp_path).check_types(national_type_keys())
    assert isinstance(err.value, SocError)
    with pytest.raises(PlaybookCoverageError, match="unknown incident type 'malware'") as err1:
        load_registry(tmp_path).check_types([])
    assert err1.value.source == str(tmp_path / "malware.yml")
    with pytest.raises(PlaybookError, match="unknown deadline 'national_notification'") as err2:
        load_registry(tmp_path).check_deadlines({"something_else"})
    assert err2.value.source == str(tmp_path / "malware.yml") and err2.value.line is not None


def shutil_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())


GOOD = """\
incident_type: malware
title_vi: "Kịch bản"
title_en: "Playbook"
steps:
  - key: isolate_hosts
    phase: containment
    owner: unit
    due_hours: 2
    title_vi: "Cô lập máy"
    title_en: "Isolate hosts"
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("    due_hours: 2\n", "    due_hours: [2\n"), 9, "invalid YAML: while parsing a flow sequence"),
        (GOOD.replace("phase: containment", "phase: contain"), 6, "unknown phase 'contain'"),
        (GOOD.replace("owner: unit", "owner: nobody"), 7, "unknown owner 'nobody'"),
        (GOOD.replace("due_hours: 2", "due_hours: -1"), 8, "'due_hours' must be"),
        (GOOD.replace("due_hours: 2", "due_hours: two"), 8, "'due_hours' must be"),
        (GOOD + "    applies_if: {severity: critical}\n", 11, "applies_if.severity"),
        (GOOD + "    colour: red\n", 11, "unknown field 'colour'"),
        (GOOD.replace('    title_en: "Isolate hosts"\n', ""), 5, "missing 'title_en'"),
        (GOOD + "  - key: isolate_hosts\n    phase: recovery\n", 11, "duplicate step key"),
        (GOOD.replace('title_en: "Playbook"', 'title_vi: "again"'), 3, "duplicate key 'title_vi'"),
        (GOOD.replace("incident_type: malware", "incident_type: defacement"), 1, "file is named for 'malware'"),
        (GOOD.replace("steps:\n", "stepz:\n"), 4, "unknown field 'stepz'"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_a_broken_playbook_reports_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "malware.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as err:
        load_file(path, expected_type="malware")
    assert isinstance(err.value, SocError)
    assert err.value.source == str(path) and err.value.line == line, str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)
    # The registry reports the same place.
    with pytest.raises(PlaybookError, match=f"malware.yml:{line}: "):
        load_registry(tmp_path)


def test_a_good_playbook_loads() -> None:
    book = load_text(GOOD, expected_type="malware")
    assert book.steps == (
        Step(
            key="isolate_hosts",
            title_vi="Cô lập máy",
            title_en="Isolate hosts",
            description_vi="",
            description_en="",
            phase="containment",
            owner="unit",
            due_hours=2.0,
            line=5,
        ),
    )


@pytest.mark.parametrize(
    "payload",
    [
        "steps: !!python/object/apply:os.system ['touch {marker}']\n",
        "steps: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "incident_type: !!python/name:os.system\n",
        "steps:\n  - !!python/object:playbooks.models.Step {{key: x}}\n",
    ],
)
def test_a_hostile_playbook_is_refused(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "malware.yml"
    path.write_text("title_vi: a\n" + payload.format(marker=marker), encoding="utf-8")
    with pytest.raises(PlaybookError, match="python/") as err:
        load_file(path)
    assert err.value.source == str(path) and err.value.line is not None
    assert not marker.exists()


def test_oversized_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"# " + b"x" * 300_000 + b"\n")
    with pytest.raises(PlaybookError, match="larger than"):
        load_file(big)
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"incident_type: malware\ntitle_vi: C\xf4 l\xe2p\n")
    with pytest.raises(PlaybookError, match="not UTF-8"):
        load_file(latin)


# --- seeding incident tasks -----------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path_factory.mktemp("playbooks"))
    yield api
    api.client.close()
    store.close()


def _create(env: ApiEnv, **body: Any) -> dict[str, Any]:
    resp = env.client.post("/api/v1/incidents", headers=env.auth("analyst"), json={"title": "Sự cố", **body})
    assert resp.status_code == 201, resp.text
    return _detail(env, resp.json()["id"])


def _detail(env: ApiEnv, incident_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/v1/incidents/{incident_id}", headers=env.auth("analyst"))
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _by_step(inc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["playbook_step"]: t for t in inc["tasks"] if t["playbook_step"]}


def test_creating_an_incident_seeds_tasks_with_owners_and_due_dates(env: ApiEnv) -> None:
    detected = datetime.now(UTC) - timedelta(days=2)
    inc = _create(
        env,
        incident_type="unauthorised_access",
        unit_code="SO_TTTT",
        assignee="analyst",
        detected_at=detected.isoformat(),
    )
    assert inc["severity"] == "normal"
    book = load_registry()["unauthorised_access"]
    tasks = _by_step(inc)
    assert list(tasks) == [s.key for s in book.steps_for("normal")]  # playbook order
    assert "emergency_report" not in tasks and "response_plan_direction" not in tasks
    created = _ts(inc["created_at"])
    for step in book.steps_for("normal"):
        task = tasks[step.key]
        assert task["title"] == step.title_vi and task["done"] is False
        assert task["owner"] == ("SO_TTTT" if step.owner == "unit" else "analyst"), step.key
        due = _ts(task["due_at"])
        if step.deadline == "national_notification":
            # bound to the 5-day legal deadline, counted from detection (earlier than creation + 120 h)
            assert abs(due - (detected + timedelta(hours=120))) < timedelta(seconds=1)
        else:
            assert abs(due - (created + timedelta(hours=step.due_hours))) < timedelta(seconds=1), step.key
    assert tasks["isolate_account"]["owner"] == "SO_TTTT" and tasks["check_persistence"]["owner"] == "analyst"
    # on the timeline and in the audit chain
    timeline = env.client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=env.auth("analyst")).json()
    seeded = [e for e in timeline if e["kind"] == "playbook_seeded"]
    assert len(seeded) == 1 and seeded[0]["detail"]["steps"] == list(tasks)
    with env.sessions() as s:
        entries = [e for e in audit.entries_for(s, "incident", inc["id"]) if e.action == "incident.playbook_seed"]
    assert len(entries) == 1 and entries[0].actor == "analyst"
    assert [t["step"] for t in entries[0].detail["tasks"]] == list(tasks)


def test_changing_the_type_adds_only_the_new_steps(env: ApiEnv) -> None:
    inc = _create(env, incident_type="unauthorised_access", unit_code="HUYEN_A")
    before = _by_step(inc)
    h = env.auth("analyst")
    done = env.client.patch(
        f"/api/v1/incidents/{inc['id']}/tasks/{before['triage_scope']['id']}", headers=h, json={"done": True}
    )
    assert done.status_code == 200
    resp = env.client.patch(f"/api/v1/incidents/{inc['id']}", headers=h, json={"incident_type": "malware"})
    assert resp.status_code == 200, resp.text
    after = _detail(env, inc["id"])
    steps = [t["playbook_step"] for t in after["tasks"] if t["playbook_step"]]
    assert len(steps) == len(set(steps))  # nothing seeded twice
    malware = {s.key for s in load_registry()["malware"].steps_for("normal")}
    assert set(steps) == set(before) | malware
    added = set(steps) - set(before)
    assert added == malware - set(before) and {"isolate_hosts", "identify_malware"} <= added
    # tasks already there are untouched (same ids, the done one still done)
    now = _by_step(after)
    assert all(now[k]["id"] == before[k]["id"] for k in before)
    assert now["triage_scope"]["done"] is True
    # changing it back adds nothing
    env.client.patch(f"/api/v1/incidents/{inc['id']}", headers=h, json={"incident_type": "unauthorised_access"})
    assert len(_detail(env, inc["id"])["tasks"]) == len(after["tasks"])
    kinds = [e["kind"] for e in env.client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=h).json()]
    assert kinds.count("playbook_seeded") == 2


def test_serious_only_steps_only_for_serious_incidents(env: ApiEnv) -> None:
    serious = _create(
        env,
        incident_type="encryption",
        unit_code="SO_TTTT",
        assignee="analyst",
        security_level=4,
        impacts=["service_interruption"],
        owner_can_handle=False,
    )
    assert serious["severity"] == "serious"
    tasks = _by_step(serious)
    book = load_registry()["encryption"]
    assert list(tasks) == [s.key for s in book.steps]
    assert {"emergency_report", "response_plan_direction", "situation_updates"} <= set(tasks)
    assert tasks["emergency_report"]["owner"] == "analyst"  # an admin-role step goes to the assignee
    due = _ts(tasks["emergency_report"]["due_at"])
    assert abs(due - (_ts(serious["detected_at"]) + timedelta(hours=24))) < timedelta(seconds=1)

    normal = _create(env, incident_type="encryption", unit_code="SO_TTTT", security_level=4)
    assert normal["severity"] == "normal" and "emergency_report" not in _by_step(normal)
    # becoming serious adds the serious-only steps, nothing else
    resp = env.client.patch(
        f"/api/v1/incidents/{normal['id']}",
        headers=env.auth("analyst"),
        json={"impacts": ["loss_of_control"], "owner_can_handle": False},
    )
    assert resp.status_code == 200 and resp.json()["severity"] == "serious"
    added = set(_by_step(_detail(env, normal["id"]))) - set(_by_step(normal))
    assert added == {s.key for s in book.steps if s.applies_if_severity == "serious"}


def test_owners_follow_the_assignee_and_the_unit(env: ApiEnv) -> None:
    inc = _create(env, incident_type="defacement", unit_code="SO_TTTT")
    tasks = _by_step(inc)
    assert tasks["capture_defacement"]["owner"] is None and tasks["take_site_offline"]["owner"] == "SO_TTTT"
    h = env.auth("analyst")
    env.client.patch(
        f"/api/v1/incidents/{inc['id']}/tasks/{tasks['find_webshell']['id']}", headers=h, json={"owner": "x"}
    )
    resp = env.client.patch(
        f"/api/v1/incidents/{inc['id']}", headers=h, json={"assignee": "an.nv", "unit_code": "SO_TTTT_TT"}
    )
    assert resp.status_code == 200, resp.text
    now = _by_step(_detail(env, inc["id"]))
    assert now["capture_defacement"]["owner"] == "an.nv" and now["take_site_offline"]["owner"] == "SO_TTTT_TT"
    assert now["find_webshell"]["owner"] == "x"  # reassigned by hand: left alone


def test_a_unit_report_ticket_is_seeded(env: ApiEnv) -> None:
    resp = env.client.post(
        "/api/v1/reports", headers=env.auth("unit_reporter"), json={"unit_code": "SO_TTTT", "data": FULL_MAU03}
    )
    assert resp.status_code == 201, resp.text
    inc = _detail(env, resp.json()["incident_id"])
    assert inc["incident_type"] == "defacement"
    tasks = _by_step(inc)
    assert tasks["restore_site"]["owner"] == "SO_TTTT" and tasks["capture_defacement"]["owner"] is None


def test_seeding_can_be_turned_off(env: ApiEnv) -> None:
    off = default_config().model_copy(update={"playbooks": PlaybookConfig(seed_tasks=False)})
    with env.sessions() as s:
        inc = incidents.create(s, off, actor="t", title="no playbook", incident_type="malware")
        incidents.update(s, off, inc, {"incident_type": "spoofing"}, actor="t")
        assert incidents.list_tasks(s, inc.id) == []
        incidents.update(s, default_config(), inc, {"incident_type": "malware"}, actor="t")
        assert {t.playbook_step for t in incidents.list_tasks(s, inc.id)} == {
            st.key for st in load_registry()["malware"].steps_for("normal")
        }
        s.rollback()


# --- API ------------------------------------------------------------------------------------


def test_playbook_routes_need_a_token(env: ApiEnv) -> None:
    for path in ("/api/v1/playbooks", "/api/v1/playbooks/malware"):
        assert env.client.get(path).status_code == 401
        assert env.client.get(path, headers={"Authorization": "Bearer soc_nope"}).status_code == 401


def test_playbook_routes_return_the_playbooks(env: ApiEnv) -> None:
    keys = national_type_keys()
    for role in ("admin", "analyst", "unit_reporter", "feed_client"):
        resp = env.client.get("/api/v1/playbooks", headers=env.auth(role))
        assert resp.status_code == 200, (role, resp.text)
    body = resp.json()
    assert body["total"] == 10 and [b["incident_type"] for b in body["items"]] == keys
    assert [p["key"] for p in body["phases"]] == list(PHASES)
    assert body["phases"][2] == {"key": "containment", "vi": "Ngăn chặn", "en": "Containment"}

    one = env.client.get("/api/v1/playbooks/unauthorised_access", headers=env.auth("unit_reporter"))
    assert one.status_code == 200
    book = one.json()
    assert book["title_vi"].startswith("Kịch bản ứng phó") and book["references"]
    steps = {s["key"]: s for s in book["steps"]}
    assert steps["isolate_account"]["phase"] == "containment" and steps["isolate_account"]["owner"] == "unit"
    assert steps["notify_national"]["deadline"] == "national_notification"
    assert steps["notify_national"]["applies_if"] is None
    assert steps["emergency_report"]["applies_if"] == {"severity": "serious"}
    assert book == next(b for b in body["items"] if b["incident_type"] == "unauthorised_access")

    assert env.client.get("/api/v1/playbooks/no_such_type", headers=env.auth("analyst")).status_code == 404
    assert env.client.get("/api/v1/playbooks/Bad-Type!", headers=env.auth("analyst")).status_code == 422
