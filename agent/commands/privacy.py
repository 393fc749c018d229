"""Privacy: one person's data exported and forgotten; old messages expired.

`mentormail forget PARTICIPANT` (`forget_participant`):

- export (`--export FILE`): everything the state holds about the person as one JSON
  document: their config entry, their pairs' states as far as they concern them,
  the progress-log entries of their pairs (the words of the other participant are
  left out: they are that person's data), their replies as read, and the emails sent
  to them. The export is written before anything is removed, whole, mode 0600 (or
  `reports.file_mode`); if it cannot be written, nothing is removed.
- forget: their replies in the state lose their text, subject, reason and sender
  (the record stays, as `[removed]`, so the Message-ID is still recognised and a
  re-delivered copy is not read again); the progress-log entries they wrote keep
  their kind, time, pair, side and rating but their text (and goals, proposed times)
  becomes `[removed]`, so the pair's counts and ratings stay right; goals the pair
  has from their replies are dropped; the outbox keeps its records (idempotency keys)
  but their address becomes `[removed]`; their name and address in the pairs'
  states (removed pairs, replaced people, bounces) becomes `[removed]`; any other
  occurrence of their address in the state is replaced. The daily backups of the
  state get the same treatment. With the maildir connector, every raw message from
  or to them, or mentioning one of their addresses (a coordinator notice quoting
  them, a digest listing their bounce, their partner's closing email), is deleted
  from inbox/, processed/, quarantine/ and sent/. Other connectors keep mail on a
  server: the Message-IDs to delete there are listed.

  Participant and pair ids stay: they are the coordinator's keys (choose ids that
  are not names if that matters). The person must be out of the config first, and
  the agent must have applied that (a tick cancels their meetings and says goodbye):
  otherwise `forget` refuses, unless `--force`.

Retention (`storage.keep_messages`, `apply_retention`): at the end of a tick, at most
once a day, raw copies in the maildir processed/ and quarantine/ folders of messages
received longer ago than that are deleted, and the reply texts of those messages in
the state are cleared. The inbound records themselves stay (Message-ID, outcome,
pair, time), so a re-delivered old message is still recognised and not read again.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from agent.commands.executor import MAX_ATTEMPTS
from agent.config.model import Config
from agent.pairs.planner import plan_removed
from agent.pairs.program import PairState, Stage
from agent.state.opening import open_store, reading
from agent.state.private_files import write_private
from agent.state.store import Store

REMOVED = "[removed]"
NAMED = "names them: kept"
MAIL_FOLDERS = ("inbox", "processed", "quarantine", "sent")
RETENTION_FOLDERS = ("processed", "quarantine")
RETENTION_EVERY = timedelta(days=1)
_ADDRESS_HEADERS = ("from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-from")


class Refused(Exception):
    """Forgetting now would be undone or would leave work half done; says why."""


@dataclass(frozen=True)
class Membership:
    pair_id: str
    role: str
    left_at: datetime | None = None  # replaced in the pair at this time


@dataclass
class Person:
    """Who to forget, with every address and name the config and the state know."""

    query: str
    id: str | None
    addresses: set[str] = field(default_factory=set)  # lower case
    names: set[str] = field(default_factory=set)
    memberships: list[Membership] = field(default_factory=list)
    configured: bool = False

    @property
    def label(self) -> str:
        return self.id or self.query


# -- who ----------------------------------------------------------------------------------


def _pair_states(store: Store) -> Iterator[PairState]:
    for pair_id in store.pair_ids():
        yield store.pair_state(pair_id)


def _snapshot_people(store: Store) -> Iterator[tuple[str, str, dict[str, Any]]]:
    snapshot = store.meta("program_snapshot") or {}
    for pair_id, people in (snapshot.get("pairs") or {}).items():
        for role, member in (people or {}).items():
            if isinstance(member, dict):
                yield pair_id, role, member


def identify(cfg: Config, store: Store, who: str) -> Person:
    """The person by participant id or address: from the config, the pairs' states and the
    config snapshot. An address nobody knows (a stranger who wrote in) is a person too."""
    query = who.strip()
    low = query.lower()
    if low in {cfg.program.sender.email.lower(), cfg.program.coordinator.email.lower()}:
        raise Refused(f"{query} is the program's own address (sender or coordinator)")
    pid: str | None = None
    for p in cfg.participants:
        if p.id == query or low in p.addresses:
            pid = p.id
    for state in _pair_states(store):
        for member in _members(state):
            if member.id == query or member.email.lower() == low:
                pid = pid or member.id
    for _, _, member in _snapshot_people(store):
        if member.get("id") == query or str(member.get("email", "")).lower() == low:
            pid = pid or member.get("id")
    if pid is None and "@" not in query:
        raise Refused(
            f"nobody called {query!r} is in the config or the state: give a participant id "
            "or an email address"
        )
    person = Person(query, pid)
    if "@" in query:
        person.addresses.add(low)
    if pid is None:
        return person
    for p in cfg.participants:
        if p.id == pid:
            person.configured = True
            person.addresses |= p.addresses
            person.names.add(p.name)
    for pair in cfg.pairs:
        for role in ("mentor", "mentee"):
            if getattr(pair, role) == pid:
                person.memberships.append(Membership(pair.id, role))
    for state in _pair_states(store):
        for role, member in state.members.items():
            if member.id == pid:
                person.memberships.append(Membership(state.pair_id, role))
        for departure in state.departed:
            if departure.member.id == pid:
                person.memberships.append(
                    Membership(state.pair_id, departure.role, left_at=departure.at)
                )
        for member in _members(state):
            if member.id == pid:
                person.addresses.add(member.email.lower())
                person.names.add(member.name)
    for pair_id, role, member in _snapshot_people(store):
        if member.get("id") == pid:
            person.memberships.append(Membership(pair_id, role))
            person.addresses.add(str(member.get("email", "")).lower())
            person.names.add(str(member.get("name", "")))
    person.addresses.discard("")
    person.addresses.discard(REMOVED)
    person.names.discard("")
    person.names.discard(REMOVED)
    person.memberships = list(dict.fromkeys(person.memberships))
    return person


def _members(state: PairState) -> Iterator[Any]:
    yield from state.members.values()
    for departure in state.departed:
        yield departure.member
        if departure.partner:
            yield departure.partner


# -- what is theirs -----------------------------------------------------------------------


def _lower(value: object) -> str:
    return str(value or "").strip().lower()


@dataclass
class Holdings:
    """What the state holds of one person, found once and used by export and forget."""

    replies: list[dict[str, Any]]  # inbound records from them
    reply_ids: set[str]
    log: list[dict[str, Any]]  # entries of their pairs while they were in them
    emails: list[dict[str, Any]]  # actions addressed to them
    notices: list[dict[str, Any]]  # coordinator notices about their messages

    @property
    def server_ids(self) -> list[str]:
        """Message-IDs of every email from, to or about them, for a mail server."""
        ids = [r["message_id"] for r in self.replies]
        ids += [a["message_id"] for a in self.emails + self.notices if a.get("message_id")]
        return list(dict.fromkeys(ids))


def holdings(store: Store, person: Person) -> Holdings:
    replies = [r for r in store.inbound_records() if _lower(r.get("from")) in person.addresses]
    reply_ids = {r["message_id"] for r in replies}
    log = [e for e in store.log() if _concerns(e, person, reply_ids)]
    actions = list(store.actions())
    emails = [a for a in actions if _lower(a.get("to")) in person.addresses]
    notices = [a for a in actions if str(a.get("key", "")).removeprefix("notice/") in reply_ids]
    return Holdings(replies, reply_ids, log, emails, notices)


def _concerns(entry: dict[str, Any], person: Person, reply_ids: set[str]) -> bool:
    if entry.get("message_id") in reply_ids:
        return True
    for m in person.memberships:
        if entry.get("pair") != m.pair_id:
            continue
        if m.left_at is None or _time(entry.get("at")) <= m.left_at:
            return True
    return False


def _time(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)


# -- export -------------------------------------------------------------------------------


def export(cfg: Config, store: Store, person: Person, now: datetime) -> dict[str, Any]:
    """Everything the state holds about `person`, as one JSON-ready document."""
    held = holdings(store, person)
    configured = [p for p in cfg.participants if p.id == person.id]
    entry = None
    if configured:
        p = configured[0]
        entry = p.model_dump(mode="json", exclude={"calendar"})
        entry["calendar_access"] = p.calendar is not None
    log = []
    for e in held.log:
        mine = e.get("message_id") in held.reply_ids
        item = dict(e) if mine else {k: v for k, v in e.items() if k not in ("items", "when")}
        if not mine and item.get("text"):
            item["text"] = "(written by the other participant: not included)"
        log.append({**item, "by_them": mine})
    return {
        "exported_at": now.isoformat(),
        "program": cfg.program.name,
        "participant": {
            "id": person.id,
            "names": sorted(person.names),
            "addresses": sorted(person.addresses),
            "in_config": person.configured,
            "config": entry,
        },
        "pairs": [_pair_export(store, m, person) for m in person.memberships],
        "progress_log": log,
        "replies": held.replies,
        "emails_to_them": [
            {k: a.get(k) for k in ("key", "kind", "pair", "role", "to", "status", "done_at")}
            | {"message_id": a.get("message_id")}
            for a in held.emails
        ],
        "coordinator_told_about_their_replies": [
            {k: a.get(k) for k in ("key", "status", "done_at", "message_id")} for a in held.notices
        ],
        "mail_copies": [
            {"folder": folder, "file": path.name, "why": why}
            for folder, path, why in _mail_files(cfg, person, held)
        ],
    }


def _pair_export(store: Store, m: Membership, person: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"pair": m.pair_id, "role": m.role}
    if not store.has_pair_state(m.pair_id):
        return {**out, "state": None}
    state = store.pair_state(m.pair_id).model_dump(mode="json")
    if m.left_at is not None:  # the pair went on with someone else: only their part
        mine = [d for d in state["departed"] if d["member"].get("id") == person.id]
        return {**out, "left_at": m.left_at.isoformat(), "departure": mine}
    per_role = (
        "welcomed",
        "agreement_sent",
        "agreed",
        "declined",
        "heard",
        "away",
        "closure_sent",
        "invited",
        "failing",
    )
    out.update({name: state[name].get(m.role) for name in per_role})
    out.update(
        stage=state["stage"],
        goals=state["goals"],
        meetings=[s for s in [*state["earlier"], state["series"]] if s],
        removed_at=state["removed_at"],
        closing_reason=state["closing_reason"],
    )
    return out


# -- maildir ------------------------------------------------------------------------------


def maildir_root(cfg: Config) -> Path | None:
    """The maildir connector's folder, or None when mail is kept on a server."""
    if cfg.mail.type != "maildir":
        return None
    return cfg.resolve(cfg.mail.options.get("path", "mail"))


