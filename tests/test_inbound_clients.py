"""agent.mail_in.inbound against realistic replies from real mail clients, by client and language.

Every fixture is a raw message built here the way the client builds it (MIME
structure, charset, transfer encoding, format=flowed, localized quote
headers) and asserts the exact `reply_text`: what the participant newly wrote.
"""

from __future__ import annotations

import base64
import quopri
import re
from collections.abc import Callable
from email.message import EmailMessage
from html import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.mail_in import reply_text
from agent.mail_in.inbound import parse_message, strip_reply
from agent.mail_in.message import InboundMessage

# --------------------------------------------------------------------------- builders

ANA = "Ana Silva <ana@example.org>"


def _envelope(**headers: str) -> EmailMessage:
    """A reply from Ben to Ana; keyword arguments add or replace headers (`X_Mailer=`)."""
    fields = {
        "From": "Ben Becker <ben@example.net>",
        "To": ANA,
        "Subject": "Re: Mentoring",
        "Date": "Fri, 12 Mar 2027 11:00:00 +0100",
        "Message-ID": "<reply@example.net>",
        "In-Reply-To": "<m1@example.org>",
    }
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    msg = EmailMessage()
    for name, value in fields.items():
        msg[name] = value
    return msg


def gmail(plain: str) -> bytes:
    """multipart/alternative, UTF-8 quoted-printable, no X-Mailer; the text part is read."""
    msg = _envelope()
    msg.set_content(plain, cte="quoted-printable")
    msg.add_alternative(f'<div dir="ltr">{escape(plain)}</div>', subtype="html")
    return msg.as_bytes()


def outlook(plain: str, *, charset: str = "utf-8", cte: str = "quoted-printable") -> bytes:
    """Outlook desktop: multipart/alternative in the Windows charset of the user's locale."""
    msg = _envelope(X_Mailer="Microsoft Outlook 16.0", Thread_Index="AdkX1Y2Z3A==")
    msg.set_content(plain, charset=charset, cte=cte)
    msg.add_alternative("<html><body><p>see text part</p></body></html>", subtype="html")
    return msg.as_bytes()


def html_only(html: str, *, charset: str = "utf-8", **headers: str) -> bytes:
    """Outlook on the web and some phones: a single text/html part."""
    msg = _envelope(**headers)
    msg.set_content(html, subtype="html", charset=charset, cte="base64")
    return msg.as_bytes()


def flowed(plain: str, *, delsp: bool, **headers: str) -> bytes:
    """Apple Mail (delsp=yes) and Thunderbird (delsp=no): text/plain; format=flowed."""
    msg = _envelope(**headers)
    msg.set_content(plain, cte="quoted-printable" if delsp else "8bit")
    msg.set_param("format", "flowed")
    if delsp:
        msg.set_param("delsp", "yes")
    return msg.as_bytes()


def apple(plain: str) -> bytes:
    return flowed(plain, delsp=True, X_Mailer="iPhone Mail (22D63)")


def thunderbird(plain: str) -> bytes:
    return flowed(plain, delsp=False, User_Agent="Mozilla Thunderbird")


def yahoo(plain: str) -> bytes:
    msg = _envelope(X_Mailer="WebService/1.1.23187 YMailNorrin")
    msg.set_content(plain, cte="quoted-printable")
    msg.add_alternative(f'<div class="ydp1"><div>{escape(plain)}</div></div>', subtype="html")
    return msg.as_bytes()


