"""National feed over TAXII 2.1 on the real app (SQLite migrated by Alembic): which incidents are
shared, their STIX 2.1 objects (validated with ``stix2.parse``), discovery, collections, objects
with filters and ``next`` paging, object versions, manifest, media types, roles, TAXII errors,
audit of every fetch, and interoperability with the reference client ``taxii2-client``."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stix2
import uvicorn
from sqlalchemy import select

from soc_api.crud import audit
from soc_api.crud.feed import COLLECTION_ID
from soc_api.db.feed_models import FeedObject
from soc_api.db.models import AuditLog
from soc_api.feed import stix as stix_map
from tests.conftest import free_port
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import seed_alert

TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/feed"
OBJECTS = f"{ROOT}/collections/{COLLECTION_ID}/objects/"
MANIFEST = f"{ROOT}/collections/{COLLECTION_ID}/manifest/"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _h(env: ApiEnv, who: str = "feed_client", accept: str = TAXII) -> dict[str, str]:
    return {**env.auth(who), "Accept": accept}


def _incident(env: ApiEnv, **body: Any) -> dict[str, Any]:
    resp = env.client.post("/api/v1/incidents", headers=env.auth("analyst"), json={"title": "Sự cố", **body})
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _patch(env: ApiEnv, incident_id: str, **changes: Any) -> dict[str, Any]:
    resp = env.client.patch(f"/api/v1/incidents/{incident_id}", headers=env.auth("analyst"), json=changes)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _observe(env: ApiEnv, incident_id: str, otype: str, value: str) -> None:
    resp = env.client.post(
        f"/api/v1/incidents/{incident_id}/observables",
        headers=env.auth("analyst"),
        json={"type": otype, "value": value},
    )
    assert resp.status_code == 201, resp.text


def _objects(env: ApiEnv, query: str = "") -> dict[str, Any]:
    resp = env.client.get(OBJECTS + query, headers=_h(env))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == TAXII
    body: dict[str, Any] = resp.json()
    return body


def _shared_defacement(env: ApiEnv) -> dict[str, Any]:
    """A serious defacement at security level 4, confirmed by an analyst: shared automatically."""
    alert = seed_alert(
        env,
        "web1",
        tags=["attack.t1491.001"],
        level="critical",
        event={"soc": {"security_level": 4}},
        entity={"url.domain": "dichvucong.thanhhoa.gov.vn", "source.ip": "198.51.100.4"},
    )
    inc = _incident(env, alert_ids=[alert], impacts=["service_interruption"], owner_can_handle=False)
    assert inc["severity"] == "serious"
    for otype, value in [
        ("hash", "44d88612fea8a8f36de82e1278abb02f"),
        ("url", "http://evil.example/it's"),
        ("account", "webadmin"),
        ("host", "web01.thanhhoa.gov.vn"),
        ("ip", "2001:db8::7"),
        ("hash", "abc"),  # no known hash length: no indicator
    ]:
        _observe(env, inc["id"], otype, value)
    return _patch(env, inc["id"], status="investigating")


def test_what_is_shared(env: ApiEnv) -> None:
    # normal and unconfirmed incidents stay home
    normal = _incident(env, description="quét cổng")
    _patch(env, normal["id"], status="investigating")
    serious = _incident(env, security_level=5, impacts=["loss_of_control"], owner_can_handle=False, unit_code="SO_TTTT")
    assert serious["severity"] == "serious" and serious["status"] == "open"
    assert _objects(env).get("objects", []) == []
    # an analyst's flag shares a normal incident; the flag cannot be withdrawn
    flagged = _patch(env, normal["id"], share_national=True)
    assert flagged["share_national"] is True
    back = env.client.patch(
        f"/api/v1/incidents/{normal['id']}", headers=env.auth("analyst"), json={"share_national": False}
    )
    assert back.status_code == 409
    # a unit reporter may not set it
    refused = env.client.patch(
        f"/api/v1/incidents/{serious['id']}", headers=env.auth("unit_reporter"), json={"share_national": True}
    )
    assert refused.status_code == 403
    # a serious incident is shared once confirmed
    _patch(env, serious["id"], status="investigating")
    incidents = [o for o in _objects(env)["objects"] if o["type"] == "incident"]
    refs = {o["external_references"][0]["external_id"] for o in incidents}
    assert refs == {normal["id"], serious["id"]}
    timeline = env.client.get(f"/api/v1/incidents/{serious['id']}/timeline", headers=env.auth("analyst")).json()
    assert any(t["kind"] == "feed_shared" for t in timeline)
    with env.sessions() as s:
        shares = s.scalars(select(AuditLog).where(AuditLog.action == "incident.feed_share")).all()
        assert {(a.object_id, a.detail["reason"]) for a in shares} == {
            (normal["id"], "flag"),
            (serious["id"], "serious"),
        }
        assert audit.verify(s).ok


def test_stix_objects_validate_and_ids_are_deterministic(env: ApiEnv) -> None:
    inc = _shared_defacement(env)
    objects = _objects(env, "?match[version]=all")["objects"]
    for obj in objects:
        parsed = stix2.parse(obj, allow_custom=True)
        assert parsed.id == obj["id"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_type.setdefault(obj["type"], []).append(obj)
    assert set(by_type) == {"marking-definition", "identity", "incident", "indicator", "relationship"}
    assert by_type["marking-definition"][0]["id"] == stix2.TLP_AMBER.id
    incident = by_type["incident"][-1]
    assert incident["id"] == f"incident--{uuid.uuid5(stix_map.NAMESPACE, 'incident/' + inc['id'])}"
    assert incident["x_soc_incident_type"] == "defacement" and incident["x_soc_incident_type_number"] == 5
    assert incident["x_soc_severity"] == "serious" and incident["x_soc_status"] == "investigating"
    assert incident["x_soc_unit"] == "SO_TTTT" and incident["x_soc_unit_name"] == "Sở Thông tin và Truyền thông"
    assert incident["x_soc_security_level"] == 4 and incident["x_soc_detected_at"].endswith("Z")
    assert incident["object_marking_refs"] == [stix2.TLP_AMBER.id]
    assert incident["created_by_ref"] == by_type["identity"][0]["id"]
    patterns = {o["pattern"] for o in by_type["indicator"]}
    assert patterns == {
        "[domain-name:value = 'dichvucong.thanhhoa.gov.vn']",
        "[ipv4-addr:value = '198.51.100.4']",
        "[file:hashes.'MD5' = '44d88612fea8a8f36de82e1278abb02f']",
        "[url:value = 'http://evil.example/it\\'s']",
        "[user-account:account_login = 'webadmin']",
        "[domain-name:value = 'web01.thanhhoa.gov.vn']",
        "[ipv6-addr:value = '2001:db8::7']",
    }
    rels = by_type["relationship"]
    assert {r["source_ref"] for r in rels} == {i["id"] for i in by_type["indicator"]}
    assert {(r["relationship_type"], r["target_ref"]) for r in rels} == {("related-to", incident["id"])}
    # the same incident mapped again gives the same ids; a change gives a new version of the same id
    with env.sessions() as s:
        before = s.scalar(select(FeedObject.id).order_by(FeedObject.id.desc()))
    _patch(env, inc["id"], assignee="someone")  # not part of the STIX object: no new version
    with env.sessions() as s:
        assert s.scalar(select(FeedObject.id).order_by(FeedObject.id.desc())) == before
    _patch(env, inc["id"], status="contained")
    versions = env.client.get(f"{OBJECTS}{incident['id']}/versions/", headers=_h(env)).json()["versions"]
    assert len(versions) == 2 and versions == sorted(versions)  # shared (investigating), contained
    last = env.client.get(f"{OBJECTS}{incident['id']}/", headers=_h(env)).json()["objects"]
    assert len(last) == 1 and last[0]["x_soc_status"] == "contained" and last[0]["modified"] == versions[-1]
    first = env.client.get(f"{OBJECTS}{incident['id']}/?match[version]=first", headers=_h(env)).json()
    assert first["objects"][0]["modified"] == versions[0] and first["objects"][0]["created"] == incident["created"]
    exact = env.client.get(f"{OBJECTS}{incident['id']}/?match[version]={versions[0]}", headers=_h(env)).json()
    assert [o["modified"] for o in exact["objects"]] == [versions[0]]
    # an observable added later: a new indicator, the incident unchanged
    _observe(env, inc["id"], "domain", "c2.example.net")
    again = _objects(env, "?match[type]=incident,indicator")["objects"]
    assert [o["modified"] for o in again if o["type"] == "incident"] == [versions[-1]]
    assert "[domain-name:value = 'c2.example.net']" in {o.get("pattern") for o in again}


def test_merged_shared_incident_is_revoked(env: ApiEnv) -> None:
    shared = _incident(env, title="bị gộp")
    _patch(env, shared["id"], share_national=True)
    target = _incident(env, title="đích")
    resp = env.client.post(
        f"/api/v1/incidents/{target['id']}/merge", headers=env.auth("analyst"), json={"source_ids": [shared["id"]]}
    )
    assert resp.status_code == 200, resp.text
    incidents = {
        o["external_references"][0]["external_id"]: o for o in _objects(env)["objects"] if o["type"] == "incident"
    }
    assert set(incidents) == {shared["id"]}  # the target is neither flagged nor serious
    assert incidents[shared["id"]]["revoked"] is True and incidents[shared["id"]]["x_soc_status"] == "merged"
    assert incidents[shared["id"]]["x_soc_merged_into"] == stix_map.incident_stix_id(target["id"])


def test_tlp_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_FEED_TLP", "green")
    api, store = build_env(tmp_path)
    try:
        _shared_defacement(api)
        objects = _objects(api)["objects"]
        assert {o["id"] for o in objects if o["type"] == "marking-definition"} == {stix2.TLP_GREEN.id}
        assert all(o.get("object_marking_refs") == [stix2.TLP_GREEN.id] for o in objects if o["type"] == "incident")
    finally:
        api.client.close()
        store.close()


def test_discovery_api_root_and_collections(env: ApiEnv) -> None:
    disc = env.client.get("/taxii2/", headers=_h(env))
    assert disc.status_code == 200 and disc.headers["content-type"] == TAXII
    body = disc.json()
    assert body["api_roots"] == ["http://testserver/taxii2/feed/"] and body["default"] == body["api_roots"][0]
    root = env.client.get(f"{ROOT}/", headers=_h(env)).json()
    assert root["versions"] == [TAXII] and root["max_content_length"] > 0
    colls = env.client.get(f"{ROOT}/collections/", headers=_h(env)).json()["collections"]
    assert len(colls) == 1 and colls[0]["id"] == COLLECTION_ID
    assert colls[0]["can_read"] is True and colls[0]["can_write"] is False
    assert colls[0]["media_types"] == ["application/stix+json;version=2.1"]
    one = env.client.get(f"{ROOT}/collections/{COLLECTION_ID}/", headers=_h(env)).json()
    assert one == colls[0]
    # errors are TAXII error messages
    for url in ["/taxii2/nope/", f"{ROOT}/collections/nope/", f"{OBJECTS}indicator--{uuid.uuid4()}/"]:
        resp = env.client.get(url, headers=_h(env))
        assert resp.status_code == 404 and resp.headers["content-type"] == TAXII, url
        assert resp.json()["http_status"] == "404" and resp.json()["title"]


def test_media_types(env: ApiEnv) -> None:
    for accept in [TAXII, "application/taxii+json", "*/*", "application/json", f"text/html;q=0.5, {TAXII}"]:
        resp = env.client.get("/taxii2/", headers=_h(env, accept=accept))
        assert resp.status_code == 200, accept
    assert env.client.get("/taxii2/", headers=_h(env, accept="application/json")).headers["content-type"] == (
        "application/json"
    )
    for accept in ["text/html", "application/xml", "application/taxii+json;version=2.0"]:
        resp = env.client.get(f"{ROOT}/collections/", headers=_h(env, accept=accept))
        assert resp.status_code == 406, accept
        assert resp.json()["http_status"] == "406" and resp.headers["content-type"] == TAXII


def test_roles(env: ApiEnv) -> None:
    urls = ["/taxii2/", f"{ROOT}/", f"{ROOT}/collections/", OBJECTS, MANIFEST]
    for url in urls:
        for who in ("analyst", "unit_reporter"):
            resp = env.client.get(url, headers=_h(env, who))
            assert resp.status_code == 403, (url, who)
            assert resp.json()["http_status"] == "403" and resp.headers["content-type"] == TAXII
        for headers in ({"Accept": TAXII}, {"Accept": TAXII, "Authorization": "Bearer soc_nope"}):
            resp = env.client.get(url, headers=headers)
            assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer", url
            assert resp.json()["http_status"] == "401"
        assert env.client.get(url, headers=_h(env, "admin")).status_code == 200
        assert env.client.get(url, headers=_h(env)).status_code == 200
    # every TAXII operation of the OpenAPI document needs a token
    paths = [p for p in env.client.get("/openapi.json").json()["paths"] if p.startswith("/taxii2/")]
    assert len(paths) == 8
    for path in paths:
        url = path.format(api_root="feed", collection_id=COLLECTION_ID, object_id=stix2.TLP_AMBER.id)
        resp = env.client.get(url, headers={"Accept": TAXII})
        assert resp.status_code == 401 and resp.json()["http_status"] == "401", path
    # read-only: no write method on the collection
    assert env.client.post(OBJECTS, headers=_h(env), json={"objects": []}).status_code == 405


def test_objects_paging_filters_manifest_and_audit(env: ApiEnv) -> None:
    for i in range(3):
        inc = _incident(env, title=f"sự cố {i}")
        _observe(env, inc["id"], "ip", f"203.0.113.{10 + i}")
        _patch(env, inc["id"], share_national=True)
    everything = _objects(env)
    objects = everything["objects"]
    # marking + identity + 3 x (incident, indicator, relationship)
    assert len(objects) == 11 and everything["more"] is False and "next" not in everything
    # paging with next: disjoint pages, in order, the same set
    seen: list[str] = []
    query = "?limit=4"
    pages = 0
    while True:
        resp = env.client.get(OBJECTS + query, headers=_h(env))
        page = resp.json()
        pages += 1
        seen += [o["id"] for o in page["objects"]]
        first, last = resp.headers["X-TAXII-Date-Added-First"], resp.headers["X-TAXII-Date-Added-Last"]
        assert first <= last
        if not page["more"]:
            break
        query = f"?limit=4&next={page['next']}"
    assert pages == 3 and seen == [o["id"] for o in objects]
    # added_after with the last date of a page continues after it
    resp = env.client.get(OBJECTS + "?limit=5", headers=_h(env))
    rest = _objects(env, f"?added_after={resp.headers['X-TAXII-Date-Added-Last']}")["objects"]
    assert [o["id"] for o in rest] == [o["id"] for o in objects[5:]]
    # match[type], match[id]
    types = _objects(env, "?match[type]=incident,identity")["objects"]
    assert sorted({o["type"] for o in types}) == ["identity", "incident"] and len(types) == 4
    some = [o["id"] for o in objects if o["type"] == "indicator"][:2]
    picked = _objects(env, f"?match[id]={','.join(some)}")["objects"]
    assert [o["id"] for o in picked] == some
    assert _objects(env, "?match[spec_version]=2.0").get("objects", []) == []
    # manifest agrees with objects
    man = env.client.get(MANIFEST + "?match[type]=indicator", headers=_h(env))
    assert man.status_code == 200 and man.headers["content-type"] == TAXII
    records = man.json()["objects"]
    indicators = [o for o in objects if o["type"] == "indicator"]
    assert [r["id"] for r in records] == [o["id"] for o in indicators]
    assert [r["version"] for r in records] == [o["modified"] for o in indicators]
    assert all(
        r["media_type"] == "application/stix+json;version=2.1" and r["date_added"].endswith("Z") for r in records
    )
    # bad parameters: 400 as TAXII errors
    for query in ["?limit=0", "?limit=x", "?next=abc", "?added_after=yesterday", "?match[version]=soon"]:
        resp = env.client.get(OBJECTS + query, headers=_h(env))
        assert resp.status_code == 400 and resp.json()["http_status"] == "400", query
    # every fetch by the feed client is audited: who, collection, count
    with env.sessions() as s:
        fetches = s.scalars(
            select(AuditLog).where(AuditLog.actor == "feed_client", AuditLog.action.like("taxii.%"))
        ).all()
        assert fetches and all(f.object_type == "collection" and f.object_id == COLLECTION_ID for f in fetches)
        assert fetches[0].action == "taxii.objects" and fetches[0].detail["count"] == 11
        assert any(f.action == "taxii.manifest" and f.detail["count"] == 3 for f in fetches)
        assert audit.verify(s).ok


def test_reference_client_reads_the_collection(env: ApiEnv) -> None:
    """taxii2-client (the OASIS reference client) over real HTTP against the app served by uvicorn."""
    taxii2client = pytest.importorskip("taxii2client.v21")
    requests = pytest.importorskip("requests")
    _shared_defacement(env)
    token = env.tokens["feed_client"]

    class Bearer(requests.auth.AuthBase):  # type: ignore[misc]
        def __call__(self, request: Any) -> Any:
            request.headers["Authorization"] = f"Bearer {token}"
            return request

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(env.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        taxii_server = taxii2client.Server(f"http://127.0.0.1:{port}/taxii2/", auth=Bearer())
        assert taxii_server.title == "Provincial SOC TAXII server"
        collection = taxii_server.default.collections[0]
        assert collection.id == COLLECTION_ID and collection.can_read and not collection.can_write
        fetched: list[dict[str, Any]] = []
        for envelope in taxii2client.as_pages(collection.get_objects, per_request=3):
            fetched += envelope.get("objects", [])
        assert [o["id"] for o in fetched] == [o["id"] for o in _objects(env)["objects"]]
        assert {o["type"] for o in fetched} >= {"incident", "indicator", "relationship"}
        manifest = collection.get_manifest()
        assert len(manifest["objects"]) == len(fetched)
        incident = next(o for o in fetched if o["type"] == "incident")
        assert collection.get_object(incident["id"])["objects"][0]["id"] == incident["id"]
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_mapping_defect_does_not_block_the_change(
    env: ApiEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> list[dict[str, Any]]:
        raise ValueError("defect")

    inc = _incident(env)
    monkeypatch.setattr(stix_map, "incident_objects", broken)
    assert _patch(env, inc["id"], share_national=True)["share_national"] is True
    assert "could not be mapped to STIX" in caplog.text
    assert _objects(env).get("objects", []) == []
    monkeypatch.undo()
    _patch(env, inc["id"], title="đã sửa")  # the next change shares it
    assert [o["name"] for o in _objects(env)["objects"] if o["type"] == "incident"] == ["đã sửa"]
