"""Parse stage: syslog envelopes (RFC 5424 / 3164), decoding policy, sniffing and common fields."""

from __future__ import annotations

import calendar
from typing import Any

import pytest

from pipeline.parsers import PARSERS, UNKNOWN_FORMAT, parse_record, sniff_format
from pipeline.parsers.text import DEFAULT_LOG_TIMEZONE, set_log_timezone
from soc_core.ecs import get_field
from soc_core.errors import ParseError
from soc_core.models import RawRecord

RECEIVED = float(calendar.timegm((2026, 11, 20, 9, 0, 0)))


def rec(data: bytes | str, fmt: str = "auto", *, received: float = RECEIVED, **kw: Any) -> RawRecord:
    raw = data.encode() if isinstance(data, str) else data
    fields: dict[str, Any] = {
        "id": "rec-1",
        "received": received,
        "collector": "syslog-udp",
        "kind": "syslog",
        "source": "udp://10.0.0.5:51514",
        "data": raw,
        "format": fmt,
    }
    fields.update(kw)
    return RawRecord(**fields)


def test_rfc5424_with_structured_data_and_bom() -> None:
    line = (
        b"<165>1 2026-11-20T08:15:30.123+07:00 mymachine.example.com evntslog 8710 ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][meta x="a\\"b\\]c"] '
        b"\xef\xbb\xbfAn application event log entry"
    )
    ev = parse_record(rec(line, "syslog"))
    assert ev["@timestamp"] == "2026-11-20T01:15:30.123Z"
    assert get_field(ev, "log.syslog.priority") == 165
    assert get_field(ev, "log.syslog.facility.code") == 20
    assert get_field(ev, "log.syslog.severity.code") == 5
    assert get_field(ev, "log.syslog.version") == "1"
    assert get_field(ev, "log.syslog.msgid") == "ID47"
    assert get_field(ev, "log.syslog.procid") == "8710"
    assert get_field(ev, "host.name") == "mymachine.example.com"
    assert get_field(ev, "process.name") == "evntslog"
    assert get_field(ev, "process.pid") == 8710
    assert ev["message"] == "An application event log entry"  # BOM removed from MSG
    sd = get_field(ev, "log.syslog.structured_data")
    assert sd["exampleSDID@32473"] == {"iut": "3", "eventSource": "Application", "eventID": "1011"}
    assert sd["meta"] == {"x": 'a"b]c'}
    assert get_field(ev, "event.dataset") == "syslog.generic"
    assert get_field(ev, "event.module") == "syslog"


def test_rfc5424_nil_values() -> None:
    ev = parse_record(rec("<14>1 - - - - - -", "syslog"))
    assert ev["@timestamp"] == "2026-11-20T09:00:00.000Z"  # falls back to received
    assert "host" not in ev or "name" not in ev["host"]
    assert ev["message"] == ""


def test_rfc3164_with_pri() -> None:
    ev = parse_record(rec("<34>Nov  2 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"))
    assert ev["@timestamp"] == "2026-11-02T15:14:15.000Z"  # 22:14:15 in the default log zone, UTC+7
    assert get_field(ev, "log.syslog.hostname") == "mymachine"
    assert get_field(ev, "log.syslog.appname") == "su"
    assert get_field(ev, "log.syslog.facility.code") == 4
    assert get_field(ev, "log.syslog.severity.code") == 2
    assert ev["message"] == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3164_without_pri_from_var_log_syslog() -> None:
    ev = parse_record(rec("Nov 20 08:15:30 web01 systemd[1]: Started Session 42 of user root.", "syslog"))
    assert ev["@timestamp"] == "2026-11-20T01:15:30.000Z"
    assert get_field(ev, "process.pid") == 1
    assert get_field(ev, "log.syslog.procid") == "1"
    assert "priority" not in ev["log"]["syslog"]
    assert ev["message"] == "Started Session 42 of user root."


def test_rfc3164_without_hostname_and_without_tag() -> None:
    ev = parse_record(rec("<13>Nov 20 08:15:30 sshd[77]: error: kex_exchange_identification: banner", "syslog"))
    assert get_field(ev, "process.name") == "sshd"
    assert get_field(ev, "host.name") is None
    ev2 = parse_record(rec("<13>Nov 20 08:15:30 router1 link down on port 3", "syslog"))
    assert get_field(ev2, "host.name") == "router1"
    assert ev2["message"] == "link down on port 3"
    assert get_field(ev2, "process.name") is None


def test_rfc3339_file_timestamp_high_precision() -> None:
    ev = parse_record(rec("2026-11-20T15:15:30.654321+07:00 web01 CRON[99]: (root) CMD (run-parts)", "syslog"))
    assert ev["@timestamp"] == "2026-11-20T08:15:30.654Z"
    assert get_field(ev, "process.name") == "CRON"


