"""The program's mailbox in Gmail (Google Workspace), through the Gmail API.

Reading is incremental and never loses a message:

- The cursor is `v1:` + JSON `{"historyId": ..., "pending": [message ids]}`.
- Without a cursor (the first fetch, or one that cannot be read), a full sync: the
  mailbox's historyId is taken first (users.getProfile), then every message in INBOX that
  arrived after `since` is listed (messages.list, all pages). Taking the historyId first
  means a message arriving during the listing is in both, never in neither.
- With a cursor, only what happened since: users.history.list from its historyId, all
  pages, for messages added to INBOX (new mail, and mail moved back into the inbox). A
  404 means Gmail no longer has history that old (it keeps about a week): a full sync
  again, with a warning; the agent recognises what it already processed by Message-ID.
- Messages handed out last time (`pending`) are returned again while they are still in
  INBOX: `mark_handled` may never have run (a crash) or failed.
- Bodies come as `format=raw` in batch requests of at most 50, and are returned oldest
  first (by Gmail's internalDate). A message deleted meanwhile is simply absent.

`mark_handled` removes the INBOX label and adds `processed_label` or `quarantine_label`
(created on first use; label ids are cached). A message that is already gone is not an
error.

`send` hands the message as it is (its Message-ID kept) to messages.send; Gmail delivers
it and files it under SENT, where `was_sent` looks for it by Message-ID (the search
operator rfc822msgid: with in:sent). A 400 answer naming an invalid recipient header is a
DeliveryRefused for the message's recipients; anything else a ConnectorError. Gmail sends
as the mailbox's own address unless the program's sender address is one of its send-as
aliases; `check` says which. Accepted risk: a send whose answer is lost (a 5xx after Gmail
accepted it) is retried by the library and may go out twice.

Errors are one-line ConnectorErrors such as `Gmail mentoring@example.org: sending
<id@host>: 403 Delegation denied for mentoring@example.org`, without keys or tokens.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

from connectors.base import ConnectorError, DeliveryRefused, Outcome, RawMessage
from connectors.google_auth import GMAIL_SCOPES, GoogleApi, GoogleApiError, GoogleOptions

if TYPE_CHECKING:
    from agent.config.model import Config

log = logging.getLogger(__name__)

CURSOR_VERSION = "v1"
INBOX = "INBOX"
LIST_PAGE = 500  # messages.list / history.list maxResults (the API's maximum)
RECIPIENT_ERRORS = (
    "invalid to header",
    "invalid cc header",
    "invalid bcc header",
    "recipient address required",
    "invalid recipient",
)


class Cursor:
    """Where reading stands: the mailbox's historyId, and the ids handed out last time."""

    def __init__(self, history_id: str, pending: list[str]) -> None:
        self.history_id, self.pending = history_id, pending

    def __str__(self) -> str:
        data = {"historyId": self.history_id, "pending": self.pending}
        return f"{CURSOR_VERSION}:{json.dumps(data, separators=(',', ':'))}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        version, _, rest = text.partition(":")
        try:
            if version != CURSOR_VERSION:
                raise ValueError(version)
            data = json.loads(rest)
            history_id = str(data["historyId"])
            pending = [str(p) for p in data.get("pending", [])]
            if not history_id.isdigit():
                raise ValueError(history_id)
            return cls(history_id, pending)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring an unreadable Gmail cursor %r: reading the inbox again", text)
            return None


def _decode_raw(raw: str) -> bytes:
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


