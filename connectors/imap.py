"""The program's mailbox on an IMAP server, with sending over SMTP (connectors.smtp).

Reading (RFC 3501 / 9051) is incremental and never loses a message:

- The cursor is `v1:<UIDVALIDITY>:<last UID>:<UIDs handed out last time>`, the last part
  an IMAP UID set like `17:19,23`. A UID identifies a message only together with the
  folder's UIDVALIDITY (RFC 3501 section 2.3.1.1).
- The first fetch (no cursor) searches `SINCE <since>`: mail that arrived before the
  program (by default: start - onboarding.before_start - 1 day) is left alone.
- Later fetches search `UID <handed out>,<last+1>:*`: everything new, plus whatever was
  handed out last time and is still in the folder because `mark_handled` never ran or
  failed (the agent skips what it already processed by Message-ID and moves it again).
  `n:*` matches the highest UID even when n is above it, so results at or below `last`
  that were not handed out are dropped.
- A different UIDVALIDITY means the server renumbered the folder: the cursor's UIDs
  mean nothing any more, so the fetch starts over with `SINCE` and relies on the
  agent's Message-ID deduplication; nothing is skipped silently.
- Bodies are fetched with `BODY.PEEK[]` (nothing becomes \\Seen before it is handled),
  200 UIDs per FETCH command. Messages flagged \\Deleted are not returned.

`mark_handled` moves a message to the processed or quarantine folder with MOVE
(RFC 6851), or, on servers without it, COPY + \\Deleted + UID EXPUNGE (RFC 4315 UIDPLUS;
a plain EXPUNGE without UIDPLUS). A UID that is already gone is not an error. The moves
for one fetch's messages go out together, one command per folder, when the last of them
is marked (see `mark_handled`).

Sending goes through SMTP, then a copy is APPENDed (\\Seen) to the Sent folder, where
`was_sent` searches for the Message-ID. Accepted risk: a crash between the SMTP
transaction and the APPEND leaves no copy, so an interrupted action is sent again.
The same applies when the APPEND itself fails (a full mailbox): the send raises
ConnectorError naming the reason; within one process the Message-ID is remembered, so
a long-running service does not send it twice.

`wait` sleeps in IDLE (RFC 2177) on a second connection, so the main one is never left
idling; without IDLE it sleeps and returns False, leaving it to the regular poll. Folder
names in the config use `/` between levels; it is translated to the server's hierarchy
delimiter.

Every failure (unreachable, TLS, wrong password, connection dropped mid-command, NO/BAD
answers such as [OVERQUOTA]) is a ConnectorError naming the host, port and what failed,
never a password. A lost connection is dropped and the next call reconnects; one the
server closed while idle (a restart) is noticed before use and replaced silently.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import ssl
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imapclient import SENT
from pydantic import BaseModel, ConfigDict, model_validator

from connectors.base import ConnectorError, Outcome, RawMessage
from connectors.moves import MoveQueue
from connectors.smtp import (
    TLS_LABELS,
    Credentials,
    SmtpOptions,
    SmtpSender,
    refusal,
    sender_from_options,
    tls_context,
)

if TYPE_CHECKING:
    from agent.config.model import Config

log = logging.getLogger(__name__)

CURSOR_VERSION = "v1"
FETCH_BATCH = 200  # UIDs per FETCH command
MOVE_BATCH = 1000  # handled messages queued at most before they are moved
IDLE_RENEW = 25 * 60.0  # seconds before an IDLE is ended and started again
IMAP_PORTS: dict[str, int] = {"ssl": 993, "starttls": 143, "none": 143}
_IMAP_ERRORS = (IMAPClientError, OSError)  # imaplib.error and .abort, socket, ssl


def uid_set(uids: Iterable[int]) -> str:
    """Compact IMAP sequence-set text: [1, 2, 3, 7] -> '1:3,7'."""
    out: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_uid_set(text: str) -> set[int]:
    """The UIDs of a sequence set without `*` ('1:3,7' -> {1, 2, 3, 7})."""
    uids: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition(":")
        a, b = int(low), int(high or low)
        uids.update(range(min(a, b), max(a, b) + 1))
    return uids


class Cursor:
    """Where reading stands in one folder: UIDVALIDITY, last UID seen, UIDs handed out."""

    def __init__(self, uidvalidity: int, last: int, pending: set[int]) -> None:
        self.uidvalidity, self.last, self.pending = uidvalidity, last, pending

    def __str__(self) -> str:
        return f"{CURSOR_VERSION}:{self.uidvalidity}:{self.last}:{uid_set(self.pending)}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            version, validity, last, pending = ([*text.split(":", 3), ""])[:4]
            if version != CURSOR_VERSION:
                raise ValueError(version)
            return cls(int(validity), int(last), parse_uid_set(pending))
        except ValueError:
            log.warning(
                "ignoring an unreadable mailbox cursor %r: reading from `since` again", text
            )
            return None


class ImapMailbox:
    """The program's IMAP mailbox (see the module docstring for the exact behaviour)."""

    send_limits = (None, None)  # the SMTP server's own; set `limits:` in the config to match
    envelope_sender = True  # Return-Path becomes MAIL FROM (VERP; connectors.smtp.envelope)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        host: str
        port: int | None = None  # default 993 for ssl, 143 otherwise
        security: Literal["ssl", "starttls", "none"] = "ssl"
        username: str
        password_env: str | None = None
        password_file: Path | None = None
        oauth2_token_file: Path | None = None  # XOAUTH2; the file holds the access token
        ca_file: Path | None = None  # a private CA for a self-signed server certificate
        folder: str = "INBOX"
        processed_folder: str = "mentormail/processed"
        quarantine_folder: str = "mentormail/quarantine"
        sent_folder: str | None = None  # None: the \\Sent special-use folder
        since: date | None = None  # default: start - onboarding.before_start - 1 day
        smtp: SmtpOptions = SmtpOptions()
        timeout: float = 30.0

        @model_validator(mode="after")
        def _one_secret(self) -> ImapMailbox.Options:
            given = [self.password_env, self.password_file, self.oauth2_token_file]
            count = sum(v is not None for v in given)
            if count == 0:
                raise ValueError(
                    "set password_env (an environment variable's name), password_file "
                    "or oauth2_token_file; the password itself never goes in the config"
                )
            if count > 1:
                raise ValueError("set only one of password_env, password_file, oauth2_token_file")
            return self

    use_move: bool | None = None  # None: MOVE when the server offers it (tests force False)

    def __init__(self, options: Options, config: Config) -> None:
        self.options = options
        self.host = options.host
        self.port = options.port or IMAP_PORTS[options.security]
        self.credentials = Credentials(
            options.username,
            password_env=options.password_env,
            password_file=config.resolve(options.password_file) if options.password_file else None,
            oauth2_token_file=(
                config.resolve(options.oauth2_token_file) if options.oauth2_token_file else None
            ),
        )
        self.credentials.secret()  # a missing variable or file is reported at open
        self.ca_file = config.resolve(options.ca_file) if options.ca_file else None
        program = config.program
        self.since: date = options.since or (
            program.start - config.cadence.onboarding.before_start - timedelta(days=1)
        )
        self.sender_address = program.sender.email
        self.smtp: SmtpSender = sender_from_options(
            options.smtp,
            default_host=options.host,
            default_credentials=self.credentials,
            default_timeout=options.timeout,
            config_resolve=config.resolve,
        )
        self._client: IMAPClient | None = None
        self._idler: IMAPClient | None = None
        self._selected: str | None = None
        self._delimiter: str | None = None
        self._ready_folders: set[str] = set()
        self._sent_folder: str | None = None
        self._uidvalidity: int | None = None  # of the folder as last fetched
        self._uidnext: int | None = None
        self._sent_ids: set[str] = set()
        self._moves: MoveQueue[int] = MoveQueue(MOVE_BATCH)

    # -- connection ---------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"IMAP {self.host}:{self.port} ({TLS_LABELS[self.options.security]})"

    def _error(self, what: str, exc: BaseException | str) -> ConnectorError:
        detail = re.sub(r"^b'(.*)'$", r"\1", str(exc)) or type(exc).__name__  # imaplib's bytes
        return ConnectorError(self.credentials.scrub(f"{self.where}: {what}: {detail}"))

    def _connect(self) -> IMAPClient:
        """A new logged-in connection; ConnectorError with a clear reason otherwise."""
        client: IMAPClient | None = None
        try:
            context = tls_context(self.ca_file) if self.options.security != "none" else None
            client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.options.security == "ssl",
                ssl_context=context,
                timeout=self.options.timeout,
            )
            if self.options.security == "starttls":
                client.starttls(context)
            secret = self.credentials.secret()
            if self.credentials.oauth2:
                client.oauth2_login(self.options.username, secret)
            else:
                client.login(self.options.username, secret)
            return client
        except LoginError as exc:
            self._shutdown(client)
            raise self._error(f"login as {self.options.username} refused", exc) from None
        except ConnectorError:
            self._shutdown(client)
            raise
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._shutdown(client)
            raise self._error("TLS failed", exc) from None
        except _IMAP_ERRORS as exc:
            self._shutdown(client)
            raise self._error("cannot connect", exc) from None

    @staticmethod
    def _shutdown(client: IMAPClient | None) -> None:
        if client is not None:
            with contextlib.suppress(*_IMAP_ERRORS):
                client.shutdown()

    def _conn(self) -> IMAPClient:
        """The main connection: reused while alive, replaced when the server dropped it."""
        if self._client is not None and not _alive(self._client):
            log.info("%s: the server closed the connection; reconnecting", self.where)
            self._drop()
        if self._client is None:
            self._client = self._connect()
            self._selected = None
            log.info("%s: logged in as %s", self.where, self.options.username)
        return self._client

    def _drop(self) -> None:
        client, self._client, self._selected = self._client, None, None
        self._shutdown(client)

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[IMAPClient]:
        """Run IMAP commands; a failure becomes a ConnectorError that says what failed.

        A lost connection (EOF, reset, timeout, TLS error) is dropped, so the next call
        reconnects; a NO/BAD answer leaves the connection usable.
        """
        client = self._conn()
        try:
            yield client
        except ConnectorError:
            raise
        except (IMAPClientAbortError, OSError) as exc:
            self._drop()
            log.warning("%s: %s: connection lost: %s", self.where, what, self._scrub(exc))
            raise self._error(f"{what} failed, connection lost", exc) from None
        except IMAPClientError as exc:
            self._selected = None
            log.warning("%s: %s failed: %s", self.where, what, self._scrub(exc))
            raise self._error(f"{what} failed", exc) from None

    def _scrub(self, exc: BaseException) -> str:
        return self.credentials.scrub(str(exc))

    def _name(self, folder: str) -> str:
        """A config folder name ('a/b') in the server's hierarchy delimiter."""
        if self._delimiter is None:
            self._delimiter = "/"
            with contextlib.suppress(*_IMAP_ERRORS):
                listing = self._conn().list_folders("", "")
                if listing and listing[0][1]:
                    delimiter = listing[0][1]
                    self._delimiter = (
                        delimiter.decode() if isinstance(delimiter, bytes) else str(delimiter)
                    )
        return folder if folder.upper() == "INBOX" else folder.replace("/", self._delimiter)

    def _ensure(self, client: IMAPClient, folder: str) -> str:
        """The server name of `folder`, created if it does not exist yet."""
        name = self._name(folder)
        if name not in self._ready_folders:
            if not client.folder_exists(name):
                log.info("%s: creating folder %s", self.where, name)
                try:
                    client.create_folder(name)
                except IMAPClientError:
                    if not client.folder_exists(name):  # created by someone else meanwhile?
                        raise
            self._ready_folders.add(name)
        return name

    def _select(
        self, client: IMAPClient, folder: str, *, refresh: bool = False, readonly: bool = False
    ) -> dict[bytes, Any]:
        """SELECT (or EXAMINE) `folder` unless it already is; the response when sent."""
        key = f"{'examine' if readonly else 'select'} {folder}"
        if refresh or self._selected != key:
            self._selected = None
            info = client.select_folder(folder, readonly=readonly)
            self._selected = key
            return info
        return {}

    # -- reading ------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        """Unhandled messages; one retry on a fresh connection before giving up.

        The retry covers a folder re-created under a selected connection ("Mailbox was
        deleted under us") and a connection the server dropped between checks.
        """
        try:
            return self._fetch_once(cursor)
        except ConnectorError as exc:
            log.info("%s: %s; retrying once on a new connection", self.where, exc)
            self._drop()
            return self._fetch_once(cursor)

    def _fetch_once(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        if self._moves.queued:
            try:
                self._flush()
            except ConnectorError as exc:  # they are still there: this fetch returns them
                log.warning("%s", exc)
        folder = self._name(self.options.folder)
        with self._guard(f"reading {folder}") as client:
            info = self._select(client, folder, refresh=True)
            validity = int(info.get(b"UIDVALIDITY", 0))
            uidnext = info.get(b"UIDNEXT")
            if uidnext is None:
                uidnext = client.folder_status(folder, [b"UIDNEXT"])[b"UIDNEXT"]
            uidnext = int(uidnext)
            previous = Cursor.parse(cursor)
            if previous is not None and previous.uidvalidity != validity:
                log.warning(
                    "%s: UIDVALIDITY of %s changed from %d to %d: the server renumbered the "
                    "folder; reading everything since %s again (already processed messages "
                    "are recognised by Message-ID)",
                    self.where,
                    folder,
                    previous.uidvalidity,
                    validity,
                    self.since,
                )
                previous = None
            if previous is None:
                uids = sorted(client.search(["SINCE", self.since, "NOT", "DELETED"]))
                last = max([uidnext - 1, *uids])
            else:
                wanted = [*sorted(previous.pending), f"{previous.last + 1}:*"]
                found = client.search(["UID", uid_set_text(wanted), "NOT", "DELETED"])
                uids = sorted(u for u in found if u > previous.last or u in previous.pending)
                last = max([previous.last, *uids])
            messages = self._bodies(client, uids)
        self._uidvalidity, self._uidnext = validity, uidnext
        if messages:
            log.info("%s: %d message(s) to handle in %s", self.where, len(messages), folder)
        pending = {int(m.ref) for m in messages}
        self._moves.fetched(pending)
        return messages, str(Cursor(validity, last, pending))

    @staticmethod
    def _bodies(client: IMAPClient, uids: list[int]) -> list[RawMessage]:
        """BODY.PEEK[] of `uids` in batches; a UID expunged meanwhile is just absent."""
        messages = []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            response = client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                data = response.get(uid, {}).get(b"BODY[]")
                if data is not None:
                    messages.append(RawMessage(str(uid), bytes(data)))
        return messages

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        """Move a fetched message to the processed or quarantine folder.

        The moves for the messages of one fetch are sent together, as one MOVE per target
        folder, when the last of them is marked (Dovecot with Maildir spends ~7 ms on a
        one-message MOVE, ~0.1 s on a 1,500-message one). A message marked
        outside that pattern is moved at once; anything still queued is moved before the
        next fetch and on close. A failed move raises ConnectorError naming the UIDs; the
        messages stay in the folder and the next fetch returns them again.
        """
        uid = int(ref)
        target = (
            self.options.processed_folder
            if outcome == "processed"
            else self.options.quarantine_folder
        )
        if self._moves.add(uid, target):
            self._flush()

    def _flush(self) -> None:
        """Carry out the queued moves (MOVE, else COPY + \\Deleted + UID EXPUNGE)."""
        queue = self._moves.take()
        if not queue:
            return
        folder = self._name(self.options.folder)
        uids_text = uid_set(uid for uids in queue.values() for uid in uids)
        with self._guard(f"moving handled message(s) {uids_text} out of {folder}") as client:
            info = self._select(client, folder)
            validity = info.get(b"UIDVALIDITY")
            if validity is not None and self._uidvalidity not in (None, int(validity)):
                raise ConnectorError(
                    f"{self.where}: UIDVALIDITY of {folder} changed since the fetch; messages "
                    f"{uids_text} are left where they are and will be read again"
                )
            use_move = client.has_capability("MOVE") if self.use_move is None else self.use_move
            for target_folder, uids in queue.items():
                target = self._ensure(client, target_folder)  # LIST/CREATE keep the selection
                if use_move:
                    client.move(uids, target)
                    continue
                flags = client.get_flags(uids)  # UIDs already gone are simply absent
                fresh = [u for u in uids if u in flags and b"\\Deleted" not in flags[u]]
                if fresh:  # a \\Deleted one was copied by an interrupted earlier call
                    client.copy(fresh, target)
                    client.add_flags(fresh, [b"\\Deleted"], silent=True)
                present = [u for u in uids if u in flags]
                if not present:
                    continue
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(present)
                else:
                    client.expunge()

    # -- sending ------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        message_id = str(message.get("Message-ID", "")).strip().strip("<>")
        result = self.smtp.deliver(message)
        if result.delivered:
            if message_id:
                self._sent_ids.add(message_id)
            self._store_sent(result.data, message_id)
        if result.refused:
            raise refusal(result)
        if result.deferred:
            raise self.smtp.deferred_error(result)

    def _sent_name(self, client: IMAPClient) -> str:
        if self._sent_folder is None:
            if self.options.sent_folder:
                self._sent_folder = self._ensure(client, self.options.sent_folder)
            else:
                found = client.find_special_folder(SENT)
                self._sent_folder = found or self._ensure(client, "Sent")
        return self._sent_folder

    def _store_sent(self, data: bytes, message_id: str) -> None:
        """APPEND the sent message to Sent, \\Seen (the record `was_sent` relies on)."""
        try:
            with self._guard("storing the sent copy") as client:
                sent = self._sent_name(client)
                client.append(sent, data, flags=[b"\\Seen"], msg_time=datetime.now(UTC))
        except ConnectorError as exc:
            raise ConnectorError(
                f"{exc} (the message <{message_id}> WAS delivered by SMTP, but without a copy "
                "in Sent a later retry may send it again)"
            ) from None

    def was_sent(self, message_id: str) -> bool:
        message_id = message_id.strip().strip("<>")
        if message_id in self._sent_ids:
            return True
        with self._guard("searching the Sent folder") as client:
            sent = self._sent_name(client)
            self._select(client, sent, refresh=True, readonly=True)
            found = client.search(["HEADER", "Message-ID", f"<{message_id}>"])
        if found:
            self._sent_ids.add(message_id)
        return bool(found)

    # -- waiting ------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """IDLE up to `timeout` s on a separate connection; True once new mail may be there.

        Mail that arrived since the last fetch counts (UIDNEXT moved), so nothing that came
        in between the fetch and the IDLE is slept through. Without IDLE, or when the
        server cannot be reached, this sleeps `timeout` and returns False: the service's
        regular poll then fetches (and reports the error), instead of a tick per slice.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        folder = self.options.folder
        try:
            if self._idler is not None and not _alive(self._idler):
                self._shutdown(self._idler)
                self._idler = None
            if self._idler is None:
                self._idler = self._connect()
            idler = self._idler
            if not idler.has_capability("IDLE"):
                time.sleep(max(0.0, deadline - time.monotonic()))
                return False
            info = idler.select_folder(self._name(folder), readonly=True)
            uidnext = info.get(b"UIDNEXT")
            if self._uidnext is not None and uidnext is not None and int(uidnext) > self._uidnext:
                return True
            idler.idle()
            try:
                renew = time.monotonic() + IDLE_RENEW
                while (left := deadline - time.monotonic()) > 0:
                    for response in idler.idle_check(timeout=min(left, 60.0)):
                        if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                            return True
                    if time.monotonic() > renew:  # RFC 2177: servers may drop a 30-min IDLE
                        idler.idle_done()
                        idler.idle()
                        renew = time.monotonic() + IDLE_RENEW
                return False
            finally:
                idler.idle_done()
        except (ConnectorError, *_IMAP_ERRORS) as exc:
            log.warning(
                "%s: waiting for new mail failed (%s); polling instead",
                self.where,
                self.credentials.scrub(str(exc)),
            )
            self._shutdown(self._idler)
            self._idler = None
            time.sleep(max(0.0, deadline - time.monotonic()))
            return False

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Login, capabilities, folders, SMTP login and send permission; never raises."""
        lines: list[tuple[str, bool, str]] = []
        try:
            self._drop()
            client = self._conn()
        except ConnectorError as exc:
            lines.append(("imap login", False, str(exc)))
        except Exception as exc:  # check() must report, never raise
            lines.append(("imap login", False, self.credentials.scrub(repr(exc))))
        else:
            lines.append(("imap login", True, f"{self.where} as {self.options.username}"))
            lines += self._check_imap(client)
        try:
            lines += self.smtp.check(self.sender_address)
        except Exception as exc:
            lines.append(("smtp", False, self.credentials.scrub(repr(exc))))
        return lines

    def _check_imap(self, client: IMAPClient) -> list[tuple[str, bool, str]]:
        lines: list[tuple[str, bool, str]] = []
        fallback = {
            "IDLE": "new mail is pushed",
            "MOVE": "handled mail is moved atomically",
            "UIDPLUS": "the COPY fallback expunges only its own message",
        }
        missing = {
            "IDLE": "not offered: the service polls every poll_interval",
            "MOVE": "not offered: COPY + \\Deleted + EXPUNGE is used instead",
            "UIDPLUS": "not offered: the fallback EXPUNGE removes every \\Deleted message",
        }
        try:
            for capability in ("IDLE", "MOVE", "UIDPLUS"):
                has = client.has_capability(capability)
                detail = fallback[capability] if has else missing[capability]
                lines.append((f"imap {capability}", has, detail))
            for key in ("folder", "processed_folder", "quarantine_folder"):
                name = self._name(getattr(self.options, key))
                existed = client.folder_exists(name)
                self._ensure(client, getattr(self.options, key))
                lines.append((f"imap {key}", True, f"{name} {'exists' if existed else 'created'}"))
            sent = self._sent_name(client)
            how = "configured" if self.options.sent_folder else "\\Sent special-use or 'Sent'"
            lines.append(("imap sent_folder", True, f"{sent} ({how})"))
        except Exception as exc:  # check() reports, it never raises
            self._drop()
            lines.append(("imap folders", False, self.credentials.scrub(str(exc))))
        return lines

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Move what is still queued, log out of both IMAP connections, QUIT SMTP; never raises."""
        try:
            self._flush()
        except ConnectorError as exc:
            log.warning("%s", exc)
        for client in (self._client, self._idler):
            if client is not None:
                try:
                    client.logout()
                except _IMAP_ERRORS:
                    self._shutdown(client)
        self._client = self._idler = None
        self._selected = None
        self.smtp.close()


def _alive(client: IMAPClient) -> bool:
    """False when the server closed an idle connection (restart, BYE, timeout).

    Costs nothing while the socket has nothing to read (the normal case); data waiting
    on an idle connection is a BYE or EOF, confirmed with a NOOP.
    """
    try:
        readable, _, _ = select.select([client.socket()], [], [], 0)
        if not readable:
            return True
        client.noop()
        return True
    except (*_IMAP_ERRORS, ValueError):
        return False


def uid_set_text(parts: list[Any]) -> str:
    """Join UIDs and ranges ('457:*') into one set, compressing runs of plain UIDs."""
    numbers = [p for p in parts if isinstance(p, int)]
    rest = [str(p) for p in parts if not isinstance(p, int)]
    return ",".join(filter(None, [uid_set(numbers), *rest]))