def raw_text(
    body: bytes,
    content_type: str,
    cte: str = "8bit",
    *,
    sender: str = "Ben Becker <ben@example.net>",
    subject: str = "Re: Mentoring",
) -> bytes:
    """A literal single-part message, for byte sequences the email package cannot write."""
    lines = [
        f"From: {sender}",
        "To: ana@example.org",
        f"Subject: {subject}",
        "Message-ID: <literal@example.net>",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
        f"Content-Transfer-Encoding: {cte}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --------------------------------------------------------------------------- fixtures

QUOTE_EN = "> Hi Ben, can you confirm Friday 10:00?\n>\n> Ana\n"

CLIENTS: dict[str, tuple[bytes, str]] = {
    # ---- Gmail
    "gmail-en": (
        gmail(
            "Friday works, see you then.\n\n"
            "On Fri, Mar 12, 2027 at 10:00 AM Ana Silva <ana@example.org> wrote:\n\n" + QUOTE_EN
        ),
        "Friday works, see you then.",
    ),
    "gmail-en-inline": (
        gmail(
            "On Fri, Mar 12, 2027 at 10:00 AM Ana Silva <ana@example.org> wrote:\n\n"
            "> What are your goals?\n\nPublic speaking.\n\n> When can you meet?\n\n"
            "Tuesdays.\n\n-- \nBen Becker\n"
        ),
        "Public speaking.\n\nTuesdays.",
    ),
    "gmail-de": (
        gmail(
            "Freitag passt.\n\nViele Grüße\nBen\n\n"
            "Am Fr., 12. März 2027 um 10:00 Uhr schrieb Ana Silva <ana@example.org>:\n\n"
            "> Hallo Ben,\n"
        ),
        "Freitag passt.\n\nViele Grüße\nBen",
    ),
    "gmail-fr": (
        gmail(
            "Vendredi me convient.\n\n"
            "Le ven. 12 mars 2027 à 10:00, Ana Silva <ana@example.org> a écrit :\n\n> Bonjour\n"
        ),
        "Vendredi me convient.",
    ),
    "gmail-es": (
        gmail(
            "El viernes me va bien.\n\nUn saludo\n\n"
            "El vie, 12 mar 2027 a las 10:00, Ana Silva (<ana@example.org>) escribió:\n\n> Hola\n"
        ),
        "El viernes me va bien.\n\nUn saludo",
    ),
    "gmail-pt": (
        gmail(
            "Sexta-feira está ótimo.\n\n"
            "Em sex., 12 de mar. de 2027 às 10:00, Ana Silva <ana@example.org> escreveu:\n\n> Olá\n"
        ),
        "Sexta-feira está ótimo.",
    ),
    "gmail-it": (
        gmail(
            "Venerdì va bene.\n\nIl giorno ven 12 mar 2027 alle ore 10:00 Ana Silva <"
            "ana@example.org> ha scritto:\n\n> Ciao\n"
        ),
        "Venerdì va bene.",
    ),
    "gmail-nl": (
        gmail(
            "Vrijdag is prima.\n\nOp vr 12 mrt 2027 om 10:00 schreef Ana Silva <ana@example.org>:"
            "\n\n> Hoi Ben\n"
        ),
        "Vrijdag is prima.",
    ),
    "gmail-pl": (
        gmail(
            "Piątek mi pasuje.\n\nPozdrawiam\nBen\n\n"
            "pt., 12 mar 2027 o 10:00 Ana Silva <ana@example.org> napisał(a):\n\n> Cześć Ben\n"
        ),
        "Piątek mi pasuje.\n\nPozdrawiam\nBen",
    ),
    "gmail-sv": (
        gmail(
            "Fredag passar bra.\n\nMed vänliga hälsningar\nBen\n\n"
            "Den fre 12 mars 2027 kl 10:00 skrev Ana Silva <ana@example.org>:\n\n> Hej Ben\n"
        ),
        "Fredag passar bra.\n\nMed vänliga hälsningar\nBen",
    ),
    "gmail-ja": (
        gmail(
            "金曜日で大丈夫です。\n\nよろしくお願いします。\nベン\n\n"
            "2027年3月12日(金) 10:00 Ana Silva <ana@example.org>:\n\n> ベンさん\n"
        ),
        "金曜日で大丈夫です。\n\nよろしくお願いします。\nベン",
    ),
    "gmail-zh": (
        gmail(
            "周五可以。\n\n谢谢\n\n"
            "Ana Silva <ana@example.org> 于2027年3月12日周五 10:00写道：\n\n> 你好\n"
        ),
        "周五可以。\n\n谢谢",
    ),
    "gmail-zh-wrapped-header": (
        gmail(
            "好的\nMentoring Program of the Spring Cohort <\nmentoring@example.org> "
            "于2027年3月12日周五 10:00写道：\n\n> 你好\n"
        ),
        "好的",
    ),
    "gmail-zh-TW": (
        gmail(
            "週五可以。\n\nAna Silva <ana@example.org> 於 2027年3月12日 週五 上午10:00 寫道：\n\n"
            "> 你好\n"
        ),
        "週五可以。",
    ),
    "gmail-forward-inline": (
        gmail(
            "Forwarding my manager's note, she agrees.\n\n"
            "---------- Forwarded message ---------\nFrom: Carla Jones <carla@example.net>\n"
            "Date: Fri, Mar 12, 2027 at 9:00 AM\nSubject: Mentoring\nTo: Ben <ben@example.net>\n\n"
            "I agree to Ben joining the program.\n"
        ),
        "Forwarding my manager's note, she agrees.",
    ),
    "gmail-forward-inline-de": (
        gmail(
            "Zur Info.\n\n---------- Weitergeleitete Nachricht ---------\n"
            "Von: Carla <carla@example.net>\nDate: Fr., 12. März 2027 um 09:00 Uhr\n"
            "Subject: Mentoring\nTo: Ben <ben@example.net>\n\nIch stimme zu.\n"
        ),
        "Zur Info.",
    ),
    "gmail-html-only": (
        html_only(
            '<div dir="ltr">Friday works.<div><br></div><div>Ben</div></div><br>'
            '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Mar 12, 2027 '
            'at 10:00\u202fAM Ana Silva &lt;<a href="mailto:ana@example.org">ana@example.org'
            '</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px '
            '0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Hi Ben,<br>'
            "can you confirm?</blockquote></div>"
        ),
        "Friday works.\n\nBen",
    ),
    "gmail-html-forward": (
        html_only(
            '<div dir="ltr">FYI, approved.<br><br><div class="gmail_quote"><div dir="ltr" '
            'class="gmail_attr">---------- Forwarded message ---------<br>From: <strong '
            'class="gmail_sendername" dir="auto">Carla Jones</strong> <span dir="auto">&lt;'
            "carla@example.net&gt;</span><br>Date: Fri, Mar 12, 2027 at 9:00\u202fAM<br>Subject:"
            ' Mentoring<br>To: &lt;ben@example.net&gt;<br></div><br><br><div dir="ltr">I agree.'
            "</div></div></div>"
        ),
        "FYI, approved.",
    ),
    # ---- Outlook desktop (plain-text alternative)
    "outlook-en": (
        outlook(
            "Confirmed.\n\nBest regards,\nBen Becker\nACME Corp | +49 30 1234567\n\n"
            "From: Ana Silva <ana@example.org>\nSent: Friday, March 12, 2027 10:00 AM\n"
            "To: Ben Becker <ben@example.net>\nSubject: Mentoring\n\nHi Ben,\n"
        ),
        "Confirmed.",
    ),
    "outlook-de": (
        outlook(
            "Passt für mich.\n\nMit freundlichen Grüßen\nBen Becker\n\n"
            "Von: Ana Silva <ana@example.org>\nGesendet: Freitag, 12. März 2027 10:00\n"
            "An: Ben Becker <ben@example.net>\nBetreff: Mentoring\n\nHallo Ben,\n",
            charset="iso-8859-15",
        ),
        "Passt für mich.\n\nMit freundlichen Grüßen\nBen Becker",
    ),
    "outlook-fr": (
        outlook(
            "C'est noté, à vendredi.\n\nCordialement,\nBen\n\n"
            "De : Ana Silva <ana@example.org>\nEnvoyé : vendredi 12 mars 2027 10:00\n"
            "À : Ben Becker <ben@example.net>\nObjet : Mentorat\n\nBonjour Ben,\n",
            charset="windows-1252",
        ),
        "C'est noté, à vendredi.\n\nCordialement,\nBen",
    ),
    "outlook-es": (
        outlook(
            "De acuerdo.\n\nSaludos cordiales,\nBen\n\nDe: Ana Silva <ana@example.org>\n"
            "Enviado el: viernes, 12 de marzo de 2027 10:00\nPara: Ben Becker <ben@example.net>\n"
            "Asunto: Mentoría\n\nHola Ben,\n",
            charset="iso-8859-1",
        ),
        "De acuerdo.\n\nSaludos cordiales,\nBen",
    ),
    "outlook-pt": (
        outlook(
            "Combinado.\n\nAtenciosamente,\nBen\n\nDe: Ana Silva <ana@example.org>\n"
            "Enviada em: sexta-feira, 12 de março de 2027 10:00\n"
            "Para: Ben Becker <ben@example.net>\nAssunto: Mentoria\n\nOlá Ben,\n",
            charset="iso-8859-1",
        ),
        "Combinado.\n\nAtenciosamente,\nBen",
    ),
    "outlook-it": (
        outlook(
            "Va benissimo.\n\nCordiali saluti\nBen\n\nDa: Ana Silva <ana@example.org>\n"
            "Inviato: venerdì 12 marzo 2027 10:00\nA: Ben Becker <ben@example.net>\n"
            "Oggetto: Mentoring\n\nCiao Ben,\n"
        ),
        "Va benissimo.\n\nCordiali saluti\nBen",
    ),
    "outlook-nl": (
        outlook(
            "Akkoord.\n\nMet vriendelijke groet,\nBen\n\nVan: Ana Silva <ana@example.org>\n"
            "Verzonden: vrijdag 12 maart 2027 10:00\nAan: Ben Becker <ben@example.net>\n"
            "Onderwerp: Mentoring\n\nHoi Ben,\n"
        ),
        "Akkoord.\n\nMet vriendelijke groet,\nBen",
    ),
    "outlook-pl": (
        outlook(
            "Zgoda, do zobaczenia w piątek.\n\nZ poważaniem\nŁukasz Nowak\n\n"
            "Od: Ana Silva <ana@example.org>\nWysłane: piątek, 12 marca 2027 10:00\n"
            "Do: Łukasz Nowak <lukasz@example.pl>\nTemat: Mentoring\n\nCześć Łukasz,\n",
            charset="windows-1250",
        ),
        "Zgoda, do zobaczenia w piątek.\n\nZ poważaniem\nŁukasz Nowak",
    ),
    "outlook-pl-original-message": (
        outlook(
            "Tak, pasuje.\n\n-----Oryginalna wiadomość-----\nOd: Ana Silva <ana@example.org>\n"
            "Wysłano: 12 marca 2027 10:00\nDo: Łukasz\nTemat: Mentoring\n",
            charset="iso-8859-2",
        ),
        "Tak, pasuje.",
    ),
    "outlook-sv": (
        outlook(
            "Det går bra.\n\nHälsningar\nErik\n\nFrån: Ana Silva <ana@example.org>\n"
            "Skickat: den 12 mars 2027 10:00\nTill: Erik Lund <erik@example.se>\n"
            "Ämne: Mentorskap\n\nHej Erik,\n",
            charset="iso-8859-1",
        ),
        "Det går bra.\n\nHälsningar\nErik",
    ),
    "outlook-sv-original-message": (
        outlook(
            "Absolut!\n\n-----Ursprungligt meddelande-----\nFrån: Ana Silva\n"
            "Skickat: den 12 mars 2027 10:00\nTill: Erik\nÄmne: Mentorskap\n"
        ),
        "Absolut!",
    ),
    "outlook-ja": (
        outlook(
            "承知しました。\n\n以上、よろしくお願いいたします。\n田中\n\n"
            "差出人: Ana Silva <ana@example.org>\n送信日時: 2027年3月12日 10:00\n"
            "宛先: 田中 太郎 <tanaka@example.jp>\n件名: メンタリング\n\n田中様\n",
            charset="iso-2022-jp",
            cte="7bit",
        ),
        "承知しました。\n\n以上、よろしくお願いいたします。\n田中",
    ),
    "outlook-ja-original-message": (
        outlook(
            "了解です。\n\n-------- 元のメッセージ --------\n差出人: Ana Silva\n件名: 面談\n",
            charset="shift_jis",
            cte="base64",
        ),
        "了解です。",
    ),
    "outlook-zh": (
        outlook(
            "没问题，周五见。\n\n此致\n敬礼！\n王芳\n\n发件人: Ana Silva <ana@example.org>\n"
            "发送时间: 2027年3月12日 10:00\n收件人: 王芳 <wang@example.cn>\n主题: 导师计划\n\n你好，\n",
            charset="gb2312",
            cte="base64",
        ),
        "没问题，周五见。",
    ),
    "outlook-zh-TW": (
        outlook(
            "好的，週五見。\n\n謝謝\n陳美玲\n\n寄件者: Ana Silva <ana@example.org>\n"
            "寄件日期: 2027年3月12日 上午 10:00\n收件者: 陳美玲 <chen@example.tw>\n"
            "主旨: 導師計畫\n\n你好，\n",
            charset="big5",
            cte="base64",
        ),
        "好的，週五見。\n\n謝謝\n陳美玲",
    ),
    "outlook-mobile-one-line-header": (
        outlook(
            "Yes, confirmed.\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>\n\n"
            "From: Ana Silva <ana@example.org> Sent: Friday, March 12, 2027 10:00:00 AM "
            "To: Ben Becker <ben@example.net> Subject: Mentoring\n\nHi Ben\n"
        ),
        "Yes, confirmed.",
    ),
    # ---- Outlook on the web and Outlook desktop, HTML only
    "owa-en-html": (
        html_only(
            '<html><body><div style="font-family:Aptos">Thursday is better for me.</div>'
            '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt">'
            "<b>From:</b> Ana Silva &lt;ana@example.org&gt;<br><b>Sent:</b> Friday, March 12, "
            "2027 10:00 AM<br><b>To:</b> Ben Becker &lt;ben@example.net&gt;<br><b>Subject:</b> "
            "Mentoring</font><div>&nbsp;</div></div><div>Hi Ben, does Friday work?</div>"
            "</body></html>"
        ),
        "Thursday is better for me.",
    ),
    "new-outlook-html": (
        html_only(
            '<div>Works for me.</div><div id="mail-editor-reference-message-container">'
            '<div class="ms-outlook-mobile-reference-message skipProofing"><b>From: </b>Ana '
            "Silva &lt;ana@example.org&gt;<br><b>Date: </b>Friday, 12 March 2027 at 10:00<br>"
            "<b>To: </b>Ben Becker<br><b>Subject: </b>Mentoring<br><br></div>Hi Ben</div>"
        ),
        "Works for me.",
    ),
    "owa-ja-html-fullwidth-colons": (
        html_only(
            "<html><body><div>木曜日の方が都合が良いです。</div><div><br></div>"
            '<div id="divRplyFwdMsg" dir="ltr"><b>差出人：</b> Ana Silva &lt;ana@example.org&gt;'
            "<br><b>送信日時：</b> 2027年3月12日 10:00<br><b>宛先：</b> 田中 太郎<br>"
            "<b>件名：</b> 面談</div><div>田中様</div></body></html>",
            charset="shift_jis",
        ),
        "木曜日の方が都合が良いです。",
    ),
    "owa-es-html": (
        html_only(
            "<div>Mejor el jueves.</div><hr><div id='divRplyFwdMsg'><b>De:</b> Ana Silva<br>"
            "<b>Enviado el:</b> viernes, 12 de marzo de 2027 10:00<br><b>Para:</b> Ben<br>"
            "<b>Asunto:</b> Mentoría</div><div>Hola</div>"
        ),
        "Mejor el jueves.",
    ),
    "outlook-desktop-html-pl": (
        html_only(
            '<html><body><div class="WordSection1"><p class="MsoNormal">Zgadzam się.<o:p></o:p>'
            '</p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div style="border:none;border-top:'
            'solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>Od:</b> Ana '
            "Silva &lt;ana@example.org&gt;<br><b>Wysłane:</b> piątek, 12 marca 2027 10:00<br>"
            "<b>Do:</b> Łukasz Nowak<br><b>Temat:</b> Mentoring</p></div>"
            '<p class="MsoNormal">Cześć Łukasz</p></div></body></html>',
            charset="windows-1250",
        ),
        "Zgadzam się.",
    ),
    "outlook-desktop-html-zh": (
        html_only(
            '<div class="WordSection1"><p class="MsoNormal">可以，谢谢！<span lang="EN-US">'
            '<o:p></o:p></span></p><div style="border:none;border-top:solid #E1E1E1 1.0pt">'
            '<p class="MsoNormal"><b>发件人<span lang="EN-US">:</span></b><span lang="EN-US"> Ana '
            'Silva &lt;ana@example.org&gt;<br></span><b>发送时间<span lang="EN-US">:</span></b>'
            '<span lang="EN-US"> 2027年3月12日 10:00<br></span><b>收件人<span lang="EN-US">:'
            '</span></b> 王芳<br><b>主题<span lang="EN-US">:</span></b> 导师计划</p></div>'
            '<p class="MsoNormal">你好</p></div>',
            charset="gb18030",
        ),
        "可以，谢谢！",
    ),
    # ---- Apple Mail (format=flowed; delsp=yes)
    "apple-iphone-en": (
        apple(
            "Friday at 10 is great, I will bring my  \nnotes.\n\nSent from my iPhone\n\n"
            "> On 12 Mar 2027, at 10:00, Ana Silva <ana@example.org> wrote:\n>\n" + QUOTE_EN
        ),
        "Friday at 10 is great, I will bring my notes.",
    ),
    "apple-mac-en-inline": (
        apple(
            "On 12 Mar 2027, at 10:00, Ana Silva <ana@example.org> wrote:\n\n"
            "> What are your goals?\n\nNegotiation and  \nfeedback.\n\n"
            "> When can you meet?\n\nMondays.\n\nBest,\nBen\n"
        ),
        "Negotiation and feedback.\n\nMondays.\n\nBest,\nBen",
    ),
    "apple-de": (
        apple(
            "Passt!\n\nVon meinem iPhone gesendet\n\n"
            "> Am 12.03.2027 um 10:00 schrieb Ana Silva <ana@example.org>:\n>\n> Hallo Ben\n"
        ),
        "Passt!",
    ),
    "apple-mac-de": (
        apple(
            "Passt!\n\nLiebe Grüße\nBen\n\n"
            "Am 12.03.2027 um 10:00 schrieb Ana Silva <ana@example.org>:\n\n> Hallo Ben\n"
        ),
        "Passt!\n\nLiebe Grüße\nBen",
    ),
    "apple-pt": (
        apple(
            "Pode ser.\n\nEnviado do meu iPhone\n\n"
            "> Em 12 de mar. de 2027, à(s) 10:00, Ana Silva <ana@example.org> escreveu:\n>\n"
            "> Olá\n"
        ),
        "Pode ser.",
    ),
    "apple-nl": (
        apple(
            "Prima.\n\nOp 12 mrt. 2027 om 10:00 heeft Ana Silva <ana@example.org> het volgende "
            "geschreven:\n\n> Hoi Ben\n"
        ),
        "Prima.",
    ),
    "apple-pl": (
        apple(
            "Jasne.\n\nWysłane z iPhone'a\n\n> Wiadomość napisana przez Ana Silva "
            "<ana@example.org> w dniu 12.03.2027, o godz. 10:00:\n>\n> Cześć\n"
        ),
        "Jasne.",
    ),
    "apple-mac-pl": (
        apple(
            "Jasne.\n\nWiadomość napisana przez Ana Silva <ana@example.org> w dniu 12.03.2027, "
            "o godz. 10:00:\n\n> Cześć\n"
        ),
        "Jasne.",
    ),
    "apple-sv": (
        apple(
            "Toppen.\n\nSkickat från min iPhone\n\n"
            "> 12 mars 2027 kl. 10:00 skrev Ana Silva <ana@example.org>:\n>\n> Hej\n"
        ),
        "Toppen.",
    ),
    "apple-mac-sv": (
        apple(
            "Toppen.\n\nMvh\nErik\n\n12 mars 2027 kl. 10:00 skrev Ana Silva <ana@example.org>:"
            "\n\n> Hej\n"
        ),
        "Toppen.\n\nMvh\nErik",
    ),
    "apple-ja": (
        apple(
            "了解しました。金曜日の \n十時で大丈夫です。\n\niPhoneから送信\n\n"
            "> 2027/03/12 10:00、Ana Silva <ana@example.org>のメール:\n>\n> ベンさん\n"
        ),
        "了解しました。金曜日の十時で大丈夫です。",
    ),
    "apple-mac-ja": (
        apple(
            "了解しました。\n\n2027/03/12 10:00、Ana Silva <ana@example.org>のメール:\n\n> ベンさん\n"
        ),
        "了解しました。",
    ),
    "apple-zh": (
        apple(
            "没问题。\n\n发自我的iPhone\n\n"
            "> 在 2027年3月12日，10:00，Ana Silva <ana@example.org> 写道：\n>\n> 你好\n"
        ),
        "没问题。",
    ),
    "apple-mac-zh": (
        apple("没问题。\n\n2027年3月12日 10:00，Ana Silva <ana@example.org> 写道：\n\n> 你好\n"),
        "没问题。",
    ),
    "apple-zh-TW": (
        apple(
            "沒問題。\n\n從我的 iPhone 傳送\n\n"
            "> Ana Silva <ana@example.org> 於 2027年3月12日 上午10:00 寫道：\n>\n> 你好\n"
        ),
        "沒問題。",
    ),
    "apple-forward": (
        apple(
            "See below, my manager agrees.\n\nBegin forwarded message:\n\n"
            "From: Carla Jones <carla@example.net>\nSubject: Mentoring\n"
            "Date: 12 March 2027 at 09:00:00 CET\nTo: Ben <ben@example.net>\n\nI agree.\n"
        ),
        "See below, my manager agrees.",
    ),
    "apple-forward-fr": (
        apple(
            "Pour info.\n\nDébut du message réexpédié :\n\n"
            "De: Carla <carla@example.net>\nObjet: Mentorat\nDate: 12 mars 2027 à 09:00\n"
        ),
        "Pour info.",
    ),
    "apple-html-blockquote": (
        html_only(
            '<html><body dir="auto"><div dir="ltr">Great, see you Friday!</div><div dir="ltr">'
            '<br><blockquote type="cite">On 12 Mar 2027, at 10:00, Ana Silva &lt;ana@example.org'
            '&gt; wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Hi '
            "Ben, can you confirm?</div></blockquote></body></html>"
        ),
        "Great, see you Friday!",
    ),
    # ---- Thunderbird (format=flowed; delsp=no)
    "thunderbird-en-inline": (
        thunderbird(
            "On 12/03/2027 10:00, Ana Silva wrote:\n> What are your goals for this \n> term?\n\n"
            "Getting better at code \nreview.\n\n> Anything else?\n\nNo.\n\n-- \nBen Becker\n"
        ),
        "Getting better at code review.\n\nNo.",
    ),
    "thunderbird-named": (
        thunderbird("Agreed.\n\nAna Silva wrote:\n> Please confirm.\n"),
        "Agreed.",
    ),
    "thunderbird-named-inline": (
        thunderbird("Ana Silva wrote:\n> Monday?\nNo.\n> Tuesday?\nYes.\n"),
        "No.\nYes.",
    ),
    "thunderbird-named-address": (
        thunderbird("Agreed.\n\nAna Silva <ana@example.org> wrote:\n> Please confirm.\n"),
        "Agreed.",
    ),
    "thunderbird-de": (
        thunderbird("Einverstanden.\n\nAm 12.03.2027 um 10:00 schrieb Ana Silva:\n> Hallo\n"),
        "Einverstanden.",
    ),
    "thunderbird-fr": (
        thunderbird("D'accord.\n\nLe 12/03/2027 à 10:00, Ana Silva a écrit :\n> Bonjour\n"),
        "D'accord.",
    ),
    "thunderbird-es": (
        thunderbird("Vale.\n\nEl 12/03/2027 a las 10:00, Ana Silva escribió:\n> Hola\n"),
        "Vale.",
    ),
    "thunderbird-it": (
        thunderbird("Va bene.\n\nIl 12/03/2027 10:00, Ana Silva ha scritto:\n> Ciao\n"),
        "Va bene.",
    ),
    "thunderbird-pl": (
        thunderbird("Pasuje.\n\nW dniu 12.03.2027 o 10:00, Ana Silva pisze:\n> Cześć\n"),
        "Pasuje.",
    ),
    "thunderbird-pl-named": (
        thunderbird("Pasuje.\n\nAna Silva pisze:\n> Cześć\n"),
        "Pasuje.",
    ),
    "thunderbird-sv": (
        thunderbird("Okej.\n\n/Erik\n\nDen 2027-03-12 kl. 10:00, skrev Ana Silva:\n> Hej\n"),
        "Okej.",
    ),
    "thunderbird-ja": (
        thunderbird("はい。\n\n2027/03/12 10:00 に Ana Silva さんは書きました:\n> こんにちは\n"),
        "はい。",
    ),
    "thunderbird-zh": (
        thunderbird("好的。\n\n在 2027/3/12 10:00, Ana Silva 写道:\n> 你好\n"),
        "好的。",
    ),
    "thunderbird-forward": (
        thunderbird(
            "FYI.\n\n-------- Forwarded Message --------\nSubject: \tMentoring\n"
            "Date: \tFri, 12 Mar 2027 09:00:00 +0100\nFrom: \tCarla <carla@example.net>\n\nHi\n"
        ),
        "FYI.",
    ),
    "thunderbird-html-cite": (
        html_only(
            '<html><body><p>Works for me.</p><div class="moz-cite-prefix">On 12/03/2027 10:00, '
            'Ana Silva wrote:<br></div><blockquote type="cite" cite="mid:m1@example.org">Does '
            'Friday work?</blockquote><pre class="moz-signature" cols="72">-- \nBen</pre>'
            "</body></html>",
            User_Agent="Mozilla Thunderbird",
        ),
        "Works for me.",
    ),
    "thunderbird-html-inline": (
        html_only(
            '<div class="moz-cite-prefix">On 12/03/2027 10:00, Ana Silva wrote:</div>'
            '<blockquote type="cite">Goal?</blockquote><p>Feedback.</p>'
            '<blockquote type="cite">Day?</blockquote><p>Monday.</p>'
        ),
        "Feedback.\n\nMonday.",
    ),
    # ---- Yahoo
    "yahoo-en": (
        yahoo(
            "Sure, Friday.\n\nSent from Yahoo Mail on Android\n\n"
            "  On Friday, March 12, 2027, 10:00:15 AM GMT+1, Ana Silva <ana@example.org> wrote: "
            "\n\n Hi Ben, can you confirm?\n"
        ),
        "Sure, Friday.",
    ),
    "yahoo-original-message": (
        yahoo(
            "Sure.\n\n----- Original Message -----\nFrom: Ana Silva <ana@example.org>\n"
            "To: Ben <ben@example.net>\nSent: Friday, March 12, 2027 10:00 AM\n"
            "Subject: Mentoring\n\nHi\n"
        ),
        "Sure.",
    ),
    "yahoo-forwarded-message": (
        yahoo(
            "Look at this.\n\n----- Forwarded Message -----\nFrom: Carla <carla@example.net>\n"
            "To: Ben <ben@example.net>\nSent: Friday, March 12, 2027, 09:00:00 AM GMT+1\n"
            "Subject: Mentoring\n\nI agree.\n"
        ),
        "Look at this.",
    ),
    "yahoo-de": (
        yahoo(
            "Ja, gerne.\n\nAm Freitag, 12. März 2027, 10:00:15 MEZ hat Ana Silva "
            "<ana@example.org> Folgendes geschrieben:\n\nHallo Ben\n"
        ),
        "Ja, gerne.",
    ),
    "yahoo-html": (
        html_only(
            '<html><body><div class="ydp1"><div>Sure, Friday.</div><div><br></div></div>'
            '<div id="yahoo_quoted_123" class="yahoo_quoted"><div style="font-size:13px">'
            "<div>On Friday, March 12, 2027, 10:00:15 AM GMT+1, Ana Silva &lt;ana@example.org&gt; "
            "wrote:</div><div><br></div><div>Hi Ben, can you confirm?</div></div></div>"
            "</body></html>"
        ),
        "Sure, Friday.",
    ),
    # ---- other webmails, sign-offs and notices
    "qq-mail-zh": (
        gmail(
            "收到，谢谢！\n\n------------------ 原始邮件 ------------------\n"
            '发件人: "Ana Silva"<ana@example.org>;\n发送时间: 2027年3月12日(星期五) 上午10:00\n'
            '收件人: "王芳"<wang@example.cn>;\n主题: 导师计划\n'
        ),
        "收到，谢谢！",
    ),
    "163-mail-zh": (
        gmail('好的\n\n在 2027-03-12 10:00:00，"Ana Silva" <ana@example.org> 写道：\n> 你好\n'),
        "好的",
    ),
    "zh-TW-separator": (
        outlook("好。\n\n-----原始郵件-----\n寄件者: Ana Silva\n主旨: 導師\n", charset="big5"),
        "好。",
    ),
    "disclaimer-de": (
        outlook(
            "Ich bin dabei.\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht "
            "der richtige Adressat sind, informieren Sie bitte den Absender."
        ),
        "Ich bin dabei.",
    ),
    "disclaimer-fr": (
        outlook(
            "Je serai là.\n\nCe message et toutes les pièces jointes sont confidentiels et "
            "établis à l'intention exclusive de ses destinataires."
        ),
        "Je serai là.",
    ),
    "disclaimer-es": (
        outlook(
            "Allí estaré.\n\nAVISO DE CONFIDENCIALIDAD: Este mensaje y sus anexos son "
            "confidenciales."
        ),
        "Allí estaré.",
    ),
    "disclaimer-pt": (
        outlook("Estarei lá.\n\nEsta mensagem pode conter informação confidencial.\n"),
        "Estarei lá.",
    ),
    "disclaimer-it": (
        outlook("Ci sarò.\n\nQuesto messaggio e i suoi allegati sono riservati.\n"),
        "Ci sarò.",
    ),
    "disclaimer-nl": (
        outlook("Ik ben er.\n\nDit bericht is vertrouwelijk en uitsluitend bestemd voor...\n"),
        "Ik ben er.",
    ),
    "disclaimer-pl": (
        outlook(
            "Będę.\n\nTa wiadomość jest poufna i przeznaczona wyłącznie dla adresata.\n",
            charset="iso-8859-2",
        ),
        "Będę.",
    ),
    "disclaimer-sv": (
        outlook("Jag kommer.\n\nDetta e-postmeddelande är konfidentiellt.\n"),
        "Jag kommer.",
    ),
    "disclaimer-ja": (
        outlook(
            "参加します。\n\n本メールには機密情報が含まれている可能性があります。\n",
            charset="shift_jis",
        ),
        "参加します。",
    ),
    "disclaimer-zh": (
        outlook("我会参加。\n\n本邮件及其附件含有保密信息，仅限于收件人使用。\n", charset="gbk"),
        "我会参加。",
    ),
    "signoff-sv-hej": (
        gmail("Vi ses på fredag.\n\nVänliga hälsningar,\nErik Lund\nACME AB\n"),
        "Vi ses på fredag.",
    ),
    "signoff-pl-same-line": (
        gmail("Do zobaczenia.\n\nPozdrawiam, Łukasz\n"),
        "Do zobaczenia.\n\nPozdrawiam, Łukasz",
    ),
    "signoff-ja-block": (
        gmail(
            "資料を確認しました。\n\nよろしくお願いいたします。\n\n株式会社サンプル 営業部\n"
            "田中 太郎\nTEL: 03-1234-5678\n"
        ),
        "資料を確認しました。",
    ),
    "signoff-zh-with-sentence-after-is-kept": (
        gmail("谢谢！\n我下周三有空，可以吗？\n"),
        "谢谢！\n我下周三有空，可以吗？",
    ),
}


@pytest.mark.parametrize(("raw", "expected"), CLIENTS.values(), ids=CLIENTS.keys())
def test_client_reply_text(raw: bytes, expected: str) -> None:
    parsed = parse_message(raw)
    assert parsed.reply_text == expected
    assert parsed.problems == ()


KEPT = {
    "en-sentence-like-header-at-top": "On Monday at 10:00 I wrote to my manager:\nShe said yes.",
    "sv-sentence-like-header-at-top": "Den 12 mars kl 10:00 skrev jag till chefen:\nHon sa ja.",
    "en-named-without-quote": "Ana Silva wrote:\nI cannot make it, sorry.",
    "sv-greeting-is-not-sign-off": "Tack för mötet.\nHälsningar till teamet, de var jättebra.",
    "pl-greeting-is-not-sign-off": "Dzięki za spotkanie.\nPozdrawiam serdecznie całą grupę!",
    "zh-confidential-topic-not-disclaimer": "你好\n本邮件是关于保密协议的讨论。\n请查看附件。",
    "ja-confidential-topic-not-disclaimer": "はい\nこのメールは機密保持契約についてです。\n確認してください。",
    "ja-from-in-sentence": "会議室から送信しましたか？\nはい。",
    "pl-od-do-without-header-block": "Urlop:\nOd: poniedziałek\nDo: piątek",
}


@pytest.mark.parametrize("text", KEPT.values(), ids=KEPT.keys())
def test_ambiguous_text_is_kept(text: str) -> None:
    assert strip_reply(text) == text


# --------------------------------------------------------------------------- charsets

CHARSET_TEXTS = {
    "utf-8": "Ça marche, 金曜日 OK, Zażółć.",
    "iso-8859-1": "Ça marche, à vendredi.",
    "iso-8859-2": "Zażółć gęślą jaźń, piątek pasuje.",
    "iso-8859-15": "Ça coûte 10 €, d'accord.",
    "windows-1250": "Dziękuję, środa też może być.",
    "windows-1252": "“Friday” – works for me…",
    "shift_jis": "金曜日で大丈夫です。ｶﾀｶﾅもOK。",
    "iso-2022-jp": "金曜日で大丈夫です。",
    "gb2312": "周五可以，谢谢。",
    "gbk": "周五可以，謝謝。",
    "gb18030": "周五可以，𠀀谢谢。",
    "big5": "週五可以，謝謝。",
    "euc-kr": "금요일 좋아요, 감사합니다.",
    "koi8-r": "Пятница подходит, спасибо.",
}


TRANSFER_ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "8bit": bytes,
    "quoted-printable": quopri.encodestring,
    "base64": base64.encodebytes,
}


