"""Phrases about meetings, per language, for `agent.mail_in.replies.PATTERNS`.

Two kinds, kept here because they are many and change together with
`agent.meetings.when` (which reads the days and times in the same sentences):

- `MEETING_MOVES`: requests to move a meeting or the series that name the new day or
  time without a verb like "reschedule": "can we do Thursday instead, same time?",
  "from now on, could we meet at 8pm?". Added to the RESCHEDULE phrases.
- `MISSED_MEETING`: a meeting that was due did not take place, told after the fact:
  "we didn't manage to meet", "we had to cancel this week", "Tom didn't show up".

Each entry is matched case-insensitively, in multiline mode, and a phrase with a
negation word in the few words before it does not count (see `replies._negated`). The
phrases of one language are joined into one pattern: every pattern costs a scan of the
whole reply.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MEETING_MOVES", "MISSED_MEETING"]

_EN_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?|tomorrow|next\s+week"
_EN_TIME = r"\d{1,2}(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)|noon|\d{1,2}[:.]\d\d"
_DE_DAY = r"(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)s?"
_FR_DAY = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
_ES_DAY = r"(?:lunes|martes|miércoles|jueves|viernes|sábado|domingo)"
_PT_DAY = r"(?:segunda|terça|quarta|quinta|sexta|sábado|domingo)(?:-feira)?"
_IT_DAY = r"(?:lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica)"
_NL_DAY = r"(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)(?:s|en)?"
_MEETINGS = r"(?:meetings|sessions|calls|catch[- ]?ups)"


def _joined(table: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Each language's phrases as one alternation."""
    return {lang: ("|".join(f"(?:{p})" for p in phrases),) for lang, phrases in table.items()}


