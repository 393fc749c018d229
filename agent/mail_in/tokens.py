"""What only the program can make: reply tokens, Message-IDs and bounce addresses.

All three are HMACs keyed by the operator's secret (agent.commands.runtime.token_key), each
over its own kind of input, so one never stands in for another:

- the reply token `mentoring+ana-ben.m1f2e3d4c5b@example.org` in every Reply-To
  names the pair and the recipient's role: a reply to it names its pair even
  when the sender writes from another device or strips the thread headers;
- the Message-ID `mm2.<32 hex>@example.org` of every email is stable for its
  action (the executor finds a message that left before a crash by it) and
  cannot be computed by a stranger, so In-Reply-To naming it, or a bounce
  quoting it, comes from someone who had that email;
- the bounce address `mentoring+bounce.ana-ben.m<sig>@example.org`, the SMTP
  envelope sender (VERP) of an email to a participant, where delivery status
  notifications go: a bounce sent to it is about that participant's address.

A signature is 10 hex characters (40 bits). That is enough against guessing:
a guess costs an email, which lands in quarantine and is counted, and it takes
about 2**39 of them. A longer signature would buy nothing while the 10-character
tokens in people's old emails must keep working (people answer old emails), and
a local part may have only 64 characters (RFC 5321 section 4.5.3.1.1). A token
is exposed by being seen (a forwarded email), which no length helps against:
that is why a token alone never proves who wrote (agent.pairs.ingest).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from agent.mail_in.message import Role

_LETTER: dict[Role, str] = {"mentor": "m", "mentee": "e"}
_ROLE: dict[str, Role] = {letter: role for role, letter in _LETTER.items()}
_SIG_LEN = 10
_BOUNCE = "bounce"  # the tag is signed too: a reply token never reads as a bounce address
MESSAGE_ID_PREFIX = "mm2."


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _signature(key: bytes, pair_id: str, letter: str, purpose: str = "") -> str:
    # lower-cased: mail systems may change the case of a local part. A reply token
    # signs "pair.letter" (as it always has); the other purposes are prefixed with a
    # NUL-terminated tag, which no pair id contains.
    tag = f"{purpose}\0" if purpose else ""
    return _mac(key, f"{tag}{pair_id.lower()}.{letter}")[:_SIG_LEN]


def reply_address(sender: str, key: bytes, pair_id: str, role: Role) -> str:
    """The sender address with a signed `+token` (RFC 5233 subaddress) for this pair and role."""
    local, domain = sender.rsplit("@", 1)
    letter = _LETTER[role]
    return f"{local}+{pair_id.lower()}.{letter}{_signature(key, pair_id, letter)}@{domain}"


def read_token(addresses: Iterable[str], sender: str, key: bytes) -> tuple[str, Role] | None:
    """The (lower-cased pair id, role) of the first validly signed token among `addresses`."""
    return _read(addresses, sender, key, "")


def bounce_address(sender: str, key: bytes, pair_id: str, role: Role) -> str:
    """The envelope sender (VERP) for mail to this pair's role: `local+bounce.<token>@domain`."""
    local, domain = sender.rsplit("@", 1)
    letter = _LETTER[role]
    sig = _signature(key, pair_id, letter, _BOUNCE)
    return f"{local}+{_BOUNCE}.{pair_id.lower()}.{letter}{sig}@{domain}"


def read_bounce_address(
    addresses: Iterable[str], sender: str, key: bytes
) -> tuple[str, Role] | None:
    """The (lower-cased pair id, role) of the first validly signed bounce address."""
    return _read(addresses, sender, key, _BOUNCE)


def _read(
    addresses: Iterable[str], sender: str, key: bytes, purpose: str
) -> tuple[str, Role] | None:
    local, domain = sender.lower().rsplit("@", 1)
    tag = rf"{purpose}\." if purpose else ""
    pattern = re.compile(
        rf"{re.escape(local)}\+{tag}(?P<pair>[a-z0-9][a-z0-9._-]*)\.(?P<letter>[me])"
        rf"(?P<sig>[0-9a-f]{{{_SIG_LEN}}})@{re.escape(domain)}"
    )
    for address in addresses:
        if len(address) > 320:  # longer than any address (RFC 5321): not one of ours
            continue
        match = pattern.fullmatch(address.lower())
        if not match:
            continue
        expected = _signature(key, match["pair"], match["letter"], purpose)
        if hmac.compare_digest(expected, match["sig"]):
            return match["pair"], _ROLE[match["letter"]]
    return None


def message_id(key: bytes, program_slug: str, action_key: str, domain: str) -> str:
    """The Message-ID (without <>) of the email an action sends: stable, and unguessable."""
    digest = _mac(key, f"message-id\0{program_slug}/{action_key}")[:32]
    return f"{MESSAGE_ID_PREFIX}{digest}@{domain}"


def keyed_message_id(message_id: str) -> bool:
    """Made by `message_id`; older versions hashed the action key without the secret,
    so anyone could compute those: they prove nothing about who writes."""
    return message_id.startswith(MESSAGE_ID_PREFIX)
