"""`mentormail inspect`: what the agent makes of saved emails, without acting on them.

For coordinators ("why was this reply sent to me?") and for debugging the
reply path: per file the extracted new text, the machine flags, the intents
found and, with a config, the pair it would be matched to and the outcome.
Read-only: the state file is opened without the lock and never written.

The outcome is the one `tick` would reach for the same email at the same moment:
the pair's stored state is read (so a reschedule that fits shows as applied, with
the meeting it moves), and the moment is `--now`, else the email's own Date (else
the file's modification time), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.commands import coordinator
from agent.config.model import Config
from agent.mail_in.inbound import parse_message
from agent.mail_in.message import InboundMessage, Interpretation
from agent.mail_in.replies import interpret
from agent.meetings.when import return_date
from agent.pairs.ingest import Routed, SentMail, match, received_at, route, sender_zone
from agent.state.store import Store


def inspect_files(
    paths: Sequence[Path], cfg: Config | None, now: datetime | None
) -> Iterator[dict[str, Any]]:
    """One report per file, in order; an unreadable file gets a report with `error`.
    `now` None: each email is read as of its Date (else its file's modification time)."""
    with _matching_inputs(cfg) as (key, store):
        for path in paths:
            try:
                raw = path.read_bytes()
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError as exc:
                yield {"file": str(path), "error": f"cannot read: {exc.strerror}"}
                continue
            msg = parse_message(raw)
            moment = now or msg.date or modified
            yield {"file": str(path), **inspect_message(msg, cfg, key, store, moment)}


def inspect_message(
    msg: InboundMessage,
    cfg: Config | None,
    key: bytes,
    sent: SentMail | None,
    now: datetime,
) -> dict[str, Any]:
    """What the agent makes of one message at `now`; with a config and the store, the
    pair, the outcome and what it would change, as `tick` decides them."""
    zone = cfg.program.timezone if cfg else ZoneInfo("UTC")
    report: dict[str, Any] = {
        "message_id": msg.message_id,
        "from": msg.from_addr,
        "subject": msg.subject,
        "date": msg.date.isoformat() if msg.date else None,
        "reply_text": msg.reply_text,
        "auto_reply": msg.auto_reply,
        "bounce": msg.bounce,
        "failed_recipients": list(msg.failed_recipients),
        "attachments": list(msg.attachments),
        "calendar_parts": len(msg.calendar),
        "problems": list(msg.problems),
    }
    context = None
    if cfg and sent:
        found = match(msg, cfg, key, sent)
        zone = sender_zone(cfg, found)
        state = None
        if found.pair_id and isinstance(sent, Store) and sent.has_pair_state(found.pair_id):
            state = sent.pair_state(found.pair_id)
        if found.via == "coordinator":  # their answer to our email: read, not applied
            routed = Routed("coordinator", found, reason=coordinator.reading(cfg, msg, found, now))
        else:
            routed = route(msg, found, now, zone, cfg, state)
        context = found.replied_to
        report["match"] = {k: v for k, v in asdict(found).items() if v is not None}
        report["outcome"] = routed.outcome
        report["reason"] = routed.reason
        report["changes"] = [e["text"] for e in routed.log if e.get("kind") in _CHANGE_KINDS]
    at = received_at(msg, now)
    if msg.auto_reply:
        back = return_date(f"{msg.subject}\n{msg.reply_text or msg.text}", at, zone)
        report["back_on"] = back.isoformat() if back else None
    machine = bool(msg.auto_reply or msg.bounce)  # never interpreted, never answered
    meaning = (
        Interpretation()
        if machine
        else interpret(msg.reply_text, context=context, now=at, tz=zone, body=msg.text)
    )
    report["intents"] = [intent.fields() for intent in meaning.intents]
    report["unsure"] = meaning.unsure
    return report


_CHANGE_KINDS = ("meeting_change", "meeting_missed")  # log entries that say what a reply changed


@contextmanager
def _matching_inputs(cfg: Config | None) -> Iterator[tuple[bytes, Store | None]]:
    """The token key and what the program sent, read without creating or locking anything."""
    if cfg is None:
        yield b"", None
        return
    from agent.commands.runtime import state_path, token_key
    from agent.state.opening import reading

    with reading(state_path(cfg)) as store:
        yield token_key(cfg, create=False), store


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """A human-readable block for one report."""
    if "error" in report:
        return [f"== {report['file']}", f"  error: {report['error']}"]
    lines = [
        f"== {report['file']}",
        f"  from: {report['from'] or '?'}   subject: {report['subject']!r}",
    ]
    if report["auto_reply"]:
        back = report.get("back_on")
        lines.append(
            f"  auto-reply: {report['auto_reply']}" + (f" (back on {back})" if back else "")
        )
    if report["bounce"]:
        lines.append(f"  bounce: {', '.join(report['failed_recipients']) or 'recipient unknown'}")
    if "match" in report:
        found = report["match"]
        where = (
            f"{found['pair_id']}/{found.get('role', '?')} via {found.get('via')}"
            if found.get("pair_id")
            else "no pair"
        )
        lines.append(
            f"  matched: {where}" + (f" ({found['problem']})" if found.get("problem") else "")
        )
        lines.append(
            f"  outcome: {report['outcome']}"
            + (f" ({report['reason']})" if report["reason"] else "")
        )
        lines += [f"  change: {change}" for change in report.get("changes", [])]
    lines.append("  reply text:")
    lines += [f"    | {line}" for line in (report["reply_text"] or "(none)").splitlines()]
    for intent in report["intents"]:
        detail = ", ".join(f"{k}={v}" for k, v in intent.items() if k not in ("kind", "text"))
        lines.append(
            f"  intent {intent['kind']}: {intent['text']!r}" + (f" [{detail}]" if detail else "")
        )
    if report["unsure"]:
        lines.append(f"  unsure: {report['unsure']}")
    lines += [f"  problem: {p}" for p in report["problems"]]
    return lines
