"""One clear sender: a From header parsed strictly as one mailbox (RFC 5322 section 3.4).

`email.utils.getaddresses` is lenient by design: it returns *something* for any
input, which is how `ben@example.net)<evil@attacker.test>` (CVE-2023-27043) or
`ben@example.net <evil@attacker.test>` come out as Ben while the mail system,
and DMARC, saw the attacker. Python 3.11.7 has no `strict=True` for it (added in
3.11.10), so this module parses the one mailbox itself, in one pass over the
text (linear time, no regex that can backtrack), and refuses instead of guessing:

- exactly one mailbox: no comma (two addresses), no group (`name: a@b;`);
- `display name <addr-spec>` or a bare `addr-spec` (a comment after it may
  name the person, as older clients write it);
- the display name is words and quoted strings only: text after `>` or an
  unbalanced `(`, `)`, `"`, `<` is refused;
- the addr-spec is `dot-atom@dot-atom` (a quoted local part is allowed), with
  no spaces, comments or domain literals inside it;
- a display name that reads as an address other than the one in the brackets
  (`"ben@example.net" <evil@attacker.test>`, also RFC 2047 encoded or in
  full-width characters) is refused: a mail client shows it as the sender.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["MAX_LENGTH", "NotOneMailbox", "parse_mailbox"]

# Longer than any one mailbox (an address has at most 254 characters, RFC 5321 section
# 4.5.3.1.3, and a display name a few dozen words, even RFC 2047 encoded).
MAX_LENGTH = 4_000

_SPECIALS = frozenset('()<>[]:;@\\,."')
_NAME_BREAKS = str.maketrans({c: " " for c in "<>()[]\"',;:"})


class NotOneMailbox(ValueError):
    """The header is not exactly one clear mailbox; the message says why."""


class _Token(NamedTuple):  # a tuple: cheap to make, and not tracked by the GC
    kind: str  # "atom", "quoted", "comment", or the special character itself
    text: str  # unquoted content for "quoted" and "comment"
    spaced: bool  # whitespace or a comment came right before it


def parse_mailbox(
    value: str, decode: Callable[[str], str] = str, *, max_length: int | None = MAX_LENGTH
) -> tuple[str, str]:
    """(display name, lower-cased addr-spec) of the one mailbox in `value`.

    `decode` turns RFC 2047 encoded words of the display name into text (the
    caller's decoder; the name is checked after decoding). Raises NotOneMailbox,
    also for a value longer than `max_length`.
    """
    if max_length is not None and len(value) > max_length:
        raise NotOneMailbox(f"{len(value)} characters, more than one mailbox has")
    tokens = _tokenize(value)
    comments = [t.text for t in tokens if t.kind == "comment"]
    rest = [t for t in tokens if t.kind != "comment"]
    if not rest:
        raise NotOneMailbox("no address")
    kinds = {t.kind for t in rest}
    if "," in kinds:
        raise NotOneMailbox("more than one address")
    if ":" in kinds or ";" in kinds:
        raise NotOneMailbox("a group of addresses")
    if "<" in kinds or ">" in kinds:
        phrase, inside = _split_angle(tokens)
        if any(t.kind not in ("atom", "quoted", ".", "@") for t in phrase):
            raise NotOneMailbox("a display name that is not words or a quoted string")
        # An unquoted "@" is not allowed in a display name; Outlook writes
        # 'ben@example.net' <ben@example.net>, so `_check_name` decides.
        name = decode(
            "".join((" " if t.spaced and i else "") + t.text for i, t in enumerate(phrase))
        )
    else:
        inside, name = rest, decode(" ".join(comments))
    addr = _addr_spec(inside)
    for shown in (name, *map(decode, comments)):  # a client may show comments too
        _check_name(shown, addr)
    return name, addr


def _tokenize(value: str) -> list[_Token]:
    """RFC 5322 lexical tokens in one pass; comments may nest (section 3.2.2)."""
    tokens: list[_Token] = []
    i, n, spaced = 0, len(value), False
    while i < n:
        char = value[i]
        if char in " \t\r\n":
            i, spaced = i + 1, True
        elif char == "(":
            text, i = _comment(value, i)
            tokens.append(_Token("comment", text, spaced))
            spaced = True
        elif char == '"':
            text, i = _quoted(value, i)
            tokens.append(_Token("quoted", text, spaced))
            spaced = False
        elif char in _SPECIALS:
            if char in ")\\[]":
                raise NotOneMailbox(f"a stray {char!r}")
            tokens.append(_Token(char, char, spaced))
            i, spaced = i + 1, False
        elif ord(char) < 32 or ord(char) == 127:
            raise NotOneMailbox("a control character")
        else:
            start = i
            while i < n and value[i] not in _SPECIALS and value[i] not in " \t\r\n":
                if ord(value[i]) < 32 or ord(value[i]) == 127:
                    raise NotOneMailbox("a control character")
                i += 1
            tokens.append(_Token("atom", value[start:i], spaced))
            spaced = False
    return tokens


def _comment(value: str, start: int) -> tuple[str, int]:
    depth, i, out = 0, start, []
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == "(":
            depth += 1
            if depth > 1:
                out.append(char)
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out).strip(), i + 1
            out.append(char)
        else:
            out.append(char)
        i += 1
    raise NotOneMailbox("an unclosed '('")


def _quoted(value: str, start: int) -> tuple[str, int]:
    i, out = start + 1, []
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise NotOneMailbox("an unclosed '\"'")


def _split_angle(tokens: list[_Token]) -> tuple[list[_Token], list[_Token]]:
    """(display-name tokens, addr-spec tokens) of `phrase <addr-spec> [comments]`."""
    opens = [i for i, t in enumerate(tokens) if t.kind == "<"]
    closes = [i for i, t in enumerate(tokens) if t.kind == ">"]
    if len(opens) != 1 or len(closes) != 1 or closes[0] < opens[0]:
        raise NotOneMailbox("unbalanced angle brackets")
    first, last = opens[0], closes[0]
    if any(t.kind != "comment" for t in tokens[last + 1 :]):
        raise NotOneMailbox("text after the address")
    inside = tokens[first + 1 : last]
    if any(t.kind == "comment" for t in inside):
        raise NotOneMailbox("a comment inside the address")
    phrase = [t for t in tokens[:first] if t.kind != "comment"]
    return phrase, inside


def _addr_spec(tokens: list[_Token]) -> str:
    """`local@domain` from tokens without spaces between them, lower-cased."""
    if any(t.spaced for t in tokens[1:]):
        raise NotOneMailbox("spaces inside the address")
    ats = [i for i, t in enumerate(tokens) if t.kind == "@"]
    if len(ats) != 1:
        raise NotOneMailbox("not one local@domain address")
    local, domain = tokens[: ats[0]], tokens[ats[0] + 1 :]
    if len(local) == 1 and local[0].kind == "quoted":
        quoted = local[0].text
        if not quoted or any(ord(c) < 32 for c in quoted):
            raise NotOneMailbox("an invalid quoted local part")
        local_text = '"' + quoted.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        local_text = _dot_atom(local, "local part")
    return f"{local_text}@{_dot_atom(domain, 'domain')}".lower()


def _dot_atom(tokens: list[_Token], what: str) -> str:
    """atom *("." atom) (RFC 5322 section 3.2.3)."""
    if not tokens or len(tokens) % 2 == 0:
        raise NotOneMailbox(f"an invalid {what}")
    for i, token in enumerate(tokens):
        if token.kind != ("atom" if i % 2 == 0 else "."):
            raise NotOneMailbox(f"an invalid {what}")
    return "".join(t.text for t in tokens)


def _check_name(name: str, addr: str) -> None:
    """Refuse a display name that reads as another address (a client shows the name)."""
    if not name.isascii():
        name = unicodedata.normalize("NFKC", name)  # "ben＠example.net"
    if "@" not in name:
        return
    for word in name.translate(_NAME_BREAKS).split():
        local, at, domain = word.strip(".").partition("@")
        if at and local and domain and word.strip(".").lower() != addr:
            raise NotOneMailbox("a display name that is another address")
