"""Parse stage: nginx / Apache access logs (combined, common, vhost prefix, malformed requests)."""

from __future__ import annotations

import calendar

import pytest

from pipeline.parsers import parse_record
from soc_core.ecs import get_field
from soc_core.errors import ParseError
from soc_core.models import RawRecord

RECEIVED = float(calendar.timegm((2026, 11, 20, 9, 0, 0)))


def rec(text: str, fmt: str = "nginx") -> RawRecord:
    return RawRecord(
        id="w1",
        received=RECEIVED,
        collector="file",
        kind="file",
        source="/var/log/nginx/access.log",
        data=text.encode(),
        format=fmt,
        offset=128,
    )


def test_nginx_combined() -> None:
    line = (
        '203.0.113.9 - - [20/Nov/2026:08:15:30 +0700] "GET /index.php?page=../../etc/passwd&x=1 HTTP/1.1" 404 153 '
        '"https://portal.thanhhoa.gov.vn/" "Mozilla/5.0 (X11; Linux x86_64) sqlmap/1.7"'
    )
    ev = parse_record(rec(line))
    assert ev["@timestamp"] == "2026-11-20T01:15:30.000Z"
    assert get_field(ev, "event.dataset") == "nginx.access"
    assert get_field(ev, "event.module") == "nginx"
    assert get_field(ev, "event.category") == ["web"]
    assert get_field(ev, "event.type") == ["access"]
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "source.ip") == "203.0.113.9"
    assert get_field(ev, "http.request.method") == "GET"
    assert get_field(ev, "url.original") == "/index.php?page=../../etc/passwd&x=1"
    assert get_field(ev, "url.path") == "/index.php"
    assert get_field(ev, "url.query") == "page=../../etc/passwd&x=1"
    assert get_field(ev, "http.version") == "1.1"
    assert get_field(ev, "http.response.status_code") == 404
    assert get_field(ev, "http.response.body.bytes") == 153
    assert get_field(ev, "http.request.referrer") == "https://portal.thanhhoa.gov.vn/"
    assert get_field(ev, "user_agent.original") == "Mozilla/5.0 (X11; Linux x86_64) sqlmap/1.7"
    assert get_field(ev, "user.name") is None
    assert get_field(ev, "log.file.path") == "/var/log/nginx/access.log"
    assert get_field(ev, "log.offset") == 128


def test_apache_common_with_user_and_negative_offset() -> None:
    line = '127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "POST /apache_pb.gif HTTP/1.0" 200 2326'
    ev = parse_record(rec(line, "apache"))
    assert ev["@timestamp"] == "2026-10-10T20:55:36.000Z"
    assert get_field(ev, "event.dataset") == "apache.access"
    assert get_field(ev, "event.module") == "apache"
    assert get_field(ev, "user.name") == "frank"
    assert get_field(ev, "http.request.method") == "POST"
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "user_agent.original") is None
    assert get_field(ev, "url.query") is None


def test_vhost_prefix_and_trailing_fields() -> None:
    line = (
        'dichvucong.thanhhoa.gov.vn:443 10.1.2.3 - - [20/Nov/2026:08:15:30 +0000] "GET / HTTP/2.0" 200 5120 "-" '
        '"curl/8.5.0" "198.51.100.1" rt=0.012'
    )
    ev = parse_record(rec(line))
    assert get_field(ev, "url.domain") == "dichvucong.thanhhoa.gov.vn"
    assert get_field(ev, "source.ip") == "10.1.2.3"
    assert get_field(ev, "http.version") == "2.0"
    assert get_field(ev, "http.request.referrer") is None
    assert get_field(ev, "user_agent.original") == "curl/8.5.0"


def test_ipv6_client_and_escaped_quotes() -> None:
    line = '2001:db8::42 - - [20/Nov/2026:08:15:30 +0700] "GET /q?s=\\"x\\" HTTP/1.1" 200 0 "-" "UA \\"quoted\\""'
    ev = parse_record(rec(line))
    assert get_field(ev, "source.ip") == "2001:db8::42"
    assert get_field(ev, "url.query") == 's=\\"x\\"'
    assert get_field(ev, "user_agent.original") == 'UA \\"quoted\\"'


