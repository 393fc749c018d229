"""What to call a person in an email: "Hi Rachel," for "Dr Rachel O'Neill".

A participant's `short_name` always wins; without one, `greeting_name` guesses from the
full name the way a coordinator would by hand, and when the guess would be worse than
the full name it uses the full name:

- titles and honorifics in front are skipped ("Dr", "Prof.", "Mrs", "Mx", "Sir",
  "Dame", "Herr", "Sra." ...), but kept when only a surname follows ("Dr O'Neill");
- "O'Neill, Rachel" (surname first, with a comma) is Rachel; "Rachel O'Neill, PhD" too;
- a name in Chinese, Japanese or Korean script is used whole ("李小龙"): the first
  word there is usually the family name, and the whole name is the polite form;
- a name that starts with a lower-case particle ("van der Berg", "de la Cruz") or an
  initial ("J. R. Smith") gives no first name, so the whole name is used;
- a common double given name in Spanish, Portuguese or French stays double
  ("María José García" is María José, "Jean Pierre Dubois" is Jean Pierre).
"""

from __future__ import annotations

import re
import unicodedata

# fmt: off
_HONORIFICS = frozenset({
    "dr", "dra", "doctor", "prof", "professor", "mr", "mrs", "ms", "miss", "mx", "sir",
    "dame", "lord", "lady", "rev", "revd", "reverend", "fr", "father", "sr", "sra", "srta",
    "doña", "herr", "frau", "mme", "mlle", "m.", "dott", "dott.ssa", "ing", "hon", "judge",
    "capt", "captain", "col", "major",
})
_SUFFIXES = frozenset({
    "jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "msc", "ba", "bsc", "esq", "obe",
    "mbe", "cbe",
})
_PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du", "la",
    "le", "lo", "al", "el", "bin", "ibn", "ten", "ter",
})
_DOUBLE_FIRST = frozenset({
    "maría", "maria", "josé", "jose", "juan", "ana", "luis", "jean", "marie", "anne",
    "carlos", "miguel", "pedro",
})
_DOUBLE_SECOND = frozenset({
    "josé", "jose", "maría", "maria", "luis", "carlos", "pablo", "antonio", "manuel",
    "isabel", "carmen", "teresa", "pierre", "paul", "claude", "luc", "marie", "baptiste",
    "françois", "louis", "jacques", "michel", "eduardo",
})
# fmt: on
_INITIAL = re.compile(r"\w\.?", re.UNICODE)
_CJK_BLOCKS = ("CJK UNIFIED", "CJK COMPATIBILITY", "HIRAGANA", "KATAKANA", "HANGUL")


def _cjk(text: str) -> bool:
    return any(unicodedata.name(c, "").startswith(_CJK_BLOCKS) for c in text)


def _honorific(word: str) -> bool:
    low = word.lower()
    return low in _HONORIFICS or low.rstrip(".") in _HONORIFICS


def greeting_name(name: str, short_name: str | None = None) -> str:
    """The name to greet someone by (see the module docstring); "" for an empty name."""
    if short_name and short_name.strip():
        return " ".join(short_name.split())
    words = name.split()
    if not words:
        return ""
    whole = " ".join(words)
    if _cjk(whole):
        return whole
    if "," in whole:
        family, _, rest = whole.partition(",")
        rest_words = rest.split()
        if rest_words and rest_words[0].lower().rstrip(".,") not in _SUFFIXES:
            return greeting_name(rest)  # "O'Neill, Rachel"
        words = family.split() or words  # "Rachel O'Neill, PhD"
    titles = 0
    while titles < len(words) - 1 and _honorific(words[titles]):
        titles += 1
    given = words[titles:]
    if titles and len(given) == 1:
        return " ".join(words)  # "Dr O'Neill": the title is the polite way
    first = given[0]
    if first in _PARTICLES or _INITIAL.fullmatch(first):
        return " ".join(given)
    if len(given) >= 3 and first.lower() in _DOUBLE_FIRST and given[1].lower() in _DOUBLE_SECOND:
        return f"{first} {given[1]}"
    return first