@pytest.mark.parametrize("cte", TRANSFER_ENCODINGS)
@pytest.mark.parametrize(("charset", "text"), CHARSET_TEXTS.items(), ids=CHARSET_TEXTS.keys())
def test_charset_body_with_quote(charset: str, text: str, cte: str) -> None:
    body = f"{text}\n\nOn Fri, Mar 12, 2027 at 10:00 AM Ana <ana@example.org> wrote:\n> Hi\n"
    data = TRANSFER_ENCODINGS[cte](body.replace("\n", "\r\n").encode(charset))
    parsed = parse_message(raw_text(data, f"text/plain; charset={charset}", cte))
    assert parsed.reply_text == text
    assert parsed.problems == ()


@pytest.mark.parametrize(("charset", "text"), CHARSET_TEXTS.items(), ids=CHARSET_TEXTS.keys())
def test_charset_rfc2047_headers(charset: str, text: str) -> None:
    word = base64.b64encode(text.encode(charset)).decode()
    name = base64.b64encode("Łukasz 田中".encode()).decode()
    sender = f"=?utf-8?B?{name}?= <Ben@Example.net>"
    parsed = parse_message(
        raw_text(b"ok", "text/plain", sender=sender, subject=f"=?{charset}?B?{word}?=")
    )
    assert parsed.subject == text
    assert parsed.from_name == "Łukasz 田中"
    assert parsed.from_addr == "ben@example.net"


