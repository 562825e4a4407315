"""``soc rules import|imports|enable|disable|hunt``: rule operations from the command line.

Registered on the ``soc rules`` group by :mod:`soc_cli.main`. Changes are written where the
running SOC picks them up: imported sets under ``<data_dir>/rules/<name>/`` (loaded at the next
start), enable/disable in ``<data_dir>/rules-state.yml`` (workers reload it within seconds).
Every change and hunt is also recorded in the audit log, with actor ``cli:<os user>``.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from soc_core.errors import ConfigError, SocError

if TYPE_CHECKING:
    from soc_core.settings import Settings

err = Console(stderr=True, soft_wrap=True)

DataOpt = Annotated[Path | None, typer.Option("--data", help="Data directory (default ./.soc-data or SOC_DATA_DIR).")]


def _fail(exc: SocError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}", highlight=False)
    return typer.Exit(code)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def _audit(settings: Settings, action: str, object_type: str, object_id: str, detail: dict[str, Any]) -> None:
    from soc_api.crud.rules import record_change
    from soc_cli.roles import open_database

    sessions = open_database(settings)
    with sessions() as session:
        record_change(
            session, actor=_actor(), action=action, object_type=object_type, object_id=object_id, detail=detail
        )
        session.commit()


def _when(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--{name}: not an ISO 8601 time: {value!r}") from exc
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rules_import(
    path: Annotated[Path, typer.Argument(help="SigmaHQ checkout folder or release archive (.zip, .tar.gz).")],
    name: Annotated[str | None, typer.Option("--name", help="Rule set name (default: from PATH).")] = None,
    data: DataOpt = None,
) -> None:
    """Import a rule set into <data_dir>/rules/NAME/, validate it and print a summary."""
    from detections.rulesets import import_rules
    from soc_core.settings import load_settings

    try:
        settings = load_settings(data_dir=data)
        settings.ensure_dirs()
        report = import_rules(path, settings.data_dir, name)
    except SocError as exc:
        raise _fail(exc) from exc
    for f in report.failures:
        where = f.path if f.line is None else f"{f.path}:{f.line}"
        typer.echo(f"{where}: {f.severity}: {f.reason}")
    for skipped in report.skipped:
        typer.echo(f"{skipped}: skipped")
    err.print(
        f"imported [bold]{report.name}[/] from {report.source} into {report.dest}: {report.files} files, "
        f"{report.loaded} rules loaded, {len(report.failures)} failed, {len(report.warnings)} warnings, "
        f"{len(report.skipped)} skipped. Restart the SOC (or its workers) to load it.",
        highlight=False,
    )
    try:
        _audit(settings, "rule_set.import", "rule_set", report.name, report.record())
    except SocError as exc:
        err.print(f"[yellow]warning:[/] import not written to the audit log: {exc}", highlight=False)


def rules_imports(data: DataOpt = None) -> None:
    """List recorded imports as JSON lines (source, time, counts)."""
    from detections.rulesets import list_imports
    from soc_core.settings import load_settings

    for record in list_imports(load_settings(data_dir=data).data_dir):
        typer.echo(orjson.dumps(record))


def _set(target: str, enabled: bool, data: Path | None) -> None:
    from detections.rulesets.service import RulesService
    from soc_cli.rules_roles import active_paths, state_file
    from soc_core.settings import load_settings

    try:
        settings = load_settings(data_dir=data)
        settings.ensure_dirs()
        service = RulesService(active_paths(settings), state_file(settings))
        result = service.set_enabled(target, enabled)
    except SocError as exc:
        raise _fail(exc) from exc
    if "id" in result:
        kind, object_id = "rule", str(result["id"])
        err.print(f"rule {result['id']} ({result.get('title')}) {'enabled' if enabled else 'disabled'}")
    else:
        kind, object_id = "rule_folder", str(result["path"])
        err.print(f"folder {result['path']} ({result['rules']} rules) {'enabled' if enabled else 'disabled'}")
    _audit(
        settings,
        f"{kind}.{'enable' if enabled else 'disable'}",
        kind,
        object_id,
        {"enabled": enabled, "path": result.get("path")},
    )


def rules_enable(target: Annotated[str, typer.Argument(help="Rule id or folder.")], data: DataOpt = None) -> None:
    """Enable a rule (by id) or every rule under a folder."""
    _set(target, True, data)


def rules_disable(target: Annotated[str, typer.Argument(help="Rule id or folder.")], data: DataOpt = None) -> None:
    """Disable a rule (by id) or every rule under a folder; running workers pick it up within seconds."""
    _set(target, False, data)


def rules_hunt(
    rule_id: Annotated[str, typer.Argument(help="Rule id.")],
    since: Annotated[str | None, typer.Option(help="Start (ISO 8601, inclusive; UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO 8601, exclusive).")] = None,
    limit: Annotated[int, typer.Option(min=0, max=10_000, help="Events to print at most.")] = 100,
    data: DataOpt = None,
) -> None:
    """Retro-hunt: run a rule over stored events; one JSON event per line, a summary on stderr."""
    from detections.rulesets.service import RulesService
    from soc_cli.roles import open_store
    from soc_cli.rules_roles import active_paths, state_file
    from soc_core.settings import load_settings

    try:
        settings = load_settings(data_dir=data)
        start, end = _when(since, "since"), _when(until, "until")
        service = RulesService(active_paths(settings), state_file(settings), open_store(settings))
        result = service.hunt(rule_id, start, end, limit)
    except KeyError:
        raise _fail(ConfigError(f"rule {rule_id} not found among the active rules")) from None
    except SocError as exc:
        raise _fail(exc) from exc
    for event in result["events"]:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
    summary = {k: v for k, v in result.items() if k != "events"}
    err.print(
        f"hunt {rule_id} [{start or '-'}, {end or '-'}) via {result['backend']}: {result['count']} matches"
        + (f" in {result['scanned']} events" if result.get("scanned") is not None else ""),
        highlight=False,
    )
    sys.stderr.write(orjson.dumps({"summary": summary}).decode() + "\n")
    _audit(settings, "rule.hunt", "rule", rule_id, summary)


def register(rules_app: typer.Typer) -> None:
    rules_app.command("import")(rules_import)
    rules_app.command("imports")(rules_imports)
    rules_app.command("enable")(rules_enable)
    rules_app.command("disable")(rules_disable)
    rules_app.command("hunt")(rules_hunt)
