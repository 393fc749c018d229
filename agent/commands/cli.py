"""`mentormail`: the coordinator's commands. Thin: parse arguments, call the agent, print.

Exit codes: 0 success, 1 the run had errors (a connector failed), 2 the config,
the state file or the arguments cannot be used (printed as `key.path: message` or one
`mentormail: ...` line, no traceback; the state file is left as it was).

Modules are imported by the command that needs them, so `--help` starts with argparse
alone and `validate` with the config models (bench/startup.py measures both).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from agent.commands.runtime import Runtime
    from agent.config.model import Config

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


def load_config(path: str | Path) -> Config:
    """The config, with pydantic and YAML imported only now: `--help` stays quick."""
    from agent.config.loading import load_config as load

    return load(path)


def _now(value: str | None, cfg: Config | None) -> datetime:
    """--now as ISO 8601; without an offset it is read in the program's (or local) time zone."""
    from datetime import datetime

    zone = cfg.program.timezone if cfg else datetime.now().astimezone().tzinfo
    if value is None:
        return datetime.now(zone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--now: {value!r} is not an ISO 8601 date/time (2027-03-01T09:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _cmd_init(args: argparse.Namespace) -> int:
    from datetime import date

    from agent.commands.init import Refused, next_steps, write_starter
    from agent.commands.invocation import invocation

    try:
        written = write_starter(Path(args.dir), date.today(), force=args.force)
    except Refused as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(next_steps(written, invocation())))
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    """The config's own checks, then what would fail later: a pair that can never meet is
    an error (exit 2, before anyone is welcomed); an odd zone name, or a pair that a
    booking from now on could not give a time, is a warning."""
    from agent.config.preflight import late_booking_warnings, unmeetable_pairs, zone_warnings

    cfg = load_config(args.config)
    for warning in zone_warnings(cfg) + late_booking_warnings(cfg, _now(args.now, cfg)):
        print(f"warning: {warning}", file=sys.stderr)
    unmeetable = unmeetable_pairs(cfg)
    languages = {p.language for p in cfg.participants} | {cfg.program.coordinator.language}
    if cfg.program.templates or ({cfg.program.language, *languages} - {None, "en"}):
        from agent.commands.preview import template_problems  # loads jinja2: only then

        warnings, errors = template_problems(cfg, _now(args.now, cfg))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        unmeetable += errors
    if unmeetable:
        print("\n".join(unmeetable), file=sys.stderr)
        return EXIT_USAGE
    days = (cfg.program.end - cfg.program.start).days
    print(
        f"{args.config}: OK - {cfg.program.name!r}, {len(cfg.participants)} participants, "
        f"{len(cfg.pairs)} pairs, {cfg.program.start} to {cfg.program.end} ({days} days), "
        f"mail: {cfg.mail.type}, calendar: {cfg.calendar.type}"
    )
    return EXIT_OK


def _open(cfg: Config, *, dry_run: bool) -> Runtime:
    from agent.commands.runtime import Runtime  # imported lazily: --help and validate stay fast

    return Runtime.open(cfg, dry_run=dry_run)


def _cmd_tick(args: argparse.Namespace) -> int:
    from agent.commands.tick import run_tick

    cfg = load_config(args.config)
    _config_logs(args, cfg)
    rt = _open(cfg, dry_run=args.dry_run)
    try:
        report = run_tick(rt, _now(args.now, cfg), dry_run=args.dry_run)
    finally:
        rt.close(flush=not args.dry_run)
    print("\n".join(report.lines()))
    return EXIT_ERRORS if report.errors else EXIT_OK


def _log_level(args: argparse.Namespace) -> int:
    import logging

    if args.verbose:
        return logging.DEBUG
    return logging.INFO if args.command == "run" else logging.WARNING


def _config_logs(args: argparse.Namespace, cfg: Config) -> None:
    """The config's `service.log_format`, unless --log-format chose one."""
    if args.log_format is None and cfg.service.log_format != "text":
        from agent.commands.logs import setup

        setup(_log_level(args), cfg.service.log_format)


def _cmd_run(args: argparse.Namespace) -> int:
    from agent.commands.service import serve

    cfg = load_config(args.config)
    _config_logs(args, cfg)
    return serve(cfg, Path(args.config))


def _cmd_status(args: argparse.Namespace) -> int:
    import json

    from agent.reports.status import status, status_lines

    cfg = load_config(args.config)
    from agent.commands.runtime import state_path
    from agent.state.opening import reading

    with reading(state_path(cfg)) as store:
        data = status(cfg, store, _now(args.now, cfg))
    print(json.dumps(data, indent=2, default=str) if args.json else "\n".join(status_lines(data)))
    return EXIT_OK


def _cmd_health(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from agent.commands.runtime import state_path
    from agent.meetings.timefmt import parse_duration
    from agent.reports.status import health
    from agent.state.opening import reading

    cfg = load_config(args.config)
    try:
        max_age = (
            parse_duration(args.max_age)
            if args.max_age
            else max(3 * cfg.service.poll_interval, timedelta(minutes=5))
        )
    except ValueError as exc:
        raise UsageError(f"--max-age: {exc}") from None
    path = state_path(cfg)
    if not path.exists():
        print(f"unhealthy: no state file at {path}; the agent has never run")
        return EXIT_ERRORS
    with reading(path) as store:
        ok, line = health(cfg, store, _now(args.now, cfg), max_age)
    print(line)
    return EXIT_OK if ok else EXIT_ERRORS


def _cmd_preview(args: argparse.Namespace) -> int:
    from agent.commands.preview import export_previews, preview

    cfg = load_config(args.config)
    now = _now(args.now, cfg)
    if args.out:
        if args.template:
            raise UsageError("give a template name or --out DIR (every template), not both")
        for path in export_previews(cfg, Path(args.out), args.pair, args.role, now, args.language):
            print(path)
        return EXIT_OK
    if not args.template:
        raise UsageError("give a template name, or --out DIR for every template")
    print(
        preview(
            cfg, args.template, args.pair, args.role, now, html=args.html, language=args.language
        )
    )
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from agent.commands.check import check_connectors, check_lines

    results = check_connectors(load_config(args.config))
    print("\n".join(check_lines(results)))
    return EXIT_OK if all(ok for _, ok, _ in results) else EXIT_ERRORS


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from agent.commands.inspection import inspect_files, report_lines

    cfg = load_config(args.config) if args.config else None
    now = _now(args.now, cfg) if args.now else None  # None: each email as of its Date
    unreadable = 0
    for report in inspect_files([Path(f) for f in args.files], cfg, now):
        unreadable += "error" in report
        print(json.dumps(report, default=str) if args.json else "\n".join(report_lines(report)))
    return EXIT_ERRORS if unreadable else EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from agent.commands.demo import run_demo

    return run_demo(Path(args.dir), weeks=args.weeks, out=sys.stdout)


def _cmd_match(args: argparse.Namespace) -> int:
    from agent.commands.match import accept, as_json, as_text
    from agent.pairs.matching import propose

    cfg = load_config(args.config)
    found = propose(cfg, _now(args.now, cfg))
    print(as_json(cfg, found) if args.json else as_text(cfg, found))
    if args.accept:
        print(accept(cfg, found, Path(args.accept), dry_run=args.dry_run))
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace) -> int:
    import json
    from datetime import timedelta

    from agent.commands.executor import MAX_ATTEMPTS
    from agent.commands.runtime import state_path
    from agent.pairs.forecast import forecast
    from agent.pairs.program import PairState
    from agent.state.opening import reading

    cfg = load_config(args.config)
    if args.days < 1:
        raise UsageError("--days must be at least 1")
    known = [p.id for p in cfg.pairs]
    if args.pair and args.pair not in known:
        raise UsageError(f"--pair: unknown pair {args.pair!r}; known: {', '.join(known)}")
    now = _now(args.now, cfg)
    until = now + timedelta(days=args.days)
    path = state_path(cfg)
    states = {p.id: PairState(pair_id=p.id) for p in cfg.pairs}
    settled: list[str] = []
    if path.exists():
        with reading(path) as store:
            states = {p.id: store.pair_state(p.id) for p in cfg.pairs}
            settled = [
                a["key"]
                for a in store.actions()
                if a["status"] == "done" or a.get("attempts", 0) >= MAX_ATTEMPTS
            ]
    planned = [
        p
        for p in forecast(cfg, states, settled, now, until)
        if args.pair in (None, p.action.pair_id)
    ]
    if args.json:
        rows = [
            {
                "at": p.at.isoformat(),
                "pair": p.action.pair_id,
                "kind": p.action.kind,
                "to": p.action.role or ("coordinator" if p.action.template else "calendar"),
                "local": p.local.isoformat() if p.local else None,  # on the recipient's clock
            }
            for p in planned
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    zone = cfg.program.timezone
    print(
        f"plan from {now.astimezone(zone):%a %d %b %Y %H:%M} to "
        f"{until.astimezone(zone):%a %d %b %Y %H:%M} ({zone}), if nobody replies:"
    )
    groups: dict[str, list[str]] = {}
    for p in planned:
        who = p.action.role or ("coordinator" if p.action.template else "calendar")
        line = f"  {p.at.astimezone(zone):%a %d %b %H:%M}  {p.action.kind} -> {who}"
        if p.local and p.local.utcoffset() != p.at.astimezone(zone).utcoffset():
            line += f" ({p.local:%a %H:%M} {p.local.tzinfo})"  # on their own clock
        groups.setdefault(p.action.pair_id or "program", []).append(line)
    for group, lines in groups.items():
        print(group)
        print("\n".join(lines))
    if not planned:
        print("  nothing due")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from agent.commands.runtime import state_path
    from agent.reports.report import write_report
    from agent.state.opening import reading

    cfg = load_config(args.config)
    out = Path(args.output) if args.output else None
    with reading(state_path(cfg)) as store:
        try:
            text = write_report(cfg, store, _now(args.now, cfg), args.format, out)
        except OSError as exc:
            raise UsageError(f"cannot write the report to {out}: {exc.strerror}") from None
    print(text.rstrip("\n"))
    return EXIT_OK


def _cmd_forget(args: argparse.Namespace) -> int:
    from agent.commands.privacy import Refused, forget_participant

    cfg = load_config(args.config)
    try:
        result = forget_participant(
            cfg,
            args.participant,
            export_to=Path(args.export) if args.export else None,
            dry_run=args.dry_run,
            force=args.force,
            now=_now(args.now, cfg),
        )
    except Refused as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(result.lines()))
    return EXIT_OK


def _cmd_coordinator(args: argparse.Namespace) -> int:
    """`pair ID VERB` and `inbox list|release|discard` (agent.commands.coordinator)."""
    from agent.commands.coordinator import run

    cfg = load_config(args.config)
    try:
        lines = run(args, cfg, _now(args.now, cfg))
    except (LookupError, ValueError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    print("\n".join(lines))
    return EXIT_OK


def _coordinator_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    def common(p: argparse.ArgumentParser, *, dry_run: bool = True) -> None:
        p.add_argument("--config", required=True, help="the program's YAML config file")
        p.add_argument("--now", help="as of this ISO 8601 time (default: now)")
        if dry_run:
            p.add_argument("--dry-run", action="store_true", help="say what it would do")
        p.set_defaults(func=_cmd_coordinator, dry_run=False)

    p = command(
        "pair",
        "act for a pair as its coordinator: agree (a person, --role, or both), pause "
        "(until --until DATE or until resumed), resume, close (closing emails, the "
        "meetings cancelled)",
    )
    p.add_argument("pair", metavar="ID", help="the pair's id")
    p.add_argument(
        "pair_command",
        metavar="ACTION",
        choices=["agree", "pause", "resume", "close"],
        help="agree, pause, resume or close",
    )
    p.add_argument("--role", choices=["mentor", "mentee"], help="agree: only this side")
    p.add_argument("--until", metavar="DATE", help="pause: the day it resumes (2027-03-19)")
    common(p)

    p = command("inbox", "messages waiting for you: list, release or discard them")
    verbs = p.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    v = verbs.add_parser("list", help="quarantined, held and passed-on messages, your notes")
    common(v, dry_run=False)
    for verb, text in (
        ("release", "apply the message as if it had come from the participant"),
        ("discard", "leave the message unapplied and off the list"),
    ):
        v = verbs.add_parser(verb, help=text, description=text)
        v.add_argument("id", metavar="ID", help="the id `inbox list` shows, or the Message-ID")
        common(v)


def _cmd_templates_export(args: argparse.Namespace) -> int:
    from agent.mail_out.render import Renderer

    dest = Path(args.dir)
    written = Renderer().export(dest, language=args.language)
    for path in written:
        print(path)
    kept = len([p for p in dest.glob("*.j2")]) - len(written)
    if kept:
        print(f"kept {kept} file(s) that were already there", file=sys.stderr)
    print(f"now set `templates: {dest}` under `program:` in the config", file=sys.stderr)
    return 0


def _cmd_store_copy(args: argparse.Namespace) -> int:
    from agent.commands.runtime import state_path
    from agent.config.model import Storage
    from agent.state.opening import dsn_for, kind_for, open_store
    from agent.state.store import StoreError, copy_store

    cfg = load_config(args.config)
    source_path, source_dsn = state_path(cfg), dsn_for(cfg.storage)
    if source_dsn is None and not source_path.exists():
        print(f"no state file at {source_path}: nothing to copy", file=sys.stderr)
        return 2
    target_dsn = None
    if args.type == "postgresql":
        target = Storage(type="postgresql", dsn_env=args.dsn_env or Storage().dsn_env)
        target_dsn, target_path = dsn_for(target), source_path  # (the local files stay)
        if target_dsn == source_dsn:
            print("the state is in that database already", file=sys.stderr)
            return 2
        where = f"the database in ${target.dsn_env}"
        then = {"type": "postgresql", "dsn_env": target.dsn_env}
    elif not args.path:
        print("name the new state file, or give --type postgresql", file=sys.stderr)
        return 2
    else:
        target_path = Path(args.path)
        if target_path.exists():
            print(f"{target_path} exists; copy into a new file", file=sys.stderr)
            return 2
        where, then = str(target_path), {"path": str(target_path)}
    # the source's lock: a running service must be stopped first
    source = open_store(source_path, "postgresql" if source_dsn else None, dsn=source_dsn)
    try:
        kind = args.type or kind_for(target_path)
        into = open_store(target_path, kind, dsn=target_dsn)
        try:
            if target_dsn and (into.pair_ids() or next(into.actions(), None) or into.log()):
                raise StoreError(f"{where} holds a program's state already; copy into an empty one")
            counts = copy_store(source, into)
        except BaseException:
            into.close(flush=False)
            if not target_dsn:
                target_path.unlink(missing_ok=True)
            raise
        into.close()
    finally:
        source.close(flush=False)
    print(", ".join(f"{n:,} {table}" for table, n in counts.items()) + f" copied to {where}")
    setting = ", ".join(f"{k}: {v}" for k, v in then.items())
    print(f"now set `storage: {{{setting}}}` in the config and start the agent again")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentormail",
        description="Runs a virtual mentoring program over plain email and calendars.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="log lines as text or one JSON object each (default: service.log_format)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text)

    p = command("init", "write a starter program into DIR: program.yaml and two CSV files")
    p.add_argument("dir", help="the program's folder (created if missing)")
    p.add_argument("--force", action="store_true", help="replace the three files if there")
    p.set_defaults(func=_cmd_init)

    p = command("validate", "check a config file and print a one-line summary")
    p.add_argument("config", help="the program's YAML config file")
    p.add_argument("--now", help="check bookings as of this ISO 8601 time (default: now)")
    p.set_defaults(func=_cmd_validate, one_shot=True)

    p = command("tick", "one pass: read replies, plan, send, book")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--now", help="pretend it is this ISO 8601 time (for testing and catch-up)")
    p.add_argument("--dry-run", action="store_true", help="print what would happen, change nothing")
    p.set_defaults(func=_cmd_tick)

    p = command("run", "run as a service: a tick every poll interval until SIGTERM/SIGINT")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.set_defaults(func=_cmd_run)

    p = command("status", "where every pair stands")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--now", help="evaluate at this ISO 8601 time")
    p.set_defaults(func=_cmd_status)

    p = command("health", "exit 1 when the last tick without errors is too old (for probes)")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--max-age", help="e.g. 10m (default: 3 poll intervals, at least 5m)")
    p.add_argument("--now", help="evaluate at this ISO 8601 time")
    p.set_defaults(func=_cmd_health)

    p = command("report", "the program at a glance: HTML with charts, or CSV/JSON data")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--format", choices=["html", "csv", "json"], default="html")
    p.add_argument("-o", "--output", help="write to this file (CSV: also <name>-weeks.csv)")
    p.add_argument("--now", help="report as of this ISO 8601 time")
    p.set_defaults(func=_cmd_report)

    p = command("forget", "export and delete everything the program holds about one person")
    p.add_argument("participant", help="the participant's id or email address")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--export", metavar="FILE", help="first write their data to FILE (JSON)")
    p.add_argument("--dry-run", action="store_true", help="print what would go, change nothing")
    p.add_argument(
        "--force",
        action="store_true",
        help="forget them even while the config still has them (the next tick writes again)",
    )
    p.add_argument("--now", help="as of this ISO 8601 time (default: now)")
    p.set_defaults(func=_cmd_forget)

    p = command("plan", "what the agent will do over the coming days, per pair, if nobody replies")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--days", type=int, default=30, help="how far ahead (default 30)")
    p.add_argument("--pair", help="only this pair")
    p.add_argument("--now", help="start at this ISO 8601 time (default: now)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plan)

    p = command("match", "propose pairs for the people without one; --accept writes them")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--accept", metavar="PAIRS.csv", help="append the proposals to this CSV")
    p.add_argument("--dry-run", action="store_true", help="with --accept: write nothing")
    p.add_argument("--now", help="as of this ISO 8601 time (default: now)")
    p.set_defaults(func=_cmd_match)

    p = command("preview", "render emails for a pair, as the recipient gets them")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument(
        "template", nargs="?", help="template name, e.g. welcome, agreement, follow_up, digest"
    )
    p.add_argument("--pair", help="pair id (default: the first pair)")
    p.add_argument("--role", choices=["mentor", "mentee"], default="mentee", help="recipient side")
    p.add_argument("--now", help="render as of this ISO 8601 time")
    p.add_argument("--html", action="store_true", help="print the HTML part instead of the text")
    p.add_argument("--out", metavar="DIR", help="write every template, text and HTML, into DIR")
    p.add_argument(
        "--language", metavar="TAG", help="in this language (de, pt-BR) instead of the recipient's"
    )
    p.set_defaults(func=_cmd_preview)

    p = command("check", "connect to the configured mail and calendar servers; send nothing")
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.set_defaults(func=_cmd_check)

    p = command("inspect", "show what the agent understands in saved emails (.eml files)")
    p.add_argument("files", nargs="+", metavar="FILE.eml", help="raw RFC 5322 messages")
    p.add_argument("--config", help="also show the pair each would be matched to")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--now", help="read as of this ISO 8601 time, as `tick --now` would (default: each Date)"
    )
    p.set_defaults(func=_cmd_inspect)

    p = command("templates", "work with the email templates")
    actions = p.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "export",
        help="copy the default templates into DIR to start overriding them",
        description="Copy the default templates into DIR; existing files are kept.",
    )
    p.add_argument("dir", help="the folder for the program's own templates")
    p.add_argument(
        "--language",
        metavar="TAG",
        help="copy the shipped translation (de, pt, ja...) as <name>.<TAG>.txt.j2",
    )
    p.set_defaults(func=_cmd_templates_export)

    p = command("store", "work with the state file")
    actions = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "copy",
        help="copy the state into a new file or database, e.g. from TinyDB into SQLite",
        description="Copy every record of the program's state into a new state file, of "
        "the kind its name says (.db, .sqlite, .sqlite3: SQLite; else TinyDB JSON) or "
        "--type, or with --type postgresql into an empty PostgreSQL database. Stop the "
        "service first; then point storage at the new state.",
    )
    p.add_argument("--config", required=True, help="the program's YAML config file")
    p.add_argument("path", nargs="?", help="the new state file (must not exist)")
    p.add_argument(
        "--type", choices=["tinydb", "sqlite", "postgresql"], help="the new state's back end"
    )
    p.add_argument(
        "--dsn-env",
        metavar="NAME",
        help="with --type postgresql: the environment variable with the (empty) database's "
        "DSN (default MENTORMAIL_DATABASE_URL)",
    )
    p.set_defaults(func=_cmd_store_copy)

    _coordinator_parsers(command)

    p = command("demo", "create and simulate a demo program in DIR (Maildir + .ics)")
    p.add_argument("dir", help="an empty or new folder")
    p.add_argument("--weeks", type=int, default=12, help="how many weeks to simulate")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "one_shot", False):
        return _one_shot(args, process_ends=argv is None)
    from agent.commands.logs import setup

    setup(_log_level(args), args.log_format or "text")
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except Exception as exc:
        return _known_failure(exc)


