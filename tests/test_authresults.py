"""Authentication-Results (RFC 8601) as real receiving servers write them (agent.mail_in.authresults)."""

from __future__ import annotations

import time

import pytest

from agent.mail_in.authresults import MAX_FIELDS, dmarc_pass, parse, trusted
from agent.mail_in.inbound import parse_message
from agent.pairs.trust import refuses

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@example.net header.s=20230601 header.b=kXq3vR1Z;\r\n"
    "       spf=pass (google.com: domain of ben@example.net designates 209.85.220.41 as "
    "permitted sender) smtp.mailfrom=ben@example.net;\r\n"
    "       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=example.net"
)
FASTMAIL = (
    "mx6.messagingengine.com;\r\n"
    "    dkim=pass (2048-bit rsa key sha256) header.d=example.net header.i=@example.net "
    "header.b=Xk3dQ9aP header.a=rsa-sha256 header.s=fm2 x-bits=2048;\r\n"
    "    dmarc=pass policy.published-domain-policy=none policy.applied-disposition=none "
    "policy.evaluated-disposition=none (p=none,d=none,d.eval=none) policy.policy-from=p "
    "header.from=example.net;\r\n"
    "    iprev=pass smtp.remote-ip=66.111.4.25 (out1-smtp.messagingengine.com);\r\n"
    "    spf=pass smtp.mailfrom=ben@example.net smtp.helo=out1-smtp.messagingengine.com"
)
# Exchange Online writes no authserv-id: nothing in it names a server to trust
MICROSOFT = (
    "spf=pass (sender IP is 209.85.128.45) smtp.mailfrom=example.net; dkim=pass (signature "
    "was verified) header.d=example.net;dmarc=pass action=none header.from=example.net;"
    "compauth=pass reason=100"
)
OPENDMARC = "mail.example.org; dmarc=pass (p=none dis=none) header.from=example.net"


def test_the_results_of_real_servers_are_read() -> None:
    gmail = parse(GMAIL)
    assert gmail is not None and gmail.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in gmail.results] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert gmail.results[2].properties == {"header.from": "example.net"}
    fastmail = parse(FASTMAIL)
    assert fastmail is not None
    dmarc = next(r for r in fastmail.results if r.method == "dmarc")
    assert dmarc.properties["header.from"] == "example.net"
    assert parse(MICROSOFT) is None
    opendmarc = parse(OPENDMARC)
    assert opendmarc is not None and opendmarc.results[0].result == "pass"


def test_rfc_8601_forms_versions_none_quoted_strings_and_comments() -> None:
    none = parse("example.org 1; none")  # RFC 8601 B.2
    assert none is not None and none.authserv_id == "example.org" and none.results == ()
    quoted = parse(
        '"mx.example.org" (the real one; really (nested)); dkim=pass reason="good; signature" '
        'header.d=example.net; dmarc=pass header.from="example.net"'
    )
    assert quoted is not None and quoted.authserv_id == "mx.example.org"
    assert [(r.method, r.result) for r in quoted.results] == [("dkim", "pass"), ("dmarc", "pass")]
    assert quoted.results[1].properties["header.from"] == "example.net"
    versioned = parse("mx.example.org; dkim/1=pass header.d=example.net")
    assert versioned is not None and versioned.results[0].method == "dkim"
    assert parse("") is None and parse("   ") is None and parse("(only a comment") is None


def headers(*results: str, before: int = 3) -> list[tuple[str, str]]:
    """A delivered message's header block: the MTA's fields on top, then the sender's."""
    top = [("Received", f"from mail-{n}.example.net by mx.example.org") for n in range(before)]
    rest = [("From", "Ben Becker <ben@example.net>"), ("Subject", "Re: next week")]
    return [*top, *(("Authentication-Results", r) for r in results), *rest]


def test_only_the_topmost_field_of_a_configured_server_counts() -> None:
    ours = ("mx.example.org",)
    passes = "mx.example.org; dmarc=pass header.from=example.net"
    none = "mx.example.org; dmarc=none header.from=example.net"
    assert dmarc_pass(headers(passes), ours, "ben@example.net")
    # the MTA said none; a pass below it was written by the sender
    assert not dmarc_pass(headers(none, passes), ours, "ben@example.net")
    # a field of a server that is not configured is never trusted, wherever it is
    assert not dmarc_pass(headers(GMAIL), ours, "ben@example.net")
    assert dmarc_pass(headers(GMAIL), ("MX.Google.com.",), "ben@example.net")
    # one added above ours by a later hop that is not configured is skipped
    assert dmarc_pass(headers(GMAIL, passes), ours, "ben@example.net")
    assert not dmarc_pass(headers(passes), (), "ben@example.net")  # nothing configured


