"""The program's mailbox on an on-premises Exchange Server, over EWS (`type: exchange`).

The connection (login, TLS, retry policy, error messages) is `connectors.exchange.Ews`.

Reading (`fetch`, `mark_handled`):

- The cursor is `v1:` + JSON `{"sync_state": ..., "pending": [item ids]}`. `fetch(None)`
  synchronises the inbox from scratch (SyncFolderItems without a state: every message in
  it, of which those received before `since` are left alone, as the IMAP connector does;
  by default since = start - onboarding.before_start - 1 day); `fetch(cursor)` asks only
  for what changed since the stored state. The ids handed
  out last time and not moved away since (`pending`) come back too, so a message fetched
  but never marked handled is not lost; one that is gone (ErrorItemNotFound, or no longer
  in the inbox) is dropped. A sync state the server no longer accepts
  (ErrorInvalidSyncStateData) means a full resync, with a warning; the agent recognises
  what it already processed by Message-ID.
- Bodies are the MIME content (GetItem, 25 items per request), oldest first by
  DateTimeReceived. `RawMessage.ref` is the EWS item id (MoveItem needs no ChangeKey).
- `mark_handled` moves the item (MoveItem) into the processed or quarantine folder, a
  folder under the inbox (`a/b` for deeper levels), found with FindFolder and created
  (CreateFolder) on first use. The moves of one fetch go out together, one MoveItem per
  folder, when the last of its messages is marked; else at the next fetch or on close. An
  item that is already gone counts as moved; a failed move leaves the message in the
  inbox, where the next fetch finds it again.

Sending (`send`, `was_sent`): the message goes out as its MIME text (CreateItem with
MessageDisposition SendAndSaveCopy, the copy in Sent Items), so Message-ID, In-Reply-To and
the multipart body stay exactly as the agent built them; Exchange reads the recipients from
To, Cc and Bcc. ErrorInvalidRecipients is a DeliveryRefused for the message's recipients;
ErrorSendAsDenied says which permission is missing. `was_sent` looks for the Message-ID in
Sent Items (FindItem restricted on InternetMessageId), after the Message-IDs this process
already sent.

`check()` reports the login, the inbox, both folders (created if missing), Sent Items and
the calendar folder, without sending anything.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from connectors.base import ConnectorError, DeliveryRefused, Outcome, RawMessage
from connectors.exchange import (
    GONE,
    Ews,
    ExchangeOptions,
    code_of,
    describe,
    one_line,
    reported,
    utc,
)
from connectors.moves import MoveQueue

if TYPE_CHECKING:
    from agent.config.model import Config

log = logging.getLogger(__name__)

CURSOR_VERSION = "v1"
GET_BATCH = 25  # items per GetItem when fetching MIME content
MOVE_BATCH = 500  # handled messages queued at most before they are moved


class MailCursor:
    """Where reading stands: the inbox's sync state and the item ids handed out last time."""

    def __init__(self, sync_state: str | None, pending: list[str]) -> None:
        self.sync_state, self.pending = sync_state, pending

    def __str__(self) -> str:
        data = {"sync_state": self.sync_state, "pending": self.pending}
        return f"{CURSOR_VERSION}:{json.dumps(data, separators=(',', ':'))}"

    @classmethod
    def parse(cls, text: str | None) -> MailCursor:
        if not text:
            return cls(None, [])
        try:
            version, _, body = text.partition(":")
            if version != CURSOR_VERSION:
                raise ValueError(version)
            data = json.loads(body)
            state = data.get("sync_state")
            pending = [str(i) for i in data.get("pending", [])]
            if state is not None and not isinstance(state, str):
                raise ValueError("sync_state")
            return cls(state, pending)
        except (ValueError, AttributeError):
            log.warning("ignoring an unreadable Exchange mailbox cursor: reading the whole inbox")
            return cls(None, [])