def test_pri_with_unusual_header_keeps_message() -> None:
    ev = parse_record(rec("<189>123: %SYS-5-CONFIG_I: Configured from console", "syslog"))
    assert get_field(ev, "log.syslog.priority") == 189
    assert ev["message"] == "123: %SYS-5-CONFIG_I: Configured from console"


def test_year_rollover_uses_previous_year() -> None:
    jan2 = float(calendar.timegm((2027, 1, 2, 0, 10, 0)))
    ev = parse_record(rec("Dec 31 23:59:58 h app: bye", "syslog", received=jan2))
    assert ev["@timestamp"] == "2026-12-31T16:59:58.000Z"
    # Less than a day ahead (clock skew) stays in the received year.
    ev = parse_record(rec("Jan  2 12:00:00 h app: skew", "syslog", received=jan2))
    assert ev["@timestamp"] == "2027-01-02T05:00:00.000Z"


def test_feb_29_in_non_leap_year_goes_to_last_leap_year() -> None:
    mar1 = float(calendar.timegm((2027, 3, 1, 0, 0, 0)))
    ev = parse_record(rec("Feb 29 10:00:00 h app: leap", "syslog", received=mar1))
    assert ev["@timestamp"] == "2024-02-29T03:00:00.000Z"


def test_zone_less_timestamps_follow_the_log_timezone() -> None:
    line = "<13>Nov 20 08:15:30 web01 app: hi"
    assert parse_record(rec(line, "syslog"))["@timestamp"] == "2026-11-20T01:15:30.000Z"  # Asia/Ho_Chi_Minh
    try:
        set_log_timezone("UTC")
        assert parse_record(rec(line, "syslog"))["@timestamp"] == "2026-11-20T08:15:30.000Z"
        set_log_timezone("Europe/Berlin")  # a zone with DST: winter time is UTC+1
        assert parse_record(rec(line, "syslog"))["@timestamp"] == "2026-11-20T07:15:30.000Z"
    finally:
        set_log_timezone(DEFAULT_LOG_TIMEZONE)
    # RFC 5424 carries its own offset: the log zone does not apply
    ev = parse_record(rec("<13>1 2026-11-20T08:15:30.000+02:00 web01 app - - - hi", "syslog"))
    assert ev["@timestamp"] == "2026-11-20T06:15:30.000Z"


def test_unknown_log_timezone_is_refused_in_the_settings() -> None:
    from pydantic import ValidationError

    from soc_core.settings import Settings

    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(log_timezone="Mars/Olympus")


def test_common_fields() -> None:
    r = rec("<13>Nov 20 08:15:30 web01 app: hi\n", "syslog", host="10.0.0.5", unit="TH.VP")
    ev = parse_record(r)
    assert get_field(ev, "event.id") == "rec-1"
    assert get_field(ev, "event.original") == "<13>Nov 20 08:15:30 web01 app: hi"
    assert get_field(ev, "event.ingested") == "2026-11-20T09:00:00.000Z"
    assert get_field(ev, "event.kind") == "event"
    assert get_field(ev, "agent.type") == "soc-collector"
    assert get_field(ev, "agent.name") == "syslog-udp"
    assert get_field(ev, "host.ip") == "10.0.0.5"
    assert get_field(ev, "log.file.path") is None


def test_file_records_carry_path_and_offset() -> None:
    r = rec("Nov 20 08:15:30 web01 app: hi", "syslog", kind="file", source="/var/log/syslog", offset=4096)
    ev = parse_record(r)
    assert get_field(ev, "log.file.path") == "/var/log/syslog"
    assert get_field(ev, "log.offset") == 4096


def test_invalid_utf8_is_replaced_and_tagged() -> None:
    ev = parse_record(rec(b"<13>Nov 20 08:15:30 web01 app: caf\xe9 \xff ok", "syslog"))
    assert "invalid_utf8" in ev["tags"]
    assert ev["message"] == "caf\ufffd \ufffd ok"
    assert "\ufffd" in ev["event"]["original"]


def test_vietnamese_utf8_kept() -> None:
    ev = parse_record(rec("<13>Nov 20 08:15:30 web01 app: Cổng thông tin điện tử", "syslog"))
    assert ev["message"] == "Cổng thông tin điện tử"
    assert "tags" not in ev


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02\x03binary\x00",
        bytes(range(1, 32)) * 10,
        bytes([0x80, 0x81, 0xFE, 0xFF, 0xC3]) * 40,
    ],
)
def test_binary_data_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="binary data") as info:
        parse_record(rec(data, "syslog"))
    assert info.value.source == "udp://10.0.0.5:51514"


