"""The synthetic provincial log generator: determinism, exact offsets, parseable output, inventory."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from detections.sigma import Detector, RuleSet
from pipeline.enrich import AssetInventory
from pipeline.parsers import parse_record
from soc_core.errors import InputError
from soc_core.models import RawRecord
from soc_demo import ASSETS_PATH, generate, iter_syslog_demo, load_ground_truth
from soc_demo.events import FILES, Rule

ROOT = Path(__file__).resolve().parents[1]
FORMATS = {"nginx_access.log": "nginx", "apache_access.log": "apache", "auth.log": "auth", "windows.jsonl": "winjson"}
DATASETS = {
    "nginx_access.log": "nginx.access",
    "apache_access.log": "apache.access",
    "auth.log": "system.auth",
    "windows.jsonl": {"windows.security", "windows.sysmon_operational", "windows.system"},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=7)
    return out


def _lines(path: Path) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        out.append((offset, line.rstrip(b"\n")))
        offset += len(line)
    return out


def test_same_seed_same_bytes_other_seed_differs(demo: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, seed=7)
    generate(other, seed=8)
    for name in (*FILES, "ground_truth.jsonl"):
        assert (demo / name).read_bytes() == (again / name).read_bytes(), name
    assert (demo / "nginx_access.log").read_bytes() != (other / "nginx_access.log").read_bytes()


def test_volume_and_vietnamese_content(demo: Path) -> None:
    sizes = {name: len(_lines(demo / name)) for name in FILES}
    assert sum(sizes.values()) >= 3000, sizes
    assert all(n >= 100 for n in sizes.values()), sizes
    nginx = (demo / "nginx_access.log").read_text("utf-8")
    assert "/thu-tuc-hanh-chinh" in nginx and "/tim-kiem?q=" in nginx and "%E1%BB" in nginx  # encoded Vietnamese


def test_ground_truth_offsets_point_at_labelled_lines(demo: Path) -> None:
    truth = load_ground_truth(demo / "ground_truth.jsonl")
    assert len(truth) >= 30
    starts = {name: dict(_lines(demo / name)) for name in FILES}
    for item in truth:
        assert item.file in starts, item
        assert item.offset in starts[item.file], f"{item} is not at a line start"
        assert item.scenario != "background"
    assert len({(t.rule_id, t.file, t.offset) for t in truth}) == len(truth)
    # spot checks of what the lines are
    by_rule = Counter(t.rule_id for t in truth)
    assert by_rule[Rule.SSH_BRUTE_FORCE] == 4  # 23 failures -> 2, enumeration 13 -> 1, root compromise 11 -> 1
    assert by_rule[Rule.PORTAL_LOGIN_BRUTE_FORCE] == 3  # 32 -> 2 on dịch vụ công, 17 -> 1 on WordPress
    assert by_rule[Rule.WIN_LOGON_BRUTE_FORCE] == 2
    for item in truth:
        line = starts[item.file][item.offset]
        if item.rule_id == Rule.SSH_BRUTE_FORCE:
            assert b"Failed password" in line
        if item.rule_id == Rule.WIN_LOG_CLEARED:
            assert json.loads(line)["Event"]["System"]["EventID"] == 1102


def test_scale_changes_background_not_attacks(tmp_path: Path) -> None:
    full = generate(tmp_path / "full", seed=3, scale=1.0)
    none = generate(tmp_path / "none", seed=3, scale=0.0, hours=1.0)
    assert Counter((g.rule_id, g.scenario) for g in full) == Counter((g.rule_id, g.scenario) for g in none)
    assert (tmp_path / "none" / "nginx_access.log").stat().st_size < (
        tmp_path / "full" / "nginx_access.log"
    ).stat().st_size
    with pytest.raises(InputError):
        generate(tmp_path / "bad", hours=0)


def _parse_all(demo: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in FILES:
        events = []
        for offset, data in _lines(demo / name):
            record = RawRecord(
                id=f"{name}:{offset}",
                received=0.0,
                collector="file",
                kind="file",
                source=str(demo / name),
                data=data,
                format=FORMATS[name],
                offset=offset,
            )
            events.append(parse_record(record))
        out[name] = events
    return out


def test_every_file_parses_in_time_order(demo: Path) -> None:
    for name, events in _parse_all(demo).items():
        want = DATASETS[name]
        stamps = []
        for event in events:
            dataset = event["event"]["dataset"]
            assert dataset in want if isinstance(want, set) else dataset == want, (name, event["event"]["original"])
            stamps.append(event["@timestamp"])
        assert stamps == sorted(stamps), f"{name}: timestamps not in order"


def test_hosts_and_internal_addresses_are_in_the_inventory(demo: Path) -> None:
    inventory = yaml.safe_load(ASSETS_PATH.read_text("utf-8"))
    units = {u["code"] for u in inventory["units"]}
    assert {"TH", "TH.VP", "TH.SKHCN", "TH.TPTH.DONGVE", "TH.HHH.HOANGDAO"} <= units
    assert all(a["unit"] in units and 1 <= a["security_level"] <= 5 for a in inventory["assets"])
    assert all(a["owner"]["email"].endswith("@thanhhoa.gov.vn") for a in inventory["assets"])
    assets = AssetInventory.load(ASSETS_PATH)
    events = _parse_all(demo)
    for name in ("auth.log", "windows.jsonl"):
        for event in events[name]:
            host = event.get("host", {}).get("name") or event["log"]["syslog"]["hostname"]
            assert assets.lookup(hostname=host) is not None, f"{name}: host {host} not in assets.yml"
    for name in ("nginx_access.log", "apache_access.log"):
        for event in events[name]:
            ip = event["source"]["ip"]
            if ip.startswith("10."):
                assert assets.lookup(ip=ip) is not None, f"{name}: {ip} not in assets.yml"
            assert assets.lookup(hostname=event["url"]["domain"]) is not None


def test_syslog_demo_is_rfc5424_with_attack() -> None:
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    messages = list(iter_syslog_demo(7, start=start))
    assert messages == list(iter_syslog_demo(7, start=start))
    assert all(m.startswith((b"<38>1 ", b"<86>1 ")) for m in messages)
    text = b"\n".join(messages).decode()
    assert text.count("Failed password for root from 45.155.205.233") >= 10
    assert "Accepted password for root from 45.155.205.233" in text
    ssh, events = [], []
    for i, data in enumerate(messages):
        record = RawRecord(
            id=str(i),
            received=0.0,
            collector="syslog-udp",
            kind="syslog",
            source="udp://127.0.0.1:1",
            data=data,
            format="syslog",
        )
        event = parse_record(record)
        events.append(event)
        ssh.append(event.get("system", {}).get("auth", {}).get("ssh", {}).get("event"))
    assert ssh.count("Failed") >= 10 and "Accepted" in ssh
    ruleset = RuleSet.load([ROOT / "detections" / "rules"])
    fired = Counter(d.rule_id for d in Detector(ruleset).process(events))
    assert fired == Counter({Rule.SSH_BRUTE_FORCE: 1, Rule.SSH_ROOT_EXTERNAL: 1})
