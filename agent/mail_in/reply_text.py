"""What the sender newly wrote: quoted history, quote headers and signatures removed.

`strip_reply(text)` works line by line in linear time: it finds quote headers (one line,
or up to three wrapped lines joined), Outlook header blocks and separators, cuts at the
first one that starts the quoted history, drops `>` lines, then the signature.
"""

from __future__ import annotations

import re

from agent.mail_in.line_index import LineStartIndex
from agent.mail_in.mime_body import normalise_newlines
from agent.mail_in.quote_languages import ADDRESS, alternatives, column

# Matched against whole (joined) lines: the `\Z` makes `match` a `fullmatch`. The colon
# may be missing only on a line `_quote_headers` admits without one (`_UNCOLONED`).
_ATTRIBUTION = LineStartIndex(
    column(lambda lang: lang.quote_headers), r"\s?[:：]?\Z", after_blanks=False
)
_WROTE = alternatives(lambda lang: lang.wrote)
# "On Wed, 14 Nov 2018 08:14 -0200 Ana <ana@x> wrote" (no colon): with an address and a
# date only, as a sentence may end in "wrote" too.
_UNCOLONED = re.compile(
    rf"(?=.*\d).{{0,300}}{ADDRESS}\s*(?:{_WROTE})\s*$"
    # Gmail's old numeric headers: "2016-03-03 17:21 GMT+01:00 Ana", "2013/7/20 Ana <ana@x>"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}\s\d{{1,2}}:\d{{2}}\sGMT[+-]\d{{2}}:\d{{2}}\s[^<>]{{1,80}}$"
    rf"|\d{{4}}/\d{{1,2}}/\d{{1,2}}\s[^<>]{{1,80}}{ADDRESS}\s*$",
    re.IGNORECASE,
)
# "Ana Silva <ana@example.org> wrote:" (Thunderbird), never wrapped.
_ADDRESSED_ATTRIBUTION = re.compile(
    rf"^[^<>]{{0,80}}{ADDRESS}\s*(?:{_WROTE})\s?[:：]$", re.IGNORECASE
)
# "Ana Silva wrote:": a quote header only when quoted lines follow.
_NAMED_ATTRIBUTION = re.compile(
    rf"^[^\s<>:：][^<>:：@]{{0,60}}?(?:{_WROTE})\s?[:：]$", re.IGNORECASE
)
# Outlook's reply header block, e.g. "From: / Sent: / To: / Subject:", localized;
# "*From:*" is the plain-text rendering of the bold HTML labels.
_HEADER_FROM = LineStartIndex(
    [rf"\*?(?:{label})" for label in column(lambda lang: lang.header_from, phrases=True)],
    r"\s?(?::\*?\s|：)",
    after_blanks=True,  # Hotmail indents the block
)
_HEADER_FIELD = LineStartIndex(
    [rf"\*?(?:{label})" for label in column(lambda lang: lang.header_fields, phrases=True)],
    r"\s?(?::\*?|：)",  # Hotmail in French: "Objet :Réunion"
    after_blanks=True,
)
# Outlook on phones puts the whole block on one line: "From: Ana Sent: ... To: ...".
_INLINE_FIELD = re.compile(
    rf"\s\*?(?:{alternatives(lambda lang: lang.header_fields, phrases=True)})\s?(?::\*?\s|：)",
    re.IGNORECASE,
)
# A line of its own; each ends with "_", "-" or a colon (`_cut_at_boundary` relies on it).
_SEPARATOR = LineStartIndex(
    [
        r"_{8,}",  # Outlook / mailing-list footer
        # "-----Original Message-----", bold in Thunderbird's HTML: "*-------- ... --------*"
        rf"\*?-{{2,}}\s*(?:{alternatives(lambda lang: lang.separators, phrases=True)})"
        rf"\s*-{{2,}}\*?",
        rf"-{{2,}}\s.{{0,300}}?(?:{_WROTE})\s*-{{2,}}",  # Zoho "---- On <date> Ana wrote ----"
        *(rf"(?:{line})\s?[:：]" for line in column(lambda lang: lang.forwarded, phrases=True)),
    ],
    r"\s*$",
    after_blanks=True,
)
_SIG_DELIMITER = re.compile(r"^--\s?$")
# A mobile signature (a line of its own) or the start of a disclaimer.
_SIGNATURE_START = LineStartIndex(
    [
        # "Gesendet von Outlook für Android<https://aka.ms/…>": plain-text links kept
        *(
            rf"(?:{mobile})(?:<[^<>\s]+>)?[.!。]?\s*$"
            for mobile in column(lambda lang: lang.mobile)
        ),
        *column(lambda lang: lang.disclaimers),
    ],
    after_blanks=True,
)
UPPER = "A-ZÀ-ÖØ-ÞĀ-ž"  # ASCII and Latin-1 capitals, Latin Extended-A ("Łukasz")
# A closing alone, or followed by a name on the same line ("Cheers, Ana").
_SIGN_OFF = LineStartIndex(
    column(lambda lang: lang.closings),
    rf"\s*+[,.!。！，、]*+(?-i:\s++[{UPPER}][\w.'-]*+){{0,2}}+\s*+[.!。！]?+\s*+$",
    after_blanks=True,
)
# "-Ana", "— Ana Silva", "/Ana" (Swedish): the short form of a "-- " signature.
_DASH_NAME = re.compile(rf"^\s*+[-–—/]\s?[{UPPER}][\w.'-]*+(?:\s[{UPPER}][\w.'-]*+){{0,2}}+\s*+$")
_SENTENCE_END = re.compile(r"[a-z]{2,}[.?!]$|[。？]$")
# Lines of dashes, stars...; "ᐧ" is the tracking mark Gmail add-ons leave on a line of its own
_SEPARATOR_ONLY = re.compile(r"^[\s\-_=*~#ᐧ]*$")
_MAX_SIGNATURE_LINES = 6
_MAX_HEADER_CHARS = 700  # longer (joined) lines are never quote headers


