"""Everyone who writes hears back (issue 17, items 3, 4, 5 and 8), on the Maildir default.

A program of three pairs (tests/conftest.py THREE_PAIRS) is ticked through `mentormail
tick --now`; people answer the emails they got the way they really write, from Gmail,
Outlook, an iPhone and Apple Mail, in several languages. Each test looks at what went out:
who got an email, what it says, what the coordinator saw, that nothing went to a machine
or a stranger, and that a second run of the same tick sends nothing more.
"""

from __future__ import annotations

import email.policy
import mailbox
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from tests.conftest import THREE_PAIRS
from tests.mta import stamp
from tests.test_lifecycle_e2e import Program, _body, at

COORDINATOR = "coordinator@example.org"
ONBOARDING = "2027-02-15T09:00"


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    p = Program(tmp_path, cli)
    p.tick(ONBOARDING)
    return p


# --- replies as the clients write them ----------------------------------------------------


def _reply(
    original: EmailMessage,
    sender: str,
    body: str,
    when: datetime,
    *,
    subject_prefix: str = "Re: ",
    thread: bool = True,
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = subject_prefix + original["Subject"]
    reply["Date"] = format_datetime(when)
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    if thread:
        reply["In-Reply-To"] = original["Message-ID"]
        reply["References"] = original["Message-ID"]
    for name, value in (headers or {}).items():
        reply[name] = value
    reply.set_content(body)
    if html is not None:
        reply.add_alternative(html, subtype="html")
    return reply


def _quoted(original: EmailMessage) -> str:
    return "\n".join("> " + line if line else ">" for line in _body(original).splitlines())


GMAIL_HEADERS = {
    "de": "Am Mo., 15. Feb. 2027 um 09:00 Uhr schrieb {sender}:",
    "en": "On Mon, Feb 15, 2027 at 9:00 AM {sender} wrote:",
    "es": "El lun, 15 feb 2027 a las 9:00, {sender} escribió:",
    "fr": "Le lun. 15 févr. 2027 à 09:00, {sender} a écrit :",
    "ja": "2027年2月15日(月) 9:00 {sender}:",
    "nl": "Op ma 15 feb 2027 om 09:00 schreef {sender}:",
    "pl": "pon., 15 lut 2027 o 09:00 {sender} napisał(a):",
    "pt": "Em seg., 15 de fev. de 2027 às 09:00, {sender} escreveu:",
}


def gmail(
    original: EmailMessage, sender: str, text: str, when: datetime, lang: str = "en"
) -> EmailMessage:
    attribution = GMAIL_HEADERS[lang].format(sender=original["From"])
    body = f"{text}\n\n{attribution}\n\n{_quoted(original)}\n"
    html = '<div dir="ltr">' + text.replace("\n", "<br>") + '</div><br><div class="gmail_quote">'
    return _reply(original, sender, body, when, html=html + "</div>")


OUTLOOK_LABELS = {
    "en": ("From", "Sent", "To", "Subject", "RE: "),
    "de": ("Von", "Gesendet", "An", "Betreff", "AW: "),
    "fr": ("De\u00a0", "Envoyé\u00a0", "À\u00a0", "Objet\u00a0", "RE\u00a0: "),
}


def outlook(
    original: EmailMessage,
    sender: str,
    text: str,
    when: datetime,
    lang: str = "en",
    *,
    thread: bool = True,
) -> EmailMessage:
    frm, sent, to, subject, prefix = OUTLOOK_LABELS[lang]
    block = (
        "________________________________\n"
        f"{frm}: {original['From']}\n{sent}: {when:%A, %d %B %Y %H:%M}\n"
        f"{to}: {original['To']}\n{subject}: {original['Subject']}\n\n"
    )
    headers = {
        "Thread-Topic": str(original["Subject"]),
        "Thread-Index": "AQHZx3sL9b0m2k1Qe0ahYw==",
        "Content-Language": {"en": "en-GB", "de": "de-DE", "fr": "fr-FR"}[lang],
        "X-MS-Has-Attach": "",
    }
    body = f"{text}\n\n{block}{_body(original)}"
    return _reply(
        original, sender, body, when, subject_prefix=prefix, thread=thread, headers=headers
    )


def iphone(original: EmailMessage, sender: str, text: str, when: datetime) -> EmailMessage:
    attribution = f"> On 15 Feb 2027, at 09:00, {original['From']} wrote:\n>"
    body = f"{text}\n\nSent from my iPhone\n\n{attribution}\n{_quoted(original)}\n"
    headers = {"X-Mailer": "iPhone Mail (21D61)", "Content-Transfer-Encoding": "7bit"}
    message = _reply(original, sender, body, when, headers={"X-Mailer": headers["X-Mailer"]})
    return message


def apple_mail(
    original: EmailMessage, sender: str, text: str, when: datetime, lang: str = "es"
) -> EmailMessage:
    attribution = {
        "es": f"El 15 feb 2027, a las 9:00, {original['From']} escribió:",
        "en": f"On 15 Feb 2027, at 09:00, {original['From']} wrote:",
    }[lang]
    body = f"{text}\n\n{attribution}\n\n{_quoted(original)}\n"
    return _reply(original, sender, body, when, headers={"X-Mailer": "Apple Mail (2.3774.300)"})


def fresh(sender: str, subject: str, text: str, when: datetime, **headers: str) -> EmailMessage:
    """A new email (no thread) to the program's own address, as a stranger writes one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Mentoring Program <mentoring@example.org>"
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


# --- what went out ------------------------------------------------------------------------


def _to(program: Program, address: str, *, since: int = 0) -> list[EmailMessage]:
    """Emails to `address`, in the order they were sent; `since` skips the first ones."""
    return _sent_in_order(program, address)[since:]


def _sent_in_order(program: Program, address: str | None = None) -> list[EmailMessage]:
    box = program.root / "mail" / "sent"
    paths = sorted((p for sub in ("new", "cur") for p in (box / sub).iterdir()), key=_mtime)
    parser = email.parser.BytesParser(policy=email.policy.default)
    messages = [parser.parsebytes(p.read_bytes()) for p in paths]
    if address is None:
        return messages
    return [m for m in messages if m["To"].addresses[0].addr_spec.lower() == address.lower()]


def _mtime(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, path.name


def _answers(program: Program, address: str) -> list[EmailMessage]:
    """The answers to a participant's replies (not the program's own emails)."""
    return [
        m
        for m in _sent_in_order(program, address)
        if re.match(r"(?i)(?:re|aw)\s*:", m["Subject"])
        or "has paused" in m["Subject"]
        or "ready to go on" in m["Subject"]
    ]


def _notices(program: Program) -> list[EmailMessage]:
    return [
        m
        for m in _sent_in_order(program, COORDINATOR)
        if m["Subject"].startswith(("Needs you", "For your information"))
    ]


def _text(message: EmailMessage) -> str:
    return " ".join(_body(message).split())  # lines joined: wrapping is not wording


def _rerun_sends_nothing(program: Program, now: str) -> None:
    before = len(_sent_in_order(program))
    program.tick(now)
    assert len(_sent_in_order(program)) == before


def _agreement(program: Program, address: str) -> EmailMessage:
    return program.only(address, "agreement")


def _deliver_raw(program: Program, raw: bytes) -> None:
    mailbox.Maildir(program.root / "mail" / "inbox").add(raw)


# --- the agreement round ------------------------------------------------------------------


def test_the_agreement_round_answers_each_writer_once_and_never_a_machine(
    program: Program,
) -> None:
    afternoon = at("2027-02-15T15:10")
    agreement = {a: _agreement(program, a) for a in ("ana@example.org", "dina@example.co.uk")}
    program.deliver(
        gmail(
            agreement["ana@example.org"],
            "Ana Alvarez <ana@example.org>",
            "I agree! Looking forward to it.\n\nAna",
            afternoon,
        )
    )
    chen = program.only("chen@example.com", "welcome")
    ooo = fresh(
        "Chen Wei <chen@example.com>",
        "Automatic reply: " + chen["Subject"],
        "I am out of the office until 22 February with limited access to email.",
        afternoon,
        Auto_Submitted="auto-replied",
        X_Auto_Response_Suppress="All",
    )
    ooo.replace_header("To", chen["Reply-To"])
    program.deliver(ooo)
    program.deliver(
        outlook(
            _agreement(program, "dina@example.co.uk"),
            "Dina Doyle <dina@example.co.uk>",
            "Hi,\n\nQuick question: roughly how many hours a month should I plan for, "
            "including preparation?\n\nThanks,\nDina",
            afternoon,
        )
    )
    program.deliver(
        gmail(
            _agreement(program, "eli@example.es"),
            "Eli Ortega <eli@example.es>",
            "Hallo,\n\neine Frage vorab: finden die Treffen auf Englisch statt? Mein Englisch "
            "ist nicht perfekt.\n\nViele Grüße\nEli",
            afternoon,
            "de",
        )
    )
    program.deliver(
        fresh(
            "Sam Lee <sam.lee@university.example>",
            "Can I still join?",
            "Hello,\n\na colleague told me about the mentoring program. Is it too late to "
            "sign up as a mentee?\n\nBest,\nSam",
            afternoon,
        )
    )
    program.deliver(
        fresh(
            "Sam Lee <sam.lee@university.example>",
            "Re: Can I still join?",
            "Sorry, I forgot to say: I work in the Berlin office.",
            afternoon + timedelta(minutes=5),
        )
    )
    program.deliver(
        fresh(
            "Mentoring Weekly <news@mentoring-weekly.example>",
            "Five habits of great mentors",
            "This week: five habits of great mentors. Read more on our site.",
            afternoon,
            List_Id="Mentoring Weekly <weekly.mentoring-weekly.example>",
            List_Unsubscribe="<https://mentoring-weekly.example/unsubscribe>",
            Precedence="bulk",
        )
    )
    program.tick("2027-02-15T16:00")

    # Ana agreed: she is told what happens next, in one email, answering her own
    (ana,) = _answers(program, "ana@example.org")
    assert ana["Subject"] == "Re: " + agreement["ana@example.org"]["Subject"]
    assert "noted your agreement" in _text(ana)
    assert "Once Ben has agreed too, I'll book your meetings" in _text(ana)
    # Dina and Eli asked: each hears that the coordinator will answer; the coordinator
    # sees their words, what the agent did and what is left
    for address, first in (("dina@example.co.uk", "Dina"), ("eli@example.es", "Eli")):
        (ack,) = _answers(program, address)
        assert "I've passed it to Chris Coordinator" in _text(ack)
        assert "will answer you personally" in _text(ack)
        (notice,) = [n for n in _notices(program) if first in n["Subject"]]
        assert notice["Subject"].startswith("Needs you: reply from")
        assert f"I told {first} that you will answer them" in _text(notice)
        assert "Why it's with you:" in _text(notice)
        assert "I haven't acted on it" not in _text(notice)
    dina_notice = next(n for n in _notices(program) if "Dina" in n["Subject"])
    assert "> Quick question: roughly how many hours" in _body(dina_notice)
    eli_notice = next(n for n in _notices(program) if "Eli" in n["Subject"])
    assert "finden die Treffen auf Englisch statt?" in _text(eli_notice)
    # the stranger's question reaches the coordinator once, with the text; nobody answers
    # them, the out-of-office or the newsletter
    (stranger,) = [n for n in _notices(program) if "Sam Lee" in n["Subject"]]
    assert stranger["Subject"] == "Needs you: message from Sam Lee"
    assert "Is it too late to sign up as a mentee?" in _text(stranger)
    assert "Someone outside the program wrote" in _text(stranger)
    assert "nothing in the program has changed" in _text(stranger)
    assert _to(program, "sam.lee@university.example") == []
    assert _to(program, "news@mentoring-weekly.example") == []
    assert not any("five habits" in _text(m).lower() for m in _notices(program))
    assert len(_to(program, "chen@example.com")) == 2  # the welcome and the agreement only
    assert len(_notices(program)) == 3
    _rerun_sends_nothing(program, "2027-02-15T16:00")
    _rerun_sends_nothing(program, "2027-02-15T18:00")


def _reminders(program: Program, address: str) -> list[EmailMessage]:
    return [m for m in _to(program, address) if m["Subject"].lower().startswith("reminder")]


def test_no_reminder_while_a_question_waits_for_the_coordinator(program: Program) -> None:
    afternoon = at("2027-02-15T14:20")
    program.deliver(
        iphone(
            _agreement(program, "dina@example.co.uk"),
            "Dina Doyle <dina@example.co.uk>",
            "Do I need my manager's OK to take part? Not sure how it works at my company",
            afternoon,
        )
    )
    program.deliver(
        apple_mail(
            _agreement(program, "fay@example.ke"),
            "Fay Njeri <fay@example.ke>",
            "Hola, ¿las reuniones se pueden grabar? Así podría repasarlas después.\n\nFay",
            afternoon,
        )
    )
    program.tick("2027-02-15T15:00")
    assert len(_answers(program, "dina@example.co.uk")) == 1
    assert len(_answers(program, "fay@example.ke")) == 1
    # three days on, the others who have not agreed get a reminder; the two who asked
    # something are owed an answer, not a reminder
    program.tick("2027-02-19T09:00")
    subjects = [m["Subject"] for m in _to(program, "ana@example.org")]
    assert any("agreement" in s.lower() for s in subjects[2:]), subjects  # Ana was reminded
    assert _to(program, "dina@example.co.uk")[3:] == []
    assert _to(program, "fay@example.ke")[3:] == []
    # a week after they wrote, with no word from the coordinator, the reminder goes out again
    program.tick("2027-02-23T09:00")
    assert len(_to(program, "dina@example.co.uk")) == 4
    assert "agreement" in _to(program, "dina@example.co.uk")[3]["Subject"].lower()
    assert len(_to(program, "fay@example.ke")) == 4
    _rerun_sends_nothing(program, "2027-02-23T09:00")


# --- a pair that is meeting ---------------------------------------------------------------


def _agreed(program: Program, pair: tuple[str, str], when: str = "2027-02-15T12:00") -> None:
    for address in pair:
        agreement = _agreement(program, address)
        sender = agreement["To"]
        program.deliver(gmail(agreement, str(sender), "I agree.", at(when)))
    program.tick("2027-02-16T09:00")


def test_a_pause_is_confirmed_the_partner_told_and_the_coordinator_told_what_was_done(
    program: Program,
) -> None:
    _agreed(program, ("ana@example.org", "ben.becker@example.net"))
    invitation = program.only("ben.becker@example.net", "Invitation:")
    sent_to_ana = len(_to(program, "ana@example.org"))
    sent_to_ben = len(_to(program, "ben.becker@example.net"))
    answered = len(_answers(program, "ben.becker@example.net"))  # his agreement's
    program.deliver(
        outlook(
            invitation,
            "Ben Becker <Ben.Becker@example.net>",
            "Hallo Ana, hi team,\n\nI need to pause the mentoring for a few weeks, I have my "
            "exams until the end of March. Sorry about that!\n\nBest regards\nBen Becker",
            at("2027-02-17T10:00"),
            "de",
        )
    )
    program.tick("2027-02-17T11:00")
    status = program.status("2027-02-17T11:00")["ana-ben"]
    assert status["stage"] == "paused"
    # one email each, the pause notice with the updated calendar (tests/test_pause_and_leave.py)
    assert _answers(program, "ben.becker@example.net")[answered:] == []
    (confirmation,) = _to(program, "ben.becker@example.net", since=sent_to_ben)
    assert "As you asked, your mentoring with Ana is paused" in _text(confirmation)
    (told,) = _to(program, "ana@example.org", since=sent_to_ana)
    assert (
        told["Subject"]
        == "Spring 2027 Mentoring: your meetings are paused until Wednesday 10 March 2027"
    )
    assert "Ben has asked to pause your mentoring for a while" in _text(told)
    (notice,) = _notices(program)
    assert notice["Subject"] == "For your information: reply from Ben Becker (pair ana-ben)"
    assert "I haven't acted on it" not in _text(notice)
    assert "I paused the pair" in _text(notice)
    assert "both are told" in _text(notice)
    assert "Nothing is left for you to do" in _text(notice)
    assert "I need to pause the mentoring" in _text(notice)
    _rerun_sends_nothing(program, "2027-02-17T11:00")

    # paused: the first meeting (1 March) is cancelled, no follow-up for it
    program.tick("2027-03-02T12:00")
    assert not any("How did" in m["Subject"] for m in _sent_in_order(program))

    # back again: Ben is told, and so is Ana
    latest = _answers(program, "ben.becker@example.net")[-1]
    program.deliver(
        iphone(
            latest,
            "Ben Becker <ben@phone.example.net>",
            "Exams done! I'm back, let's resume our meetings",
            at("2027-03-05T09:00"),
        )
    )
    now = "2027-03-05T10:00"
    program.tick(now)
    assert program.status(now)["ana-ben"]["stage"] != "paused"
    for address in ("ben.becker@example.net", "ana@example.org"):
        (back,) = [m for m in _to(program, address) if "start again" in m["Subject"]]
        assert "The pause in your mentoring" in _text(back)
    assert _to(program, "ben@phone.example.net") == []  # answers go to the configured address
    _rerun_sends_nothing(program, now)


def test_a_move_is_answered_by_one_email_to_each(program: Program) -> None:
    _agreed(program, ("eli@example.es", "fay@example.ke"))
    invitation = program.only("eli@example.es", "Invitation:")
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["eli-fay"]["meetings"]["next"]
    )
    before = {a: len(_to(program, a)) for a in ("eli@example.es", "fay@example.ke")}
    program.deliver(
        gmail(
            invitation,
            "Eli Ortega <eli@example.es>",
            f"Hola Fay, could we move the meeting on {first:%A %d %B} to the next day, same "
            "time? I have a conference that day.\n\nGracias\nEli",
            at("2027-02-20T10:00"),
        )
    )
    program.tick("2027-02-20T11:00")
    to_eli = _to(program, "eli@example.es", since=before["eli@example.es"])
    to_fay = _to(program, "fay@example.ke", since=before["fay@example.ke"])
    # one email each: the updated invitation when the meeting moved (it says who asked), or,
    # when it could not be moved, an acknowledgement to Eli and nothing to Fay
    assert len(to_eli) == 1, [m["Subject"] for m in to_eli]
    if to_eli[0]["Subject"].startswith("Updated invitation"):
        assert len(to_fay) == 1 and "At Eli's request" in _text(to_fay[0])
        assert "As you asked" in _text(to_eli[0])
    else:
        assert "I've passed it to Chris Coordinator" in _text(to_eli[0])
        assert to_fay == []
    _rerun_sends_nothing(program, "2027-02-20T11:00")


# --- many people, many languages ----------------------------------------------------------

QUESTIONS = [  # (address, name, client, language, text): each asks something of a person
    (
        "ana@example.org",
        "Ana Alvarez",
        "gmail",
        "en",
        "Hi there,\n\nwho do I talk to if the pairing doesn't work out? Just want to know "
        "before we start.\n\nThanks!\nAna",
    ),
    (
        "ben.becker@example.net",
        "Ben Becker",
        "outlook",
        "de",
        "Guten Tag,\n\nbekomme ich am Ende des Programms eine Teilnahmebestätigung für meinen "
        "Arbeitgeber?\n\nMit freundlichen Grüßen\nBen Becker",
    ),
    (
        "chen@example.com",
        "Chen Wei",
        "gmail",
        "ja",
        "お世話になっております。\n最初のミーティングの前に何か準備しておくことはありますか？\n\nチェン",
    ),
    (
        "dina@example.co.uk",
        "Dina Doyle",
        "outlook",
        "fr",
        "Bonjour,\n\nest-ce que les réunions peuvent se faire en français de temps en temps ?\n\n"
        "Cordialement,\nDina",
    ),
    (
        "eli@example.es",
        "Eli Ortega",
        "apple",
        "es",
        "¿Hay algún material que deba leer antes de la primera reunión?\n\nUn saludo,\nEli",
    ),
    (
        "fay@example.ke",
        "Fay Njeri",
        "gmail",
        "pt",
        "Olá! As reuniões podem ser gravadas para eu rever depois?\n\nObrigada,\nFay",
    ),
]
SECOND_QUESTIONS = [
    ("ana@example.org", "gmail", "nl", "Mag ik mijn leidinggevende vertellen dat ik meedoe?"),
    (
        "ben.becker@example.net",
        "iphone",
        "en",
        "Is there a Slack or Teams channel for the program?",
    ),
    ("chen@example.com", "outlook", "en", "What happens if I change jobs during the program?"),
    ("dina@example.co.uk", "gmail", "pl", "Czy spotkania będą nagrywane?"),
    ("eli@example.es", "gmail", "es", "¿Puedo invitar a un compañero a una de las reuniones?"),
    (
        "fay@example.ke",
        "apple",
        "en",
        "Can my mentor and I meet in person once instead of on video?",
    ),
]


def _write(original: EmailMessage, sender: str, client: str, lang: str, text: str,
           when: datetime) -> EmailMessage:  # fmt: skip
    if client == "outlook":
        return outlook(original, sender, text, when, lang if lang in OUTLOOK_LABELS else "en")
    if client == "iphone":
        return iphone(original, sender, text, when)
    if client == "apple":
        return apple_mail(original, sender, text, when, "es" if lang == "es" else "en")
    return gmail(original, sender, text, when, lang)


def test_questions_in_six_languages_each_get_one_acknowledgement(program: Program) -> None:
    names = {}
    for address, name, client, lang, text in QUESTIONS:
        names[address] = name
        original = program.only(address, "welcome")
        program.deliver(_write(original, f"{name} <{address}>", client, lang, text,
                               at("2027-02-15T13:00")))  # fmt: skip
    program.tick("2027-02-15T14:00")
    for address, name, _client, lang, text in QUESTIONS:
        (ack,) = _answers(program, address)
        assert "I've passed it to Chris Coordinator" in _text(ack), (address, _text(ack))
        (notice,) = [n for n in _notices(program) if name in n["Subject"]]
        question = next(line for line in text.splitlines() if "?" in line or "？" in line)
        assert question in _text(notice), (lang, _text(notice))
        assert f"I told {name.split()[0]} that you will answer them" in _text(notice)
    assert len(_notices(program)) == 6
    _rerun_sends_nothing(program, "2027-02-15T14:00")

    # each writes again, answering the acknowledgement: one more each, no more
    for address, client, lang, text in SECOND_QUESTIONS:
        (ack,) = _answers(program, address)
        sender = f"{names[address]} <{address}>"
        program.deliver(_write(ack, sender, client, lang, text, at("2027-02-16T10:00")))
    program.tick("2027-02-16T11:00")
    for address, _, _, text in SECOND_QUESTIONS:
        assert len(_answers(program, address)) == 2
        assert any(text in _text(n) for n in _notices(program)), text
    assert len(_notices(program)) == 12
    _rerun_sends_nothing(program, "2027-02-16T11:00")


# --- switched off -------------------------------------------------------------------------


def test_acknowledgements_switched_off_leave_the_coordinator_notices(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    program.config.write_text(
        THREE_PAIRS.replace(
            "  nudge: {quiet_after: 14d}\n",
            "  nudge: {quiet_after: 14d}\n  replies: {acknowledge: false}\n",
        ),
        encoding="utf-8",
    )
    program.tick(ONBOARDING)
    program.deliver(gmail(_agreement(program, "ana@example.org"), "Ana Alvarez <ana@example.org>",
                          "I agree, see you soon", at("2027-02-15T12:00")))  # fmt: skip
    program.deliver(
        outlook(
            _agreement(program, "dina@example.co.uk"),
            "Dina Doyle <dina@example.co.uk>",
            "Could you tell me who else is in the program?",
            at("2027-02-15T12:00"),
        )
    )
    program.tick("2027-02-15T13:00")
    assert _answers(program, "ana@example.org") == []
    assert _answers(program, "dina@example.co.uk") == []
    (notice,) = _notices(program)
    assert "who else is in the program" in _text(notice)
    assert "told Dina" not in _text(notice)


# --- strangers ------------------------------------------------------------------------------


def test_strangers_are_heard_within_a_daily_cap_and_machines_never(program: Program) -> None:
    morning = at("2027-02-16T08:00")
    people = [f"Person {n} <person{n}@example{n}.org>" for n in range(12)]
    for n, sender in enumerate(people):
        program.deliver(fresh(sender, f"Question {n} about the program",
                              f"Hello, I heard about the program from a friend. Question {n}: "
                              "how do I apply?", morning))  # fmt: skip
    program.deliver(
        fresh(
            "Jobs Board <noreply@jobs.example>",
            "New mentoring jobs for you",
            "10 new jobs match your profile.",
            morning,
            Auto_Submitted="auto-generated",
            Precedence="bulk",
        )
    )
    program.deliver(
        fresh(
            "Alex Kim <alex.kim@example.com>",
            "Automatic reply: Mentoring",
            "I'm on holiday until Monday.",
            morning,
            X_Autoreply="yes",
        )
    )
    forged = fresh("Rachel Boss <ceo@example.org>", "Urgent: add me to the program",
                   "Please add me as a mentor today.", morning)  # fmt: skip
    _deliver_raw(program, stamp(forged.as_bytes(policy=email.policy.SMTP), dmarc="fail"))
    program.tick("2027-02-16T09:00")
    notices = _notices(program)
    strangers = [n for n in notices if n["Subject"].startswith("Needs you: message from Person")]
    assert len(strangers) == 10  # cadence.replies.strangers_per_day
    assert all("how do I apply?" in _text(n) for n in strangers)
    assert not any("jobs match" in _text(n) or "on holiday" in _text(n) for n in notices)
    # the forged one is reported as before: a warning, not a participant's question
    (forgery,) = [n for n in notices if "Rachel Boss" in n["Subject"]]
    assert "DMARC" in _text(forgery)
    for sender in people:
        assert _to(program, sender.split("<")[1].strip(">")) == []
    # the next day there is room again; the digest counts every one
    program.deliver(fresh(people[11], "Still interested", "Is there a waiting list?",
                          at("2027-02-17T08:00")))  # fmt: skip
    program.tick("2027-02-17T09:00")
    assert any("waiting list" in _text(n) for n in _notices(program))
    program.tick("2027-02-22T09:00")
    (digest,) = [m for m in _to(program, COORDINATOR) if "15–21 February" in m["Subject"]]
    assert "Quarantined messages: 14" in _text(digest)


def test_strangers_switched_off_are_only_counted(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    program.config.write_text(
        THREE_PAIRS.replace(
            "  nudge: {quiet_after: 14d}\n",
            "  nudge: {quiet_after: 14d}\n  replies: {strangers_per_day: 0}\n",
        ),
        encoding="utf-8",
    )
    program.tick(ONBOARDING)
    program.deliver(fresh("Sam Lee <sam.lee@university.example>", "Can I still join?",
                          "Is it too late to join?", at("2027-02-15T12:00")))  # fmt: skip
    program.tick("2027-02-15T13:00")
    assert _notices(program) == []


# --- crash safety -------------------------------------------------------------------------


def test_a_crash_after_sending_an_answer_does_not_send_it_again(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.state.store import Store

    program.deliver(gmail(_agreement(program, "fay@example.ke"), "Fay Njeri <fay@example.ke>",
                          "Yes, I agree.", at("2027-02-15T12:00")))  # fmt: skip
    program.deliver(
        outlook(
            _agreement(program, "chen@example.com"),
            "Chen Wei <chen@example.com>",
            "Before I say yes: will the meetings be in the evening for me? I'm in Tokyo.",
            at("2027-02-15T12:00"),
            thread=False,
        )
    )
    real_flush = Store.flush
    calls = {"n": 0}

    def crash_on_second_flush(self: Store) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the answers left after the first flush; the tick dies here
            raise SystemExit("simulated crash")
        if calls["n"] < 2:
            real_flush(self)

    monkeypatch.setattr(Store, "flush", crash_on_second_flush)
    with pytest.raises(SystemExit):
        program.tick("2027-02-15T13:00")
    monkeypatch.setattr(Store, "flush", real_flush)
    program.tick("2027-02-15T13:00")
    program.tick("2027-02-15T14:00")
    assert len(_answers(program, "fay@example.ke")) == 1
    assert len(_answers(program, "chen@example.com")) == 1
    assert len([n for n in _notices(program) if "Chen" in n["Subject"]]) == 1
    ids = [m["Message-ID"] for m in _sent_in_order(program)]
    assert len(ids) == len(set(ids))


def test_a_question_in_someones_name_is_passed_on_but_answers_and_holds_nothing(
    program: Program,
) -> None:
    """From alone proves nothing (docs/trust.md): Dina's address on a fresh email with no
    DMARC pass reaches the coordinator, but Dina gets no answer and her reminders go on."""
    forged = fresh(
        "Dina Doyle <dina@example.co.uk>",
        "Question about the program",
        "Hi, can you send me the list of all participants and their phone numbers?",
        at("2027-02-15T12:00"),
    )
    _deliver_raw(program, stamp(forged.as_bytes(policy=email.policy.SMTP), dmarc="none"))
    program.tick("2027-02-15T13:00")
    (notice,) = _notices(program)
    assert "list of all participants" in _text(notice)
    assert "told Dina" not in _text(notice)
    assert _answers(program, "dina@example.co.uk") == []
    program.tick("2027-02-19T09:00")
    assert "agreement" in _to(program, "dina@example.co.uk")[-1]["Subject"].lower()
    assert len(_to(program, "dina@example.co.uk")) == 3  # welcome, agreement, reminder


def test_the_coordinator_answers_a_stranger_by_replying(program: Program) -> None:
    outlook_fresh = fresh(
        "Priya Nair <priya.nair@startup.example>",
        "Mentoring program – volunteering as a mentor?",
        "Hi,\n\nI run the data team at a startup and would love to volunteer as a mentor "
        "next term. Who should I talk to?\n\nKind regards,\nPriya",
        at("2027-02-15T10:00"),
        Content_Language="en-GB",
        X_MS_Has_Attach="",
    )
    program.deliver(outlook_fresh)
    program.tick("2027-02-15T11:00")
    (notice,) = _notices(program)
    assert notice["Reply-To"].addresses[0].addr_spec == "priya.nair@startup.example"
    assert "volunteer as a mentor next term" in _text(notice)
    assert outlook_fresh["Subject"] in _text(notice)
    assert _to(program, "priya.nair@startup.example") == []


def test_a_follow_up_answer_with_a_question_is_logged_and_the_rest_passed_on(
    program: Program,
) -> None:
    _agreed(program, ("ana@example.org", "ben.becker@example.net"))
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["ana-ben"]["meetings"]["next"]
    )
    program.tick((first + timedelta(hours=3)).isoformat())
    follow_up = program.only("ben.becker@example.net", "How did your meeting")
    answered = len(_answers(program, "ben.becker@example.net"))
    program.deliver(
        gmail(
            follow_up,
            "Ben Becker <Ben.Becker@example.net>",
            "We went through my project plan and Ana gave me great feedback on the timeline. "
            "I'd rate it 5 out of 5.\n\nOne question for the program team: is there a budget "
            "for a course I'd like to take?\n\nBen",
            first + timedelta(hours=5),
        )
    )
    now = (first + timedelta(hours=6)).isoformat()
    program.tick(now)
    (ack,) = _answers(program, "ben.becker@example.net")[answered:]
    assert "I've passed it to Chris Coordinator" in _text(ack)
    assert "Meanwhile, I've: - noted your rating: 5/5." in _text(ack)
    (notice,) = _notices(program)
    assert "I logged Ben's rating: 5/5" in _text(notice)
    assert "budget for a course" in _text(notice)
    assert "I haven't acted on it" not in _text(notice)
    _rerun_sends_nothing(program, now)
