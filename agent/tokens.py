"""Signed reply tokens: `mentoring+ana-ben.m1f2e3d4c5b@example.org`.

Every email the program sends carries a Reply-To with the pair and the
recipient's role, signed with an HMAC key the operator controls. A reply to
that address names its pair even when the sender writes from another
device or strips the thread headers; a forged token fails the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from agent.model import Role

_LETTER: dict[Role, str] = {"mentor": "m", "mentee": "e"}
_ROLE: dict[str, Role] = {letter: role for role, letter in _LETTER.items()}
_SIG_LEN = 10


def _signature(key: bytes, pair_id: str, letter: str) -> str:
    # lower-cased: mail systems may change the case of a local part
    digest = hmac.new(key, f"{pair_id.lower()}.{letter}".encode(), hashlib.sha256).hexdigest()
    return digest[:_SIG_LEN]


def reply_address(sender: str, key: bytes, pair_id: str, role: Role) -> str:
    """The sender address with a signed `+token` (RFC 5233 subaddress) for this pair and role."""
    local, domain = sender.rsplit("@", 1)
    letter = _LETTER[role]
    return f"{local}+{pair_id.lower()}.{letter}{_signature(key, pair_id, letter)}@{domain}"


def read_token(addresses: Iterable[str], sender: str, key: bytes) -> tuple[str, Role] | None:
    """The (lower-cased pair id, role) of the first validly signed token among `addresses`."""
    local, domain = sender.lower().rsplit("@", 1)
    pattern = re.compile(
        rf"{re.escape(local)}\+(?P<pair>[a-z0-9][a-z0-9._-]*)\.(?P<letter>[me])"
        rf"(?P<sig>[0-9a-f]{{{_SIG_LEN}}})@{re.escape(domain)}"
    )
    for address in addresses:
        match = pattern.fullmatch(address.lower())
        if not match:
            continue
        expected = _signature(key, match["pair"], match["letter"])
        if hmac.compare_digest(expected, match["sig"]):
            return match["pair"], _ROLE[match["letter"]]
    return None