@pytest.mark.parametrize(
    "request_line", ["-", "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03", "GET", "HTTP/1.1"]
)
def test_malformed_request_is_an_event(request_line: str) -> None:
    line = f'45.12.1.9 - - [20/Nov/2026:08:15:30 +0700] "{request_line}" 400 157 "-" "-"'
    ev = parse_record(rec(line))
    assert get_field(ev, "event.outcome") == "failure"
    assert "malformed_request" in ev["tags"]
    assert get_field(ev, "http.request.method") is None
    assert get_field(ev, "http.response.status_code") == 400
    assert get_field(ev, "source.ip") == "45.12.1.9"


def test_malformed_request_with_200_status_still_failure() -> None:
    line = '45.12.1.9 - - [20/Nov/2026:08:15:30 +0700] "\\x16\\x03\\x01" 200 0'
    ev = parse_record(rec(line))
    assert get_field(ev, "event.outcome") == "failure"


def test_absolute_uri_proxy_request() -> None:
    line = '10.1.2.3 - - [20/Nov/2026:08:15:30 +0700] "GET http://example.com:8080/a/b?c=d HTTP/1.1" 502 0 "-" "-"'
    ev = parse_record(rec(line))
    assert get_field(ev, "url.domain") == "example.com"
    assert get_field(ev, "url.port") == 8080
    assert get_field(ev, "url.path") == "/a/b"
    assert get_field(ev, "url.query") == "c=d"


def test_invalid_utf8_in_access_log() -> None:
    raw = b'10.1.2.3 - - [20/Nov/2026:08:15:30 +0700] "GET /\xc3\x28 HTTP/1.1" 200 1 "-" "-"'
    r = RawRecord(id="w2", received=RECEIVED, collector="file", kind="file", source="a.log", data=raw, format="nginx")
    ev = parse_record(r)
    assert "invalid_utf8" in ev["tags"]
    assert get_field(ev, "url.original") == "/\ufffd("


@pytest.mark.parametrize(
    "line",
    [
        "not an access log",
        '10.1.2.3 - - [99/Foo/2026:08:15:30 +0700] "GET / HTTP/1.1" 200 1',
        '10.1.2.3 - - [20/Nov/2026:08:15:30 +0700] "GET / HTTP/1.1" abc 1',
    ],
)
def test_not_access_log_is_error(line: str) -> None:
    with pytest.raises(ParseError, match="access-log"):
        parse_record(rec(line))


def test_nginx_over_syslog() -> None:
    line = '<190>Nov 20 08:15:30 web01 nginx: 10.1.2.3 - - [20/Nov/2026:08:15:30 +0700] "GET /x HTTP/1.1" 500 1 "-" "-"'
    r = RawRecord(
        id="s1",
        received=RECEIVED,
        collector="syslog-udp",
        kind="syslog",
        source="udp://10.1.1.1:514",
        data=line.encode(),
    )
    ev = parse_record(r)
    assert get_field(ev, "event.dataset") == "nginx.access"
    assert get_field(ev, "url.path") == "/x"
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "log.syslog.hostname") == "web01"
    # non-access messages from nginx stay plain syslog
    r2 = RawRecord(
        id="s2",
        received=RECEIVED,
        collector="syslog-udp",
        kind="syslog",
        source="udp://10.1.1.1:514",
        data=b"<187>Nov 20 08:15:30 web01 nginx: [error] 12#12: upstream timed out",
    )
    ev2 = parse_record(r2)
    assert get_field(ev2, "event.dataset") == "syslog.generic"


def test_ten_megabyte_request() -> None:
    line = '1.2.3.4 - - [20/Nov/2026:08:15:30 +0700] "GET /' + "a" * (10 * 1024 * 1024) + ' HTTP/1.1" 414 0 "-" "-"'
    ev = parse_record(rec(line))
    assert get_field(ev, "http.response.status_code") == 414
    assert len(get_field(ev, "url.path")) == 10 * 1024 * 1024 + 1
