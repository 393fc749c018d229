"""A private PostgreSQL server on 127.0.0.1 for the store tests (never a system-wide one).

`initdb` makes a cluster in a temp dir and `postgres` serves it on a free port, listening on
127.0.0.1 only (its Unix socket in the temp dir too), with trust authentication and fsync
off: a throwaway server. It is started as a child process, remembered by PID, stopped by
PID, and dies with its parent (PR_SET_PDEATHSIG). PostgreSQL refuses to run as root, so as
root it runs as the `postgres` user Debian's package creates (else `nobody`).

The binaries are looked up on PATH, then in /usr/lib/postgresql/<version>/bin (Debian's
`postgresql` package, which `.ci/run` installs). Where there are none, `start()` raises
`Unavailable`, and the tests that need the server skip with its message.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
SUPERUSER = "mentormail_test"
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class Unavailable(RuntimeError):
    """PostgreSQL cannot be started here (not installed, or it failed: the log says why)."""


def binaries() -> Path | None:
    """The folder with initdb and postgres, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    return debian[-1].parent if debian else None


def _version(initdb: Path) -> tuple[int, ...]:
    version = initdb.parent.parent.name
    return tuple(int(n) for n in version.split(".") if n.isdigit())


def _account() -> pwd.struct_passwd | None:
    """The unprivileged user to run as when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise Unavailable("running as root, and there is no postgres or nobody user to run as")


def _die_with_parent() -> None:
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mentormail-pg-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def _run_as(self) -> dict[str, int]:
        account = _account()
        if account is None:
            return {}
        os.chown(self.root, account.pw_uid, account.pw_gid)
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30.0) -> PgServer:
        folder = binaries()
        if folder is None:
            raise Unavailable(
                "PostgreSQL is not installed (no initdb/postgres on PATH or in "
                "/usr/lib/postgresql/*/bin); `.ci/run` installs Debian's postgresql package"
            )
        who = self._run_as()
        data, log = self.root / "data", self.root / "server.log"
        init = subprocess.run(
            [
                str(folder / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            cwd=self.root,
            **who,  # type: ignore[arg-type]
        )
        if init.returncode:
            raise Unavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}")
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(folder / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    HOST,
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-F",
                    "-c",
                    "max_connections=60",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                preexec_fn=_die_with_parent,
                **who,  # type: ignore[arg-type]
            )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Unavailable(f"postgres did not start: {log.read_text()[-800:]}")
            time.sleep(0.1)
        return self

    def _accepts(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def dsn(self, dbname: str) -> str:
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its DSN."""
        import psycopg

        name = f"state_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not os.environ.get("PGTEST_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
