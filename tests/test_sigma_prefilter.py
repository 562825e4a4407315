"""The literal prefilter never changes what the Sigma engine detects.

Each scenario runs the same rule set with the prefilter on (both scanner backends) and off (every
rule of the event's log-source buckets on the eagerly flattened event) and compares the
(rule, event) pairs: demo-generator logs, a synthetic mix of awkward events, and, when the SigmaHQ
corpus is present, all of its rules over the events of its regression EVTX samples.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collectors.evtx import iter_evtx_records
from collectors.files import iter_file_records
from detections.sigma import Detector, RuleSet
from detections.sigma.compiler import flatten_event
from detections.sigma.eventview import LazyFlat, is_regular
from detections.sigma.prefilter import make_scanner, scanner_backend, string_literal
from pipeline.parsers import parse_record
from soc_core.models import RawRecord
from soc_demo.generator import generate

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["pyahocorasick", *(["hyperscan"] if scanner_backend() == "hyperscan" else [])]
DEMO_FORMATS = {
    "nginx_access.log": "nginx",
    "apache_access.log": "apache",
    "auth.log": "auth",
    "windows.jsonl": "winjson",
}


def pairs(ruleset: RuleSet, events: Sequence[dict[str, Any]], **options: Any) -> set[tuple[str, str]]:
    detector = Detector(ruleset, **options)
    found = []
    for i in range(0, len(events), 97):  # several batches, odd size
        found.extend(detector.process([copy.deepcopy(e) for e in events[i : i + 97]]))
    assert detector.rule_errors == 0
    return {(d.rule_id, d.event_id) for d in found}


def assert_same(ruleset: RuleSet, events: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """The plain evaluation, the Python prefilter (each scanner) and the compiled evaluator agree."""
    plain = pairs(ruleset, events, prefilter=False)
    for backend in BACKENDS:
        assert pairs(ruleset, events, prefilter=True, backend=backend, native=False) == plain, backend
    assert pairs(ruleset, events, native=True) == plain, "native"
    return plain


def test_demo_generator_events(tmp_path: Path) -> None:
    generate(tmp_path, seed=11, scale=0.3)
    events = []
    for name, fmt in DEMO_FORMATS.items():
        for record in iter_file_records(tmp_path / name, format=fmt):
            if isinstance(record, RawRecord):
                events.append(parse_record(record))
    ruleset = RuleSet.load([ROOT / "detections" / "rules"])
    found = assert_same(ruleset, events)
    assert len(events) > 500 and len(found) >= 10  # the scenario does detect things


SYNTHETIC_RULES = {
    "contains.yml": """
title: cmd with encoded flag
id: 00000000-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  img: {Image|endswith: ['\\powershell.exe', '\\pwsh.exe']}
  cli: {CommandLine|contains: [' -enc ', ' -EncodedCommand ']}
  condition: img and cli
""",
    "not_only.yml": """
title: no anchor (negation only)
id: 00000000-0000-4000-8000-000000000002
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '.exe'}
  filter: {Image|startswith: 'C:\\Windows\\'}
  condition: not filter
""",
    "regex.yml": """
title: regex only
id: 00000000-0000-4000-8000-000000000003
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|re: '(?i)iex\\s*\\('}
  condition: sel
""",
    "number.yml": """
title: event id and user
id: 00000000-0000-4000-8000-000000000004
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625, TargetUserName: 'admin'}
  condition: sel
""",
    "number_only.yml": """
title: event id only
id: 00000000-0000-4000-8000-000000000005
logsource: {product: windows, service: security}
detection:
  sel: {EventID: [4720, 4726]}
  condition: sel
""",
    "keyword.yml": """
title: keyword in the message
id: 00000000-0000-4000-8000-000000000006
logsource: {product: linux}
detection:
  keywords: ['segfault', 'Kernel PANIC']
  condition: keywords
""",
    "cased_quote.yml": """
title: cased value with a quote and a backslash
id: 00000000-0000-4000-8000-000000000007
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|cased|contains: 'Say "Hi"\\now'}
  condition: sel
""",
    "unicode.yml": """
title: emoji and right-to-left override
id: 00000000-0000-4000-8000-000000000008
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: ['\U0001f600', "\\u202e"]}
  condition: sel
""",
    "kelvin.yml": """
title: k and i matched through special lower-casing
id: 00000000-0000-4000-8000-000000000009
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: 'kit'}
  condition: sel
""",
    "or_of_and.yml": """
title: one of two selections
id: 00000000-0000-4000-8000-00000000000a
logsource: {product: windows, category: process_creation}
detection:
  a: {ParentImage|endswith: '\\winword.exe', Image|endswith: '\\cmd.exe'}
  b: {OriginalFileName: 'MSHTA.EXE'}
  condition: 1 of a or b
""",
    "float_text.yml": """
title: digits in text
id: 00000000-0000-4000-8000-00000000000b
logsource: {product: windows, category: process_creation}
detection:
  sel: {ProcessId|contains: '1e+20'}
  condition: sel
""",
    "exists.yml": """
title: field exists
id: 00000000-0000-4000-8000-00000000000c
logsource: {product: windows, category: process_creation}
detection:
  sel: {Hashes|exists: true}
  condition: sel