def strip_reply(text: str) -> str:
    """Only what the sender newly wrote: no quoted history, no signature.

    Conservative: when a rule would leave nothing, or the text is ambiguous,
    the text is kept. Steps:

    1. Cut at the first hard boundary: an Outlook header block, a separator
       line ("-----Original Message-----", "Begin forwarded message:"), or a
       quote header below the sender's text that is not followed by
       `>`-quoted lines (unquoted history, as Yahoo and Outlook write it).
       A quote header with an address on top of unquoted text is dropped
       alone: the text under it stays.
    2. Drop quote headers followed by quoted lines, and the quoted lines, but
       keep text written between quoted blocks (inline / bottom-posted replies).
    3. Cut the signature: "-- " delimiter, mobile signatures, disclaimers,
       a closing over a signature block, a contact block; a typed sign-off
       ("Best,\\nAna") stays (`_cut_sign_off`).

    Steps 1 and 3 only cut below a line of text, except at a separator or
    header block; step 2 only removes `>` lines and the headers introducing
    them. So the result is empty only if, above the first separator or
    header block, every line is blank, separator-like ("***"), `>`-quoted,
    or a quote header of quoted lines.
    """
    lines = normalise_newlines(text).split("\n")
    headers = _quote_headers(lines)
    lines = _drop_top_attribution(lines, headers)
    lines = _cut_at_boundary(lines, headers)
    lines = _drop_quotes(lines, headers)
    lines = _cut_signature(lines)
    return "\n".join(lines).strip()


