"""The ``soc`` command: the embedded SOC, offline detection, rules, users and the distributed roles."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfoNotFoundError

import orjson
import typer
from rich.console import Console

from pipeline.parsers.text import DEFAULT_LOG_TIMEZONE, set_log_timezone
from soc_cli.rules_cmd import register as _register_rule_ops
from soc_core.errors import InputError, SocError

app = typer.Typer(
    name="soc",
    help="Provincial SOC event pipeline: collectors, ECS pipeline, Sigma detection, SOC API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Validate and list Sigma rules.", no_args_is_help=True)
users_app = typer.Typer(help="Manage API users and tokens.", no_args_is_help=True)
demo_app = typer.Typer(help="Synthetic provincial logs with ground truth.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
_register_rule_ops(rules_app)  # soc rules import|imports|enable|disable|hunt (soc_cli/rules_cmd.py)
app.add_typer(users_app, name="users")
bench_app = typer.Typer(help="Benchmarks: figures with ratios to a reference run in the same invocation.")
app.add_typer(demo_app, name="demo")
app.add_typer(bench_app, name="bench")
models_app = typer.Typer(
    help="Anomaly models (scikit-learn IsolationForest) for the detect stage.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
feed_app = typer.Typer(help="National feed: the STIX outbox pushed to the national centres.", no_args_is_help=True)
app.add_typer(feed_app, name="feed")

err = Console(stderr=True, soft_wrap=True)

PlaceholdersOpt = Annotated[
    Path | None,
    typer.Option("--placeholders", help="YAML file of Sigma |expand placeholder values (name: [values])."),
]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Data directory (default ./.soc-data or SOC_DATA_DIR).")]


def _fail(exc: SocError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}", highlight=False)
    return typer.Exit(code)


@app.command()
def up(
    data: DataOpt = None,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Replay bundled sample attack data.")] = False,
    port: Annotated[int | None, typer.Option(help="API/UI port (default 8000 or SOC_API_PORT).")] = None,
    syslog_port: Annotated[int | None, typer.Option(help="Syslog UDP+TCP port (default 5514).")] = None,
) -> None:
    """Run the embedded SOC (collectors, pipeline, API) in one process; Ctrl-C stops it cleanly."""
    from soc_cli.embedded import run_embedded
    from soc_core.settings import load_settings

    try:
        settings = load_settings(data_dir=data, api_port=port, syslog_port=syslog_port)
        run_embedded(settings, demo=demo)
    except SocError as exc:
        raise _fail(exc) from exc


@app.command()
def detect(
    rules: Annotated[list[Path], typer.Option("--rules", help="Rule files or folders (repeatable).")],
    input: Annotated[list[Path], typer.Option("--input", help="Input file or folder, read recursively (repeatable).")],
    input_format: Annotated[
        str, typer.Option("--input-format", help="auto|jsonl|evtx|syslog|auth|nginx|apache|winjson")
    ] = "auto",
    assets: Annotated[Path | None, typer.Option(help="Asset inventory (YAML/CSV) to enrich events.")] = None,
    placeholders: PlaceholdersOpt = None,
    *,
    threat_intel: Annotated[
        list[Path] | None,
        typer.Option("--threat-intel", help="Indicator file, CSV or STIX 2.1 bundle (repeatable)."),
    ] = None,
    geoip_city: Annotated[Path | None, typer.Option(help="MaxMind-format city database (.mmdb).")] = None,
    geoip_asn: Annotated[Path | None, typer.Option(help="MaxMind-format ASN database (.mmdb).")] = None,
    geo: Annotated[
        bool, typer.Option("--geo/--no-geo", help="Offline country of public IPs when no city database is given.")
    ] = True,
    model: Annotated[
        list[Path] | None,
        typer.Option("--model", help="Anomaly model file from `soc models train` (repeatable)."),
    ] = None,
    log_timezone: Annotated[
        str, typer.Option(help="IANA zone of timestamps without one (RFC 3164 syslog, auth.log).")
    ] = DEFAULT_LOG_TIMEZONE,
) -> None:
    """Offline detection: one JSON match per line on stdout, a summary on stderr."""
    from soc_cli.detect import detect_enrichers, run_detect

    try:
        try:
            set_log_timezone(log_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(
                f"unknown time zone {log_timezone!r} (use an IANA name such as Asia/Ho_Chi_Minh or UTC)"
            ) from exc
        enrichers = detect_enrichers(threat_intel or (), geoip_city, geoip_asn, geo_fallback=geo)
        summary = run_detect(
            rules,
            input,
            input_format=input_format,
            assets=assets,
            placeholders=placeholders,
            enrichers=enrichers,
            models=model or (),
            err=err,
        )
    except SocError as exc:
        raise _fail(exc) from exc
    s = summary.as_dict()
    err.print(
        f"[bold]summary[/]: {s['files']} files, {s['events']} events, {s['bad_records']} bad records, "
        f"{s['matches']} matches, rules loaded {s['rules_loaded']} / failed {s['rules_failed']}, "
        f"{s['events_per_second']:.0f} events/s",
        highlight=False,
        soft_wrap=True,
    )
    sys.stderr.write(orjson.dumps({"summary": s}).decode() + "\n")


@rules_app.command("check")
def rules_check(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")],
    placeholders: PlaceholdersOpt = None,
) -> None:
    """Validate rules; print each failure as file:line: reason. Exit 1 if any rule fails."""
    from detections.sigma import check_rules
    from detections.sigma.values import load_placeholders

    for p in paths:
        if not p.exists():
            raise _fail(SocError("no such file or directory", source=str(p)))
    try:
        values = load_placeholders(placeholders) if placeholders else None
    except SocError as exc:
        raise _fail(exc) from exc
    ok, failures = check_rules(paths, values)
    for f in failures:
        where = f.path if f.line is None else f"{f.path}:{f.line}"
        typer.echo(f"{where}: {f.severity}: {f.reason}")
    errors = sum(1 for f in failures if f.severity == "error")
    err.print(f"{ok} rules ok, {errors} failed, {len(failures) - errors} warnings")
    raise typer.Exit(1 if errors else 0)


@rules_app.command("list")
def rules_list(paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")]) -> None:
    """List loadable rules as JSON lines (id, title, level, tags, path)."""
    from detections.sigma import RuleSet

    ruleset = RuleSet.load(paths)
    for r in ruleset.rules:
        typer.echo(orjson.dumps({"id": r.id, "title": r.title, "level": r.level, "tags": r.tags, "path": r.path}))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin|analyst|unit_reporter|feed_client")],
    unit: Annotated[str | None, typer.Option(help="Unit code (required for unit_reporter).")] = None,
    data: DataOpt = None,
    password: Annotated[
        bool, typer.Option("--password", help="Also ask for a login password (web UI sign-in).")
    ] = False,
) -> None:
    """Create a user and print its API token (shown once; only its hash is stored)."""
    from soc_cli.embedded import add_user
    from soc_core.settings import load_settings

    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    try:
        token = add_user(load_settings(data_dir=data), name, role, unit, password=secret)
    except SocError as exc:
        raise _fail(exc) from exc
    typer.echo(token)


@feed_app.command("push")
def feed_push(
    data: DataOpt = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="First put failed rows back to pending (same idempotency keys).")
    ] = False,
) -> None:
    """Send the due outbox rows once and print a JSON summary; exit 1 if a row ended failed."""
    from soc_api.crud.feed import requeue_failed
    from soc_api.feed.push import push_due
    from soc_cli.roles import open_database
    from soc_core.settings import load_settings

    try:
        settings = load_settings(data_dir=data)
        sessions = open_database(settings)
        requeued = 0
        if retry_failed:
            with sessions() as session:
                requeued = requeue_failed(session, actor="cli")
                session.commit()
        summary = push_due(sessions, settings)
    except SocError as exc:
        raise _fail(exc) from exc
    typer.echo(orjson.dumps({**summary.as_dict(), "requeued": requeued}).decode())
    raise typer.Exit(1 if summary.failed else 0)


@feed_app.command("outbox")
def feed_outbox(
    data: DataOpt = None,
    status: Annotated[str | None, typer.Option(help="pending|sent|acknowledged|failed")] = None,
    limit: Annotated[int, typer.Option(help="Rows, newest first.")] = 50,
) -> None:
    """List outbox rows as JSON lines (recipient, status, attempts, acknowledgement)."""
    from soc_api.crud.feed import list_outbox
    from soc_cli.roles import open_database
    from soc_core.settings import load_settings

    sessions = open_database(load_settings(data_dir=data))
    with sessions() as session:
        rows, _total = list_outbox(session, status=status, limit=limit)
        for row, recipient in rows:
            typer.echo(
                orjson.dumps(
                    {
                        "id": row.id,
                        "incident_id": row.incident_id,
                        "recipient": recipient.code,
                        "status": row.status,
                        "attempts": row.attempts,
                        "next_attempt_at": row.next_attempt_at,
                        "idempotency_key": row.idempotency_key,
                        "ack_id": row.ack_id,
                        "acknowledged_at": row.acknowledged_at,
                        "last_error": row.last_error,
                    }
                ).decode()
            )


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Argument(help="Output folder.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    hours: Annotated[float, typer.Option(help="Hours of logs.")] = 2.0,
    scale: Annotated[float, typer.Option(help="Background volume multiplier.")] = 1.0,
) -> None:
    """Write synthetic provincial logs and ground_truth.jsonl into OUT."""
    from soc_demo.generator import generate

    truth = generate(out, seed=seed, hours=hours, scale=scale)
    err.print(f"wrote demo logs to {out} ({len(truth)} ground-truth detections)")


@models_app.command("train")
def models_train(
    input: Annotated[list[Path], typer.Option("--input", help="Log file or folder, read recursively (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (skops format).")],
    *,
    input_format: Annotated[
        str, typer.Option("--input-format", help="auto|jsonl|evtx|syslog|auth|nginx|apache|winjson")
    ] = "auto",
    contamination: Annotated[
        float, typer.Option(help="Share of training windows above the alert threshold (score quantile).")
    ] = 0.01,
    trees: Annotated[int, typer.Option(help="IsolationForest trees.")] = 100,
    window: Annotated[float, typer.Option(help="Tumbling window, seconds.")] = 300.0,
    lateness: Annotated[float, typer.Option(help="Streaming: seconds a window waits for late events.")] = 60.0,
    entity: Annotated[
        list[str] | None, typer.Option("--entity", help="Entity field(s) of every event (default source.ip).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (rule id model:<name>; default: file stem).")] = None,
    seed: Annotated[int, typer.Option(help="random_state of the forest.")] = 0,
) -> None:
    """Train an anomaly model on (mostly benign) logs, read like `soc detect` reads them."""
    from detections.models import WindowConfig
    from soc_cli.models_cmd import input_files, train_files

    try:
        config = WindowConfig(window_seconds=window, lateness_seconds=lateness)
        if entity:
            config.entity_fields = tuple(entity)
    except ValueError as exc:
        raise _fail(SocError(str(exc))) from exc
    try:
        model, summary = train_files(
            input_files(input, input_format),
            out,
            name=name,
            config=config,
            contamination=contamination,
            trees=trees,
            random_state=seed,
        )
    except SocError as exc:
        raise _fail(exc) from exc
    err.print(
        f"[bold]model[/] {out}: {summary.events} events ({summary.bad_records} bad records) in {summary.files} files "
        f"-> {summary.rows} windows; fit {summary.fit_seconds:.2f} s; threshold {model.meta.threshold:.4f}",
        highlight=False,
    )


@models_app.command("info")
def models_info(path: Annotated[Path, typer.Argument(help="Model file.")]) -> None:
    """Print a model file's metadata (loads it the safe way; refuses a hostile file)."""
    from detections.models import FEATURES_VERSION, load_model
    from soc_cli.models_cmd import describe

    try:
        model = load_model(path, check_features=False)
    except SocError as exc:
        raise _fail(exc) from exc
    meta = model.meta.as_dict()
    for label, value in describe(meta):
        typer.echo(f"{label:20} {value}")
    if model.meta.features_version != FEATURES_VERSION:
        err.print(f"[yellow]this SOC computes feature list version {FEATURES_VERSION}: retrain the model[/]")


