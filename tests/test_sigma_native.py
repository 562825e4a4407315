"""The compiled Sigma evaluator (native/sigma_native) decides exactly what the Python engine decides.

The Python evaluation without prefilter is the oracle: every rule below runs over events built
to hit the edges of the value semantics (case folding beyond ASCII, numbers in strings, lists,
objects, a final newline under ``$``, keys the extension must hand back), in both engines.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest

from detections.sigma import Detector, RuleSet
from detections.sigma.native import available, rust_regex

RULE_ID = "00000000-0000-4000-8000-0000000001{:02x}"
SYSMON = "logsource: {product: windows, category: process_creation}"

RULES: dict[str, str] = {
    "contains": "sel: {CommandLine|contains: ['-enc ', 'KILL']}",
    "glob": "sel: {Image: 'C:\\Windows\\Sys*\\cmd?.exe'}",
    "cased": "sel: {CommandLine|cased|contains: 'Invoke-'}",
    "regex_i": "sel: {CommandLine|re|i: 'net\\s+user\\s+\\w+$'}",
    "regex_lookahead": "sel: {CommandLine|re: '(?=.*secret)pass'}",
    "regex_class": "sel: {CommandLine|re: '[a-c&&b]x'}",
    "fieldref": "sel: {ParentImage|fieldref: Image}",
    "fieldref_end": "sel: {CommandLine|fieldref|endswith: User}",
    "exists": "sel: {User|exists: true}\nabsent: {LogonId|exists: false}\ncondition: sel and absent",
    "null": "sel: {ParentCommandLine: null}",
    "number": "sel: {ProcessId: 42}",
    "compare": "sel: {IntegrityLevelNumber|gte: 3}",
    "keyword": "keywords: ['mimikatz', 'sekurlsa']\ncondition: keywords",
    "windash": "sel: {CommandLine|windash|contains: ' -s '}",
    "all": "sel: {CommandLine|contains|all: ['a', 'ứng dụng']}",
    "cidr": "sel: {DestinationIp|cidr: '10.0.0.0/8'}",
    "not_of": "a: {Image|endswith: '.exe'}\nb: {User: 'SYSTEM'}\ncondition: a and not b",
    "kelvin": "sel: {CommandLine|contains: 'kelvin'}",
    "dotless": "sel: {CommandLine|startswith: 'i̇stanbul'}",
    "bool": "sel: {Elevated: true}",
    # ORed regexes of one field: one alternation, anchored on its literals ('ipconfig', 'arp')
    "regex_or": "a: {CommandLine|re: 'ipconfig\\s+/all'}\nb: {CommandLine|re: 'arp\\s+-a'}\ncondition: a or b",
    # case-insensitive regexes are anchored on their lower-cased literals ('set', 'echo'); Python's
    # re also matches 's' to U+017F, 'i' to U+0131/U+0130 and 'k' to the Kelvin sign: the anchor allows it
    "regex_i_fold": "sel: {CommandLine|re|i: 'set\\s+kill'}",
    "regex_i_echo": "sel: {CommandLine|re|i: 'echo.*clip'}",
    # Python's \s also matches Unicode spaces: non-ASCII text goes to Python's re, unless it is
    # shorter than any match (10 bytes here)
    "regex_unicode_space": "sel: {CommandLine|re: '\\s[a-f0-9]{8}\\s'}",
}


def _write_rules(folder: Path) -> None:
    for i, (name, detection) in enumerate(RULES.items()):
        body = textwrap.dedent(detection)
        if "condition:" not in body:
            body += "\ncondition: sel"
        text = f"title: '{name}'\nid: {RULE_ID.format(i)}\n{SYSMON}\ndetection:\n" + textwrap.indent(body, "  ")
        (folder / f"{name}.yml").write_text(text + "\n", encoding="utf-8")


def _event(n: int, **data: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T08:15:30Z",
        "event": {"id": f"e{n}", "dataset": "windows.sysmon_operational", "module": "sysmon"},
        "winlog": {"event_id": 1, "channel": "Microsoft-Windows-Sysmon/Operational", "event_data": data},
        "host": {"name": "PC01"},
    }


EVENTS: list[dict[str, Any]] = [
    _event(0, CommandLine="powershell -ENC abc", Image="C:\\Windows\\System32\\cmd1.exe", User="SYSTEM"),
    _event(1, CommandLine="Invoke-Mimikatz", Image="C:\\x.exe", ParentImage="c:\\X.EXE", User="bob"),
    _event(2, CommandLine="invoke-thing NET USER admin\n", ProcessId="42", IntegrityLevelNumber="3"),
    _event(3, CommandLine="NET  user Admin", ProcessId=42.0, IntegrityLevelNumber=2, ParentCommandLine=None),
    _event(4, CommandLine="take pass then secret", DestinationIp="10.1.2.3", Elevated=True),
    _event(5, CommandLine="bx and &x", DestinationIp="fe80::1", Elevated="TRUE"),
    _event(6, CommandLine=["x", "tool /s  -s x"], User=["a", "b"], Image={"path": "x"}),
    _event(7, CommandLine="a Ứng Dụng b", User="Dụng b", ProcessId=" 42 "),
    _event(8, CommandLine="the \u212aELVIN sign", ProcessId="0x2a"),
    _event(9, CommandLine="\u0130STANBUL trip", ProcessId=True, IntegrityLevelNumber="3e0"),
    {**_event(10, CommandLine="sekurlsa::logonpasswords", LogonId=None, User="x"), "message": "Mimikatz run"},
    _event(11, CommandLine="ab", ProcessId=[], ParentCommandLine=[]),
    _event(12, CommandLine=12345678901234567890123, ProcessId=2**70),
    _event(13, CommandLine="\u2014\u00d7", Image="C:\\Windows\\System\\cmd\u00e9\u00e9.exe"),
    _event(14, CommandLine="tab\tnet user bob"),
    _event(15, CommandLine="IPCONFIG  /all"),
    _event(16, CommandLine="cmd /c ipconfig /all"),
    _event(17, CommandLine="x ARP -a"),
    _event(18, CommandLine="x arp\t-a"),
    _event(19, CommandLine="\u017fet  \u212a\u0131ll"),
    _event(23, CommandLine="SET KILL"),
    _event(24, CommandLine="x ECHO hi | Clip"),
    _event(25, CommandLine="\u017fet ki"),
    # booleans: Python's str.strip() also strips U+001C..U+001F; a list matches by any element
    _event(26, Elevated=" True\x1f"),
    _event(27, Elevated=["no", True]),
    _event(28, Elevated=1),
    _event(29, Elevated="tru\u0435"),
    _event(30, Elevated="\u00a0TRUE\u3000"),
    _event(31, CommandLine="x\u2003deadbeef\u2003y"),
    _event(32, CommandLine="\u00e9\u2003ab"),
    _event(33, CommandLine="\u00e9 deadbeef "),
    # Latin-1 text that is not ASCII (CPython keeps it one byte per character; the extension scans
    # those bytes for fields of ASCII literals): short, long, keywords
    _event(34, Image="C:\\Windows\\Sys\u00ae\\CMD1.EXE", User="SYSTEM"),
    _event(35, Image="D:\\caf\u00e9\u00ae\\x.exe", User="bob"),
    _event(36, Image="C:\\Windows\\System32\\" + "\u00e9" * 150 + "\\cmdX.exe", User="SYSTEM"),
    _event(37, Image="C:\\Windows\\Sys\u00ae\\cmd.ex\u00ae", User="bob"),
    {**_event(38, User="x"), "message": "Microsoft\u00ae Windows\u00ae MIMIKATZ \u00ff"},
    {**_event(39, User="x"), "message": "mimi\u00aekatz \u00ff" * 40},
]
# What the extension cannot read the Python way: handed back, decided by the Python engine.
HANDED_BACK: list[dict[str, Any]] = [
    {**_event(20, CommandLine="-enc x"), "process.command_line": "dotted key"},
    {**_event(21, CommandLine="-enc x"), 7: "int key"},
    _event(22, CommandLine="-enc \udcff surrogate"),
]


def _pairs(detector: Detector, events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    found = detector.process([copy.deepcopy(e) for e in events])
    assert detector.rule_errors == 0
    return {(d.rule_title, d.event_id) for d in found}


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("native-rules")
    _write_rules(folder)
    loaded = RuleSet.load([folder])
    assert not loaded.failures, loaded.failures
    assert len(loaded.rules) == len(RULES)
    return loaded


def test_extension_is_built_and_used(ruleset: RuleSet) -> None:
    # `make install` builds native/sigma_native; the engine uses it unless told not to
    assert available(), "soc_sigma_native is not installed: run `make install` (needs cargo)"
    assert Detector(ruleset).native
    assert not Detector(ruleset, native=False).native
    assert not Detector(ruleset, prefilter=False).native


def test_same_detections_as_the_python_engine(ruleset: RuleSet) -> None:
    events = EVENTS + HANDED_BACK
    oracle = _pairs(Detector(ruleset, prefilter=False), events)
    native = Detector(ruleset)
    assert _pairs(native, events) == oracle
    counters = native.native_counters
    assert counters is not None
    assert counters["handed_back"] == len(HANDED_BACK)
    assert counters["events"] == len(EVENTS)
    # the edges do what Sigma says (the oracle is not vacuous)
    expect = {
        ("contains", "e0"),
        ("glob", "e0"),
        ("cased", "e1"),
        ("fieldref", "e1"),
        ("regex_i", "e2"),  # `$` before a final newline (Python re)
        ("regex_i", "e3"),
        ("regex_i", "e14"),
        ("number", "e2"),
        ("number", "e3"),
        ("number", "e7"),
        ("number", "e8"),
        ("compare", "e2"),
        ("compare", "e9"),
        ("regex_lookahead", "e4"),
        ("regex_class", "e5"),
        ("cidr", "e4"),
        ("bool", "e4"),
        ("bool", "e5"),
        ("bool", "e26"),
        ("bool", "e27"),
        ("bool", "e30"),
        ("windash", "e6"),
        ("all", "e7"),
        ("fieldref_end", "e7"),
        ("kelvin", "e8"),
        ("dotless", "e9"),
        ("keyword", "e10"),
        ("exists", "e10"),
        ("null", "e3"),
        ("null", "e11"),
        ("regex_or", "e16"),
        ("regex_or", "e18"),
        ("regex_i_fold", "e19"),
        ("regex_i_fold", "e23"),
        ("regex_i_echo", "e24"),
        ("contains", "e20"),
        ("contains", "e21"),
        ("contains", "e22"),
        ("regex_unicode_space", "e31"),
        ("regex_unicode_space", "e33"),
        ("glob", "e34"),
        ("not_of", "e35"),
        ("glob", "e36"),
        ("keyword", "e38"),
    }
    assert expect <= oracle, sorted(expect - oracle)
    assert ("number", "e9") not in oracle and ("number", "e12") not in oracle  # a bool is not 1, 2**70 is not 42
    assert ("glob", "e13") not in oracle  # '?' is one character (here several: 'éé')
    assert ("glob", "e0") in oracle
    assert ("regex_or", "e15") not in oracle and ("regex_or", "e17") not in oracle  # `re` is case-sensitive
    assert ("regex_i_fold", "e25") not in oracle
    assert ("regex_unicode_space", "e32") not in oracle
    assert {("glob", "e37"), ("not_of", "e37"), ("keyword", "e39")}.isdisjoint(oracle)
    assert ("bool", "e28") not in oracle and ("bool", "e29") not in oracle  # 1 is not true; U+0435 is not 'e'


def test_large_batches_equal_one_event_at_a_time(ruleset: RuleSet) -> None:
    # in a batch, with events the extension hands back in between (decided by the Python engine,
    # their Detections put back in place) and objects that are not events, the detections are
    # those of each event alone, in event order
    events: list[Any] = []
    for copy_no in range(12):
        for e in [*EVENTS[copy_no:], *HANDED_BACK, *EVENTS[:copy_no]]:
            event = copy.deepcopy(e)
            event["event"]["id"] = f"{event['event']['id']}-{copy_no}"
            events.append(event)
        events.append(["not", "an", "event"])
    alone = []
    for event in events:
        alone += [(d.rule_title, d.event_id) for d in Detector(ruleset).process([copy.deepcopy(event)])]
    batched = Detector(ruleset)
    assert [(d.rule_title, d.event_id) for d in batched.process(events)] == alone
    assert batched.stats["events"] == 12 * (len(EVENTS) + len(HANDED_BACK))
    assert batched.native_counters is not None
    assert batched.native_counters["handed_back"] == 12 * len(HANDED_BACK)
    assert len({title for title, _ in alone}) >= 15


def test_rule_errors_are_counted_not_raised(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        f"title: bad number\nid: {RULE_ID.format(99)}\n{SYSMON}\ndetection:\n  sel: {{ProcessId: 5}}\n  condition: sel\n",
        encoding="utf-8",
    )
    detector = Detector(RuleSet.load([tmp_path]))
    assert detector.native
    # float(2**1100) overflows in Python's as_number: a rule error in both engines, never an exception
    assert detector.process([_event(1, ProcessId=2**1100)]) == []
    assert detector.rule_errors == 1


@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        ("net\\s+user", "i", "(?i)net\\s+user"),
        ("[a-z]+\\d", "", "[a-z]+\\d"),
        ("[]a]x", "", "[]a]x"),
        ("[^]a]x", "ms", "(?ms)[^]a]x"),
        ("[a[b]]", "", None),  # nested class: only the regex crate nests
        ("[a&&b]", "", None),  # set operations exist only in the regex crate
        ("[a-c--b]", "", None),
        ("\\[[&&]", "", None),
    ],
)
def test_regex_dialect_check(pattern: str, flags: str, expected: str | None) -> None:
    assert rust_regex(pattern, flags) == expected


def test_many_literals_of_one_field(tmp_path: Path) -> None:
    # Over 64 literals on one field are found by grams instead of an automaton: every length
    # (1 to 3 bytes are looked up whole), overlapping literals, text edges, non-ASCII text.
    words = [f"tok{i:02d}x" for i in range(70)] + ["q", "zz", "yyy", "abcdefg", "cdef"]
    rules = {
        "any": f"sel: {{CommandLine|contains: {words}}}",
        "both": "sel: {CommandLine|contains|all: ['cdef', 'abcdefg']}",
        "start": "sel: {CommandLine|startswith: 'tok07x'}",
    }
    for i, (name, detection) in enumerate(rules.items()):
        text = (
            f"title: '{name}'\nid: {RULE_ID.format(100 + i)}\n{SYSMON}\ndetection:\n  {detection}\n  condition: sel\n"
        )
        (tmp_path / f"{name}.yml").write_text(text, encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert not ruleset.failures, ruleset.failures
    texts = ["TOK07X first", "ends with tok69X", "abcdefg", "xcdefx", "Q", "yy", "yyy", "Ứng TOK33x", "", "tok7x"]
    events = [_event(n, CommandLine=text) for n, text in enumerate(texts)]
    oracle = _pairs(Detector(ruleset, prefilter=False), events)
    assert _pairs(Detector(ruleset), events) == oracle
    assert oracle == {
        ("any", "e0"),
        ("start", "e0"),
        ("any", "e1"),
        ("any", "e2"),
        ("both", "e2"),
        ("any", "e3"),
        ("any", "e4"),
        ("any", "e6"),
        ("any", "e7"),
    }


def test_literals_crowding_one_gram(tmp_path: Path) -> None:
    # 196 literals that are all one repeated gram: the extension falls back to an automaton
    # (a gram index would compare every literal at every position of such a text).
    words = ["x" * n for n in range(4, 200)]
    rule = f"title: crowded\nid: {RULE_ID.format(120)}\n{SYSMON}\ndetection:\n  sel: {{CommandLine|contains: {words}}}\n  condition: sel\n"
    (tmp_path / "crowded.yml").write_text(rule, encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert not ruleset.failures, ruleset.failures
    events = [_event(n, CommandLine=text) for n, text in enumerate(["X" * 300, "xxx", "a xXxX b", "y" * 10])]
    oracle = _pairs(Detector(ruleset, prefilter=False), events)
    assert _pairs(Detector(ruleset), events) == oracle
    assert oracle == {("crowded", "e0"), ("crowded", "e2")}


def test_ever_new_keys_and_a_dotted_key_met_again(ruleset: RuleSet) -> None:
    # the extension remembers dict keys by identity in a bounded cache: 70,000 distinct keys on a
    # path rules read overflow it (it is emptied and refilled), and a dotted key object seen in
    # several events is refused each time
    events = []
    for n in range(700):
        event = _event(n, CommandLine="powershell -ENC abc" if n % 2 else "benign")
        event["winlog"]["event_data"].update({f"k{n}_{i}": i for i in range(100)})
        events.append(event)
    dotted = "process.command_line"
    for n in range(3):
        events.append({**_event(900 + n, CommandLine="-enc x"), dotted: "dotted key"})

    class Key(str):  # a str subclass as a key is read, not remembered
        pass

    for n in range(2):
        event = _event(950 + n)
        event["winlog"]["event_data"] = {Key("CommandLine"): "powershell -ENC abc"}
        events.append(event)
    oracle = _pairs(Detector(ruleset, prefilter=False), events)
    native = Detector(ruleset)
    assert _pairs(native, events) == oracle
    assert ("contains", "e1") in oracle and ("contains", "e0") not in oracle
    assert ("contains", "e950") in oracle and ("contains", "e951") in oracle
    assert native.native_counters is not None
    assert native.native_counters["handed_back"] == 3


def test_routes_met_again_in_other_forms(ruleset: RuleSet) -> None:
    # the extension compares an event's routing values with the routes it met last before it
    # builds a key: an int or a numeric string, another case, a list, a non-ASCII text, null or
    # absent must each route as the Python engine routes them, in any order
    def routed(n: int, event_id: Any, dataset: Any = "windows.sysmon_operational") -> dict[str, Any]:
        event = _event(n, CommandLine="powershell -enc x", User="SYSTEM")
        event["winlog"]["event_id"] = event_id
        if dataset is None:
            del event["event"]["dataset"]
        else:
            event["event"]["dataset"] = dataset
        return event

    forms: list[tuple[Any, Any]] = [
        (1, "windows.sysmon_operational"),
        ("1", "Windows.Sysmon_Operational"),
        (11, "windows.sysmon_operational"),
        (1, ["WINDOWS.SYSMON_OPERATIONAL"]),
        (True, "windows.sysmon_operational"),
        ("01", "windows.sysmon_operational"),
        (1, "windows.sysmon_operationał"),
        (None, "windows.sysmon_operational"),
        (1, None),
        (1.0, "windows.sysmon_operational"),
        (-1, "windows.sysmon_operational"),
        (2**70, "windows.sysmon_operational"),
    ]
    events = [routed(i * 100 + j, *form) for i in range(3) for j, form in enumerate(forms[i:] + forms[:i])]
    oracle = _pairs(Detector(ruleset, prefilter=False), events)
    assert ("contains", "e0") in oracle and ("contains", "e1") in oracle  # not vacuous
    native = Detector(ruleset)
    assert _pairs(native, events) == oracle
    counters = native.native_counters
    assert counters is not None and counters["events"] == len(events)


def test_detection_facts_made_by_the_extension(ruleset: RuleSet) -> None:
    # the extension makes (entity, dedup_suffix, unit, event_id, timestamp) when the values at
    # DETECTION_FIELDS are texts or absent; for anything else DetectionFacts decides. Either way
    # each Detection equals the Python engine's, field by field.
    from detections.sigma.engine import DetectionFacts
    from detections.sigma.eventview import LazyFlat

    class Name(str):
        pass

    def facts_event(n: int, **fields: Any) -> dict[str, Any]:
        event = _event(n, CommandLine="powershell -enc x")
        for dotted, value in fields.items():
            *parents, leaf = dotted.split("__")
            node = event
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return event

    events = [
        facts_event(0, source__ip="10.0.0.1", user__name="bob", soc__unit__code="TH-01"),
        facts_event(1, destination__ip="", host__name="Máy-01"),
        facts_event(2, host__name=None, soc__unit__code=None),
        facts_event(3, source__ip=["10.0.0.1", "10.0.0.2"], user__name=7),
        facts_event(4, host__name=Name("PC02"), soc__unit__code=["TH-01"]),
        facts_event(5, host__name={"name": "PC01"}),
        facts_event(6, **{"@timestamp": None}),
    ]
    events[6]["event"]["id"] = ""
    detector = Detector(ruleset)
    assert detector._native is not None
    decided = detector._native.match([copy.deepcopy(e) for e in events])
    made = []
    for event, decision in zip(events, decided, strict=True):
        assert decision, "every event matches the 'contains' rule"
        _rules, values, *parts = decision
        expected = DetectionFacts.read(LazyFlat(event).get).parts()
        if values is None:
            assert tuple(parts) == expected
            assert all(type(v) is str for v in (*parts[0].values(), parts[1], parts[3], parts[4]))
        else:
            assert parts == [None] * 5 and DetectionFacts(values).parts() == expected
        made.append(values is None)
    assert made == [True, True, True, False, False, False, True]

    def fields(found: list[Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (d.rule_id, d.event_id, d.timestamp, d.dedup_key, d.unit, sorted(d.entity.items()), d.tags) for d in found
        )

    python = Detector(ruleset, native=False).process([copy.deepcopy(e) for e in events])
    native = detector.process([copy.deepcopy(e) for e in events])
    assert fields(native) == fields(python) and len(native) >= len(events)
    # each Detection has an entity dict of its own, also among the Detections of one event
    several = detector.process([facts_event(7, user__name="bob", **{"winlog__event_data__User": "bob"})])
    assert len(several) >= 2 and all(d.entity == {"host.name": "PC01", "user.name": "bob"} for d in several)
    assert len({id(d.entity) for d in several}) == len(several)


def test_anchor_counters_count_every_text_scanned(ruleset: RuleSet) -> None:
    # a short field text is walked with the event's other short texts, a long one scanned alone:
    # the counters see both (the bench and the rule-health figures read them)
    short = "C:\\Windows\\System32\\cmd1.exe"
    long = "C:\\Program Files\\" + "x" * 200 + "\\tool.exe"
    detector = Detector(ruleset)
    for image in (short, long):
        before = detector.native_counters
        assert before is not None
        detector.process([_event(9, Image=image, User="bob")])
        after = detector.native_counters
        assert after is not None
        assert after["scanned_bytes"] - before["scanned_bytes"] >= len(image)
        assert after["anchor_hits"] - before["anchor_hits"] >= 1  # '.exe' ends the image
