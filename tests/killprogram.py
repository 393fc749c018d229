"""Run `mentormail ARGS...` in a process that can SIGKILL itself at a chosen point.

    python -m tests.killprogram [--kill-at POINT:N] -- tick --config program.yaml --now T
    python -m tests.killprogram serve     # a fork server, see `serve` (tests/test_kill.py)

Everything the CLI needs is imported first; then `READY` is printed (or, in `serve`,
`PID n`), so that a test that kills the process after a delay measures the delay from
the start of the tick's work rather than from interpreter start-up.

With `--kill-at POINT:N` the process sends itself SIGKILL (a real one: no handler, no
`finally`, no flush of buffered output) the N-th time it reaches POINT, after writing
`KILLED AT POINT#N` on stderr. A process that never reaches it simply finishes. Points:

  state:dump           inside the state file's write: half the JSON is in the temp file
  state:fsync          the temp file is written, not yet fsync'ed
  state:rename         fsync'ed, not yet renamed over the state file
  state:renamed        renamed, the directory not yet fsync'ed
  state:commit         (SQLite state) the transaction is about to COMMIT
  flush:after          a Store.flush returned (e.g. the intents are on disk, nothing sent)
  send:before          Mailbox.send is about to run
  send:after           Mailbox.send returned, the outbox does not say `done` yet
  maildir:link         the sent message is in sent/tmp, not yet linked into sent/new
  smtp:after           SMTP accepted the message, the copy is not yet APPENDed to Sent
  handled:before       a handled message is about to be moved out of the inbox
  handled:after        a handled message was moved (or queued for a batched MOVE)
  calendar:after       a calendar event was stored, the outbox does not say `done` yet
"""

from __future__ import annotations

import argparse
import functools
import json
import mailbox
import os
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import agent.commands.cli
import agent.commands.runtime  # imported before READY, as the CLI would import them
import agent.commands.tick
import agent.state.store
import agent.state.store_json
import agent.state.store_sqlite
import connectors.ics_files
import connectors.imap
import connectors.maildir
import connectors.smtp
from agent.state.store import Store
from agent.state.store_json import AtomicJSONStorage

POINTS = (
    "state:dump",
    "state:fsync",
    "state:rename",
    "state:renamed",
    "state:commit",
    "flush:after",
    "send:before",
    "send:after",
    "maildir:link",
    "smtp:after",
    "handled:before",
    "handled:after",
    "calendar:after",
)

_reached: Counter[str] = Counter()
_target: tuple[str, int] | None = None


def reach(point: str) -> None:
    """Count `point`; die by SIGKILL if this is the chosen occurrence."""
    _reached[point] += 1
    if _target == (point, _reached[point]):
        os.write(2, f"KILLED AT {point}#{_reached[point]}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


class _Proxy:
    """A module stand-in: `overrides` first, everything else from `module`."""

    def __init__(self, module: Any, **overrides: Any) -> None:
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _around(cls: type, name: str, before: str | None, after: str | None) -> None:
    real: Callable[..., Any] = getattr(cls, name)

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            reach(before)
        result = real(*args, **kwargs)
        if after:
            reach(after)
        return result

    setattr(cls, name, wrapper)


def install() -> None:
    """Put the kill points in place (they only count unless one is the target)."""
    in_state_write = False
    real_write = AtomicJSONStorage.write

    def write(self: AtomicJSONStorage, data: dict[str, dict[str, Any]]) -> None:
        nonlocal in_state_write
        in_state_write = True
        try:
            real_write(self, data)
        finally:
            in_state_write = False

    AtomicJSONStorage.write = write  # type: ignore[method-assign]

    class HalfWrites:
        """The temp file of a state write: each write goes out in two halves, with the
        kill point between them (the first half in the file, as far as the kernel is
        concerned)."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def write(self, data: bytes) -> int:
            half = len(data) // 2
            self.handle.write(data[:half])
            self.handle.flush()
            reach("state:dump")
            return self.handle.write(data[half:])

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

        def __enter__(self) -> HalfWrites:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = os.fdopen(fd, *args, **kwargs)
        return HalfWrites(handle) if in_state_write else handle

    def fsync(fd: int) -> None:
        if in_state_write and os.path.isfile(f"/proc/self/fd/{fd}"):
            reach("state:fsync")
        os.fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        if in_state_write:
            reach("state:rename")
        os.replace(src, dst)
        if in_state_write:
            reach("state:renamed")

    agent.state.store_json.os = _Proxy(os, fsync=fsync, replace=replace, fdopen=fdopen)  # type: ignore[assignment]

    real_link = os.link

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        reach("maildir:link")
        real_link(src, dst, *args, **kwargs)

    mailbox.os = _Proxy(os, link=link)  # type: ignore[attr-defined]

    _around(Store, "flush", None, "flush:after")
    _around(agent.state.store_sqlite.SqliteStore, "_commit", "state:commit", None)
    for cls in (connectors.maildir.MaildirMailbox, connectors.imap.ImapMailbox):
        _around(cls, "send", "send:before", "send:after")
        _around(cls, "mark_handled", "handled:before", "handled:after")
    _around(connectors.smtp.SmtpSender, "deliver", None, "smtp:after")
    _around(connectors.ics_files.IcsCalendar, "put_event", None, "calendar:after")
    _around(connectors.ics_files.IcsCalendar, "cancel_event", None, "calendar:after")


def _child(command: dict[str, Any]) -> int:
    """In a forked child: output to the command's file, then the CLI."""
    global _target
    fd = os.open(command["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    if command.get("kill_at"):
        point, _, n = command["kill_at"].rpartition(":")
        assert point in POINTS, point
        _target = (point, int(n))
    try:
        code = agent.commands.cli.main(command["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.write(f"REACHED {json.dumps(dict(_reached))}\n")
    sys.stderr.flush()
    return code


def serve() -> int:
    """Fork one process per command read from stdin (a JSON object a line: `args`,
    `out`, `kill_at`), from this process with everything imported; print `PID n` once it
    runs and `EXIT code` when it ended (-9: killed). Saves the interpreter's start-up
    (about a second) per tick, so that a test can afford many kills."""
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(_child(command))
        sys.stdout.write(f"PID {pid}\n")
        sys.stdout.flush()
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(f"EXIT {os.waitstatus_to_exitcode(status)}\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    install()
    if argv == ["serve"]:
        return serve()
    parser = argparse.ArgumentParser(prog="killprogram")
    parser.add_argument("--kill-at", help="POINT:N, one of: " + ", ".join(POINTS))
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    return _child({"out": "/dev/stdout", "kill_at": options.kill_at, "args": args})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