@bench_app.command("detect")
def bench_detect(
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Rule files or folders (default: project rules).")
    ] = None,
    scale: Annotated[float, typer.Option(help="Demo data volume multiplier.")] = 3.0,
) -> None:
    """Detection stage and `soc detect` events/s vs a naive every-rule-on-every-event loop."""
    from bench import detect as bench_detect_mod

    bench_detect_mod.run(scale=scale, rules=rules or (bench_detect_mod.PROJECT_RULES,)).print()


@bench_app.command("sigma")
def bench_sigma(
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Rule files or folders (default: ../shared/sigma/rules* or detections/rules)."),
    ] = None,
    events: Annotated[int, typer.Option(help="EVTX-derived events for the engine.")] = 100_000,
    ref_events: Annotated[int, typer.Option(help="Events for the SQLite reference and the naive loop.")] = 5_000,
    budget: Annotated[float, typer.Option(help="Seconds at most per engine measurement (half per naive loop).")] = 20.0,
) -> None:
    """Sigma engine vs pySigma SQLite (Zircolite's method) and a naive loop, for 200/1,000/all rules."""
    from bench import sigma as bench_sigma_mod

    if events < 1 or ref_events < 1 or budget <= 0:
        raise _fail(SocError("--events and --ref-events must be >= 1 and --budget > 0"))
    bench_sigma_mod.run(rules=rules, events=events, ref_events=ref_events, budget=budget).print()


