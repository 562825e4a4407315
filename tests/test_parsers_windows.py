"""Parse stage: Windows events as JSON (evtx wheel, Winlogbeat and NXLog shapes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.parsers import parse_record, sniff_format
from soc_core.ecs import get_field
from soc_core.errors import ParseError
from soc_core.models import RawRecord

DATA = Path(__file__).parent / "data" / "parsers"


def rec(data: bytes | str, fmt: str = "winjson") -> RawRecord:
    raw = data.encode() if isinstance(data, str) else data
    return RawRecord(
        id="w1",
        received=1795160000.0,
        collector="winevent",
        kind="winevent",
        source="evtx://DC01",
        data=raw,
        format=fmt,
    )


def load(name: str, fmt: str = "winjson") -> dict[str, Any]:
    return parse_record(rec((DATA / name).read_bytes(), fmt))


def test_sysmon_process_create_evtx_shape() -> None:
    ev = load("evtx_sysmon_1.json")
    assert get_field(ev, "event.module") == "sysmon"
    assert get_field(ev, "event.dataset") == "windows.sysmon_operational"
    assert get_field(ev, "event.code") == "1"
    assert get_field(ev, "event.category") == ["process"]
    assert get_field(ev, "winlog.event_id") == 1
    assert get_field(ev, "winlog.channel") == "Microsoft-Windows-Sysmon/Operational"
    assert get_field(ev, "winlog.provider_name") == "Microsoft-Windows-Sysmon"
    assert get_field(ev, "winlog.record_id") == 48213
    assert get_field(ev, "winlog.computer_name") == "WS-KT-012.thanhhoa.local"
    assert get_field(ev, "host.name") == "WS-KT-012.thanhhoa.local"
    assert ev["@timestamp"] == "2026-11-20T08:15:30.123Z"  # 7 fractional digits accepted
    data = get_field(ev, "winlog.event_data")
    assert data["Image"].endswith("powershell.exe")
    assert data["ProcessId"] == "6228"  # values kept as strings, original names
    assert "ParentUser" not in data  # null dropped
    assert get_field(ev, "process.executable") == data["Image"]
    assert get_field(ev, "process.name") == "powershell.exe"
    assert get_field(ev, "process.command_line") == "powershell.exe -nop -w hidden -enc SQBFAFgA"
    assert get_field(ev, "process.pid") == 6228
    assert get_field(ev, "process.parent.executable").endswith("WINWORD.EXE")
    assert get_field(ev, "process.parent.name") == "WINWORD.EXE"
    assert get_field(ev, "process.parent.command_line").startswith('"C:\\Program Files')
    assert get_field(ev, "process.parent.pid") == 5120
    assert get_field(ev, "user.name") == "ketoan"
    assert get_field(ev, "user.domain") == "THANHHOA"


def test_security_4625_evtx_shape_with_wrappers() -> None:
    ev = load("evtx_4625.json")
    assert get_field(ev, "event.module") == "windows"
    assert get_field(ev, "event.dataset") == "windows.security"
    assert get_field(ev, "winlog.event_id") == 4625  # from {"#text": 4625, "#attributes": ...}
    assert get_field(ev, "winlog.record_id") == 902311
    assert get_field(ev, "event.code") == "4625"
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "event.category") == ["authentication"]
    assert get_field(ev, "user.name") == "administrator"  # TargetUserName unwrapped from #text
    assert get_field(ev, "source.ip") == "2001:db8:ee::7"
    assert get_field(ev, "source.port") == 49211
    assert get_field(ev, "winlog.event_data.LogonType") == "3"
    assert get_field(ev, "winlog.event_data.Extra") == ["a", "b"]  # list: nulls dropped, #text unwrapped
    assert get_field(ev, "process") is None  # ProcessId 0x0, ProcessName "-"


def test_security_4624_winlogbeat_shape() -> None:
    ev = load("winlogbeat_4624.json", "auto")
    assert get_field(ev, "winlog.event_id") == 4624
    assert get_field(ev, "winlog.channel") == "Security"
    assert get_field(ev, "winlog.record_id") == 902400
    assert get_field(ev, "winlog.logon.type") == "Network"  # Winlogbeat extras kept
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "event.dataset") == "windows.security"
    assert get_field(ev, "event.module") == "windows"
    assert get_field(ev, "user.name") == "nguyenvana"
    assert get_field(ev, "source.ip") == "10.20.3.45"
    assert get_field(ev, "host.name") == "DC01.thanhhoa.local"
    assert get_field(ev, "agent.name") == "winevent"
    assert get_field(ev, "agent.type") == "soc-collector"
    assert ev["@timestamp"] == "2026-11-20T08:16:00.456Z"
    assert get_field(ev, "event.original") == (DATA / "winlogbeat_4624.json").read_text().strip()


def test_security_4720_nxlog_shape() -> None:
    ev = load("nxlog_4720.json", "jsonl")  # jsonl routes Windows shapes to winjson
    assert get_field(ev, "winlog.event_id") == 4720
    assert get_field(ev, "event.action") == "added-user-account"
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "user.name") == "Administrator"
    assert get_field(ev, "user.target.name") == "backdoor$"
    assert get_field(ev, "winlog.event_data.SamAccountName") == "backdoor$"
    assert "HomeDirectory" not in ev["winlog"]["event_data"]
    assert "EventTime" not in ev["winlog"]["event_data"]  # NXLog metadata is not event data
    assert get_field(ev, "winlog.record_id") == 902500
    assert get_field(ev, "message") == "A user account was created."
    assert ev["@timestamp"] == "2026-11-20T08:20:00.000Z"


def test_security_4732_group_member_added() -> None:
    ev = load("nxlog_4732.json")
    assert get_field(ev, "event.action") == "added-member-to-group"
    assert get_field(ev, "group.name") == "Administrators"
    assert get_field(ev, "user.target.id") == "S-1-5-21-1-2-3-1190"
    assert ev["@timestamp"] == "2026-11-20T01:21:00.000Z"


def test_security_1102_userdata() -> None:
    ev = load("evtx_1102.json")
    assert get_field(ev, "winlog.event_id") == 1102
    assert get_field(ev, "event.action") == "audit-log-cleared"
    assert get_field(ev, "winlog.event_data.SubjectUserName") == "Administrator"
    assert "#attributes" not in ev["winlog"]["event_data"]
    assert get_field(ev, "user.name") == "Administrator"


def test_evtx_wheel_record_wrapper_and_unnamed_data() -> None:
    inner = {
        "Event": {
            "System": {
                "EventID": {"#attributes": {"Qualifiers": 32768}, "#text": 7036},
                "Provider": {"#attributes": {"Name": "Service Control Manager"}},
                "Channel": "System",
                "Computer": "FS01",
                "TimeCreated": {"#attributes": {"SystemTime": "2026-11-20T08:00:00Z"}},
            },
            "EventData": {"Data": {"#text": ["Windows Update", "running"]}, "Binary": None},
        }
    }
    wrapper = {"event_record_id": 77, "timestamp": "2026-11-20 08:00:00 UTC", "data": json.dumps(inner)}
    ev = parse_record(rec(json.dumps(wrapper), "evtx"))
    assert get_field(ev, "winlog.record_id") == 77
    assert get_field(ev, "winlog.event_id") == 7036
    assert get_field(ev, "event.dataset") == "windows.system"
    assert get_field(ev, "winlog.event_data") == {"param1": "Windows Update", "param2": "running"}


@pytest.mark.parametrize(
    ("channel", "dataset"),
    [
        ("Microsoft-Windows-PowerShell/Operational", "windows.powershell"),
        ("Windows PowerShell", "windows.powershell"),
        ("System", "windows.system"),
        ("Microsoft-Windows-TaskScheduler/Operational", "windows.microsoft_windows_taskscheduler_operational"),
    ],
)
def test_dataset_by_channel(channel: str, dataset: str) -> None:
    ev = parse_record(rec(json.dumps({"EventID": 4104, "Channel": channel, "ScriptBlockText": "iex (x)"})))
    assert get_field(ev, "event.dataset") == dataset
    assert get_field(ev, "winlog.event_data.ScriptBlockText") == "iex (x)"


def test_sysmon_network_connection() -> None:
    data = {
        "Image": "C:\\x.exe",
        "SourceIp": "10.1.1.5",
        "SourcePort": "50000",
        "DestinationIp": "198.51.100.7",
        "DestinationPort": "443",
        "User": "WS1\\u",
    }
    obj = {
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 3,
            "computer_name": "WS1",
            "event_data": data,
        }
    }
    ev = parse_record(rec(json.dumps(obj)))
    assert get_field(ev, "source.ip") == "10.1.1.5"
    assert get_field(ev, "destination.ip") == "198.51.100.7"
    assert get_field(ev, "destination.port") == 443
    assert get_field(ev, "event.category") == ["network"]


@pytest.mark.parametrize(("event_id", "obj"), [(1, "process"), (7, "file")])
def test_sysmon_hashes_become_ecs_hash_fields(event_id: int, obj: str) -> None:
    data = {"Image": "C:\\x.exe", "Hashes": "SHA1=AB12,MD5=CD34,SHA256=EF56,IMPHASH=0011"}
    winlog = {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": event_id, "event_data": data}
    ev = parse_record(rec(json.dumps({"winlog": winlog})))
    assert get_field(ev, f"{obj}.hash") == {"sha1": "ab12", "md5": "cd34", "sha256": "ef56"}
    other = "file" if obj == "process" else "process"
    assert get_field(ev, f"{other}.hash") is None


def test_windows_sniffing() -> None:
    for name in ("evtx_sysmon_1.json", "winlogbeat_4624.json", "nxlog_4720.json"):
        assert sniff_format((DATA / name).read_text()) == "winjson"


@pytest.mark.parametrize("text", ['{"foo": 1}', "[1]", "{bad json", '{"Event": "x", "EventID": 1}'])
def test_not_windows_is_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_record(rec(text))
