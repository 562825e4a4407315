"""Every Sigma v2 value modifier and detection form, evaluated on written-out events.

Each rule is project-authored here (no SigmaHQ rule is copied). Every case is checked with the
literal prefilter on and off, so both evaluation paths agree with the expected matches.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from detections.sigma import Detector, RuleSet
from detections.sigma.values import load_placeholders
from soc_core.errors import ConfigError

HEAD = """\
title: t
id: 5d0c3c52-2f7e-4a8e-9a55-{n:012d}
logsource: {{product: linux, service: syslog}}
"""


def event(eid: str, **fields: Any) -> dict[str, Any]:
    """A syslog event; keyword arguments are dotted paths (``x__y`` -> ``x.y``)."""
    out: dict[str, Any] = {
        "@timestamp": "2026-11-20T08:00:00Z",
        "event": {"id": eid, "dataset": "syslog.generic"},
    }
    for key, value in fields.items():
        node = out
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def load(
    tmp_path: Path, detection: str, *, extra: str = "", placeholders: dict[str, list[str]] | None = None
) -> RuleSet:
    text = HEAD.format(n=abs(hash(detection)) % 10**12) + "detection:\n" + detection + extra
    (tmp_path / "rule.yml").write_text(text, encoding="utf-8")
    return RuleSet.load([tmp_path], placeholders=placeholders)


def matches(ruleset: RuleSet, events: list[dict[str, Any]]) -> list[str]:
    assert ruleset.failures == [], ruleset.failures
    results = []
    for prefilter in (True, False):
        got = [d.event_id for d in Detector(ruleset, prefilter=prefilter).process(events)]
        results.append(got)
    assert results[0] == results[1], f"prefilter on/off disagree: {results}"
    return results[0]


def check(tmp_path: Path, detection: str, events: list[dict[str, Any]], want: list[str], **kw: Any) -> None:
    assert matches(load(tmp_path, detection, **kw), events) == want


def test_contains_startswith_endswith_and_all(tmp_path: Path) -> None:
    events = [
        event("a", process__command_line="C:\\Tools\\PSEXEC.exe -accepteula \\\\host cmd"),
        event("b", process__command_line="notepad.exe readme.txt"),
        event("c", process__command_line="psexec.exe -s cmd"),
    ]
    check(tmp_path, "  sel: {process.command_line|contains: 'psexec'}\n  condition: sel\n", events, ["a", "c"])
    check(tmp_path, "  sel: {process.command_line|startswith: 'C:\\Tools'}\n  condition: sel\n", events, ["a"])
    check(tmp_path, "  sel: {process.command_line|endswith: ' CMD'}\n  condition: sel\n", events, ["a", "c"])
    check(
        tmp_path,
        "  sel:\n    process.command_line|contains|all: [psexec, accepteula]\n  condition: sel\n",
        events,
        ["a"],
    )
    # wildcards inside plain values, and an escaped star that must match literally
    more = [event("d", x__v="abc*def"), event("e", x__v="abcXdef"), event("f", x__v="aXc")]
    check(tmp_path, "  sel: {x.v: 'abc\\*def'}\n  condition: sel\n", more, ["d"])
    check(tmp_path, "  sel: {x.v: 'a?c*'}\n  condition: sel\n", more, ["d", "e", "f"])


def test_re_and_its_flags(tmp_path: Path) -> None:
    events = [
        event("a", message="first line\nSecond LINE end"),
        event("b", message="second line"),
        event("c", message="x\nsecond"),
    ]
    check(tmp_path, "  sel: {message|re: '^second'}\n  condition: sel\n", events, ["b"])
    check(tmp_path, "  sel: {message|re|i: '^second'}\n  condition: sel\n", events, ["b"])
    check(tmp_path, "  sel: {message|re|m: '^second'}\n  condition: sel\n", events, ["b", "c"])
    check(tmp_path, "  sel: {message|re|i|m: '^second'}\n  condition: sel\n", events, ["a", "b", "c"])
    check(tmp_path, "  sel: {message|re: 'first.+end'}\n  condition: sel\n", events, [])
    check(tmp_path, "  sel: {message|re|s: 'first.+end'}\n  condition: sel\n", events, ["a"])
    # re is case-sensitive and unanchored without flags
    check(tmp_path, "  sel: {message|re: 'LINE'}\n  condition: sel\n", events, ["a"])


def test_cidr_v4_and_v6(tmp_path: Path) -> None:
    events = [
        event("a", source__ip="10.1.2.3"),
        event("b", source__ip="192.168.1.1"),
        event("c", source__ip="2001:db8::1"),
        event("d", source__ip="not an ip"),
        event("e", source__ip=["8.8.8.8", "10.9.9.9"]),
    ]
    check(
        tmp_path, "  sel: {source.ip|cidr: [10.0.0.0/8, '2001:db8::/32']}\n  condition: sel\n", events, ["a", "c", "e"]
    )


def test_base64_and_base64offset(tmp_path: Path) -> None:
    plain = base64.b64encode(b"http://evil").decode()
    offsets = [base64.b64encode(prefix + b"http://evil.example").decode() for prefix in (b"", b"x", b"xy")]
    events = [
        event("a", x__blob=plain),
        event("b", x__blob="prefix " + offsets[1] + " suffix"),
        event("c", x__blob="prefix " + offsets[2]),
        event("d", x__blob="prefix " + offsets[0]),
        event("e", x__blob="http://evil"),
    ]
    check(tmp_path, "  sel: {x.blob|base64: 'http://evil'}\n  condition: sel\n", events, ["a"])
    check(
        tmp_path, "  sel: {x.blob|base64offset|contains: 'http://'}\n  condition: sel\n", events, ["a", "b", "c", "d"]
    )


def test_utf16_variants_and_wide(tmp_path: Path) -> None:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    cmd = "Invoke-Mimikatz"
    events = [
        event("le", x__blob=b64(cmd.encode("utf-16-le"))),
        event("be", x__blob=b64(cmd.encode("utf-16-be"))),
        # pySigma 1.5's |utf16 writes the BOM U+FEFF as UTF-8 (EF BB BF) before the UTF-16LE text;
        # we follow pySigma (and so its SQLite/Elasticsearch conversions), not the FF FE byte order mark.
        event("bom", x__blob=b64(b"\xef\xbb\xbf" + cmd.encode("utf-16-le"))),
        event("ffbom", x__blob=b64(cmd.encode("utf-16"))),
        event("plain", x__blob=b64(cmd.encode())),
    ]
    check(tmp_path, f"  sel: {{x.blob|utf16le|base64: '{cmd}'}}\n  condition: sel\n", events, ["le"])
    check(tmp_path, f"  sel: {{x.blob|wide|base64: '{cmd}'}}\n  condition: sel\n", events, ["le"])
    check(tmp_path, f"  sel: {{x.blob|utf16be|base64: '{cmd}'}}\n  condition: sel\n", events, ["be"])
    check(tmp_path, f"  sel: {{x.blob|utf16|base64: '{cmd}'}}\n  condition: sel\n", events, ["bom"])
    check(
        tmp_path,
        f"  sel: {{x.blob|wide|base64offset|contains: '{cmd}'}}\n  condition: sel\n",
        events,
        ["le", "bom", "ffbom"],
    )


def test_windash(tmp_path: Path) -> None:
    events = [
        event("dash", process__command_line="net user -add x"),
        event("slash", process__command_line="net user /add x"),
        event("endash", process__command_line="net user \u2013add x"),
        event("emdash", process__command_line="net user \u2014add x"),
        event("hbar", process__command_line="net user \u2015add x"),
        event("none", process__command_line="net user add x"),
    ]
    check(
        tmp_path,
        "  sel: {process.command_line|windash|contains: ' -add'}\n  condition: sel\n",
        events,
        ["dash", "slash", "endash", "emdash", "hbar"],
    )


def test_fieldref_plain_and_partial(tmp_path: Path) -> None:
    events = [
        event("same", user__name="Admin", user__target__name="admin"),
        event("diff", user__name="admin", user__target__name="guest"),
        event("prefix", user__name="admin", user__target__name="admin2"),
        event("missing", user__name="admin"),
    ]
    check(tmp_path, "  sel: {user.target.name|fieldref: user.name}\n  condition: sel\n", events, ["same"])
    check(
        tmp_path,
        "  sel: {user.target.name|fieldref|startswith: user.name}\n  condition: sel\n",
        events,
        ["same", "prefix"],
    )
    check(
        tmp_path,
        "  sel: {user.target.name|fieldref: user.name}\n  condition: not sel\n",
        events,
        ["diff", "prefix", "missing"],
    )


def test_exists_and_null(tmp_path: Path) -> None:
    events = [
        event("set", x__opt="v"),
        event("empty", x__opt=""),
        event("null", x__opt=None),
        event("absent"),
    ]
    check(tmp_path, "  sel: {x.opt|exists: true}\n  condition: sel\n", events, ["set", "empty"])
    check(tmp_path, "  sel: {x.opt|exists: false}\n  condition: sel\n", events, ["null", "absent"])
    check(tmp_path, "  sel: {x.opt: null}\n  condition: sel\n", events, ["null", "absent"])
    check(tmp_path, "  sel: {x.opt: ''}\n  condition: sel\n", events, ["empty"])


def test_cased(tmp_path: Path) -> None:
    events = [event("up", x__v="EvilCorp"), event("low", x__v="evilcorp")]
    check(tmp_path, "  sel: {x.v|cased: EvilCorp}\n  condition: sel\n", events, ["up"])
    check(tmp_path, "  sel: {x.v|cased|contains: lCo}\n  condition: sel\n", events, ["up"])
    check(tmp_path, "  sel: {x.v: EvilCorp}\n  condition: sel\n", events, ["up", "low"])


def test_numeric_comparisons_and_neq(tmp_path: Path) -> None:
    events = [
        event("n1", x__n=1),
        event("n5", x__n=5),
        event("s10", x__n="10"),
        event("f7", x__n=7.5),
        event("txt", x__n="many"),
    ]
    check(tmp_path, "  sel: {x.n|lt: 5}\n  condition: sel\n", events, ["n1"])
    check(tmp_path, "  sel: {x.n|lte: 5}\n  condition: sel\n", events, ["n1", "n5"])
    check(tmp_path, "  sel: {x.n|gt: 5}\n  condition: sel\n", events, ["s10", "f7"])
    check(tmp_path, "  sel: {x.n|gte: 7.5}\n  condition: sel\n", events, ["s10", "f7"])
    check(tmp_path, "  sel: {x.n: 10}\n  condition: sel\n", events, ["s10"])
    # neq negates the item: every event whose value is not 5 (also non-numbers and absent values)
    check(tmp_path, "  sel: {x.n|neq: 5}\n  condition: sel\n", events, ["n1", "s10", "f7", "txt"])
    check(tmp_path, "  sel: {x.n|neq: [5, 1]}\n  condition: sel\n", events, ["s10", "f7", "txt"])


def test_time_part_modifiers(tmp_path: Path) -> None:
    events = [
        event("night", x__when="2026-11-20T02:15:00Z"),
        event("day", x__when="2026-11-20T14:15:00+07:00"),  # 07:15 UTC
        event("epoch", x__when=1_795_000_000),  # 2026-11-18T11:06:40Z (epoch seconds)
        event("junk", x__when="yesterday"),
    ]
    check(tmp_path, "  sel: {x.when|hour: 2}\n  condition: sel\n", events, ["night"])
    check(tmp_path, "  sel: {x.when|hour: 7}\n  condition: sel\n", events, ["day"])
    check(tmp_path, "  sel: {x.when|hour: 11}\n  condition: sel\n", events, ["epoch"])
    check(tmp_path, "  sel: {x.when|minute: 6}\n  condition: sel\n", events, ["epoch"])
    check(tmp_path, "  sel: {x.when|day: 18}\n  condition: sel\n", events, ["epoch"])
    check(tmp_path, "  sel: {x.when|week: 47}\n  condition: sel\n", events, ["night", "day", "epoch"])
    check(tmp_path, "  sel: {x.when|month: 11}\n  condition: sel\n", events, ["night", "day", "epoch"])
    check(tmp_path, "  sel: {x.when|year: 2025}\n  condition: sel\n", events, [])


def test_expand_placeholders_from_configuration(tmp_path: Path) -> None:
    detection = (
        "  sel: {process.command_line|contains: 'net user'}\n"
        "  admins: {user.name|expand: '%admin_accounts%'}\n"
        "  condition: sel and not admins\n"
    )
    events = [
        event("by_admin", process__command_line="net user x /add", user__name="Quantri"),
        event("by_other", process__command_line="net user x /add", user__name="nguyenvana"),
    ]
    ruleset = load(tmp_path, detection, placeholders={"admin_accounts": ["quantri", "root"]})
    assert matches(ruleset, events) == ["by_other"]
    # a placeholder inside a longer value with wildcards, several placeholders combined
    check(
        tmp_path,
        "  sel: {url.original|expand|contains: '/%app%/%page%'}\n  condition: sel\n",
        [event("a", url__original="/x/portal/login.php"), event("b", url__original="/portal/admin")],
        ["a"],
        placeholders={"app": ["portal", "cms"], "page": ["login"]},
    )


def test_missing_placeholder_is_listed_not_silently_dead(tmp_path: Path) -> None:
    detection = (
        "  sel: {user.name|expand: '%admins%'}\n  filt: {host.name|expand: '%dcs%'}\n  condition: sel and not filt\n"
    )
    ruleset = load(tmp_path, detection, placeholders={"admins": ["root"]})
    assert ruleset.failures == [] and ruleset.rules == []
    [warning] = ruleset.warnings
    assert warning.severity == "warning" and warning.line == 6
    assert "%dcs%" in warning.reason and "not configured" in warning.reason and "%admins%" not in warning.reason


def test_placeholder_file(tmp_path: Path) -> None:
    path = tmp_path / "ph.yml"
    path.write_text("admins: [root, quantri]\n'%dcs%': dc01\nports: [22, 3389]\n", encoding="utf-8")
    assert load_placeholders(path) == {"admins": ["root", "quantri"], "dcs": ["dc01"], "ports": ["22", "3389"]}
    path.write_text("admins: {nested: map}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="admins"):
        load_placeholders(path)
    path.write_text("- a\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_placeholders(path)


def test_keyword_detections(tmp_path: Path) -> None:
    events = [
        event("a", message="segfault at 0 ip sp error 4 in libc"),
        event("b", message="all good"),
        event("c", message="kernel: SEGFAULT in module"),
        event("d", event__original="raw line with segfault"),
    ]
    check(tmp_path, "  keywords: [segfault]\n  condition: keywords\n", events, ["a", "c", "d"])
    check(tmp_path, "  keywords:\n    '|all': [segfault, libc]\n  condition: keywords\n", events, ["a"])
    check(tmp_path, "  kw: [segfault]\n  sel: {x.y: 1}\n  condition: kw and not sel\n", events, ["a", "c", "d"])


def test_condition_forms(tmp_path: Path) -> None:
    events = [
        event("ab", x__a="1", x__b="1"),
        event("a", x__a="1"),
        event("b", x__b="1"),
        event("c", x__c="1"),
        event("none"),
    ]
    sels = "  sel_a: {x.a: '1'}\n  sel_b: {x.b: '1'}\n  other_c: {x.c: '1'}\n"
    check(tmp_path, sels + "  condition: 1 of sel_*\n", events, ["ab", "a", "b"])
    check(tmp_path, sels + "  condition: all of sel_*\n", events, ["ab"])
    check(tmp_path, sels + "  condition: 1 of them\n", events, ["ab", "a", "b", "c"])
    check(tmp_path, sels + "  condition: all of them\n", events, [])
    check(tmp_path, sels + "  condition: 1 of sel_* and not other_c\n", events, ["ab", "a", "b"])
    check(tmp_path, sels + "  condition: (sel_a or other_c) and not (sel_b)\n", events, ["a", "c"])
    check(tmp_path, sels + "  condition: not 1 of them\n", events, ["none"])
    check(tmp_path, sels + "  condition: sel_a and not (sel_b or (other_c and sel_a))\n", events, ["a"])
    check(tmp_path, sels + "  condition: 1 of *_c or all of sel_*\n", events, ["ab", "c"])
    # a list of maps is an OR of ANDs; a list of values is an OR
    listed = "  sel:\n    - x.a: '1'\n      x.b: '1'\n    - x.c: ['1', '2']\n  condition: sel\n"
    check(tmp_path, listed, events, ["ab", "c"])
    # several conditions (a list) are ORed
    check(tmp_path, sels + "  condition: [sel_a and sel_b, other_c]\n", events, ["ab", "c"])


FILTER_RULE = """\
title: new local admin
id: 8f4e1f6a-6c0e-4d7c-9a7b-1f1e2d3c4b5a
name: new_local_admin
logsource: {product: linux, service: syslog}
detection:
  sel: {process.command_line|contains: 'usermod -aG sudo'}
  condition: sel