def _message_files(root: Path, folders: Iterable[str]) -> Iterator[tuple[str, Path]]:
    for folder in folders:
        for sub in ("new", "cur"):
            where = root / folder / sub
            if not where.is_dir():
                continue
            for path in sorted(where.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    yield folder, path


def _parse(data: bytes) -> Message:
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)


def _message_id(message: Message) -> str:
    return str(message.get("Message-ID", "")).strip().strip("<>")


def _why(data: bytes, person: Person, ids: set[str]) -> str | None:
    """Why a raw message is about `person` (from/to them, a known Message-ID, mentions one
    of their addresses), or None."""
    message = _parse(data)
    headers = [str(v) for h in _ADDRESS_HEADERS for v in message.get_all(h, [])]
    if {a.lower() for _, a in email.utils.getaddresses(headers)} & person.addresses:
        return "from or to them"
    if _message_id(message) in ids:
        return "about their message"
    text = _text(data, message)
    if any(address in text for address in person.addresses):
        return "mentions their address"
    return None


def _text(data: bytes, message: Message | None = None) -> str:
    """The raw message and its decoded parts, lower case, for looking for a string."""
    message = message or _parse(data)
    text = data.decode("utf-8", "replace").lower()
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                text += "\n" + payload.decode(charset, "replace").lower()
            except LookupError:
                text += "\n" + payload.decode("utf-8", "replace").lower()
    return " ".join(text.split())


