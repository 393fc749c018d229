"""The new text of HTML replies, found from the clients' quote markup (agent/mail_in/html_quotes).

Each message is a whole reply as the client sends it (multipart/alternative, the
text/plain part first), with a quote header in a language the text table lacks
(Vietnamese, Greek, Indonesian, Slovak, Romanian, Icelandic): the text rules alone keep
the history, the markup shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from agent.mail_in.html_quotes import MAX_NESTING, reply_from_html
from agent.mail_in.inbound import parse_message, strip_reply


def reply(
    plain: str, html: str, *, mailer: str = "", message_id: str = "<r1@mail.example.org>"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Silva <ana@example.org>"
    msg["To"] = "Mentoring Office <office@example.org>"
    msg["Subject"] = "Re: Our next meeting"
    msg["Date"] = format_datetime(datetime(2027, 3, 2, 11, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = "<mm-1@office.example.org>"
    if mailer:
        msg["X-Mailer"] = mailer
    msg.set_content(plain)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


GMAIL_VI = (
    "Vâng, thứ Ba lúc 10 giờ được.\n\n"
    "Vào Th 3, 2 thg 3, 2027 vào lúc 10:00 Mentoring Office <office@example.org>\n"
    "đã viết:\n\n> Bạn có thể gặp vào thứ Ba không?\n>\n> Office\n",
    '<div dir="ltr">Vâng, thứ Ba lúc 10 giờ được.</div><br>'
    '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
    "Vào Th 3, 2 thg 3, 2027 vào lúc 10:00 Mentoring Office &lt;"
    '<a href="mailto:office@example.org">office@example.org</a>&gt; đã viết:<br></div>'
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
    'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
    '<div dir="ltr">Bạn có thể gặp vào thứ Ba không?<div><br></div><div>Office</div></div>'
    "</blockquote></div>\n",
)
OUTLOOK_DESKTOP_EL = (
    "Ναι, η Τρίτη είναι εντάξει για μένα.\n\n"
    "Από: Mentoring Office <office@example.org>\n"
    "Αποστολή: Τρίτη, 2 Μαρτίου 2027 10:00 πμ\n"
    "Προς: Ana Silva <ana@example.org>\n"
    "Θέμα: Η επόμενη συνάντησή μας\n\n"
    "Μπορείτε την Τρίτη στις 10:00;\n",
    '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    "<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt;} --></style></head>"
    '<body lang="EL" link="#0563C1" vlink="#954F72"><div class="WordSection1">'
    '<p class="MsoNormal">Ναι, η Τρίτη είναι εντάξει για μένα.<o:p></o:p></p>'
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
    '<p class="MsoNormal"><b>Από:</b> Mentoring Office &lt;office@example.org&gt; <br>'
    "<b>Αποστολή:</b> Τρίτη, 2 Μαρτίου 2027 10:00 πμ<br>"
    "<b>Προς:</b> Ana Silva &lt;ana@example.org&gt;<br>"
    "<b>Θέμα:</b> Η επόμενη συνάντησή μας<o:p></o:p></p></div>"
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    '<p class="MsoNormal">Μπορείτε την Τρίτη στις 10:00;<o:p></o:p></p></div></body></html>\n',
)
OUTLOOK_WEB_ID = (
    "Ya, Selasa jam 10 bisa.\n\n"
    "________________________________\n"
    "Dari: Mentoring Office <office@example.org>\n"
    "Dikirim: Selasa, 02 Maret 2027 10.00\n"
    "Kepada: Ana Silva <ana@example.org>\n"
    "Perihal: Pertemuan kita berikutnya\n\n"
    "Bisakah Anda hari Selasa jam 10?\n",
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>'
    '</head><body dir="ltr"><div class="elementToProof" style="font-family: Aptos, sans-serif;'
    ' font-size: 12pt; color: rgb(0, 0, 0);">Ya, Selasa jam 10 bisa.</div>'
    '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt"'
    ' color="#000000"><b>Dari:</b> Mentoring Office &lt;office@example.org&gt;<br>'
    "<b>Dikirim:</b> Selasa, 02 Maret 2027 10.00<br><b>Kepada:</b> Ana Silva "
    "&lt;ana@example.org&gt;<br><b>Perihal:</b> Pertemuan kita berikutnya</font>"
    '<div>&nbsp;</div></div><div><div dir="ltr">Bisakah Anda hari Selasa jam 10?</div>'
    "</div></body></html>\n",
)
THUNDERBIRD_SK = (
    "Áno, utorok o 10:00 mi vyhovuje.\n\n"
    "Dňa 2. 3. 2027 o 10:00 Mentoring Office napísal(a):\n"
    "> Môžete v utorok o 10:00?\n",
    "<!DOCTYPE html>\n<html><head>\n"
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\n'
    "</head>\n<body>\n<p>Áno, utorok o 10:00 mi vyhovuje.</p>\n"
    '<div class="moz-cite-prefix">Dňa 2. 3. 2027 o 10:00 Mentoring Office napísal(a):<br>\n'
    "</div>\n"
    '<blockquote type="cite" cite="mid:mm-1@office.example.org">\n'
    "<p>Môžete v utorok o 10:00?</p>\n</blockquote>\n</body>\n</html>\n",
)
YAHOO_ID = (
    "Ya, Selasa bisa.\n\n"
    "    Pada Selasa, 2 Maret 2027 10.00.00 GMT+1, Mentoring Office <office@example.org>"
    " menulis:  \n \n \nBisakah Anda hari Selasa?\n",
    '<html><head></head><body><div class="ydp3c8a yahoo-style-wrap" style="font-family:'
    ' Helvetica Neue, Helvetica, Arial, sans-serif; font-size:13px;">'
    '<div dir="ltr" data-setdir="false">Ya, Selasa bisa.</div></div><div><br></div><br>'
    '<div id="yahoo_quoted_2101930478" class="yahoo_quoted">'
    "<div style=\"font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;"
    'color:#26282a;"><div>Pada Selasa, 2 Maret 2027 10.00.00 GMT+1, Mentoring Office '
    "&lt;office@example.org&gt; menulis:</div><div><br></div><div><br></div>"
    '<div><div id="yiv1"><div dir="ltr">Bisakah Anda hari Selasa?</div></div></div>'
    "</div></div></body></html>\n",
)
APPLE_RO = (
    "Da, marți e bine.\n\nTrimis de pe iPhone\n\n"
    "Pe 2 mar. 2027, la 10:00, Mentoring Office <office@example.org> a scris:\n\n"
    "Puteți marți la 10?\n",
    '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
    '<body dir="auto"><div dir="ltr">Da, marți e bine.</div><div dir="ltr"><br>'
    '<div dir="ltr">Trimis de pe iPhone</div><div dir="ltr"><br><blockquote type="cite">'
    "Pe 2 mar. 2027, la 10:00, Mentoring Office &lt;office@example.org&gt; a scris:<br><br>"
    '</blockquote></div><blockquote type="cite"><div dir="ltr">Puteți marți la 10?</div>'
    "</blockquote></div></body></html>\n",
)
GMAIL_NUMBERED_IS = (
    "1. Já\n2. 4/5\n3. Þriðjudagur kl. 10\n\n"
    "þri., 2. mar. 2027 kl. 10:00 skrifaði Mentoring Office <office@example.org>:\n\n"
    "> 1. Hittust þið?\n> 2. Hversu gagnlegt (1-5)?\n> 3. Næsti fundur?\n",
    '<div dir="ltr"><div>1. Já</div><div>2. 4/5</div><div>3. Þriðjudagur kl. 10</div></div>'
    '<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">þri., 2. mar. 2027 kl. 10:00'
    " skrifaði Mentoring Office &lt;office@example.org&gt;:<br></div>"
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid'
    ' rgb(204,204,204);padding-left:1ex"><div dir="ltr">1. Hittust þið?<br>2. Hversu gagnlegt'
    " (1-5)?<br>3. Næsti fundur?</div></blockquote></div>\n",
)

CASES = {
    "Gmail, Vietnamese header wrapped": (GMAIL_VI, "Vâng, thứ Ba lúc 10 giờ được."),
    "Outlook desktop, Greek header block": (
        OUTLOOK_DESKTOP_EL,
        "Ναι, η Τρίτη είναι εντάξει για μένα.",
    ),
    "Thunderbird, Slovak": (THUNDERBIRD_SK, "Áno, utorok o 10:00 mi vyhovuje."),
    "Yahoo, Indonesian, unquoted history": (YAHOO_ID, "Ya, Selasa bisa."),
}


@pytest.mark.parametrize("case", CASES)
def test_markup_finds_the_history_the_text_rules_miss(case: str) -> None:
    (plain, html), expected = CASES[case]
    assert strip_reply(plain) != expected  # the language is not in the table
    assert parse_message(reply(plain, html)).reply_text == expected


# Text and markup agree here: the markup path must not lose what the text rules keep.
AGREE = {
    "Outlook on the web, Indonesian, under its rule": (OUTLOOK_WEB_ID, "Ya, Selasa jam 10 bisa."),
    "Gmail, Icelandic, numbered one-line answers": (
        GMAIL_NUMBERED_IS,
        "1. Já\n2. 4/5\n3. Þriðjudagur kl. 10",
    ),
    # the header inside Apple's `blockquote type=cite`; "Trimis de pe iPhone" by the table
    "Apple Mail on iPhone, Romanian": (APPLE_RO, "Da, marți e bine."),
}


@pytest.mark.parametrize("case", AGREE)
def test_markup_and_text_rules_agree(case: str) -> None:
    (plain, html), expected = AGREE[case]
    assert strip_reply(plain) == expected
    assert parse_message(reply(plain, html)).reply_text == expected


def test_inline_answers_between_quotes_are_kept() -> None:
    html = (
        '<div class="moz-cite-prefix">Le 02/03/2027 à 10:00, Mentoring Office a écrit :<br></div>'
        '<blockquote type="cite">Pouvez-vous mardi ?</blockquote>'
        "<p>Oui, mardi me va.</p>"
        '<blockquote type="cite">Et la salle 2 ?</blockquote><p>La salle 2 aussi.</p>'
    )
    plain = "Oui, mardi me va.\n\nLa salle 2 aussi.\n"
    assert parse_message(reply(plain, html)).reply_text == "Oui, mardi me va.\n\nLa salle 2 aussi."


def test_markup_only_inside_the_history_does_not_cut_the_reply() -> None:
    """An Outlook header block inside the Gmail quote is part of the removed quote."""
    html = (
        '<div dir="ltr">Works for me.<br><br>Ana</div><div class="gmail_quote">'
        '<div class="gmail_attr">El mar, 2 mar 2027 a las 10:00, Office escribió:</div>'
        '<blockquote class="gmail_quote"><div id="divRplyFwdMsg"><b>From:</b> Bo</div>'
        "<div>old</div></blockquote></div><div>PS: room 2, please.</div>"
    )
    assert reply_from_html(html, 10_000) == "Works for me.\n\nAna\nPS: room 2, please."


def test_without_client_markup_the_text_rules_decide() -> None:
    html = "<p>Yes, Tuesday.</p><p>On Mon, 1 Mar 2027 at 09:00, Office &lt;o@x.org&gt; wrote:</p>"
    assert reply_from_html(html, 10_000) is None
    plain = "Yes, Tuesday.\n\nOn Mon, 1 Mar 2027 at 09:00, Office <o@x.org> wrote:\n> Tuesday?\n"
    assert parse_message(reply(plain, html)).reply_text == "Yes, Tuesday."


def test_reply_of_only_a_quote_falls_back_to_the_text() -> None:
    """Markup that would leave nothing is not trusted: the text rules give the answer."""
    html = '<div class="gmail_quote"><blockquote class="gmail_quote">Tuesday?</blockquote></div>'
    assert reply_from_html(html, 10_000) is None


def test_deeper_nesting_than_clients_write_is_left_to_the_text_rules() -> None:
    deep = "<div>" * (MAX_NESTING + 1) + "x"
    assert reply_from_html(deep + '<div class="gmail_quote">q</div>', 10_000) is None
    shallow = "<div>" * 50 + 'Yes<div class="gmail_quote">q</div>'
    assert reply_from_html(shallow, 10_000) == "Yes"
