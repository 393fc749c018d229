"""The receiving mail server's Authentication-Results, as the tests' MTAs write them.

A real receiving MTA (Gmail, Fastmail, Postfix with OpenDMARC) prepends its own
`Authentication-Results` to every message it delivers; the program trusts only that
one (agent.mail_in.authresults, `security.authserv_id`). The tests' deliveries behave the same:
a reply put into a Maildir or appended over IMAP by a test is `stamp`ed first, the SMTP
relay of tests/mailservers.py stamps what it delivers, and the test configs name
`AUTHSERV_ID` (`SECURITY_YAML`).
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import getaddresses

AUTHSERV_ID = "mx.example.org"
SECURITY_YAML = f"security: {{authserv_id: {AUTHSERV_ID}}}\n"


def from_address(raw: bytes) -> str:
    """The message's (first) From address, lower-cased; "" if none."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\n\n"
    values = message_from_bytes(head, policy=policy.compat32).get_all("From") or []
    addresses = [a for _, a in getaddresses([str(v) for v in values]) if "@" in a]
    return addresses[0].lower() if addresses else ""


def stamp(
    raw: bytes, *, dmarc: str = "pass", authserv_id: str = AUTHSERV_ID, domain: str | None = None
) -> bytes:
    """`raw` as delivered by the receiving MTA: its Authentication-Results prepended, in
    Gmail's layout, with `dmarc` as the verdict for the From domain (or `domain`)."""
    domain = from_address(raw).rpartition("@")[2] if domain is None else domain
    eol = "\r\n" if raw.split(b"\n", 1)[0].endswith(b"\r") else "\n"
    field = (
        f"Authentication-Results: {authserv_id};{eol}"
        f"       dkim=pass header.i=@{domain} header.s=s2027 header.b=Xk3dQ9aP;{eol}"
        f"       spf=pass ({authserv_id}: domain of {domain} designates 192.0.2.25 as "
        f"permitted sender) smtp.mailfrom={domain};{eol}"
        f"       dmarc={dmarc} (p=NONE sp=NONE dis=NONE) header.from={domain}{eol}"
    )
    return field.encode("ascii") + raw
