"""auth.log messages: sshd, sudo, useradd/groupadd/usermod/gpasswd/userdel, passwd, su.

Part of stage ``parse``. Input: auth.log lines (RFC 3164 envelope, see
:mod:`pipeline.parsers.envelope`) or, via :mod:`pipeline.parsers.syslog`, the message of a syslog
record whose appname is an auth program. Output goes on to ``enrich`` (:mod:`pipeline.enrich`).
Unrecognised messages keep the envelope fields only; they are not errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pipeline.parsers.envelope import parse_envelope
from pipeline.parsers.text import as_ip
from soc_core.errors import ParseError
from soc_core.models import RawRecord

AUTH_APPS = frozenset(
    {
        "sshd",
        "sudo",
        "useradd",
        "groupadd",
        "usermod",
        "userdel",
        "groupdel",
        "gpasswd",
        "passwd",
        "chpasswd",
        "su",
        "login",
        "chage",
    }
)
PRIVILEGED_GROUPS = frozenset({"sudo", "wheel", "admin", "adm", "root", "docker", "lxd"})

_IP = r"(\S+?)"
_SSH_FAILED = re.compile(r"Failed (\S+) for (invalid user )?(.*?) from " + _IP + r" port (\d+)(?: (ssh\d?))?", re.S)
_SSH_ACCEPTED = re.compile(r"Accepted (\S+) for (.*?) from " + _IP + r" port (\d+)(?: (ssh\d?))?(?:: (.*))?", re.S)
_SSH_INVALID = re.compile(r"Invalid user (.*?) from " + _IP + r"(?: port (\d+))?\s*$", re.S)
_SSH_CLOSED = re.compile(
    r"(Connection closed by|Connection reset by|Disconnected from) "
    r"(?:(authenticating|invalid) user (.*?) |user (.*?) )?" + _IP + r" port (\d+)(?: \[preauth\])?\s*$",
    re.S,
)
_SSH_RECEIVED_DISCONNECT = re.compile(r"Received disconnect from " + _IP + r" port (\d+):(\d+): (.*)", re.S)
_SSH_MAX_AUTH = re.compile(
    r"error: maximum authentication attempts exceeded for (invalid user )?(.*?) from " + _IP + r" port (\d+)", re.S
)
_SSH_NO_IDENT = re.compile(r"Did not receive identification string from " + _IP + r"(?: port (\d+))?\s*$")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]\s*$", re.S)
_SUDO = re.compile(r"\s*(\S+) : (.*)", re.S)
_NEW_USER = re.compile(r"new user: (.*)", re.S)
_NEW_GROUP = re.compile(r"new group: (.*)", re.S)
_KV = re.compile(r"(\w+)=([^,]*)")
_ADD_TO_GROUP = re.compile(r"add '([^']+)' to (?:shadow )?group '([^']+)'")
_GPASSWD_ADD = re.compile(r"user (\S+) added by (\S+) to group (\S+)")
_DELETE_USER = re.compile(r"delete user '([^']+)'")
_PASSWORD_CHANGED = re.compile(r"pam_unix\(\S+\): password changed for (\S+)")
_SU = re.compile(r"(?:\(to (\S+)\) (\S+) on (\S+)|(FAILED SU) \(to (\S+)\) (\S+) on (\S+))")
_SESSION = re.compile(r"pam_unix\((\S+?):session\): session (opened|closed) for user (\S+?)(?:\(uid=\d+\))?(?: by |$)")
_PAM_FAILURE = re.compile(r"pam_unix\((\S+?):auth\): authentication failure;.*?rhost=(\S*)(?:\s+user=(\S+))?")


def _set_source(event: dict[str, Any], address: str, port: str | None) -> None:
    source: dict[str, Any] = {"address": address}
    ip = as_ip(address)
    if ip is not None:
        source["ip"] = ip
    else:
        source["domain"] = address
    if port:
        source["port"] = int(port)
    event["source"] = source


def _ssh(
    event: dict[str, Any],
    action: str,
    outcome: str | None,
    user: str | None,
    kind: list[str],
    *,
    ssh: dict[str, Any] | None = None,
) -> None:
    ev = event["event"]
    ev["category"] = ["authentication"]
    ev["type"] = kind
    ev["action"] = action
    if outcome:
        ev["outcome"] = outcome
    if user:
        event["user"] = {"name": user}
    if ssh:
        event.setdefault("system", {}).setdefault("auth", {})["ssh"] = ssh


def _sshd(event: dict[str, Any], msg: str) -> None:
    event["event"]["module"] = "sshd"
    m = _REPEATED.match(msg)
    if m is not None:
        event.setdefault("system", {}).setdefault("auth", {})["repeated"] = int(m.group(1))
        msg = m.group(2)
    if (m := _SSH_FAILED.match(msg)) is not None:
        method, invalid, user, ip, port, _ = m.groups()
        _ssh(event, "ssh_login", "failure", user, ["start"], ssh={"event": "Failed", "method": method})
        if invalid:
            event["system"]["auth"]["ssh"]["invalid_user"] = True
        _set_source(event, ip, port)
    elif (m := _SSH_ACCEPTED.match(msg)) is not None:
        method, user, ip, port, _, signature = m.groups()
        ssh: dict[str, Any] = {"event": "Accepted", "method": method}
        if signature:
            ssh["signature"] = signature
        _ssh(event, "ssh_login", "success", user, ["start"], ssh=ssh)
        _set_source(event, ip, port)
    elif (m := _SSH_INVALID.match(msg)) is not None:
        user, ip, port = m.groups()
        _ssh(event, "ssh_invalid_user", "failure", user, ["start"], ssh={"event": "Invalid"})
        _set_source(event, ip, port)
    elif (m := _SSH_MAX_AUTH.match(msg)) is not None:
        _invalid, user, ip, port = m.groups()
        _ssh(event, "ssh_max_auth_exceeded", "failure", user, ["start"], ssh={"event": "MaxAuthTries"})
        _set_source(event, ip, port)
    elif (m := _SSH_CLOSED.match(msg)) is not None:
        what, state, user1, user2, ip, port = m.groups()
        ssh = {"event": "Disconnected" if what.startswith("Disconnected") else "Closed"}
        if msg.rstrip().endswith("[preauth]"):
            ssh["preauth"] = True
        if state:
            ssh["user_state"] = state
        _ssh(event, "ssh_disconnect", None, user1 or user2, ["end"], ssh=ssh)
        _set_source(event, ip, port)
    elif (m := _SSH_RECEIVED_DISCONNECT.match(msg)) is not None:
        ip, port, _code, reason = m.groups()
        _ssh(event, "ssh_disconnect", None, None, ["end"], ssh={"event": "Disconnected", "reason": reason.strip()})
        _set_source(event, ip, port)
    elif (m := _SSH_NO_IDENT.match(msg)) is not None:
        ip, port = m.groups()
        _ssh(event, "ssh_no_identification", "failure", None, ["info"], ssh={"event": "NoIdentification"})
        _set_source(event, ip, port)
    else:
        _pam(event, msg)


def _sudo(event: dict[str, Any], msg: str) -> None:
    m = _SUDO.match(msg)
    if m is None or ("COMMAND=" not in msg and "TTY=" not in msg):
        _pam(event, msg)
        return
    user, rest = m.groups()
    command = None
    idx = rest.find("COMMAND=")
    if idx >= 0:
        command = rest[idx + len("COMMAND=") :].rstrip()
        rest = rest[:idx]
    sudo: dict[str, Any] = {}
    errors = []
    for raw_part in rest.split(" ; "):
        part = raw_part.strip().rstrip(";").strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep and key.isupper():
            sudo[key.lower()] = value
        else:
            errors.append(part)
    ev = event["event"]
    ev["action"] = "sudo"
    ev["category"] = ["process"]
    ev["type"] = ["start"] if not errors else ["info"]
    ev["outcome"] = "failure" if errors else "success"
    event["user"] = {"name": user}
    if "user" in sudo:
        event["user"]["effective"] = {"name": sudo["user"]}
    if command is not None:
        sudo["command"] = command
        event.setdefault("process", {})["command_line"] = command
    if errors:
        sudo["error"] = "; ".join(errors)
    event.setdefault("system", {}).setdefault("auth", {})["sudo"] = sudo


def _kv(text: str) -> dict[str, str]:
    return {k: v.strip() for k, v in _KV.findall(text)}


def _iam(event: dict[str, Any], action: str, types: list[str]) -> None:
    ev = event["event"]
    ev["action"] = action
    ev["category"] = ["iam"]
    ev["type"] = types
    ev["outcome"] = "success"


def _group_member(event: dict[str, Any], user: str, group: str) -> None:
    _iam(event, "group_member_added", ["group", "change"])
    event["user"] = {"name": user}
    event["group"] = {"name": group}
    if group in PRIVILEGED_GROUPS:
        event.setdefault("tags", []).append("privileged_group")


def _accounts(event: dict[str, Any], msg: str) -> None:
    if (m := _NEW_USER.match(msg)) is not None:
        kv = _kv(m.group(1))
        _iam(event, "user_created", ["user", "creation"])
        user: dict[str, Any] = {"name": kv.get("name", "")}
        if "UID" in kv:
            user["id"] = kv["UID"]
        event["user"] = user
        if "GID" in kv:
            event["group"] = {"id": kv["GID"]}
        event.setdefault("system", {}).setdefault("auth", {})["useradd"] = {
            k.lower(): v for k, v in kv.items() if k in ("home", "shell", "from")
        }
    elif (m := _NEW_GROUP.match(msg)) is not None:
        kv = _kv(m.group(1))
        _iam(event, "group_created", ["group", "creation"])
        group = {"name": kv.get("name", "")}
        if "GID" in kv:
            group["id"] = kv["GID"]
        event["group"] = group
    elif (m := _ADD_TO_GROUP.search(msg)) is not None:
        _group_member(event, m.group(1), m.group(2))
    elif (m := _GPASSWD_ADD.search(msg)) is not None:
        _group_member(event, m.group(1), m.group(3))
    elif (m := _DELETE_USER.search(msg)) is not None:
        _iam(event, "user_deleted", ["user", "deletion"])
        event["user"] = {"name": m.group(1)}
    else:
        _pam(event, msg)


def _su(event: dict[str, Any], msg: str) -> None:
    m = _SU.search(msg)
    if m is None:
        _pam(event, msg)
        return
    ev = event["event"]
    ev["action"] = "su"
    ev["category"] = ["authentication"]
    ev["type"] = ["start"]
    if m.group(4):
        ev["outcome"] = "failure"
        event["user"] = {"name": m.group(6), "effective": {"name": m.group(5)}}
    else:
        ev["outcome"] = "success"
        event["user"] = {"name": m.group(2), "effective": {"name": m.group(1)}}


def _pam(event: dict[str, Any], msg: str) -> None:
    """Messages any auth program writes through PAM."""
    if (m := _PASSWORD_CHANGED.search(msg)) is not None:
        _iam(event, "password_changed", ["user", "change"])
        event["user"] = {"name": m.group(1)}
    elif (m := _SESSION.search(msg)) is not None:
        ev = event["event"]
        ev["action"] = f"session_{m.group(2)}"
        ev["category"] = ["session"]
        ev["type"] = ["start"] if m.group(2) == "opened" else ["end"]
        event["user"] = {"name": m.group(3)}
    elif (m := _PAM_FAILURE.search(msg)) is not None:
        ev = event["event"]
        ev["action"] = "authentication_failure"
        ev["category"] = ["authentication"]
        ev["type"] = ["info"]
        ev["outcome"] = "failure"
        if m.group(3):
            event["user"] = {"name": m.group(3)}
        if m.group(2):
            _set_source(event, m.group(2), None)


_HANDLERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "sshd": _sshd,
    "sudo": _sudo,
    "useradd": _accounts,
    "groupadd": _accounts,
    "usermod": _accounts,
    "userdel": _accounts,
    "groupdel": _accounts,
    "gpasswd": _accounts,
    "su": _su,
}


def apply_auth(event: dict[str, Any], appname: str | None, message: str) -> None:
    """Add the auth fields of ``message`` (written by ``appname``) to an envelope event."""
    ev = event["event"]
    ev["dataset"] = "system.auth"
    ev["module"] = "system"
    handler = _HANDLERS.get(appname or "", _pam)
    handler(event, message)


def parse_auth(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"auth"``: one auth.log line."""
    env = parse_envelope(text, record.received)
    if env is None:
        raise ParseError("not an auth.log line (no syslog timestamp)", source=record.source)
    apply_auth(env.event, env.appname, env.message)
    return env.event