def test_iso_2022_jp_with_windows_extensions() -> None:
    """Japanese Outlook writes NEC special characters (①, ㈱) that Python's codec rejects."""
    body = b"\x1b$B-!-j\x1b(B" + "の件、承知しました。".encode("iso-2022-jp")
    parsed = parse_message(raw_text(body, "text/plain; charset=ISO-2022-JP", "7bit"))
    assert parsed.reply_text == "①㈱の件、承知しました。"
    assert parsed.problems == ()


def test_windows_1252_never_fails_on_unassigned_bytes() -> None:
    raw = raw_text(b"\x93Yes\x94 \x81", "text/plain; charset=iso-8859-1")
    parsed = parse_message(raw)
    assert parsed.text == "“Yes” \x81"
    assert parsed.problems == ()


def test_mislabelled_charset_is_reported_and_text_recovered() -> None:
    raw = raw_text("Grüße aus Köln".encode(), "text/plain; charset=iso-2022-jp")
    parsed = parse_message(raw)
    assert parsed.reply_text == "Grüße aus Köln"
    assert parsed.problems == ("text is not valid 'iso-2022-jp'",)


# --------------------------------------------------------------------------- MIME structure


def test_empty_plain_alternative_falls_back_to_html() -> None:
    msg = _envelope()
    msg.set_content("\n")
    msg.add_alternative("<p>Friday works.</p>", subtype="html")
    assert parse_message(msg.as_bytes()).reply_text == "Friday works."