@bench_app.command("bus")
def bench_bus(n: Annotated[int, typer.Option(help="Messages.")] = 100_000) -> None:
    """Embedded bus produce/consume rate vs committing every message."""
    from bench import bus as bench_bus_mod

    bench_bus_mod.run(n).print()


@bench_app.command("kafka")
def bench_kafka(
    n: Annotated[int, typer.Option(help="Messages per client and mode.")] = 200_000,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap (default: SOC_KAFKA_BOOTSTRAP, else the test services' env).")
    ] = None,
    raw: Annotated[bool, typer.Option(help="Also measure the raw client libraries without the adapter.")] = True,
) -> None:
    """kafka-python vs confluent-kafka through the bus adapter on a real broker (produce and consume msg/s)."""
    from bench import kafka_clients as bench_kafka_mod

    bench_kafka_mod.run(n=n, bootstrap=bootstrap, raw=raw).print()


@bench_app.command("syslog")
def bench_syslog() -> None:
    """Syslog messages/s accepted without loss (UDP paced, TCP flat out) vs a bare socket."""
    from bench import syslog as bench_syslog_mod

    bench_syslog_mod.run().print()


@bench_app.command("pipeline")
def bench_pipeline(scale: Annotated[float, typer.Option(help="Demo data scale (1.0 ~ the demo day).")] = 1.0) -> None:
    """Distributed pipeline on real Kafka + Elasticsearch (SOC_KAFKA_BOOTSTRAP, SOC_ELASTICSEARCH_URL)."""
    from bench import pipeline as bench_pipeline_mod
    from soc_core.settings import load_settings

    bench_pipeline_mod.run(scale=scale, settings=load_settings()).print()


