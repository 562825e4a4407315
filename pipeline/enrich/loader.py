"""Reading and validating the asset inventory file (YAML or CSV) for stage ``enrich``.

Every problem raises :class:`~soc_core.errors.ConfigError` with the file and line: bad YAML/CSV,
security level outside 1-5, unknown unit, bad IP/CIDR, duplicate unit code, IP/CIDR/hostname
claimed by two assets, and cycles in unit parents.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.enrich.model import Asset, IPNetwork, Unit, norm_host
from soc_core.errors import ConfigError

CSV_COLUMNS = (
    "unit_code", "unit_name", "parent_unit", "system", "asset", "ips", "hostnames", "security_level",
    "owner_name", "owner_email", "owner_phone",
)  # fmt: skip


@dataclass
class _Spec:
    """One unit or asset as read from the file, with the line of each part (for errors)."""

    line: int
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)
    item_lines: dict[str, list[int]] = field(default_factory=dict)

    def line_of(self, key: str, index: int | None = None) -> int:
        if index is not None:
            items = self.item_lines.get(key)
            if items and index < len(items):
                return items[index]
        return self.lines.get(key, self.line)


def read_inventory(path: Path) -> tuple[dict[str, Unit], list[Asset]]:
    """Units and assets of a ``.yaml``/``.yml`` or ``.csv`` inventory file."""
    src = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise ConfigError("asset inventory must be a .yaml, .yml or .csv file", source=src)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read asset inventory: {exc.strerror or exc}", source=src) from None
    except UnicodeDecodeError:
        raise ConfigError("asset inventory is not valid UTF-8", source=src) from None
    units, assets = _read_csv(text, src) if suffix == ".csv" else _read_yaml(text, src)
    return _build(units, assets, src)


def _node_lines(node: yaml.Node) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Line of each key's value in a mapping node, and of each item of list values."""
    lines: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[str(key_node.value)] = value_node.start_mark.line + 1
                if isinstance(value_node, yaml.SequenceNode):
                    items[str(key_node.value)] = [n.start_mark.line + 1 for n in value_node.value]
    return lines, items


def _read_yaml(text: str, src: str) -> tuple[list[_Spec], list[_Spec]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", source=src, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=src) from None
    if data is None:
        return [], []
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise ConfigError("asset inventory must be a mapping with 'units' and 'assets'", source=src, line=1)
    unknown = set(data) - {"units", "assets"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}", source=src, line=1)
    sections: dict[str, list[_Spec]] = {"units": [], "assets": []}
    for key_node, value_node in root.value:
        name = str(key_node.value)
        values = data.get(name)
        if values is None:
            continue
        if not isinstance(values, list) or not isinstance(value_node, yaml.SequenceNode):
            raise ConfigError(f"'{name}' must be a list", source=src, line=value_node.start_mark.line + 1)
        for item, item_node in zip(values, value_node.value, strict=True):
            line = item_node.start_mark.line + 1
            if not isinstance(item, dict):
                raise ConfigError(f"each entry of '{name}' must be a mapping", source=src, line=line)
            lines, items = _node_lines(item_node)
            sections[name].append(_Spec(line, item, lines, items))
    return sections["units"], sections["assets"]


def _split(value: str) -> list[str]:
    return [part for part in value.replace(";", " ").replace(",", " ").split() if part]


def _read_csv(text: str, src: str) -> tuple[list[_Spec], list[_Spec]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames or []
    missing = [c for c in ("unit_code", "unit_name") if c not in header]
    if missing:
        raise ConfigError(f"CSV header lacks column(s): {', '.join(missing)}", source=src, line=1)
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ConfigError(f"unknown CSV column(s): {', '.join(unknown)}", source=src, line=1)
    units: dict[str, _Spec] = {}
    assets: list[_Spec] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ConfigError("row has more fields than the header", source=src, line=line)
        cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cell.values()):
            continue
        code = cell.get("unit_code", "")
        unit = _Spec(line, {"code": code, "name": cell.get("unit_name", ""), "parent": cell.get("parent_unit") or None})
        prev = units.get(code)
        if prev is None:
            units[code] = unit
        elif (cell.get("unit_name") and prev.values["name"] != unit.values["name"]) or (
            unit.values["parent"] and prev.values["parent"] != unit.values["parent"]
        ):
            raise ConfigError(f"unit {code!r} defined differently than on line {prev.line}", source=src, line=line)
        if cell.get("asset"):
            owner = {k: cell[f"owner_{k}"] for k in ("name", "email", "phone") if cell.get(f"owner_{k}")}
            assets.append(
                _Spec(
                    line,
                    {
                        "name": cell["asset"],
                        "system": cell.get("system", ""),
                        "unit": code,
                        "security_level": cell.get("security_level") or None,
                        "owner": owner,
                        "ips": _split(cell.get("ips", "")),
                        "hostnames": _split(cell.get("hostnames", "")),
                    },
                )
            )
    return list(units.values()), assets


def _text_field(spec: _Spec, key: str, src: str, *, required: bool = True) -> str | None:
    value = spec.values.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"missing '{key}'", source=src, line=spec.line)
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigError(f"'{key}' must be a string", source=src, line=spec.line_of(key))
    return str(value)