def _mail_files(cfg: Config, person: Person, held: Holdings) -> list[tuple[str, Path, str]]:
    """Raw messages from, to or about `person`: (folder, file, why). Messages that only
    name them (emails to their partner, digests) come last, as "names them (kept)"."""
    root = maildir_root(cfg)
    if root is None:
        return []
    ids = set(held.server_ids)
    names = [n.lower() for n in person.names if " " in n.strip()]
    found, named = [], []
    for folder, path in _message_files(root, MAIL_FOLDERS):
        data = path.read_bytes()
        why = _why(data, person, ids)
        if why:
            found.append((folder, path, why))
        elif names and any(n in _text(data) for n in names):
            named.append((folder, path, NAMED))
    return found + named


# -- forget -------------------------------------------------------------------------------


@dataclass
class ForgetReport:
    person: Person
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    files: list[tuple[str, Path, str]] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exported: Path | None = None

    def lines(self) -> list[str]:
        who = self.person.label
        addresses = ", ".join(sorted(self.person.addresses)) or "no address known"
        verb = "would remove" if self.dry_run else "removed"
        out = [f"forget {who} ({addresses})" + (" (dry run: nothing is changed)" * self.dry_run)]
        if self.exported:
            out.append(f"  exported to {self.exported}")
        out += [f"  refused without --force: {r}" for r in self.refusals if self.dry_run]
        for what, n in self.counts.items():
            if n:
                out.append(f"  {verb}: {n} {what}")
        for folder, path, why in self.files:
            if why != NAMED:
                out.append(f"  {verb}: {folder}/{path.parent.name}/{path.name} ({why})")
        named = [f for f in self.files if f[2] == NAMED]
        if named:
            out.append(
                f"  kept: {len(named)} message(s) that name them but are not from, to or about "
                "them (emails to their partner, digests); delete them by hand if needed:"
            )
            out += [f"    {folder}/{p.parent.name}/{p.name}" for folder, p, _ in named]
        if self.server_ids:
            out.append(
                "  the mail server keeps its own copies: delete these messages there "
                "(inbox, sent and archive folders, and the coordinator's mailbox):"
            )
            out += [f"    <{mid}>" for mid in self.server_ids]
        out += [f"  note: {n}" for n in self.notes]
        if not any(self.counts.values()) and not self.files:
            out.append("  the state holds nothing about them")
        return out


