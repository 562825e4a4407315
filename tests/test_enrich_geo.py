"""Stage enrich, GeoIP (a tiny .mmdb written by mmdb-writer, the offline country fallback) and the
wiring of the enrichers from the settings and into `soc detect`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MmdbF64, MmdbU32, MMDBWriter
from netaddr import IPSet

from pipeline.enrich import GeoIP, ThreatIntel
from soc_cli.roles import load_enrichers
from soc_core.errors import ConfigError
from soc_core.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def city(iso: str, country: str, name: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "country": {"iso_code": iso, "names": {"en": country}},
        "city": {"names": {"en": name}},
        "location": {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon)},
    }


@pytest.fixture
def dbs(tmp_path: Path) -> tuple[Path, Path]:
    city_db = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    city_db.insert_network(IPSet(["45.155.205.0/24"]), city("NL", "Netherlands", "Amsterdam", 52.37, 4.89))
    city_db.insert_network(IPSet(["2a03:b0c0::/32"]), city("DE", "Germany", "Frankfurt", 50.11, 8.68))
    city_db.insert_network(IPSet(["10.0.0.0/8", "192.168.0.0/16"]), city("VN", "Vietnam", "Thanh Hoa", 19.8, 105.8))
    asn_db = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    asn_db.insert_network(
        IPSet(["45.155.205.0/24"]),
        {"autonomous_system_number": MmdbU32(48721), "autonomous_system_organization": "Example Hosting"},
    )
    paths = tmp_path / "city.mmdb", tmp_path / "asn.mmdb"
    city_db.to_db_file(str(paths[0]))
    asn_db.to_db_file(str(paths[1]))
    return paths


@pytest.fixture
def geo(dbs: tuple[Path, Path]) -> Iterator[GeoIP]:
    with GeoIP.open(*dbs) as g:
        yield g


def test_city_and_asn_fields_for_each_side(geo: GeoIP) -> None:
    event: dict[str, Any] = {
        "source": {"ip": "45.155.205.233", "port": 4242},
        "destination": {"ip": "2a03:b0c0:3:d0::1a"},
        "client": {"ip": "::ffff:45.155.205.1"},
        "server": {"ip": "45.155.205.2"},  # not a geo side
    }
    geo.enrich(event)
    assert event["source"] == {
        "ip": "45.155.205.233",
        "port": 4242,
        "geo": {
            "country_iso_code": "NL",
            "country_name": "Netherlands",
            "city_name": "Amsterdam",
            "location": {"lat": 52.37, "lon": 4.89},
        },
        "as": {"number": 48721, "organization": {"name": "Example Hosting"}},
    }
    assert event["destination"]["geo"]["city_name"] == "Frankfurt"
    assert "as" not in event["destination"]  # not in the ASN database
    assert event["client"]["geo"]["country_iso_code"] == "NL"
    assert event["server"] == {"ip": "45.155.205.2"}


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.1.10", "127.0.0.1", "::1", "fe80::1", "100.64.0.1", "bogus"])
def test_private_loopback_reserved_and_invalid_addresses_are_skipped(geo: GeoIP, ip: str) -> None:
    event = {"source": {"ip": ip}}
    geo.enrich(event)  # 10/8 and 192.168/16 are in the database: skipped all the same
    assert event == {"source": {"ip": ip}}
    assert geo.lookup(ip) is None


def test_unknown_public_address_gets_nothing_with_a_city_db(geo: GeoIP) -> None:
    event = {"source": {"ip": "8.8.8.8"}}  # not in the tiny database; no fallback when a city db is set
    geo.enrich(event)
    assert event == {"source": {"ip": "8.8.8.8"}}


def test_existing_geo_fields_are_kept(geo: GeoIP) -> None:
    event: dict[str, Any] = {"source": {"ip": "45.155.205.233", "geo": {"country_iso_code": "XX"}}}
    geo.enrich(event)
    assert event["source"]["geo"]["country_iso_code"] == "XX"
    assert event["source"]["geo"]["city_name"] == "Amsterdam"


def test_lookups_are_cached(geo: GeoIP) -> None:
    first = geo.lookup("45.155.205.233")
    assert first is not None and first is geo.lookup("45.155.205.233")
    a: dict[str, Any] = {"source": {"ip": "45.155.205.233"}}
    b: dict[str, Any] = {"source": {"ip": "45.155.205.233"}}
    geo.enrich(a)
    geo.enrich(b)
    assert a == b and a["source"]["geo"] is not b["source"]["geo"]  # events never share dicts


def test_fallback_country_without_databases() -> None:
    geo = GeoIP()
    event: dict[str, Any] = {"source": {"ip": "8.8.8.8"}, "destination": {"ip": "10.0.0.5"}}
    geo.enrich(event)
    assert event["source"]["geo"] == {"country_iso_code": "US"}
    assert "geo" not in event["destination"]
    off = GeoIP(fallback_country=False)
    assert not off.active
    event = {"source": {"ip": "8.8.8.8"}}
    off.enrich(event)
    assert event == {"source": {"ip": "8.8.8.8"}}


def test_bad_database_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ConfigError, match="GeoIP city database") as info:
        GeoIP.open(bad)
    assert info.value.source == str(bad)
    with pytest.raises(ConfigError, match="GeoIP ASN database"):
        GeoIP.open(None, tmp_path / "missing.mmdb")


# ---- wiring ---------------------------------------------------------------------------------


def test_enrichers_from_settings(tmp_path: Path, dbs: tuple[Path, Path]) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("indicator,type,source,confidence,description\n45.155.205.233,ip,a,,\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, threat_intel_paths=[feed], geoip_city_db=dbs[0], geoip_asn_db=dbs[1])
    ti, geo = load_enrichers(settings)
    assert isinstance(ti, ThreatIntel) and len(ti) == 1
    assert isinstance(geo, GeoIP) and geo.city is not None and geo.asn is not None
    none = load_enrichers(Settings(data_dir=tmp_path, geoip_fallback_country=False))
    assert none == []
    demo = load_enrichers(Settings(data_dir=tmp_path), demo=True)
    assert isinstance(demo[0], ThreatIntel) and demo[0].ip_hits("45.155.205.233")
    assert isinstance(demo[1], GeoIP) and demo[1].fallback_country


def test_settings_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_THREAT_INTEL_PATHS", json.dumps(["/a.csv", "/b.json"]))
    monkeypatch.setenv("SOC_GEOIP_CITY_DB", "/x/city.mmdb")
    monkeypatch.setenv("SOC_GEOIP_FALLBACK_COUNTRY", "false")
    monkeypatch.setenv("SOC_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.threat_intel_paths == [Path("/a.csv"), Path("/b.json")]
    assert (s.geoip_city_db, s.geoip_asn_db, s.geoip_fallback_country) == (Path("/x/city.mmdb"), None, False)


def test_soc_detect_enriches_matches(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '45.155.205.233 - - [20/Nov/2026:08:15:30 +0700] "GET /?id=1%20union%20select%20password%20from%20users '
        'HTTP/1.1" 200 512 "-" "sqlmap/1.7"\n',
        encoding="utf-8",
    )
    feed = tmp_path / "feed.csv"
    feed.write_text("indicator,type,source,confidence,description\n45.155.205.0/24,cidr,a,,\n", encoding="utf-8")
    base = [sys.executable, "-m", "soc_cli.main", "detect", "--rules", "detections/rules", "--input", str(log)]
    runs = {}
    for name, extra in (("ti", ["--threat-intel", str(feed)]), ("plain", ["--no-geo"])):
        proc = subprocess.run(
            [*base, *extra], capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "COLUMNS": "200"}
        )
        assert proc.returncode == 0, proc.stderr
        runs[name] = [json.loads(line)["event"] for line in proc.stdout.splitlines()]
    assert runs["ti"] and runs["plain"]
    for event in runs["ti"]:
        assert event["soc"]["threat"]["matched"] == 1
        assert event["threat"]["enrichments"][0]["matched"]["field"] == "source.ip"
        assert event["source"]["geo"]["country_iso_code"]  # offline fallback on by default
    for event in runs["plain"]:
        assert "threat" not in event and "geo" not in event["source"]