def test_forward_as_attachment_is_kept_aside() -> None:
    inner = _envelope(Subject="Mentoring agreement", From="Carla Jones <carla@example.net>")
    inner.set_content("I agree to the mentoring agreement.\n")
    outer = _envelope(Subject="Fwd: Mentoring agreement")
    outer.set_content("My manager's approval is attached.\n\nBen\n")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes())
    assert parsed.reply_text == "My manager's approval is attached.\n\nBen"
    assert "I agree" not in parsed.text
    assert parsed.attachments == ("message/rfc822",)
    assert parsed.from_addr == "ben@example.net"


def test_forward_as_named_eml_attachment() -> None:
    inner = _envelope(Subject="Approval")
    inner.set_content("Approved.\n")
    outer = _envelope()
    outer.set_content("Attached.\n")
    outer.add_attachment(inner, filename="Approval.eml")
    parsed = parse_message(outer.as_bytes())
    assert parsed.attachments == ("Approval.eml",)
    assert "Approved" not in parsed.text


def test_attachments_are_never_read_as_text() -> None:
    msg = _envelope()
    msg.set_content("Here is my CV.\n")
    msg.add_alternative("<p>Here is my CV.</p>", subtype="html")
    msg.make_mixed()
    msg.add_attachment(b"%PDF-1.7", maintype="application", subtype="pdf", filename="cv.pdf")
    msg.add_attachment("goal: be quoted?\n", subtype="plain", filename="notes.txt")
    msg.add_attachment("<p>html file</p>", subtype="html", disposition="attachment")
    msg.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="photo.png")
    parsed = parse_message(msg.as_bytes())
    assert parsed.reply_text == "Here is my CV."
    assert parsed.attachments == ("cv.pdf", "notes.txt", "text/html", "photo.png")