def forget_participant(
    cfg: Config,
    who: str,
    *,
    export_to: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> ForgetReport:
    """`mentormail forget`: export (optionally) and forget one person. Takes the state's
    lock (a running service must be stopped first); a dry run reads without it."""
    from agent.commands.runtime import state_path

    now = now or datetime.now(cfg.program.timezone)
    path = state_path(cfg)
    if not path.exists():
        raise Refused(f"no state file at {path}: the agent never ran, so it holds nothing")
    store = open_store(path, lock=not dry_run)  # no backups=: the backup would keep them
    try:
        person = identify(cfg, store, who)
        report = ForgetReport(person, dry_run)
        report.refusals = refusals(cfg, store, person, now)
        if report.refusals and not force and not dry_run:
            raise Refused("; ".join(report.refusals))
        held = holdings(store, person)
        if export_to is not None:
            document = export(cfg, store, person, now)
            text = json.dumps(document, indent=2, default=str) + "\n"
            try:
                write_private(export_to, text, cfg.reports.file_mode)
            except OSError as exc:
                raise Refused(
                    f"cannot write the export {export_to}: {exc.strerror}; nothing was forgotten"
                ) from None
            report.exported = export_to
        report.files = _mail_files(cfg, person, held)
        if maildir_root(cfg) is None:
            report.server_ids = held.server_ids
        report.counts = scrub(store, person, held, now=now, force=force)
        if force and not dry_run:
            report.notes += [f"forced although {r}" for r in report.refusals]
        if dry_run:
            report.counts.update(_backup_counts(path, person, held, now))
            return report
        store.flush()
    finally:
        store.close(flush=False)
    report.counts.update(_scrub_backups(path, person, now))
    for _, file, why in report.files:
        if why != NAMED:
            file.unlink(missing_ok=True)
    return report


def refusals(cfg: Config, store: Store, person: Person, now: datetime) -> list[str]:
    """Reasons not to forget `person` yet (each says what to do instead)."""
    out = []
    if person.configured:
        pairs = [m.pair_id for m in person.memberships if m.pair_id in {p.id for p in cfg.pairs}]
        where = f" and pair {', '.join(pairs)}" if pairs else ""
        out.append(
            f"{person.label} is still in the config (participants{where}): the next tick would "
            "write to them again; remove them from the config (or put someone else in their "
            "place), run a tick, then forget them"
        )
        return out
    configured_pairs = {p.id for p in cfg.pairs}
    unapplied = sorted(
        {pair_id for pair_id, _, m in _snapshot_people(store) if m.get("id") == person.id}
    )
    if person.id and unapplied:
        out.append(
            f"their removal from the config was not applied yet (pair {', '.join(unapplied)}): "
            "run `mentormail tick` first, which cancels their meetings and says goodbye "
            "(forced, the pair is dropped without either)"
        )
    pending = _pending_goodbyes(store, person, now, configured_pairs)
    if pending:
        out.append(
            f"emails to them are still due ({', '.join(pending)}): run ticks until they are "
            "sent (forced, they are not sent)"
        )
    return out


def _pending_goodbyes(
    store: Store, person: Person, now: datetime, configured: set[str]
) -> list[str]:
    """Keys of the goodbye emails to `person` the planner still has to send."""
    keys = []
    for state in _pair_states(store):
        if state.pair_id in configured:
            for d in state.departed:
                mine = d.member.id == person.id and d.welcomed and not d.bounced
                if mine and "farewell" not in d.done:
                    keys.append(f"{state.pair_id}: farewell")
            continue
        if state.removed_at is None or state.stage != Stage.CLOSING:
            continue
        roles = {r for r, m in state.members.items() if m.id == person.id}
        for action in plan_removed(state, now):
            member = action.extra.get("member")
            if action.role in roles or getattr(member, "id", None) == person.id:
                record = store.action(action.key) or {}
                settled = record.get("status") == "done" or record.get("attempts", 0) >= (
                    MAX_ATTEMPTS
                )
                if not settled and action.template:
                    keys.append(action.key)
    return keys


def scrub(
    store: Store, person: Person, held: Holdings, *, now: datetime, force: bool = False
) -> dict[str, int]:
    """Remove or anonymise `person` in `store` (in memory; the caller flushes)."""
    ids = held.reply_ids
    # their addresses, and their full names (a first name alone would hit others)
    addresses = person.addresses | {n.lower() for n in person.names if " " in n.strip()}
    their_goals = _their_goals(held)
    counts: dict[str, int] = {}
    if force:  # goodbyes still due to them would go to "[removed]": settle them
        _settle_goodbyes(store, person, now)

    def inbound(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("message_id") in ids:
            record.update({"from": REMOVED, "subject": REMOVED, "text": REMOVED})
            if record.get("reason"):
                record["reason"] = REMOVED
            record["forgotten"] = True
        return _replace_addresses(record, addresses)

    def log(entry: dict[str, Any]) -> dict[str, Any]:
        if entry.get("message_id") in ids:
            entry["text"] = REMOVED
            for key in ("items", "when"):
                entry.pop(key, None)
        return _replace_addresses(entry, addresses)

    def actions(record: dict[str, Any]) -> dict[str, Any]:
        if _lower(record.get("to")) in addresses:
            record["to"] = REMOVED
        return _replace_addresses(record, addresses)

    def pairs(record: dict[str, Any]) -> dict[str, Any]:
        state = record["state"]
        for member in _member_dicts(state):
            if member.get("id") == person.id or _lower(member.get("email")) in addresses:
                member.update(name=REMOVED, email=REMOVED, hours="")
        state["failing"] = {
            role: f
            for role, f in state.get("failing", {}).items()
            if _lower(f.get("address")) not in addresses
        }
        if any(m.pair_id == record["pair_id"] for m in person.memberships):
            state["goals"] = [g for g in state.get("goals", []) if g not in their_goals]
        return _replace_addresses(record, addresses)

    def meta(record: dict[str, Any]) -> dict[str, Any]:
        snapshot = record.get("program_snapshot")
        if isinstance(snapshot, dict) and person.id:
            snapshot["pairs"] = {
                pair_id: people
                for pair_id, people in (snapshot.get("pairs") or {}).items()
                if not any(
                    isinstance(m, dict) and m.get("id") == person.id
                    for m in (people or {}).values()
                )
            }
        return _replace_addresses(record, addresses)

    counts["replies from them (text, subject, sender) or mentioning them"] = store.rewrite(
        "inbound", inbound
    )
    counts["progress-log entries they wrote (text)"] = sum(
        1 for e in store.log() if e.get("message_id") in ids and e.get("text") != REMOVED
    )
    store.rewrite("log", log)
    counts["emails to them (their address in the outbox)"] = store.rewrite("actions", actions)
    counts["pair states mentioning them"] = store.rewrite("pairs", pairs)
    counts["other mentions in the state (config snapshot, tick summary)"] = store.rewrite(
        "meta", meta
    )
    return counts


def _their_goals(held: Holdings) -> set[str]:
    goals: set[str] = set()
    for entry in held.log:
        if entry.get("message_id") in held.reply_ids:
            goals |= {str(g) for g in entry.get("items") or []}
            if entry.get("kind") == "goals" and entry.get("text"):
                goals.add(str(entry["text"]))
    return goals


def _settle_goodbyes(store: Store, person: Person, now: datetime) -> None:
    for state in list(_pair_states(store)):
        if state.removed_at is None or state.stage != Stage.CLOSING:
            continue
        roles = {r for r, m in state.members.items() if m.id == person.id}
        for action in plan_removed(state, now):
            member = action.extra.get("member")
            if action.template and (
                action.role in roles or getattr(member, "id", None) == person.id
            ):
                store.record_action(
                    action.key,
                    status="done",
                    kind=action.kind,
                    pair=action.pair_id,
                    role=action.role,
                    done_at=now,
                    skipped="forgotten",
                )

    def farewells(record: dict[str, Any]) -> dict[str, Any]:
        for departure in record["state"].get("departed", []):
            if departure.get("member", {}).get("id") == person.id:
                departure["done"] = sorted({*departure.get("done", []), "farewell"})
        return record

    store.rewrite("pairs", farewells)


def _member_dicts(state: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (state.get("members") or {}).values()
    for departure in state.get("departed") or []:
        yield departure["member"]
        if departure.get("partner"):
            yield departure["partner"]


def _replace_addresses(value: Any, addresses: set[str]) -> Any:
    """`value` with every occurrence of one of `addresses` (or full names: any string
    given with a space in it) replaced, in any case."""
    if isinstance(value, dict):
        return {k: _replace_addresses(v, addresses) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_addresses(v, addresses) for v in value]
    if isinstance(value, str) and value.strip():
        for address in addresses:
            low = value.lower()
            start = low.find(address)
            while start >= 0:
                value = value[:start] + REMOVED + value[start + len(address) :]
                low = value.lower()
                start = low.find(address, start + len(REMOVED))
    return value


def _backup_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.backup-*"))


def _backup_counts(path: Path, person: Person, held: Holdings, now: datetime) -> dict[str, int]:
    n = 0
    for backup in _backup_files(path):
        with reading(backup) as store:
            n += any(scrub(store, person, holdings(store, person), now=now).values())
    return {"state backups mentioning them (cleaned the same way)": n}


def _scrub_backups(path: Path, person: Person, now: datetime) -> dict[str, int]:
    """The daily backups of the state get the same treatment as the state."""
    n = 0
    for backup in _backup_files(path):
        store = open_store(backup)  # its own lock file, removed below
        try:
            held = holdings(store, person)
            counts = scrub(store, person, held, now=now)
            if any(counts.values()):
                store.flush()
                n += 1
        finally:
            store.close(flush=False)
            backup.with_name(backup.name + ".lock").unlink(missing_ok=True)
    return {"state backups mentioning them (cleaned the same way)": n}


# -- retention ----------------------------------------------------------------------------


def apply_retention(cfg: Config, store: Store, now: datetime) -> tuple[int, int] | None:
    """`storage.keep_messages`: delete old raw copies (maildir processed/ and quarantine/)
    and clear old reply texts in the state; at most once a day (meta `retention_at`).
    Returns (raw copies deleted, texts cleared), or None when it was not due (or not set).
    The caller flushes the store."""
    keep = cfg.storage.keep_messages
    if keep is None:
        return None
    last = store.meta("retention_at")
    if last is not None:
        since = now - datetime.fromisoformat(last)
        if timedelta(0) <= since < RETENTION_EVERY:
            return None
    cutoff = now - keep
    received = {r["message_id"]: _time(r.get("at")) for r in store.inbound_records() if r.get("at")}
    deleted = 0
    root = maildir_root(cfg)
    if root is not None:
        for _, path in _message_files(root, RETENTION_FOLDERS):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if _received(data, path, received) < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1

    def clear(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("text") and _time(record.get("at")) < cutoff:
            record["text"] = None
            record["text_expired"] = True
        return record

    cleared = store.rewrite("inbound", clear)
    store.set_meta("retention_at", now)
    return deleted, cleared


def _received(data: bytes, path: Path, received: dict[str, datetime]) -> datetime:
    """When a message came in: its inbound record, else its Date header, else the file."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    mid = _message_id(headers)
    if mid in received:
        return received[mid]
    try:
        date = email.utils.parsedate_to_datetime(str(headers.get("Date", "")))
        if date.tzinfo is not None:
            return date
    except (TypeError, ValueError):
        pass
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