class ExchangeMailbox:
    """The program's mailbox on Exchange Server (see the module docstring)."""

    # Exchange Server's default MessageRateLimit for mailboxes is 30 a minute; no daily cap
    send_limits = (30, None)

    class Options(ExchangeOptions):
        processed_folder: str = "mentormail processed"  # under the inbox; `a/b` nests
        quarantine_folder: str = "mentormail quarantine"
        since: date | None = None  # default: start - onboarding.before_start - 1 day

    def __init__(self, options: Options, config: Config) -> None:
        self.options = options
        self.ews = Ews(options, config)
        program = config.program
        since = options.since or (
            program.start - config.cadence.onboarding.before_start - timedelta(days=1)
        )
        self.since = datetime.combine(since, time(), tzinfo=UTC)
        self._folders: dict[str, Any] = {}  # config folder name -> exchangelib folder
        self._folders_of: Any = None  # the exchangelib Account those folders belong to
        self._sent_ids: set[str] = set()
        self._moves: MoveQueue[str] = MoveQueue(MOVE_BATCH)

    @property
    def where(self) -> str:
        return self.ews.where

    # -- reading ------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        if self._moves.queued:
            try:
                self._flush()
            except ConnectorError as exc:  # they are still in the inbox: this fetch returns them
                log.warning("%s", exc)
        previous = MailCursor.parse(cursor)
        account = self.ews.account()
        inbox = self.ews.call("opening the inbox", lambda: account.inbox)
        try:
            state, created, gone = self._changes(inbox, previous.sync_state)
        except _InvalidSyncState as exc:
            log.warning(
                "%s: the server no longer accepts the inbox's sync state (%s); reading the "
                "whole inbox again (already processed messages are recognised by Message-ID)",
                self.where,
                exc,
            )
            state, created, gone = self._changes(inbox, None)
        wanted = [i for i in previous.pending if i not in gone]
        wanted += [i for i in created if i not in set(wanted)]
        messages = self._bodies(account, inbox, wanted)
        if messages:
            log.info("%s: %d message(s) to handle in the inbox", self.where, len(messages))
        refs = [m.ref for m in messages]
        self._moves.fetched(refs)
        return messages, str(MailCursor(state, refs))

    def _changes(
        self, inbox: Any, sync_state: str | None
    ) -> tuple[str | None, list[str], set[str]]:
        """SyncFolderItems from `sync_state` (None: everything): new state, created, deleted."""
        created: list[str] = []
        gone: set[str] = set()

        def sync() -> str | None:
            inbox.item_sync_state = sync_state  # exchangelib resumes from the folder's own
            changes = inbox.sync_items(sync_state=sync_state, only_fields=["datetime_received"])
            for change, item in changes:
                if change == "create":
                    received = item.datetime_received
                    if sync_state is None and received is not None and utc(received) < self.since:
                        continue  # mail from before the program is left alone
                    created.append(item.id)
                elif change == "delete":
                    gone.add(item.id)
            return inbox.item_sync_state or None

        try:
            state = self.ews.call("synchronising the inbox", sync)
        except ConnectorError as exc:
            if sync_state is not None and "ErrorInvalidSyncStateData" in str(exc):
                raise _InvalidSyncState(str(exc)) from None
            raise
        return state, created, gone

    def _bodies(self, account: Any, inbox: Any, ids: list[str]) -> list[RawMessage]:
        """MIME content of `ids` still in the inbox, oldest first; the others are skipped."""
        from exchangelib import ItemId

        found: list[tuple[datetime, int, RawMessage]] = []
        for start in range(0, len(ids), GET_BATCH):
            batch = ids[start : start + GET_BATCH]

            def get(batch: list[str] = batch) -> list[Any]:
                return list(
                    account.fetch(
                        ids=[ItemId(id=i) for i in batch],
                        only_fields=["mime_content", "datetime_received", "parent_folder_id"],
                        chunk_size=GET_BATCH,
                    )
                )

            items = self.ews.call(f"reading {len(batch)} message(s)", get)
            for position, (ref, item) in enumerate(zip(batch, items, strict=True)):
                if isinstance(item, Exception):
                    if code_of(item) not in GONE:
                        raise self.ews.error(f"reading message {ref}", describe(item, ""))
                    continue  # moved or deleted meanwhile
                parent = getattr(item.parent_folder_id, "id", None)
                if parent is not None and parent != inbox.id:
                    continue
                if not item.mime_content:
                    log.warning("%s: message %s has no MIME content; skipped", self.where, ref)
                    continue
                received = item.datetime_received or datetime.max.replace(tzinfo=UTC)
                found.append(
                    (received, start + position, RawMessage(ref, bytes(item.mime_content)))
                )
        return [message for _, _, message in sorted(found, key=lambda f: (f[0], f[1]))]

    # -- moving -------------------------------------------------------------------------

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        """Queue the move; the moves of one fetch go out when its last message is marked."""
        target = (
            self.options.processed_folder
            if outcome == "processed"
            else self.options.quarantine_folder
        )
        if self._moves.add(ref, target):
            self._flush()

    def _flush(self) -> None:
        """MoveItem for everything queued, one request per target folder."""
        from exchangelib import ItemId

        queue = self._moves.take()
        account = self.ews.account() if queue else None
        failed: list[str] = []
        problems: list[str] = []
        for name, refs in queue.items():
            try:
                folder = self._folder(name)
                results = self.ews.call(
                    f"moving {len(refs)} handled message(s) to {name!r}",
                    lambda refs=refs, folder=folder: list(
                        account.bulk_move(ids=[ItemId(id=r) for r in refs], to_folder=folder)
                    ),
                )
            except ConnectorError as exc:
                failed += refs
                problems.append(str(exc))
                continue
            for ref, result in zip(refs, results, strict=False):
                if isinstance(result, Exception) and code_of(result) not in GONE:
                    failed.append(ref)
                    problems.append(describe(result, ""))
        if failed:
            raise ConnectorError(
                self.ews.scrub(
                    one_line(
                        f"{self.where}: moving handled message(s) failed ({'; '.join(problems)}); "
                        f"{len(failed)} message(s) stay in the inbox and will be read again"
                    )
                )
            )

    def _folder(self, name: str) -> Any:
        """The folder `name` under the inbox (`a/b`: nested), created if missing."""
        account = self.ews.account()
        if self._folders_of is not account:  # logged in again: folders of the old login
            self._folders, self._folders_of = {}, account
        if name not in self._folders:
            folder = self.ews.call("opening the inbox", lambda: account.inbox)
            for part in filter(None, name.split("/")):
                folder = self._child(account, folder, part)
            self._folders[name] = folder
        return self._folders[name]

    def _child(self, account: Any, parent: Any, name: str) -> Any:
        from exchangelib.errors import ErrorFolderExists, ErrorFolderNotFound
        from exchangelib.folders import Folder
        from exchangelib.services import CreateFolder

        def find() -> Any:
            return parent // name  # FindFolder, shallow, on DisplayName

        def create() -> Any:
            try:
                return find()
            except ErrorFolderNotFound:
                pass
            log.info("%s: creating the folder %r under the inbox", self.where, name)
            try:
                # CreateFolder directly: Folder.save() would first load the whole folder tree
                return CreateFolder(account=account).get(
                    parent_folder=parent, folders=[Folder(parent=parent, name=name)]
                )
            except ErrorFolderExists:  # created by someone else meanwhile
                return find()

        return self.ews.call(f"finding or creating the folder {name!r}", create)

    # -- sending ------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        """CreateItem SendAndSaveCopy with the message's MIME text, copy in Sent Items."""
        from exchangelib import Message

        from connectors.smtp import envelope  # ssl and smtplib: not for `validate`

        message_id = str(message.get("Message-ID", "")).strip().strip("<>")
        _, recipients = envelope(message)  # ConnectorError without From or recipients
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        account = self.ews.account()

        def send() -> None:
            Message(
                account=account, folder=account.sent, mime_content=data, is_read=True
            ).send_and_save()

        try:
            self.ews.call(f"sending <{message_id}>", send)
        except ConnectorError as exc:
            if ": ErrorInvalidRecipients:" in str(exc):
                reply = str(exc).split(": ErrorInvalidRecipients:", 1)[1].strip()
                raise DeliveryRefused(recipients, f"ErrorInvalidRecipients: {reply}") from None
            if ": ErrorSendAsDenied:" in str(exc):
                raise ConnectorError(
                    f"{exc} (the login may not send as {self.ews.mailbox}: grant it Send As "
                    "on that mailbox, or use access: impersonation)"
                ) from None
            raise
        if message_id:
            self._sent_ids.add(message_id)

    def was_sent(self, message_id: str) -> bool:
        message_id = message_id.strip().strip("<>")
        if message_id in self._sent_ids:
            return True
        account = self.ews.account()
        found = self.ews.call(
            "searching Sent Items",
            lambda: account.sent.filter(message_id=f"<{message_id}>").exists(),
        )
        if found:
            self._sent_ids.add(message_id)
        return bool(found)

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Login, inbox, both folders (created if missing), Sent Items, calendar; never raises."""
        login = self.ews.check_login()
        lines = [login]
        if not login[1]:
            return lines
        account = self.ews.account()
        with reported(lines, "exchange inbox", self.ews):
            inbox = self.ews.call("opening the inbox", lambda: account.inbox.refresh())
            lines.append(("exchange inbox", True, f"{inbox.total_count} message(s) in it"))
        for key in ("processed_folder", "quarantine_folder"):
            with reported(lines, f"exchange {key}", self.ews):
                name = getattr(self.options, key)
                self._folder(name)
                lines.append((f"exchange {key}", True, f"{name!r} under the inbox"))
        with reported(lines, "exchange sent items", self.ews):
            self.ews.call("opening Sent Items", lambda: account.sent)
            lines.append(("exchange sent items", True, "readable (was_sent looks there)"))
        with reported(lines, "exchange calendar", self.ews):
            self.ews.call("opening the calendar", lambda: account.calendar)
            lines.append(("exchange calendar", True, "readable"))
        return lines

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Move what is still queued and close the HTTP sessions; never raises."""
        try:
            self._flush()
        except ConnectorError as exc:
            log.warning("%s", exc)
        self._folders.clear()
        self.ews.close()


class _InvalidSyncState(Exception):
    pass
