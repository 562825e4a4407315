"""Parser ``"winjson"``: Windows events as JSON (evtx wheel, Winlogbeat, NXLog shapes).

Part of stage ``parse``: raw records from the Windows/EVTX collectors (``soc.raw``) become ECS
events for ``enrich`` (:mod:`pipeline.enrich`). All three shapes are first reduced to one
:class:`WinFields`, then turned into ``winlog.*`` (event data keys keep their original names, values
become strings as Winlogbeat does) plus the obvious ECS twins (``process.*``, ``user.*``,
``source.ip``, ``event.outcome``...).
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.parsers.text import as_ip, int_or_none, load_object, parse_iso
from soc_core.errors import ParseError
from soc_core.models import RawRecord

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
_DATASETS = {
    "security": "windows.security",
    "microsoft-windows-sysmon/operational": "windows.sysmon_operational",
    "system": "windows.system",
    "microsoft-windows-powershell/operational": "windows.powershell",
    "windows powershell": "windows.powershell",
}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# NXLog (flat shape) metadata keys: everything else is event data.
_NXLOG_META = frozenset(
    {"EventID", "Channel", "Hostname", "Computer", "SourceName", "ProviderName", "Provider", "ProviderGuid",
     "RecordNumber", "EventRecordID", "RecordID", "EventTime", "EventReceivedTime", "TimeCreated", "TimeGenerated",
     "@timestamp", "Keywords", "EventType", "SeverityValue", "Severity", "Level", "Task", "OpcodeValue", "Opcode",
     "Category", "Version", "ProcessID", "ThreadID", "ExecutionProcessID", "ExecutionThreadID", "Message",
     "SourceModuleName", "SourceModuleType", "Domain", "AccountName", "UserID", "AccountType", "EventData",
     "UserData"}
)  # fmt: skip

# event.action, event.category, event.type by event id (Security / System / PowerShell channels).
_ACTIONS: dict[int, tuple[str, list[str], list[str]]] = {
    4624: ("logged-in", ["authentication"], ["start"]),
    4625: ("logon-failed", ["authentication"], ["start"]),
    4634: ("logged-out", ["authentication"], ["end"]),
    4647: ("logged-out", ["authentication"], ["end"]),
    4648: ("logged-in-explicit", ["authentication"], ["start"]),
    4672: ("logged-in-special", ["iam"], ["admin"]),
    4688: ("created-process", ["process"], ["start"]),
    4689: ("exited-process", ["process"], ["end"]),
    4697: ("service-installed", ["iam", "configuration"], ["admin", "change"]),
    4698: ("scheduled-task-created", ["iam", "configuration"], ["creation", "admin"]),
    4720: ("added-user-account", ["iam"], ["user", "creation"]),
    4722: ("enabled-user-account", ["iam"], ["user", "change"]),
    4724: ("reset-password", ["iam"], ["user", "change"]),
    4725: ("disabled-user-account", ["iam"], ["user", "change"]),
    4726: ("deleted-user-account", ["iam"], ["user", "deletion"]),
    4728: ("added-member-to-group", ["iam"], ["group", "change"]),
    4729: ("removed-member-from-group", ["iam"], ["group", "change"]),
    4732: ("added-member-to-group", ["iam"], ["group", "change"]),
    4733: ("removed-member-from-group", ["iam"], ["group", "change"]),
    4738: ("modified-user-account", ["iam"], ["user", "change"]),
    4740: ("locked-out-user-account", ["iam"], ["user", "change"]),
    4756: ("added-member-to-group", ["iam"], ["group", "change"]),
    4757: ("removed-member-from-group", ["iam"], ["group", "change"]),
    4768: ("kerberos-authentication-ticket-requested", ["authentication"], ["start"]),
    4769: ("kerberos-service-ticket-requested", ["authentication"], ["start"]),
    4771: ("kerberos-preauth-failed", ["authentication"], ["start"]),
    4776: ("credential-validated", ["authentication"], ["start"]),
    1102: ("audit-log-cleared", ["configuration"], ["change"]),
    104: ("log-cleared", ["configuration"], ["change"]),
    7045: ("service-installed", ["configuration"], ["creation"]),
    4103: ("powershell-module-logged", ["process"], ["info"]),
    4104: ("powershell-script-block-logged", ["process"], ["info"]),
}
_SYSMON_ACTIONS: dict[int, tuple[str, list[str], list[str]]] = {
    1: ("process-created", ["process"], ["start"]),
    3: ("network-connection", ["network"], ["connection", "start"]),
    5: ("process-terminated", ["process"], ["end"]),
    7: ("image-loaded", ["process"], ["change"]),
    8: ("create-remote-thread", ["process"], ["change"]),
    10: ("process-access", ["process"], ["access"]),
    11: ("file-created", ["file"], ["creation"]),
    12: ("registry-create-delete", ["registry"], ["change"]),
    13: ("registry-value-set", ["registry"], ["change"]),
    14: ("registry-rename", ["registry"], ["change"]),
    22: ("dns-query", ["network"], ["protocol"]),
    23: ("file-deleted", ["file"], ["deletion"]),
}
_LOGON_IDS = frozenset({4624, 4625, 4634, 4647, 4768, 4769, 4771, 4776, 4778, 4779})
_ACCOUNT_IDS = frozenset({4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767, 4781})
_GROUP_IDS = frozenset({4727, 4728, 4729, 4731, 4732, 4733, 4754, 4756, 4757})
_KW_AUDIT_SUCCESS = 0x20000000000000
_KW_AUDIT_FAILURE = 0x10000000000000


@dataclass(slots=True)
class WinFields:
    """A Windows event reduced to what the three JSON shapes have in common."""

    event_id: int | None = None
    channel: str | None = None
    provider: str | None = None
    provider_guid: str | None = None
    computer: str | None = None
    record_id: int | None = None
    timestamp: str | None = None
    keywords: Any = None
    level: Any = None
    task: Any = None
    opcode: Any = None
    version: Any = None
    pid: int | None = None
    tid: int | None = None
    user_sid: str | None = None
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> Any:
    """Unwrap ``{"#text": x}`` (evtx) and ``{"Value": x}`` (some converters)."""
    if isinstance(value, dict):
        if "#text" in value:
            return value["#text"]
        if "Value" in value:
            return value["Value"]
    return value


def _attrs(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    attrs = value.get("#attributes")
    return attrs if isinstance(attrs, dict) else value


def _str(value: Any) -> str | None:
    value = _text(value)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _value(value: Any) -> Any:
    """An event-data value as Winlogbeat keeps it: string, list of strings, or ``None``."""
    value = _text(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        items = [_value(v) for v in value]
        return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in items if v is not None]
    return orjson.dumps(value).decode()


def _put_data(out: dict[str, Any], key: str, value: Any) -> None:
    if key == "#attributes":
        return
    if key == "Data":  # unnamed <Data> elements: param1..N as Winlogbeat does
        value = _value(value)
        values = value if isinstance(value, list) else [value] if value is not None else []
        for i, v in enumerate(values, 1):
            out[f"param{i}"] = v
        return
    value = _value(value)
    if value is not None:
        out[key] = value


def _collect_data(out: dict[str, Any], section: Any, *, user_data: bool = False) -> None:
    if isinstance(section, dict):
        if user_data and len(section) == 1:
            (inner,) = section.values()
            if isinstance(inner, dict):  # <UserData><LogFileCleared ...>fields</LogFileCleared>
                section = inner
        for key, value in section.items():
            _put_data(out, key, value)
    elif section is not None:
        _put_data(out, "Data", section)


def _from_evtx(event: dict[str, Any]) -> WinFields:
    system = event.get("System")
    if not isinstance(system, dict):
        system = {}
    provider = _attrs(system.get("Provider"))
    execution = _attrs(system.get("Execution"))
    time_created = _attrs(system.get("TimeCreated"))
    ts = _str(time_created.get("SystemTime"))
    f = WinFields(
        event_id=int_or_none(_text(system.get("EventID"))),
        channel=_str(system.get("Channel")),
        provider=_str(provider.get("Name")),
        provider_guid=_str(provider.get("Guid")),
        computer=_str(system.get("Computer")),
        record_id=int_or_none(_text(system.get("EventRecordID"))),
        timestamp=parse_iso(ts) if ts else None,
        keywords=_text(system.get("Keywords")),
        level=_text(system.get("Level")),
        task=_text(system.get("Task")),
        opcode=_text(system.get("Opcode")),
        version=_text(system.get("Version")),
        pid=int_or_none(execution.get("ProcessID")),
        tid=int_or_none(execution.get("ThreadID")),
        user_sid=_str(_attrs(system.get("Security")).get("UserID")),
    )
    _collect_data(f.data, event.get("EventData"))
    _collect_data(f.data, event.get("UserData"), user_data=True)
    return f


def _from_winlogbeat(obj: dict[str, Any]) -> WinFields:
    w: dict[str, Any] = obj["winlog"]
    process = w.get("process") if isinstance(w.get("process"), dict) else {}
    assert isinstance(process, dict)
    thread = process.get("thread") if isinstance(process.get("thread"), dict) else {}
    assert isinstance(thread, dict)
    ev = obj.get("event") if isinstance(obj.get("event"), dict) else {}
    assert isinstance(ev, dict)
    ts = obj.get("@timestamp")
    f = WinFields(
        event_id=int_or_none(w.get("event_id", ev.get("code"))),
        channel=_str(w.get("channel")),
        provider=_str(w.get("provider_name")),
        provider_guid=_str(w.get("provider_guid")),
        computer=_str(w.get("computer_name")),
        record_id=int_or_none(w.get("record_id")),
        timestamp=parse_iso(ts) if isinstance(ts, str) else None,
        keywords=w.get("keywords"),
        level=ev.get("level") or w.get("level"),
        task=w.get("task"),
        opcode=w.get("opcode"),
        version=w.get("version"),
        pid=int_or_none(process.get("pid")),
        tid=int_or_none(thread.get("id")),
        user_sid=_str((w.get("user") or {}).get("identifier")) if isinstance(w.get("user"), dict) else None,
        message=_str(obj.get("message")),
    )
    _collect_data(f.data, w.get("event_data"))
    _collect_data(f.data, w.get("user_data"))
    return f


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _from_flat(obj: dict[str, Any]) -> WinFields:
    ts = _str(_first(obj, "EventTime", "TimeCreated", "@timestamp", "TimeGenerated"))
    f = WinFields(
        event_id=int_or_none(_text(obj.get("EventID"))),
        channel=_str(obj.get("Channel")),
        provider=_str(_first(obj, "SourceName", "ProviderName", "Provider")),
        provider_guid=_str(obj.get("ProviderGuid")),
        computer=_str(_first(obj, "Hostname", "Computer")),
        record_id=int_or_none(_first(obj, "RecordNumber", "EventRecordID", "RecordID")),
        timestamp=parse_iso(ts) if ts else None,
        keywords=_first(obj, "EventType", "Keywords"),
        level=_first(obj, "Level", "Severity"),
        task=obj.get("Task"),
        opcode=obj.get("Opcode"),
        version=obj.get("Version"),
        pid=int_or_none(_first(obj, "ProcessID", "ExecutionProcessID")),
        tid=int_or_none(_first(obj, "ThreadID", "ExecutionThreadID")),
        user_sid=_str(obj.get("UserID")),
        message=_str(obj.get("Message")),
    )
    for key, value in obj.items():
        if key not in _NXLOG_META:
            _put_data(f.data, key, value)
    _collect_data(f.data, obj.get("EventData"))
    _collect_data(f.data, obj.get("UserData"), user_data=True)
    return f


def is_windows_event(obj: dict[str, Any]) -> bool:
    """Whether a JSON object is one of the Windows shapes this parser reads."""
    ev = obj.get("Event")
    if isinstance(ev, dict) and "System" in ev:
        return True
    if isinstance(obj.get("winlog"), dict):
        return True
    if "EventID" in obj and "Channel" in obj:
        return True
    return "event_record_id" in obj and isinstance(obj.get("data"), (str, dict))


def _fields(obj: dict[str, Any], source: str | None) -> WinFields:
    if "event_record_id" in obj and isinstance(obj.get("data"), (str, dict)):  # evtx wheel record wrapper
        inner = obj["data"]
        inner = load_object(inner, source=source) if isinstance(inner, str) else inner
        f = _fields(inner, source)
        if f.record_id is None:
            f.record_id = int_or_none(obj.get("event_record_id"))
        return f
    ev = obj.get("Event")
    if isinstance(ev, dict) and "System" in ev:
        return _from_evtx(ev)
    if isinstance(obj.get("winlog"), dict):
        return _from_winlogbeat(obj)
    if "EventID" in obj and "Channel" in obj:
        return _from_flat(obj)
    raise ParseError("not a Windows event (no Event.System, winlog or EventID+Channel)", source=source)


def _dataset(channel: str | None) -> str:
    if not channel:
        return "windows.unknown"
    key = channel.lower()
    return _DATASETS.get(key) or "windows." + (_NON_ALNUM.sub("_", key).strip("_") or "unknown")


def _outcome(keywords: Any) -> str | None:
    if isinstance(keywords, list):
        text = " ".join(str(k) for k in keywords)
    elif isinstance(keywords, str) and not keywords.lstrip("-").isdigit() and not keywords.startswith("0x"):
        text = keywords
    else:
        bits = int_or_none(keywords)
        if bits is None:
            return None
        bits &= 0xFFFFFFFFFFFFFFFF  # NXLog writes keywords as a signed 64-bit integer
        if bits & _KW_AUDIT_FAILURE:
            return "failure"
        return "success" if bits & _KW_AUDIT_SUCCESS else None
    lowered = text.lower().replace("_", " ")
    if "audit failure" in lowered:
        return "failure"
    return "success" if "audit success" in lowered else None


def _present(value: Any) -> str | None:
    """A usable scalar string: not empty, not ``-``."""
    if isinstance(value, str) and value and value != "-":
        return value
    return None


_HASH_NAMES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}


def _hashes(value: Any) -> dict[str, str]:
    """Sysmon ``Hashes`` (``SHA1=…,MD5=…,SHA256=…,IMPHASH=…``) as ECS ``hash`` fields, lower-case hex."""
    if not isinstance(value, str):
        return {}
    out: dict[str, str] = {}
    for part in value.split(","):
        name, sep, digest = part.partition("=")
        algo = _HASH_NAMES.get(name.strip().upper())
        if sep and algo and digest.strip():
            out[algo] = digest.strip().lower()
    return out


def _twins(event: dict[str, Any], f: WinFields, sysmon: bool) -> None:
    d = f.data
    eid = f.event_id
    process: dict[str, Any] = {}
    exe = _present(d.get("Image")) or _present(d.get("NewProcessName")) or _present(d.get("ProcessName"))
    if exe:
        process["executable"] = exe
        process["name"] = ntpath.basename(exe)
    if cmd := _present(d.get("CommandLine")):
        process["command_line"] = cmd
    pid = int_or_none(d.get("NewProcessId") if eid == 4688 and not sysmon else d.get("ProcessId"))
    if pid:  # 0 / 0x0 means "no process"
        process["pid"] = pid
    parent: dict[str, Any] = {}
    if pexe := _present(d.get("ParentImage")) or _present(d.get("ParentProcessName")):
        parent["executable"] = pexe
        parent["name"] = ntpath.basename(pexe)
    if pcmd := _present(d.get("ParentCommandLine")):
        parent["command_line"] = pcmd
    ppid = int_or_none(d.get("ProcessId") if eid == 4688 and not sysmon else d.get("ParentProcessId"))
    if ppid:
        parent["pid"] = ppid
    if parent:
        process["parent"] = parent
    hashes = _hashes(d.get("Hashes")) if sysmon else {}
    if hashes and eid == 1:
        process["hash"] = hashes
    elif hashes:  # image/driver loaded, file stream, file delete: the file's hashes
        event["file"] = {"hash": hashes}
    if process:
        event["process"] = process

    user: dict[str, Any] = {}
    if sysmon:
        if who := _present(d.get("User")):
            domain, sep, short = who.rpartition("\\")
            user["name"] = short
            if sep:
                user["domain"] = domain
    elif eid in _LOGON_IDS and (target_name := _present(d.get("TargetUserName"))):
        user["name"] = target_name
        if dom := _present(d.get("TargetDomainName")):
            user["domain"] = dom
    elif subject := _present(d.get("SubjectUserName")):
        user["name"] = subject
        if dom := _present(d.get("SubjectDomainName")):
            user["domain"] = dom
    if not sysmon and eid in _ACCOUNT_IDS and (target := _present(d.get("TargetUserName"))):
        user["target"] = {"name": target}
        if dom := _present(d.get("TargetDomainName")):
            user["target"]["domain"] = dom
    if not sysmon and eid in _GROUP_IDS:
        if group := _present(d.get("TargetUserName")):
            event["group"] = {"name": group}
            if dom := _present(d.get("TargetDomainName")):
                event["group"]["domain"] = dom
        member = _present(d.get("MemberName"))
        member_sid = _present(d.get("MemberSid"))
        if member or member_sid:
            user["target"] = {k: v for k, v in (("name", member), ("id", member_sid)) if v}
    if user:
        event["user"] = user

    src_ip = as_ip(_present(d.get("IpAddress")) or _present(d.get("SourceIp")))
    source: dict[str, Any] = {}
    if src_ip:
        source["ip"] = src_ip
    port = int_or_none(d.get("IpPort") if "IpPort" in d else d.get("SourcePort"))
    if port:
        source["port"] = port
    if ws := _present(d.get("WorkstationName")):
        source["domain"] = ws
    if source:
        event["source"] = source
    if sysmon and (dst_ip := as_ip(_present(d.get("DestinationIp")))):
        destination: dict[str, Any] = {"ip": dst_ip}
        if dport := int_or_none(d.get("DestinationPort")):
            destination["port"] = dport
        if dhost := _present(d.get("DestinationHostname")):
            destination["domain"] = dhost
        event["destination"] = destination
    if sysmon and (query := _present(d.get("QueryName"))):
        event["dns"] = {"question": {"name": query}}


def _build(f: WinFields) -> dict[str, Any]:
    sysmon = f.channel == SYSMON_CHANNEL or f.provider == "Microsoft-Windows-Sysmon"
    winlog: dict[str, Any] = {"event_data": f.data}
    for key, value in (
        ("channel", f.channel),
        ("event_id", f.event_id),
        ("provider_name", f.provider),
        ("provider_guid", f.provider_guid),
        ("record_id", f.record_id),
        ("computer_name", f.computer),
        ("keywords", f.keywords),
        ("task", f.task),
        ("opcode", f.opcode),
        ("version", f.version),
    ):
        if value is not None:
            winlog[key] = value
    if f.pid is not None or f.tid is not None:
        wproc: dict[str, Any] = {}
        if f.pid is not None:
            wproc["pid"] = f.pid
        if f.tid is not None:
            wproc["thread"] = {"id": f.tid}
        winlog["process"] = wproc
    if f.user_sid:
        winlog["user"] = {"identifier": f.user_sid}
    ev: dict[str, Any] = {
        "kind": "event",
        "module": "sysmon" if sysmon else "windows",
        "dataset": _dataset(f.channel),
    }
    if f.provider:
        ev["provider"] = f.provider
    event: dict[str, Any] = {"event": ev, "winlog": winlog}
    if f.event_id is not None:
        ev["code"] = str(f.event_id)
        spec = (_SYSMON_ACTIONS if sysmon else _ACTIONS).get(f.event_id)
        if spec is not None:
            ev["action"], ev["category"], ev["type"] = spec[0], list(spec[1]), list(spec[2])
    outcome = {4624: "success", 4625: "failure"}.get(f.event_id or 0) if not sysmon else None
    outcome = outcome or (None if sysmon else _outcome(f.keywords))
    if outcome:
        ev["outcome"] = outcome
    if f.timestamp:
        event["@timestamp"] = f.timestamp
    if f.computer:
        event["host"] = {"name": f.computer}
    if f.message:
        event["message"] = f.message
    _twins(event, f, sysmon)
    return event


def windows_event(obj: dict[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """ECS event for a Windows event JSON object in any supported shape (raises ParseError)."""
    event = _build(_fields(obj, source))
    if isinstance(obj.get("winlog"), dict):  # Winlogbeat: keep its other ECS fields, ours win
        base = {k: v for k, v in obj.items() if k != "@timestamp"}
        for key, value in event.items():
            cur = base.get(key)
            if isinstance(cur, dict) and isinstance(value, dict):
                cur.update(value)
            else:
                base[key] = value
        return base
    return event


def parse_winjson(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"winjson"``: one Windows event as a JSON object."""
    return windows_event(load_object(text, source=record.source), source=record.source)
