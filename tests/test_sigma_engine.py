"""Sigma engine: modifiers, wildcards, conditions, keywords, routing, field mapping, Detection fields."""

from __future__ import annotations

import base64
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from detections.sigma import Detector, RuleSet
from soc_core.ids import stable_id

NGINX_LS = "logsource: {category: webserver}"
SYSMON_LS = "logsource: {product: windows, category: process_creation}"


def load(tmp_path: Path, *rules: str, name: str = "rule") -> RuleSet:
    for i, body in enumerate(rules):
        (tmp_path / f"{name}{i}.yml").write_text(textwrap.dedent(body), encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == [], ruleset.failures
    return ruleset


def uid(name: str) -> str:
    """Sigma ids are UUIDs: a stable one per short test name (a UUID passes through)."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def rule(detection: str, logsource: str = "logsource: {product: linux}", rule_id: str = "r1", extra: str = "") -> str:
    """A rule YAML; its title is the short name (tests identify detections by title)."""
    det = textwrap.indent(textwrap.dedent(detection).strip(), "  ")
    return f"title: {rule_id}\nid: {uid(rule_id)}\n{logsource}\n{extra}detection:\n{det}\n"


def nginx(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@timestamp": "2026-11-20T08:15:30.123Z",
        "event": {"id": "e1", "dataset": "nginx.access", "module": "nginx"},
    }
    event.update(fields)
    return event


def sysmon(event_id: int = 1, **data: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T08:15:30Z",
        "event": {"id": "w1", "dataset": "windows.sysmon_operational", "module": "sysmon"},
        "winlog": {"event_id": event_id, "channel": "Microsoft-Windows-Sysmon/Operational", "event_data": data},
        "host": {"name": "PC01"},
    }


def matches(
    tmp_path: Path, detection: str, event: dict[str, Any], logsource: str = "logsource: {product: linux}"
) -> bool:
    ruleset = load(tmp_path, rule(detection, logsource))
    return len(Detector(ruleset).process([event])) == 1


def generic(**fields: Any) -> dict[str, Any]:
    return {"@timestamp": "2026-11-20T08:15:30Z", "event": {"id": "g1", "dataset": "syslog.generic"}, **fields}


# --- value modifiers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detection", "value", "expected"),
    [
        ("sel: {f|contains: 'EtC/PaSs'}\ncondition: sel", "/x/etc/passwd", True),
        ("sel: {f|contains: 'etc/shadow'}\ncondition: sel", "/x/etc/passwd", False),
        ("sel: {f|startswith: '/ADMIN'}\ncondition: sel", "/admin/login", True),
        ("sel: {f|startswith: '/admin'}\ncondition: sel", "/x/admin", False),
        ("sel: {f|endswith: '.PHP'}\ncondition: sel", "/shell.php", True),
        ("sel: {f|endswith: '.php'}\ncondition: sel", "/shell.php5", False),
        ("sel: {f: 'Hello World'}\ncondition: sel", "hello world", True),
        ("sel: {f: 'Hello'}\ncondition: sel", "hello world", False),
        ("sel: {f|cased: 'Hello'}\ncondition: sel", "hello", False),
        ("sel: {f|cased: 'Hello'}\ncondition: sel", "Hello", True),
        ("sel: {f|contains|cased: 'ABC'}\ncondition: sel", "xxABCxx", True),
        ("sel: {f|contains|cased: 'ABC'}\ncondition: sel", "xxabcxx", False),
    ],
)
def test_string_modifiers_and_case(tmp_path: Path, detection: str, value: str, expected: bool) -> None:
    assert matches(tmp_path, detection, generic(f=value)) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("a*c", "ABBBC", True),
        ("a*c", "abd", False),
        ("a?c", "abc", True),
        ("a?c", "abbc", False),
        ("*\\cmd.exe", "C:\\Windows\\System32\\CMD.EXE", True),
        ("*", "anything", True),
        ("lit\\*eral", "lit*eral", True),
        ("lit\\*eral", "litXXeral", False),
        ("*mid*dle*", "the MIDDLE", True),
    ],
)
def test_wildcards(tmp_path: Path, pattern: str, value: str, expected: bool) -> None:
    det = f"sel:\n  f: '{pattern}'\ncondition: sel"
    assert matches(tmp_path, det, generic(f=value)) is expected


def test_list_values_are_ored_and_all_ands(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        rule("sel:\n  f|contains: [aaa, bbb]\ncondition: sel", rule_id="ored"),
        rule("sel:\n  f|contains|all: [aaa, bbb]\ncondition: sel", rule_id="anded"),
    )
    det = Detector(ruleset)
    assert [d.rule_title for d in det.process([generic(f="xbbbx")])] == ["ored"]
    assert sorted(d.rule_title for d in det.process([generic(f="bbb-aaa")])) == ["anded", "ored"]
    assert det.process([generic(f="ccc")]) == []


def test_event_list_value_matches_any_element(tmp_path: Path) -> None:
    det = "sel:\n  tags: malicious\ncondition: sel"
    assert matches(tmp_path, det, generic(tags=["benign", "MALICIOUS"]))
    assert not Detector(RuleSet.load([tmp_path])).process([generic(tags=["benign"])])


@pytest.mark.parametrize(
    ("cidr", "ip", "expected"),
    [
        ("10.0.0.0/8", "10.20.30.40", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("2001:db8::/32", "2001:db8:1::5", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("10.0.0.0/8", "not-an-ip", False),
        ("10.0.0.0/8", "::ffff:1.2.3.4", False),
    ],
)
def test_cidr(tmp_path: Path, cidr: str, ip: str, expected: bool) -> None:
    det = f"sel:\n  source.ip|cidr: '{cidr}'\ncondition: sel"
    assert matches(tmp_path, det, generic(source={"ip": ip})) is expected


@pytest.mark.parametrize(
    ("mods", "regex", "value", "expected"),
    [
        ("re", "ab+c", "xxabbbcxx", True),  # unanchored search
        ("re", "^ab+c$", "xxabbbcxx", False),
        ("re", "ABC", "abc", False),  # case-sensitive by default
        ("re|i", "ABC", "abc", True),
        ("re", "^second", "first\nsecond", False),
        ("re|m", "^second", "first\nsecond", True),
        ("re", "a.b", "a\nb", False),
        ("re|s", "a.b", "a\nb", True),
    ],
)
def test_regex_and_flags(tmp_path: Path, mods: str, regex: str, value: str, expected: bool) -> None:
    det = f"sel:\n  f|{mods}: '{regex}'\ncondition: sel"
    assert matches(tmp_path, det, generic(f=value)) is expected


def test_null_and_exists(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        rule("sel:\n  f: null\ncondition: sel", rule_id="isnull"),
        rule("sel:\n  f|exists: true\ncondition: sel", rule_id="exists"),
        rule("sel:\n  f|exists: false\ncondition: sel", rule_id="absent"),
    )
    det = Detector(ruleset)

    def fired(ev: dict[str, Any]) -> list[str]:
        return sorted(d.rule_title for d in det.process([ev]))

    assert fired(generic()) == ["absent", "isnull"]
    assert fired(generic(f=None)) == ["absent", "isnull"]
    assert fired(generic(f="x")) == ["exists"]
    assert fired(generic(f=0)) == ["exists"]


@pytest.mark.parametrize(
    ("detection", "value", "expected"),
    [
        ("f: 4625", 4625, True),
        ("f: 4625", "4625", True),
        ("f: '4625'", 4625, True),
        ("f: 4625", 4624, False),
        ("f: 4625", "4625x", False),
        ("f|gt: 10", 11, True),
        ("f|gt: 10", 10, False),
        ("f|gte: 10", "10", True),
        ("f|lt: 10", 9.5, True),
        ("f|lt: 10", "abc", False),
        ("f|lte: 10", 10, True),
        ("f|lte: 10", 11, False),
    ],
)
def test_numbers(tmp_path: Path, detection: str, value: Any, expected: bool) -> None:
    assert matches(tmp_path, f"sel:\n  {detection}\ncondition: sel", generic(f=value)) is expected


def test_encoding_modifiers(tmp_path: Path) -> None:
    secret = base64.b64encode(b"whoami /all").decode()
    wide = base64.b64encode("ping".encode("utf-16-le")).decode()
    offset_text = base64.b64encode(b"xxwhoami /all").decode()
    ruleset = load(
        tmp_path,
        rule("sel:\n  f|base64: 'whoami /all'\ncondition: sel", rule_id="b64"),
        rule("sel:\n  f|base64offset|contains: 'whoami'\ncondition: sel", rule_id="b64off"),
        rule("sel:\n  f|wide|base64offset|contains: 'ping'\ncondition: sel", rule_id="wide"),
        rule("sel:\n  f|windash|contains: ' -enc '\ncondition: sel", rule_id="windash"),
    )
    det = Detector(ruleset)
    assert [d.rule_title for d in det.process([generic(f=secret)])] == ["b64", "b64off"]
    assert [d.rule_title for d in det.process([generic(f="AA" + offset_text)])] == ["b64off"]
    assert [d.rule_title for d in det.process([generic(f="powershell -e " + wide)])] == ["wide"]
    assert [d.rule_title for d in det.process([generic(f="powershell /enc AAA")])] == ["windash"]
    assert [d.rule_title for d in det.process([generic(f="powershell \u2013enc AAA")])] == ["windash"]
    assert det.process([generic(f="powershell enc AAA")]) == []


def test_fieldref(tmp_path: Path) -> None:
    det = "sel:\n  user.name|fieldref: user.effective.name\ncondition: sel"
    assert matches(tmp_path, det, generic(user={"name": "Root", "effective": {"name": "root"}}))
    assert not Detector(RuleSet.load([tmp_path])).process([generic(user={"name": "a", "effective": {"name": "b"}})])


def test_keywords_search_message_and_original(tmp_path: Path) -> None:
    ruleset = load(tmp_path, rule("keywords:\n  - 'Failed password'\n  - 'segfault at'\ncondition: keywords"))
    det = Detector(ruleset)
    assert len(det.process([generic(message="sshd: FAILED PASSWORD for root")])) == 1
    assert (
        len(
            det.process(
                [generic(event={"id": "x", "dataset": "syslog.generic", "original": "kernel: app segfault at 0"})]
            )
        )
        == 1
    )
    assert det.process([generic(message="Accepted password")]) == []
    assert det.process([generic(other="Failed password")]) == []


def test_keyword_list_with_all(tmp_path: Path) -> None:
    ruleset = load(tmp_path, rule("keywords:\n  '|all':\n    - 'sudo'\n    - 'COMMAND=/bin/bash'\ncondition: keywords"))
    det = Detector(ruleset)
    assert len(det.process([generic(message="sudo: bob ; COMMAND=/bin/bash")])) == 1
    assert det.process([generic(message="sudo: bob ; COMMAND=/bin/ls")]) == []


def test_flat_dotted_keys_are_fields(tmp_path: Path) -> None:
    assert matches(tmp_path, "sel:\n  source.ip: 1.2.3.4\ncondition: sel", generic(**{"source.ip": "1.2.3.4"}))


# --- conditions -------------------------------------------------------------------------------

SELS = """\
sel_a: {a: 1}
sel_b: {b: 1}
filter: {c: 1}
"""


@pytest.mark.parametrize(
    ("condition", "fields", "expected"),
    [
        ("sel_a and sel_b", {"a": 1, "b": 1}, True),
        ("sel_a and sel_b", {"a": 1}, False),
        ("sel_a or sel_b", {"b": 1}, True),
        ("sel_a or sel_b", {"c": 1}, False),
        ("sel_a and not filter", {"a": 1}, True),
        ("sel_a and not filter", {"a": 1, "c": 1}, False),
        ("(sel_a or sel_b) and not filter", {"b": 1}, True),
        ("sel_a or (sel_b and filter)", {"b": 1}, False),
        ("not (sel_a or sel_b)", {"c": 1}, True),
        ("1 of sel_*", {"b": 1}, True),
        ("1 of sel_*", {"c": 1}, False),
        ("all of sel_*", {"a": 1, "b": 1}, True),
        ("all of sel_*", {"a": 1, "c": 1}, False),
        ("1 of them", {"c": 1}, True),
        ("1 of them", {"d": 1}, False),
        ("all of them", {"a": 1, "b": 1, "c": 1}, True),
        ("all of them", {"a": 1, "b": 1}, False),
        ("1 of sel_* and not 1 of filter*", {"a": 1, "c": 1}, False),
        ("all of sel_* or filter", {"c": 1}, True),
    ],
)
def test_condition_forms(tmp_path: Path, condition: str, fields: dict[str, Any], expected: bool) -> None:
    det = f"{SELS}condition: {condition}"
    assert matches(tmp_path, det, generic(**fields)) is expected


def test_selection_list_of_maps_is_ored(tmp_path: Path) -> None:
    det = "sel:\n  - {a: 1, b: 2}\n  - {c: 3}\ncondition: sel"
    assert matches(tmp_path, det, generic(c=3))
    detector = Detector(RuleSet.load([tmp_path]))
    assert detector.process([generic(a=1)]) == []
    assert len(detector.process([generic(a=1, b=2)])) == 1


def test_neq_via_not_and_missing_field(tmp_path: Path) -> None:
    # "not filter" holds for an event without the filter field at all
    det = "sel: {a: 1}\nfilter: {user.name: SYSTEM}\ncondition: sel and not filter"
    assert matches(tmp_path, det, generic(a=1))


# --- routing and field mapping ----------------------------------------------------------------


def test_logsource_routing_sysmon_categories(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        rule("sel: {Image|endswith: '\\cmd.exe'}\ncondition: sel", SYSMON_LS, "proc"),
        rule(
            "sel: {Image|endswith: '\\cmd.exe'}\ncondition: sel",
            "logsource: {product: windows, category: network_connection}",
            "net",
        ),
        rule(
            "sel: {Image|endswith: '\\cmd.exe'}\ncondition: sel",
            "logsource: {product: windows, service: sysmon}",
            "svc",
        ),
        rule(
            "sel: {Image|endswith: '\\cmd.exe'}\ncondition: sel",
            "logsource: {product: windows, service: security}",
            "sec",
        ),
        rule("sel: {Image|endswith: '\\cmd.exe'}\ncondition: sel", "logsource: {product: linux}", "lin"),
    )
    det = Detector(ruleset)
    assert sorted(d.rule_title for d in det.process([sysmon(1, Image="C:\\Windows\\cmd.exe")])) == ["proc", "svc"]
    assert sorted(d.rule_title for d in det.process([sysmon(3, Image="C:\\Windows\\cmd.exe")])) == ["net", "svc"]


def test_logsource_routing_linux_and_web(tmp_path: Path) -> None:
    kw = "keywords: ['Failed password']\ncondition: keywords"
    ruleset = load(
        tmp_path,
        rule(kw, "logsource: {product: linux, service: sshd}", "sshd"),
        rule(kw, "logsource: {product: linux, service: auth}", "auth"),
        rule(kw, "logsource: {category: webserver}", "web"),
        rule(kw, "logsource: {product: windows}", "win"),
        rule(kw, "logsource: {product: linux}", "any"),
    )
    det = Detector(ruleset)
    ssh = {"event": {"id": "s", "dataset": "system.auth", "module": "sshd"}, "message": "Failed password for x"}
    assert sorted(d.rule_title for d in det.process([ssh])) == ["any", "auth", "sshd"]
    other_auth = {"event": {"id": "s", "dataset": "system.auth", "module": "system"}, "message": "Failed password"}
    assert sorted(d.rule_title for d in det.process([other_auth])) == ["any", "auth"]
    for dataset in ("nginx.access", "apache.access"):
        web = {"event": {"id": "n", "dataset": dataset}, "message": "GET /?q=Failed password"}
        assert [d.rule_title for d in det.process([web])] == ["web"]


def test_powershell_and_security_routing(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        rule(
            "sel: {ScriptBlockText|contains: 'Invoke-Mimikatz'}\ncondition: sel",
            "logsource: {product: windows, category: ps_script}",
            "ps",
        ),
        rule("sel: {EventID: 4625}\ncondition: sel", "logsource: {product: windows, service: security}", "sec"),
        rule("sel: {EventID: 7045}\ncondition: sel", "logsource: {product: windows, service: system}", "sys"),
    )
    det = Detector(ruleset)
    ps = {
        "event": {"id": "p", "dataset": "windows.powershell"},
        "winlog": {"event_id": 4104, "event_data": {"ScriptBlockText": "IEX (invoke-mimikatz)"}},
    }
    assert [d.rule_title for d in det.process([ps])] == ["ps"]
    ps_other = {**ps, "winlog": {"event_id": 4103, "event_data": {"ScriptBlockText": "Invoke-Mimikatz"}}}
    assert det.process([ps_other]) == []
    sec = {"event": {"id": "s", "dataset": "windows.security"}, "winlog": {"event_id": "4625"}}
    assert [d.rule_title for d in det.process([sec])] == ["sec"]
    sys_ev = {"event": {"id": "s", "dataset": "windows.system"}, "winlog": {"event_id": 7045}}
    assert [d.rule_title for d in det.process([sys_ev])] == ["sys"]


def test_field_mapping_webserver_and_windows(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        rule(
            "sel:\n  c-uri|contains: '/etc/passwd'\n  cs-method: GET\n  sc-status: 200\ncondition: sel", NGINX_LS, "web"
        ),
        rule(
            "sel:\n  EventID: 1\n  Image|endswith: '\\powershell.exe'\n  process.pid: 42\ncondition: sel",
            SYSMON_LS,
            "win",
        ),
    )
    det = Detector(ruleset)
    hit = nginx(
        url={"original": "/cgi-bin/../../etc/passwd"},
        http={"request": {"method": "GET"}, "response": {"status_code": 200}},
    )
    assert [d.rule_title for d in det.process([hit])] == ["web"]
    miss = nginx(url={"original": "/index.html"}, http={"request": {"method": "GET"}, "response": {"status_code": 200}})
    assert det.process([miss]) == []
    win = sysmon(1, Image="C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\PowerShell.exe")
    win["process"] = {"pid": 42}
    assert [d.rule_title for d in det.process([win])] == ["win"]


def test_custom_mapping_file(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yml"
    mapping.write_text(
        "pipeline:\n  name: t\n  priority: 20\n  transformations:\n"
        "    - {id: x, type: field_name_mapping, mapping: {SrcIP: source.ip}}\n"
        "logsources:\n  - {when: {event.dataset: fw.log}, then: {category: firewall}}\n",
        encoding="utf-8",
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(
        rule("sel: {SrcIP: 10.0.0.1}\ncondition: sel", "logsource: {category: firewall}"), encoding="utf-8"
    )
    ruleset = RuleSet.load([rules], mapping=mapping)
    assert ruleset.failures == [] and ruleset.warnings == []
    det = Detector(ruleset)
    assert len(det.process([{"event": {"dataset": "fw.log"}, "source": {"ip": "10.0.0.1"}}])) == 1
    assert det.process([{"event": {"dataset": "other"}, "source": {"ip": "10.0.0.1"}}]) == []


# --- Detection fields -------------------------------------------------------------------------


def test_detection_fields(tmp_path: Path) -> None:
    body = rule(
        "sel: {c-uri|contains: 'wp-login'}\ncondition: sel",
        NGINX_LS,
        "11111111-2222-3333-4444-555555555555",
        extra="level: high\ntags: [attack.t1110.001, attack.credential-access]\n",
    )
    det = Detector(load(tmp_path, body))
    event = nginx(
        url={"original": "/wp-login.php"},
        source={"ip": "203.0.113.9"},
        user={"name": "admin"},
        soc={"unit": {"code": "STTTT"}},
    )
    [d] = det.process([event])
    assert d.rule_id == "11111111-2222-3333-4444-555555555555"
    assert d.rule_title == "11111111-2222-3333-4444-555555555555"
    assert d.level == "high"
    assert d.tags == ("attack.t1110.001", "attack.credential-access")
    assert d.event_id == "e1"
    assert d.timestamp == "2026-11-20T08:15:30.123Z"
    assert d.unit == "STTTT"
    assert d.entity == {"source.ip": "203.0.113.9", "user.name": "admin"}
    assert d.dedup_key == "11111111-2222-3333-4444-555555555555|source.ip=203.0.113.9|user.name=admin"
    assert d.event is event


def test_defaults_without_id_and_level(tmp_path: Path) -> None:
    path = tmp_path / "noid.yml"
    path.write_text(
        "title: no id\nlogsource: {product: linux}\ndetection:\n  sel: {a: 1}\n  condition: sel\n", encoding="utf-8"
    )
    ruleset = RuleSet.load([path])
    [info] = ruleset.rules
    assert info.id == stable_id(str(path))
    assert info.kind == "detection"
    [d] = Detector(ruleset).process([generic(a=1, host={"name": "srv1"})])
    assert d.level == "medium" and d.unit is None and d.entity == {"host.name": "srv1"}


def test_output_in_input_order_and_bad_events_skipped(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path, rule("sel: {a: 1}\ncondition: sel", rule_id="A"), rule("sel: {b: 1}\ncondition: sel", rule_id="B")
    )
    det = Detector(ruleset)
    events: list[Any] = [generic(b=1, n=1), "not a dict", generic(a=1, n=2), generic(a=1, b=1, n=3)]
    out = det.process(events)
    assert [(d.rule_title, d.event["n"]) for d in out] == [("B", 1), ("A", 2), ("A", 3), ("B", 3)]


def test_unroutable_logsource_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "aws.yml"
    path.write_text(
        rule("sel: {a: 1}\ncondition: sel", "logsource:\n  product: aws\n  service: cloudtrail"), encoding="utf-8"
    )
    ruleset = RuleSet.load([path])
    assert len(ruleset.rules) == 1 and ruleset.failures == []
    [warning] = ruleset.warnings
    assert warning.severity == "warning" and warning.line == 3 and "product=aws" in warning.reason


def test_merged_value_lists_of_every_kind(tmp_path: Path) -> None:
    values = ["Exact", "pre*", "*suf", "*mid*", "a?c", "abc*def"]
    det_yaml = "sel:\n  f:\n" + "".join(f"    - '{v}'\n" for v in values) + "condition: sel"
    ruleset = load(tmp_path, rule(det_yaml))
    det = Detector(ruleset)
    for value, expected in [
        ("exact", True),
        ("exactly", False),
        ("PREfix", True),
        ("the suf", True),
        ("xMIDx", True),
        ("aXc", True),
        ("abcXXdef", True),
        ("abcXXde", False),
        ("nothing", False),
    ]:
        assert (len(det.process([generic(f=value)])) == 1) is expected, value


def test_cased_and_uncased_values_on_one_field(tmp_path: Path) -> None:
    det_yaml = "a: {f|cased: 'UPPER'}\nb: {f: 'lower'}\ncondition: 1 of them"
    det = Detector(load(tmp_path, rule(det_yaml)))
    assert len(det.process([generic(f="UPPER")])) == 1
    assert det.process([generic(f="upper")]) == []
    assert len(det.process([generic(f="LOWER")])) == 1


def test_odd_event_values_do_not_crash(tmp_path: Path) -> None:
    det_yaml = "sel:\n  f|contains: x\nnum: {g|gt: 5}\nip: {h|cidr: 10.0.0.0/8}\ncondition: 1 of them"
    det = Detector(load(tmp_path, rule(det_yaml)))
    odd: list[Any] = [None, {"a": 1}, [[1, 2], {"x": "y"}], 10**40, float("nan"), True, b"bytes", "", ["x", None]]
    out = []
    for value in odd:
        out += det.process([generic(f=value, g=value, h=value)])
    # 10**40 passes gt 5 (booleans are not numbers); the list matches through its "x" element
    assert [d.event["f"] for d in out] == [10**40, ["x", None]]
    assert det.rule_errors == 0


def test_detection_facts_of_odd_values() -> None:
    from detections.sigma.engine import DETECTION_FIELDS, DetectionFacts

    class Name(str):
        pass

    values = {
        "source.ip": ["10.0.0.1", "10.0.0.2"],  # a list stands for its first element
        "user.name": 7,  # not text: str()
        "host.name": {"name": "PC01"},  # an object: no entity
        "destination.ip": [],  # empty list: none
        "soc.unit.code": ["TH-01"],  # the unit is not taken from a list
        "event.id": 0,  # falsy: ""
        "@timestamp": Name("2026-11-20T08:15:30Z"),
    }
    facts = DetectionFacts([values[name] for name in DETECTION_FIELDS])
    assert facts.entity == {"source.ip": "10.0.0.1", "user.name": "7"}
    assert facts.dedup_suffix == "source.ip=10.0.0.1|user.name=7"
    assert facts.unit is None and facts.event_id == "" and facts.timestamp == "2026-11-20T08:15:30Z"
    nested = DetectionFacts([[["a"]], None, Name("PC02"), None, 12, "e1", None])
    assert nested.entity == {"source.ip": "['a']", "host.name": "PC02"}
    assert type(nested.entity["host.name"]) is str
    assert nested.dedup_suffix == "host.name=PC02|source.ip=['a']"
    assert nested.unit == "12" and nested.event_id == "e1" and nested.timestamp == ""
