"""The project's own Sigma rules against the synthetic provincial logs: exactly the ground truth.

Generates the demo data (soc_demo.generator), reads every file with the file collector, parses,
enriches with the demo asset inventory and runs the detection engine file by file, in order. The
set of (rule_id, file, log.offset) detections must equal ground_truth.jsonl, and every shipped
rule that emits must fire at least once. The demo data has no packet captures: the rules in
``detections/rules/network`` fire on pcap-derived events, which tests/test_collectors_pcap.py covers
end to end (test_capture_rules_are_covered_by_the_pcap_tests checks that it names each of them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.files import iter_file_records
from detections.sigma import Detector, RuleSet
from pipeline.enrich import AssetInventory
from pipeline.parsers import parse_record
from soc_core.models import RawRecord
from soc_demo import ASSETS_PATH, generate, load_ground_truth
from soc_demo.events import FILES

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "detections" / "rules"
CAPTURE_RULES_DIR = RULES_DIR / "network"  # fired by tests/test_collectors_pcap.py, not by the demo logs
FORMATS = {"nginx_access.log": "nginx", "apache_access.log": "apache", "auth.log": "auth", "windows.jsonl": "winjson"}


def _events(path: Path, fmt: str, inventory: AssetInventory) -> list[dict[str, Any]]:
    events = []
    for record in iter_file_records(path, format=fmt):
        assert isinstance(record, RawRecord), f"{path.name}: dead letter {record}"
        event = parse_record(record)
        inventory.enrich(event, None)
        events.append(event)
    return events


@pytest.fixture(scope="module", params=[(7, 1.0), (2024, 0.5)], ids=["seed7", "seed2024-half"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    seed, scale = request.param
    out = tmp_path_factory.mktemp("demo")
    truth = generate(out, seed=seed, scale=scale)
    ruleset = RuleSet.load([RULES_DIR])
    inventory = AssetInventory.load(ASSETS_PATH)
    got: set[tuple[str, str, int]] = set()
    detections = []
    for name in FILES:
        detector = Detector(ruleset)
        found = detector.process(_events(out / name, FORMATS[name], inventory))
        assert detector.rule_errors == 0
        for det in found:
            log = det.event["log"]
            got.add((det.rule_id, Path(log["file"]["path"]).name, log["offset"]))
            detections.append(det)
    return {"out": out, "truth": truth, "ruleset": ruleset, "got": got, "detections": detections}


def test_rules_load_without_failures(run: dict[str, Any]) -> None:
    ruleset = run["ruleset"]
    assert [str(f) for f in ruleset.failures] == []
    assert len(ruleset.rules) >= 18
    assert all(r.id and r.title and r.level for r in ruleset.rules)


def test_detections_equal_ground_truth(run: dict[str, Any]) -> None:
    expected = {(g.rule_id, g.file, g.offset) for g in run["truth"]}
    assert expected == {(g.rule_id, g.file, g.offset) for g in load_ground_truth(run["out"] / "ground_truth.jsonl")}
    got = run["got"]
    lines: dict[str, bytes] = {name: (run["out"] / name).read_bytes() for name in FILES}

    def show(items: set[tuple[str, str, int]]) -> list[str]:
        return [f"{r} {f}@{o}: {lines[f][o : o + 200]!r}" for r, f, o in sorted(items)]

    assert not (got - expected), "unexpected detections:\n" + "\n".join(show(got - expected))
    assert not (expected - got), "missed detections:\n" + "\n".join(show(expected - got))
    assert len(run["detections"]) == len(got), "a rule fired twice on the same record"


def _silent_base_ids() -> set[str]:
    """Ids of base rules referenced by a correlation without ``generate: true`` (they never emit)."""
    docs = [d for f in sorted(RULES_DIR.rglob("*.yml")) for d in yaml.safe_load_all(f.read_text("utf-8")) if d]
    ref_to_id = {d[k]: d["id"] for d in docs for k in ("id", "name") if k in d}
    silent: set[str] = set()
    for doc in docs:
        corr = doc.get("correlation")
        if corr and not corr.get("generate", False):
            silent |= {ref_to_id[ref] for ref in corr["rules"]}
    return silent


def _capture_rule_ids() -> set[str]:
    return {d["id"] for f in CAPTURE_RULES_DIR.rglob("*.yml") for d in yaml.safe_load_all(f.read_text("utf-8")) if d}


def test_capture_rules_are_covered_by_the_pcap_tests() -> None:
    ids = _capture_rule_ids()
    assert len(ids) >= 3
    pcap_tests = (ROOT / "tests" / "test_collectors_pcap.py").read_text("utf-8")
    assert "def test_soc_detect_pcap_end_to_end" in pcap_tests
    missing = sorted(i for i in ids if f'"{i}"' not in pcap_tests)
    assert not missing, f"capture rules no pcap test fires: {missing}"


def test_every_emitting_rule_fires(run: dict[str, Any]) -> None:
    silent = _silent_base_ids()
    assert len(silent) == 4
    emitting = {r.id for r in run["ruleset"].rules} - silent - _capture_rule_ids()
    assert len(emitting) >= 18
    fired = {rule_id for rule_id, _, _ in run["got"]}
    assert fired == emitting, f"never fired: {sorted(emitting - fired)}; silent bases fired: {sorted(fired - emitting)}"


def test_detections_carry_units(run: dict[str, Any]) -> None:
    """Server-side records (auth.log hosts, Windows computers) are all in soc_demo/assets.yml."""
    hosts = [d for d in run["detections"] if d.event.get("winlog") or d.event["event"]["dataset"] == "system.auth"]
    assert hosts and all(d.unit for d in hosts), [d.event["event"]["original"][:80] for d in hosts if not d.unit]


def test_catalogue_lists_every_rule(run: dict[str, Any]) -> None:
    catalogue = (ROOT / "detections" / "README.md").read_text("utf-8")
    missing = [f"{r.id} {r.title}" for r in run["ruleset"].rules if r.id not in catalogue]
    assert not missing, f"detections/README.md does not list: {missing}"
