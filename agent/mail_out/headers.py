"""Header fields written so that every reader decodes exactly the text that was rendered.

`email.policy.default` refolds each header it writes, and on Python 3.11 its folder
loses text in three ways that real emails showed:

- a value that does not fit after the field name moves whole to a continuation line,
  so it unfolds with a leading space (`Subject:` CRLF ` Welcome to ...`);
- folding in front of a word it has to encode keeps the space before the fold as well
  as the fold's own, which unfolds to two spaces (`Ngozi  Okonkwo-Adébáyọ̀`);
- two encoded words side by side carry the space between them *between* them, where
  RFC 2047 section 6.2 says a decoder drops it: `ZoëØrsted`.

So the policy here folds the address fields and the unstructured ones itself and stores
the result as a parsed message stores its raw headers; the generator writes such a
value as it is (every line fits in 78 characters) whichever policy a connector writes
the message with, and reading a field back decodes it like any parsed header.

How a value is written (RFC 5322 sections 2.2.3 and 3.2.2; RFC 2047):

- the value always starts on the field's own line, and a fold is only ever put in front
  of a space that is in the text (unfolding removes the CRLF and keeps the space);
- words of printable ASCII stay readable; a run of words with anything else becomes
  UTF-8 encoded words with the spaces *inside* them, each word at most 75 characters
  and never split inside a character or before a combining mark;
- a display name is atoms when it can be, else a quoted string when it fits on a line,
  else atoms and encoded words (never an encoded word inside quotes, RFC 2047 section
  5); its white space is written as single spaces, which is how every reader reads it;
- text that is not plain single-spaced words (leading, trailing or repeated white
  space, tabs) is encoded whole, so its spaces survive exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from email.charset import Charset
from email.headerregistry import Address
from email.policy import EmailPolicy
from typing import Any

__all__ = ["WRITTEN", "HeaderPolicy", "fold_addresses", "fold_unstructured"]

_UTF8 = Charset("utf-8")
_MAX_WORD = 75  # RFC 2047 section 2: an encoded word is at most 75 characters
_MIN_WORD = 20  # with less room than this left, an encoded word starts a new line
_ADDRESS_FIELDS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_UNSTRUCTURED_FIELDS = frozenset({"subject", "comments"})
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext
_CLEAN = re.compile(r"\S+(?: \S+)*")  # words separated by single spaces


def _plain(word: str) -> bool:
    """A word that can be written as it is: printable ASCII that no reader takes for
    an encoded word, and short enough to fit on a line."""
    return word.isascii() and word.isprintable() and "=?" not in word and len(word) <= _MAX_WORD


def _encoded(text: str, room: int) -> tuple[str, str]:
    """The longest first part of `text` whose encoded word fits in `room` characters:
    (encoded word, rest of the text). Always at least one character, and never a cut
    in front of a combining mark (it stays with its base character)."""
    cuts = [
        i
        for i in range(1, len(text) + 1)
        if i == len(text) or not unicodedata.category(text[i]).startswith("M")
    ]
    best, low, high = 0, 0, len(cuts) - 1
    while low <= high:  # the encoded word grows with the cut: bisect
        mid = (low + high) // 2
        if len(_UTF8.header_encode(text[: cuts[mid]])) <= room:
            best, low = mid, mid + 1
        else:
            high = mid - 1
    cut = cuts[best]
    return _UTF8.header_encode(text[:cut]), text[cut:]


class _Lines:
    """Folded lines under construction: tokens joined by single spaces, with a fold (CRLF
    in front of the space) when the next token does not fit. The first token always
    goes on the field's own line."""

    def __init__(self, name: str, width: int) -> None:
        self.width = width
        self.prefix = len(name) + 2  # "Name: "
        self.lines = [f"{name}:"]
        self.started = False

    def _room(self) -> int:
        return self.width - len(self.lines[-1]) - 1

    def fits(self, token: str) -> bool:
        """Whether `token` can be written as it is: on this line if it is the first, on
        a line of its own otherwise."""
        return len(token) <= (self._room() if not self.started else self.width - 1)

    def add(self, token: str) -> None:
        if self.started and len(token) > self._room():
            self.lines.append(" " + token)
        else:
            self.lines[-1] += " " + token
        self.started = True

    def add_encoded(self, text: str) -> None:
        """`text` as encoded words: as much as fits on this line, then line by line."""
        while text:
            if self.started and self._room() < _MIN_WORD:
                self.lines.append("")
            room = max(min(self._room(), _MAX_WORD), _MIN_WORD)
            word, text = _encoded(text, room)
            self.lines[-1] += " " + word
            self.started = True

    def add_words(self, words: list[str], plain: Callable[[str], bool]) -> None:
        """Words separated by single spaces: the `plain` ones as they are, each run of
        the others as encoded words with their spaces inside."""
        run: list[str] = []
        for word in words:
            if plain(word) and (run or self.fits(word)):
                if run:
                    self.add_encoded(" ".join(run))
                    run = []
                if self.fits(word):
                    self.add(word)
                    continue
            run.append(word)
        if run:
            self.add_encoded(" ".join(run))

    def value(self) -> str:
        """The field value as stored (what follows "Name: "), lines joined by LF."""
        return "\n".join([self.lines[0][self.prefix :], *self.lines[1:]])


