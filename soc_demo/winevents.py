"""Builders of the Windows events used by the demo data (Security, System, Sysmon).

Stage: none (test and demo data). Used by :mod:`soc_demo.background` and :mod:`soc_demo.scenarios`;
every builder returns the ``evtx``-wheel JSON of one event (:func:`soc_demo.formats.win_event`),
the ``win`` payload of an :class:`~soc_demo.events.Entry`.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any

from soc_demo.formats import (
    EVENTLOG_PROVIDER,
    SCM_PROVIDER,
    SECURITY_PROVIDER,
    SYSMON_CHANNEL,
    SYSMON_PROVIDER,
    win_event,
)

DOMAIN = "THANHHOA"
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"


def _hex(rng: random.Random) -> str:
    return f"0x{rng.randrange(0x10000, 0xFFFFFFF):x}"


def user_sid(name: str) -> str:
    """Stable fake domain SID for a user name."""
    return f"{DOMAIN_SID}-{1100 + int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 5000}"


def logon_success(
    rng: random.Random, ts: datetime, computer: str, user: str, ip: str, *, logon_type: int = 3
) -> dict[str, Any]:
    """Security 4624 (Kerberos network logon by default)."""
    kerberos = logon_type == 3
    data = {
        "SubjectUserSid": "S-1-0-0",
        "SubjectUserName": "-",
        "SubjectDomainName": "-",
        "SubjectLogonId": "0x0",
        "TargetUserSid": user_sid(user),
        "TargetUserName": user,
        "TargetDomainName": DOMAIN,
        "TargetLogonId": _hex(rng),
        "LogonType": logon_type,
        "LogonProcessName": "Kerberos" if kerberos else "User32 ",
        "AuthenticationPackageName": "Kerberos" if kerberos else "Negotiate",
        "WorkstationName": "-",
        "LogonGuid": _guid(rng),
        "TransmittedServices": "-",
        "LmPackageName": "-",
        "KeyLength": 0,
        "ProcessId": "0x0",
        "ProcessName": "-",
        "IpAddress": ip,
        "IpPort": str(rng.randrange(49152, 65535)),
        "ImpersonationLevel": "%%1833",
        "RestrictedAdminMode": "-",
        "TargetOutboundUserSid": "S-1-0-0",
        "TargetOutboundUserName": "-",
        "TargetOutboundDomainName": "-",
        "VirtualAccount": "%%1843",
        "TargetLinkedLogonId": "0x0",
        "ElevatedToken": "%%1842",
    }
    return win_event(ts, computer, "Security", SECURITY_PROVIDER, 4624, data=data, version=2, task=12544)


def logon_failure(
    rng: random.Random, ts: datetime, computer: str, user: str, ip: str, *, workstation: str, logon_type: int = 3
) -> dict[str, Any]:
    """Security 4625 (bad password over NTLM), as the ``win`` payload."""
    data = {
        "SubjectUserSid": "S-1-0-0",
        "SubjectUserName": "-",
        "SubjectDomainName": "-",
        "SubjectLogonId": "0x0",
        "TargetUserSid": "S-1-0-0",
        "TargetUserName": user,
        "TargetDomainName": DOMAIN if "." not in user else "",
        "Status": "0xc000006d",
        "FailureReason": "%%2313",
        "SubStatus": "0xc000006a",
        "LogonType": logon_type,
        "LogonProcessName": "NtLmSsp ",
        "AuthenticationPackageName": "NTLM",
        "WorkstationName": workstation,
        "TransmittedServices": "-",
        "LmPackageName": "-",
        "KeyLength": 0,
        "ProcessId": "0x0",
        "ProcessName": "-",
        "IpAddress": ip,
        "IpPort": str(rng.randrange(49152, 65535)),
    }
    return win_event(
        ts, computer, "Security", SECURITY_PROVIDER, 4625, data=data, task=12544, keywords="0x8010000000000000"
    )


def security(ts: datetime, computer: str, event_id: int, data: dict[str, Any], *, task: int = 13824) -> dict[str, Any]:
    """Any other Security-Auditing event (4720, 4732, 4698...)."""
    return win_event(ts, computer, "Security", SECURITY_PROVIDER, event_id, data=data, task=task)


def log_cleared(ts: datetime, computer: str, user: str) -> dict[str, Any]:
    """Security 1102 "The audit log was cleared" (UserData/LogFileCleared)."""
    data = {
        "SubjectUserSid": user_sid(user),
        "SubjectUserName": user,
        "SubjectDomainName": DOMAIN,
        "SubjectLogonId": "0x5a3c1f",
    }
    return win_event(
        ts,
        computer,
        "Security",
        EVENTLOG_PROVIDER,
        1102,
        data=data,
        user_data="LogFileCleared",
        task=104,
        level=4,
        keywords="0x4020000000000000",
        pid=1212,
        tid=3344,
    )


def service_installed(
    ts: datetime, computer: str, name: str, image: str, account: str = "LocalSystem"
) -> dict[str, Any]:
    """System 7045 "A service was installed in the system"."""
    data = {
        "ServiceName": name,
        "ImagePath": image,
        "ServiceType": "user mode service",
        "StartType": "demand start",
        "AccountName": account,
    }
    return win_event(
        ts,
        computer,
        "System",
        SCM_PROVIDER,
        7045,
        data=data,
        qualifiers=16384,
        level=4,
        keywords="0x8080000000000000",
        pid=780,
        tid=5120,
    )


def process_creation(
    rng: random.Random,
    ts: datetime,
    computer: str,
    *,
    user: str,
    image: str,
    command_line: str,
    parent_image: str,
    parent_command_line: str,
    original: str | None = None,
    description: str = "",
    cwd: str = "C:\\Windows\\system32\\",
    integrity: str = "Medium",
) -> dict[str, Any]:
    """Sysmon event 1 (process creation)."""
    exe = image.rsplit("\\", 1)[-1]
    utc = ts.astimezone(UTC)
    data = {
        "RuleName": "-",
        "UtcTime": f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d}",
        "ProcessGuid": _guid(rng),
        "ProcessId": rng.randrange(1000, 20000),
        "Image": image,
        "FileVersion": "-",
        "Description": description or exe,
        "Product": "-",
        "Company": "-",
        "OriginalFileName": original or exe,
        "CommandLine": command_line,
        "CurrentDirectory": cwd,
        "User": f"{DOMAIN}\\{user}",
        "LogonGuid": _guid(rng),
        "LogonId": _hex(rng),
        "TerminalSessionId": 1,
        "IntegrityLevel": integrity,
        "Hashes": "SHA256=" + hashlib.sha256(image.encode()).hexdigest().upper(),
        "ParentProcessGuid": _guid(rng),
        "ParentProcessId": rng.randrange(1000, 20000),
        "ParentImage": parent_image,
        "ParentCommandLine": parent_command_line,
        "ParentUser": f"{DOMAIN}\\{user}",
    }
    return win_event(
        ts,
        computer,
        SYSMON_CHANNEL,
        SYSMON_PROVIDER,
        1,
        data=data,
        version=5,
        task=1,
        level=4,
        keywords="0x8000000000000000",
        pid=3120,
        tid=4412,
    )