def test_not_syslog_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a syslog message"):
        parse_record(rec("hello world", "syslog"))
    with pytest.raises(ParseError, match="unrecognised"):
        parse_record(rec("hello world"))
    with pytest.raises(ParseError, match="empty"):
        parse_record(rec("\r\n"))
    with pytest.raises(ParseError, match="no parser"):
        parse_record(rec("x", "netflow"))
    with pytest.raises(ParseError, match="invalid JSON"):  # pcap records are the capture reader's JSON
        parse_record(rec("x", "pcap"))


def test_ten_megabyte_line_is_handled() -> None:
    big = "<13>Nov 20 08:15:30 web01 app: " + "A" * (10 * 1024 * 1024)
    ev = parse_record(rec(big, "syslog"))
    assert len(ev["message"]) == 10 * 1024 * 1024
    big5424 = '<13>1 2026-11-20T08:15:30Z h app - - [x@1 a="' + "b" * (10 * 1024 * 1024) + '"] msg'
    ev = parse_record(rec(big5424, "syslog"))
    assert ev["message"] == "msg"
    with pytest.raises(ParseError):
        parse_record(rec("x" * (10 * 1024 * 1024), "auto"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"Event": {"System": {"EventID": 1}}}', "winjson"),
        ('{"message": "x", "winlog": {"event_id": 1}}', "winjson"),
        ('{"EventID": 4625, "Channel": "Security"}', "winjson"),
        ('{"@timestamp": "2026-11-20T00:00:00Z", "source": {"ip": "1.2.3.4"}}', "jsonl"),
        ("<13>Nov 20 08:15:30 web01 app: hi", "syslog"),
        ("<13>1 2026-11-20T08:15:30Z h a - - - m", "syslog"),
        ('10.1.1.1 - - [20/Nov/2026:08:15:30 +0700] "GET / HTTP/1.1" 200 5 "-" "x"', "nginx"),
        ('site.gov.vn 10.1.1.1 - - [20/Nov/2026:08:15:30 +0700] "GET / HTTP/1.1" 200 5', "nginx"),
        ("Nov 20 08:15:30 web01 sshd[1]: Accepted password for a from 1.2.3.4 port 22 ssh2", "auth"),
        ("Nov  2 08:15:30 web01 sudo:   a : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id", "auth"),
        ("Nov 20 08:15:30 web01 kernel: [1.0] eth0 up", "syslog"),
        ("2026-11-20T08:15:30.1+07:00 web01 sshd[1]: x", "auth"),
        ("just some text", UNKNOWN_FORMAT),
        ("", UNKNOWN_FORMAT),
    ],
)
def test_sniff_format(text: str, expected: str) -> None:
    assert sniff_format(text) == expected
    assert expected in PARSERS or expected == UNKNOWN_FORMAT


def test_registry_names() -> None:
    assert {"syslog", "auth", "nginx", "apache", "winjson", "jsonl"} <= set(PARSERS)
    assert all(callable(fn) for fn in PARSERS.values())


def test_jsonl_ecs_passthrough() -> None:
    line = (
        '{"@timestamp": "2026-11-20T15:15:30+07:00", "source.ip": "1.2.3.4", "event": {"action": "x"}, "tags": ["t"]}'
    )
    ev = parse_record(rec(line, kind="file", source="/data/events.jsonl", offset=0))
    assert ev["@timestamp"] == "2026-11-20T08:15:30.000Z"
    assert get_field(ev, "source.ip") == "1.2.3.4"
    assert ev["source"] == {"ip": "1.2.3.4"}
    assert get_field(ev, "event.action") == "x"
    assert get_field(ev, "event.dataset") == "json.generic"
    assert get_field(ev, "event.module") == "json"
    assert get_field(ev, "log.file.path") == "/data/events.jsonl"
    assert get_field(ev, "log.offset") == 0


def test_jsonl_bad_timestamp_and_epoch() -> None:
    ev = parse_record(rec('{"@timestamp": "yesterday", "m": 1}', "jsonl"))
    assert "invalid_timestamp" in ev["tags"]
    assert ev["@timestamp"] == "2026-11-20T09:00:00.000Z"
    assert ev["json"]["@timestamp"] == "yesterday"
    ev = parse_record(rec('{"@timestamp": 1795162530000}', "jsonl"))
    assert ev["@timestamp"] == "2026-11-20T08:15:30.000Z"


@pytest.mark.parametrize("line", ["[1, 2]", '{"a": ', "{}", '"str"', "[" * 5000 + "]" * 5000])
def test_jsonl_errors(line: str) -> None:
    with pytest.raises(ParseError):
        parse_record(rec(line, "jsonl"))