"""

OTHER_RULE = """\
title: other
id: 9f4e1f6a-6c0e-4d7c-9a7b-1f1e2d3c4b5a
logsource: {product: linux, service: syslog}
detection:
  sel: {process.command_line|contains: 'usermod'}
  condition: sel
"""


def test_sigma_filter_applies_to_referenced_rules_only(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(FILTER_RULE, encoding="utf-8")
    (tmp_path / "other.yml").write_text(OTHER_RULE, encoding="utf-8")
    (tmp_path / "filter.yml").write_text(
        """\
title: provisioning host is expected to add admins
id: 0a4e1f6a-6c0e-4d7c-9a7b-1f1e2d3c4b5a
logsource: {product: linux}
filter:
  rules: [new_local_admin]
  ansible:
    host.name|startswith: ansible-
  condition: not ansible
""",
        encoding="utf-8",
    )
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == [] and ruleset.warnings == []
    assert [f.kind for f in ruleset.filters] == ["filter"]
    events = [
        event("prov", process__command_line="usermod -aG sudo bob", host__name="ansible-01"),
        event("web", process__command_line="usermod -aG sudo bob", host__name="web-01"),
    ]
    got = [(d.rule_title, d.event_id) for d in Detector(ruleset).process(events)]
    assert sorted(got) == [("new local admin", "web"), ("other", "prov"), ("other", "web")]


def test_sigma_filter_any_and_logsource_scope(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(FILTER_RULE, encoding="utf-8")
    (tmp_path / "other.yml").write_text(OTHER_RULE, encoding="utf-8")
    (tmp_path / "f.yml").write_text(
        """\
