"""agent.mail_in.inbound: MIME decoding, classification and reply extraction."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from email_reply_parser import EmailReplyParser
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.mail_in.inbound import parse_message, strip_reply
from bench.corpora import RUBY_OVERRIDES, Fixture, load_all, passes, passes_ruby

# --------------------------------------------------------------------------- helpers


def message(body: str = "Hello", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ana Silva <ana@example.org>")
    msg["To"] = headers.pop("To", "mentoring@example.org")
    msg["Subject"] = headers.pop("Subject", "Re: Your mentoring agreement")
    msg["Message-ID"] = headers.pop("Message_ID", "<reply-1@example.org>")
    msg["Date"] = headers.pop("Date", "Tue, 02 Mar 2027 10:00:00 +0100")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def raw_message(head: str, body: bytes) -> bytes:
    head = "From: ana@example.org\r\nMessage-ID: <r@example.org>\r\n" + head
    return head.replace("\n", "\r\n").replace("\r\r", "\r").encode() + b"\r\n" + body


# --------------------------------------------------------------------------- headers


def test_addresses_ids_and_date_are_normalised() -> None:
    msg = message(
        From='"Silva, Ana" <Ana.Silva@Example.ORG>',
        To="Office <Office@example.org>, ben@example.org",
        Cc="office@example.org, Carla <carla@example.org>",
        Delivered_To="bot@example.org",
        X_Original_To="Ben@example.org",
        In_Reply_To="<m1@mentor.example>",
        References="<m0-long-enough-to-fold@mentor.example> <m1-long-enough-too@mentor.example>",
    )
    parsed = parse_message(msg.as_bytes())
    assert parsed.from_addr == "ana.silva@example.org"
    assert parsed.from_name == "Silva, Ana"
    assert parsed.to_addrs == (
        "office@example.org",
        "ben@example.org",
        "carla@example.org",
        "bot@example.org",
    )
    assert parsed.message_id == "reply-1@example.org"
    assert parsed.in_reply_to == ("m1@mentor.example",)
    assert parsed.references == (
        "m0-long-enough-to-fold@mentor.example",
        "m1-long-enough-too@mentor.example",
    )
    assert parsed.date == datetime(2027, 3, 2, 10, tzinfo=timezone(timedelta(hours=1)))
    assert ("Delivered-To", "bot@example.org") in parsed.headers
    assert parsed.problems == ()


def test_date_without_zone_is_utc_and_garbage_date_is_none() -> None:
    naive = raw_message("Date: Tue, 02 Mar 2027 10:00:00\n", b"hi")
    assert parse_message(naive).date == datetime(2027, 3, 2, 10, tzinfo=UTC)
    broken = parse_message(raw_message("Date: next tuesday-ish\n", b"hi"))
    assert broken.date is None
    assert any("Date" in p for p in broken.problems)


def test_rfc2047_headers_are_decoded() -> None:
    raw = raw_message(
        "Subject: =?UTF-8?B?w5xiZXIgZGllIFZlcmVpbmJhcnVuZw==?= und\n"
        " =?iso-8859-1?q?R=E9ponse?=\n"
        "To: =?utf-8?q?M=C3=BCller=2C_Hans?= <hans@example.de>\n",
        b"Ja",
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Über die Vereinbarung und Réponse"
    assert parsed.to_addrs == ("hans@example.de",)
    assert ("To", "Müller, Hans <hans@example.de>") in parsed.headers


def test_encoded_display_name_with_comma_stays_one_address() -> None:
    raw = raw_message("To: x@example.org\n", b"hi").replace(
        b"From: ana@example.org", b"From: =?utf-8?q?M=C3=BCller=2C_Hans?= <Hans@Example.de>"
    )
    parsed = parse_message(raw)
    assert (parsed.from_name, parsed.from_addr) == ("Müller, Hans", "hans@example.de")


def test_missing_message_id_uses_digest_of_raw() -> None:
    raw = b"From: ana@example.org\r\nSubject: hi\r\n\r\nI agree\r\n"
    parsed = parse_message(raw)
    assert parsed.message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert "missing Message-ID" in parsed.problems


# --------------------------------------------------------------------------- bodies


def test_multipart_alternative_prefers_plain_text() -> None:
    msg = message("I agree.\n\nAna")
    msg.add_alternative("<p>I agree <b>in HTML</b></p>", subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text.strip() == "I agree.\n\nAna"
    assert "HTML" not in parsed.text


def test_html_only_is_converted_to_text() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
        "<p>Hi&nbsp;Ana &amp; Ben,</p><p>My goals:</p><ul><li>Learn Rust</li><li>Speak up</li>"
        "</ul><div>line one<br>line two</div><ol><li>first</li><li>second</li></ol>"
        "<blockquote>quoted <b>text</b></blockquote></body></html>"
    )
    msg = message()
    msg.set_content(html, subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text == (
        "Hi Ana & Ben,\n\nMy goals:\n\n- Learn Rust\n- Speak up\nline one\nline two\n"
        "1. first\n2. second\n> quoted text"
    )
    assert "alert" not in parsed.text and "color" not in parsed.text
    assert parsed.reply_text.endswith("2. second")


def test_html_gmail_quote_is_stripped() -> None:
    html = (
        '<div dir="ltr">Sounds good, I agree!</div><br><div class="gmail_quote">'
        '<div dir="ltr" class="gmail_attr">On Tue, Mar 2, 2027 at 10:00 AM Mentoring Office '
        '&lt;<a href="mailto:office@example.org">office@example.org</a>&gt; wrote:<br></div>'
        '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Please reply "I agree".'
        "<br></blockquote></div>"
    )
    msg = message()
    msg.set_content(html, subtype="html")
    assert parse_message(msg.as_bytes()).reply_text == "Sounds good, I agree!"


def test_html_outlook_web_reply_is_stripped() -> None:
    html = (
        '<html><body><div style="font-family: Aptos">Yes, count me in.</div>'
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt">'
        "<b>From:</b> Mentoring Office &lt;office@example.org&gt;<br><b>Sent:</b> Tuesday, "
        "March 2, 2027 10:00 AM<br><b>To:</b> Ben Becker &lt;ben@acme.example&gt;<br>"
        "<b>Subject:</b> Your mentoring agreement</font><div>&nbsp;</div></div>"
        "<div>Dear Ben, please reply I agree.</div></body></html>"
    )
    msg = message()
    msg.set_content(html, subtype="html")
    assert parse_message(msg.as_bytes()).reply_text == "Yes, count me in."


def test_html_outlook_desktop_reply_is_stripped() -> None:
    html = (
        '<html><body><div class="WordSection1"><p class="MsoNormal">Ich stimme zu.<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal">'
        "<b>Von:</b> Mentoring Office &lt;office@example.org&gt;<br><b>Gesendet:</b> Dienstag, "
        "2. März 2027 10:00<br><b>An:</b> Jonas<br><b>Betreff:</b> Vereinbarung</p></div>"
        '<p class="MsoNormal">Hallo Jonas</p></div></body></html>'
    )
    msg = message()
    msg.set_content(html, subtype="html")
    assert parse_message(msg.as_bytes()).reply_text == "Ich stimme zu."


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Grüße aus Köln, ça va?"),
        ("windows-1252", "“Smart quotes” – and €uro"),
        ("shift_jis", "了解しました。よろしくお願いします。"),
        ("gb2312", "我同意这个协议。"),
    ],
)
@pytest.mark.parametrize("cte", ["8bit", "quoted-printable", "base64"])
def test_charsets_and_transfer_encodings(charset: str, text: str, cte: str) -> None:
    data = text.encode(charset)
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        import quopri

        body = quopri.encodestring(data)
    else:
        body = data
    head = f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n"
    parsed = parse_message(raw_message(head, body))
    assert parsed.text.strip() == text
    assert parsed.problems == ()


def test_latin1_label_decodes_windows_1252_punctuation() -> None:
    head = "Content-Type: text/plain; charset=iso-8859-1\n"
    parsed = parse_message(raw_message(head, "It’s – fine".encode("cp1252")))
    assert parsed.text == "It’s – fine"


@pytest.mark.parametrize(
    ("charset", "body", "expected", "problem"),
    [
        ("x-unknown-charset", "Grüße".encode(), "Grüße", "unknown charset"),
        ("utf-8", "Grüße".encode("latin-1"), "Grüße", "not valid"),
        ("us-ascii", "Grüße".encode(), "Grüße", None),
        (None, "Grüße".encode("latin-1"), "Grüße", None),
    ],
)
def test_unknown_or_mislabelled_charsets_fall_back(
    charset: str | None, body: bytes, expected: str, problem: str | None
) -> None:
    head = f"Content-Type: text/plain; charset={charset}\n" if charset else ""
    parsed = parse_message(raw_message(head + "Content-Transfer-Encoding: 8bit\n", body))
    assert parsed.text == expected
    if problem:
        assert any(problem in p for p in parsed.problems)


def test_attachments_are_listed_and_not_read_as_text() -> None:
    msg = message("See attached, I agree.")
    msg.add_attachment(b"%PDF-1.7 secret", maintype="application", subtype="pdf", filename="cv.pdf")
    msg.add_attachment("notes: stop", subtype="plain", filename="notes.txt")
    msg.add_attachment(
        b"\x89PNG", maintype="image", subtype="png", filename="=?utf-8?q?Gr=C3=BC=C3=9Fe.png?="
    )
    parsed = parse_message(msg.as_bytes())
    assert parsed.attachments == ("cv.pdf", "notes.txt", "Grüße.png")
    assert parsed.text.strip() == "See attached, I agree."


def test_attached_message_is_not_read_as_body() -> None:
    inner = message("Inner text: I agree", Subject="forwarded")
    outer = message("Forwarding this.")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes())
    assert "Inner text" not in parsed.text
    assert parsed.attachments == ("message/rfc822",)


ICS = (
    "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:series-1@mentormail\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_calendar_part_inside_alternative_is_decoded() -> None:
    msg = message("Accepted: Mentoring")
    msg.add_alternative("<p>Accepted</p>", subtype="html")
    msg.add_alternative(ICS, subtype="calendar", params={"method": "REPLY"})
    parsed = parse_message(msg.as_bytes())
    assert parsed.calendar == (ICS.replace("\r\n", "\n"),)  # as_bytes() wrote LF line ends
    assert parsed.text.strip() == "Accepted: Mentoring"
    assert parsed.attachments == ()


def test_ics_attachment_is_decoded_and_listed() -> None:
    msg = message("Here is the invite back")
    msg.add_attachment(
        ICS.encode(), maintype="application", subtype="octet-stream", filename="invite.ics"
    )
    parsed = parse_message(msg.as_bytes())
    assert parsed.attachments == ("invite.ics",)
    assert len(parsed.calendar) == 1
    assert "PARTSTAT=ACCEPTED" in parsed.calendar[0]


def test_body_is_capped_at_max_bytes() -> None:
    parsed = parse_message(message("x" * 5000).as_bytes(), max_bytes=1000)
    assert len(parsed.text.encode()) == 1000
    assert "body truncated to 1000 bytes" in parsed.problems


def test_truncated_message_still_yields_text() -> None:
    msg = message("I agree to the agreement.")
    msg.add_attachment(b"A" * 3000, maintype="application", subtype="pdf", filename="a.pdf")
    raw = msg.as_bytes()
    parsed = parse_message(raw[: len(raw) // 2])
    assert parsed.reply_text == "I agree to the agreement."
    assert parsed.from_addr == "ana@example.org"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x80\x81",
        b"From: <<<>>>\r\nTo: ,,,@@@\r\nDate: \xff\r\nMessage-ID: <\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--",
        b'Content-Type: text/plain; charset="\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@',
        b"Subject: =?utf-8?B?!!!notbase64?=\r\n\r\nx",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.message_id
    assert parsed.problems


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_never_raises(raw: bytes) -> None:
    assert parse_message(raw).message_id


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_headers_and_body_text_never_raise(noise: str) -> None:
    raw = f"From: {noise}\r\nSubject: {noise}\r\nContent-Type: {noise}\r\n\r\n{noise}"
    assert parse_message(raw.encode("utf-8", "surrogatepass")).message_id


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted"),
        ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted"),
        ({"X_Autoreply": "yes"}, "X-Autoreply"),
        ({"X_Autorespond": "Out of office"}, "X-Autorespond"),
        ({"Precedence": "bulk"}, "Precedence"),
        ({"Precedence": "auto_reply"}, "Precedence"),
        ({"List_Id": "<mentors.example.org>"}, "mailing list"),
        ({"List_Unsubscribe": "<mailto:leave@example.org>"}, "mailing list"),
        ({"Subject": "Automatic reply: Your mentoring agreement"}, "subject"),
        ({"Subject": "Auto: Your mentoring agreement"}, "subject"),
        ({"Subject": "Out of Office: Your mentoring agreement"}, "subject"),
        ({"Subject": "Autoreply: Re: check-in"}, "subject"),
        ({"Subject": "Abwesenheitsnotiz: Ihre Vereinbarung"}, "subject"),
        ({"Subject": "Réponse automatique : Votre accord"}, "subject"),
        ({"Subject": "Respuesta automática: Su acuerdo"}, "subject"),
        ({"Subject": "Resposta automática: Seu acordo"}, "subject"),
        ({"Subject": "Risposta automatica: accordo"}, "subject"),
        ({"Subject": "Automatisch antwoord: Uw overeenkomst"}, "subject"),
    ],
)
def test_auto_replies_are_recognised(headers: dict[str, str], reason: str) -> None:
    auto = parse_message(message("I am away until Monday.", **headers).as_bytes()).auto_reply
    assert auto is not None and reason in auto


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Auto_Response_Suppress": "All"},  # Outlook sets this on ordinary mail
        {"Auto_Submitted": "no"},
        {"Precedence": "normal"},
        {"Subject": "Re: out of office tips for our next session?"},
        {"Subject": "Re: Your mentoring agreement"},
    ],
)
def test_ordinary_mail_is_not_auto_reply(headers: dict[str, str]) -> None:
    assert parse_message(message("I agree", **headers).as_bytes()).auto_reply is None


DSN = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r
To: mentoring@example.org\r
Subject: Undelivered Mail Returned to Sender\r
Message-ID: <dsn-1@mx.example.org>\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
\r
--B\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.org\r
\r
Final-Recipient: rfc822; Gone@Example.com\r
Original-Recipient: rfc822;gone@example.com\r
Action: failed\r
Status: 5.1.1\r
\r
Final-Recipient: rfc822; late@example.com\r
Action: delayed\r
Status: 4.4.1\r
--B\r
Content-Type: text/rfc822-headers\r
\r
From: mentoring@example.org\r
Subject: Your mentoring agreement\r
--B--\r
"""


