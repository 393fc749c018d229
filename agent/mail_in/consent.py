"""Does an answer to the agreement give consent? Vocabularies per language, as data.

"I agree" gives consent; nothing less does. Read against the consent phrases
found in a reply (`agent.mail_in.replies.PATTERNS[IntentKind.AGREE]`):

- *deferred*: "Before I agree: how much time per week ...?", "I'd agree if ...",
  "I'll agree once I know ..." puts consent off: the writer asks or sets a condition.
- *opinion*: "I agree with Tom that weekly is too often" agrees with a person
  about something, not to the agreement.
- *conditional*: "I agree if we can meet in the evenings" (a condition word after
  the phrase), or "I agree, but can we make it biweekly?" (a reservation followed by
  a question, a request or a wish about the meetings). "I agree, but I'll be late
  to the first one" is consent with a remark.

A condition's `topic` says what it is about, from `WISHES`: "cadence", "length",
"day" (days and times of day), else "question" when it asks something, else "other".
Every table maps a language to one regular expression (matched case-insensitively);
a language is added by adding its row to each table. All patterns are alternations
of bounded words: linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CONDITIONS",
    "DEFERRED",
    "OPINIONS",
    "REQUESTS",
    "RESERVATIONS",
    "WISHES",
    "Consent",
    "has_reservation",
    "judge",
    "topic_of",
    "wish",
]

# Consent put off: a question or a condition comes first.
DEFERRED: Mapping[str, str] = {
    "en": r"\bbefore\s+(?:I\s+)?(?:agree|agreeing|sign|signing|confirm|confirming|commit)\b"
    r"|\bI(?:'ll|\s+will|'d|\s+would|\s+could|\s+can|\s+might)\s+(?:happily\s+|gladly\s+"
    r"|definitely\s+|be\s+happy\s+to\s+|be\s+glad\s+to\s+)?(?:agree|accept|sign)\b"
    r"|\b(?:once|when|if)\s+I\s+(?:agree|accept|sign)\b",
    "de": r"\bbevor\s+ich\s+(?:zustimme|unterschreibe|bestätige|zusage)\b|\bwürde\s+ich\s+"
    r"(?:gerne\s+)?zustimmen\b|\bich\s+würde\s+(?:gerne\s+)?zustimmen\b|\bvor\s+meiner\s+zusage\b",
    "fr": r"\bavant\s+d['e]\s*(?:accepter|signer|confirmer|m'engager|donner\s+mon\s+accord)"
    r"|\bj'accepterais\b|\bje\s+serais\s+d'accord\b",
    "es": r"\bantes\s+de\s+(?:aceptar|firmar|confirmar|comprometerme|estar\s+de\s+acuerdo)\b"
    r"|\baceptaría\b|\bestaría\s+de\s+acuerdo\b",
    "pt": r"\bantes\s+de\s+(?:concordar|aceitar|assinar|confirmar)\b|\bconcordaria\b|\baceitaria\b",
    "it": r"\bprima\s+di\s+(?:accettare|firmare|confermare|dare\s+il\s+mio\s+accordo)\b"
    r"|\baccetterei\b|\bsarei\s+d'accordo\b",
    "nl": r"\bvoordat\s+ik\s+(?:akkoord\s+ga|accepteer|teken|instem)\b"
    r"|\bik\s+zou\s+akkoord\s+gaan\b",
    "pl": r"\bzanim\s+(?:się\s+zgodzę|zaakceptuję|podpiszę)\b|\bzgodził(?:a)?bym\b",
    "sv": r"\binnan\s+jag\s+(?:godkänner|accepterar|skriver\s+under)\b|\bjag\s+skulle\s+godkänna\b",
    "da": r"\bfør\s+jeg\s+(?:accepterer|godkender|siger\s+ja)\b|\bjeg\s+ville\s+acceptere\b",
    "ja": r"同意する前に|同意の前に|同意する前|同意できるかどうか",
    "zh": r"同意之前|我同意前|在同意前",
    "ru": r"\b(?:прежде|перед\s+тем)\s*,?\s+чем\s+(?:согласиться|подписать)"
    r"|\bсогласил(?:ся|ась)\s+бы\b|\bя\s+бы\s+согласил",
}

# Right after a consent phrase: agreeing with someone about something, not to the agreement.
_THINGS_EN = (
    r"(?:the|this|that|your|our|my)\s+(?:mentoring\s+)?"
    r"(?:agreement|terms|plan|proposal|above|goals?|points?|rules|cadence|conditions)"
)
OPINIONS: Mapping[str, str] = {
    "en": rf"^\s+(?:with\s+(?!{_THINGS_EN}\b|it\b|this\b|that\b|everything\b|all\b)|that\s"
    r"|on\s+(?!all\b|everything\b|the\s+(?:agreement|terms)\b))",
    "de": r"^[^.!?\n]{0,3}?,?\s+dass\b|^\s+mit\s+(?!der\s+vereinbarung|allem|dem\b)",
    "fr": r"^\s+(?:avec\s+(?!l'accord|la\s+convention|les\s+termes|tout|ça|cela|ceci)"
    r"|pour\s+dire\s+que|sur\s+le\s+fait|que\s)",
    "es": r"^\s+(?:con\s+(?!el\s+acuerdo|los\s+términos|todo|esto|eso)|en\s+que\s|que\s)",
    "pt": r"^\s+(?:com\s+(?!o\s+acordo|os\s+termos|tudo|isso|isto)|que\s)",
    "it": r"^\s+(?:con\s+(?!l'accordo|i\s+termini|tutto|questo)|che\s|sul\s+fatto)",
    "nl": r"^\s+(?:met\s+(?!de\s+(?:afspraken|overeenkomst|voorwaarden)|alles|het\b)|dat\s)",
    "pl": r"^\s+(?:z\s+(?!umową|warunkami|tym|wszystkim)|że\s|co\s+do)",
    "ru": r"^\s+(?:с\s+(?!соглашением|условиями|этим|всем)|что\s)",
    "zh": r"^[^。！？\n]{1,8}?的(?:看法|意见|观点|说法)",
}
# Just before a consent phrase: the same, where the person comes first ("トムさんに同意します").
OPINIONS_BEFORE: Mapping[str, str] = {
    "ja": r"(?:さん|氏|くん|の意見|の考え|のご意見)に\s*$",
}

# After a consent phrase, in the same sentence: what follows is a condition.
CONDITIONS: Mapping[str, str] = {
    "en": r"\b(?:if|provided|providing|as\s+long\s+as|so\s+long\s+as|on\s+(?:the\s+)?condition"
    r"|only\s+if|assuming|subject\s+to|unless)\b",
    "de": r"\b(?:wenn|falls|sofern|solange|vorausgesetzt|unter\s+der\s+bedingung)\b",
    "fr": r"\b(?:si|s'il|à\s+condition|pourvu|tant\s+que|sous\s+réserve)\b",
    "es": r"\b(?:si|siempre\s+(?:y\s+cuando|que)|con\s+tal|a\s+condición)\b",
    "pt": r"\b(?:se\s+(?:for|pudermos|possível|a\s+gente|der)|desde\s+que|contanto"
    r"|com\s+a\s+condição)\b",
    "it": r"\b(?:se\s+(?:possiamo|potessimo|è|si)|purché|a\s+condizione|a\s+patto|sempre\s+che)\b",
    "nl": r"\b(?:als\s+(?:we|wij|het|dat|u|jij)|indien|mits|op\s+voorwaarde|zolang)\b",
    "pl": r"\b(?:jeśli|jeżeli|pod\s+warunkiem|o\s+ile)\b",
    "sv": r"\b(?:om\s+(?:vi|det|ni|jag|man)|förutsatt|så\s+länge|under\s+förutsättning)\b",
    "da": r"\b(?:hvis|forudsat|så\s+længe|på\s+betingelse)\b",
    "ja": r"なら|であれば|場合は|条件",
    "zh": r"如果|只要|前提是|条件是",
    "ru": r"\b(?:если|при\s+условии|только\s+если)\b",
}

# After a consent phrase: a reservation; a condition when a question, request or wish follows.
RESERVATIONS: Mapping[str, str] = {
    "en": r"\b(?:but|however|although|though|except)\b",
    "de": r"\b(?:aber|jedoch|allerdings|außer)\b",
    "fr": r"\b(?:mais|cependant|toutefois|sauf)\b",
    "es": r"\b(?:pero|sin\s+embargo|aunque|excepto|salvo)\b",
    "pt": r"\b(?:mas|porém|contudo|embora|exceto)\b",
    "it": r"\b(?:ma|però|tuttavia|tranne)\b",
    "nl": r"\b(?:maar|echter|behalve)\b",
    "pl": r"\b(?:ale|jednak|lecz)\b",
    "sv": r"\b(?:men|dock|förutom)\b",
    "da": r"\b(?:men|dog|undtagen)\b",
    "ja": r"が、|けど|けれど|ただし|ただ、|でも",
    "zh": r"但是|不过|可是|但",
    "ru": r"\b(?:но|однако|хотя)\b",
}

# Asking for something (after a reservation).
REQUESTS: Mapping[str, str] = {
    "en": r"\b(?:can|could|would|may)\s+we\b|\bis\s+it\s+possible\b|\bI'?d\s+(?:prefer|rather)\b"
    r"|\bI\s+would\s+(?:prefer|rather)\b|\bI\s+prefer\b|\binstead\b|\bwould\s+it\s+be\b",
    "de": r"\b(?:können|könnten)\s+wir\b|\blieber\b|\bstatt\b|\bwäre\s+es\s+möglich\b",
    "fr": r"\bpourr(?:ait|ions)[- ](?:on|nous)\b|\bpeut[- ]on\b|\bpouvons[- ]nous\b"
    r"|\bje\s+préfér\w+|\bplutôt\b|\bau\s+lieu\b",
    "es": r"\bpodr(?:emos|íamos)\b|\bprefer(?:iría|iero|iríamos)\b|\ben\s+(?:vez|lugar)\b",
    "pt": r"\bpoder(?:emos|íamos)\b|\bpodemos\b|\bprefir\w+|\bprefer(?:ia|iria)\b|\bem\s+vez\b",
    "it": r"\bpotr(?:emmo|emo)\b|\bpossiamo\b|\bprefer(?:isco|irei)\b|\binvece\b",
    "nl": r"\b(?:kunnen|zouden)\s+we\b|\bliever\b|\bin\s+plaats\b",
    "pl": r"\bmo(?:żemy|glibyśmy)\b|\bwolał(?:a)?bym\b|\bzamiast\b",
    "sv": r"\b(?:kan|skulle)\s+vi\b|\bhellre\b|\bistället\b",
    "da": r"\b(?:kan|kunne)\s+vi\b|\bhellere\b|\bi\s+stedet\b",
    "ja": r"できますか|できませんか|いただけますか|希望|ほうが|方が",
    "zh": r"可以|能否|能不能|希望|最好|改成",
    "ru": r"\bмо(?:жем|жно|гли)\b|\bлучше\b|\bвместо\b|\bпредпоч",
}

# What a condition or a wish is about, first match wins: topic -> language -> expression.
WISHES: Mapping[str, Mapping[str, str]] = {
    "cadence": {
        "en": r"\bbi-?weekly\b|\bfortnight\w*|\bevery\s+(?:other|second|two|2|three|3|four"
        r"|4)\s+weeks?"
        r"|\bmonthly\b|\bonce\s+a\s+month\b|\btwice\s+a\s+(?:month|week)\b"
        r"|\b(?:less|more)\s+(?:often|frequent\w*)|\btoo\s+(?:often|frequent|much|many)\b",
        "de": r"\balle\s+(?:zwei|2|drei|3|vier|4)\s+wochen\b|\bzweiwöchentlich\b|\bvierzehntägig\b"
        r"|\bmonatlich\b|\beinmal\s+im\s+monat\b|\bseltener\b|\böfter\b|\bzu\s+oft\b",
        "fr": r"\btoutes\s+les\s+(?:deux|2|trois|3)\s+semaines\b|\bune\s+semaine\s+sur\s+deux\b"
        r"|\bmensuel\w*|\bune\s+fois\s+par\s+mois\b|\b(?:moins|plus)\s+souvent\b"
        r"|\btrop\s+souvent\b",
        "es": r"\bcada\s+(?:dos|2|tres|3)\s+semanas\b|\bquincenal\w*|\bmensual\w*"
        r"|\buna\s+vez\s+al\s+mes\b|\bcon\s+(?:menos|más)\s+frecuencia\b"
        r"|\bdemasiado\s+a\s+menudo\b",
        "pt": r"\ba\s+cada\s+(?:duas|2|três|3)\s+semanas\b|\bquinzena\w*|\bquinzenal\w*|\bmensal\w*"
        r"|\buma\s+vez\s+por\s+mês\b|\bcom\s+(?:menos|mais)\s+frequência\b",
        "it": r"\bogni\s+(?:due|2|tre|3)\s+settimane\b|\bquindicinal\w*|\bmensil\w*"
        r"|\buna\s+volta\s+al\s+mese\b|\b(?:meno|più)\s+spesso\b",
        "nl": r"\bom\s+de\s+(?:week|twee\s+weken|2\s+weken)\b|\btweewekelijks\b|\bmaandelijks\b"
        r"|\b(?:minder|vaker)\s+vaak\b|\bminder\s+vaak\b|\bvaker\b",
        "pl": r"\bco\s+(?:dwa|2|trzy|3)\s+tygodnie\b|\bco\s+miesiąc\b|\braz\s+w\s+miesiącu\b"
        r"|\brzadziej\b|\bczęściej\b",
        "sv": r"\bvarannan\s+vecka\b|\bvar\s+(?:tredje|fjärde)\s+vecka\b|\bvarje\s+månad\b"
        r"|\bmer\s+sällan\b|\boftare\b",
        "da": r"\bhver\s+(?:anden|tredje)\s+uge\b|\bhver\s+måned\b|\bsjældnere\b|\boftere\b",
        "ja": r"隔週|2週間に1回|二週間に一回|月1回|月に1回|毎月",
        "zh": r"两周一次|每两周|隔周|每月|一个月一次",
        "ru": r"\bраз\s+в\s+(?:две|2|три|3)\s+недели\b|\bраз\s+в\s+месяц\b|\bежемесячно\b"
        r"|\bреже\b|\bчаще\b",
    },
    "length": {
        "en": r"\b\d{2,3}\s*(?:min(?:ute)?s?|-minute)\b|\bhalf\s+an\s+hour\b|\ban\s+hour\b"
        r"|\b(?:shorter|longer)\b",
        "de": r"\b\d{2,3}\s*min(?:uten)?\b|\beine\s+(?:halbe\s+)?stunde\b|\b(?:kürzer|länger)\b",
        "fr": r"\b\d{2,3}\s*min(?:utes)?\b|\bune\s+(?:demi-)?heure\b|\bplus\s+(?:courte?s?"
        r"|longue?s?)\b",
        "es": r"\b\d{2,3}\s*min(?:utos)?\b|\bmedia\s+hora\b|\buna\s+hora\b"
        r"|\bmás\s+(?:cortas?|largas?)\b",
        "pt": r"\b\d{2,3}\s*min(?:utos)?\b|\bmeia\s+hora\b|\buma\s+hora\b"
        r"|\bmais\s+(?:curtas?|longas?)\b",
        "it": r"\b\d{2,3}\s*min(?:uti)?\b|\bmezz'ora\b|\bun'ora\b|\bpiù\s+(?:brevi|lunghe|corte)\b",
        "nl": r"\b\d{2,3}\s*min(?:uten)?\b|\bhalf\s+uur\b|\been\s+uur\b|\b(?:korter|langer)\b",
        "pl": r"\b\d{2,3}\s*min(?:ut)?\b|\bpół\s+godziny\b|\bgodzin[aęy]\b|\b(?:krótsze|dłuższe)\b",
        "sv": r"\b\d{2,3}\s*min(?:uter)?\b|\ben\s+halvtimme\b|\ben\s+timme\b|\b(?:kortare"
        r"|längre)\b",
        "da": r"\b\d{2,3}\s*min(?:utter)?\b|\ben\s+halv\s+time\b|\ben\s+time\b|\b(?:kortere"
        r"|længere)\b",
        "ja": r"\d{2,3}\s*分|1時間|一時間|短く|長く",
        "zh": r"\d{2,3}\s*分钟|半小时|一小时|短一些|长一些|更短|更长",
        "ru": r"\b\d{2,3}\s*мин\w*|\bполчаса\b|\bчас\b|\b(?:короче|дольше)\b",
    },
    "day": {
        "en": r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\bweekends?\b"
        r"|\b(?:evenings?|mornings?|afternoons?|lunchtime)\b|\b\d{1,2}\s*(?:am|pm)\b"
        r"|\b\d{1,2}:\d{2}\b",
        "de": r"\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)s?\b"
        r"|\bwochenende\b|\b(?:abends?|morgens|nachmittags?|vormittags?)\b|\b\d{1,2}\s*uhr\b",
        "fr": r"\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)s?\b|\bweek-end\b"
        r"|\b(?:soir(?:ée)?s?|matin(?:ée)?s?|après-midi)\b|\b\d{1,2}\s*h\b",
        "es": r"\b(?:lunes|martes|miércoles|jueves|viernes|sábados?|domingos?)\b"
        r"|\bfin\s+de\s+semana\b"
        r"|\b(?:tardes?|mañanas|noches?)\b",
        "pt": r"\b(?:segunda|terça|quarta|quinta|sexta)(?:-feira)?s?\b|\bsábados?\b|\bdomingos?\b"
        r"|\bfim\s+de\s+semana\b|\b(?:tardes?|manhãs?|noites?)\b",
        "it": r"\b(?:lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica)\b|\bweekend\b"
        r"|\b(?:sera|serata|mattina|mattino|pomeriggio)\b",
        "nl": r"\b(?:maan|dins|woens|donder|vrij|zater|zon)dag(?:en)?\b|\bweekend\b"
        r"|\b(?:'s\s+avonds|avond(?:en)?|ochtend(?:en)?|middag(?:en)?)\b",
        "pl": r"\b(?:poniedział\w+|wtor\w+|środ\w+|czwart\w+|piąt\w+|sobot\w+|niedziel\w+)\b"
        r"|\bwieczor\w*|\brano\b|\bpopołudni\w*",
        "sv": r"\b(?:mån|tis|ons|tors|fre|lör|sön)dag(?:ar)?\b|\bhelg(?:en)?\b|\bkvällar?\b"
        r"|\bmorgnar\b|\beftermiddag(?:ar)?\b",
        "da": r"\b(?:man|tirs|ons|tors|fre|lør|søn)dag(?:e)?\b|\bweekend(?:en)?\b|\baften(?:er)?\b"
        r"|\bmorgen(?:en)?\b|\beftermiddag(?:e)?\b",
        "ja": r"[月火水木金土日]曜|週末|夕方|夜|朝|午後|午前|\d{1,2}時",
        "zh": r"星期[一二三四五六日天]|周[一二三四五六日末]|晚上|早上|上午|下午|\d{1,2}点",
        "ru": r"\b(?:понедельник|вторник|сред[ау]|четверг|пятниц[ау]|суббот[ау]|воскресенье)\w*"
        r"|\bвыходн\w*|\bвечер\w*|\bутр\w*|\bднём\b",
    },
}


def _one(table: Mapping[str, str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in table.values()), re.IGNORECASE)


_DEFERRED = _one(DEFERRED)
_OPINION = _one(OPINIONS)
_OPINION_BEFORE = _one(OPINIONS_BEFORE)
_CONDITION = _one(CONDITIONS)
_RESERVATION = _one(RESERVATIONS)
_REQUEST = _one(REQUESTS)
_WISHES = tuple((topic, _one(table)) for topic, table in WISHES.items())
_END = re.compile(r"[.!?。！？\n]")
_LOOK_BACK = 60  # characters before a consent phrase read for "before"/"once"/a person


@dataclass(frozen=True)
class Consent:
    """What the consent phrases of a reply amount to.

    `agreed` is the phrase that gave consent, None when none did; `condition` is
    the writer's condition or question (their words), with its `topic`.
    """

    agreed: str | None = None
    condition: str | None = None
    topic: str | None = None


def topic_of(text: str) -> str:
    """ "cadence", "length" or "day" when `text` asks about that, else "question"/"other"."""
    found = next((topic for topic, rx in _WISHES if rx.search(text)), None)
    if found:
        return found
    return "question" if "?" in text or "？" in text else "other"


def wish(text: str) -> str | None:
    """The topic of a wish about the meetings (cadence, length, day) in `text`, if any."""
    return next((topic for topic, rx in _WISHES if rx.search(text)), None)


def _sentence_end(text: str, pos: int) -> int:
    m = _END.search(text, pos)
    return m.end() if m else len(text)


def _sentence_start(text: str, pos: int) -> int:
    return max(text.rfind(c, 0, pos) for c in ".!?。！？\n") + 1


def _next_sentence(text: str, pos: int) -> str:
    """The sentence after the one ending at `pos` (for "I agree. But can we ...?")."""
    end = _sentence_end(text, pos)
    return text[pos:end]


def deferrals(text: str) -> list[re.Match[str]]:
    """Phrases that put consent off ("Before I agree", "I'd agree if")."""
    return list(_DEFERRED.finditer(text))


def judge(text: str, phrases: Iterable[re.Match[str]]) -> Consent:
    """Consent, a condition, or neither, from the consent `phrases` found in `text`.

    Any deferred or conditional phrase makes the whole reply conditional: the agent
    never books on a consent the writer has qualified elsewhere in the same reply.
    """
    put_off = deferrals(text)
    if put_off:
        first = put_off[0]
        start = _sentence_start(text, first.start())
        end = _sentence_end(text, first.end())
        if end < len(text) and "?" not in text[start:end]:  # "Before I agree:\nhow much ...?"
            end = _sentence_end(text, end)
        condition = text[start:end].strip()
        return Consent(condition=condition, topic=topic_of(condition))
    agreed: str | None = None
    for m in phrases:
        if any(d.start() < m.end() and m.start() < d.end() for d in put_off):
            continue
        before = text[max(0, m.start() - _LOOK_BACK) : m.start()]
        end = _sentence_end(text, m.end())
        after = text[m.end() : end]
        if _OPINION.search(after) or _OPINION_BEFORE.search(before):
            continue  # agrees with someone about something
        condition = _CONDITION.search(after)
        if condition:
            words = text[m.end() + condition.start() : end].strip()
            return Consent(condition=words, topic=topic_of(words))
        reservation = _RESERVATION.search(after)
        rest = after[reservation.end() :] if reservation else ""
        if not reservation:
            following = _next_sentence(text, end)
            reservation = _RESERVATION.match(following.lstrip())
            rest = following if reservation else ""
        if reservation and _qualifies(rest):
            words = rest.strip(" ,;:-—")
            return Consent(condition=words, topic=topic_of(words))
        agreed = agreed or m.group(0)
    return Consent(agreed=agreed)


def has_reservation(text: str) -> bool:
    """A "but", "however", "aber" ... in `text`."""
    return bool(_RESERVATION.search(text))


def _qualifies(rest: str) -> bool:
    """After "but": a question, a request or a wish about the meetings makes a condition."""
    return "?" in rest or "？" in rest or bool(_REQUEST.search(rest)) or wish(rest) is not None
