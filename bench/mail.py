"""IMAP ingest and SMTP sending: mentormail's connectors vs. the raw libraries, same run.

Starts Dovecot and the aiosmtpd relay on 127.0.0.1 (tests/mailservers.py; the SMTP server
runs as its own process so it does not share the GIL with the client), then for N
messages, best of --rounds, alternating the two sides:

- ingest: `ImapMailbox.fetch(None)` + `mark_handled` for every message, against
  imapclient doing the same protocol work by hand: login, SELECT, UID SEARCH SINCE,
  UID FETCH BODY.PEEK[] in batches of 200, and one UID MOVE of every UID.
- send: `SmtpSender.send` for every message, against `smtplib.SMTP.sendmail` on one
  logged-in connection, both serializing the same EmailMessage objects. By default the
  relay accepts and discards (`--deliver`: it delivers each message into Dovecot over
  LMTP, which then dominates both sides).

Run from the repo root: `.venv/bin/python bench/mail.py [--n 2000] [--rounds 3] [--deliver]`.
Needs Dovecot (`.ci/run` installs it).
"""

from __future__ import annotations

import argparse
import email.policy
import shutil
import smtplib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402

from connectors.imap import FETCH_BATCH, ImapMailbox  # noqa: E402
from connectors.smtp import Credentials, SmtpSender  # noqa: E402
from tests.mailservers import (  # noqa: E402
    HOST,
    MailServers,
    MailUser,
    open_imap_mailbox,
    program_config,
)

SINCE = date(2024, 1, 1)


def reply(i: int) -> bytes:
    """A typical participant reply: headers, a short answer, a quoted original (~2 KB)."""
    quoted = "".join(
        f"> line {n} of the program's agreement email, quoted back\r\n" for n in range(30)
    )
    return (
        f"From: Ana Alvarez <ana@example.test>\r\nTo: program+ana-ben.m0123456789@example.test\r\n"
        f"Subject: Re: Your mentoring agreement\r\nMessage-ID: <reply-{i}@example.test>\r\n"
        f"In-Reply-To: <mm.{i:032x}@example.test>\r\nDate: Tue, 02 Mar 2027 10:00:00 +0100\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"I agree! Looking forward to it.\r\n\r\nAna\r\n\r\nOn Mon, the program wrote:\r\n{quoted}"
    ).encode()


def fill(servers: MailServers, n: int) -> MailUser:
    user = servers.new_user("bench")
    client = servers.imap(user)
    for start in range(0, n, 500):
        client.multiappend("INBOX", [reply(i) for i in range(start, min(n, start + 500))])
    client.create_folder("mentormail.processed")
    client.logout()
    return user


def ingest_ours(servers: MailServers, user: MailUser, workdir: Path) -> Callable[[], int]:
    """The timed part: fetch + mark_handled (opening the config is not timed)."""
    box: ImapMailbox = open_imap_mailbox(
        program_config(servers, user, Path(tempfile.mkdtemp(dir=workdir)), since=SINCE.isoformat())
    )

    def run() -> int:
        try:
            messages, _ = box.fetch(None)
            for m in messages:
                box.mark_handled(m.ref, "processed")
        finally:
            box.close()
        return len(messages)

    return run


def ingest_raw(servers: MailServers, user: MailUser, workdir: Path) -> Callable[[], int]:
    def run() -> int:
        client = IMAPClient(HOST, port=servers.imap_port, ssl=False, timeout=30)
        client.login(user.login, user.password)
        client.select_folder("INBOX")
        uids = sorted(client.search(["SINCE", SINCE, "NOT", "DELETED"]))
        bodies = []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            response = client.fetch(batch, ["BODY.PEEK[]"])
            bodies += [response[uid][b"BODY[]"] for uid in batch]
        client.move(uids, "mentormail.processed")
        client.logout()
        return len(bodies)

    return run


def outgoing(sender: MailUser, to: MailUser, n: int) -> list[EmailMessage]:
    messages = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"Mentoring Program <{sender.login}>"
        msg["To"] = f"Ana Alvarez <{to.login}>"
        msg["Subject"] = f"Your mentoring agreement ({i})"
        msg["Message-ID"] = f"<mm.{i:032x}@example.test>"
        msg.set_content('Hello Ana,\n\nplease reply "I agree" to this email.\n' * 10)
        msg.add_alternative(
            "<p>Hello Ana,</p><p>please reply <b>I agree</b>.</p>" * 10, subtype="html"
        )
        messages.append(msg)
    return messages


def send_ours(
    servers: MailServers, user: MailUser, messages: list[EmailMessage], workdir: Path
) -> Callable[[], int]:
    secret = Path(tempfile.mkstemp(dir=workdir)[1])
    secret.write_text(user.password)
    credentials = Credentials(user.login, password_file=secret)

    def run() -> int:
        sender = SmtpSender(HOST, servers.smtp_port, security="none", credentials=credentials)
        try:
            for msg in messages:
                sender.send(msg)
        finally:
            sender.close()
        return len(messages)

    return run


def send_raw(
    servers: MailServers, user: MailUser, messages: list[EmailMessage], workdir: Path
) -> Callable[[], int]:
    def run() -> int:
        with smtplib.SMTP(HOST, servers.smtp_port, timeout=30) as conn:
            conn.login(user.login, user.password)
            for msg in messages:
                to = msg["To"].addresses[0].addr_spec
                conn.sendmail(user.login, [to], msg.as_bytes(policy=email.policy.SMTP))
        return len(messages)

    return run


def timed(run: Callable[[], int], n: int) -> float:
    t0 = time.perf_counter()
    count = run()
    seconds = time.perf_counter() - t0
    assert count == n, f"handled {count} of {n}"
    return n / seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="messages per operation (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="best of this many rounds (default 3)")
    p.add_argument("--deliver", action="store_true", help="the relay delivers into Dovecot (LMTP)")
    args = p.parse_args(argv)
    n = args.n
    servers = MailServers(smtp_in_process=False, deliver=args.deliver).start()
    workdir = Path(tempfile.mkdtemp(prefix="mentormail-bench-"))
    best: dict[tuple[str, str], float] = {}
    try:
        program, ana = servers.new_user("program"), servers.new_user("ana")
        messages = outgoing(program, ana, n)
        for _ in range(args.rounds):
            for side, ingest, send in (
                ("ours", ingest_ours, send_ours),
                ("raw", ingest_raw, send_raw),
            ):
                user = fill(servers, n)
                rate = timed(ingest(servers, user, workdir), n)
                best[("ingest", side)] = max(best.get(("ingest", side), 0.0), rate)
                rate = timed(send(servers, program, messages, workdir), n)
                best[("send", side)] = max(best.get(("send", side), 0.0), rate)
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    relay = "delivering into Dovecot over LMTP" if args.deliver else "accepting and discarding"
    print(f"N = {n} messages, best of {args.rounds} rounds; SMTP relay {relay}")
    print(f"{'operation':<28}{'ours msgs/s':>12}{'raw msgs/s':>12}{'ratio':>8}  target")
    rows = (
        ("ingest (fetch + move)", "ingest", 0.5),
        ("send (SMTP, one connection)", "send", 0.8),
    )
    for label, key, target in rows:
        ours, raw = best[(key, "ours")], best[(key, "raw")]
        ratio = ours / raw
        verdict = "ok" if ratio >= target else "BELOW"
        print(f"{label:<28}{ours:>12.0f}{raw:>12.0f}{ratio:>8.2f}  >= {target} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