def test_dsn_bounce_with_failed_recipient() -> None:
    parsed = parse_message(DSN)
    assert parsed.bounce
    assert parsed.failed_recipients == ("gone@example.com",)
    assert parsed.auto_reply is not None
    assert "Your mentoring agreement" not in parsed.text


def test_exim_bounce_from_mailer_daemon() -> None:
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\n"
        b"X-Failed-Recipients: gone@example.com\r\nSubject: Mail delivery failed\r\n\r\n"
        b"This message was created automatically by mail delivery software.\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.bounce
    assert parsed.failed_recipients == ("gone@example.com",)


def test_human_message_about_delivery_is_not_a_bounce() -> None:
    msg = message(
        "Your email was not delivered to Ben, Action: failed", X_Failed_Recipients="x@y.z"
    )
    parsed = parse_message(msg.as_bytes())
    assert not parsed.bounce
    assert parsed.failed_recipients == ()


@pytest.mark.parametrize(
    ("results", "fail"),
    [
        ("mx.example.org; spf=pass; dkim=fail; dmarc=fail (p=reject) header.from=x.org", True),
        ("mx.example.org; dmarc=pass header.from=example.org", False),
        ("mx.example.org; spf=fail", False),
    ],
)
def test_dmarc_fail(results: str, fail: bool) -> None:
    msg = message("I agree", Authentication_Results=results)
    assert parse_message(msg.as_bytes()).dmarc_fail is fail