def fold_unstructured(name: str, text: str, width: int = 78) -> str:
    """`text` as the folded value of an unstructured field such as Subject."""
    if "\r" in text or "\n" in text:
        raise ValueError(f"{name}: header values may not contain line breaks")
    lines = _Lines(name, width)
    if _CLEAN.fullmatch(text):
        lines.add_words(text.split(" "), _plain)
    else:
        lines.add_encoded(text)  # odd white space is kept inside encoded words
    return lines.value()


def _atom(word: str) -> bool:
    """An RFC 5322 atom that no reader takes for an encoded word."""
    return _ATOM.fullmatch(word) is not None and "=?" not in word


def _display_name(name: str, lines: _Lines) -> None:
    """A display name as a phrase: atoms, a quoted string or atoms and encoded words.

    The words of an encoded run share encoded words, split only where one would be
    longer than RFC 2047 allows: Python 3.11 reads a space into a display name
    between two encoded words (CPython gh-128110), where RFC 2047 and mail clients do not.
    """
    words = name.split(" ")
    if all(_atom(w) for w in words) and all(len(w) < lines.width - 1 for w in words):
        lines.add_words(words, _atom)
    elif name.isascii() and name.isprintable() and "=?" not in name and len(name) < 70:
        lines.add('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')
    else:
        lines.add_words(words, _atom)


def fold_addresses(name: str, addresses: Iterable[Address], width: int = 78) -> str:
    """Mailboxes as the folded value of an address field. A display name's white space
    is read as single spaces by every reader, so it is written that way."""
    lines = _Lines(name, width)
    items = list(addresses)
    for i, address in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        display = " ".join(address.display_name.split())
        if display:
            _display_name(display, lines)
            lines.add(f"<{address.addr_spec}>{comma}")
        else:
            lines.add(f"{address.addr_spec}{comma}")
    return lines.value()


def _mailboxes(policy: EmailPolicy, name: str, value: Any) -> list[Address] | None:
    """The mailboxes of an address field's value (an Address, a list of them or text);
    None for anything else (groups), which the stdlib then writes."""
    if isinstance(value, Address):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, Address) for v in value):
        return list(value)
    if isinstance(value, str):
        parsed = policy.header_factory(name, value)
        groups = getattr(parsed, "groups", ())
        if any(g.display_name is not None for g in groups):
            return None
        return [a for g in groups for a in g.addresses]
    return None


class HeaderPolicy(EmailPolicy):
    """`email.policy.default`, except that address and unstructured fields are folded
    here (see the module docstring) and stored like the raw fields of a parsed message."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        field = name.lower()
        width = self.max_line_length or 78
        if isinstance(value, str) and len(value.splitlines()) > 1:
            return super().header_store_parse(name, value)  # refuses it: no header injection
        if field in _UNSTRUCTURED_FIELDS and isinstance(value, str):
            return name, fold_unstructured(name, value, width)
        if field in _ADDRESS_FIELDS:
            mailboxes = _mailboxes(self, name, value)
            # an internationalised address (RFC 6532) can only be written as UTF-8, which
            # only an SMTPUTF8 policy does: the stdlib decides per policy
            if mailboxes and all(m.addr_spec.isascii() for m in mailboxes):
                return name, fold_addresses(name, mailboxes, width)
        return super().header_store_parse(name, value)


WRITTEN = HeaderPolicy()
