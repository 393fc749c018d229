"""A real CalDAV server (Radicale) on 127.0.0.1 for the caldav connector tests.

Adapted from the verified recipe in ../shared/testbed (README.md there, section 3): Radicale
runs as `python -m radicale --config <dir>/config` in a subprocess with its own config,
htpasswd file (plain passwords) and storage under a temp dir, on a free loopback port.
It is started once per session, ready when its port accepts a TCP connection, and stopped
by PID (`tests.mailservers.ServerProcess`: SIGTERM, then SIGKILL; it also dies with the
test process). A server that does not start fails the session with the tail of its log.

Users are created on demand (`new_user`): Radicale reads the htpasswd file at every login,
so every test gets fresh, empty calendars. Rights (`rights.ini`): every user reads and
writes only their own collections, as Radicale's `owner_only`, except the user `FREEBUSY`,
who may only run free-busy queries (RFC 4791 6.1.1, CALDAV:read-free-busy) on anyone's
calendars. Set MAILTEST_KEEP=1 to keep the temp dir (config, storage, log).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.mailservers import HOST, ServerError, ServerProcess, free_port

FREEBUSY = "freebusy-reader"  # the login that may only read free/busy time

RIGHTS = f"""\
[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {{user}}
permissions: RW

[calendars]
user: .+
collection: {{user}}/[^/]+
permissions: rw

[freebusy]
user: {FREEBUSY}
collection: [^/]+/[^/]+
permissions: f
"""


@dataclass(frozen=True)
class DavUser:
    login: str
    password: str


class DavServer:
    """One Radicale instance under `root/radicale`; see the module docstring."""

    _counter = itertools.count(1)

    def __init__(self, root: Path) -> None:
        self.dir = root / "radicale"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.htpasswd = self.dir / "users.htpasswd"
        self.htpasswd.write_text("", encoding="utf-8")
        (self.dir / "rights.ini").write_text(RIGHTS, encoding="utf-8")
        (self.dir / "config").write_text(
            textwrap.dedent(f"""\
                [server]
                hosts = {HOST}:{self.port}
                [auth]
                type = htpasswd
                htpasswd_filename = {self.htpasswd}
                htpasswd_encryption = plain
                delay = 0
                [rights]
                type = from_file
                file = {self.dir / "rights.ini"}
                [storage]
                filesystem_folder = {self.dir / "collections"}
                [web]
                type = none
                [logging]
                level = warning
                """),
            encoding="utf-8",
        )
        self.process = ServerProcess(
            "radicale",
            [sys.executable, "-m", "radicale", "--config", str(self.dir / "config")],
            [self.port],
            self.dir,
        )
        self.freebusy = self.add_user(FREEBUSY)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> DavServer:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def add_user(self, login: str) -> DavUser:
        password = f"pw-{uuid.uuid4().hex}"
        with self.htpasswd.open("a", encoding="utf-8") as handle:
            handle.write(f"{login}:{password}\n")
        return DavUser(login, password)

    def new_user(self, name: str = "user") -> DavUser:
        """A user nobody has used yet, e.g. new_user('ana') -> ana-3-1a2b3c."""
        return self.add_user(f"{name}-{next(self._counter)}-{uuid.uuid4().hex[:6]}")

    def principal_url(self, user: DavUser) -> str:
        return f"{self.url}{user.login}/"

    def calendar_url(self, user: DavUser, cal_id: str) -> str:
        return f"{self.principal_url(user)}{cal_id}/"

    def client(self, user: DavUser) -> Any:
        """A caldav.DAVClient logged in as `user` (for tests to look behind the connector)."""
        import caldav

        return caldav.DAVClient(
            url=self.url, username=user.login, password=user.password, timeout=10
        )

    def make_calendar(self, user: DavUser, cal_id: str, name: str | None = None) -> Any:
        """Create a calendar `cal_id` for `user`; the caldav.Calendar is returned."""
        return self.client(user).principal().make_calendar(name=name or cal_id, cal_id=cal_id)


@pytest.fixture(scope="session")
def dav_server() -> Iterator[DavServer]:
    """Radicale for the whole session; the session fails (not skips) if it cannot start."""
    root = Path(tempfile.mkdtemp(prefix="mentormail-dav-"))
    try:
        server = DavServer(root).start()
    except ServerError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        if os.environ.get("MAILTEST_KEEP"):
            print(f"\nkept CalDAV server dir: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
