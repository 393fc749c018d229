"""The whole loop over real servers: the agent sends through SMTP, people read their mail
over IMAP and answer through SMTP, the agent reads the answers over IMAP.

`mentormail tick` runs in-process through the CLI with `--now` in February 2027; the
servers' clock is today's, so the default `since` (13 Feb 2027) lies in the future and the
first fetch returns nothing: later mail is read because it is newer by UID, not by date.
"""

from __future__ import annotations

import email.policy
import re
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from tests.conftest import THREE_PAIRS
from tests.local_harness import ProgramCli
from tests.mailservers import MailServers, MailUser, SmtpScript, program_config

PEOPLE = {
    "ana": "ana@example.org",
    "ben": "Ben.Becker@example.net",
    "chen": "chen@example.com",
    "dina": "dina@example.co.uk",
    "eli": "eli@example.es",
    "fay": "fay@example.ke",
}


def only(messages: list[EmailMessage], subject_part: str) -> EmailMessage:
    found = [m for m in messages if subject_part.lower() in str(m["Subject"]).lower()]
    assert len(found) == 1, [m["Subject"] for m in messages]
    return found[0]


def reply(original: EmailMessage, sender: MailUser, name: str, text: str) -> EmailMessage:
    answer = EmailMessage()
    answer["From"] = f"{name} <{sender.login}>"
    answer["To"] = original["Reply-To"]
    answer["Subject"] = "Re: " + str(original["Subject"])
    answer["Message-ID"] = make_msgid(domain="example.test")
    answer["In-Reply-To"] = original["Message-ID"]
    answer["References"] = original["Message-ID"]
    body = original.get_body(preferencelist=("plain",)).get_content()
    quoted = "\n".join("> " + line for line in body.splitlines())
    answer.set_content(f"{text}\n\nOn Mon, the program wrote:\n{quoted}\n")
    return answer


