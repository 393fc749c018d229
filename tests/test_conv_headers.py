"""Headers exactly as rendered (issue 17, item 11), and what people are called.

Every email template is rendered for participants with non-ASCII, long and honorific
names, composed the way the executor composes it and written the way the connectors
write it (Maildir and SMTP: `policy.SMTP`; SMTP to an internationalised address:
`policy.SMTPUTF8`; Graph and EWS: the message's own policy with CRLF). Each message is
then read back by two decoders, as different mail clients would read it:

- the stdlib parser with `policy.default`;
- the classic one: `policy.compat32`, RFC 5322 unfolding, `getaddresses` for an
  address field and `decode_header` + `make_header` for the text.

Both must give exactly the rendered subject and display names: no space lost between
encoded words ("ZoëØrsted"), none gained at a fold ("Ngozi  Okonkwo"), no subject
that starts with a space.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config.loading import load_config
from agent.config.model import Config
from agent.config.names import greeting_name
from agent.mail_out.context import coordinator_person, pair_people
from agent.mail_out.headers import fold_addresses, fold_unstructured
from agent.mail_out.outbound import compose
from agent.mail_out.render import RenderedEmail, Renderer
from tests.template_contexts import COORDINATOR_TEMPLATES, context_for

NOW = datetime(2027, 3, 23, 14, 5, tzinfo=ZoneInfo("UTC"))
SIXTY = "María José García-Fernández de la Peña y Ñúñez-Olmedo Aranda"
assert len(SIXTY) == 60

PROGRAM_YAML = f"""\
program:
  name: Northern Lights Mentoring 2027
  timezone: Europe/Copenhagen
  start: 2027-03-01
  end: 2027-05-31
  sender: {{name: "Northern Lights Mentoring (København)", email: mentoring@nordlys.example.org}}
  coordinator: {{name: "Dr Rachel O'Neill", email: rachel.oneill@nordlys.example.org}}
participants:
  - {{id: zoe, name: Zoë Ørsted, email: zoe.orsted@example.dk, role: mentor,
      timezone: Europe/Copenhagen}}
  - {{id: wang, name: 王小明, email: wang.xiaoming@example.cn, role: mentee,
      timezone: Asia/Shanghai}}
  - {{id: rachel, name: "Dr Rachel O'Neill", email: r.oneill@example.ie, role: mentor,
      timezone: Europe/Dublin}}
  - {{id: maria, name: "{SIXTY}", email: mariajose@example.co, role: mentee,
      timezone: America/Bogota}}
  - {{id: ngozi, name: Ngozi Okonkwo-Adébáyọ̀, email: ngozi@example.com.gh, role: mentor,
      timezone: Africa/Accra}}
  - {{id: sam, name: Samuel O'Brien, short_name: Sam, email: sam.obrien+mentoring@gmail.com,
      role: mentee, timezone: Europe/London}}
  - {{id: pieter, name: van der Berg, email: berg@example.nl, role: mentor,
      timezone: Europe/Amsterdam}}
  - {{id: li, name: 李小龙, email: li@example.hk, role: mentee, timezone: Asia/Hong_Kong}}
pairs:
  - {{id: zoe-wang, mentor: zoe, mentee: wang}}
  - {{id: rachel-maria, mentor: rachel, mentee: maria}}
  - {{id: ngozi-sam, mentor: ngozi, mentee: sam}}
  - {{id: berg-li, mentor: pieter, mentee: li}}
