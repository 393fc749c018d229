"""When two email addresses reach the same mailbox, as the providers treat them.

People reply from the address their client picks, which is not always the one a
coordinator typed: `sam.obrien+mentoring@gmail.com` in the config, replies from
`Sam.OBrien@googlemail.com`. `mailbox_key` maps each address to one key per mailbox:

- the domain's case never matters (RFC 5321 section 2.4), and in practice neither
  does the local part's: no mainstream provider delivers `Sam@` and `sam@` to two
  people;
- sub-addressing (RFC 5233): everything from the first ``+`` of the local part on is
  a tag the owner chose, on every domain (Gmail, Outlook.com, Fastmail, iCloud, Proton
  and Postfix/Exim/Dovecot set-ups all deliver `user+tag@` to `user@`);
- Gmail alone ignores dots in the local part, and `googlemail.com` is `gmail.com`.

Only comparison uses the key: mail is always sent to the address exactly as configured.
"""

from __future__ import annotations

_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def mailbox_key(address: str) -> str:
    """The key shared by every spelling of the same mailbox (see the module docstring).

    >>> mailbox_key("Sam.OBrien+mentoring@GoogleMail.com")
    'samobrien@gmail.com'
    >>> mailbox_key("Rachel.ONeill+mentors@uni.example.ac.uk")
    'rachel.oneill@uni.example.ac.uk'
    """
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().lower()
    local, domain = local.lower(), domain.lower().rstrip(".")
    tagged, plus, _ = local.partition("+")
    if plus and tagged:  # "+tag@" alone (no user before the +) is not a sub-address
        local = tagged
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def same_mailbox(a: str, b: str) -> bool:
    """Whether `a` and `b` reach the same person's mailbox."""
    return mailbox_key(a) == mailbox_key(b)