def test_agent_sends_reads_replies_and_never_sends_twice(
    mail_servers: MailServers, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    program = mail_servers.new_user("program")
    people = {pid: mail_servers.new_user(pid) for pid in PEOPLE}
    text = THREE_PAIRS
    for pid, address in PEOPLE.items():
        text = text.replace(f"email: {address}", f"email: {people[pid].login}")
    config = program_config(mail_servers, program, tmp_path, text=text)

    driven = ProgramCli(cli, config)
    tick, status = driven.tick, driven.status

    # --- onboarding goes out through SMTP --------------------------------------------------
    out = tick("2027-02-15T09:00")
    assert "ana-ben: welcome -> mentor" in out
    ana_mail = mail_servers.messages(people["ana"])
    assert len(ana_mail) == 2  # welcome and agreement
    agreement = only(ana_mail, "agreement")
    assert re.match(r"program-\d+-\w+\+ana-ben\.m", agreement["Reply-To"].addresses[0].addr_spec)
    assert len(mail_servers.messages(program, "Sent")) == 13  # 12 + the coordinator's digest
    assert len(mail_servers.messages(mail_servers.sink)) >= 1  # coordinator@example.org

    # --- both sides of ana-ben answer "I agree" through SMTP --------------------------------
    ben_agreement = only(mail_servers.messages(people["ben"]), "agreement")
    for original, who, name, words in (
        (agreement, people["ana"], "Ana Alvarez", "I agree! Looking forward to it.\n\nAna"),
        (
            ben_agreement,
            people["ben"],
            "Ben Becker",
            "I agree.\n\nMy goals:\n1. Lead a small project",
        ),
    ):
        data = reply(original, who, name, words).as_bytes(policy=email.policy.SMTP)
        mail_servers.send(who, [str(original["Reply-To"].addresses[0].addr_spec)], data)
    assert len(mail_servers.wait_for(program, ["ALL"], count=2)) == 2

    out = tick("2027-02-16T09:00")
    assert out.count("received: ana-ben/") == 2, out
    pair = status("2027-02-16T09:00")["ana-ben"]
    assert pair["agreed"] == {"mentor": True, "mentee": True}
    assert any(e["kind"] == "agree" for e in pair["progress"])
    assert mail_servers.messages(program) == []  # the replies left the inbox...
    processed = mail_servers.messages(program, "mentormail.processed")
    assert sorted(str(m["Subject"]) for m in processed) == sorted(
        "Re: " + str(m["Subject"]) for m in (agreement, ben_agreement)
    )

    # --- more ticks: nothing is sent twice, nothing is read twice --------------------------
    for now in ("2027-02-16T09:00", "2027-02-16T10:00"):
        assert "received:" not in tick(now)
    sent = mail_servers.messages(program, "Sent")
    assert max(Counter(str(m["Message-ID"]) for m in sent).values()) == 1
    for user in [*people.values(), mail_servers.sink]:
        # the sink is shared by the whole session: count only this program's mail
        ours = [m for m in mail_servers.messages(user) if program.login in str(m["From"])]
        counts = Counter(str(m["Message-ID"]) for m in ours)
        assert not counts or max(counts.values()) == 1, (user.login, counts)
    ana_mail = mail_servers.messages(people["ana"])
    calendars = [p for m in ana_mail for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert calendars and "METHOD:REQUEST" in calendars[0].get_content()  # the invitation (iMIP)


def _program(
    mail_servers: MailServers, tmp_path: Path
) -> tuple[Path, MailUser, dict[str, MailUser]]:
    program = mail_servers.new_user("program")
    people = {pid: mail_servers.new_user(pid) for pid in PEOPLE}
    text = THREE_PAIRS
    for pid, address in PEOPLE.items():
        text = text.replace(f"email: {address}", f"email: {people[pid].login}")
    return program_config(mail_servers, program, tmp_path, text=text), program, people


def test_a_recipient_refused_with_550_is_held_and_reported_once(
    mail_servers: MailServers,
    smtp_script: SmtpScript,
    tmp_path: Path,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    config, _, people = _program(mail_servers, tmp_path)
    smtp_script.refuse(people["ben"].login, "550 5.1.1 <ben>: Recipient address rejected")
    code, out, _ = cli("tick", "--config", config, "--now", "2027-02-15T09:00")
    assert code == 1 and "refused" in out  # the run reports the refusal ...
    assert len(mail_servers.messages(people["ana"])) == 2  # ... and the others got their mail
    assert mail_servers.messages(people["ben"]) == []
    notices = [
        m
        for m in mail_servers.messages(mail_servers.sink)
        if "cannot be delivered" in str(m["Subject"])
    ]
    assert (
        len(notices) == 1
        and "Recipient address rejected"
        in notices[0].get_body(preferencelist=("plain",)).get_content()
    )

    # a permanent refusal is not retried: later ticks send Ben nothing and report nothing new
    for now in ("2027-02-15T10:00", "2027-02-18T09:00"):
        code, out, _ = cli("tick", "--config", config, "--now", now)
        assert code == 0 and "refused" not in out
    assert mail_servers.messages(people["ben"]) == []
    reminders = [m for m in mail_servers.messages(people["ana"]) if "eminder" in str(m["Subject"])]
    assert len(reminders) == 1


def test_check_reports_what_works_without_sending(
    mail_servers: MailServers, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    config, program, _ = _program(mail_servers, tmp_path)
    code, out, _ = cli("check", "--config", config)
    assert code == 0, out
    assert "ok   mail (imap): imap login" in out and "FAIL" not in out
    assert mail_servers.messages(program, "Sent") == []

    broken = tmp_path / "wrong.yaml"
    broken.write_text(
        config.read_text().replace(program.login, "nobody@example.test", 1), encoding="utf-8"
    )
    code, out, _ = cli("check", "--config", broken)
    assert code == 1 and "FAIL" in out