class GoogleMailbox:
    """The program's Gmail mailbox (see the module docstring for the exact behaviour)."""

    # Google Workspace: 2,000 messages a day per user; a minute's burst kept modest
    send_limits = (60, 2000)

    class Options(GoogleOptions):
        model_config = ConfigDict(extra="forbid")
        processed_label: str = "mentormail/processed"
        quarantine_label: str = "mentormail/quarantine"
        since: date | None = None  # default: start - onboarding.before_start - 1 day

    def __init__(self, options: Options, config: Config, *, transport: Any = None) -> None:
        self.options = options
        self.api = GoogleApi(
            product="Gmail",
            api="gmail",
            version="v1",
            scopes=GMAIL_SCOPES,
            options=options,
            config=config,
            transport=transport,
        )
        program = config.program
        self.since: date = options.since or (
            program.start - config.cadence.onboarding.before_start - timedelta(days=1)
        )
        self.sender_address = program.sender.email
        self._labels: dict[str, str] = {}  # label name -> id
        self._sent_ids: set[str] = set()

    @property
    def where(self) -> str:
        return self.api.where

    # -- reading ------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        previous = Cursor.parse(cursor)
        if previous is None:
            return self._full_sync()
        try:
            added, history_id = self._history(previous.history_id)
        except GoogleApiError as exc:
            if exc.status != 404:
                raise
            log.warning(
                "%s: Gmail has no history back to %s any more (%s); reading the whole inbox "
                "again (already processed messages are recognised by Message-ID)",
                self.where,
                previous.history_id,
                exc,
            )
            return self._full_sync()
        messages = self._bodies(list(dict.fromkeys([*previous.pending, *added])))
        return messages, str(Cursor(history_id, [m.ref for m in messages]))

    def _full_sync(self) -> tuple[list[RawMessage], str | None]:
        profile = self.api.call(
            "reading the mailbox profile", lambda s: s.users().getProfile(userId="me")
        )
        history_id = str(profile["historyId"])
        after = int(datetime.combine(self.since, time(), tzinfo=UTC).timestamp())
        ids: list[str] = []
        for page in self.api.pages(
            "listing the inbox",
            lambda s, token: (
                s.users()
                .messages()
                .list(
                    userId="me",
                    labelIds=[INBOX],
                    q=f"after:{after}",
                    maxResults=LIST_PAGE,
                    pageToken=token,
                )
            ),
        ):
            ids += [m["id"] for m in page.get("messages", [])]
        messages = self._bodies(list(dict.fromkeys(ids)))
        return messages, str(Cursor(history_id, [m.ref for m in messages]))

    def _history(self, start: str) -> tuple[list[str], str]:
        """Ids of messages added to INBOX since `start`, and the mailbox's historyId now."""
        ids: list[str] = []
        latest = start
        for page in self.api.pages(
            f"reading the mailbox history since {start}",
            lambda s, token: (
                s.users()
                .history()
                .list(
                    userId="me",
                    startHistoryId=start,
                    historyTypes=["messageAdded", "labelAdded"],
                    labelId=INBOX,
                    maxResults=LIST_PAGE,
                    pageToken=token,
                )
            ),
        ):
            latest = str(page.get("historyId", latest))
            for record in page.get("history", []):
                for added in record.get("messagesAdded", []):
                    ids.append(added["message"]["id"])
                for labelled in record.get("labelsAdded", []):
                    if INBOX in labelled.get("labelIds", []):
                        ids.append(labelled["message"]["id"])
        return ids, latest

    def _bodies(self, ids: list[str]) -> list[RawMessage]:
        """The raw messages of `ids` still in INBOX, oldest first."""
        if not ids:
            return []
        results = self.api.batch(
            "reading messages",
            [
                (
                    mid,
                    lambda s, mid=mid: s.users().messages().get(userId="me", id=mid, format="raw"),
                )
                for mid in ids
            ],
        )
        found: list[tuple[int, str, bytes]] = []
        for mid in ids:
            result = results[mid]
            if isinstance(result, GoogleApiError):
                if result.status in (404, 410):
                    continue  # deleted meanwhile
                raise result
            if INBOX not in result.get("labelIds", []) or "raw" not in result:
                continue  # handled (or moved away) meanwhile
            found.append((int(result.get("internalDate", 0)), mid, _decode_raw(result["raw"])))
        found.sort(key=lambda item: (item[0], item[1]))
        if found:
            log.info("%s: %d message(s) to handle in INBOX", self.where, len(found))
        return [RawMessage(mid, data) for _, mid, data in found]

    # -- labels -------------------------------------------------------------------------

    def _label_id(self, name: str) -> str:
        """The id of the user label `name`, created when it does not exist yet."""
        if name not in self._labels:
            self._load_labels()
        if name not in self._labels:
            log.info("%s: creating the label %s", self.where, name)
            try:
                label = self.api.call(
                    f"creating the label {name}",
                    lambda s: (
                        s.users()
                        .labels()
                        .create(
                            userId="me",
                            body={
                                "name": name,
                                "labelListVisibility": "labelShow",
                                "messageListVisibility": "show",
                            },
                        )
                    ),
                )
                self._labels[name] = label["id"]
            except GoogleApiError as exc:
                if exc.status != 409:  # created by someone else meanwhile
                    raise
                self._load_labels()
                if name not in self._labels:
                    raise
        return self._labels[name]

    def _load_labels(self) -> None:
        listing = self.api.call("listing labels", lambda s: s.users().labels().list(userId="me"))
        self._labels.update({label["name"]: label["id"] for label in listing.get("labels", [])})

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        """Take the message out of INBOX and give it the processed or quarantine label."""
        options = self.options
        name = options.processed_label if outcome == "processed" else options.quarantine_label
        label = self._label_id(name)
        try:
            self.api.call(
                f"moving message {ref} to {name}",
                lambda s: (
                    s.users()
                    .messages()
                    .modify(
                        userId="me",
                        id=ref,
                        body={"addLabelIds": [label], "removeLabelIds": [INBOX]},
                    )
                ),
            )
        except GoogleApiError as exc:
            if exc.status not in (404, 410):
                raise
            log.info("%s: message %s is gone already; nothing to move", self.where, ref)

    # -- sending ------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        import email.policy

        from connectors.smtp import envelope  # ssl and smtplib: not for `validate`

        _, recipients = envelope(message)  # ConnectorError without From or recipients
        message_id = str(message.get("Message-ID", "")).strip().strip("<>")
        data = message.as_bytes(policy=email.policy.SMTP)
        raw = base64.urlsafe_b64encode(data).decode("ascii")
        what = f"sending <{message_id}>" if message_id else "sending a message"
        try:
            self.api.call(what, lambda s: s.users().messages().send(userId="me", body={"raw": raw}))
        except GoogleApiError as exc:
            if exc.status == 400 and any(e in exc.api_message.lower() for e in RECIPIENT_ERRORS):
                raise DeliveryRefused(recipients, exc.api_message or str(exc)) from None
            raise
        if message_id:
            self._sent_ids.add(message_id)

    def was_sent(self, message_id: str) -> bool:
        message_id = message_id.strip().strip("<>")
        if message_id in self._sent_ids:
            return True
        found = self.api.call(
            f"looking for <{message_id}> in Sent",
            lambda s: (
                s.users()
                .messages()
                .list(
                    userId="me",
                    q=f"rfc822msgid:{message_id} in:sent",
                    includeSpamTrash=True,
                    maxResults=1,
                )
            ),
        )
        if found.get("messages"):
            self._sent_ids.add(message_id)
            return True
        return False

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Sign-in, the sender address, the labels; never raises, changes nothing."""
        lines: list[tuple[str, bool, str]] = []
        try:
            profile = self.api.call(
                "reading the mailbox profile", lambda s: s.users().getProfile(userId="me")
            )
        except ConnectorError as exc:
            return [("gmail login", False, str(exc))]
        except Exception as exc:  # check() reports, it never raises
            return [("gmail login", False, self.api.scrub(repr(exc)))]
        mailbox = str(profile.get("emailAddress", ""))
        lines.append(
            (
                "gmail login",
                True,
                f"{self.where}: signed in as {mailbox}, "
                f"{profile.get('messagesTotal', '?')} messages",
            )
        )
        try:
            aliases = self.api.call(
                "listing send-as addresses",
                lambda s: s.users().settings().sendAs().list(userId="me"),
            )
            usable = {
                str(a.get("sendAsEmail", "")).lower()
                for a in aliases.get("sendAs", [])
                if a.get("isPrimary") or a.get("verificationStatus") == "accepted"
            } | {mailbox.lower()}
            if self.sender_address.lower() in usable:
                lines.append(("gmail sender", True, f"sends as {self.sender_address}"))
            else:
                lines.append(
                    (
                        "gmail sender",
                        False,
                        f"program.sender.email {self.sender_address} is not a send-as address "
                        f"of {mailbox}: Gmail would send as {mailbox}",
                    )
                )
        except Exception as exc:
            lines.append(("gmail sender", False, self.api.scrub(str(exc))))
        try:
            self._load_labels()
            states = [
                f"{name} {'exists' if name in self._labels else 'is created on first use'}"
                for name in (self.options.processed_label, self.options.quarantine_label)
            ]
            lines.append(("gmail labels", True, "; ".join(states)))
        except Exception as exc:
            lines.append(("gmail labels", False, self.api.scrub(str(exc))))
        return lines

    def close(self) -> None:
        self.api.close()