# --------------------------------------------------------------------------- strip_reply: corpora


CORPUS = [fixture for fixtures in load_all().values() for fixture in fixtures]


@pytest.mark.parametrize("fixture", CORPUS, ids=[f"{f.corpus}/{f.name}" for f in CORPUS])
def test_corpus(fixture: Fixture) -> None:
    """The peers' own expectations (bench/corpora.py grades as SOURCE.txt says)."""
    reply = strip_reply(fixture.text)
    assert passes_ruby(reply, fixture), reply[:500]


# --------------------------------------------------------------------------- strip_reply: clients

CLIENTS: dict[str, tuple[str, str]] = {
    "gmail_wrapped_header": (
        "I agree, see you Thursday!\n\nOn Tue, Mar 2, 2027 at 10:00 AM Mentoring Office <\n"
        "office@example.org> wrote:\n\n> Please reply I agree.\n>\n> Thanks\n",
        "I agree, see you Thursday!",
    ),
    "gmail_unquoted_history": (
        "Done with goal 1.\n\nOn Tue, Mar 2, 2027 at 10:00 AM Office <o@example.org> wrote:\n\n"
        "How is it going?\n",
        "Done with goal 1.",
    ),
    "outlook_desktop": (
        "Sounds good, I agree.\r\n\r\nThanks,\r\nBen Becker\r\nACME Corp\r\n+49 30 1234567\r\n\r\n"
        "From: Mentoring Office <office@example.org>\r\nSent: Tuesday, March 2, 2027 10:00 AM\r\n"
        "To: Ben Becker <ben@acme.example>\r\nSubject: Your mentoring agreement\r\n\r\nHello Ben,",
        "Sounds good, I agree.",
    ),
    "outlook_original_message": (
        "Can we move Thursday to Friday 3pm?\n\n-----Original Message-----\nFrom: Office\n"
        "Sent: Tuesday\nTo: Ben\nSubject: Check-in\n\nHow are you?",
        "Can we move Thursday to Friday 3pm?",
    ),
    "outlook_web_mobile": (
        "Yes, count me in.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n"
        "________________________________\nFrom: Office <o@example.org>\n"
        "Sent: Tuesday, March 2, 2027 10:00\nTo: Ben\nSubject: Agreement\n\nHi",
        "Yes, count me in.",
    ),
    "apple_mail_iphone": (
        "Happy to do Friday.\n\nSent from my iPhone\n\n"
        "> On 2 Mar 2027, at 10:00, Ana Silva <ana@example.org> wrote:\n>\n> Hi\n",
        "Happy to do Friday.",
    ),
    "apple_mail_desktop": (
        "Happy to do Friday.\n\nBest,\nAna\n\n"
        "On 2 Mar 2027, at 10:00, Ben <ben@example.org> wrote:\n\n> Hi Ana\n",
        "Happy to do Friday.\n\nBest,\nAna",
    ),
    "thunderbird_inline": (
        "On 02/03/2027 10:00, Mentoring Office wrote:\n> What are your goals?\n\n"
        "1. Learn Rust\n2. Public speaking\n\n> And when can you meet?\n\nTuesdays work best.\n\n"
        "-- \nCarla Jones\nSenior Engineer\n",
        "1. Learn Rust\n2. Public speaking\n\nTuesdays work best.",
    ),
    "thunderbird_named": (
        "Agreed.\n\nMentoring Office <office@example.org> wrote:\n> Please confirm\n",
        "Agreed.",
    ),
    "german_gmail": (
        "Ich stimme zu.\n\nViele Grüße\nJonas\n\nVon meinem iPhone gesendet\n\n"
        "Am 02.03.2027 um 10:00 schrieb Mentoring Office <office@example.org>:\n\n> Hallo Jonas,\n",
        "Ich stimme zu.\n\nViele Grüße\nJonas",
    ),
    "german_outlook": (
        "Einverstanden!\n\n-----Ursprüngliche Nachricht-----\nVon: Mentoring Office\n"
        "Gesendet: Dienstag, 2. März 2027 10:00\nAn: Jonas\nBetreff: Vereinbarung\n\nHallo",
        "Einverstanden!",
    ),
    "german_outlook_no_separator": (
        "Können wir verschieben?\n\nVon: Mentoring Office <office@example.org>\n"
        "Gesendet: Dienstag, 2. März 2027 10:00\nAn: Jonas <j@example.de>\nBetreff: Termin\n",
        "Können wir verschieben?",
    ),
    "french_gmail": (
        "D'accord pour jeudi.\n\nCordialement,\nClaire Martin\n\n"
        "Le mar. 2 mars 2027 à 10:00, Ana Silva <ana@example.org> a écrit :\n> Bonjour",
        "D'accord pour jeudi.\n\nCordialement,\nClaire Martin",
    ),
    "french_outlook": (
        "J'accepte.\n\nEnvoyé de mon iPhone\n\n-------- Message d'origine --------\nDe : Office\n"
        "Envoyé : mardi 2 mars 2027 10:00\nÀ : Claire\nObjet : Accord\n",
        "J'accepte.",
    ),
    "spanish_gmail": (
        "Estoy de acuerdo.\n\nSaludos\n\n"
        "El mar, 2 mar 2027 a las 10:00, Ana Silva (<ana@example.org>) escribió:\n> Hola",
        "Estoy de acuerdo.\n\nSaludos",
    ),
    "spanish_outlook": (
        "Acepto.\n\nEnviado desde mi iPhone\n\nDe: Office <o@example.org>\n"
        "Enviado: martes, 2 de marzo de 2027 10:00\nPara: Lucía\nAsunto: Acuerdo\n\nHola",
        "Acepto.",
    ),
    "dutch_portuguese_italian": (
        "Akkoord.\n\nOp di 2 mrt. 2027 om 10:00 schreef Ana Silva <ana@example.org>:\n> Hoi\n"
        "> Em ter., 2 de mar. de 2027 às 10:00, Ana <a@example.org> escreveu:\n",
        "Akkoord.",
    ),
    "portuguese": (
        "Concordo.\n\nEm ter., 2 de mar. de 2027 às 10:00, Ana <a@example.org> escreveu:\n> Olá",
        "Concordo.",
    ),
    "italian": (
        "Sono d'accordo.\n\nIl giorno mar 2 mar 2027 alle ore 10:00 Ana Silva <ana@example.org> "
        "ha scritto:\n> Ciao",
        "Sono d'accordo.",
    ),
    "bottom_post": (
        "On Tue, Mar 2, 2027 at 10:00 AM Office <o@example.org> wrote:\n> Rate the meeting 1-5\n"
        "\n4/5, very useful.\n\nCheers\n",
        "4/5, very useful.\n\nCheers",
    ),
    "signoff_with_company": (
        "We met on Tuesday and reviewed my CV.\n\nThanks,\nBen Becker\nACME Corp\n+49 30 1234567",
        "We met on Tuesday and reviewed my CV.",
    ),
    "signoff_same_line": ("See you Friday.\n\nCheers, Ana", "See you Friday.\n\nCheers, Ana"),
    "dash_name": ("Works for me.\n\n-Ana", "Works for me."),
    "disclaimer": (
        "We met and talked about my CV.\n\nCONFIDENTIALITY NOTICE: This email and any "
        "attachments are confidential and intended solely for the addressee.",
        "We met and talked about my CV.",
    ),
    "disclaimer_sentence": (
        "Progress: done.\n\nThis email and any attachments are confidential and may be privileged.",
        "Progress: done.",
    ),
    "android": ("Skip next week please\n\nSent from my Android device", "Skip next week please"),
}


