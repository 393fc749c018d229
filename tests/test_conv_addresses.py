"""Addresses as the providers treat them (issue 17, item 10).

The coordinator typed `sam.obrien+mentoring@gmail.com`; Sam answers from the Gmail app,
which writes `Sam.OBrien@googlemail.com` (his account's old domain). Tom is
`Tom.Hughes@outlook.com` in the config and answers with a sub-address Outlook.com also
delivers. Both are the same people (RFC 5233 sub-addressing on every domain; Gmail
ignores dots and treats googlemail.com as gmail.com; nobody's mailbox depends on the
case of its local part). `tomhughes@outlook.com` is someone else: Outlook.com keeps the
dots. Replies go through a ticked program on the Maildir default, as a participant's
client writes them (full RFC 5322 messages, Gmail's and Outlook's layouts).
"""

from __future__ import annotations

import email.policy
import mailbox
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import pytest

from agent.config.addresses import mailbox_key, same_mailbox
from agent.config.loading import load_config
from agent.config.model import ConfigError
from tests.local_harness import ProgramCli
from tests.mta import stamp
from tests.test_lifecycle_e2e import at

CONFIG = """\
program:
  name: Northern Lights Mentoring 2027
  timezone: Europe/Copenhagen
  start: 2027-03-01
  end: 2027-05-31
  sender: {name: Northern Lights Mentoring, email: mentoring@nordlys.example.org}
  coordinator: {name: "Dr Rachel O'Neill", email: rachel.oneill@nordlys.example.org}
cadence:
  agreement: {reminder_after: 3d}
  meetings: {every: 2w, duration: 45m}
participants:
  - {id: zoe, name: Zoë Ørsted, email: zoe.orsted@example.dk, role: mentor,
     timezone: Europe/Copenhagen, hours: "09:00-17:00"}
  - {id: sam, name: Sam O'Brien, email: sam.obrien+mentoring@gmail.com, role: mentee,
     timezone: Europe/London, hours: "09:00-17:00"}
  - {id: tom, name: Tom Hughes, email: Tom.Hughes@outlook.com, role: mentor,
     timezone: Europe/Dublin, hours: "09:00-17:00"}
  - {id: priya, name: Priya Raman, email: priya.raman@gmail.com, role: mentee,
     timezone: Asia/Kolkata, hours: "11:00-19:00"}
pairs:
  - {id: zoe-sam, mentor: zoe, mentee: sam}
  - {id: tom-priya, mentor: tom, mentee: priya}
mail: {type: maildir, path: mail}
calendar: {type: ics, path: calendar}
storage: {path: state.json}
security: {authserv_id: mx.example.org}
"""


