"""Heavy provider libraries load only where a provider is configured and opened.

`mentormail --help`, `validate` (which checks every connector's options, so imports the
connector modules) and a tick on the embedded default must stay quick to start: none of
them may import googleapiclient, google.auth, httplib2, exchangelib, msal or requests.
`validate` also leaves out what connectors need only when they run (iCalendar, SMTP and
TLS, Maildir) and the templates and state store (bench/startup.py measures its start).
Each case runs in a fresh interpreter, where sys.modules shows what was really imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MINIMAL

HEAVY = ("googleapiclient", "google.auth", "httplib2", "exchangelib", "msal", "requests")
# imported where a connector or command uses them, never for reading a connector's Options
NOT_FOR_VALIDATE = (
    *HEAVY,
    "icalendar",
    "agent.meetings.ics",
    "connectors.smtp",
    "smtplib",
    "ssl",
    "mailbox",
    "email.policy",
    "selectolax",  # the HTML quote markup (agent.mail_in.html_quotes), loaded with an HTML reply
    "agent.pairs.planner",
    "agent.mail_out.render",
    "jinja2",
    "agent.state.store",
)

PROVIDERS = {
    "google": (
        {"type": "google", "token_file": "google-token.json"},
        {"type": "google", "token_file": "google-token.json", "meet": True},
    ),
    "exchange": (
        {
            "type": "exchange",
            "service_endpoint": "https://mail.example.org/EWS/Exchange.asmx",
            "mailbox": "mentoring@example.org",
            "username": "EXAMPLE\\\\mentoring",
            "password_env": "MENTORMAIL_EWS_PASSWORD",
        },
    )
    * 2,
    "graph": (
        {
            "type": "graph",
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "client_id": "00000000-0000-0000-0000-000000000002",
            "client_secret_env": "MENTORMAIL_GRAPH_SECRET",
            "mailbox": "mentoring@example.org",
        },
    )
    * 2,
}


def imported_after(
    args: list[str], cwd: Path, watched: tuple[str, ...] = HEAVY
) -> tuple[int, list[str]]:
    """Run the CLI with `args` in a new interpreter; its exit code and the `watched` modules
    (and their submodules) it imported."""
    script = (
        "import sys, json\n"
        "from agent.commands.cli import main\n"
        f"try:\n    code = main({args!r})\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        f"heavy = sorted(m for m in sys.modules if any(m == w or m.startswith(w + '.') "
        f"for w in {watched!r}))\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    code, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return code, heavy


def config_with(tmp_path: Path, mail: dict, calendar: dict) -> Path:
    lines = []
    for line in MINIMAL.read_text(encoding="utf-8").splitlines():
        if line.startswith("mail:"):
            line = f"mail: {json.dumps(mail)}"
        elif line.startswith("calendar:"):
            line = f"calendar: {json.dumps(calendar)}"
        lines.append(line)
    path = tmp_path / "program.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_help_imports_no_provider_library(tmp_path: Path) -> None:
    code, heavy = imported_after(["--help"], tmp_path)
    assert code == 0 and heavy == []


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_validate_checks_provider_options_without_loading_the_library(
    tmp_path: Path, provider: str
) -> None:
    mail, calendar = PROVIDERS[provider]
    path = config_with(tmp_path, mail, calendar)
    code, heavy = imported_after(["validate", str(path)], tmp_path)
    assert code == 0 and heavy == []


CALDAV = (
    {"type": "maildir", "path": "mail"},
    {
        "type": "caldav",
        "url": "https://dav.example.org/",
        "username": "mentoring",
        "password_env": "MENTORMAIL_CALDAV_PASSWORD",
    },
)


@pytest.mark.parametrize("provider", ["default", "caldav", *sorted(PROVIDERS)])
def test_validate_reads_the_options_without_the_code_that_runs_a_connector(
    tmp_path: Path, provider: str
) -> None:
    if provider == "default":
        path = tmp_path / "program.yaml"
        path.write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    else:
        path = config_with(tmp_path, *(CALDAV if provider == "caldav" else PROVIDERS[provider]))
    code, loaded = imported_after(["validate", str(path)], tmp_path, NOT_FOR_VALIDATE)
    assert code == 0 and loaded == []


def test_validate_rejects_a_misspelt_provider_option(tmp_path: Path) -> None:
    mail, calendar = PROVIDERS["graph"]
    path = config_with(tmp_path, {**mail, "client_secret": "s3cret"}, calendar)
    code, heavy = imported_after(["validate", str(path)], tmp_path)
    assert code != 0 and heavy == []


def test_a_tick_on_the_embedded_default_loads_no_provider_library(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    code, heavy = imported_after(
        ["tick", "--config", str(path), "--now", "2027-02-15T09:00"], tmp_path
    )
    assert code == 0 and heavy == []


@pytest.mark.parametrize(
    ("provider", "package"),
    [("google", "httplib2"), ("exchange", "exchangelib"), ("graph", "msal"), ("graph", "tzlocal")],
)
def test_a_missing_provider_package_is_named_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, package: str
) -> None:
    """Not in the middle of a tick, on the first call to the server: when it is opened."""
    from agent.config.loading import load_config
    from connectors.base import ConnectorError
    from connectors.registry import open_mailbox

    mail, calendar = PROVIDERS[provider]
    config = load_config(config_with(tmp_path, mail, calendar))
    monkeypatch.setitem(sys.modules, package, None)  # what an uninstalled package looks like
    with pytest.raises(ConnectorError) as raised:
        open_mailbox(config)
    assert str(raised.value) == (
        f"mail type {provider} needs the Python package {package}: "
        f"pip install 'mentormail[{provider}]'"
    )
