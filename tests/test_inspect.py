"""`mentormail inspect`: what the agent makes of saved emails, as text or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import THREE_PAIRS

REPLY = b"""\
From: Ana Alvarez <ana@example.org>
To: mentoring@example.org
Subject: Re: How did your meeting go?
Date: Thu, 11 Mar 2027 18:00:00 -0500
Message-ID: <r1@mail.example>
Content-Type: text/plain; charset=utf-8

Goal 1: done
Great session, 4/5. Can we move our next call to Friday 3pm?

On Thu, Mar 11, 2027 at 10:00 AM Mentoring Program <mentoring@example.org> wrote:
> How did it go? Reply "I agree" ...
"""

OUT_OF_OFFICE = b"""\
From: Ben Becker <Ben.Becker@example.net>
To: mentoring@example.org
Subject: =?utf-8?q?Abwesenheitsnotiz=3A_Ihr_Mentoring?=
Date: Mon, 15 Feb 2027 09:00:00 +0100
Message-ID: <ooo@mail.example>
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Ich bin bis einschlie=DFlich 24.02.2027 nicht im B=FCro.
"""


def test_inspect_json_lines(tmp_path: Path, cli) -> None:
    (tmp_path / "reply.eml").write_bytes(REPLY)
    (tmp_path / "ooo.eml").write_bytes(OUT_OF_OFFICE)
    code, out, err = cli(
        "inspect", tmp_path / "reply.eml", tmp_path / "ooo.eml", "--json", "--now", "2027-03-12"
    )
    assert code == 0, err
    reply, ooo = (json.loads(line) for line in out.splitlines())
    assert reply["reply_text"].startswith("Goal 1: done") and "wrote:" not in reply["reply_text"]
    assert reply["auto_reply"] is None and reply["bounce"] is False
    found = {(i["kind"], i.get("value"), i.get("goal")) for i in reply["intents"]}
    assert {("progress", 100, 1), ("rating", 4, None)} <= found
    reschedule = next(i for i in reply["intents"] if i["kind"] == "reschedule")
    assert reschedule["when"].startswith("Friday 12 March 2027, 15:00")
    assert ooo["auto_reply"] and ooo["intents"] == [] and ooo["back_on"] == "2027-02-25"


def test_inspect_with_config_shows_the_pair_and_outcome(tmp_path: Path, write_config, cli) -> None:
    config = write_config(THREE_PAIRS)
    (tmp_path / "reply.eml").write_bytes(REPLY)
    code, out, _ = cli("inspect", tmp_path / "reply.eml", "--config", config, "--now", "2027-03-12")
    assert code == 0
    assert "matched: ana-ben/mentor via sender" in out
    assert "outcome: needs_human (asks to reschedule a meeting" in out
    assert not (tmp_path / "state.json").exists()  # read-only: nothing created


def test_inspect_an_unreadable_file_is_reported(tmp_path: Path, cli) -> None:
    code, out, _ = cli("inspect", tmp_path / "missing.eml")
    assert code == 1 and "cannot read" in out