@bench_app.command("latency")
def bench_latency(
    probes: Annotated[int, typer.Option(help="Probe records (one new alert each) per round.")] = 60,
    load_rate: Annotated[int, typer.Option(help="Background syslog messages/s during the loaded round.")] = 1_000,
) -> None:
    """Syslog record -> alert in the API, p50/p99, under load vs idle; peak memory of `soc up`."""
    from bench import latency as bench_latency_mod

    bench_latency_mod.run(probes=probes, load_rate=load_rate).print()


@bench_app.command("enrich")
def bench_enrich(
    scale: Annotated[float, typer.Option(help="Demo data volume multiplier.")] = 2.0,
    indicators: Annotated[int, typer.Option(help="Synthetic threat-intel indicators.")] = 100_000,
) -> None:
    """Enrich stage events/s: inventory + threat intel + GeoIP fallback vs the inventory alone."""
    from bench import enrich as bench_enrich_mod

    if scale <= 0 or indicators < 1:
        raise _fail(SocError("--scale must be > 0 and --indicators >= 1"))
    bench_enrich_mod.run(scale=scale, indicators=indicators).print()


@bench_app.command("pcap")
def bench_pcap(packets: Annotated[int, typer.Option(help="Packets in the generated capture.")] = 20_000) -> None:
    """Packet captures: packets/s and records/s of the tshark field reader vs pyshark FileCapture(use_ek=True)."""
    from bench import pcap as bench_pcap_mod

    bench_pcap_mod.run(packets=packets).print()


@bench_app.command("all")
def bench_all() -> None:
    """Every benchmark that needs no servers, one after the other (`bench pipeline` needs Kafka + ES)."""
    from bench import bus as bench_bus_mod
    from bench import detect as bench_detect_mod
    from bench import enrich as bench_enrich_mod
    from bench import latency as bench_latency_mod
    from bench import pcap as bench_pcap_mod
    from bench import sigma as bench_sigma_mod
    from bench import syslog as bench_syslog_mod

    bench_detect_mod.run().print()
    bench_enrich_mod.run().print()
    bench_bus_mod.run().print()
    bench_syslog_mod.run().print()
    bench_latency_mod.run().print()
    bench_sigma_mod.run().print()
    bench_pcap_mod.run().print()
    from bench import anomaly as bench_anomaly_mod

    bench_anomaly_mod.run().print()


@bench_app.command("anomaly")
def bench_anomaly(
    rows: Annotated[int, typer.Option(help="Feature rows scored (batched).")] = 100_000,
    single: Annotated[int, typer.Option(help="Rows scored one per call (the reference).")] = 300,
    scale: Annotated[float, typer.Option(help="Demo data volume for feature extraction.")] = 3.0,
) -> None:
    """Anomaly models: batched scoring vs one row per call, fit time, feature extraction events/s."""
    from bench import anomaly as bench_anomaly_mod

    bench_anomaly_mod.run(rows=rows, single=single, scale=scale).print()


@app.command()
def worker(data: DataOpt = None) -> None:
    """Run the pipeline worker role (parse, enrich, detect, index) until interrupted."""
    from soc_cli.roles import run_role
    from soc_core.settings import load_settings

    run_role("worker", load_settings(data_dir=data))


@app.command()
def collect(data: DataOpt = None) -> None:
    """Run the collector role (syslog UDP/TCP and file tailing) until interrupted."""
    from soc_cli.roles import run_role
    from soc_core.settings import load_settings

    run_role("collect", load_settings(data_dir=data))


@app.command()
def api(data: DataOpt = None) -> None:
    """Run the API role (REST API, web UI and alert sink) until interrupted."""
    from soc_cli.roles import run_role
    from soc_core.settings import load_settings

    run_role("api", load_settings(data_dir=data))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        app()
    except SocError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