MEETING_MOVES: Mapping[str, tuple[str, ...]] = {
    "en": (
        rf"\b(?:{_EN_DAY}|{_EN_TIME}|same\s+time)\b[^.?!\n]{{0,40}}\binstead\b",
        rf"\binstead\b[^.?!\n]{{0,30}}?\b(?:{_EN_DAY}|at\s+\d|{_EN_TIME})",
        rf"\b(?:can|could|shall)\s+we\s+(?:do|make\s+it|meet|have\s+it|switch\s+to|go\s+for)"
        rf"\s+(?:on\s+|at\s+)?(?:{_EN_DAY}|{_EN_TIME}|the\s+\d)",
        rf"\b(?:from\s+now\s+on|going\s+forward)\b[^.?!\n]{{0,60}}"
        rf"\b(?:meet|{_MEETINGS}|{_EN_DAY}|{_EN_TIME})",
        rf"\b(?:meet|{_MEETINGS})\b[^.?!\n]{{0,60}}\b(?:from\s+now\s+on|going\s+forward)\b",
        rf"\b(?:future|remaining|upcoming|other)\s+{_MEETINGS}\b[^.?!\n]{{0,40}}?"
        rf"\b(?:at|on|to)\s+(?:{_EN_DAY}|{_EN_TIME}|\d)",
        rf"\bswitch\b[^.?!\n]{{0,30}}?\bto\s+(?:{_EN_DAY}|{_EN_TIME})",
        rf"\bwould\s+(?:{_EN_DAY}|{_EN_TIME})\b[^.?!\n]{{0,30}}\bwork\b",
    ),
    "de": (
        r"\bstattdessen\b",
        rf"\b(?:ab\s+jetzt|ab\s+sofort|künftig|zukünftig|in\s+zukunft)\b[^.?!\n]{{0,60}}"
        rf"\b(?:treffen|termine?|sitzungen|um\s+\d|{_DE_DAY})\b",
        rf"\b(?:lieber|besser)\s+(?:am\s+|immer\s+)?{_DE_DAY}\b",
        rf"\bkönnen\s+wir\s+(?:uns\s+)?(?:auch\s+)?(?:am|um)\s+(?:{_DE_DAY}|\d)",
    ),
    "fr": (
        r"\bà\s+la\s+place\b",
        rf"\bplutôt\s+(?:le\s+)?(?:{_FR_DAY}|à\s+\d|\d)",
        r"\b(?:désormais|dorénavant|à\s+partir\s+de\s+maintenant)\b[^.?!\n]{0,60}"
        rf"\b(?:réunions?|séances?|voir|retrouver|{_FR_DAY}|\d{{1,2}}\s*h)",
        r"\b(?:on\s+peut|pourrait-on|peut-on|pouvons-nous|pourrions-nous)\s+"
        rf"(?:plutôt\s+)?(?:faire|se\s+voir|nous\s+voir)\b[^.?!\n]{{0,30}}"
        rf"\b(?:{_FR_DAY}|\d{{1,2}}\s*h)",
    ),
    "es": (
        r"\ben\s+(?:su\s+lugar|vez\s+de)\b",
        rf"\bmejor\s+el\s+{_ES_DAY}\b",
        r"\b(?:de\s+ahora\s+en\s+adelante|a\s+partir\s+de\s+ahora)\b[^.?!\n]{0,60}"
        rf"\b(?:reuniones|sesiones|reunirnos|vernos|{_ES_DAY}|\d)",
        r"\bpodemos\s+(?:hacerla|vernos|reunirnos|quedar|pasarla)\b[^.?!\n]{0,30}"
        rf"\b(?:{_ES_DAY}|\d)",
    ),
    "pt": (
        r"\bem\s+vez\s+disso\b",
        r"\b(?:daqui\s+(?:para|pra)\s+frente|a\s+partir\s+de\s+agora)\b[^.?!\n]{0,60}"
        rf"\b(?:reuniões|encontros|{_PT_DAY}|\d)",
        rf"\bpodemos\s+(?:fazer|nos\s+encontrar|passar)\b[^.?!\n]{{0,30}}\b(?:{_PT_DAY}|\d)",
    ),
    "it": (
        rf"\binvece\b[^.?!\n]{{0,30}}\b(?:{_IT_DAY}|alle\s+\d)",
        rf"\b{_IT_DAY}\b[^.?!\n]{{0,30}}\binvece\b",
        rf"\b(?:d'ora|da\s+ora)\s+in\s+poi\b[^.?!\n]{{0,60}}\b(?:incontri|vederci|{_IT_DAY}|\d)",
    ),
    "nl": (
        r"\bin\s+plaats\s+daarvan\b",
        rf"\bvoortaan\b[^.?!\n]{{0,60}}\b(?:afspraken|sessies|{_NL_DAY}|\d)",
    ),
    "ja": (
        r"(?:に|へ)(?:変更|変え)(?:でき|られ|てもいい|たい|ていただけ)",
        r"代わりに",
        r"(?:今後|これから)[^。？！\n]{0,20}(?:曜日|時)",
    ),
    "zh": (r"改到|改成|改为|换到", r"(?:今后|以后)[^。？！\n]{0,20}(?:星期|周|点)"),
}

MEETING_MOVES = _joined(MEETING_MOVES)