def test_format_flowed_space_stuffing_and_signature() -> None:
    raw = raw_text(
        b" From here on I agree with \r\nthe plan.\r\n\r\n-- \r\nBen\r\n",
        "text/plain; charset=utf-8; format=flowed",
    )
    parsed = parse_message(raw)
    assert parsed.text == "From here on I agree with the plan.\n\n-- \nBen\n"
    assert parsed.reply_text == "From here on I agree with the plan."


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("x" * 5000, 1000, "x" * 1000),
        ("金" * 1000, 1000, "金" * 333),  # never a partial character
        ("short", 1000, "short"),
    ],
)
def test_size_cap(text: str, limit: int, expected: str) -> None:
    msg = _envelope()
    msg.set_content(text)
    parsed = parse_message(msg.as_bytes(), max_bytes=limit)
    assert parsed.text.rstrip("\n") == expected
    truncated = f"body truncated to {limit} bytes" in parsed.problems
    assert truncated is (len(text.encode()) > limit)


def test_size_cap_keeps_reply_text_of_the_kept_part() -> None:
    msg = _envelope()
    msg.set_content("I agree.\n\nOn Fri, Mar 12, 2027 at 10:00 AM Ana <a@example.org> wrote:\n")
    msg.add_attachment("> " + "quoted " * 1000, subtype="plain", disposition="inline")
    parsed = parse_message(msg.as_bytes(), max_bytes=200)
    assert parsed.reply_text == "I agree."
    assert "body truncated to 200 bytes" in parsed.problems


