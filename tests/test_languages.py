"""Each person reads every email in their own language, with dates on their own clock.

Unit level: every shipped translation renders for every sample context with both
parts and no untranslated English sentence; the language chain and the program's
per-language overrides. End to end on the Maildir default: a de/pt-BR pair and a
ja/en pair get welcome, agreement, booking and follow-up in their own languages.
"""

from __future__ import annotations

import email.policy
import mailbox
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from babel.dates import format_datetime as babel_datetime

from agent.mail_out.locale_fmt import at_local, describe, language_chain, offset_text
from agent.mail_out.render import Renderer, TemplateError
from agent.meetings.slots import SeriesSlot
from tests.local_harness import ProgramCli
from tests.mta import stamp
from tests.template_contexts import ALL_TEMPLATES, context_for

SHIPPED = [lang for lang in Renderer().languages() if lang != "en"]
# Every shipped language has these emails to participants; confirm_change (whose list of
# changes agent.pairs.trust words in English) and the coordinator's emails stay English, and
# an email added later falls back to English whole until it is translated.
CORE = (
    *("welcome", "agreement", "agreement_reminder", "slot_options", "invitation", "follow_up"),
    *("check_in", "nudge", "closure", "pair_removed", "farewell", "partner_changed"),
    *("progress_check", "meeting_time_check", "rating_follow_up", "acknowledge"),
    *("confirm_reply",),
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _sentences(text: str) -> list[str]:
    """English sentences of at least four words (a name or a link is not one)."""
    parts = re.split(r"(?<=[.!?:])\s+|\n", text)
    return [p.strip() for p in parts if len(re.findall(r"[A-Za-z]{2,}", p)) >= 4]


def _without(sentence: str, values: list[str]) -> str:
    """The sentence without the context's own values (names, goals, the program's texts)."""
    for value in sorted([*values, *(p for v in values for p in _sentences(v))], key=len)[::-1]:
        if value:
            sentence = sentence.replace(value, " ")
    return sentence


def test_shipped_languages_include_the_first_five() -> None:
    assert {"de", "fr", "es", "pt", "ja"} <= set(SHIPPED)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_translation_renders_wholly_translated(language: str) -> None:
    renderer = Renderer()
    for name in CORE:
        assert renderer.has(name, language), f"{name} is not translated into {language}"
    for name in ALL_TEMPLATES:
        if not renderer.has(name, language):
            continue
        context = context_for(name)
        english = renderer.render(name, context)
        translated = renderer.render(name, context, language=language)
        assert translated.language == language
        assert translated.text.strip() and translated.subject
        assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in (
            translated.html
        )
        values = sorted(_strings(context), key=len, reverse=True)
        left = [
            s
            for s in _sentences(english.text) + _sentences(english.subject)
            if s in translated.text + translated.subject and _sentences(_without(s, values))
        ]
        assert left == [], f"{name} in {language} keeps English: {left}"


def test_a_missing_variable_is_an_error_in_every_language() -> None:
    renderer = Renderer()
    for language in SHIPPED:
        context = context_for("welcome")
        del context["other"]
        with pytest.raises(TemplateError, match="'other' is undefined"):
            renderer.render("welcome", context, language=language)


def test_language_chain_falls_back_to_the_program_then_english() -> None:
    assert language_chain("pt-BR", "de") == ["pt-BR", "pt", "de", "en"]
    assert language_chain("zh", "en") == ["zh-Hans", "zh", "en"]
    assert language_chain(None, "fr") == ["fr", "en"]


def test_an_untranslated_email_comes_wholly_in_the_default_language() -> None:
    renderer = Renderer()
    missing = next((n for n in ALL_TEMPLATES if not renderer.has(n, "ja")), None)
    if missing is None:
        pytest.skip("every email is translated into ja")
    rendered = renderer.render(missing, context_for(missing), language="ja")
    assert rendered.language == "en" and '<html lang="en"' in rendered.html
    assert not re.search(r"[\u3040-\u30ff]", rendered.text)  # no Japanese frame around it


def test_program_overrides_per_language(tmp_path: Path) -> None:
    (tmp_path / "welcome.de.txt.j2").write_text(
        '{% extends "_base.txt.j2" %}{% block subject %}Servus {{ recipient.first_name }}'
        "{% endblock %}{% block body %}Schön, dass Sie dabei sind.{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "agreement.txt.j2").write_text(
        '{% extends "_base.txt.j2" %}{% block subject %}Our own agreement{% endblock %}'
        "{% block body %}Please read our own terms.{% endblock %}",
        encoding="utf-8",
    )
    renderer = Renderer(tmp_path)
    welcome = renderer.render("welcome", context_for("welcome"), language="de")
    assert welcome.subject == "Servus Ana" and "Herzliche Grüße" in welcome.text  # German frame
    # the program's own agreement, in its default language, wins over the shipped German
    agreement = renderer.render("agreement", context_for("agreement"), language="de")
    assert agreement.subject == "Our own agreement" and agreement.language == "en"
    assert "Warm wishes" in agreement.text
    assert renderer.render("welcome", context_for("welcome"), language="pt").language == "pt"
    assert "de" in renderer.languages()


def test_export_a_language_names_the_files_for_overriding(tmp_path: Path) -> None:
    written = Renderer().export(tmp_path, language="de")
    names = {p.name for p in written}
    assert "welcome.de.txt.j2" in names and "_base.de.txt.j2" in names
    assert "_layout.html.j2" not in names
    renderer = Renderer(tmp_path)
    assert renderer.render("welcome", context_for("welcome"), language="de").language == "de"
    with pytest.raises(TemplateError, match="no shipped templates"):
        Renderer().export(tmp_path / "x", language="tlh")


def test_dates_in_the_recipients_words_and_clock() -> None:
    moment = datetime(2027, 3, 16, 14, 0, tzinfo=ZoneInfo("UTC"))
    berlin, sao_paulo = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Sao_Paulo")
    assert at_local(moment, berlin, "de") == "Dienstag, 16. März 2027, 15:00 (Berlin)"
    assert at_local(moment, sao_paulo, "pt-BR") == (
        "terça-feira, 16 de março de 2027, 11:00 (São Paulo)"
    )
    assert at_local(moment, ZoneInfo("Asia/Tokyo"), "ja") == "2027年3月16日火曜日 23:00（東京）"
    assert offset_text(sao_paulo, berlin, moment, "de") == "4 Stunden früher als bei Ihnen"
    # a weekly series on the mentor's clock: Berlin's clock change on 28 March moves it
    slot = SeriesSlot(
        tz=berlin,
        first_start=datetime(2027, 3, 2, 15, 0, tzinfo=berlin),
        duration=timedelta(minutes=45),
        interval_weeks=1,
        until=datetime(2027, 5, 28, tzinfo=berlin),
    )
    assert describe(slot, berlin, "de") == "jede Woche dienstags, 15:00–15:45 (Berlin)"
    assert describe(slot, sao_paulo, "pt-BR").startswith(
        "terça-feira, toda semana, 10:00–10:45 (São Paulo; 11:00–11:45: "
    )


# ---------------------------------------------------------------------------
# End to end

PROGRAM = """\
program:
  name: Brücken 2027
  timezone: Europe/Berlin
  start: 2027-03-01
  end: 2027-05-31
  language: en
  sender: {name: Mentoring Office, email: mentoring@example.org}
  coordinator: {name: Chris Coordinator, email: coordinator@example.org}
cadence:
  agreement: {reminder_after: 3d}
  meetings: {every: 1w, duration: 45m}
participants:
  - {id: joao, name: João Pereira, email: joao@example.com.br, role: mentor, timezone: America/Sao_Paulo, hours: "09:00-13:00", language: pt-BR}
  - {id: lena, name: Lena Fischer, email: lena@example.de, role: mentee, timezone: Europe/Berlin, hours: "13:00-18:00", language: de}
  - {id: kenji, name: Kenji Watanabe, email: kenji@example.jp, role: mentor, timezone: Asia/Tokyo, hours: "16:00-20:00", language: ja}
  - {id: sam, name: Sam Hughes, email: sam@example.co.uk, role: mentee, timezone: Europe/London, hours: "08:00-12:00"}
pairs:
  - {id: joao-lena, mentor: joao, mentee: lena}
  - {id: kenji-sam, mentor: kenji, mentee: sam}
mail: {type: maildir, path: mail}
calendar: {type: ics, path: calendar}
storage: {path: state.json}
security: {authserv_id: mx.example.org}
"""

PEOPLE = {
    "joao@example.com.br": ("João Pereira", "pt-BR", "America/Sao_Paulo", "Eu concordo!"),
    "lena@example.de": ("Lena Fischer", "de", "Europe/Berlin", "Ich stimme zu."),
    "kenji@example.jp": ("Kenji Watanabe", "ja", "Asia/Tokyo", "同意します。"),
    "sam@example.co.uk": ("Sam Hughes", "en", "Europe/London", "I agree."),
}
WORDS = {  # what each language's welcome, agreement, invitation and follow-up say
    "pt-BR": ("Boas-vindas", "acordo de mentoria", "Convite:", "Como foi"),
    "de": ("Willkommen", "Mentoring-Vereinbarung", "Einladung:", "Wie war"),
    "ja": ("ようこそ", "メンタリング合意", "招待：", "いかがでしたか"),
    "en": ("Welcome", "mentoring agreement", "Invitation:", "How did your meeting"),
}


class Program(ProgramCli):
    def __init__(self, root: Path, cli) -> None:
        self.root, self.config = root, root / "program.yaml"
        super().__init__(cli, self.config)
        self.config.write_text(PROGRAM, encoding="utf-8")

    def sent(self, to: str) -> list[EmailMessage]:
        box = self.root / "mail" / "sent"
        parser = BytesParser(policy=email.policy.default)
        messages = [
            parser.parsebytes(p.read_bytes())
            for sub in ("new", "cur")
            for p in sorted((box / sub).iterdir())
        ]
        return [m for m in messages if m["To"].addresses[0].addr_spec.lower() == to]

    def only(self, to: str, part: str) -> EmailMessage:
        found = [m for m in self.sent(to) if part.lower() in m["Subject"].lower()]
        assert len(found) == 1, f"{len(found)} emails to {to} with {part!r}"
        return found[0]

    def answer(self, original: EmailMessage, sender: str, text: str, when: datetime) -> None:
        """A Gmail-style reply, quoting the original, into the inbox."""
        body = original.get_body(preferencelist=("plain",)).get_content()
        quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
        reply = EmailMessage()
        reply["From"] = f"{PEOPLE[sender][0]} <{sender}>"
        reply["To"] = original["Reply-To"]
        reply["Subject"] = "Re: " + original["Subject"]
        reply["Date"] = format_datetime(when)
        reply["Message-ID"] = make_msgid(domain="mail.example")
        reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
        header = f"On {when:%a, %b %d, %Y at %H:%M}, {original['From']} wrote:"
        reply.set_content(f"{text}\n\n{header}\n{quoted}\n")
        mailbox.Maildir(self.root / "mail" / "inbox").add(
            stamp(reply.as_bytes(policy=email.policy.SMTP))
        )


def _text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_two_bilingual_pairs_each_read_their_own_language(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    # every email waits for its reader's working day (agent.pairs.civil): Tokyo, then Brazil
    program.tick("2027-02-15T09:00")
    program.tick("2027-02-15T16:00")
    for who, (_, language, _, agree) in PEOPLE.items():
        welcome_word, agreement_word, _, _ = WORDS[language]
        welcome = program.only(who, welcome_word)
        assert welcome["Content-Language"] == language
        html = welcome.get_body(preferencelist=("html",)).get_content()
        assert f'<html lang="{language}"' in html
        agreement = program.only(who, agreement_word)
        program.answer(agreement, who, agree, datetime(2027, 2, 15, 14, tzinfo=ZoneInfo("UTC")))
    assert "I agree" not in _text(program.only("lena@example.de", "Vereinbarung"))
    assert "Ich stimme zu" in _text(program.only("lena@example.de", "Vereinbarung"))

    program.tick("2027-02-16T09:00")
    program.tick("2027-02-16T16:00")
    status = program.status("2027-02-16T16:00")
    assert status["joao-lena"]["stage"] == "scheduled"
    assert status["kenji-sam"]["stage"] == "scheduled"
    for who, (_, language, zone, _) in PEOPLE.items():
        invitation = program.only(who, WORDS[language][2])
        part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
        event = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
        local = event.decoded("DTSTART").astimezone(ZoneInfo(zone))
        text = _text(invitation)
        weekday = babel_datetime(local, "EEEE", locale=language.replace("-", "_"))
        assert weekday in text, f"{weekday} missing for {who}"
        assert f"{local:%H:%M}" in text  # the first meeting, on their own clock
        if language == "en":
            assert f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}" in text
    lena = _text(program.only("lena@example.de", "Einladung:"))
    assert "(Berlin)" in lena and "(São Paulo)" in lena  # João's clock, in German
    kenji = _text(program.only("kenji@example.jp", "招待："))
    assert "（東京）" in kenji and "（ロンドン" in kenji  # Sam's clock, with its DST weeks

    first = datetime.fromisoformat(status["joao-lena"]["meetings"]["next"])
    for hours in (3, 8, 20):
        program.tick((first + timedelta(hours=hours)).isoformat())
    for who in ("joao@example.com.br", "lena@example.de"):
        language, zone = PEOPLE[who][1], ZoneInfo(PEOPLE[who][2])
        follow_up = program.only(who, WORDS[language][3])
        local = first.astimezone(zone)
        weekday = babel_datetime(local, "EEEE", locale=language.replace("-", "_"))
        assert weekday in follow_up["Subject"] and f"{local:%H:%M}" in follow_up["Subject"]


def test_preview_and_export_in_a_language(tmp_path: Path, cli) -> None:
    config = tmp_path / "program.yaml"
    config.write_text(PROGRAM, encoding="utf-8")
    code, out, err = cli("preview", "--config", config, "welcome", "--pair", "kenji-sam")
    assert code == 0, err
    assert out.startswith("Subject: Welcome to Brücken 2027")  # Sam reads English
    code, out, err = cli(
        "preview", "--config", config, "welcome", "--pair", "kenji-sam", "--language", "ja"
    )
    assert code == 0, err
    assert "ようこそ" in out and "Welcome" not in out
    code, out, err = cli("templates", "export", tmp_path / "tpl", "--language", "pt")
    assert code == 0, err
    assert (tmp_path / "tpl" / "welcome.pt.txt.j2").is_file()


PEOPLE_TAGS = ("de", "ja", "pt-BR", "en")


def test_validate_flags_a_missing_language_and_a_missing_variable(tmp_path: Path, cli) -> None:
    (tmp_path / "tpl").mkdir()
    config = tmp_path / "program.yaml"
    config.write_text(PROGRAM.replace("  language: en\n", "  templates: tpl\n"), encoding="utf-8")
    code, _, err = cli("validate", config)
    assert code == 0, err
    # the program's own welcome, in English only: its German and Japanese readers get English
    (tmp_path / "tpl" / "welcome.txt.j2").write_text(
        '{% extends "_base.txt.j2" %}{% block subject %}Welcome, {{ recipient.first_name }}'
        "{% endblock %}{% block body %}We are glad you are here.{% endblock %}",
        encoding="utf-8",
    )
    code, _, err = cli("validate", config)
    assert code == 0, err
    lines = {
        tag: [line for line in err.splitlines() if f"no {tag} version" in line]
        for tag in PEOPLE_TAGS
    }
    assert "welcome" in lines["de"][0] and lines["de"][0].endswith("go out in en to Lena Fischer")
    assert "welcome" in lines["ja"][0] and lines["ja"][0].endswith("to Kenji Watanabe")
    assert lines["en"] == []
    # a Portuguese override naming a variable no email has
    (tmp_path / "tpl" / "follow_up.pt.txt.j2").write_text(
        '{% extends "_base.txt.j2" %}{% block subject %}Oi {{ meeting.room }}{% endblock %}'
        "{% block body %}Como foi?{% endblock %}",
        encoding="utf-8",
    )
    code, _, err = cli("validate", config)
    assert code == 2
    assert "follow_up in pt" in err and "room" in err