MISSED_MEETING: Mapping[str, tuple[str, ...]] = {
    "en": (
        r"\b(?:didn'?t|did\s+not|couldn'?t|could\s+not|weren'?t\s+able\s+to"
        r"|were\s+(?:not\s+|un)able\s+to|never\s+got\s+to|haven'?t|have\s+not)\s+"
        r"(?:manage\s+to\s+|get\s+(?:a\s+chance\s+)?to\s+|end\s+up\s+|get\s+around\s+to\s+)?"
        r"(?:meet|met|catch\s+up|get\s+together)\b"
        r"(?!\s+(?:the|our|my|your|his|her|its|their|any|all|this|that)\s+"
        r"(?:goals?|deadlines?|targets?|expectations?|milestones?|criteria))",
        r"\b(?:had|needed)\s+to\s+(?:cancel|skip|call\s+off|miss)\b",
        r"\b(?:didn'?t|did\s+not|never)\s+(?:show(?:\s+up)?|turn\s+up|join|appear|log\s+on"
        r"|dial\s+in)\b",
        r"\bno[- ]show\b",
        r"\b(?:couldn'?t|could\s+not|wasn'?t\s+able\s+to|was\s+unable\s+to)\s+make\s+it\b",
        r"\b(?:meeting|session|call|catch[- ]?up)\s+(?:didn'?t|did\s+not|never)\s+"
        r"(?:happen|take\s+place|go\s+ahead)\b",
        r"\b(?:meeting|session|call)\s+(?:was|got)\s+(?:cancell?ed|called\s+off)\b",
        r"\b(?:we|I)\s+missed\s+(?:our|the|this\s+week'?s|last\s+week'?s|each\s+other)\b",
        r"\bit\s+didn'?t\s+happen\b",
    ),
    "de": (
        r"\b(?:haben|hatten)\b[^.?!\n]{0,30}?\b(?:nicht|nie)\s+"
        r"(?:getroffen|gesprochen|geschafft|gesehen)\b",
        r"\b(?:hat|haben)\s+(?:leider\s+)?nicht\s+stattgefunden\b",
        r"\b(?:ist|war)\s+(?:leider\s+)?ausgefallen\b",
        r"\b(?:mussten|musste)\s+(?:das\s+treffen\s+|den\s+termin\s+|es\s+)?(?:leider\s+)?"
        r"(?:absagen|ausfallen\s+lassen)\b",
        r"\b(?:ist|war)\s+(?:leider\s+)?nicht\s+(?:erschienen|gekommen)\b",
    ),
    "fr": (
        r"\b(?:nous\s+n'avons|on\s+n'a)\s+pas\s+pu\s+(?:nous|se)\s+(?:voir|rencontrer|réunir|parler)\b",
        r"\bn'a\s+pas\s+eu\s+lieu\b",
        r"\b(?:a\s+été|était)\s+annulée?\b",
        r"\b(?:nous\s+avons|on\s+a)\s+dû\s+(?:l'\s*)?annuler\b",
        r"\bn'est\s+pas\s+venue?\b",
    ),
    "es": (
        r"\bno\s+(?:pudimos|logramos|conseguimos)\s+(?:reunirnos|vernos|hablar|quedar|conectarnos)\b",
        r"\bno\s+(?:se\s+)?(?:realizó|hizo|tuvo\s+lugar|pudo\s+hacer(?:se)?)\b",
        r"\btuvimos\s+que\s+cancelar(?:la)?\b",
        r"\bno\s+(?:se\s+)?(?:presentó|apareció|vino|se\s+conectó)\b",
    ),
    "pt": (
        r"\bnão\s+(?:conseguimos|pudemos)\s+(?:nos\s+)?(?:encontrar|reunir|falar)\b",
        r"\btivemos\s+que\s+(?:cancelar|desmarcar)\b",
        r"\bnão\s+aconteceu\b",
        r"\bnão\s+(?:apareceu|compareceu|veio)\b",
    ),
    "it": (
        r"\bnon\s+(?:siamo\s+riusciti|abbiamo\s+potuto)\s+(?:a\s+)?(?:incontrarci|vederci|sentirci)\b",
        r"\babbiamo\s+dovuto\s+(?:annullare|saltare)\b",
        r"\bnon\s+si\s+è\s+(?:presentat[oa]|collegat[oa])\b",
        r"\bè\s+saltat[oa]\b",
    ),
    "nl": (
        r"\b(?:hebben|konden)\b[^.?!\n]{0,30}?\bniet\s+(?:kunnen\s+)?(?:spreken|gesproken"
        r"|ontmoet|zien|gezien)\b",
        r"\b(?:moesten|hebben)\s+(?:het\s+)?(?:moeten\s+)?(?:afzeggen|annuleren|afgezegd)\b",
        r"\bis\s+niet\s+(?:komen\s+)?opgedaagd\b",
        r"\bging\s+niet\s+door\b",
    ),
    "ja": (
        r"会えませんでした|お会いできませんでした|話せませんでした",
        r"(?:中止|キャンセル)(?:に)?(?:なりました|しました)",
        r"来ませんでした|現れませんでした",
    ),
    "zh": (r"没能见面|没有见面|没见成|没能开会", r"取消了", r"没来|没有出现"),
}
MISSED_MEETING = _joined(MISSED_MEETING)