# --------------------------------------------------------------------------- properties

# Valid messages of different shapes: base64 gb2312, QP flowed, HTML only, alternative.
VALID = [CLIENTS[name][0] for name in ("outlook-zh", "apple-ja", "owa-en-html", "yahoo-en")]


def assert_explained(parsed: InboundMessage, max_bytes: int) -> None:
    """What parse_message guarantees for any input: a value, and a problem for each gap."""
    assert isinstance(parsed, InboundMessage)
    assert parsed.message_id
    broken = any(p.startswith("parse error") for p in parsed.problems)
    if parsed.message_id.startswith("sha256:"):
        assert broken or "missing Message-ID" in parsed.problems
    if not parsed.from_addr:
        assert broken or (parsed.sender_problem and parsed.sender_problem in parsed.problems)
    date_value = next((v for k, v in parsed.headers if k.lower() == "date"), "")
    if parsed.date is None and date_value.strip():
        assert any(p.startswith("unparseable Date") for p in parsed.problems)
    assert parsed.date is None or parsed.date.tzinfo is not None
    assert len(parsed.text.encode("utf-8", "surrogatepass")) <= max_bytes
    assert is_subsequence(content_lines(parsed.reply_text), content_lines(parsed.text))
    assert parsed.failed_recipients == () or parsed.bounce


