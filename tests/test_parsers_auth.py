"""Parse stage: auth.log (sshd, sudo, useradd, usermod, gpasswd, PAM) as file lines and over syslog."""

from __future__ import annotations

import calendar
from typing import Any

import pytest

from pipeline.parsers import parse_record
from soc_core.ecs import get_field
from soc_core.errors import ParseError
from soc_core.models import RawRecord

RECEIVED = float(calendar.timegm((2026, 11, 20, 9, 0, 0)))


def rec(text: str, fmt: str = "auth", **kw: Any) -> RawRecord:
    fields: dict[str, Any] = {
        "id": "a1",
        "received": RECEIVED,
        "collector": "file",
        "kind": "file",
        "source": "/var/log/auth.log",
        "data": text.encode(),
        "format": fmt,
    }
    fields.update(kw)
    return RawRecord(**fields)


def parse(msg: str, app: str = "sshd[2231]", fmt: str = "auth") -> dict[str, Any]:
    return parse_record(rec(f"Nov 20 08:15:30 web01 {app}: {msg}", fmt))


def test_failed_password_invalid_user() -> None:
    ev = parse("Failed password for invalid user admin from 203.0.113.7 port 52311 ssh2")
    assert get_field(ev, "event.dataset") == "system.auth"
    assert get_field(ev, "event.module") == "sshd"
    assert get_field(ev, "event.category") == ["authentication"]
    assert get_field(ev, "event.action") == "ssh_login"
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "user.name") == "admin"
    assert get_field(ev, "source.ip") == "203.0.113.7"
    assert get_field(ev, "source.port") == 52311
    assert get_field(ev, "system.auth.ssh.event") == "Failed"
    assert get_field(ev, "system.auth.ssh.method") == "password"
    assert get_field(ev, "host.name") == "web01"
    assert get_field(ev, "process.pid") == 2231
    assert get_field(ev, "log.file.path") == "/var/log/auth.log"
    assert ev["@timestamp"] == "2026-11-20T01:15:30.000Z"


def test_failed_password_ipv6_and_user_with_space() -> None:
    ev = parse("Failed password for root from 2001:db8::dead:beef port 40022 ssh2")
    assert get_field(ev, "source.ip") == "2001:db8::dead:beef"
    assert get_field(ev, "user.name") == "root"
    ev = parse("Failed none for invalid user john doe from 198.51.100.2 port 1022 ssh2")
    assert get_field(ev, "user.name") == "john doe"
    assert get_field(ev, "system.auth.ssh.method") == "none"


def test_accepted_publickey_with_signature() -> None:
    ev = parse("Accepted publickey for deploy from 10.20.3.45 port 50122 ssh2: ED25519 SHA256:AbCdEf0123")
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "event.action") == "ssh_login"
    assert get_field(ev, "system.auth.ssh.event") == "Accepted"
    assert get_field(ev, "system.auth.ssh.method") == "publickey"
    assert get_field(ev, "system.auth.ssh.signature") == "ED25519 SHA256:AbCdEf0123"
    assert get_field(ev, "user.name") == "deploy"


def test_accepted_password() -> None:
    ev = parse("Accepted password for nguyenvana from 10.20.3.45 port 50122 ssh2")
    assert get_field(ev, "system.auth.ssh.method") == "password"
    assert get_field(ev, "event.outcome") == "success"


def test_invalid_user() -> None:
    ev = parse("Invalid user oracle from 45.12.1.9 port 39712")
    assert get_field(ev, "event.action") == "ssh_invalid_user"
    assert get_field(ev, "system.auth.ssh.event") == "Invalid"
    assert get_field(ev, "user.name") == "oracle"
    assert get_field(ev, "source.port") == 39712


@pytest.mark.parametrize(
    ("msg", "user", "ip"),
    [
        ("Connection closed by authenticating user root 45.12.1.9 port 39712 [preauth]", "root", "45.12.1.9"),
        ("Connection closed by 45.12.1.9 port 39712 [preauth]", None, "45.12.1.9"),
        ("Disconnected from invalid user test 45.12.1.9 port 39712 [preauth]", "test", "45.12.1.9"),
        ("Disconnected from user deploy 10.20.3.45 port 50122", "deploy", "10.20.3.45"),
        ("Received disconnect from 45.12.1.9 port 39712:11: Bye Bye [preauth]", None, "45.12.1.9"),
    ],
)
def test_disconnects(msg: str, user: str | None, ip: str) -> None:
    ev = parse(msg)
    assert get_field(ev, "event.action") == "ssh_disconnect"
    assert get_field(ev, "user.name") == user
    assert get_field(ev, "source.ip") == ip


def test_max_auth_attempts() -> None:
    ev = parse("error: maximum authentication attempts exceeded for root from 45.12.1.9 port 39712 ssh2 [preauth]")
    assert get_field(ev, "event.action") == "ssh_max_auth_exceeded"
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "user.name") == "root"


