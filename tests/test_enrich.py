"""Enrich stage: asset inventory loading/validation (YAML, CSV) and per-event enrichment."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrich import CSV_COLUMNS, Asset, AssetInventory
from soc_core.ecs import get_field
from soc_core.errors import ConfigError

DATA = Path(__file__).parent / "data" / "parsers"


def _name(asset: Asset | None) -> str | None:
    return None if asset is None else asset.name


@pytest.fixture(scope="module")
def inv() -> AssetInventory:
    return AssetInventory.load(DATA / "assets.yaml")


def test_load_yaml(inv: AssetInventory) -> None:
    assert set(inv.units) == {"TH", "TH.VP", "TH.STTTT", "TH.STTTT.TT"}
    assert inv.units["TH.VP"].parent == "TH"
    assert inv.units["TH"].name == "UBND tỉnh Thanh Hóa"
    portal = inv.assets[0]
    assert portal.ips == ("10.10.1.10",)
    assert portal.cidrs == (ipaddress.ip_network("10.10.1.0/28"),)
    assert portal.hostnames == ("portal.thanhhoa.gov.vn", "web-portal-01")
    assert portal.owner["email"] == "a@thanhhoa.gov.vn"


def test_lookup_exact_cidr_longest_prefix(inv: AssetInventory) -> None:
    assert _name(inv.lookup(ip="10.10.1.10")) == "portal"
    assert _name(inv.lookup(ip="10.10.1.5")) == "portal"
    assert _name(inv.lookup(ip="10.10.1.16")) == "datacenter"
    assert _name(inv.lookup(ip="2001:db8:10:ff::1")) == "datacenter"
    assert _name(inv.lookup(ip="::ffff:10.10.1.10")) == "portal"
    assert inv.lookup(ip="192.0.2.1") is None
    assert inv.lookup(ip="not-an-ip") is None


def test_lookup_hostname(inv: AssetInventory) -> None:
    assert _name(inv.lookup(hostname="PORTAL.thanhhoa.gov.vn.")) == "portal"
    assert _name(inv.lookup(hostname="web-portal-01.thanhhoa.local")) == "portal"
    assert _name(inv.lookup(hostname="dc01")) == "dc01"
    assert inv.lookup(hostname="unknown-host") is None
    assert _name(inv.lookup(ip="192.0.2.1", hostname="dc01")) == "dc01"


def test_enrich_by_host_ip(inv: AssetInventory) -> None:
    ev: dict[str, Any] = {"host": {"ip": "10.10.1.10"}, "source": {"ip": "10.20.0.5"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.unit.code") == "TH.VP"
    assert get_field(ev, "soc.unit.name") == "Văn phòng UBND tỉnh"
    assert get_field(ev, "soc.unit.parent") == "TH"
    assert get_field(ev, "soc.unit.path") == ["TH", "TH.VP"]
    assert get_field(ev, "soc.system") == "Cổng thông tin điện tử tỉnh"
    assert get_field(ev, "soc.security_level") == 3
    assert get_field(ev, "soc.asset.owner") == {
        "name": "Nguyễn Văn A",
        "email": "a@thanhhoa.gov.vn",
        "phone": "0237 3850 000",
    }
    assert get_field(ev, "soc.asset.name") == "portal"


def test_enrich_order_host_name_before_source_ip(inv: AssetInventory) -> None:
    ev: dict[str, Any] = {"host": {"name": "DC01.thanhhoa.local"}, "source": {"ip": "10.10.1.10"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "dc01"
    assert get_field(ev, "soc.unit.path") == ["TH", "TH.STTTT", "TH.STTTT.TT"]


def test_enrich_destination_then_syslog_hostname_then_source(inv: AssetInventory) -> None:
    ev: dict[str, Any] = {"destination": {"ip": "10.10.200.1"}, "source": {"ip": "10.10.1.10"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "datacenter"
    ev = {"log": {"syslog": {"hostname": "10.20.0.5"}}, "source": {"ip": "10.10.1.10"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "dc01"  # syslog hostname holding an IP
    ev = {"host": {"name": "nobody"}, "source": {"ip": "10.10.1.3"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "portal"
    ev = {"host": {"ip": ["192.0.2.9", "10.10.1.10"]}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "portal"


def test_enrich_record_unit_only(inv: AssetInventory) -> None:
    ev: dict[str, Any] = {"source": {"ip": "192.0.2.1"}}
    inv.enrich(ev, record_unit="TH.STTTT")
    assert ev["soc"] == {
        "unit": {"code": "TH.STTTT", "name": "Sở Thông tin và Truyền thông", "parent": "TH", "path": ["TH", "TH.STTTT"]}
    }
    ev = {}
    inv.enrich(ev)
    assert "soc" not in ev
    ev = {}
    AssetInventory.empty().enrich(ev, record_unit="X.Y")
    assert ev == {"soc": {"unit": {"code": "X.Y"}}}


def test_subtree(inv: AssetInventory) -> None:
    assert inv.subtree("TH") == {"TH", "TH.VP", "TH.STTTT", "TH.STTTT.TT"}
    assert inv.subtree("TH.STTTT") == {"TH.STTTT", "TH.STTTT.TT"}
    assert inv.subtree("TH.VP") == {"TH.VP"}
    assert inv.subtree("NOPE") == {"NOPE"}


def test_load_csv() -> None:
    inv = AssetInventory.load(DATA / "assets.csv")
    assert set(inv.units) == {"TH", "TH.VP", "TH.STTTT"}
    assert inv.units["TH.STTTT"].parent == "TH"
    assert [a.name for a in inv.assets] == ["portal", "motcua"]
    assert inv.assets[0].hostnames == ("portal.thanhhoa.gov.vn", "web-portal-01")
    ev: dict[str, Any] = {"source": {"ip": "10.30.0.77"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.unit.code") == "TH.STTTT"
    assert get_field(ev, "soc.security_level") == 2
    assert get_field(ev, "soc.asset.owner") == {"name": "Lê Văn C"}


UNITS = "units:\n  - {code: TH, name: T}\n  - {code: TH.VP, name: V, parent: TH}\n"
ASSET = 'assets:\n  - name: a\n    unit: TH.VP\n    security_level: 3\n    ips: ["10.0.0.1"]\n'


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (UNITS + "assets:\n  - name: a\n    unit: TH.VP\n    security_level: 7\n", 7, "security_level"),
        (UNITS + "assets:\n  - name: a\n    unit: TH.VP\n    security_level: x\n", 7, "security_level"),
        (UNITS + "assets:\n  - name: a\n    unit: TH.XX\n    security_level: 3\n", 6, "unknown unit"),
        (
            UNITS + "assets:\n  - name: a\n    unit: TH.VP\n    security_level: 3\n    ips:\n      - 10.0.0.1\n"
            "      - 10.0.0.999\n",
            10,
            "bad IP",
        ),
        (UNITS + 'assets:\n  - name: a\n    unit: TH.VP\n    security_level: 3\n    ips: ["10.0.0.1/8"]\n', 8, "CIDR"),
        (UNITS + "  - {code: TH.VP, name: again}\n", 4, "duplicate unit"),
        ("units:\n  - {code: A, name: a, parent: B}\n  - {code: B, name: b, parent: A}\n", 2, "cycle"),
        ("units:\n  - {code: A, name: a, parent: A}\n", 2, "cycle"),
        ("units:\n  - {code: A, name: a, parent: Z}\n", 2, "unknown parent"),
        (UNITS + ASSET + '  - name: b\n    unit: TH\n    security_level: 1\n    ips: ["10.0.0.1"]\n', 12, "already"),
        ("units: [\n  {code: A\n", 3, "invalid YAML"),
        ("units:\n  - just a string\n", 2, "mapping"),
        ("units:\n  - {name: a}\n", 2, "missing 'code'"),
        ("bogus: 1\n", 1, "unknown top-level"),
    ],
)
def test_yaml_config_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "assets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        AssetInventory.load(path)
    assert info.value.source == str(path)
    assert info.value.line == line, str(info.value)


HEADER = ",".join(CSV_COLUMNS) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (HEADER + "TH,T,,,,,,,,,\nTH.VP,V,TH,S,a,10.0.0.1,,0,,,\n", 3, "security_level"),
        (HEADER + "TH,T,,,,,,,,,\nTH.VP,V,TH,S,a,10.0.0.1,,,,,\n", 3, "security_level"),
        (HEADER + "TH,T,,,,,,,,,\nTH.VP,V,TX,S,a,10.0.0.1,,3,,,\n", 3, "unknown parent"),
        (HEADER + "TH,T,,,,,,,,,\nTH.VP,V,TH,S,a,10.0.0.1;300.1.1.1,,3,,,\n", 3, "bad IP"),
        (HEADER + "TH,T,,,,,,,,,\nTH,Other name,,,,,,,,,\n", 3, "defined differently"),
        (HEADER + "A,a,B,,,,,,,,\nB,b,A,,,,,,,,\n", 2, "cycle"),
        ("unit_code,name\nTH,T\n", 1, "lacks column"),
        (HEADER + "TH,T,,,,,,,,,,extra\n", 2, "more fields"),
    ],
)
def test_csv_config_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "assets.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        AssetInventory.load(path)
    assert info.value.line == line, str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        AssetInventory.load(tmp_path / "missing.yaml")
    bad = tmp_path / "assets.txt"
    bad.write_text("x")
    with pytest.raises(ConfigError, match=r"\.yaml"):
        AssetInventory.load(bad)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + b"TH,H\xf3a,,,,,,,,,\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        AssetInventory.load(latin)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert AssetInventory.load(empty).assets == []


def test_enrich_web_virtual_host_before_outside_client(inv: AssetInventory) -> None:
    # an attack from outside on the portal: the unit is the portal's, found by url.domain
    ev: dict[str, Any] = {"url": {"domain": "PORTAL.thanhhoa.gov.vn"}, "source": {"ip": "10.20.0.5"}}
    inv.enrich(ev)
    assert get_field(ev, "soc.asset.name") == "portal"
    assert get_field(ev, "soc.unit.code") == "TH.VP"
