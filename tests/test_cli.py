"""The commands a coordinator runs: preview, status, demo, run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.mail_out.render import Renderer
from tests.conftest import MINIMAL, ROOT, THREE_PAIRS


def test_preview_renders_text_and_html_for_a_pair(cli, write_config) -> None:
    config = write_config(THREE_PAIRS)
    code, out, err = cli(
        "preview", "--config", config, "agreement", "--pair", "ana-ben", "--role", "mentor"
    )
    assert code == 0, err
    assert out.startswith("Subject: ") and "Ben Becker" in out and "I agree" in out
    code, html, _ = cli(
        "preview", "--config", config, "invitation", "--pair", "chen-dina", "--html"
    )
    assert code == 0 and html.lstrip().lower().startswith("<!doctype html")
    assert "https://meet.jit.si/spring-2027-mentoring-chen-dina" in html


def test_preview_of_an_unknown_template_or_pair_is_a_usage_error(cli, write_config) -> None:
    config = write_config(THREE_PAIRS)
    code, _, err = cli("preview", "--config", config, "welcom")
    assert code == 2 and "unknown template 'welcom'" in err and "welcome" in err
    code, _, err = cli("preview", "--config", config, "welcome", "--pair", "nobody")
    assert code == 2 and "unknown pair 'nobody'" in err


def test_every_template_previews_for_the_minimal_config(cli) -> None:
    names = Renderer().names()
    shipped = Path(__file__).resolve().parents[1] / "templates"
    emails = {f.name.removesuffix(".txt.j2") for f in shipped.glob("*.txt.j2")}
    assert set(names) == {name for name in emails if not name.startswith("_")}
    for name in names:
        code, out, err = cli("preview", "--config", MINIMAL, name, "--now", "2027-02-20T10:00")
        assert code == 0, f"{name}: {err}"
        assert out.startswith("Subject: ")


def test_bad_now_is_a_usage_error(cli, write_config) -> None:
    code, _, err = cli("tick", "--config", write_config(THREE_PAIRS), "--now", "next tuesday")
    assert code == 2 and "--now" in err


def test_demo_runs_and_leaves_mail_and_a_calendar(cli, tmp_path: Path) -> None:
    code, out, err = cli("demo", tmp_path / "demo", "--weeks", "3")
    assert code == 0, err
    assert "agreement -> mentee" in out and "invitation -> mentor" in out
    assert "auto_reply" in out and "quarantined" in out
    assert len(list((tmp_path / "demo" / "mail" / "sent" / "new").iterdir())) > 20
    calendar = (tmp_path / "demo" / "calendar" / "program.ics").read_text()
    # three series, and the meeting the demo's reschedule request moved, as an override
    assert calendar.count("BEGIN:VEVENT") == 4 and calendar.count("RECURRENCE-ID") == 1
    code, _, err = cli("demo", tmp_path / "demo")
    assert code == 2  # never overwrites an existing demo


def serve_until_sigterm(config: Path, state: Path) -> str:
    """`mentormail run` in its own process until its first state write, then SIGTERM;
    its stderr once it exited 0."""
    service = subprocess.Popen(
        [sys.executable, "-m", "agent.commands.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": "."},
    )
    deadline = time.monotonic() + 60
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    service.send_signal(signal.SIGTERM)
    _, err = service.communicate(timeout=20)
    assert service.returncode == 0, err
    return err


def test_run_serves_until_sigterm_and_exits_0(write_config, tmp_path: Path) -> None:
    err = serve_until_sigterm(write_config(THREE_PAIRS), tmp_path / "state.json")
    assert "finishing the current tick" in err
    assert (tmp_path / "state.json").exists()


def test_run_with_json_logs_writes_one_json_object_per_line(write_config, tmp_path: Path) -> None:
    config = write_config(THREE_PAIRS + "service: {poll_interval: 1m, log_format: json}\n")
    err = serve_until_sigterm(config, tmp_path / "state.json")
    records = [json.loads(line) for line in err.splitlines()]  # every line is one object
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    assert any("finishing the current tick" in r["message"] for r in records)


def test_unreadable_token_key_file_is_a_config_error(cli, write_config) -> None:
    config = write_config(THREE_PAIRS + "security: {token_key_file: missing.key}\n")
    code, _, err = cli("tick", "--config", config, "--now", "2027-02-15T09:00")
    assert code == 2 and err.startswith("security.token_key_file: cannot read")
    assert "Traceback" not in err


def test_a_broken_override_template_is_reported_not_raised(cli, write_config, tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "welcome.txt.j2").write_text(
        "{% block subject %}Hi {{ recipient.nmae }}{% endblock %}{% block body %}x{% endblock %}"
    )
    config = write_config(
        THREE_PAIRS.replace("  start: 2027-03-01", "  templates: mine\n  start: 2027-03-01")
    )
    code, _, err = cli("preview", "--config", config, "welcome")
    assert code == 2 and "welcome" in err and "nmae" in err


def test_health_follows_the_last_tick_without_errors(cli, write_config) -> None:
    config = write_config(THREE_PAIRS)
    code, out, _ = cli("health", "--config", config)
    assert code == 1 and "never run" in out
    assert cli("tick", "--config", config, "--now", "2027-02-15T09:00")[0] == 0
    code, out, _ = cli("health", "--config", config, "--now", "2027-02-15T09:04")
    assert code == 0 and out.startswith("healthy: the last tick without errors was 4 min ago")
    code, out, _ = cli("health", "--config", config, "--now", "2027-02-15T10:30")
    assert code == 1 and "1 h 30 min ago" in out  # default: 3 poll intervals, at least 5 min
    code, _, _ = cli("health", "--config", config, "--now", "2027-02-15T10:30", "--max-age", "2h")
    assert code == 0
    code, _, err = cli("health", "--config", config, "--max-age", "soon")
    assert code == 2 and "--max-age" in err


def test_templates_export_copies_the_defaults_and_keeps_edited_files(cli, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "welcome.txt.j2").write_text("{# my own #}", encoding="utf-8")
    code, out, err = cli("templates", "export", str(dest))
    assert code == 0, err
    written = {Path(line).name for line in out.splitlines()}
    assert "invitation.txt.j2" in written and "welcome.txt.j2" not in written
    assert (dest / "welcome.txt.j2").read_text(encoding="utf-8") == "{# my own #}"
    assert "kept 1 file" in err and f"templates: {dest}" in err


def test_preview_out_writes_every_template_as_text_and_html(
    cli, write_config, tmp_path: Path
) -> None:
    config = write_config(THREE_PAIRS)
    code, out, err = cli(
        "preview", "--config", config, "--pair", "chen-dina", "--out", tmp_path / "previews"
    )
    assert code == 0, err
    written = {Path(line).name for line in out.splitlines()}
    names = {p.name.removesuffix(".txt.j2") for p in (ROOT / "templates").glob("[!_]*.txt.j2")}
    assert written == {f"{n}.{ext}" for n in names for ext in ("txt", "html")}
    welcome = (tmp_path / "previews" / "welcome.txt").read_text(encoding="utf-8")
    assert welcome.startswith("Subject: ") and "Dina" in welcome
    html = (tmp_path / "previews" / "invitation.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    code, _, err = cli("preview", "--config", config, "welcome", "--out", tmp_path / "x")
    assert code == 2 and "not both" in err


def test_store_copy_moves_a_program_to_sqlite_and_status_reads_the_same(
    cli, write_config, tmp_path: Path
) -> None:
    config = write_config(THREE_PAIRS)
    assert cli("tick", "--config", config, "--now", "2027-02-16T09:00")[0] == 0
    _, before, _ = cli("status", "--config", config, "--now", "2027-02-16T10:00")
    code, out, err = cli("store", "copy", "--config", config, str(tmp_path / "state.db"))
    assert code == 0, err
    assert "copied to" in out and "storage: {path:" in out
    sqlite_config = write_config(
        THREE_PAIRS.replace("storage: {path: state.json}", "storage: {path: state.db}"), "db.yaml"
    )
    _, after, _ = cli("status", "--config", sqlite_config, "--now", "2027-02-16T10:00")
    assert after == before and "ana-ben" in after
    code, _, err = cli("store", "copy", "--config", config, str(tmp_path / "state.db"))
    assert code == 2 and "exists" in err
    mixed = write_config(
        THREE_PAIRS.replace(
            "storage: {path: state.json}", "storage: {path: state.db, type: tinydb}"
        ),
        "mixed.yaml",
    )
    code, _, err = cli("tick", "--config", mixed, "--now", "2027-02-17T09:00")
    assert code == 2 and "is a sqlite state file" in err and "store copy" in err