def test_message_repeated() -> None:
    ev = parse("message repeated 5 times: [ Failed password for root from 45.12.1.9 port 39712 ssh2]")
    assert get_field(ev, "event.action") == "ssh_login"
    assert get_field(ev, "source.ip") == "45.12.1.9"
    assert get_field(ev, "system.auth.repeated") == 5


def test_sudo_success_and_failure() -> None:
    ev = parse("    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash -c id; whoami", app="sudo")
    assert get_field(ev, "event.action") == "sudo"
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "user.name") == "alice"
    assert get_field(ev, "user.effective.name") == "root"
    assert get_field(ev, "process.command_line") == "/bin/bash -c id; whoami"
    assert get_field(ev, "system.auth.sudo.tty") == "pts/0"
    assert get_field(ev, "system.auth.sudo.pwd") == "/home/alice"
    ev = parse(
        "     bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; "
        "COMMAND=/usr/bin/cat /etc/shadow",
        app="sudo",
    )
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "system.auth.sudo.error") == "3 incorrect password attempts"
    assert get_field(ev, "process.command_line") == "/usr/bin/cat /etc/shadow"


def test_useradd_and_group_membership() -> None:
    ev = parse(
        "new user: name=backdoor, UID=1001, GID=1001, home=/home/backdoor, shell=/bin/bash, from=/dev/pts/0",
        app="useradd[4001]",
    )
    assert get_field(ev, "event.action") == "user_created"
    assert get_field(ev, "event.category") == ["iam"]
    assert get_field(ev, "user.name") == "backdoor"
    assert get_field(ev, "user.id") == "1001"
    assert get_field(ev, "system.auth.useradd.shell") == "/bin/bash"
    ev = parse("new group: name=backdoor, GID=1001", app="groupadd[4000]")
    assert get_field(ev, "event.action") == "group_created"
    assert get_field(ev, "group.name") == "backdoor"
    ev = parse("add 'backdoor' to group 'sudo'", app="usermod[4010]")
    assert get_field(ev, "event.action") == "group_member_added"
    assert get_field(ev, "user.name") == "backdoor"
    assert get_field(ev, "group.name") == "sudo"
    assert "privileged_group" in ev["tags"]
    ev = parse("add 'backdoor' to shadow group 'wheel'", app="usermod[4010]")
    assert get_field(ev, "group.name") == "wheel"
    ev = parse("user backdoor added by root to group sudo", app="gpasswd[4020]")
    assert get_field(ev, "event.action") == "group_member_added"
    assert get_field(ev, "user.name") == "backdoor"
    ev = parse("add 'web' to group 'www-data'", app="usermod[4010]")
    assert "tags" not in ev


def test_pam_lines() -> None:
    ev = parse(
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=45.12.1.9  user=root"
    )
    assert get_field(ev, "event.action") == "authentication_failure"
    assert get_field(ev, "source.ip") == "45.12.1.9"
    assert get_field(ev, "user.name") == "root"
    ev = parse("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", app="sudo")
    assert get_field(ev, "event.action") == "session_opened"
    assert get_field(ev, "user.name") == "root"
    ev = parse("pam_unix(passwd:chauthtok): password changed for alice", app="passwd[77]")
    assert get_field(ev, "event.action") == "password_changed"


def test_unrecognised_auth_line_keeps_envelope() -> None:
    ev = parse("Server listening on 0.0.0.0 port 22.")
    assert get_field(ev, "event.dataset") == "system.auth"
    assert get_field(ev, "event.action") is None
    assert get_field(ev, "process.name") == "sshd"
    ev = parse("pam_unix(cron:session): session closed for user root", app="CRON[12]")
    assert get_field(ev, "event.action") == "session_closed"


def test_auth_line_not_syslog_is_error() -> None:
    with pytest.raises(ParseError, match=r"auth\.log"):
        parse_record(rec("Failed password for root from 1.2.3.4 port 22 ssh2"))


def test_sshd_over_network_syslog_gives_same_fields() -> None:
    msg = "Failed password for root from 203.0.113.7 port 52311 ssh2"
    file_ev = parse(msg)
    net = RawRecord(
        id="n1",
        received=RECEIVED,
        collector="syslog-udp",
        kind="syslog",
        source="udp://10.0.0.9:514",
        data=f"<38>Nov 20 08:15:30 web01 sshd[2231]: {msg}".encode(),
        host="10.0.0.9",
    )
    net_ev = parse_record(net)
    for path in (
        "event.action",
        "event.outcome",
        "event.dataset",
        "event.module",
        "user.name",
        "source.ip",
        "source.port",
        "system.auth.ssh.event",
        "system.auth.ssh.method",
        "@timestamp",
    ):
        assert get_field(net_ev, path) == get_field(file_ev, path), path
    assert get_field(net_ev, "log.syslog.facility.code") == 4
    assert get_field(net_ev, "host.ip") == "10.0.0.9"
    # RFC 5424 carrying sshd too
    ev5424 = parse_record(rec(f"<38>1 2026-11-20T08:15:30Z web01 sshd 2231 - - {msg}", "syslog"))
    assert get_field(ev5424, "event.action") == "ssh_login"
    assert get_field(ev5424, "source.ip") == "203.0.113.7"