def _is_text(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and (stripped[0] not in "-_=*~" or not _SEPARATOR_ONLY.match(stripped))


def _is_quoted(line: str) -> bool:
    """A `>`-quoted line; the same as matching `^\\s*>`, without the regex call per line."""
    return line.lstrip()[:1] == ">"  # `startswith` would cost more than the slice


def _first_text(lines: list[str]) -> int:
    """Index of the first line of text that is not `>`-quoted, len(lines) if none."""
    for i, line in enumerate(lines):
        if _is_text(line) and not _is_quoted(line):
            return i
    return len(lines)


def _has_text(lines: list[str]) -> bool:
    return any(_is_text(line) for line in lines)


def _ends_with_colon(line: str) -> bool:
    return line.rstrip()[-1:] in (":", "：")


def _quote_headers(lines: list[str]) -> dict[int, int]:
    """Line index -> number of lines (1-3) of each quote header, in line order.

    Every header ends with a colon, so only the three lines up to a line that
    ends with one are candidates: the other lines cost a substring test or two.
    """
    ends = {
        i
        for i, line in enumerate(lines)
        # `_ends_with_colon`, inline: this runs once per line
        if ((":" in line or "：" in line) and line.rstrip()[-1:] in (":", "："))
        or (
            (line[:1].isdigit() or ("@" in line and line[:1] != ">"))
            and len(line) <= _MAX_HEADER_CHARS
            and bool(_UNCOLONED.match(line.strip()))
        )
    }
    if not ends:
        return {}
    tried: dict[tuple[int, int], bool] = {}
    headers: dict[int, int] = {}
    for start in sorted({s for end in ends for s in (end - 2, end - 1, end) if s >= 0}):
        if span := _attribution_at(lines, start, ends, tried):
            headers[start] = span
    broken = {
        start: end - start + 1
        for end in ends
        if lines[end].lstrip()[:1] == ">"  # `_is_quoted`, inline
        and _BROKEN_TAIL.match(lines[end])
        and (start := _broken_header_start(lines, end)) >= 0
        and start not in headers
    }
    return dict(sorted((headers | broken).items())) if broken else headers


# "> wrote:" alone: a header that Gmail broke over lines, with blank lines, a lone "<"
# and a "mailto:" between its parts, the last of them taken for a quoted line.
_BROKEN_TAIL = re.compile(rf"^\s*>\s*(?:{_WROTE})\s?[:：]\s*$", re.IGNORECASE)
_BROKEN_LINES = 8  # lines above the tail that may hold the rest of the header


def _broken_header_start(lines: list[str], end: int) -> int:
    """Where the header ending in the "> wrote:" line `end` starts, -1 if nowhere."""
    parts = [lines[end].strip().removeprefix(">").strip()]
    for i in range(end - 1, max(-1, end - _BROKEN_LINES - 1), -1):
        line = lines[i].strip()
        if not line:
            continue
        if _is_quoted(line):
            return -1
        parts.insert(0, line)
        joined = " ".join(parts)
        if len(joined) > _MAX_HEADER_CHARS:
            return -1
        if _ATTRIBUTION.match(joined):
            return i
    return -1


def _attribution_at(
    lines: list[str], i: int, ends: set[int], tried: dict[tuple[int, int], bool]
) -> int:
    """Number of lines (1-3) of a quote header starting at line i, 0 if none.

    The one-line patterns, slow on long lines, are tried only where they can
    change the answer, and `_NAMED_ATTRIBUTION` only above quoted lines.
    """
    span = _wrapped_attribution_at(lines, i, ends, tried)
    if span != 1 and i in ends:  # both one-line forms end with the colon
        line = lines[i].strip()
        if len(line) > _MAX_HEADER_CHARS:
            return span
        if "@" in line and _ADDRESSED_ATTRIBUTION.match(line):  # "@": see `ADDRESS`
            return 1
        if _is_quoted(_next_content(lines, i + 1)) and _NAMED_ATTRIBUTION.match(line):
            return 1
    return span


def _wrapped_attribution_at(
    lines: list[str], i: int, ends: set[int], tried: dict[tuple[int, int], bool]
) -> int:
    """Number of lines (1-3) of an `_ATTRIBUTION` header starting at line i, 0 if none.

    A header wrapped over several lines must not be complete without its first
    line: otherwise that line is text of its own ("谢谢" above "Ana 于 ... 写道：").
    """
    for last, line in enumerate(lines[i : i + 3], i):
        if not line.strip() or (_is_quoted(line) and not (last > i and _address_tail(line))):
            return 0
        if (
            last in ends
            and _is_quote_header(lines, i, last, tried)
            and not any(_is_quote_header(lines, j, last, tried) for j in range(i + 1, last + 1))
        ):
            return last - i + 1
    return 0


def _address_tail(line: str) -> bool:
    """ ">:" on a line of its own: Gmail wrapped the header inside "<ana@x>"."""
    return line.strip().replace(" ", "") in (">:", ">：")


def _is_quote_header(
    lines: list[str], first: int, last: int, tried: dict[tuple[int, int], bool]
) -> bool:
    """Lines first..last, joined with spaces, match `_ATTRIBUTION`; `last` ends with a colon.

    `tried` keeps the answers: a run of lines is asked about again as the end of
    a longer run, or of a run that starts one line further up.
    """
    if (first, last) not in tried:
        joined = " ".join([line.strip() for line in lines[first : last + 1]])
        joined = joined.removeprefix("- ")  # Zimbra (Free.fr): "- On <date>, Ana wrote:"
        tried[first, last] = len(joined) <= _MAX_HEADER_CHARS and _ATTRIBUTION.match(joined)
    return tried[first, last]


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """A "From:" line with two more Outlook header fields in the next six lines or on it."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = sum(1 for line in lines[i + 1 : i + 7] if _HEADER_FIELD.match(line))
    return following >= 2 or len(_INLINE_FIELD.findall(lines[i])) >= 2


def _next_content(lines: list[str], start: int) -> str:
    for i in range(start, len(lines)):
        if lines[i].strip():
            return lines[i]
    return ""


_HAS_ADDRESS = re.compile(ADDRESS)


def _drop_top_attribution(lines: list[str], headers: dict[int, int]) -> list[str]:
    """Blank a quote header with the writer's address on top of unquoted text.

    A client wrote it ('On 8 May 2017 17:34, "Ana" <ana@x> wrote:'), not the sender;
    the text under it is kept, as it may be their answer. Without an address the line
    may be the sender's own sentence and stays (`_cut_at_boundary`).
    """
    if not headers:
        return lines
    first = _first_text(lines)
    span = headers.get(first, 0)
    if not span or _is_quoted(_next_content(lines, first + span)):
        return lines
    if not any(_HAS_ADDRESS.search(line) for line in lines[first : first + span]):
        return lines
    if not _has_text(lines[first + span :]):
        return lines
    return lines[:first] + [""] * span + lines[first + span :]


def _cut_at_boundary(lines: list[str], headers: dict[int, int]) -> list[str]:
    """Cut at a separator or header block, or at a quote header over unquoted history.

    A quote header only cuts below text of the sender's own: at the top, with
    unquoted text below, it may as well be the sender's sentence ("On Monday
    at 10:00 I wrote to my manager:"), so it is kept.
    """
    first_text = _first_text(lines)
    end = len(lines)
    for i, span in headers.items():
        if i > first_text and not _is_quoted(_next_content(lines, i + span)):
            end = i
            break
    for i, line in enumerate(lines[:end]):
        # Without a regex call, most lines are ruled out: a separator ends, but
        # for blanks, with "_", "-" or a colon, and an Outlook "From:" line has one.
        if (":" in line or "：" in line or line.rstrip()[-1:] in ("-", "_", "*")) and (
            _SEPARATOR.match(line) or _outlook_header_at(lines, i)
        ):
            return lines[:i]
    return lines[:end]


def _drop_quotes(lines: list[str], headers: dict[int, int]) -> list[str]:
    """Remove `>` lines and the quote headers above them, each block leaving one blank line."""
    # `_is_quoted`, inline: this runs once per line
    marked: list[str | None] = [None if line.lstrip()[:1] == ">" else line for line in lines]
    wrapped = [
        i
        for i in range(1, len(lines))
        if marked[i] is not None
        and marked[i - 1] is None
        and _wrapped_on(lines[i - 1], lines[i], i + 1 < len(lines) and _is_quoted(lines[i + 1]))
    ]
    for i in wrapped:
        marked[i] = None
    if wrapped and not any(line is not None and _is_text(line) for line in marked):
        for i in wrapped:  # the only unquoted text is never taken for a wrapped quote
            marked[i] = lines[i]
    for i, span in headers.items():
        # A header cut off at the end of `lines` has nothing below it.
        if _is_quoted(_next_content(lines, i + span)):
            marked[i : i + span] = [None] * span
    return _collapse_removed(marked) if None in marked else lines


_WRAP_WIDTH = 50  # a quoted line at least this long may have been hard-wrapped


def _wrapped_on(quoted: str, line: str, quote_below: bool) -> bool:
    """`line` is the rest of the long `quoted` line above it, wrapped without its ">"
    (Gmail and Outlook wrap quotes at 76 characters): it starts in lower case, and the
    quoted line stops mid-sentence, or the line is wedged between quoted lines."""
    quoted = quoted.strip()
    first = line.lstrip()[:1]
    return (
        first.islower()
        and _WRAP_WIDTH <= len(quoted) <= _WRAP_WIDTH * 2  # not a line that was never wrapped
        # a question or a sentence that ended is not cut off: an answer may follow it,
        # unless the quote goes on right under it
        and (quote_below or quoted[-1] not in ".?!:;)？。")
    )


def _collapse_removed(marked: list[str | None]) -> list[str]:
    out: list[str] = []
    blanks: list[str] = []  # blank lines since the last kept text ...
    removed = False  # ... and whether lines were removed among them
    for line in [*marked, "end"]:
        if line is None:
            removed = True
        elif not line.strip():
            blanks.append(line)
        else:
            if not removed:
                out.extend(blanks)
            elif blanks and out:
                out.append("")
            blanks, removed = [], False
            out.append(line)
    return out[:-1]


def _cut_signature(lines: list[str]) -> list[str]:
    """Cut at a signature start below the first line of text, then a sign-off block.

    `lines` have no `>` lines left (`_drop_quotes`): `_first_text` is the first line of text.
    """
    for i in range(_first_text(lines) + 1, len(lines)):
        line = lines[i]
        if not line or line.isspace():  # matches neither, and costs no call
            continue
        if (line[:2] == "--" and _SIG_DELIMITER.match(line)) or _SIGNATURE_START.match(line):
            lines = lines[:i]
            break
    lines = _trim_trailing(lines)
    return _trim_trailing(_cut_sign_off(lines))


def _trim_trailing(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or _SEPARATOR_ONLY.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def _cut_sign_off(lines: list[str]) -> list[str]:
    """Remove a trailing signature block, with the sign-off above it if there is one.

    The convention (issue 20): a sign-off the sender typed, a closing with a name line
    or less ("Thanks,\nAna", "Best regards"), is part of what they wrote and is kept.
    A closing over two or more short lines ("Regards,\nAna Silva\nCEO, ACME"), a
    contact block (`_contact_block_start`) or a dashed name ("-Ana", a short "-- "
    signature) is a signature: it goes.
    """
    if lines and _DASH_NAME.match(lines[-1]) and _has_text(lines[:-1]):
        return lines[:-1]
    start = max(0, len(lines) - _MAX_SIGNATURE_LINES - 1)
    for i in range(start, len(lines)):
        if (
            _SIGN_OFF.match(lines[i])
            and _has_text(lines[:i])
            and _looks_like_signature(lines[i + 1 :])
            and _content_count(lines[i + 1 :]) >= 2
        ):
            return lines[:i]
    contact = _contact_block_start(lines)
    return lines[:contact] if contact is not None else lines


def _content_count(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def _looks_like_signature(lines: list[str]) -> bool:
    """Short lines without sentences: names, titles, companies, phone numbers."""
    content = [line.strip() for line in lines if line.strip()]
    return len(content) <= _MAX_SIGNATURE_LINES and all(
        len(line) <= 60 and not _SENTENCE_END.search(line) for line in content
    )


# What a contact block's lines hold: a phone number, an address, a web or mail address,
# a company's registration, tax or bank numbers.
_CONTACT = re.compile(
    r"(?:\+|\b00)\d[\d ()./-]{6,}\d"  # +49 170 1234567, 0049 ...
    r"|\b(?:tel|phone|mobile|mob|cell|fax|telefon|téléphone|tél|handy|tlf|puh)\b\.?\s?:?\s?[\d(+]"
    r"|^[TMFPE]\s?[:|]\s?\S"  # "T: 030 1234", "M | +49 ..."
    r"|\(?\d{2,5}\)?[ /.-]\d{2,4}[ .-]?\d{2,6}\b"  # (030) 1234 5678, 020-123 4567
    r"|\bwww\.\S+|https?://\S+|[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}"
    r"|\b(?:vat|ust-?id(?:nr)?|btw|tva|iva|nip|kvk|iban|bic|swift|siret|siren|hrb|hra|cvr|org\.?\s?nr)\b"
    r"|\b\d{4,5}\s[A-ZÀ-Þ][a-zà-ÿ]+"  # 10115 Berlin, 1012 AB Amsterdam (postal code)
    r"|\b\d{4}\s?[A-Z]{2}\b",
    re.IGNORECASE,
)
_MAYBE_CONTACT = re.compile(r"[\d@]|www", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s")  # a numbered answer is never a signature
_MAX_CONTACT_LINES = 10


def _contact_block_start(lines: list[str]) -> int | None:
    """Where a trailing contact block starts: at most `_MAX_CONTACT_LINES` short lines after
    a blank line, none a sentence or a list item, two or more (and at least half) with
    contact details. None if there is no such block, or no text of the sender's above it."""
    tail = lines[-3 * _MAX_CONTACT_LINES :]
    if not _MAYBE_CONTACT.search("\n".join(tail)[-3_000:]):  # one call rules most replies out
        return None
    content = 0
    contact = 0
    found: int | None = None
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if not line:
            if contact >= 2 and contact * 2 >= content:
                found = i + 1
            continue
        content += 1
        if (
            content > _MAX_CONTACT_LINES
            or len(line) > 80
            or _SENTENCE_END.search(line)
            or _LIST_ITEM.match(line)
        ):
            break
        contact += bool(_MAYBE_CONTACT.search(line) and _CONTACT.search(line))
    if found is None or not _has_text(lines[:found]):
        return None
    return found