def _level(spec: _Spec, src: str) -> int:
    value = spec.values.get("security_level")
    level: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and value.strip().isdigit():
        level = int(value)
    if level is None or not 1 <= level <= 5:
        raise ConfigError(
            f"security_level must be an integer 1-5, got {value!r}", source=src, line=spec.line_of("security_level")
        )
    return level


def _str_list(spec: _Spec, key: str, src: str) -> list[str]:
    value = spec.values.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return _split(value)
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' must be a list", source=src, line=spec.line_of(key))
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"'{key}' entries must be non-empty strings", source=src, line=spec.line_of(key, i))
        out.append(item.strip())
    return out


def _build(unit_specs: list[_Spec], asset_specs: list[_Spec], src: str) -> tuple[dict[str, Unit], list[Asset]]:
    units: dict[str, Unit] = {}
    unit_lines: dict[str, int] = {}
    for spec in unit_specs:
        code = _text_field(spec, "code", src)
        assert code is not None
        if code in units:
            raise ConfigError(
                f"duplicate unit code {code!r} (first on line {unit_lines[code]})", source=src, line=spec.line
            )
        units[code] = Unit(
            code=code,
            name=_text_field(spec, "name", src) or "",
            parent=_text_field(spec, "parent", src, required=False),
        )
        unit_lines[code] = spec.line
    for spec in unit_specs:
        unit = units[str(spec.values["code"])]
        if unit.parent is not None and unit.parent not in units:
            raise ConfigError(
                f"unit {unit.code!r} has unknown parent {unit.parent!r}", source=src, line=spec.line_of("parent")
            )
    for code in units:
        seen: list[str] = []
        cur: str | None = code
        while cur is not None:
            if cur in seen:
                cycle = " -> ".join([*seen[seen.index(cur) :], cur])
                raise ConfigError(f"cycle in unit parents: {cycle}", source=src, line=unit_lines[cur])
            seen.append(cur)
            cur = units[cur].parent
    assets: list[Asset] = []
    owners_of_ip: dict[str, str] = {}
    owners_of_net: dict[IPNetwork, str] = {}
    owners_of_host: dict[str, str] = {}
    for spec in asset_specs:
        name = _text_field(spec, "name", src)
        assert name is not None
        unit_code = _text_field(spec, "unit", src)
        assert unit_code is not None
        if unit_code not in units:
            raise ConfigError(
                f"asset {name!r} references unknown unit {unit_code!r}", source=src, line=spec.line_of("unit")
            )
        level = _level(spec, src)
        owner_raw = spec.values.get("owner") or {}
        if not isinstance(owner_raw, dict):
            raise ConfigError("'owner' must be a mapping (name, email, phone)", source=src, line=spec.line_of("owner"))
        owner = {str(k): str(v) for k, v in owner_raw.items() if v is not None}
        ips: list[str] = []
        cidrs: list[IPNetwork] = []
        for i, entry in enumerate(_str_list(spec, "ips", src)):
            line = spec.line_of("ips", i)
            try:
                if "/" in entry:
                    net = ipaddress.ip_network(entry, strict=True)
                    if net.num_addresses > 1:
                        if net in owners_of_net:
                            raise ConfigError(
                                f"network {entry} already belongs to asset {owners_of_net[net]!r}",
                                source=src,
                                line=line,
                            )
                        owners_of_net[net] = name
                        cidrs.append(net)
                        continue
                    addr = str(net.network_address)
                else:
                    addr = str(ipaddress.ip_address(entry))
            except ValueError as exc:
                raise ConfigError(f"bad IP address or CIDR {entry!r}: {exc}", source=src, line=line) from None
            if addr in owners_of_ip:
                raise ConfigError(f"IP {addr} already belongs to asset {owners_of_ip[addr]!r}", source=src, line=line)
            owners_of_ip[addr] = name
            ips.append(addr)
        hostnames: list[str] = []
        for i, entry in enumerate(_str_list(spec, "hostnames", src)):
            host = norm_host(entry)
            if host in owners_of_host:
                raise ConfigError(
                    f"hostname {entry!r} already belongs to asset {owners_of_host[host]!r}",
                    source=src,
                    line=spec.line_of("hostnames", i),
                )
            owners_of_host[host] = name
            hostnames.append(host)
        assets.append(
            Asset(
                name=name,
                system=_text_field(spec, "system", src, required=False) or name,
                unit=unit_code,
                security_level=level,
                owner=owner,
                ips=tuple(ips),
                cidrs=tuple(cidrs),
                hostnames=tuple(hostnames),
            )
        )
    return units, assets