def content_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(n == h for h in remaining) for n in needles)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=800))
def test_arbitrary_bytes_are_explained(raw: bytes) -> None:
    assert_explained(parse_message(raw, max_bytes=400), 400)


_MUTATION = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]),
    st.integers(min_value=0, max_value=max(len(raw) for raw in VALID)),
    st.integers(min_value=0, max_value=200),
    st.binary(min_size=1, max_size=40),
)


def mutate(raw: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    for op, at, size, data in mutations:
        at = min(at, len(raw))
        if op == "delete":
            raw = raw[:at] + raw[at + size :]
        elif op == "insert":
            raw = raw[:at] + data + raw[at:]
        elif op == "replace":
            raw = raw[:at] + data + raw[at + len(data) :]
        elif op == "truncate":
            raw = raw[:at]
        else:
            raw = raw[:at] + raw[at : at + size] * 2 + raw[at + size :]
    return raw


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(VALID), st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_messages_are_explained(
    raw: bytes, mutations: list[tuple[str, int, int, bytes]]
) -> None:
    assert_explained(parse_message(mutate(raw, mutations), max_bytes=2000), 2000)


# Lines a quote header, separator, header block or quote marker cannot be made of.
_PLAIN_LINE = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=":：<>@-_\r\n"),
    min_size=1,
    max_size=60,
).filter(lambda s: any(ch.isalnum() for ch in s))
# Arbitrary text, salted with pieces of quote headers, separators and quote markers.
_ANY_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
        st.sampled_from(
            ["\n", "\r\n", "> ", ":", "-- ", " wrote", "On 12 Mar 2027, Ana", "写道：", "_" * 8]
        ),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_ANY_TEXT)
def test_strip_reply_only_removes_lines(text: str) -> None:
    """Never raises; the result is trimmed and its lines are input lines, in order."""
    reply = strip_reply(text)
    assert reply == reply.strip()
    assert is_subsequence(content_lines(reply), content_lines(text))


@settings(max_examples=300, deadline=None)
@given(_PLAIN_LINE, _ANY_TEXT)
def test_strip_reply_keeps_a_plain_first_paragraph(first: str, rest: str) -> None:
    """A first line followed by a blank line is kept unless it is quoted or a header.

    Precisely: if the first line has a letter or digit and none of ":：<>@-_",
    it cannot be a quote marker, quote header, separator or header block, and
    signature rules only cut below text, so the reply starts with it and is
    never empty, whatever follows.
    """
    reply = strip_reply(f"{first}\n\n{rest}")
    assert reply.split("\n")[0].strip() == first.strip()


# Text that cannot hold a quote header, separator or header block: all need ":" or "-"/"_".
_HEADERLESS_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters=":：-_"), max_size=20),
        st.sampled_from(["\n", "\r\n", "> ", ">", " ", "***", "=", "Thanks", "Best,", "/Ana"]),
        st.sampled_from(["Sent from my iPhone", "iPhoneから送信", "谢谢", "Mvh"]),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_HEADERLESS_TEXT)
def test_strip_reply_is_empty_only_without_unquoted_text(text: str) -> None:
    """For text without separators or headers: empty exactly when no line has unquoted text.

    Lines without text are blank or separator-like ("***", "==="); signature
    and sign-off rules only ever cut below a line of text.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    has_text = any(not re.fullmatch(r"[\s=*~]*|\s*>.*", line) for line in lines)
    assert (strip_reply(text) != "") is has_text


# --------------------------------------------------------------------------- pattern indexes

# Each `LineStartIndex` tries on a line only the alternatives that can start it.
_INDEXES = (
    "_ATTRIBUTION",
    "_HEADER_FROM",
    "_HEADER_FIELD",
    "_SEPARATOR",
    "_SIGNATURE_START",
    "_SIGN_OFF",
)
# Lines each matched by one of the indexes, to vary below.
_INDEXED_LINES = [
    "On Fri, 12 Mar 2027 at 10:00, Ana Silva <ana@example.org> wrote:",
    "Am 12.03.2027 um 10:00 schrieb Ana Silva <ana@example.org>:",
    "Op vr 12 mrt. 2027 om 10:00 schreef Ana Silva:",
    "12 mars 2027 kl. 10:00 skrev Ana Silva <ana@example.org>:",
    "W dniu 12.03.2027 o 10:00, Ana pisze:",
    "From: Ana Silva <ana@example.org>",
    "*From:* Ana Silva",
    "Von: Ana Silva",
    "Sent: Friday, March 12, 2027 10:00 AM",
    "*Subject:* Mentoring",
    "-----Original Message-----",
    "________________________________",
    "Begin forwarded message:",
    "Vidarebefordrat brev:",
    "Sent from my iPhone",
    "Von meinem iPhone gesendet",
    "Get Outlook for iOS",
    "This email and any attachments are confidential.",
    "Best regards,",
    "Cheers, Ana",
    "Met vriendelijke groet,",
    "Mvh",
    "Le 12 mars 2027 à 10:00, Ana Silva <ana@example.org> a écrit :",
    "Ana Silva <ana@example.org> 于2027年3月12日周五 10:00写道：",
    "2027年3月12日(金) 10:00 Ana Silva <ana@example.org>:",
    "iPhoneから送信",
    "发自我的iPhone",
    "Envoyé de mon iPhone",
    "Mit freundlichen Grüßen",
]
_CASES = [
    str,
    str.upper,
    str.lower,
    str.swapcase,
    lambda s: s.replace("s", "ſ").replace("k", "\u212a"),
    lambda s: s.replace("i", "ı"),
]
# Those lines, or their start, in other cases, after blanks or other characters, with letters
# that match ASCII ones case-insensitively ("ſ", the Kelvin sign), and followed by more.
_INDEX_LINE = st.builds(
    lambda start, line, cut, case, end: start + case(line[:cut]) + end,
    st.sampled_from(["", "", "", " ", "\t", "\u3000", "*", ">", "ſ", "\u212a", "\xe9"]),
    st.sampled_from(_INDEXED_LINES),
    st.sampled_from([None, None, 1, 2, 3, 5, 8, -1, -2]),
    st.sampled_from(_CASES),
    st.one_of(st.sampled_from(["", "", ":", "：", " ", "-----"]), st.text(max_size=3)),
)


@settings(max_examples=500, deadline=None)
@given(_INDEX_LINE)
def test_pattern_indexes_answer_as_their_whole_patterns(line: str) -> None:
    """Leaving out the alternatives that cannot start a line changes no answer."""
    for name in _INDEXES:
        index = getattr(reply_text, name)
        whole = index._compile(None)
        assert index.match(line) is bool(whole and whole.match(line)), name