def _one_shot(args: argparse.Namespace, *, process_ends: bool) -> int:
    """`validate`: builds the config models once, prints a line and is done (a sixth of
    its start went to garbage collection). It logs nothing, so no logging is set up, and
    the cyclic collector is off meanwhile: its fifty passes over the ~30,000 objects that
    pydantic creates freed a few hundred. When the process ends with it (the console
    script, not a caller passing `argv`), those objects are frozen, so the interpreter's
    exit skips collecting them once more.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if process_ends:
            gc.freeze()
        if collecting:
            gc.enable()


# Errors a user can act on, by the module that defines them. A module that was never
# imported cannot have raised its error, so they are looked up only in sys.modules:
# that keeps `validate` from loading jinja2 and the state store just to catch theirs.
_USAGE = (
    ("agent.config.model", "ConfigError"),
    ("agent.mail_out.render", "TemplateError"),
    ("agent.state.store", "StoreError"),
    ("connectors.base", "FolderUnusable"),
)
_FAILED = (("agent.state.store", "StoreBusy"), ("connectors.base", "ConnectorError"))


def _raised(exc: Exception, known: tuple[tuple[str, str], ...]) -> bool:
    return any(
        isinstance(exc, cls)
        for module, name in known
        if (cls := getattr(sys.modules.get(module), name, None)) is not None
    )


def _known_failure(exc: Exception) -> int:
    """Print a known error without a traceback and return its exit code; re-raise others."""
    problems = getattr(exc, "problems", None)
    if _raised(exc, _USAGE[:1]) and problems is not None:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    if _raised(exc, _FAILED):
        print(f"mentormail: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if isinstance(exc, UsageError) or _raised(exc, _USAGE):
        print(f"mentormail: {exc}", file=sys.stderr)
        return EXIT_USAGE
    raise exc


if __name__ == "__main__":
    sys.exit(main())