"""

# How the connectors write a message (see the module docstring).
WRITERS: dict[str, Policy | None] = {
    "maildir/smtp": policy.SMTP,
    "smtputf8": policy.SMTPUTF8,
    "graph/ews": None,  # message.policy.clone(linesep="\r\n")
}


def written(message: EmailMessage, writer: str) -> bytes:
    """`message` as the connector `writer` writes it."""
    chosen = WRITERS[writer] or message.policy.clone(linesep="\r\n")
    return message.as_bytes(policy=chosen)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("headers") / "program.yaml"
    path.write_text(PROGRAM_YAML, encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _unfold(value: str) -> str:
    """RFC 5322 section 2.2.3: unfolding removes each CRLF that precedes white space."""
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def read_default(raw: bytes) -> dict[str, Any]:
    message = message_from_bytes(raw, policy=policy.default)
    return {
        "subject": str(message["Subject"]),
        **{
            field: [(a.display_name, a.addr_spec) for a in message[field].addresses]
            for field in ("From", "To", "Reply-To", "Cc")
            if message[field] is not None
        },
    }


def read_classic(raw: bytes) -> dict[str, Any]:
    message = message_from_bytes(raw, policy=policy.compat32)

    def text(value: str) -> str:
        return str(make_header(decode_header(value)))

    return {
        "subject": text(_unfold(str(message["Subject"]))),
        **{
            field: [(text(n), a) for n, a in getaddresses([_unfold(str(message[field]))])]
            for field in ("From", "To", "Reply-To", "Cc")
            if message[field] is not None
        },
    }


def _people_context(cfg: Config, name: str, pair_id: str, role: str) -> dict[str, Any]:
    """The sample context of `name` with the people of `pair_id` as the agent sees them."""
    context = context_for(name)
    pair = cfg.pair(pair_id)
    people = pair_people(cfg, pair, NOW)
    program = context["program"]
    program["name"] = cfg.program.name
    program["sender"] = {"name": cfg.program.sender.name, "email": cfg.program.sender.email}
    context.update(mentor=people["mentor"], mentee=people["mentee"])
    if name in COORDINATOR_TEMPLATES:
        context["recipient"] = coordinator_person(cfg)
    else:
        other = "mentee" if role == "mentor" else "mentor"
        context.update(recipient=people[role], other=people[other])
    return context


def _emails(cfg: Config, renderer: Renderer) -> list[tuple[str, str, RenderedEmail, dict]]:
    found = []
    for name in renderer.names():
        try:
            context_for(name)
        except KeyError:
            continue  # a template this suite has no sample context for (yet)
        for pair in cfg.pairs:
            for role in ("mentor", "mentee"):
                context = _people_context(cfg, name, pair.id, role)
                found.append((name, f"{pair.id}/{role}", renderer.render(name, context), context))
    return found


def _compose(cfg: Config, rendered: RenderedEmail, recipient: dict[str, Any]) -> EmailMessage:
    sender = cfg.program.sender
    return compose(
        rendered=rendered,
        sender=(sender.name, sender.email),
        to=(recipient["name"], recipient["email"]),
        reply_to="mentoring+zoe-wang.mentor.k3j9@nordlys.example.org",
        msg_id="mm.1.abc@nordlys.example.org",
        date=NOW,
        pair_id="zoe-wang",
    )


def test_every_template_decodes_to_exactly_what_was_rendered(
    cfg: Config, renderer: Renderer
) -> None:
    emails = _emails(cfg, renderer)
    assert len(emails) >= 8 * 15  # every participant, at least 15 templates
    subjects = {r.subject for _, _, r, _ in emails}
    assert "Welcome to Northern Lights Mentoring 2027: meet your mentor, Zoë Ørsted" in subjects
    assert f'Your mentoring agreement with {SIXTY}: please reply "I agree"' in subjects
    problems = []
    for name, who, rendered, context in emails:
        message = _compose(cfg, rendered, context["recipient"])
        sender = cfg.program.sender
        expected = {
            "subject": rendered.subject,
            "From": [(sender.name, sender.email)],
            "To": [(context["recipient"]["name"], context["recipient"]["email"])],
            "Reply-To": [(sender.name, "mentoring+zoe-wang.mentor.k3j9@nordlys.example.org")],
        }
        for writer in WRITERS:
            raw = written(message, writer)
            head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # every header is ASCII
            for line in head.split("\r\n"):
                if len(line) > 78:
                    problems.append(f"{name} {who} {writer}: a line of {len(line)}: {line}")
                if re.fullmatch(r"(Subject|From|To|Reply-To):\s*", line):
                    problems.append(f"{name} {who} {writer}: empty first line: {line!r}")
            for reader in (read_default, read_classic):
                got = reader(raw)
                if got != expected:
                    problems.append(f"{name} {who} {writer} {reader.__name__}: {got} != {expected}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(
    "subject",
    [
        # the three ways the stdlib folder lost text in the field test
        "Welcome to Northern Lights Mentoring 2027: meet your mentor, Zoë Ørsted",
        "Welcome to Northern Lights Mentoring: meet your mentor, Dr Rachel O'Neill",
        "Welcome to Northern Lights Mentoring: meet your mentor, Ngozi Okonkwo-Adébáyọ̀",
        "Northern Lights Mentoring 2027 weekly digest, 15–21 March 2027: 2 pairs at risk",
        "Бриджес: ваша встреча с Александрой Петровной Ивановой-Смирновой во вторник 2 марта",
        "来自北极光导师计划的欢迎：认识你的导师王小明，以及你们第一次见面的时间安排和视频链接",
        "Re: =?utf-8?q?not_an_encoded_word?= from a subject someone typed",
    ],
)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_subjects_that_broke_read_back_exactly(subject: str, writer: str) -> None:
    rendered = RenderedEmail(subject=subject, text="Hi,\n", html="<p>Hi,</p>\n")
    message = compose(
        rendered=rendered,
        sender=("Northern Lights Mentoring", "mentoring@nordlys.example.org"),
        to=("Zoë Ørsted", "zoe.orsted@example.dk"),
        reply_to=None,
        msg_id="mm.2.abc@nordlys.example.org",
        date=NOW,
        pair_id=None,
    )
    raw = written(message, writer)
    assert read_default(raw)["subject"] == subject
    assert read_classic(raw)["subject"] == subject
    assert message["Subject"] == subject  # and as the executor reads it back


def test_folding_never_moves_the_value_off_the_field_line() -> None:
    value = fold_unstructured("Subject", "Welcome to Northern Lights: meet your mentor, D. O'Neill")
    assert not value.startswith(("\n", " ")) and "\n" not in value  # fits: one line
    long = fold_unstructured("Subject", "x" * 70 + " and more")
    assert long.startswith("=?utf-8?q?xxx")  # no room for it after "Subject: ": encoded
    to = fold_addresses("To", [])
    assert to == ""


def test_a_display_name_with_specials_is_quoted_or_encoded() -> None:
    from email.headerregistry import Address

    value = fold_addresses(
        "To",
        [
            Address("O'Neill, Rachel", "r.oneill", "example.ie"),
            Address("Ørsted, Zoë", "zoe", "example.dk"),
            Address("Dr. Zoë Ørsted", "zoe", "example.dk"),
        ],
    )
    raw = f"To: {value}\n\n".replace("\n", "\r\n").encode("ascii")
    names = [
        ("O'Neill, Rachel", "r.oneill@example.ie"),
        ("Ørsted, Zoë", "zoe@example.dk"),
        ("Dr. Zoë Ørsted", "zoe@example.dk"),
    ]
    assert read_default(raw)["To"] == names
    assert read_classic(raw)["To"] == names
    assert value.startswith('"O\'Neill, Rachel" <r.oneill@example.ie>,')


def test_addresses_are_written_exactly_as_configured(cfg: Config) -> None:
    sam = cfg.participant("sam")
    rendered = RenderedEmail(subject="Hello Sam", text="Hi,\n", html="<p>Hi,</p>\n")
    message = compose(
        rendered=rendered,
        sender=("Northern Lights Mentoring", "mentoring@nordlys.example.org"),
        to=(sam.name, sam.email),
        reply_to=None,
        msg_id="mm.3.abc@nordlys.example.org",
        date=NOW,
        pair_id=None,
    )
    raw = message.as_bytes(policy=policy.SMTP)
    assert b"<sam.obrien+mentoring@gmail.com>" in raw
    assert read_default(raw)["To"] == [("Samuel O'Brien", "sam.obrien+mentoring@gmail.com")]


# --- what people are called -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pair_id", "role", "greeting", "partner_called"),
    [
        ("zoe-wang", "mentor", "Hi Zoë,", "王小明"),
        ("zoe-wang", "mentee", "Hi 王小明,", "Zoë"),
        ("rachel-maria", "mentor", "Hi Rachel,", "María José"),
        ("rachel-maria", "mentee", "Hi María José,", "Rachel"),
        ("ngozi-sam", "mentee", "Hi Sam,", "Ngozi"),
        ("berg-li", "mentor", "Hi van der Berg,", "李小龙"),
        ("berg-li", "mentee", "Hi 李小龙,", "van der Berg"),
    ],
)
def test_greetings_and_how_the_partner_is_called(
    cfg: Config,
    renderer: Renderer,
    pair_id: str,
    role: str,
    greeting: str,
    partner_called: str,
) -> None:
    for name in ("welcome", "agreement_reminder", "follow_up", "nudge"):
        text = renderer.render(name, _people_context(cfg, name, pair_id, role)).text
        assert text.splitlines()[0] == greeting, name
        assert "Hi Dr" not in text and " Dr," not in text
    welcome = renderer.render("welcome", _people_context(cfg, "welcome", pair_id, role)).text
    assert f"About {partner_called}:" in welcome
    follow_up = renderer.render("follow_up", _people_context(cfg, "follow_up", pair_id, role))
    assert follow_up.subject.startswith(f"How did your meeting with {partner_called} go?")


def test_the_coordinator_is_greeted_without_their_title(cfg: Config, renderer: Renderer) -> None:
    context = _people_context(cfg, "coordinator_escalation", "rachel-maria", "mentor")
    text = renderer.render("coordinator_escalation", context).text
    assert text.splitlines()[0] == "Hi Rachel,"
    assert "You can write to Rachel and María José directly" in text


@pytest.mark.parametrize(
    ("name", "short_name", "called"),
    [
        ("Dr Rachel O'Neill", None, "Rachel"),
        ("Prof. Dr. Hans Müller", None, "Hans"),
        ("Mx Sam Taylor", None, "Sam"),
        ("Dame Judith Anderson", None, "Judith"),
        ("Sir Ian McKellen", None, "Ian"),
        ("Mrs O'Neill", None, "Mrs O'Neill"),  # only a surname after the title: keep both
        ("O'Neill", None, "O'Neill"),
        ("O'Neill, Rachel", None, "Rachel"),
        ("Rachel O'Neill, PhD", None, "Rachel"),
        ("María José García", None, "María José"),
        ("Jean-Luc Picard", None, "Jean-Luc"),
        ("van der Berg", None, "van der Berg"),
        ("Pieter van der Berg", None, "Pieter"),
        ("李小龙", None, "李小龙"),
        ("山田 太郎", None, "山田 太郎"),
        ("J. R. Hartley", None, "J. R. Hartley"),
        ("Don Draper", None, "Don"),
        ("Dr Rachel O'Neill", "Rach", "Rach"),
        ("王小明", "小明", "小明"),
    ],
)
def test_greeting_name(name: str, short_name: str | None, called: str) -> None:
    assert greeting_name(name, short_name) == called


def test_short_name_is_checked_like_a_name(tmp_path: Path) -> None:
    from agent.config.model import ConfigError

    text = PROGRAM_YAML.replace("short_name: Sam,", 'short_name: "Sam\\nBcc: x@evil.example",')
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="short_name"):
        load_config(path)


def _plain_email(to: tuple[str, str]) -> EmailMessage:
    return compose(
        rendered=RenderedEmail(subject="Hello", text="Hi,\n", html="<p>Hi,</p>\n"),
        sender=("Northern Lights Mentoring", "mentoring@nordlys.example.org"),
        to=to,
        reply_to=None,
        msg_id="mm.4.abc@nordlys.example.org",
        date=NOW,
        pair_id=None,
    )


def test_no_header_can_be_injected() -> None:
    message = _plain_email(("Zoë Ørsted", "zoe.orsted@example.dk"))
    for field in ("Subject", "Cc", "Reply-To"):
        with pytest.raises(ValueError):
            message[field] = "Zoë <zoe@example.dk>\r\nBcc: eve@attacker.test"
    assert message["Bcc"] is None


def test_an_internationalised_address_is_written_as_utf8_by_smtputf8() -> None:
    message = _plain_email(("Zoë Ørsted", "zoë@example.dk"))  # RFC 6532
    assert "zoë@example.dk".encode() in message.as_bytes(policy=policy.SMTPUTF8)
    message.as_bytes(policy=policy.SMTP)  # as before: the stdlib's choice, no crash
