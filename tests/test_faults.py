"""Servers that stop answering: the tick gives up in bounded time, loses nothing, and the
next tick finishes the work exactly once (Dovecot and the SMTP relay behind a proxy
that holds every byte the server sends)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.commands.runtime import Runtime
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from connectors.maildir import message_id_of
from tests.mailservers import MailServers, TcpProxy, program_config

BERLIN = ZoneInfo("Europe/Berlin")
# welcomes and agreements are due; 15:00 in Berlin is 09:00 in New York, inside both
# people's send windows (agent/pairs/civil.py)
OPENING = datetime(2027, 2, 25, 15, 0, tzinfo=BERLIN)


def test_a_server_that_stops_answering_costs_a_tick_not_an_email(
    mail_servers: MailServers, tmp_path: Path
) -> None:
    program = mail_servers.new_user("program")
    imap, smtp = TcpProxy(mail_servers.imap_port), TcpProxy(mail_servers.smtp_port)
    config = program_config(
        mail_servers,
        program,
        tmp_path,
        port=imap.port,
        timeout=1.5,  # generous on a loaded machine; a stall still takes all of it
        smtp={"port": smtp.port, "retry_delays": [0.01]},
    )
    assert mail_servers.smtp is not None
    delivered = mail_servers.smtp.handler.delivered  # (shared with the session's other tests)
    earlier = len(delivered)
    rt = Runtime.open(load_config(config))
    try:
        imap.stall()
        smtp.stall()
        started = time.monotonic()
        report = run_tick(rt, OPENING)
        took = time.monotonic() - started
        assert took < 60, f"a silent server held the tick for {took:.1f} s"
        assert any(e.startswith("mailbox: cannot fetch new mail") for e in report.errors)
        assert any("timed out" in e for e in report.errors), report.errors
        assert report.performed == [] and delivered[earlier:] == []
        assert rt.store.meta("last_tick")["errors"] == report.errors  # written, for status

        imap.resume()
        smtp.resume()
        report = run_tick(rt, OPENING.replace(minute=5))
        assert report.errors == [], report.errors
        sent = Counter(message_id_of(d.data) for d in delivered[earlier:])
        done = {
            a["message_id"]
            for a in rt.store.actions()
            if a.get("message_id") and a["status"] == "done"
        }
        assert set(sent) == done and len(done) >= 4  # welcome and agreement, both people
        assert max(sent.values()) == 1
    finally:
        rt.close()
        imap.close()
        smtp.close()
