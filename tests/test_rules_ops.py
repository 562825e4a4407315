"""Rule operations: `soc rules import` (folder, zip, tar.gz, hostile archives), enable/disable state.

Rules are small ones written here (tests/rules_ops_support.py); the SigmaHQ corpus is used only
through the ``sigma_corpus`` fixture.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import orjson
import pytest
import yaml

from detections.rulesets import ActiveDetector, RuleState, import_rules, list_imports, load_active_ruleset, rule_paths
from detections.rulesets.archive import ArchiveError, Limits, safe_extract
from detections.sigma import RuleSet
from soc_core.errors import InputError
from tests.rules_ops_support import (
    ADMIN_ID,
    BROKEN_ID,
    KEYWORD_ID,
    RULES,
    SQLI_ID,
    web_event,
    win_event,
    write_rules,
)

REPO = Path(__file__).resolve().parent.parent
TS = "2026-11-20T08:00:00.000Z"


def _zip_from(src: Path, dest: Path, top: str = "sigma_all_rules") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"{top}/{p.relative_to(src)}")
    return dest


def _tar_from(src: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, str(p.relative_to(src)), recursive=False)
    return dest


def _no_leftovers(data_dir: Path) -> None:
    root = data_dir / "rules"
    left = [p.name for p in root.iterdir()] if root.exists() else []
    assert left == [], left


# ------------------------------------------------------------------------------------ import
def test_import_from_a_checkout_folder(tmp_path: Path) -> None:
    src = write_rules(tmp_path / "sigma-checkout")
    (src / "README.md").write_text("not a rule")
    (src / ".github" / "workflows").mkdir(parents=True)
    (src / ".github" / "workflows" / "ci.yml").write_text("on: push\n")  # not a rules* folder: ignored
    (src / "rules" / "web" / "link.yml").symlink_to(src / "rules" / "web" / "sqli_union.yml")
    data = tmp_path / "data"

    report = import_rules(src, data, "sigmahq")

    dest = data / "rules" / "sigmahq"
    assert report.dest == str(dest.resolve())
    assert report.files == len(RULES)  # every rule file, no workflow, no symlink
    assert (dest / "rules" / "web" / "sqli_union.yml").is_file()
    assert not (dest / "rules" / "web" / "link.yml").exists()
    assert any("link.yml" in s and "symbolic link" in s for s in report.skipped)
    assert report.loaded == 3
    assert [Path(f.path).name for f in report.failures] == ["broken.yml"]
    assert "nosuchmodifier" in report.failures[0].reason and report.failures[0].line == 7
    assert any("placeholder" in w.reason for w in report.warnings)
    history = list_imports(data)
    assert [(h["name"], h["loaded"], h["failed"], h["files"]) for h in history] == [("sigmahq", 3, 1, len(RULES))]
    assert history[0]["source"] == str(src.resolve()) and history[0]["imported_at"] > 0
    # the imported set is part of the active rule paths
    assert rule_paths([REPO / "detections" / "rules"], data) == [REPO / "detections" / "rules", dest]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_import_from_release_archive(tmp_path: Path, kind: str) -> None:
    src = write_rules(tmp_path / "src")
    archive = (
        _zip_from(src, tmp_path / "sigma_all_rules.zip")
        if kind == "zip"
        else _tar_from(src, tmp_path / "sigma_all_rules.tar.gz")
    )
    data = tmp_path / "data"
    report = import_rules(archive, data)
    assert report.name == "sigma_all_rules"
    assert report.loaded == 3 and len(report.failures) == 1 and report.files == len(RULES)
    ruleset = RuleSet.load([data / "rules" / "sigma_all_rules"])
    assert {r.id for r in ruleset.rules} == {SQLI_ID, ADMIN_ID, KEYWORD_ID}
    assert [p.name for p in (data / "rules").iterdir() if p.name.startswith(".")] == []  # staging removed


def test_reimport_replaces_the_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    import_rules(write_rules(tmp_path / "a"), data, "set")
    only_admin = write_rules(tmp_path / "b", ["rules/windows/new_admin.yml"])
    report = import_rules(only_admin, data, "set")
    assert report.loaded == 1 and report.failures == []
    assert sorted(p.name for p in (data / "rules" / "set").rglob("*.yml")) == ["new_admin.yml"]
    assert [h["loaded"] for h in list_imports(data)] == [3, 1]


def _hostile_zip(path: Path, name: str, data: bytes = b"title: x\n", *, symlink: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("rules/ok.yml", RULES["rules/web/sqli_union.yml"])
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (0o120777 << 16) | 0
        zf.writestr(info, data)
    return path


def _hostile_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        ok = RULES["rules/web/sqli_union.yml"].encode()
        good = tarfile.TarInfo("rules/ok.yml")
        good.size = len(ok)
        tf.addfile(good, io.BytesIO(ok))
        member.size = len(data) if member.isfile() else 0
        tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        (lambda p: _hostile_zip(p / "a.zip", "../../evil.yml"), "path traversal"),
        (lambda p: _hostile_zip(p / "a.zip", "/etc/evil.yml"), "absolute"),
        (lambda p: _hostile_zip(p / "a.zip", "rules/link.yml", b"/etc/passwd", symlink=True), "symbolic link"),
        (lambda p: _hostile_tar(p / "a.tar.gz", _tar_member("rules/../../evil.yml"), b"x"), "path traversal"),
        (lambda p: _hostile_tar(p / "a.tar.gz", _tar_member("rules/l.yml", tarfile.SYMTYPE, "/etc/passwd")), "link"),
        (lambda p: _hostile_tar(p / "a.tar.gz", _tar_member("rules/h.yml", tarfile.LNKTYPE, "rules/ok.yml")), "link"),
        (lambda p: _hostile_tar(p / "a.tar.gz", _tar_member("rules/dev", tarfile.CHRTYPE)), "special file"),
    ],
)
def test_hostile_archives_are_refused_whole(tmp_path: Path, builder, message: str) -> None:  # type: ignore[no-untyped-def]
    archive = builder(tmp_path)
    data = tmp_path / "data"
    with pytest.raises(ArchiveError, match=message):
        import_rules(archive, data, "hostile")
    _no_leftovers(data)
    assert not (tmp_path / "evil.yml").exists() and not (tmp_path.parent / "evil.yml").exists()
    assert list_imports(data) == []


def test_huge_members_and_bombs_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rules/big.yml", b"a" * (2 * 1024 * 1024))  # compresses to a few KB
    assert bomb.stat().st_size < 50_000
    with pytest.raises(ArchiveError, match="larger than"):
        safe_extract(bomb, tmp_path / "out1", Limits(member_bytes=1024 * 1024))
    assert not (tmp_path / "out1").exists()
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"rules/r{i}.yml", b"b" * 3000)
    with pytest.raises(ArchiveError, match="larger than 10000 bytes unpacked"):
        safe_extract(many, tmp_path / "out2", Limits(total_bytes=10_000))
    with pytest.raises(ArchiveError, match="too many members"):
        safe_extract(many, tmp_path / "out3", Limits(members=3))
    data = tmp_path / "data"
    with pytest.raises(ArchiveError, match="larger than"):
        import_rules(bomb, data, "bomb", limits=Limits(member_bytes=1024 * 1024))
    _no_leftovers(data)


def test_unusable_sources_are_clear_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(InputError, match="no such file"):
        import_rules(tmp_path / "missing.zip", data)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a folder, zip or tar"):
        import_rules(text, data)
    with pytest.raises(InputError, match="invalid rule set name"):
        import_rules(write_rules(tmp_path / "src"), data, "../escape")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no rule files"):
        import_rules(empty, data, "empty")
    _no_leftovers(data)


def test_import_of_the_sigmahq_corpus_keeps_its_rule_folders(sigma_corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    report = import_rules(sigma_corpus, data, "sigmahq")
    dest = data / "rules" / "sigmahq"
    assert (dest / "rules").is_dir() and not (dest / "regression_data").exists()
    expected = sum(1 for d in sigma_corpus.iterdir() if d.name.startswith("rules") for _ in d.rglob("*.yml"))
    assert report.files == expected
    assert report.loaded > 3000 and report.loaded + len(report.failures) <= report.files + 50


# ------------------------------------------------------------------------------- enable/disable
def _events() -> list[dict[str, object]]:
    return [web_event(1, "id=1 union select pass", TS), win_event(2, 4732, "Administrators", TS)]


def _fired(detector: ActiveDetector) -> set[str]:
    return {d.rule_id for d in detector.process(_events())}  # type: ignore[arg-type]


def test_disable_by_id_and_folder_through_the_state_file(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "set")
    state_file = tmp_path / "rules-state.yml"
    detector = ActiveDetector([root], state_file, check_every_s=0)
    assert _fired(detector) == {SQLI_ID, ADMIN_ID}

    state = RuleState.load(state_file)
    state.set_rule(SQLI_ID, False, str(root / "rules/web/sqli_union.yml"))
    state.save(state_file)
    assert _fired(detector) == {ADMIN_ID}  # reloaded on mtime change
    assert SQLI_ID not in {r.id for r in load_active_ruleset([root], state_file).rules}  # its only rule: file left out

    state.set_folder(root / "rules" / "windows", False)
    state.save(state_file)
    time.sleep(0.01)
    os.utime(state_file)
    assert _fired(detector) == set()
    assert ADMIN_ID not in {r.id for r in detector.ruleset.rules}

    # a rule enabled explicitly inside a disabled folder comes back; the rule's own flag wins
    state.set_rule(ADMIN_ID, True, str(root / "rules/windows/new_admin.yml"))
    state.set_rule(SQLI_ID, True)
    state.save(state_file)
    assert _fired(detector) == {SQLI_ID, ADMIN_ID}
    saved = yaml.safe_load(state_file.read_text())
    assert saved["rules"][ADMIN_ID]["enabled"] is True
    assert saved["folders"] == {str((root / "rules" / "windows").resolve()): False}


def test_multi_rule_file_disable_filters_detections(tmp_path: Path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    (root / "both.yml").write_text(
        RULES["rules/web/sqli_union.yml"].strip() + "\n---\n" + RULES["rules/windows/new_admin.yml"].strip() + "\n"
    )
    state_file = tmp_path / "rules-state.yml"
    RuleState(rules={ADMIN_ID: False}).save(state_file)
    detector = ActiveDetector([root], state_file)
    assert {r.id for r in detector.ruleset.rules} == {SQLI_ID, ADMIN_ID}  # the file holds an enabled rule
    assert _fired(detector) == {SQLI_ID}
    assert [r.id for r in detector.rules] == [SQLI_ID]


def test_bad_state_file_is_a_clear_error_and_a_live_worker_keeps_its_state(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "set")
    state_file = tmp_path / "rules-state.yml"
    RuleState(rules={SQLI_ID: False}).save(state_file)
    detector = ActiveDetector([root], state_file, check_every_s=0)
    state_file.write_text("rules: [not, a, mapping]\n")
    assert _fired(detector) == {ADMIN_ID}  # previous state kept
    with pytest.raises(Exception, match="must be mappings"):
        RuleState.load(state_file)
    state_file.write_text("rules: {x: maybe}\n")
    with pytest.raises(Exception, match="expected true/false"):
        RuleState.load(state_file)


# ------------------------------------------------------------------------------------- CLI
def _soc(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "SOC_DATA_DIR": str(data), "SOC_RULES": orjson.dumps([]).decode()}
    return subprocess.run(
        [sys.executable, "-m", "soc_cli.main", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_cli_import_disable_enable_with_audit(tmp_path: Path) -> None:
    from soc_api.crud import audit
    from soc_api.db import migrate
    from soc_api.db.session import make_engine, make_sessionmaker

    data = tmp_path / "data"
    archive = _zip_from(write_rules(tmp_path / "src"), tmp_path / "sigma_all_rules.zip")
    proc = _soc("rules", "import", str(archive), "--name", "hq", data=data)
    assert proc.returncode == 0, proc.stderr
    assert "broken.yml:7: error: SigmaModifierError" in proc.stdout
    assert "3 rules loaded, 1 failed" in proc.stderr

    proc = _soc("rules", "disable", SQLI_ID, data=data)
    assert proc.returncode == 0, proc.stderr
    proc = _soc("rules", "disable", str(data / "rules" / "hq" / "rules" / "windows"), data=data)
    assert proc.returncode == 0, proc.stderr
    proc = _soc("rules", "enable", SQLI_ID, data=data)
    assert proc.returncode == 0, proc.stderr
    proc = _soc("rules", "disable", "no-such-rule", data=data)
    assert proc.returncode == 2 and "neither a rule id nor a folder" in proc.stderr

    state = RuleState.load(data / "rules-state.yml")
    assert state.rules == {SQLI_ID: True}
    windows = str((data / "rules" / "hq" / "rules" / "windows").resolve())
    assert state.folders == {windows: False}
    active = {r.id for r in load_active_ruleset(rule_paths([], data), data / "rules-state.yml").rules}
    assert active == {SQLI_ID, KEYWORD_ID}
    assert BROKEN_ID not in active

    url = f"sqlite:///{data / 'soc.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            rule_rows = audit.entries_for(s, "rule", SQLI_ID)
            folder_rows, _ = audit.list_entries(s, object_type="rule_folder")
            import_rows = audit.entries_for(s, "rule_set", "hq")
            assert [r.action for r in rule_rows] == ["rule.disable", "rule.enable"]
            assert all(r.actor.startswith("cli") for r in rule_rows)
            assert [r.action for r in folder_rows] == ["rule_folder.disable"]
            assert import_rows[0].detail["loaded"] == 3
    finally:
        engine.dispose()
