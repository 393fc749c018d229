"""Signatures and sign-offs in replies: what goes, and the short answers that must stay.

mentormail's convention (agent/mail_in/reply_text.py, `_cut_sign_off`): a sign-off the
sender typed ("Thanks,\\nAna") is kept; device and app signatures, "-- " signatures,
a closing over a signature block, and contact or company blocks (phone, address, VAT,
IBAN, web address) at the end of the text go. Participants answer numbered questions
in one line each: no rule may eat such an answer.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from agent.mail_in.inbound import parse_message
from agent.mail_in.quote_languages import LANGUAGES


def iphone_reply(body: str) -> bytes:
    """A reply as iOS Mail sends it as plain text: UTF-8, quoted-printable."""
    msg = EmailMessage()
    msg["From"] = "Ben Becker <ben@example.net>"
    msg["To"] = "Mentoring Office <office@example.org>"
    msg["Subject"] = "Re: How did your meeting go?"
    msg["Date"] = "Fri, 12 Mar 2027 11:00:00 +0100"
    msg["Message-ID"] = "<A1B2C3@example.net>"
    msg["In-Reply-To"] = "<mm-1@office.example.org>"
    msg["X-Mailer"] = "iPhone Mail (21D61)"
    msg.set_content(body, cte="quoted-printable")
    return msg.as_bytes()


def reply_text(body: str) -> str:
    return parse_message(iphone_reply(body)).reply_text


# One device or app signature per covered language, as the clients write it.
DEVICE_SIGNATURES = {
    "en": "Sent from my iPhone",
    "de": "Von meinem iPhone gesendet",
    "fr": "Envoyé de mon iPhone",
    "es": "Enviado desde mi iPhone",
    "pt": "Enviado do meu iPhone",
    "it": "Inviato da iPhone",
    "nl": "Verzonden vanaf mijn iPhone",
    "pl": "Wysłane z mojego iPhone'a",
    "sv": "Skickat från min iPhone",
    "ja": "iPhoneから送信",
    "zh": "发自我的iPhone",
    "zh-TW": "從我的 iPhone 傳送",
    "da": "Sendt fra min iPad",
    "no": "Sendt fra min iPhone",
    "fi": "Lähetetty iPhonesta",
    "ru": "Отправлено с iPhone",
    "uk": "Надіслано з iPhone",
    "ca": "Enviat des del meu iPhone",
    "ko": "나의 iPhone에서 보냄",
    "hu": "iPhone-ról küldve",
    "tr": "iPhone'dan gönderildi",
    "cs": "Odesláno z iPhonu",
    "ar": "تم الإرسال من iPhone",
    "he": "נשלח מה-iPhone שלי",
    "ro": "Trimis de pe iPhone",
}
APP_SIGNATURES = [
    "Get Outlook for Android<https://aka.ms/AAb9ysg>",
    "Gesendet von Outlook für Android",
    "Envoyé à partir de Outlook pour iOS",
    "Obtener Outlook para iOS",
    "Sent from Mail for Windows",
    "Sent from TypeApp",
    "Sent from Yahoo Mail on Android",
    "Получить Outlook для iOS",
    "iOS용 Outlook 받기",
    "iOS için Outlook'u edinin",
    "Stáhněte si Outlook pro iOS",
]


def test_every_language_but_the_numeric_one_has_a_device_signature() -> None:
    assert set(DEVICE_SIGNATURES) == {code for code in LANGUAGES if code != "und"}


@pytest.mark.parametrize("code", DEVICE_SIGNATURES)
def test_device_signature_goes(code: str) -> None:
    assert reply_text(f"2. 4/5\n\n{DEVICE_SIGNATURES[code]}\n") == "2. 4/5"


@pytest.mark.parametrize("line", APP_SIGNATURES)
def test_app_signature_goes(line: str) -> None:
    assert reply_text(f"Yes, Tuesday works.\n\n{line}\n") == "Yes, Tuesday works."


CONTACT_BLOCKS = {
    "German company footer": (
        "Ja, Donnerstag passt.\n\nBen Becker\nSenior Engineer | ACME GmbH\n"
        "Friedrichstraße 12, 10117 Berlin\nT: +49 30 1234567\nwww.acme.example\n"
        "USt-IdNr.: DE123456789\n",
        "Ja, Donnerstag passt.",
    ),
    "Dutch company details": (
        "Prima, tot dinsdag.\n\nJan de Vries\nVoorbeeld B.V.\n"
        "Keizersgracht 1, 1015 CJ Amsterdam\nKvK 12345678 | BTW NL123456789B01\n"
        "IBAN NL91 ABNA 0417 1643 00\n",
        "Prima, tot dinsdag.",
    ),
    "English contact lines with a blank line inside": (
        "We met on Tuesday.\n\nBen Becker\n\nMobile: +44 7700 900123\nben@example.net\n",
        "We met on Tuesday.",
    ),
    "closing over a signature block": (
        "Yes\n\nThanks,\nBen Becker\nACME Corp\n+49 30 1234567\n",
        "Yes",
    ),
}


@pytest.mark.parametrize("case", CONTACT_BLOCKS)
def test_contact_block_goes(case: str) -> None:
    body, expected = CONTACT_BLOCKS[case]
    assert reply_text(body) == expected


KEPT = [
    "Thanks!",
    "Yes",
    "4/5",
    "1. Yes\n2. 4/5\n3. On track, we meet again on 2027-03-19",
    # a one-line answer that is all contact details is still the answer
    "My new number is +49 170 1234567",
    "+49 170 1234567",
    "Friedrichstraße 12, 10117 Berlin",
    # numbered answers with contact details are answers
    "1. Yes\n2. 5\n\n3. Call me: +49 170 1234567\n4. www.example.org/notes",
    # a typed sign-off is part of what the sender wrote
    "Yes, Tuesday works.\n\nThanks,\nBen",
    "See you Friday.\n\nBest regards\n\nBen",
    "Danke!\n\nViele Grüße\nBen",
    # one contact line is not a block
    "We can meet at the office.\n\nBen\n+49 30 1234567",
]


@pytest.mark.parametrize("text", KEPT)
def test_short_answers_and_typed_sign_offs_stay(text: str) -> None:
    assert reply_text(text + "\n") == text