""",
}


def win(n: int, cli: Any, image: str = "C:\\Tools\\x.exe", **data: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T01:00:00Z",
        "event": {"id": f"e{n}", "dataset": "windows.sysmon_operational", "original": f"raw {n} Kernel PANIC"},
        "winlog": {"event_id": 1, "event_data": {"CommandLine": cli, "Image": image, **data}},
    }


def security(n: int, event_id: Any, user: Any = "bob") -> dict[str, Any]:
    return {
        "event": {"id": f"s{n}", "dataset": "windows.security"},
        "winlog": {"event_id": event_id, "event_data": {"TargetUserName": user}},
    }


def synthetic_events() -> list[dict[str, Any]]:
    events = [
        win(1, "powershell -enc AAAA", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
        win(2, "POWERSHELL -ENCODEDCOMMAND x", "C:\\x\\PWSH.EXE"),
        win(3, "IEX (new-object net.webclient)"),
        win(4, 'echo Say "Hi"\\now'),
        win(5, 'echo say "hi"\\now'),  # cased: no match
        win(6, "note \U0001f600 here"),
        win(7, "invoice\u202efdp.exe"),
        win(8, "\u212ait"),  # KELVIN SIGN lower-cases to "k"
        win(9, "\u0130T"),  # no: lower() gives "i̇t"
        win(10, ["a", "b -enc c"], "C:\\x\\powershell.exe"),  # list value
        win(11, None, "C:\\Windows\\cmd.exe", ParentImage="C:\\Office\\WINWORD.EXE"),
        win(12, "x", "C:\\x\\m.exe", OriginalFileName="mshta.exe"),
        win(13, 1e20, ProcessId=1e20),  # floats: JSON writes 1e20, Sigma text is the digits
        win(14, "x", ProcessId="1e+20"),
        win(15, "y", Hashes="SHA1=00"),
        win(16, "y", Hashes=None),
        security(1, 4625, "admin"),
        security(2, "4625", "ADMIN"),
        security(3, "0x1211", "admin"),  # 4625 in hex: the number matcher accepts it
        security(4, 4720),
        security(5, [4726, 1], None),
        security(6, 4625.0, "admin"),
        {"event": {"id": "l1", "dataset": "syslog.generic"}, "message": "kernel: SEGFAULT at 0"},
        {"event": {"id": "l2", "dataset": "syslog.generic", "original": "Kernel panic - not syncing"}},
        {"event": {"id": "l3", "dataset": "syslog.generic"}, "message": "all fine"},
    ]
    # Irregular shapes: dotted keys and non-str keys (flattening must decide, not the prefilter).
    events.append(
        {
            "event.id": "d1",
            "event": {"dataset": "windows.sysmon_operational"},
            "winlog.event_id": 1,
            "winlog": {"event_data.CommandLine": "pwsh -enc Z", "event_data": {"Image": "C:\\a\\pwsh.exe"}},
        }
    )
    events.append({**win(17, "pwsh -enc Z", "C:\\a\\pwsh.exe"), "extra": {5: "non-str key"}})
    events.append({**win(18, "pwsh -enc Z", "C:\\a\\pwsh.exe"), "big": 1 << 70})  # orjson cannot write it
    return events


def test_synthetic_mix(tmp_path: Path) -> None:
    for name, body in SYNTHETIC_RULES.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert not ruleset.failures, ruleset.failures
    found = assert_same(ruleset, synthetic_events())
    rule = "00000000-0000-4000-8000-0000000000"
    # Spot checks that the scenarios exercise what they claim (the plain evaluation is the oracle).
    assert {(rule + "01", "e1"), (rule + "01", "e2"), (rule + "01", "e10")} <= found
    assert (rule + "07", "e4") in found and (rule + "07", "e5") not in found
    assert {(rule + "08", "e6"), (rule + "08", "e7"), (rule + "09", "e8")} <= found
    assert {(rule + "04", "s1"), (rule + "04", "s2"), (rule + "04", "s3"), (rule + "05", "s5")} <= found
    assert {(rule + "06", "l1"), (rule + "06", "l2")} <= found and (rule + "06", "l3") not in found
    assert (rule + "0b", "e14") in found


def test_every_event_shape_is_prefiltered_or_flattened() -> None:
    for event in synthetic_events():
        eager = flatten_event(event)
        lazy = LazyFlat(event)
        for path in [*eager, "no.such.path", "winlog.event_data.Nope", "event"]:
            assert lazy.get(path) == eager.get(path), path
            assert (path in lazy) == (path in eager)
        assert dict(lazy.items()) == dict(eager)
    assert not is_regular({"a": {"b.c": 1}}) and is_regular({"a": {"b": 1}})
    assert not is_regular({1: "x"})  # type: ignore[dict-item]


def test_literal_choice_and_scanners_agree() -> None:
    from sigma.types import SigmaString

    assert string_literal(SigmaString("*\\Tools\\x*.ps1")) == b"\\\\tools\\\\x"
    assert string_literal(SigmaString("*\\Temp\\*.ps1")) == b"\\\\temp*.ps1"  # an escaped star
    assert string_literal(SigmaString("*")) is None
    assert string_literal(SigmaString("12.5")) is None  # could be a float's text
    literals = [b"abc", b"\\\\x\\\\", b"z"]
    data = b'{"a":"xxABCyy","b":"q\\\\X\\\\r","k.y":1}'
    for backend in BACKENDS:
        found, dotted = make_scanner(literals, backend).scan(data)
        assert sorted(found) == [0, 1] and dotted


def test_corpus_rules_on_regression_evtx(sigma_corpus: Path) -> None:
    folders = ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance"]
    ruleset = RuleSet.load([sigma_corpus / f for f in folders if (sigma_corpus / f).is_dir()])
    events = []
    for path in sorted((sigma_corpus / "regression_data").rglob("*.evtx")):
        for record in iter_evtx_records(path):
            if isinstance(record, RawRecord):
                events.append(parse_record(record))
    assert len(ruleset.rules) > 3000 and len(events) > 100
    found = assert_same(ruleset, events)
    assert len(found) > len(events) // 2  # the samples are attacks: most of them are detected
