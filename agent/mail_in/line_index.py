"""Case-insensitive alternations split by the characters they can start with.

The patterns built from the language table have dozens of alternatives; `re` tries them
one after another even when the first character rules them out. A `LineStartIndex`
matches a line against only the alternatives that can start it.
"""

from __future__ import annotations

import re
from functools import cache, cached_property

# ---- Trying only the alternatives that can start a line
#
# sre tries the alternatives of a case-insensitive alternation one after the
# other, about 0.1 µs each even when the first character already rules them
# out, and the patterns built from the tables have dozens. A `LineStartIndex`
# splits them by the characters they can start with, read off their text
# (`_starts`), so an ASCII line meets only the few that can start it.

# One atom of a pattern: an escape, a character class, or a character (parentheses too).
_ATOM = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|.", re.DOTALL)
_QUANTIFIER = re.compile(r"(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?")
# Atoms that match exactly one character: a class, a class escape such as `\d`,
# an escaped symbol, or a character that is not an anchor.
_ONE_CHARACTER = re.compile(r"\[.+\]|\\[dDsSwW]|\\\W|[^\\^$]", re.DOTALL)
_ASCII = [chr(code) for code in range(128)]
MAX_LINE_CHARS = 10_000  # a longer line is text: never a separator, header or signature


def _branches(pattern: str) -> list[list[tuple[str, str]]]:
    """The top-level alternatives of `pattern`, each a list of (atom, quantifier).

    Here a group, up to its closing parenthesis, is one atom too.
    """
    branches: list[list[tuple[str, str]]] = [[]]
    pos = 0
    while pos < len(pattern):
        end = _atom_end(pattern, pos)
        atom = pattern[pos:end]
        if atom == "|":
            branches.append([])
            pos = end
            continue
        quantifier = _QUANTIFIER.match(pattern, end)
        pos = quantifier.end() if quantifier else end
        branches[-1].append((atom, pattern[end:pos]))
    return branches


def _atom_end(pattern: str, pos: int) -> int:
    """Where the atom at `pos` ends; a group ends after its closing parenthesis."""
    depth = 0
    while True:
        atom = _ATOM.match(pattern, pos)
        if atom is None:
            raise ValueError(f"unbalanced parentheses in {pattern!r}")
        depth += {"(": 1, ")": -1}.get(atom.group(), 0)
        pos = atom.end()
        if depth <= 0:
            return pos


def _at_least_once(quantifier: str) -> bool:
    """Whether an atom with this quantifier ("" for none) matches at least once."""
    return quantifier[:1] in ("", "+") or bool(re.match(r"\{[1-9]", quantifier))


@cache
def _ascii_matches(atom: str) -> frozenset[str]:
    """The ASCII characters a one-character atom matches case-insensitively.

    Asked of sre itself, so its case folding holds: "ſ" matches "s", the
    Kelvin sign "k", "写" nothing.
    """
    return frozenset(filter(re.compile(atom, re.IGNORECASE).fullmatch, _ASCII))


def _starts(pattern: str) -> frozenset[str] | None:
    """The characters a case-insensitive match of `pattern` in ASCII text can start with.

    None when the text of the pattern does not tell, or a match may start with
    a blank. Understood at the start of an alternative: `\\b`, atoms of one
    character (a character, a class, a class escape) and non-capturing groups,
    optional ones followed by more. An alternative that needs a character that
    no ASCII one matches, such as a CJK character, adds nothing.
    """
    found: set[str] = set()
    for branch in _branches(pattern):
        if any(_at_least_once(q) and _matches_no_ascii(atom) for atom, q in branch):
            continue
        first = _branch_starts(branch)
        if first is None:
            return None
        found |= first
    return frozenset(found)


def _matches_no_ascii(atom: str) -> bool:
    return not atom.isascii() and bool(_ONE_CHARACTER.fullmatch(atom)) and not _ascii_matches(atom)


def _branch_starts(branch: list[tuple[str, str]]) -> frozenset[str] | None:
    found: set[str] = set()
    for atom, quantifier in branch:
        if atom == r"\b":  # zero-width
            continue
        if atom.startswith("(?:"):
            first = _starts(atom[3:-1])
        elif _ONE_CHARACTER.fullmatch(atom):
            first = _ascii_matches(atom)
            if any(char.isspace() for char in first):
                return None
        else:
            return None
        if first is None:
            return None
        found |= first
        if _at_least_once(quantifier):
            return frozenset(found)
    return None  # the alternative may match nothing


class LineStartIndex:
    """A case-insensitive pattern `(?:<alternatives>)<suffix>`, split by first character.

    With `after_blanks` the pattern is `^\\s*(?:<alternatives>)<suffix>`. Either
    way an alternative that `_starts` knows can only match from the first
    non-blank character of an ASCII text, so for such a text the alternatives
    that cannot start with that character are left out. `match` answers as the
    whole pattern's `match` would, in truth value. The pattern for each first
    character is compiled when first needed.
    """

    def __init__(self, alternatives: list[str], suffix: str = "", *, after_blanks: bool) -> None:
        self._alternatives = list(dict.fromkeys(alternatives))
        self._prefix = r"^\s*" if after_blanks else ""
        self._suffix = suffix
        # first non-blank character of an ASCII text (None: of any other) -> its pattern
        self._patterns: dict[str | None, re.Pattern[str] | None] = {}

    def match(self, text: str) -> bool:
        if self._prefix:  # `^\s*`: matched here, so that blanks cost no backtracking
            text = text.lstrip()
        if len(text) > MAX_LINE_CHARS:
            return False
        key = text[:1] if text.isascii() else None
        try:
            pattern = self._patterns[key]
        except KeyError:
            pattern = self._patterns[key] = self._compile(key)
        return pattern is not None and pattern.match(text) is not None

    @cached_property
    def _first_chars(self) -> dict[str, frozenset[str] | None]:
        return {alternative: _starts(alternative) for alternative in self._alternatives}

    def _compile(self, key: str | None) -> re.Pattern[str] | None:
        chosen = [
            f"(?:{alternative})"
            for alternative, chars in self._first_chars.items()
            if key is None or chars is None or key in chars
        ]
        if not chosen:
            return None
        return re.compile(f"{self._prefix}(?:{'|'.join(chosen)}){self._suffix}", re.IGNORECASE)
