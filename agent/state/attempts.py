"""A poison message cannot block the inbox: attempts are counted, and time is budgeted.

A message stays in the inbox until the tick that handled it has written the state. One
that crashes the agent, or hangs until a watchdog kills it, would otherwise be read
again, and crash again, at every tick. So before a message is processed the attempt is
written down, durably and apart from the state (the state's own flush would write half
a tick); when its processing ends, crash-free, the attempt is taken back. A message
found with `MAX_ATTEMPTS` unfinished attempts is not processed again: it is quarantined
as it is, and the coordinator told.

Cheap on the common path: a tick writes the ledger once before its batch of new
messages and once after it. Only after a tick died mid-batch (some message has an
unfinished attempt, and which one killed it is not known) are messages attempted one
by one, each written down before and after, so that only the guilty one reaches the
limit. The ledger is a small JSON file next to the state (`<state>.attempts`), gone
when empty.

A message that runs longer than `MESSAGE_SECONDS` is stopped by a timer signal
(SIGALRM, main thread only; it interrupts Python code and the `re` engine) and
quarantined at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
MESSAGE_SECONDS = 20.0  # generous: any message is meant to take well under a second
_HEAD_BYTES = 256_000  # the header block read for a key, a sender and a subject
_PEEK_CHARS = 300  # of a header value shown for a message that cannot be parsed


class OverBudget(BaseException):
    """Processing one message took longer than its time budget. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` in a parser takes it for its own."""


# --------------------------------------------------------------------------- keys and peeks


def stable_key(raw: bytes) -> str:
    """What identifies a message without parsing it: its Message-ID (as `parse_message`
    reads it, in almost every case) or else the digest of its bytes."""
    found = _header(raw, b"message-id")
    ids = re.findall(r"<([^<>\s]+)>", found) or found.split()
    return ids[0] if ids else "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Peek:
    """Who a message is from and what it is about, read from its raw header lines only."""

    name: str  # the From header's display name (encoded words decoded), shortened
    address: str  # its address, lower-cased, "" if none is readable
    subject: str
    date: str  # the Date header as written


def peek(raw: bytes) -> Peek:
    name, address = parseaddr(_decoded(_header(raw, b"from")))  # for display only
    address = address.lower() if "@" in address else ""
    subject, date = (_decoded(_header(raw, h)) for h in (b"subject", b"date"))
    return Peek(name, address, subject, date)


def _header(raw: bytes, name: bytes) -> str:
    """The first `name:` header's value, unfolded, '' if none. The header block ends, as
    for the email package's parser, at the first line that is neither a header nor a
    continuation (an empty line, usually)."""
    wanted = name + b":"
    lines = raw[:_HEAD_BYTES].split(b"\n")
    for i, line in enumerate(lines):
        if not _HEADER_LINE.match(line):
            return ""
        if line[: len(wanted)].lower() != wanted:
            continue
        value = [line[len(wanted) :]]
        for more in lines[i + 1 :]:
            if more[:1] not in (b" ", b"\t"):
                break
            value.append(more)
        return b" ".join(v.strip() for v in value).decode("utf-8", "replace")
    return ""


_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")  # email.feedparser's


def _decoded(value: str) -> str:
    value = value[:_PEEK_CHARS]
    with contextlib.suppress(Exception):  # a broken encoded word: shown as written
        value = str(make_header(decode_header(value)))
    return value.encode("utf-8", "replace").decode("utf-8")


# --------------------------------------------------------------------------- the ledger


class Ledger:
    """Unfinished attempts per message key, kept in `path` (see the module docstring).

    `write=False` (a dry run) keeps the counts in memory only.
    """

    def __init__(self, path: Path, *, write: bool = True) -> None:
        self.path = path
        self.write = write
        self.counts: dict[str, int] = {}
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            self.counts = {str(k): int(v) for k, v in stored.items()}
        except FileNotFoundError:
            pass
        except (ValueError, AttributeError, TypeError) as exc:  # a safety net: start afresh
            log.warning("ignoring unreadable %s: %s", path, exc)

    def exhausted(self, key: str) -> bool:
        return self.counts.get(key, 0) >= MAX_ATTEMPTS

    def suspect(self, keys: Iterable[str]) -> bool:
        """Whether any of `keys` has an unfinished attempt (a tick died with it)."""
        return any(self.counts.get(k, 0) for k in keys)

    def start(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self.counts[key] = self.counts.get(key, 0) + 1
        if keys:
            self._save()

    def finish(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            left = self.counts.get(key, 0) - 1
            if left > 0:
                self.counts[key] = left
            else:
                self.counts.pop(key, None)
        if keys:
            self._save()

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget the messages not among `keys` (handled, or gone from the inbox)."""
        wanted = set(keys)
        if self.counts.keys() - wanted:
            self.counts = {k: n for k, n in self.counts.items() if k in wanted}
            self._save()

    def _save(self) -> None:
        """Temp file and rename: a killed process leaves the old or the new ledger. No
        fsync: only a power cut could lose the last count, which costs one more attempt."""
        if not self.write:
            return
        partial = self.path.with_name(f".{self.path.name}.tmp")
        try:
            if not self.counts:
                self.path.unlink(missing_ok=True)
                partial.unlink(missing_ok=True)  # left by a write a kill cut short
                return
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.counts, handle)
            os.replace(partial, self.path)
        except OSError as exc:  # the state's own flush will say what is wrong with the disk
            log.warning("cannot write %s (attempts are not counted): %s", self.path, exc)
            self.write = False


# --------------------------------------------------------------------------- the time budget


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise `OverBudget` in the block once `seconds` have passed (main thread only;
    elsewhere the block runs without a budget)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise OverBudget(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:  # one-shot: if it fires just here, OverBudget leaves the block all the same
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