@pytest.mark.parametrize(("text", "expected"), CLIENTS.values(), ids=CLIENTS.keys())
def test_client_replies(text: str, expected: str) -> None:
    assert strip_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Thanks!",  # a sign-off alone is the message
        "On reflection, this is what I wrote:\n\nI can make it.",  # no date: not a quote header
        "Best way forward: meet on Fridays.\nRegards to your team, they were great.",
        "-- \nonly a signature delimiter first",
        "Hi there!\n\nAnd here is a fix -- this is not a signature.",
        "Sent from my desk, where it is much easier than from my mobile phone.",
        "I'm in Berlin next week\n- so Tuesday works\n- or Wednesday",
    ],
)
def test_conservative_keeps_the_message(text: str) -> None:
    assert strip_reply(text) == text.strip()


def test_only_quoted_text_gives_empty_reply() -> None:
    assert strip_reply("> quoted\n> more\n") == ""


# --------------------------------------------------------------------------- scoreboard


def test_scoreboard_against_email_reply_parser() -> None:
    """Print corpus and client-fixture pass counts for ours and the PyPI library.

    Run with `-s` to see the numbers. On the corpora the library is the
    reference for fact-less files, so it passes them by construction.
    """
    ours = sum(passes(strip_reply(f.text), f.facts) for f in CORPUS)
    lib = sum(passes(EmailReplyParser.parse_reply(f.text), f.facts) for f in CORPUS)
    ours_clients = sum(strip_reply(t) == e for t, e in CLIENTS.values())
    lib_clients = sum(EmailReplyParser.parse_reply(t).strip() == e for t, e in CLIENTS.values())
    print(
        f"\ncorpora ({len(CORPUS)} files): mentormail {ours}, email-reply-parser {lib}"
        f"\nclient fixtures ({len(CLIENTS)}): mentormail {ours_clients}, "
        f"email-reply-parser {lib_clients}"
    )
    assert ours >= len(CORPUS) - 2 * len(RUBY_OVERRIDES)  # each override is in both corpora
    assert ours_clients == len(CLIENTS) > lib_clients