def test_the_pass_must_be_for_the_from_domain() -> None:
    ours = ("mx.example.org",)
    assert not dmarc_pass(
        headers("mx.example.org; dmarc=pass header.from=attacker.test"), ours, "ben@example.net"
    )
    assert dmarc_pass(
        headers("mx.example.org; dmarc=pass header.from=Example.NET."), ours, "ben@example.net"
    )
    assert not dmarc_pass(headers("mx.example.org; dmarc=pass"), ours, "ben@example.net")
    mixed = "mx.example.org; dmarc=pass header.from=example.net; dmarc=fail header.from=example.net"
    assert not dmarc_pass(headers(mixed), ours, "ben@example.net")
    assert not dmarc_pass(headers(OPENDMARC), ("mail.example.org",), "")
    idn = "mx.example.org; dmarc=pass header.from=xn--bcher-kva.example"
    assert dmarc_pass(headers(idn), ours, "ben@bücher.example")


def test_only_the_first_fields_are_looked_at() -> None:
    ours = ("mx.example.org",)
    passes = "mx.example.org; dmarc=pass header.from=example.net"
    assert dmarc_pass(headers(passes, before=MAX_FIELDS - 1), ours, "ben@example.net")
    assert not dmarc_pass(headers(passes, before=MAX_FIELDS), ours, "ben@example.net")
    assert trusted(headers(passes, before=MAX_FIELDS), ours) is None


def test_a_full_message_as_gmail_delivers_it() -> None:
    raw = (
        "Delivered-To: mentoring@example.org\r\n"
        "Received: by 2002:a05:6a10:8f0e:b0:5a1:1c2e:9c1a with SMTP id ab14csp1234567pxb;\r\n"
        "        Wed, 3 Mar 2027 01:00:02 -0800 (PST)\r\n"
        "ARC-Authentication-Results: i=1; mx.google.com;\r\n"
        "       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=example.net\r\n"
        "Return-Path: <ben@example.net>\r\n"
        "Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n"
        "        by mx.google.com with SMTPS id a1sor1234567wrx.12.2027.03.03.01.00.01\r\n"
        "Received-SPF: pass (google.com: domain of ben@example.net designates 209.85.220.41 "
        "as permitted sender) client-ip=209.85.220.41;\r\n"
        f"Authentication-Results: {GMAIL}\r\n"
        # what the sender wrote starts here
        "Authentication-Results: mx.google.com; dmarc=pass header.from=attacker.test\r\n"
        "MIME-Version: 1.0\r\n"
        "From: Ben Becker <ben@example.net>\r\n"
        "Date: Wed, 3 Mar 2027 10:00:00 +0100\r\n"
        "Message-ID: <CAF8t1xQ@mail.gmail.com>\r\n"
        "Subject: Re: next week\r\n"
        "To: mentoring+ana-ben.e0123456789@example.org\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n'
        "\r\n"
        "Let's skip next week's session.\r\n"
    ).encode()
    msg = parse_message(raw)
    assert dmarc_pass(msg.headers, ("mx.google.com",), msg.from_addr)
    assert not dmarc_pass(msg.headers, ("mx.example.org",), msg.from_addr)


def test_parsing_is_bounded_for_any_field() -> None:
    """Huge and adversarial values cost no more than one of the capped length (the
    ratio is generous: only a super-linear or uncapped parser would come near it)."""

    def cost(n: int) -> float:
        shapes = ["(" * n, "a=" * n, '"' + "\\" * n, ";" * n, "x " * n, "(a)" * n]
        start = time.perf_counter()
        for _ in range(5):
            for shape in shapes:
                parse(shape)
        return time.perf_counter() - start

    small, big = cost(10_000), cost(2_000_000)
    assert big < 20 * small + 0.5


@pytest.mark.parametrize(
    ("text", "no"),
    [
        ("Yes", False),
        ("Yes, that was me.", False),
        ("Confirmed, thanks!", False),
        ("", False),
        ("No", True),
        ("No, that wasn't me!", True),
        ("I didn't send this.", True),
        ("Not me - please don't change anything", True),
        ("Nope.", True),
    ],
)
def test_an_answer_to_a_confirmation_that_says_no(text: str, no: bool) -> None:
    assert refuses(text) is no