class Program(ProgramCli):
    def __init__(self, root: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
        self.root = root
        super().__init__(cli, root / "program.yaml")
        (root / "program.yaml").write_text(CONFIG, encoding="utf-8")

    def folder(self, name: str) -> list[EmailMessage]:
        parser = BytesParser(policy=email.policy.default)
        box = self.root / "mail" / name
        return [
            parser.parsebytes(p.read_bytes())  # type: ignore[misc]
            for sub in ("new", "cur")
            for p in sorted((box / sub).iterdir())
        ]

    def sent(self, to: str) -> list[EmailMessage]:
        return [m for m in self.folder("sent") if m["To"].addresses[0].addr_spec == to]

    def agreement(self, to: str) -> EmailMessage:
        (found,) = [m for m in self.sent(to) if "agreement" in m["Subject"]]
        return found

    def deliver(self, raw: str) -> None:
        data = raw.replace("\n", "\r\n").encode("utf-8")
        mailbox.Maildir(self.root / "mail" / "inbox").add(stamp(data))


@pytest.fixture
def program(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> Program:
    program = Program(tmp_path, cli)
    program.tick("2027-02-15T09:00")  # welcomes and agreements
    return program


def gmail_reply(original: EmailMessage, sender: str, text: str, when: str, msg_id: str) -> str:
    """A reply as the Gmail app writes it: multipart/alternative, its quote header."""
    quoted = "\n".join(
        "> " + line if line else ">"
        for line in original.get_body(preferencelist=("plain",)).get_content().splitlines()
    )
    date = format_datetime(at(when))
    return f"""\
MIME-Version: 1.0
Date: {date}
References: {original["Message-ID"]}
In-Reply-To: {original["Message-ID"]}
Message-ID: <{msg_id}@mail.gmail.com>
Subject: Re: {original["Subject"]}
From: {sender}
To: {original["Reply-To"]}
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

{text}

On Mon, 15 Feb 2027 at 08:00, Northern Lights Mentoring <mentoring@nordlys.example.org> wrote:

{quoted}

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: 8bit

<div dir="ltr">{text.replace(chr(10), "<br>")}</div><br><div class="gmail_quote">\
<div dir="ltr" class="gmail_attr">On Mon, 15 Feb 2027 at 08:00, Northern Lights Mentoring \
&lt;<a href="mailto:mentoring@nordlys.example.org">mentoring@nordlys.example.org</a>&gt; \
wrote:<br></div><blockquote class="gmail_quote">(quoted)</blockquote></div>

--000000000000a1b2c3d4e5f60718--
"""


def outlook_reply(original: EmailMessage, sender: str, text: str, when: str, msg_id: str) -> str:
    """A reply as Outlook on the web writes it: its own header block as the quote, a
    Thread-Index instead of References (and here without In-Reply-To, as Outlook on a
    phone sometimes sends it: the signed Reply-To address still names the pair)."""
    body = original.get_body(preferencelist=("plain",)).get_content()
    return f"""\
From: {sender}
To: Northern Lights Mentoring <{original["Reply-To"].addresses[0].addr_spec}>
Subject: RE: {original["Subject"]}
Thread-Topic: {original["Subject"]}
Thread-Index: AQHZxk3p0Yv1cJ8kT0uW2m9b3a1c4g==
Date: {format_datetime(at(when))}
Message-ID: <{msg_id}@AM9PR03MB7890.eurprd03.prod.outlook.com>
Accept-Language: en-GB, en-US
Content-Language: en-GB
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
x-ms-exchange-organization-scl: -1
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

{text}

________________________________
From: Northern Lights Mentoring <mentoring@nordlys.example.org>
Sent: 15 February 2027 08:00
To: Tom Hughes <Tom.Hughes@outlook.com>
Subject: {original["Subject"]}

{body}
"""


def new_email(sender: str, to: str, subject: str, text: str, when: str, msg_id: str) -> str:
    """A new email (no thread, no token) from an iPhone."""
    return f"""\
From: {sender}
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (1.0)
Date: {format_datetime(at(when))}
Subject: {subject}
Message-Id: <{msg_id}@icloud.com>
To: {to}
X-Mailer: iPhone Mail (21D61)

{text}

Sent from my iPhone
"""


def test_sub_addressed_and_dotted_senders_are_the_configured_people(program: Program) -> None:
    sam_agreement = program.agreement("sam.obrien+mentoring@gmail.com")
    program.deliver(
        gmail_reply(
            sam_agreement,
            "Sam O'Brien <Sam.OBrien@googlemail.com>",
            "I agree! Really looking forward to it.\n\nSam",
            "2027-02-15T18:40",
            "CAH7pQ2mXv0kR3sGd9Lq8WZy1Fb4tNc6oUe5aJrKs=1Bw",
        )
    )
    zoe_agreement = program.agreement("zoe.orsted@example.dk")
    program.deliver(
        gmail_reply(
            zoe_agreement,
            "=?UTF-8?Q?Zo=C3=AB_=C3=98rsted?= <ZOE.ORSTED@example.dk>",
            "I agree.\n\nVenlig hilsen,\nZoë",
            "2027-02-15T19:02",
            "CAJ8d0Fq7Lw2Hk5Tn3Xv9Pz4Rb6Ys1Mc0Ue8Wg2Aa7Kd",
        )
    )
    tom_agreement = program.agreement("Tom.Hughes@outlook.com")
    program.deliver(
        outlook_reply(
            tom_agreement,
            "Tom Hughes <tom.hughes+mentoring@outlook.com>",
            "I agree, happy to be part of it.\n\nBest,\nTom",
            "2027-02-16T08:15",
            "AM9PR03MB78901A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7",
        )
    )
    # Priya writes a new email from her phone's alias spelling: no thread, no token
    program.deliver(
        new_email(
            "Priya Raman <PriyaRaman+phone@gmail.com>",
            "mentoring@nordlys.example.org",
            "Mentoring agreement",
            "Hi, I read the agreement and I agree. See you soon!\n\nPriya",
            "2027-02-16T08:30",
            "5F1A2B3C-4D5E-6F70-8192-A3B4C5D6E7F8",
        )
    )
    program.tick("2027-02-16T09:00")

    status = program.status("2027-02-16T09:00")
    assert status["zoe-sam"]["agreed"] == {"mentor": True, "mentee": True}
    # Priya's is hers too, but matched by its From alone it changes nothing by itself
    # (agent.pairs.trust): the coordinator reads it as Priya's, in her pair
    assert status["tom-priya"]["agreed"] == {"mentor": True, "mentee": False}
    assert program.folder("quarantine") == []
    assert len(program.folder("processed")) == 4
    notices = [
        m.get_body(preferencelist=("plain",)).get_content()
        for m in program.sent("rachel.oneill@nordlys.example.org")
    ]
    (priya,) = [n for n in notices if "I read the agreement and I agree" in n]
    assert "tom-priya" in priya and "Priya" in priya
    # mail still goes to the addresses exactly as configured, never to the spelling used
    invitations = [
        m for m in program.sent("sam.obrien+mentoring@gmail.com") if "Invitation" in m["Subject"]
    ]
    assert len(invitations) == 1
    for spelling in (
        "Sam.OBrien@googlemail.com",
        "tom.hughes+mentoring@outlook.com",
        "priyaraman+phone@gmail.com",
    ):
        assert program.sent(spelling) == []
    assert len(program.sent("Tom.Hughes@outlook.com")) >= 3  # welcome, agreement, invitation


def test_a_different_person_is_not_matched(program: Program) -> None:
    tom_agreement = program.agreement("Tom.Hughes@outlook.com")
    # a different Outlook.com mailbox (dots count there), with Tom's token and thread
    program.deliver(
        outlook_reply(
            tom_agreement,
            "Tom Hughes <tomhughes@outlook.com>",
            "I agree.",
            "2027-02-16T08:15",
            "AM9PR03MB7890FFEE0011223344556677889900AABBCC",
        )
    )
    # a different Gmail account: the sub-address is not the same as a longer name
    program.deliver(
        new_email(
            "Sam O'Brien <sam.obrienmentoring@gmail.com>",
            "mentoring@nordlys.example.org",
            "Mentoring agreement",
            "I agree.",
            "2027-02-16T08:20",
            "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9",
        )
    )
    # the same local part at another provider (googlemail.co.uk is not Gmail's domain)
    program.deliver(
        new_email(
            "Sam O'Brien <sam.obrien@gmail.co.uk>",
            "mentoring@nordlys.example.org",
            "Mentoring agreement",
            "I agree.",
            "2027-02-16T08:25",
            "1B2C3D4E-5F60-7182-93A4-B5C6D7E8F90A",
        )
    )
    program.tick("2027-02-16T09:00")
    status = program.status("2027-02-16T09:00")
    assert status["tom-priya"]["agreed"] == {"mentor": False, "mentee": False}
    assert status["zoe-sam"]["agreed"] == {"mentor": False, "mentee": False}
    quarantined = {m["From"].addresses[0].addr_spec for m in program.folder("quarantine")}
    assert quarantined == {
        "tomhughes@outlook.com",
        "sam.obrienmentoring@gmail.com",
        "sam.obrien@gmail.co.uk",
    }


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("sam.obrien+mentoring@gmail.com", "sam.obrien@gmail.com", True),
        ("sam.obrien+mentoring@gmail.com", "Sam.OBrien@googlemail.com", True),
        ("sam.obrien+mentoring@gmail.com", "samobrien@gmail.com", True),
        ("sam.obrien+mentoring@gmail.com", "s.a.m.o.b.r.i.e.n+other@GMAIL.COM", True),
        ("Tom.Hughes@outlook.com", "tom.hughes+mentoring@Outlook.com", True),
        ("Tom.Hughes@outlook.com", "tomhughes@outlook.com", False),  # dots count off Gmail
        ("rachel+mentors@uni.example.ac.uk", "RACHEL@uni.example.ac.uk", True),
        ("sam.obrien@gmail.com", "sam.obrien@gmail.co.uk", False),
        ("sam.obrien@gmail.com", "sam.obrienmentoring@gmail.com", False),
        ("+info@example.org", "info@example.org", False),  # no user before the "+"
        ("zoe@example.dk", "zoe@example.dk.", True),
    ],
)
def test_same_mailbox(a: str, b: str, same: bool) -> None:
    assert same_mailbox(a, b) is same
    assert (mailbox_key(a) == mailbox_key(b)) is same


def test_validate_refuses_two_people_with_one_mailbox(tmp_path: Path) -> None:
    text = CONFIG.replace(
        "email: priya.raman@gmail.com,",
        "email: priya.raman@gmail.com, aliases: [Sam.OBrien@googlemail.com],",
    )
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    (problem,) = [p for p in refused.value.problems if "same mailbox" in p]
    assert "'sam'" in problem and "'priya'" in problem
    assert "sam.obrien+mentoring@gmail.com" in problem and "Sam.OBrien@googlemail.com" in problem


def test_one_person_may_list_their_own_spellings(tmp_path: Path) -> None:
    text = CONFIG.replace(
        "email: sam.obrien+mentoring@gmail.com,",
        "email: sam.obrien+mentoring@gmail.com, aliases: [sam.obrien@gmail.com, samobrien@gmail.com],",
    )
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    sam = load_config(path).participant("sam")
    assert sam.email == "sam.obrien+mentoring@gmail.com"  # kept as typed, for sending
    assert sam.writes_from("SAMOBRIEN+x@googlemail.com")
