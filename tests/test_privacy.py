"""Privacy: one participant exported and forgotten (agent.commands.privacy), and message retention.

A program on the embedded default (Maildir + .ics) is driven through the CLI; Dina
writes a reply the coordinator gets with her words, then she leaves the program.
After `forget`, neither her address nor her words are anywhere in the program folder.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from agent.commands.privacy import Refused, forget_participant
from agent.config.loading import load_config
from agent.state.opening import open_store, reading
from agent.state.store import StoreError
from tests.conftest import THREE_PAIRS
from tests.test_lifecycle_e2e import Program, at, gmail_reply, outlook_reply

DINA = "dina@example.co.uk"
PHRASE = "kumquat lighthouse"  # only in Dina's reply
BEN_PHRASE = "Lead a small project"


def _without_chen_dina(text: str) -> str:
    lines = text.splitlines(keepends=True)
    drop = ("id: dina,", "id: chen-dina,")
    return "".join(line for line in lines if not any(d in line for d in drop))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _mentions(root: Path, needle: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    return [
        name
        for name, data in _files(root).items()
        if needle.lower().encode() in data.lower() and name not in skip
    ]


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    """Three pairs onboarded; Ana and Ben agree (Ben with goals), Dina writes back in a way
    that goes to the coordinator, and a stranger writes in."""
    root = tmp_path / "program"
    root.mkdir()
    p = Program(root, cli)
    p.config.write_text(THREE_PAIRS.replace("storage: {path: state.json}", _STORAGE), "utf-8")
    p.tick("2027-02-15T09:00")
    noon = at("2027-02-15T15:00")
    p.deliver(
        gmail_reply(p.only("ana@example.org", "agreement"), "ana@example.org", "I agree!", noon)
    )
    p.deliver(
        outlook_reply(
            p.only("ben.becker@example.net", "agreement"),
            "Ben Becker <ben@phone.example.net>",
            f"I agree.\n\nMy goals:\n1. {BEN_PHRASE}\n2. Give better feedback\n",
            noon,
        )
    )
    p.deliver(
        outlook_reply(
            p.only(DINA, "agreement"),
            f"Dina Doyle <{DINA}>",
            "I can't commit to weekly meetings right now, my "
            f"{PHRASE} project takes all my time.\n\nDina",
            noon,
        )
    )
    p.tick("2027-02-16T09:00")
    notices = [m for m in p.sent("coordinator@example.org") if PHRASE in str(m)]
    assert notices, "the coordinator got Dina's words"
    return p


_STORAGE = "storage: {path: state.json, backups: 3}"


def _remove_dina(program: Program) -> None:
    program.config.write_text(_without_chen_dina(program.config.read_text()), "utf-8")
    program.tick("2027-02-16T10:00")  # cancels nothing (not booked), says goodbye


def _forget(program: Program, who: str, **kw):
    return forget_participant(load_config(program.config), who, now=at("2027-02-17T09:00"), **kw)


def test_export_holds_her_replies_and_nothing_of_other_pairs(program: Program, tmp_path: Path):
    out = tmp_path / "export" / "dina.json"
    report = _forget(program, "dina", export_to=out, dry_run=True)  # an access request only
    data = json.loads(out.read_text())
    assert out.stat().st_mode & 0o777 == 0o600
    assert data["participant"]["id"] == "dina"
    assert DINA in data["participant"]["addresses"]
    assert [r["from"] for r in data["replies"]] == [DINA]
    assert PHRASE in data["replies"][0]["text"]
    assert {p["pair"] for p in data["pairs"]} == {"chen-dina"}
    assert data["pairs"][0]["role"] == "mentee"
    assert {e["pair"] for e in data["progress_log"]} <= {"chen-dina"}
    assert {e["to"] for e in data["emails_to_them"]} == {DINA}
    assert data["coordinator_told_about_their_replies"]
    text = out.read_text()
    for other in ("ana-ben", "eli-fay", "ben.becker", BEN_PHRASE, "fay@example.ke"):
        assert other not in text
    assert report.dry_run and report.refusals  # still configured: forgetting would be refused


def test_dry_run_changes_nothing(program: Program):
    _remove_dina(program)
    before = _files(program.root)
    report = _forget(program, "dina", dry_run=True)
    assert _files(program.root) == before
    lines = "\n".join(report.lines())
    assert "dry run" in lines and "would remove" in lines
    assert any(folder == "sent" for folder, _, _ in report.files)


def test_forget_removes_her_from_state_and_maildir(program: Program, cli):
    _remove_dina(program)
    status_before = program.status("2027-02-17T09:00")
    root = program.root
    assert _mentions(root, DINA) and _mentions(root, PHRASE)
    assert list(root.glob("state.json.backup-*")), "a backup to clean as well"
    ben_files = set(_mentions(root, "ben.becker@example.net"))

    report = _forget(program, "dina")
    assert not report.dry_run
    assert _mentions(root, DINA) == []
    assert _mentions(root, PHRASE) == []
    # the others are untouched: their mail, their state, their progress
    assert set(_mentions(root, "ben.becker@example.net")) == ben_files
    status = program.status("2027-02-17T09:00")
    assert status == status_before
    assert status["ana-ben"]["goals"] == [BEN_PHRASE, "Give better feedback"]
    # what stays: the record of her message (dedupe), without her words or address
    with reading(root / "state.json") as store:
        mine = [r for r in store.inbound_records() if r.get("forgotten")]
        assert len(mine) == 1 and mine[0]["text"] == "[removed]"
        assert mine[0]["outcome"] == "needs_human"
        assert all(e["text"] == "[removed]" for e in store.log("chen-dina") if e["by"] == "mentee")
    # the next tick has nothing to say to or about her
    out = program.tick("2027-02-17T10:00")
    assert DINA not in out and _mentions(root, DINA) == []


def test_refused_while_still_in_the_config_unless_forced(program: Program):
    before = _files(program.root)
    with pytest.raises(Refused, match=r"still in the config.*next tick would write to them"):
        _forget(program, "dina")
    assert _files(program.root) == before
    report = _forget(program, DINA, force=True)  # by address works too
    assert report.person.id == "dina"
    assert any("forced" in n for n in report.notes)
    assert _mentions(program.root, DINA) == ["program.yaml"]
    assert _mentions(program.root, PHRASE) == []


def test_refused_until_a_tick_applied_the_removal(program: Program):
    program.config.write_text(_without_chen_dina(program.config.read_text()), "utf-8")
    with pytest.raises(Refused, match="run `mentormail tick` first"):
        _forget(program, "dina")
    program.tick("2027-02-16T10:00")
    _forget(program, "dina")


def test_uses_the_state_lock(program: Program):
    _remove_dina(program)
    holder = open_store(program.root / "state.json")
    try:
        with pytest.raises(StoreError, match="stop it first"):
            _forget(program, "dina")
    finally:
        holder.close(flush=False)


def test_unknown_participant_own_address_and_a_stranger(program: Program):
    with pytest.raises(Refused, match="nobody called 'zed'"):
        _forget(program, "zed")
    with pytest.raises(Refused, match="program's own address"):
        _forget(program, "Coordinator@example.org")
    stranger = EmailMessage()
    stranger["From"] = "Sam Seller <offers@example.biz>"
    stranger["To"] = "mentoring@example.org"
    stranger["Subject"] = "Boost your productivity"
    stranger["Message-ID"] = "<offer-1@example.biz>"
    stranger.set_content("Hi! Great offer inside.")
    program.deliver(stranger)
    program.tick("2027-02-16T11:00")
    assert _mentions(program.root, "offers@example.biz")
    report = _forget(program, "offers@example.biz")  # anyone who wrote in, by address
    assert report.person.id is None
    assert any(folder == "quarantine" for folder, _, _ in report.files)
    assert _mentions(program.root, "offers@example.biz") == []
    with reading(program.root / "state.json") as store:
        assert store.inbound("offer-1@example.biz")["from"] == "[removed]"


# -- retention ------------------------------------------------------------------------------


def test_retention_deletes_old_copies_and_texts_but_still_recognises_them(program: Program):
    root, mail = program.root, program.root / "mail"
    text = program.config.read_text().replace(
        _STORAGE, "storage: {path: state.json, keep_messages: 30d}"
    )
    program.config.write_text(text, "utf-8")
    processed = list((mail / "processed" / "cur").iterdir())
    assert len(processed) == 3
    old = processed[0].read_bytes()
    sent_before = set((mail / "sent" / "new").iterdir())

    program.tick("2027-03-01T09:00")  # 2 weeks on: kept
    assert len(list((mail / "processed" / "cur").iterdir())) == 3
    out = program.tick("2027-03-20T09:00")  # 33 days after the replies
    assert "retention: deleted 3 raw message(s), cleared 3 reply text(s)" in out
    assert list((mail / "processed" / "cur").iterdir()) == []
    assert sent_before <= set((mail / "sent" / "new").iterdir())  # sent/ is not touched
    state = json.loads((root / "state.json").read_text())
    assert PHRASE not in json.dumps(state["inbound"])  # the progress log is the program's record
    with reading(root / "state.json") as store:
        records = list(store.inbound_records())
        assert records and all(r["text"] is None for r in records)
        log_size = len(store.log())
        stamp = store.meta("retention_at")

    # an old message delivered again is still known: not read twice, just filed away
    (mail / "inbox" / "new" / "redelivered").write_bytes(old)
    out = program.tick("2027-03-20T10:00")
    assert "received" not in out and "retention" not in out  # once a day
    assert len(list((mail / "processed" / "cur").iterdir())) == 1
    with reading(root / "state.json") as store:
        assert len(store.log()) == log_size
        assert store.meta("retention_at") == stamp
    out = program.tick("2027-03-21T10:00")
    assert "retention: deleted 1 raw message(s), cleared 0 reply text(s)" in out


def test_keep_messages_is_validated(write_config):
    path = write_config(
        THREE_PAIRS.replace("storage: {path: state.json}", "storage: {keep_messages: 2h}")
    )
    with pytest.raises(Exception, match=r"storage\.keep_messages, line \d+: must be at least 1d"):
        load_config(path)


def test_mail_on_a_server_lists_the_message_ids_to_delete_there(program: Program):
    _remove_dina(program)
    imap = "mail: {type: imap, host: imap.example.org, username: m, password_env: PW}"
    program.config.write_text(
        program.config.read_text().replace("mail: {type: maildir, path: mail}", imap), "utf-8"
    )
    with reading(program.root / "state.json") as store:
        her_reply = next(r["message_id"] for r in store.inbound_records() if r["from"] == DINA)
    before = _files(program.root / "mail")
    report = _forget(program, "dina")
    assert report.files == [] and _files(program.root / "mail") == before
    assert her_reply in report.server_ids and len(report.server_ids) >= 4  # + 3 to her, notice
    lines = "\n".join(report.lines())
    assert "delete these messages there" in lines and f"<{her_reply}>" in lines
    assert DINA not in (program.root / "state.json").read_text()


def test_the_forget_command_exports_refuses_and_forgets(program: Program, cli, tmp_path: Path):
    code, _, err = cli("forget", "dina", "--config", program.config)
    assert code == 2 and "still in the config" in err  # a usage error, nothing changed
    _remove_dina(program)
    export = tmp_path / "dina.json"
    code, out, err = cli(
        "forget",
        "dina",
        "--config",
        program.config,
        "--export",
        export,
        "--now",
        "2027-02-17T09:00",
    )
    assert code == 0, err
    assert PHRASE in export.read_text(encoding="utf-8") and out.strip()
    assert _mentions(program.root, PHRASE) == []
