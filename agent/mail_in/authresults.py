"""Authentication-Results (RFC 8601): what the receiving mail server vouches for. Pure.

Anyone can write an `Authentication-Results` header into a message; only the one the
receiving server (MTA) added says anything. The rule used here, after RFC 8601 §5:

- A receiving MTA prepends its trace fields (Received, Authentication-Results, ...),
  so everything the sender wrote lies *below* everything the MTA added.
- The topmost `Authentication-Results` field whose authserv-id is configured
  (`security.authserv_id`) is the MTA's own, and it alone is read. Any further
  one, with the same authserv-id or not, is ignored: it may be the sender's (an
  MTA that does not delete such fields leaves them below its own). Fields above
  it with another authserv-id (a later hop that is not configured) are skipped.
- Only the first `MAX_FIELDS` header fields are looked at, and only the first
  `MAX_VALUE` characters of the field; parsing is one pass over them.

This is only sound if the MTA stamps every message it delivers to the program's
mailbox, or deletes incoming fields that claim its authserv-id (RFC 8601 §5
recommends both); otherwise the sender's field could be the topmost. Gmail,
Fastmail and Postfix with OpenDMARC stamp every message; Exchange Online writes
no authserv-id at all (its field does not parse, so nothing is trusted).

A trusted DMARC pass is a `dmarc=pass` result in that field whose `header.from`
is the domain of the message's From address (RFC 7489 §11.2).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["AuthResults", "dmarc_pass", "parse", "trusted"]

MAX_FIELDS = 200  # header fields read from the top; MTAs add a few dozen at most
MAX_VALUE = 8192  # characters of one field value that are parsed

_SPECIAL = frozenset(' \t\r\n()";=')


@dataclass(frozen=True)
class Result:
    """One `method=result` of a field, with its `ptype.property=value` pairs."""

    method: str  # lower-cased, without a version: "dmarc", "dkim", "spf"
    result: str  # lower-cased: "pass", "fail", "none", ...
    properties: dict[str, str] = field(default_factory=dict)  # "header.from" -> "example.net"


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str  # as written
    results: tuple[Result, ...] = ()


def trusted(
    headers: Iterable[tuple[str, str]], authserv_ids: Collection[str]
) -> AuthResults | None:
    """The results the receiving MTA added (see the module docstring), or None."""
    wanted = {a.lower().rstrip(".") for a in authserv_ids}
    if not wanted:
        return None
    for n, (name, value) in enumerate(headers):
        if n >= MAX_FIELDS:
            return None
        if name.lower() != "authentication-results":
            continue
        parsed = parse(value)
        if parsed and parsed.authserv_id.lower().rstrip(".") in wanted:
            return parsed
    return None


def dmarc_pass(
    headers: Iterable[tuple[str, str]], authserv_ids: Collection[str], from_addr: str
) -> bool:
    """The receiving MTA says DMARC passed for the domain of `from_addr`."""
    results = trusted(headers, authserv_ids)
    domain = _domain(from_addr.rpartition("@")[2]) if "@" in from_addr else ""
    if results is None or not domain:
        return False
    verdicts = [
        r.result
        for r in results.results
        if r.method == "dmarc" and _domain(r.properties.get("header.from", "")) == domain
    ]
    return bool(verdicts) and all(v == "pass" for v in verdicts)


def parse(value: str) -> AuthResults | None:
    """One field's value per RFC 8601 §2.2, leniently: comments are skipped, unknown
    parts of a result ignored. None when there is no authserv-id (a field that starts
    with a result, as Exchange Online writes them, names no server to trust)."""
    segments = _segments(_tokens(value[:MAX_VALUE]))
    head = next(segments, [])
    if not head or "=" in head:
        return None
    results = []
    for segment in segments:
        result = _result(segment)
        if result:
            results.append(result)
    return AuthResults(head[0], tuple(results))


def _result(tokens: list[str]) -> Result | None:
    """`method[/version] = result [reason=...] [ptype.property=value ...]`."""
    pairs = [
        (tokens[i].lower(), tokens[i + 2])
        for i in range(len(tokens) - 2)
        if tokens[i + 1] == "=" and tokens[i] != "=" and tokens[i + 2] != "="
    ]
    if not pairs:
        return None
    (method, result), rest = pairs[0], pairs[1:]
    return Result(
        method.partition("/")[0], result.lower(), {k: v for k, v in rest if "." in k and v}
    )


def _segments(tokens: Iterator[str]) -> Iterator[list[str]]:
    """The tokens between semicolons (quoted strings come as words, so a quoted ';' is
    no separator)."""
    segment: list[str] = []
    for token in tokens:
        if token == ";":
            yield segment
            segment = []
        else:
            segment.append(token)
    yield segment


def _tokens(text: str) -> Iterator[str]:
    """Words, "=" and ";" of a field value; whitespace and (nested) comments dropped.

    A quoted-string yields its content as a word, so a quoted `"="` is a word too; one
    that would be read as the token "=" is made unusable by a leading quote mark."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":
            i = _skip_comment(text, i)
        elif c == '"':
            word, i = _quoted(text, i)
            yield word if word not in ("=", ";") else '"' + word
        elif c in ";=":
            yield c
            i += 1
        elif c == ")":
            i += 1  # a stray closing parenthesis
        else:
            start = i
            while i < n and text[i] not in _SPECIAL:
                i += 1
            yield text[start:i]


def _skip_comment(text: str, i: int) -> int:
    """The index after the comment starting at `text[i] == "("` (RFC 5322 §3.2.2)."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The content of the quoted-string at `text[i] == '"'` and the index after it."""
    out: list[str] = []
    i += 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), n


def _domain(value: str) -> str:
    """A domain for comparison: after any `local@`, lower-cased, as A-labels (IDNA)."""
    domain = value.rpartition("@")[2].strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain
