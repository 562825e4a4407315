"""Anomaly models: the demo model flags attacks, skops round trip, hostile files refused, CLI, worker wiring."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio

from detections.models import AnomalyDetector, load_model, save_model
from detections.models.store import FORMAT, AnomalyModel
from detections.models.train import feature_rows, fit, rows_matrix
from pipeline.parsers import parse_record
from soc_cli.detect import read_records
from soc_cli.models_cmd import DEMO_CONTAMINATION, DEMO_FORMATS, DEMO_TREES
from soc_core.errors import ModelError, SocError
from soc_core.models import RawRecord
from soc_demo.generator import generate

# ground-truth scenarios whose source addresses the model must flag (brute force, web scanning)
MUST_FLAG = ("ssh_bruteforce", "rdp_bruteforce_dongve", "web_nikto")


def _events(root: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, fmt in DEMO_FORMATS.items():
        out += [parse_record(r) for r in read_records(root / name, fmt) if isinstance(r, RawRecord)]
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("anomaly")
    generate(root / "train", seed=11, attacks=False)
    truth = generate(root / "test", seed=7)
    rows = feature_rows(_events(root / "train"))
    model = fit(
        rows_matrix(rows.windows),
        name="demo",
        training_events=rows.events,
        contamination=DEMO_CONTAMINATION,
        trees=DEMO_TREES,
        random_state=0,
    )
    path = root / "demo.skops"
    save_model(model, path)
    # attacker addresses from the ground truth: the labelled lines, parsed
    attackers: dict[str, set[str]] = {}
    for item in truth:
        with (root / "test" / item.file).open("rb") as fh:
            fh.seek(item.offset)
            line = fh.readline().rstrip(b"\n")
        fmt = DEMO_FORMATS[item.file]
        record = RawRecord(id="x", received=0.0, collector="t", kind="file", source="t", data=line, format=fmt)
        ip = parse_record(record).get("source", {}).get("ip")
        if ip:
            attackers.setdefault(item.scenario, set()).add(ip)
    return {"root": root, "model": model, "path": path, "attackers": attackers, "events": _events(root / "test")}


def test_demo_model_flags_attackers_and_few_benign_windows(demo: dict[str, Any]) -> None:
    detector = AnomalyDetector(load_model(demo["path"]), lateness_seconds=float("inf"))
    detections = detector.process(demo["events"]) + detector.flush()
    flagged = {d.entity.get("source.ip") for d in detections}
    for scenario in MUST_FLAG:
        assert demo["attackers"][scenario] & flagged, f"{scenario} not flagged"
    every_attacker = set().union(*demo["attackers"].values())
    benign = [
        w
        for w in feature_rows(demo["events"]).windows
        if w.key.entity_field == "source.ip" and w.key.entity not in every_attacker
    ]
    scores = detector.score_windows(benign)
    share = float(np.mean(scores < demo["model"].meta.threshold))
    assert len(benign) > 200
    assert share <= 0.05, share
    # the shape of a detection: per-entity dedup, model rule id, tags from the dominant feature
    brute = next(d for d in detections if d.entity.get("source.ip") in demo["attackers"]["ssh_bruteforce"])
    assert brute.rule_id == "model:demo"
    assert brute.dedup_key == f"model:demo|source.ip={brute.entity['source.ip']}"
    assert brute.level in ("medium", "high")
    assert "attack.credential_access" in brute.tags
    assert brute.event["soc"]["anomaly"]["features"]["auth_failures"] >= 5
    assert brute.event_id == brute.event["event"]["id"]


def test_scoring_is_one_call_per_batch(demo: dict[str, Any]) -> None:
    detector = AnomalyDetector(demo["model"])
    events = demo["events"]
    for i in range(0, len(events), 1000):
        detector.process(events[i : i + 1000])
    assert detector.stats.windows_scored > detector.stats.score_calls * 5
    assert detector.stats.score_calls <= -(-len(events) // 1000)


def test_skops_round_trip(demo: dict[str, Any]) -> None:
    loaded = load_model(demo["path"])
    assert loaded.meta == demo["model"].meta
    x = rows_matrix(feature_rows(demo["events"][:2000]).windows)
    assert np.array_equal(loaded.score(x), demo["model"].score(x))
    assert loaded.meta.sklearn_version and loaded.meta.training_rows > 100


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/soc-anomaly-test-pwned")


def test_pickle_file_refused_without_running_code(tmp_path: Path) -> None:
    MARKER.unlink(missing_ok=True)
    path = tmp_path / "evil.skops"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ModelError, match="not a skops model file") as info:
        load_model(path)
    assert isinstance(info.value, SocError)
    assert not MARKER.exists()


def test_untrusted_types_refused(tmp_path: Path, demo: dict[str, Any]) -> None:
    path = tmp_path / "hostile.skops"
    sio.dump({"format": FORMAT, "format_version": 1, "meta": {}, "pipeline": os.system}, path)
    with pytest.raises(ModelError, match="untrusted types"):
        load_model(path)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError):
        load_model(junk)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.skops")


def test_wrong_feature_version_refused(tmp_path: Path, demo: dict[str, Any]) -> None:
    model: AnomalyModel = demo["model"]
    old = AnomalyModel(dataclasses.replace(model.meta, features_version="0", features=["events"]), model.pipeline)
    path = tmp_path / "old.skops"
    save_model(old, path)
    with pytest.raises(ModelError, match="feature list version 0"):
        load_model(path)
    assert load_model(path, check_features=False).meta.features_version == "0"  # `soc models info` still reads it


def _soc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc_cli.main", *args], capture_output=True, text=True, timeout=120)


def test_cli_train_and_info(tmp_path: Path, demo: dict[str, Any]) -> None:
    out = tmp_path / "m.skops"
    train_dir = demo["root"] / "train"
    proc = _soc(
        "models",
        "train",
        "--input",
        str(train_dir / "auth.log"),
        "--input",
        str(train_dir / "nginx_access.log"),
        "--out",
        str(out),
        "--contamination",
        "0.02",
        "--trees",
        "50",
    )
    assert proc.returncode == 0, proc.stderr
    meta = load_model(out).meta
    assert meta.name == "m" and meta.trees == 50 and meta.contamination == 0.02
    assert meta.training_rows > 100 and meta.sources[0].endswith("auth.log")
    info = _soc("models", "info", str(out))
    assert info.returncode == 0, info.stderr
    assert "training_rows" in info.stdout and str(meta.training_rows) in info.stdout
    assert "features_version     1" in info.stdout
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"\x80\x04not a model")
    info = _soc("models", "info", str(bad))
    assert info.returncode == 2 and "not a skops model file" in info.stderr


def test_cli_detect_with_model(tmp_path: Path, demo: dict[str, Any]) -> None:
    test_dir = demo["root"] / "test"
    proc = _soc(
        "detect",
        "--rules",
        "detections/rules",
        "--input",
        str(test_dir / "auth.log"),
        "--input-format",
        "auth",
        "--model",
        str(demo["path"]),
    )
    assert proc.returncode == 0, proc.stderr
    matches = [json.loads(line) for line in proc.stdout.splitlines()]
    anomalies = [m for m in matches if m["rule_id"] == "model:demo"]
    assert any(m["event"]["source"]["ip"] == "45.155.205.233" for m in anomalies)
    assert any(not m["rule_id"].startswith("model:") for m in matches)  # Sigma matches are still there


def test_worker_runs_models_after_rules(demo: dict[str, Any]) -> None:
    from detections.sigma import Detector, RuleSet
    from pipeline.worker import EventProcessor

    detector = AnomalyDetector(demo["model"], lateness_seconds=0)
    processor = EventProcessor(Detector(RuleSet.load([Path("detections/rules")])), models=[detector])
    root = demo["root"] / "test"
    records = [r for r in read_records(root / "auth.log", "auth") if isinstance(r, RawRecord)]
    batch = processor.process(records)
    late = detector.flush()
    ids = {d.rule_id for d in batch.detections + late}
    assert "model:demo" in ids and len(ids) > 1
    assert all("anomaly" not in e.get("soc", {}) for e in batch.events)  # published events stay unchanged


def test_windows_below_min_events_are_not_scored(demo: dict[str, Any]) -> None:
    every = AnomalyDetector(demo["model"], lateness_seconds=float("inf"), min_events=1)
    found = every.process(demo["events"]) + every.flush()
    tiny = [d for d in found if d.event["soc"]["anomaly"]["features"]["events"] < 3]
    assert tiny, "the demo holds anomalous windows of one or two events (a user-name spray)"

    default = AnomalyDetector(demo["model"], lateness_seconds=float("inf"))
    kept = default.process(demo["events"]) + default.flush()
    assert all(d.event["soc"]["anomaly"]["features"]["events"] >= 3 for d in kept)
    assert {d.dedup_key for d in kept} == {d.dedup_key for d in found} - {d.dedup_key for d in tiny}
    assert default.stats.too_small > 0
    assert default.stats.windows_scored + default.stats.too_small == every.stats.windows_scored