title: lab hosts
logsource: {product: linux}
filter:
  rules: any
  lab: {host.name: 'lab-*'}
  condition: not lab
---
title: windows only filter
logsource: {product: windows}
filter:
  rules: any
  everything: {host.name: '*'}
  condition: not everything
""",
        encoding="utf-8",
    )
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == []
    [warning] = ruleset.warnings  # the windows filter matches no loaded rule: listed
    assert "applies to no loaded rule" in warning.reason and warning.line == 10
    events = [
        event("lab", process__command_line="usermod -aG sudo bob", host__name="lab-7"),
        event("prod", process__command_line="usermod -aG sudo bob", host__name="prod-1"),
    ]
    got = sorted((d.rule_title, d.event_id) for d in Detector(ruleset).process(events))
    assert got == [("new local admin", "prod"), ("other", "prod")]


def test_bad_filter_is_a_failure_with_line(tmp_path: Path) -> None:
    path = tmp_path / "f.yml"
    path.write_text(
        "title: bad filter\nlogsource: {product: linux}\nfilter:\n  rules: any\n  sel: {a: 1}\n  condition: not nope\n",
        encoding="utf-8",
    )
    ruleset = RuleSet.load([path])
    [failure] = ruleset.failures
    assert failure.path == str(path) and failure.line == 6 and "nope" in failure.reason


def test_action_global_repeat_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "multi.yml"
    path.write_text(
        """\
action: global
title: shared title
logsource: {product: linux, service: syslog}
detection:
  condition: sel
level: high
---
id: 1b2c3d4e-0000-4000-8000-000000000001
detection:
  sel: {x.v: one}
---
id: 1b2c3d4e-0000-4000-8000-000000000002
detection:
  sel: {x.v: two}
---
action: repeat
id: 1b2c3d4e-0000-4000-8000-000000000003
detection:
  sel: {x.v: three}
---
action: reset
---
title: standalone
id: 1b2c3d4e-0000-4000-8000-000000000004
logsource: {product: linux, service: syslog}
detection:
  sel: {x.v: four}
  condition: sel
---
action: bogus
""",
        encoding="utf-8",
    )
    ruleset = RuleSet.load([path])
    [failure] = ruleset.failures
    assert failure.line == 30 and "bogus" in failure.reason
    assert [(r.title, r.level) for r in ruleset.rules] == [
        ("shared title", "high"),
        ("shared title", "high"),
        ("shared title", "high"),
        ("standalone", "medium"),
    ]
    events = [event(v, x__v=v) for v in ("one", "two", "three", "four", "five")]
    assert [d.event_id for d in Detector(ruleset).process(events)] == ["one", "two", "three", "four"]
