"""The program's Microsoft 365 mailbox through Microsoft Graph (`mail: {type: graph}`).

Reading uses the inbox's delta query, so each fetch asks only for what changed:

- The cursor is `v1:` + JSON `{"delta": <@odata.deltaLink>, "pending": [<message ids>]}`.
- The first fetch (no cursor) runs `GET /users/{mailbox}/mailFolders/inbox/messages/delta`
  with `$select=id,receivedDateTime`, `$filter=receivedDateTime ge <since>` (mail from
  before the program is left alone, as with IMAP) and `Prefer: odata.maxpagesize`,
  following @odata.nextLink to the @odata.deltaLink. Later fetches GET that deltaLink.
- Entries marked `@removed` (moved or deleted) are dropped. The MIME of each message
  comes from `GET /users/{mailbox}/messages/{id}/$value`; new messages are returned
  oldest first by receivedDateTime.
- Messages handed out but not marked handled yet (a crash came between) are kept in
  `pending` and returned again, first, while they are still there: a message that moved
  away (its id then answers 404, or the delta reports it `@removed`) is simply gone.
- An expired delta token (410 Gone, SyncStateNotFound, resyncRequired) starts over
  with a full read and a warning; the agent recognises processed messages by
  Message-ID.

`mark_handled` moves a message with `POST /users/{mailbox}/messages/{id}/move` into the
processed or quarantine folder, child folders of the inbox found by display name or
created on first use (their ids are cached). A message that is gone already (404) counts
as moved.

`send` posts the MIME text, base64-encoded, to `POST /users/{mailbox}/sendMail` with
`Content-Type: text/plain` (Graph's MIME send); Exchange keeps the Message-ID and saves
a copy in Sent Items, where `was_sent` looks for it by `internetMessageId`. Sent Items
can lag a moment behind, so message ids sent by this process are also remembered.
A 400 about recipients (ErrorInvalidRecipients) raises DeliveryRefused. A 504 to sendMail
is not retried: the message may have gone out, and the executor's `was_sent` check
decides on the next tick.

Errors are ConnectorErrors on one line, `Microsoft Graph <mailbox>: <what failed>:
<status> <code>: <message>`, never with a token or secret (connectors.graph_http).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from email.message import EmailMessage
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from connectors.base import ConnectorError, DeliveryRefused, Outcome, RawMessage
from connectors.graph_http import (
    GraphClient,
    GraphError,
    GraphOptions,
    odata_quote,
    path_id,
    short_id,
    utc_text,
)

if TYPE_CHECKING:
    from agent.config.model import Config

log = logging.getLogger(__name__)

CURSOR_PREFIX = "v1:"
RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
REFUSED_CODES = frozenset({"ErrorInvalidRecipients", "ErrorRecipientNotFound"})
SEND_RETRY = frozenset({429, 503})  # a 504 may come after the message went out


@dataclass
class _Cursor:
    delta: str | None
    pending: list[str]

    def text(self) -> str:
        return CURSOR_PREFIX + json.dumps({"delta": self.delta, "pending": self.pending})

    @classmethod
    def parse(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            if not text.startswith(CURSOR_PREFIX):
                raise ValueError("unknown version")
            data = json.loads(text[len(CURSOR_PREFIX) :])
            delta, pending = data.get("delta"), data.get("pending", [])
            if (delta is not None and not isinstance(delta, str)) or not isinstance(pending, list):
                raise ValueError("unexpected fields")
            return cls(delta, [str(p) for p in pending])
        except (ValueError, AttributeError):
            log.warning("ignoring an unreadable mailbox cursor %r: reading the inbox again", text)
            return None


@dataclass(frozen=True)
class _Change:
    id: str
    received: str  # ISO text as Graph sends it; sorts chronologically
    removed: bool


class GraphMailbox:
    """The program mailbox in Exchange Online (see the module docstring)."""

    # Exchange Online: 30 messages a minute, 10,000 recipients a day (one each here)
    send_limits = (30, 10000)

    class Options(GraphOptions):
        model_config = ConfigDict(extra="forbid")
        processed_folder: str = Field(default="mentormail-processed", min_length=1)
        quarantine_folder: str = Field(default="mentormail-quarantine", min_length=1)
        since: date | None = None  # default: start - onboarding.before_start - 1 day
        page_size: int = Field(default=50, ge=1, le=1000)  # Prefer: odata.maxpagesize

    def __init__(
        self, options: Options, config: Config, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.options = options
        self.client = GraphClient(options, config, sleep=sleep)
        program = config.program
        self.since: date = options.since or (
            program.start - config.cadence.onboarding.before_start - timedelta(days=1)
        )
        self._folders: dict[str, str] = {}  # display name -> folder id
        self._moved: set[str] = set()  # ids moved out by this process
        self._sent_ids: set[str] = set()

    @property
    def where(self) -> str:
        return self.client.where

    # -- reading ------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        state = _Cursor.parse(cursor)
        pending = state.pending if state else []
        found: tuple[list[_Change], str] | None = None
        if state is not None and state.delta:
            try:
                found = self._changes(state.delta, None)
            except GraphError as exc:
                if exc.status != 410 and exc.code.lower() not in RESYNC_CODES:
                    raise
                log.warning(
                    "%s: the inbox's delta token is no longer valid (%s); reading the whole "
                    "inbox since %s again (processed messages are recognised by Message-ID)",
                    self.where,
                    exc.detail,
                    self.since,
                )
        if found is None:
            found = self._changes(
                self.client.user_path("/mailFolders/inbox/messages/delta"),
                {
                    "$select": "id,receivedDateTime",
                    "$filter": f"receivedDateTime ge {utc_text(_midnight(self.since))}",
                },
            )
        changes, delta = found
        removed = {c.id for c in changes if c.removed}
        skip = removed | self._moved
        order: list[str] = [i for i in dict.fromkeys(pending) if i not in skip]
        added = sorted(
            ((c.received, n, c.id) for n, c in enumerate(changes) if not c.removed),
        )
        for _, _, message_id in added:
            if message_id not in skip and message_id not in order:
                order.append(message_id)
        messages = []
        for message_id in order:
            data = self._mime(message_id)
            if data is not None:
                messages.append(RawMessage(message_id, data))
        self._moved &= set(pending)  # only ids of the cursor passed in can come back
        if messages:
            log.info("%s: %d message(s) to handle in the inbox", self.where, len(messages))
        return messages, _Cursor(delta, [m.ref for m in messages]).text()

    def _changes(self, target: str, params: dict[str, str] | None) -> tuple[list[_Change], str]:
        """Every entry of one delta round, and the deltaLink that ends it."""
        headers = {"Prefer": f"odata.maxpagesize={self.options.page_size}"}
        changes: list[_Change] = []
        what = "reading the inbox (delta query)"
        url: str | None = target
        query = params
        while url:
            body = self.client.get(url, what, params=query, headers=headers)
            for entry in body.get("value", []):
                if isinstance(entry, dict) and entry.get("id"):
                    changes.append(
                        _Change(
                            str(entry["id"]),
                            str(entry.get("receivedDateTime") or ""),
                            "@removed" in entry,
                        )
                    )
            next_link, delta = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
            if delta:
                return changes, str(delta)
            if not next_link:
                raise self.client.error(what, "unreadable answer: neither nextLink nor deltaLink")
            url, query = str(next_link), None
        raise AssertionError("unreachable")  # pragma: no cover

    def _mime(self, message_id: str) -> bytes | None:
        """The message's MIME text; None when it is not there any more."""
        what = f"reading message {short_id(message_id)}"
        try:
            response = self.client.request(
                "GET", self.client.user_path(f"/messages/{path_id(message_id)}/$value"), what
            )
        except GraphError as exc:
            if exc.status == 404:
                log.debug("%s: message %s is gone", self.where, short_id(message_id))
                return None
            raise
        return bytes(response.content)

    # -- folders ------------------------------------------------------------------------

    def _folder_id(self, name: str, *, create: bool = True) -> str | None:
        """The id of the inbox's child folder `name`, created when missing."""
        if name in self._folders:
            return self._folders[name]
        path = self.client.user_path("/mailFolders/inbox/childFolders")
        what = f"looking for the folder {name!r}"
        params = {"$filter": f"displayName eq '{odata_quote(name)}'", "$select": "id,displayName"}
        for attempt in range(2):
            for page in self.client.pages(path, what, params=params):
                for folder in page.get("value", []):
                    if str(folder.get("displayName", "")).lower() == name.lower():
                        self._folders[name] = str(folder["id"])
                        return self._folders[name]
            if not create or attempt:
                break
            try:
                created = self.client.json(
                    self.client.request(
                        "POST", path, f"creating the folder {name!r}", json={"displayName": name}
                    ),
                    f"creating the folder {name!r}",
                )
            except GraphError as exc:
                if exc.status != 409:  # ErrorFolderExists: made meanwhile, look again
                    raise
                continue
            log.info("%s: created the folder %s under the inbox", self.where, name)
            self._folders[name] = str(created["id"])
            return self._folders[name]
        if create:
            raise self.client.error(what, "the folder exists but cannot be found")
        return None

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        name = (
            self.options.processed_folder
            if outcome == "processed"
            else self.options.quarantine_folder
        )
        folder = self._folder_id(name)
        what = f"moving message {short_id(ref)} to {name}"
        try:
            self.client.request(
                "POST",
                self.client.user_path(f"/messages/{path_id(ref)}/move"),
                what,
                json={"destinationId": folder},
            )
        except GraphError as exc:
            if exc.status != 404:
                raise
            log.info("%s: message %s was moved already", self.where, short_id(ref))
        self._moved.add(ref)

    # -- sending ------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        from connectors.smtp import envelope  # ssl and smtplib: not for `validate`

        message_id = str(message.get("Message-ID", "")).strip().strip("<>")
        _, recipients = envelope(message)  # ConnectorError without From or recipients
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        what = f"sending <{message_id}>"
        try:
            self.client.request(
                "POST",
                self.client.user_path("/sendMail"),
                what,
                data=base64.b64encode(data),
                headers={"Content-Type": "text/plain"},
                retry_statuses=SEND_RETRY,
            )
        except GraphError as exc:
            if exc.code in REFUSED_CODES:
                named = [r for r in recipients if r.lower() in exc.detail.lower()]
                raise DeliveryRefused(named or recipients, exc.detail) from None
            if exc.status == 504:
                raise ConnectorError(
                    f"{exc} (the message <{message_id}> may have been sent; the next attempt "
                    "looks in Sent Items first)"
                ) from None
            raise
        if message_id:
            self._sent_ids.add(message_id)

    def was_sent(self, message_id: str) -> bool:
        message_id = message_id.strip().strip("<>")
        if message_id in self._sent_ids:
            return True
        body = self.client.get(
            self.client.user_path("/mailFolders/sentitems/messages"),
            f"looking for <{message_id}> in Sent Items",
            params={
                "$filter": f"internetMessageId eq '<{odata_quote(message_id)}>'",
                "$select": "id,internetMessageId",
                "$top": "1",
            },
        )
        found = bool(body.get("value"))
        if found:
            self._sent_ids.add(message_id)
        return found

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Token, inbox, the two folders and Sent Items; nothing is sent. Never raises."""
        lines: list[tuple[str, bool, str]] = []
        options = self.options
        try:
            self.client.token()
        except Exception as exc:
            return [("graph token", False, self.client.scrub(str(exc)))]
        lines.append(
            ("graph token", True, f"app {options.client_id} in tenant {options.tenant_id}")
        )
        steps: list[tuple[str, Callable[[], str]]] = [
            ("graph inbox", self._check_inbox),
            ("graph processed_folder", lambda: self._check_folder(options.processed_folder)),
            ("graph quarantine_folder", lambda: self._check_folder(options.quarantine_folder)),
            ("graph sent items", self._check_sent),
        ]
        for what, step in steps:
            try:
                lines.append((what, True, step()))
            except Exception as exc:  # check() reports, it never raises
                lines.append((what, False, self.client.scrub(str(exc))))
        return lines

    def _check_inbox(self) -> str:
        body = self.client.get(
            self.client.user_path("/mailFolders/inbox"),
            "reading the inbox",
            params={"$select": "displayName,totalItemCount,unreadItemCount"},
        )
        return f"{self.where}: {body.get('totalItemCount', '?')} message(s) in the inbox"

    def _check_folder(self, name: str) -> str:
        existed = self._folder_id(name, create=False) is not None
        self._folder_id(name)
        return f"{name} {'exists' if existed else 'created'} under the inbox"

    def _check_sent(self) -> str:
        self.client.get(
            self.client.user_path("/mailFolders/sentitems"),
            "reading Sent Items",
            params={"$select": "id,totalItemCount"},
        )
        return "readable (was_sent looks there); Mail.Send is only tested by sending"

    def close(self) -> None:
        self.client.close()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, clock(), tzinfo=UTC)
