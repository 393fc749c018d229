"""How each language's mail clients mark quoted history and signatures, as data.

One `Language` entry per language: quote headers ("On ... wrote:"), Outlook's header
block, separators, forwarded-message lines, mobile signatures, disclaimers and closings.
Adding a language is adding an entry; `reply_text` builds its patterns from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Building blocks of quote header patterns. A header is matched against one
# line, or up to three lines joined with spaces (clients wrap long headers),
# and must end with a colon, ASCII or full-width ("："). CJK characters are
# word characters, so there is no `\b` between "10:00" and "写道": patterns
# use `\b` only next to Latin words.
_ANY = r".{0,300}?"
_DATED = r"(?=.*\d)"  # a digit somewhere on the line: the date
ADDRESS = r"<\s?[^\s<>@]+@[^\s<>]+\s?>"  # "< ana@x >" when wrapped "<" or ">" lines are joined
_NAPISAL = r"napisał(?:\(a\)|a)?"  # Polish "wrote" (m/f)
_DEVICE = r"[\w.'’-]+(?: [\w.'’-]+){0,3}"  # "iPhone", "Samsung Galaxy smartphone"


def _dated(opening: str, verb: str) -> str:
    """The Latin-script header shape "<opening> <text with a date> <verb> [...]"."""
    return rf"{opening}\s{_DATED}{_ANY}\b{verb}\b.{{0,200}}?"


@dataclass(frozen=True)
class Language:
    """How one language's mail clients mark quoted history and signatures.

    Every entry is a regular expression fragment, matched case-insensitively;
    in `header_*`, `separators` and `forwarded` a space stands for any run of
    whitespace.
    """

    quote_headers: tuple[str, ...] = ()  # "On <date>, Ana <ana@x> wrote" (colon implied)
    wrote: tuple[str, ...] = ()  # the verb of an undated "Ana Silva wrote:"
    header_from: tuple[str, ...] = ()  # Outlook's header block: "From:" ...
    header_fields: tuple[str, ...] = ()  # ... followed by "Sent:", "To:", "Subject:"
    separators: tuple[str, ...] = ()  # between dashes: "-----Original Message-----"
    forwarded: tuple[str, ...] = ()  # a line of its own: "Begin forwarded message:"
    mobile: tuple[str, ...] = ()  # "Sent from my iPhone"
    disclaimers: tuple[str, ...] = ()  # how a legal notice starts
    closings: tuple[str, ...] = ()  # sign-offs: "Best regards"


LANGUAGES: dict[str, Language] = {
    "en": Language(
        # Gmail, Apple Mail, Thunderbird, Yahoo ("On Friday, March 12, 2027, 10:00:15 AM GMT+1")
        quote_headers=(
            _dated("On", "wrote"),
            # Eudora "At 6/16/2016 08:32 PM, you wrote": a numeric date, not a sentence
            rf"At\s\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\s{_ANY}\bwrote\b.{{0,200}}?",
        ),
        wrote=(r"\bwrote",),
        header_from=("From",),
        header_fields=("Sent", "Date", "To", "Cc", "Subject"),
        separators=("Original Message", "Forwarded Message"),
        forwarded=("Begin forwarded message",),
        mobile=(
            rf"sent from my {_DEVICE}",
            r"sent from (?:outlook|mail|yahoo mail|gmail|aol|typeapp|bluemail|spark|proton ?mail)"
            r"\b[^,;]{0,30}",
            r"get outlook for (?:ios|android)\S*",
        ),
        disclaimers=(
            r"confidentiality notice|disclaimer\b",
            r"this (?:e-?mail|message|communication)(?: and any (?:attachments?|files))?"
            r" (?:is|are|may be|contains?)\b.{0,40}\b(?:confidential|privileged)",
            r"the information (?:contained )?in this (?:e-?mail|message|communication)",
        ),
        closings=(
            r"best(?: regards| wishes)?|kind regards|warm regards|regards|many thanks",
            r"thanks(?: again)?|thank you|thx|cheers|all the best|sincerely|yours|take care",
        ),
    ),
    "de": Language(
        quote_headers=(
            _dated("Am", "schrieb"),
            _dated("Am", r"hat") + r"\bFolgendes geschrieben",  # Yahoo
            # Gmail "Ana <ana@x> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr"
            rf"[^<>]{{0,80}}{ADDRESS}\s*schrieb\s+am\s{_DATED}{_ANY}",
        ),
        wrote=(r"\bschrieb",),
        header_from=("Von",),
        header_fields=("Gesendet", "Datum", "An", "Cc", "Betreff"),
        separators=("Ursprüngliche Nachricht", "Originalnachricht", "Weitergeleitete Nachricht"),
        forwarded=("Anfang der weitergeleiteten (?:Nachricht|E-Mail)",),
        mobile=(
            rf"von meinem {_DEVICE} gesendet",
            rf"gesendet (?:von|mit) (?:meinem |der )?{_DEVICE}",
            r"outlook für (?:ios|android) beziehen",
        ),
        disclaimers=(
            r"diese (?:e-?mail|nachricht)\b.{0,60}\bvertraulich",
            r"vertraulichkeitshinweis",
        ),
        closings=(
            r"viele grüße|viele grüsse|liebe grüße|beste grüße|schöne grüße|herzliche grüße",
            r"mit freundlichen grüßen|mit besten grüßen|grüße|gruß|lg|vg|danke",
        ),
    ),
    "fr": Language(
        quote_headers=(_dated("Le", r"a\s+écrit"),),
        wrote=(r"\ba\s+écrit",),
        header_from=("De", "Message du"),
        header_fields=("Envoyé le", "Envoyé", "Date", "À", "A", "Cc", "Copie à", "Objet", "Sujet"),
        separators=("Message d'origine", "Message original", "Message transféré"),
        forwarded=("Début du message (?:réexpédié|transféré)",),
        mobile=(
            rf"envoyé (?:de|depuis) mon {_DEVICE}",
            r"envoyé (?:de|depuis|à partir de) (?:outlook|yahoo mail|mail)\b[^,;]{0,30}",
            r"obtenir outlook pour (?:ios|android)\S*",
        ),
        disclaimers=(
            r"ce message et (?:toutes )?les pièces jointes",
            r"ce (?:message|courriel)\b.{0,60}\bconfidentiel",
        ),
        closings=(
            r"cordialement|bien cordialement|bien à vous|amitiés|salutations|merci(?: beaucoup)?",
            r"bonne journée|bonne soirée|à bientôt",
        ),
    ),
    "es": Language(
        quote_headers=(_dated("El", "escribió"),),
        wrote=(r"\bescribió",),
        header_from=("De",),
        header_fields=("Enviado el", "Enviado", "Fecha", "Para", "CC", "Asunto"),
        separators=("Mensaje original", "Mensaje reenviado"),
        forwarded=("Inicio del mensaje reenviado",),
        mobile=(
            rf"enviado desde mi {_DEVICE}",
            r"enviado desde (?:outlook|yahoo mail|correo)\b[^,;]{0,30}",
            r"obtener outlook para (?:ios|android)\S*",
        ),
        disclaimers=(
            r"(?:este|el presente) (?:mensaje|correo)\b.{0,60}\bconfidencial",
            r"aviso (?:de confidencialidad|legal)",
        ),
        closings=(
            r"saludos(?: cordiales)?|un saludo|atentamente|cordialmente|gracias|muchas gracias",
            r"abrazos|un abrazo",
        ),
    ),
    "pt": Language(
        quote_headers=(_dated("Em", "escreveu"),),
        wrote=(r"\bescreveu",),
        header_from=("De",),
        header_fields=("Enviada em", "Enviado em", "Enviado", "Data", "Para", "Cc", "Assunto"),
        separators=("Mensagem original", "Mensagem encaminhada"),
        forwarded=("Início da mensagem (?:reencaminhada|encaminhada)",),
        mobile=(
            rf"enviado do meu {_DEVICE}",
            r"enviado do (?:outlook|yahoo mail|email)\b[^,;]{0,30}",
            r"obter o outlook para (?:ios|android)\S*",
        ),
        disclaimers=(
            r"(?:esta|a presente) (?:mensagem|e-?mail)\b.{0,60}\bconfidencia",
            r"aviso de confidencialidade",
        ),
        closings=(
            r"cumprimentos|atenciosamente|abraços|abraço|obrigad[oa]|att|saudações",
            r"um abraço|beijos",
        ),
    ),
    "it": Language(
        quote_headers=(_dated("Il", r"ha\s+scritto"),),
        wrote=(r"\bha\s+scritto",),
        header_from=("Da",),
        header_fields=("Inviato", "Data", "A", "Cc", "Oggetto"),
        separators=("Messaggio originale", "Messaggio inoltrato"),
        forwarded=("Inizio messaggio inoltrato",),
        mobile=(
            rf"inviato da(?:l mio)? {_DEVICE}",
            r"(?:scarica|ottieni) outlook per (?:ios|android)\S*",
        ),
        disclaimers=(
            r"questo (?:messaggio|e-?mail)\b.{0,60}\briservat",
            r"le informazioni contenute in questo (?:messaggio|e-?mail)",
            r"avviso di riservatezza",
        ),
        closings=(
            r"cordiali saluti|distinti saluti|saluti|un saluto|grazie(?: mille)?",
            r"buona giornata|a presto",
        ),
    ),
    "nl": Language(
        quote_headers=(
            _dated("Op", "schreef"),
            _dated("Op", "heeft") + r"\bhet volgende geschreven",  # Apple Mail
        ),
        wrote=(r"\bschreef",),
        header_from=("Van",),
        header_fields=("Verzonden", "Datum", "Aan", "CC", "Onderwerp"),
        separators=("Oorspronkelijk bericht", "Origineel bericht", "Doorgestuurd bericht"),
        forwarded=("Begin doorgestuurd bericht",),
        mobile=(
            rf"(?:verzonden|verstuurd) (?:vanaf|met) mijn {_DEVICE}",
            r"outlook voor (?:ios|android) downloaden",
        ),
        disclaimers=(
            r"dit (?:e-?mail)?bericht\b.{0,60}\bvertrouwelijk",
            r"de informatie (?:verzonden met|in) dit (?:e-?mail)?bericht",
        ),
        closings=(
            r"met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|hartelijke groet(?:en)?",
            r"groeten|groetjes|bedankt|mvg|dank je wel|dank u wel",
        ),
    ),
    "pl": Language(
        quote_headers=(
            # Gmail "pt., 12 mar 2027 o 10:00 Ana <ana@x> napisał(a):"
            rf"(?:(?:pon|wt|śr|czw|pt|sob|niedz)\.,?|\d{{1,2}})\s{_DATED}{_ANY}\b{_NAPISAL}",
            # Thunderbird "W dniu 12.03.2027 o 10:00, Ana pisze", Yahoo "W piątek, 12 marca ..."
            rf"(?:W|Dnia)\s{_DATED}{_ANY}\b(?:{_NAPISAL}|pisze)",
            rf"Wiadomość napisana przez\s{_ANY}\bw dniu\s{_DATED}{_ANY}",  # Apple Mail
        ),
        wrote=(rf"\b{_NAPISAL}", r"\bpisze"),
        header_from=("Od",),
        header_fields=("Wysłane", "Wysłano", "Data", "Do", "DW", "Temat"),
        separators=(
            "Oryginalna wiadomość",
            "Wiadomość oryginalna",
            "Przekazana wiadomość",
            "Wiadomość przekazana dalej",
        ),
        forwarded=("Początek przekazywanej wiadomości",),
        mobile=(
            rf"wysłan[eo] z (?:mojego )?{_DEVICE}",
            r"pobierz (?:aplikację )?outlook dla (?:systemu )?(?:ios|android)",
        ),
        disclaimers=(
            r"(?:ta|niniejsza) wiadomość\b.{0,60}\bpoufn",
            r"informacje zawarte w tej wiadomości|treść tej wiadomości\b.{0,60}\bpoufn",
        ),
        closings=(
            r"pozdrawiam(?: serdecznie)?|serdecznie pozdrawiam|pozdrowienia|pozdr",
            r"z poważaniem|z wyrazami szacunku|dziękuję|dzięki|miłego dnia",
        ),
    ),
    "sv": Language(
        quote_headers=(
            # Gmail "Den fre 12 mars 2027 kl 10:00 skrev Ana <ana@x>", Thunderbird, Yahoo
            rf"Den\s{_DATED}{_ANY}\bskrev\b.{{0,200}}?",
            rf"\d{{1,4}}[\s./-]{_ANY}\bskrev\b.{{0,200}}?",  # Apple Mail "12 mars 2027 kl. 10:00"
        ),
        wrote=(r"\bskrev",),
        header_from=("Från",),
        header_fields=("Skickat", "Datum", "Till", "Kopia", "Ämne"),
        separators=("Ursprungligt meddelande", "Originalmeddelande", "Vidarebefordrat meddelande"),
        forwarded=("Vidarebefordrat brev", "Början av vidarebefordrat meddelande"),
        mobile=(
            rf"skicka(?:t|des) från min {_DEVICE}",
            r"skickat från (?:outlook|yahoo mail|e-post)\b[^,;]{0,30}",
            r"hämta outlook för (?:ios|android)\S*",
        ),
        disclaimers=(
            r"detta (?:e-?post)?meddelande\b.{0,60}\bkonfidentiell",
            r"informationen i detta (?:e-?post)?meddelande",
        ),
        closings=(
            r"med vänliga hälsningar|vänliga hälsningar|vänlig hälsning|bästa hälsningar",
            r"hälsningar|hälsning|mvh|vh|tack(?: så mycket)?|ha det bra",
        ),
    ),
    "ja": Language(
        quote_headers=(
            # Gmail "2027年3月12日(金) 10:00 Ana <a@x>"
            rf"\d{{4}}年\d{{1,2}}月\d{{1,2}}日{_ANY}{ADDRESS}",
            rf"\d{{4}}[/年.-]{_ANY}の(?:メール|メッセージ)",  # Apple Mail, Yahoo
            rf"\d{{4}}[/年.-]{_ANY}さんは書きました",  # Thunderbird "2027/03/12 10:00 に Ana"
        ),
        wrote=("さんは書きました",),
        header_from=("差出人",),
        header_fields=("送信日時", "日付", "宛先", "CC", "件名"),
        separators=("元のメッセージ", "転送メッセージ", "転送されたメッセージ"),
        forwarded=("転送されたメッセージ",),
        mobile=(
            r"[\w .'’-]{1,30}?から送信",
            r"(?:outlook for (?:ios|android)|(?:ios|android) ?版 ?outlook) ?を入手",
        ),
        disclaimers=(r"(?:この|本)(?:電子)?メール.{0,40}(?:機密|秘密)情報",),
        closings=(
            r"(?:以上[、,]?\s?)?(?:どうぞ)?(?:よろしく|宜しく)お願い(?:いた|致)?します",
            r"ありがとうございます|ありがとうございました",
        ),
    ),
    "zh": Language(
        quote_headers=(
            rf"[^<>]{{0,80}}?{ADDRESS}\s?于\s?\d{_ANY}写道",  # Gmail "Ana <a@x> 于2027年3月12日"
            rf"在\s?{_DATED}{_ANY}写道",  # "在 2027年3月12日 10:00，Ana 写道" (QQ, 163, Foxmail)
            rf"\d{{4}}[年/-]{_ANY}写道",  # Apple Mail "2027年3月12日 10:00，Ana <a@x> 写道"
        ),
        wrote=("写道",),
        header_from=("发件人",),
        header_fields=("发送时间", "时间", "日期", "收件人", "抄送", "主题"),
        separators=("原始邮件", "原始信息", "原始消息", "转发的邮件", "转发邮件", "转发的消息"),
        forwarded=("转发的邮件", "以下是转发的邮件"),
        mobile=(
            rf"发自我的 ?{_DEVICE}",
            rf"从我的 ?{_DEVICE} ?发送",
            r"获取 ?(?:ios|android) ?版 ?outlook",
        ),
        disclaimers=(
            r"(?:本|此)(?:电子)?邮件.{0,20}?(?:含有|包含).{0,10}?(?:机密|保密)",
            r"免责声明",
        ),
        closings=(r"此致(?:敬礼)?|敬礼|谢谢(?:您)?|多谢|感谢|祝好|顺祝商祺|顺颂商祺",),
    ),
    "zh-TW": Language(
        quote_headers=(
            # Gmail and Apple Mail "Ana <a@x> 於 2027年3月12日 週五 上午10:00 寫道"
            rf"[^<>]{{0,80}}?{ADDRESS}\s?於\s?\d{_ANY}寫道",
            rf"在\s?{_DATED}{_ANY}寫道",
            rf"\d{{4}}[年/-]{_ANY}寫道",
        ),
        wrote=("寫道",),
        header_from=("寄件者",),
        header_fields=("寄件日期", "日期", "收件者", "副本", "主旨"),
        separators=("原始郵件", "原始訊息", "轉寄的郵件", "轉寄郵件", "轉寄訊息"),
        forwarded=("轉寄的郵件", "以下是轉寄的郵件"),
        mobile=(
            rf"從我的 ?{_DEVICE} ?傳送",
            rf"寄自我的 ?{_DEVICE}",
            r"取得 ?(?:ios|android) ?版 ?outlook",
        ),
        disclaimers=(
            r"(?:本|此)(?:電子)?郵件.{0,20}?(?:含有|包含).{0,10}?(?:機密|保密)",
            r"免責聲明",
        ),
        closings=(r"此致|敬上|謝謝(?:您)?|多謝|感謝|祝好|敬祝商祺|順頌商祺",),
    ),
    "da": Language(
        quote_headers=(
            # Gmail and Apple Mail "Den 24. nov. 2025 kl. 10.00 skrev Ana <ana@x>"
            rf"Den\s{_DATED}{_ANY}\bskrev\b.{{0,200}}?",
            rf"\w{{2,4}}\.?\s{_DATED}.{{0,120}}?\bkl\.?\s\d{_ANY}\bskrev\b.{{0,200}}?",
        ),
        wrote=(r"\bskrev",),
        header_from=("Fra",),
        header_fields=("Sendt", "Dato", "Til", "Cc", "Emne"),
        separators=(
            "Oprindelig meddelelse",
            "Oprindelig besked",
            "Videresendt meddelelse",
            "Videresendt besked",
        ),
        forwarded=("Start på videresendt (?:besked|meddelelse)",),
        mobile=(
            rf"sendt fra min {_DEVICE}",
            r"sendt fra (?:outlook|mail)\b[^,;]{0,30}",
            r"hent outlook til (?:ios|android)\S*",
        ),
        disclaimers=(r"denne (?:e-?mail|meddelelse)\b.{0,60}\bfortrolig",),
        closings=(r"med venlig hilsen|venlig hilsen|kærlig hilsen|mvh|vh|kh|hilsen|tak",),
    ),
    "no": Language(
        # Gmail "tir. 18. apr. 2017 kl. 13:09 skrev Ana <ana@x>", Apple Mail "Den 15. jun. ..."
        quote_headers=(rf"\w{{2,4}}\.?\s{_DATED}.{{0,120}}?\bkl\.?\s\d{_ANY}\bskrev\b.{{0,200}}?",),
        wrote=(r"\bskrev",),
        header_from=("Fra",),
        header_fields=("Sendt", "Dato", "Til", "Kopi", "Emne"),
        separators=("Opprinnelig melding", "Videresendt melding"),
        forwarded=("Videresendt melding",),
        mobile=(
            rf"sendt fra min {_DEVICE}",
            r"sendt fra (?:outlook|e-post)\b[^,;]{0,30}",
            r"(?:få|hent) outlook for (?:ios|android)\S*",
        ),
        disclaimers=(r"denne e-?posten\b.{0,60}\bkonfidensiell",),
        closings=(r"med vennlig hilsen|vennlig hilsen|mvh|hilsen|takk",),
    ),
    "fi": Language(
        # Gmail "pe 20. lokakuuta 2017 klo 17.50 Ana <ana@x> kirjoitti"
        quote_headers=(rf"{_DATED}{_ANY}\bkirjoitti\b.{{0,200}}?",),
        wrote=(r"\bkirjoitti",),
        header_from=("Lähettäjä",),
        header_fields=("Lähetetty", "Päivämäärä", "Vastaanottaja", "Kopio", "Aihe"),
        separators=("Alkuperäinen viesti", "Välitetty viesti"),
        mobile=(
            r"lähetetty (?:iphonesta|ipadista|android-laitteesta|laitteesta)\b.{0,30}",
            r"(?:hanki|lataa) outlook for (?:ios|android)\S*",
        ),
        disclaimers=(r"tämä (?:sähköposti)?viesti\b.{0,60}\bluottamuksellin",),
        closings=(r"ystävällisin terveisin|parhain terveisin|terveisin|kiitos|t\.",),
    ),
    "ru": Language(
        # Gmail "понедельник, 6 октября 2014 г. пользователь Ana написал:" (its newer form,
        # "ср, 30 апр. 2025 г. в 15:19, Ana <ana@x>:", is a dated address line)
        quote_headers=(rf"{_DATED}{_ANY}\bнаписал(?:а)?\b.{{0,50}}?",),
        wrote=(r"\bнаписал(?:а)?",),
        header_from=("От",),
        header_fields=("Отправлено", "Дата", "Кому", "Копия", "Тема"),
        separators=("Исходное сообщение", "Пересылаемое сообщение", "Пересланное сообщение"),
        mobile=(
            r"отправлено с (?:моего )?(?:iphone|ipad|android|устройства)\b.{0,30}",
            r"отправлено из мобильной почты\b.{0,30}",
            r"(?:получить|скачайте) outlook для (?:ios|android)\S*",
        ),
        disclaimers=(r"(?:данное|это) (?:сообщение|письмо)\b.{0,60}\bконфиденциальн",),
        closings=(r"с уважением|спасибо|всего доброго|с наилучшими пожеланиями",),
    ),
    "uk": Language(
        # Gmail "29 грудня 2017 р. о 19:09 <ana@x> написав:", Android "... "Ana" <a@x> пише:"
        quote_headers=(rf"{_DATED}{_ANY}\b(?:написав|написала|пише)\b.{{0,50}}?",),
        wrote=(r"\b(?:написав|написала|пише)",),
        header_from=("Від",),
        header_fields=("Надіслано", "Дата", "Кому", "Копія", "Тема"),
        separators=("Вихідне повідомлення", "Оригінальне повідомлення", "Переслане повідомлення"),
        mobile=(
            r"надіслано з (?:мого )?(?:iphone|ipad|android)\b.{0,30}",
            r"(?:отримати|завантажте) outlook для (?:ios|android)\S*",
        ),
        disclaimers=(r"(?:це|дане) повідомлення\b.{0,60}\bконфіденційн",),
        closings=(r"з повагою|дякую|щиро",),
    ),
    "ca": Language(
        quote_headers=(_dated("El", r"ha\s+escrit"),),
        wrote=(r"\bha\s+escrit",),
        header_from=("De",),
        header_fields=("Enviat", "Data", "Per a", "A", "Cc", "Assumpte"),
        separators=("Missatge original", "Missatge reenviat"),
        mobile=(rf"enviat des del meu {_DEVICE}", r"obteniu l'outlook per a (?:ios|android)\S*"),
        disclaimers=(r"aquest (?:missatge|correu)\b.{0,60}\bconfidencial",),
        closings=(r"salutacions|cordialment|gràcies|moltes gràcies",),
    ),
    "ko": Language(
        # Apple Mail "2016. 11. 8. 오후 12:39 Ana <ana@x> 작성:", Gmail "... 님이 작성:"
        quote_headers=(rf"\d{{4}}[.년]\s?{_ANY}작성",),
        wrote=("작성",),
        header_from=("보낸 사람",),
        header_fields=("보낸 날짜", "날짜", "받는 사람", "참조", "제목"),
        separators=("원본 메시지", "전달된 메시지"),
        mobile=(
            r"(?:나의 )?(?:iphone|ipad|galaxy|android)\S*에서 보냄",
            r"(?:ios|android)용 outlook 받기",
        ),
        closings=(r"감사합니다|고맙습니다",),
    ),
    "hu": Language(
        # Thunderbird "2013.02.08. 7:31 keltezéssel, "Ana" írta:", Gmail "... Ana <a@x> ezt írta:"
        quote_headers=(rf"{_DATED}{_ANY}\bírta\b.{{0,50}}?",),
        wrote=(r"\bírta",),
        header_from=("Feladó",),
        header_fields=("Elküldve", "Dátum", "Címzett", "Másolat", "Tárgy"),
        separators=("Eredeti üzenet", "Továbbított üzenet"),
        mobile=(
            r"(?:iphone|ipad|android)\S*(?:ról|ről) küldve",
            r"(?:az )?outlook (?:ios|android)\S*(?: rendszerre)? (?:letöltése|beszerzése)",
        ),
        disclaimers=(r"ez az? (?:e-?mail|üzenet)\b.{0,60}\bbizalmas",),
        closings=(r"üdvözlettel|köszönöm|köszönettel|üdv",),
    ),
    "tr": Language(
        # Gmail "12 Mar 2027 Cum, 10:00 tarihinde Ana <ana@x> şunu yazdı:"
        quote_headers=(rf"{_DATED}{_ANY}\byazdı\b.{{0,50}}?",),
        wrote=(r"\byazdı",),
        header_from=("Kimden",),
        header_fields=("Gönderildi", "Gönderilme", "Tarih", "Kime", "Bilgi", "Konu"),
        separators=("Orijinal mesaj", "İletilen mesaj"),
        mobile=(
            r"(?:iphone|ipad|android)\S*(?:dan|den) gönderildi",
            r"(?:ios|android) için outlook'u (?:edinin|indirin)",
        ),
        disclaimers=(r"bu (?:e-?posta|mesaj)\b.{0,60}\bgizli",),
        closings=(r"saygılarımla|teşekkürler|teşekkür ederim|iyi çalışmalar",),
    ),
    "cs": Language(
        # Gmail "pá 12. 3. 2027 v 10:00 odesílatel Ana <ana@x> napsal:", Thunderbird "Dne ..."
        quote_headers=(rf"{_DATED}{_ANY}\bnapsal(?:\(a\)|a)?\b.{{0,50}}?",),
        wrote=(r"\bnapsal(?:\(a\)|a)?",),
        header_from=("Od",),
        header_fields=("Odesláno", "Datum", "Komu", "Kopie", "Předmět"),
        separators=("Původní zpráva", "Přeposlaná zpráva"),
        mobile=(
            rf"odesláno z (?:mého )?{_DEVICE}",
            r"(?:stáhněte si|získat) outlook pro (?:ios|android)\S*",
        ),
        disclaimers=(r"tato (?:zpráva|e-?mailová zpráva)\b.{0,60}\bdůvěrn",),
        closings=(r"s pozdravem|děkuji|díky|zdravím",),
    ),
    "ar": Language(
        # Gmail "في الجمعة، 12 مارس 2027 في 10:00 ص، كتب Ana <ana@x>:" (right to left)
        quote_headers=(rf"في\s{_DATED}{_ANY}كتب.{{0,200}}?",),
        wrote=("كتب",),
        header_from=("من",),
        header_fields=("تاريخ الإرسال", "أرسلت", "التاريخ", "إلى", "نسخة", "الموضوع"),
        separators=("الرسالة الأصلية", "رسالة معاد توجيهها"),
        mobile=(
            r"(?:تم )?الإرسال من (?:جهاز )?\S+",
            r"(?:الحصول على|احصل على) outlook .{0,20}(?:ios|android)",
        ),
        closings=(r"مع التحية|مع خالص التحية|شكرا|شكراً|تحياتي",),
    ),
    "he": Language(
        # Gmail "ב-12 במרץ 2027 ב-10:00, Ana <ana@x> כתב/ה:"
        quote_headers=(rf"ב[-־]?\s?{_DATED}{_ANY}כתב(?:/?ה)?.{{0,50}}?",),
        wrote=("כתב",),
        header_from=("מאת",),
        header_fields=("נשלח", "תאריך", "אל", "עותק", "נושא"),
        separators=("הודעה מקורית", "הודעה שהועברה"),
        mobile=(
            r"נשלח מ(?:ה-?)?(?:iphone|אייפון|ipad|android)\S*(?: שלי)?",
            r"קבל(?:ו)? את outlook עבור (?:ios|android)",
        ),
        closings=(r"בברכה|תודה רבה|תודה",),
    ),
    "ro": Language(
        # Gmail and Apple Mail "Pe 2 mar. 2027, la 10:00, Ana <ana@x> a scris"
        quote_headers=(_dated("Pe", r"a\s+scris"), _dated("În", r"a\s+scris")),
        wrote=(r"\ba\s+scris",),
        header_from=("De la",),
        header_fields=("Trimis", "Data", "Către", "Cc", "Subiect"),
        separators=("Mesaj original", "Mesaj redirecționat", "Mesaj transmis"),
        mobile=(
            rf"trimis de pe (?:(?:telefonul|mobilul) meu )?{_DEVICE}",
            r"obține(?:ți)? outlook pentru (?:ios|android)\S*",
        ),
        disclaimers=(r"acest (?:e-?mail|mesaj)\b.{0,60}\bconfiden[țţt]ial",),
        closings=(r"cu stimă|cu drag|cu bine|mulțumesc|mulţumesc|toate cele bune|o zi bună",),
    ),
    # No language: Gmail's numeric headers "2014-03-20 8:48 GMT+01:00 Ana <ana@x>", Yandex
    # "30.09.2017, 18.30, "Ana" <ana@x>" and "11:00 AM, November 17, 2021, "Ana" <ana@x>"
    "und": Language(
        quote_headers=(
            rf"\d{{1,4}}[./-]\s?\d{{1,2}}[./-]\s?\d{{1,4}}\b{_ANY}{ADDRESS}",
            rf"\d{{1,2}}:\d{{2}}(?:\s?[AP]M)?,\s{_ANY}{ADDRESS}",
            # any short line with a date that ends in the writer's address: Gmail in Russian
            # "ср, 30 апр. 2025 г. в 15:19, Ana <ana@x>", Mail.ru "... 3:32 PM from <ana@x>"
            rf"{_DATED}[^<>]{{0,120}}{ADDRESS}",
            r"\d{4}-\d{2}-\d{2}\s\d{1,2}:\d{2}\sGMT[+-]\d{2}:\d{2}\s[^<>]{1,80}",
            rf"\d{{4}}/\d{{1,2}}/\d{{1,2}}\s[^<>]{{1,80}}{ADDRESS}",
        ),
    ),
}


def column(pick: Callable[[Language], tuple[str, ...]], *, phrases: bool = False) -> list[str]:
    """A table column over all languages, without repeats."""
    items = [item for language in LANGUAGES.values() for item in pick(language)]
    if phrases:
        items = [item.replace(" ", r"\s+") for item in items]
    return list(dict.fromkeys(items))


def alternatives(pick: Callable[[Language], tuple[str, ...]], *, phrases: bool = False) -> str:
    """One regex alternation of a table column over all languages."""
    return "|".join(f"(?:{item})" for item in column(pick, phrases=phrases))
