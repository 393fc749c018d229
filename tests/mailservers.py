"""Real mail servers on 127.0.0.1 for the IMAP/SMTP connector tests and bench/mail.py.

    IMAP + LMTP : Dovecot (Debian packages dovecot-imapd + dovecot-lmtpd), own config in
                  a temp dir, started as `dovecot -F`, stopped by PID; `restart()` for
                  tests of a server that goes away and comes back. Plain IMAP and
                  STARTTLS on `imap_port`, TLS on `imaps_port`, with a self-signed
                  certificate for 127.0.0.1 made by openssl (`dovecot.cert` = the CA).
    SMTP        : aiosmtpd with AUTH PLAIN/LOGIN (STARTTLS offered, not required),
                  delivering into Dovecot over LMTP.
                  In pytest it runs in-process (a thread) so a test can script its answers
                  (`SmtpScript`: 451 for the next N transactions, 550 for one recipient,
                  a dropped connection); bench/mail.py runs it as a separate process
                  (`python tests/mailservers.py smtp ...`) so it does not share the GIL.
    TcpProxy    : a loopback proxy that can cut its connections (a dropped connection
                  in the middle of a FETCH or a send).

Adapted from the verified recipe in ../shared/testbed (README.md there explains the
Dovecot settings). Every process is started here, remembered by PID, stopped by PID, and
dies with its parent (PR_SET_PDEATHSIG). Set MAILTEST_KEEP=1 to keep the temp dir.
Without Dovecot installed the fixtures fail (not skip): run `.ci/run`, which installs it.

Users are created on demand (`MailServers.new_user`), one passwd-file per user (Dovecot
reads a changed passwd-file at most once a second, but opens a new one at once), so every
test gets fresh mailboxes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import email.policy
import grp
import itertools
import logging
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
DOMAIN = "example.test"
OpenMailbox = Callable[..., Any]  # the imap_mailbox fixture: (user, **mail options) -> ImapMailbox
TIMINGS: list[tuple[str, float]] = []  # (what, seconds), printed in pytest's terminal summary

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A test server could not be started (the message has the tail of its log)."""


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process is killed, the server dies too."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class ServerProcess:
    """One server process, tracked by the PID of the Popen object created here."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        ports: list[int],
        workdir: Path,
        run_as: tuple[int, int] | None = None,
    ) -> None:
        self.name, self.argv, self.ports = name, argv, ports
        self.workdir = workdir
        self.log_path = workdir / f"{name}.out"
        self.run_as = run_as
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        t0 = time.monotonic()
        kwargs: dict[str, Any] = {}
        if self.run_as is not None:
            kwargs.update(user=self.run_as[0], group=self.run_as[1], extra_groups=[])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **kwargs,
            )
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise ServerError(f"{self.name}: ports {pending} not answering:\n{self.log_tail()}")
            pending = [p for p in pending if not port_open(p)]
            if pending:
                time.sleep(0.02)
        TIMINGS.append((f"start {self.name} (pid {self.proc.pid})", time.monotonic() - t0))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)  # by PID, never by name
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        TIMINGS.append((f"stop {self.name} (pid {self.proc.pid})", time.monotonic() - t0))

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


# --------------------------------------------------------------------------- dovecot


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA: clients pass it as ca_file)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=IP:{HOST}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def dovecot_conf(
    d: Path, imap_port: int, imaps_port: int, lmtp_port: int, user: str, group: str
) -> str:
    """Self-contained Dovecot 2.3 config: loopback only, no TLS, no system paths.

    Differences from the testbed recipe: the passwd-file is also the userdb (so a user can
    carry a quota rule, for the "mailbox full" test), and the quota plugin is loaded with
    no global limit.
    """
    return textwrap.dedent(f"""\
        base_dir = {d}/run
        state_dir = {d}/state
        instance_name = mentormail-test-{imap_port}
        log_path = {d}/dovecot.log
        protocols = imap lmtp
        listen = {HOST}
        ssl = yes
        ssl_cert = <{d}/tls/cert.pem
        ssl_key = <{d}/tls/key.pem
        disable_plaintext_auth = no
        auth_mechanisms = plain login
        auth_failure_delay = 0
        mail_location = maildir:{d}/mail/%u
        mail_fsync = never
        mail_max_userip_connections = 100
        mail_plugins = $mail_plugins quota
        first_valid_uid = 1
        default_internal_user = {user}
        default_internal_group = {group}
        default_login_user = {user}
        passdb {{
          driver = passwd-file
          args = scheme=PLAIN username_format=%u {d}/users/%Lu
        }}
        userdb {{
          driver = passwd-file
          args = username_format=%u {d}/users/%Lu
          default_fields = uid={user} gid={group} home={d}/mail/%u
        }}
        plugin {{
          quota = count:User quota
          quota_vsizes = yes
        }}
        namespace inbox {{
          inbox = yes
          mailbox Drafts {{
            special_use = \\Drafts
            auto = subscribe
          }}
          mailbox Sent {{
            special_use = \\Sent
            auto = subscribe
          }}
          mailbox Trash {{
            special_use = \\Trash
            auto = subscribe
          }}
          mailbox Junk {{
            special_use = \\Junk
            auto = subscribe
          }}
        }}
        service anvil {{
          chroot =
          unix_listener anvil-auth-penalty {{
            mode = 0
          }}
        }}
        service imap-login {{
          chroot =
          inet_listener imap {{
            address = {HOST}
            port = {imap_port}
          }}
          inet_listener imaps {{
            address = {HOST}
            port = {imaps_port}
            ssl = yes
          }}
        }}
        service lmtp {{
          inet_listener lmtp {{
            address = {HOST}
            port = {lmtp_port}
          }}
        }}
        protocol lmtp {{
          postmaster_address = postmaster@{DOMAIN}
        }}
        """)


class Dovecot:
    """A private Dovecot instance (IMAP + LMTP) under `root/dovecot`."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("dovecot") or (
            "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
        )
        if binary is None:
            raise ServerError(
                "Dovecot is not installed, so the IMAP/SMTP tests cannot run. "
                "Run .ci/run (it apt-installs dovecot-imapd and dovecot-lmtpd) and try again."
            )
        self.dir = root / "dovecot"
        (self.dir / "mail").mkdir(parents=True)
        if os.geteuid() == 0:  # Dovecot refuses mail access as uid 0: drop to nobody
            pw = pwd.getpwnam("nobody")
            user, group = "nobody", grp.getgrgid(pw.pw_gid).gr_name
            self.run_as: tuple[int, int] | None = (pw.pw_uid, pw.pw_gid)
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            self.run_as = None
        self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.cert, self.key = make_certificate(self.dir / "tls")
        self.users_dir = self.dir / "users"  # one passwd-file per user: <login>
        self.users_dir.mkdir()
        (self.dir / "dovecot.conf").write_text(
            dovecot_conf(self.dir, self.imap_port, self.imaps_port, self.lmtp_port, user, group)
        )
        if self.run_as:
            for p in [self.dir, *self.dir.rglob("*")]:
                os.chown(p, *self.run_as)
        self.process = ServerProcess(
            "dovecot",
            [binary, "-F", "-c", str(self.dir / "dovecot.conf")],
            [self.imap_port, self.imaps_port, self.lmtp_port],
            self.dir,
            run_as=self.run_as,
        )

    def start(self) -> Dovecot:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        """Stop and start again on the same ports: every open connection is dropped."""
        self.stop()
        self.start()

    def add_user(self, login: str, password: str, quota_rule: str | None = None) -> None:
        """Add a mail user; `quota_rule` like '*:storage=1K' makes a mailbox that is full."""
        extra = f"userdb_quota_rule={quota_rule}" if quota_rule else ""
        path = self.users_dir / login.lower()
        path.write_text(f"{login}:{{PLAIN}}{password}::::::{extra}\n", encoding="utf-8")
        if self.run_as:
            os.chown(path, *self.run_as)


# --------------------------------------------------------------------------- smtp


@dataclass
class SmtpScript:
    """What the scripted SMTP server answers instead of accepting (reset per test).

    `fail_next(2)` answers 451 to the next two transactions (at DATA by default);
    `refuse(addr)` answers 550 at RCPT for that address; `drop_next(1)` closes the
    connection instead of answering.
    """

    failures: list[tuple[str, str]] = field(default_factory=list)  # (stage, reply)
    refused: dict[str, str] = field(default_factory=dict)  # lower-cased address -> reply
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(
        self, n: int, reply: str = "451 4.3.0 Try again later", stage: str = "DATA"
    ) -> None:
        with self.lock:
            self.failures += [(stage.upper(), reply)] * n

    def drop_next(self, n: int = 1, stage: str = "DATA") -> None:
        self.fail_next(n, "DROP", stage)

    def refuse(self, address: str, reply: str | None = None) -> None:
        with self.lock:
            self.refused[address.lower()] = reply or f"550 5.1.1 <{address}>: mailbox unavailable"

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()
            self.refused.clear()

    def take(self, stage: str) -> str | None:
        with self.lock:
            if self.failures and self.failures[0][0] == stage:
                return self.failures.pop(0)[1]
        return None


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class Users:
    """The Dovecot users: one passwd-file per login in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def password(self, login: str) -> str | None:
        try:
            line = (self.directory / login.lower()).read_text(encoding="utf-8")
        except OSError:
            return None
        return line.split(":", 2)[1].removeprefix("{PLAIN}")


class RelayHandler:
    """aiosmtpd handler: checks recipients, follows the script, delivers over LMTP.

    Recipients in DOMAIN must exist (a `+detail` is ignored for that check and stripped
    for delivery); any other domain goes to `sink@DOMAIN`, with X-Original-To. With
    `deliver=False` accepted messages are only counted (bench: client cost only).
    """

    def __init__(self, users: Users, lmtp_port: int, deliver: bool = True) -> None:
        self.users = users
        self.lmtp_port = lmtp_port
        self.deliver = deliver
        self.script = SmtpScript()
        self.delivered: list[Delivery] = []
        self.transactions = 0

    @staticmethod
    def _base(address: str) -> str:
        local, _, domain = address.partition("@")
        return f"{local.split('+', 1)[0]}@{domain}".lower()

    def _local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == DOMAIN

    async def _scripted(self, server: Any, stage: str) -> str | None:
        reply = self.script.take(stage)
        if reply == "DROP":
            server.transport.close()
            return "421 4.4.2 connection dropped by the test script"
        return reply

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = await self._scripted(server, "MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = await self._scripted(server, "RCPT")
        if reply:
            return reply
        with self.script.lock:
            refused = self.script.refused.get(address.lower())
        if refused:
            return refused
        if self._local(address) and self.users.password(self._base(address)) is None:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.transactions += 1
        reply = await self._scripted(server, "DATA")
        if reply:
            return reply
        body = envelope.original_content or envelope.content
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        if self.deliver:
            targets: dict[str, list[str]] = {}
            for rcpt in envelope.rcpt_tos:
                target = self._base(rcpt) if self._local(rcpt) else f"sink@{DOMAIN}"
                targets.setdefault(target, []).append(rcpt)
            received = (
                f"Received: from {session.host_name or 'unknown'} ([{HOST}])\r\n"
                f"\tby mail.{DOMAIN} (aiosmtpd test relay); {formatdate()}\r\n"
            )
            # like a receiving MTA, its own Authentication-Results on top (tests/mta.py):
            # DMARC passes when the From address is the submitting user's own
            from tests.mta import from_address, stamp

            sender = from_address(body)
            dmarc = "pass" if sender and sender == str(session.auth_data or "") else "none"
            received = stamp(received.encode(), dmarc=dmarc, domain=sender.rpartition("@")[2])
            received = received.decode()
            loop = asyncio.get_running_loop()
            try:
                for target, originals in targets.items():
                    head = received + "".join(f"X-Original-To: {o}\r\n" for o in originals)
                    await loop.run_in_executor(
                        None, self._lmtp, envelope.mail_from or "", target, head.encode() + body
                    )
            except (smtplib.SMTPException, OSError) as exc:
                return f"451 4.3.0 LMTP delivery failed: {exc}"
        self.delivered.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), body))
        return "250 2.0.0 Message accepted for delivery"

    def _lmtp(self, mail_from: str, rcpt: str, data: bytes) -> None:
        with smtplib.LMTP(HOST, self.lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail(mail_from, [rcpt], data)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)


class SmtpServer:
    """aiosmtpd in a thread of this process: AUTH PLAIN/LOGIN required, STARTTLS offered
    when a certificate is given (but not required)."""

    def __init__(
        self,
        users_dir: Path,
        lmtp_port: int,
        port: int | None = None,
        deliver: bool = True,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        logging.getLogger("mail.log").setLevel(logging.ERROR)  # plain AUTH is intended here
        self.port = port or free_port()
        self.users = Users(users_dir)
        self.handler = RelayHandler(self.users, lmtp_port, deliver=deliver)

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> Any:
            if isinstance(auth_data, LoginPassword):
                login = auth_data.login.decode("utf-8", "replace").lower()
                password = auth_data.password.decode("utf-8", "replace")
                if self.users.password(login) == password:
                    return AuthResult(success=True, auth_data=login)
            return AuthResult(success=False, handled=False)

        class QuietController(Controller):  # type: ignore[misc]
            def factory(self) -> Any:
                with warnings.catch_warnings():  # plain AUTH on loopback is intended here
                    warnings.simplefilter("ignore")
                    return super().factory()

        server_context = None
        if tls is not None:
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(*tls)

        self.controller = QuietController(
            self.handler,
            hostname=HOST,
            port=self.port,
            ready_timeout=10,
            server_hostname=f"mail.{DOMAIN}",
            ident="mentormail test relay",
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
            tls_context=server_context,
        )

    @property
    def script(self) -> SmtpScript:
        return self.handler.script

    def start(self) -> SmtpServer:
        t0 = time.monotonic()
        self.controller.start()
        TIMINGS.append(("start aiosmtpd (thread)", time.monotonic() - t0))
        return self

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_process(
    root: Path, users_dir: Path, lmtp_port: int, deliver: bool = True
) -> tuple[ServerProcess, int]:
    """The same SMTP server as a child process (for the bench: no shared GIL)."""
    d = root / "smtp"
    d.mkdir(exist_ok=True)
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "smtp", "--port", str(port)]
    argv += ["--users", str(users_dir), "--lmtp-port", str(lmtp_port)]
    argv += [] if deliver else ["--no-deliver"]
    return ServerProcess("aiosmtpd", argv, [port], d).start(), port


# --------------------------------------------------------------------------- proxy


class TcpProxy:
    """A loopback TCP proxy to `target_port` whose connections a test can cut.

    `cut()` closes every open connection now; `cut_after(n)` closes a connection once
    `n` more bytes went from the server to the client (the middle of a FETCH). `stall()`
    holds everything the server sends until `resume()`: a server that accepted the
    connection and then stopped answering.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self._conns: list[tuple[socket.socket, socket.socket]] = []
        self.accepted = 0  # connections made through the proxy so far
        self._lock = threading.Lock()
        self._budget: int | None = None
        self._closed = False
        self._flowing = threading.Event()
        self._flowing.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((HOST, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.append((client, server))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if downstream:
                    self._flowing.wait()
                    with self._lock:
                        budget = self._budget
                        if budget is not None:
                            data = data[:budget]
                            self._budget = budget - len(data)
                    if data:
                        dst.sendall(data)
                    if budget is not None and self._budget == 0:
                        self._budget = None
                        self._close(src, dst)
                        return
                else:
                    dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for pair in conns:
            self._close(*pair)

    def cut_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self._listener.close()
        self.cut()


# --------------------------------------------------------------------------- together


@dataclass
class MailUser:
    login: str
    password: str

    @property
    def address(self) -> str:
        return self.login


class MailServers:
    """Dovecot + the SMTP relay, started together; see the module docstring."""

    _counter = itertools.count(1)

    def __init__(
        self, root: Path | None = None, smtp_in_process: bool = True, deliver: bool = True
    ) -> None:
        self.host, self.domain = HOST, DOMAIN
        self.root = root or Path(tempfile.mkdtemp(prefix="mentormail-mail-"))
        os.chmod(self.root, 0o755)  # the unprivileged dovecot user must traverse it
        try:
            self.dovecot = Dovecot(self.root)
        except BaseException:
            if root is None:
                shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.smtp: SmtpServer | None = None
        self._smtp_process: ServerProcess | None = None
        self._smtp_in_process = smtp_in_process
        self._deliver = deliver
        self.smtp_port = 0

    @property
    def imap_port(self) -> int:
        return self.dovecot.imap_port

    def start(self) -> MailServers:
        t0 = time.monotonic()
        self.sink = MailUser(f"sink@{DOMAIN}", f"pw-{uuid.uuid4().hex}")  # gets other domains' mail
        self.dovecot.add_user(self.sink.login, self.sink.password)
        self.dovecot.start()
        try:
            if self._smtp_in_process:
                self.smtp = SmtpServer(
                    self.dovecot.users_dir,
                    self.dovecot.lmtp_port,
                    deliver=self._deliver,
                    tls=(self.dovecot.cert, self.dovecot.key),
                ).start()
                self.smtp_port = self.smtp.port
            else:
                self._smtp_process, self.smtp_port = start_smtp_process(
                    self.root, self.dovecot.users_dir, self.dovecot.lmtp_port, self._deliver
                )
        except BaseException:
            self.dovecot.stop()
            raise
        TIMINGS.append(("mail servers setup", time.monotonic() - t0))
        return self

    def stop(self) -> None:
        t0 = time.monotonic()
        if self.smtp is not None:
            self.smtp.stop()
        if self._smtp_process is not None:
            self._smtp_process.stop()
        self.dovecot.stop()
        TIMINGS.append(("mail servers teardown", time.monotonic() - t0))
        if os.environ.get("MAILTEST_KEEP"):
            print(f"\nkept mail server dir: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_user(self, name: str = "user", quota_rule: str | None = None) -> MailUser:
        """A fresh mailbox, e.g. new_user('alice') -> alice-3-1a2b3c@example.test."""
        login = f"{name}-{next(self._counter)}-{uuid.uuid4().hex[:6]}@{DOMAIN}"
        password = f"pw-{uuid.uuid4().hex}"
        self.dovecot.add_user(login, password, quota_rule)
        return MailUser(login, password)

    def imap(self, user: MailUser) -> Any:
        """A logged-in imapclient connection (plain, loopback) as `user`."""
        from imapclient import IMAPClient

        client = IMAPClient(HOST, port=self.imap_port, ssl=False, timeout=10)
        client.login(user.login, user.password)
        return client

    def messages(self, user: MailUser, folder: str = "INBOX") -> list[EmailMessage]:
        """Every message in `folder` (`/` between levels), parsed, in UID order; [] when
        the folder does not exist."""
        client = self.imap(user)
        try:
            delimiter = client.list_folders("", "")[0][1].decode()
            folder = folder.replace("/", delimiter)
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        finally:
            client.logout()
        parser = BytesParser(policy=email.policy.default)
        return [parser.parsebytes(data[uid][b"BODY[]"]) for uid in uids]

    def append(self, user: MailUser, data: bytes, when: Any = None) -> None:
        """Put `data` into `user`'s INBOX as a delivering MTA would (IMAP APPEND)."""
        client = self.imap(user)
        try:
            client.append("INBOX", data, msg_time=when)
        finally:
            client.logout()

    def send(self, user: MailUser, to: list[str], data: bytes) -> None:
        """Submit a message as `user` through the SMTP relay."""
        with smtplib.SMTP(HOST, self.smtp_port, timeout=10) as s:
            s.login(user.login, user.password)
            s.sendmail(user.login, to, data)

    def wait_for(
        self,
        user: MailUser,
        criteria: list[Any],
        folder: str = "INBOX",
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[int]:
        """UIDs of `count` messages matching `criteria` in `folder`, waiting for delivery."""
        client = self.imap(user)
        try:
            client.select_folder(folder, readonly=True)
            deadline = time.monotonic() + timeout
            while True:
                uids = client.search(criteria)
                if len(uids) >= count or time.monotonic() > deadline:
                    return list(uids)
                time.sleep(0.05)
                client.noop()
        finally:
            client.logout()


# --------------------------------------------------------------------------- configs


def mail_section(
    servers: MailServers, user: MailUser, secret_dir: Path, **overrides: Any
) -> dict[str, Any]:
    """The `mail:` section of a program config for `user` on these servers.

    The password goes into a 0600 file under `secret_dir` (password_file), never the config.
    """
    secret = secret_dir / f"{user.login}.password"
    secret.write_text(user.password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    section: dict[str, Any] = {
        "type": "imap",
        "host": HOST,
        "port": servers.imap_port,
        "security": "none",
        "username": user.login,
        "password_file": str(secret),
        "timeout": 10,
        "smtp": {
            "host": HOST,
            "port": servers.smtp_port,
            "security": "none",
            "retry_delays": [0.01, 0.02, 0.04],
        },
    }
    smtp = overrides.pop("smtp", None)
    section.update(overrides)
    if smtp:
        section["smtp"] = {**section["smtp"], **smtp}
    return section


def program_config(
    servers: MailServers, user: MailUser, directory: Path, text: str | None = None, **overrides: Any
) -> Path:
    """A program config file in `directory` whose sender is `user` and whose mail is IMAP.

    `text` is a config in the tests' YAML format (default: config/minimal.yaml); its
    sender and `mail:` line are replaced.
    """
    import json

    from tests.mta import SECURITY_YAML

    source = text or (Path(__file__).resolve().parents[1] / "config" / "minimal.yaml").read_text()
    mail = json.dumps(mail_section(servers, user, directory, **overrides))
    # the relay's Authentication-Results are trusted, unless the config says otherwise
    lines = [] if "\nsecurity:" in "\n" + source else [SECURITY_YAML.rstrip("\n")]
    for line in source.splitlines():
        if line.lstrip().startswith("sender:"):
            line = f"  sender: {{name: Mentoring Program, email: {user.login}}}"
        elif line.startswith("mail:"):
            line = f"mail: {mail}"
        lines.append(line)
    path = directory / "program.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_imap_mailbox(config_path: Path) -> Any:
    """The ImapMailbox a program config describes (as the agent opens it)."""
    from agent.config.loading import load_config
    from connectors.registry import open_mailbox

    return open_mailbox(load_config(config_path))


# --------------------------------------------------------------------------- pytest

try:
    import pytest
except ImportError:  # bench/mail.py outside a test environment
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def mail_servers() -> Iterator[MailServers]:
        """Dovecot + scripted aiosmtpd for the whole session (fails when Dovecot is missing)."""
        try:
            servers = MailServers().start()
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            yield servers
        finally:
            servers.stop()

    @pytest.fixture
    def smtp_script(mail_servers: MailServers) -> Iterator[SmtpScript]:
        """The SMTP server's script, empty at the start and reset after the test."""
        assert mail_servers.smtp is not None
        script = mail_servers.smtp.script
        script.reset()
        yield script
        script.reset()

    @pytest.fixture
    def imap_mailbox(mail_servers: MailServers, tmp_path: Path) -> Iterator[OpenMailbox]:
        """Factory: `imap_mailbox(user, **mail_options)` -> an ImapMailbox, closed after the test."""
        opened: list[Any] = []

        def make(user: MailUser, **overrides: Any) -> Any:
            directory = Path(tempfile.mkdtemp(prefix="program-", dir=tmp_path))
            mailbox = open_imap_mailbox(program_config(mail_servers, user, directory, **overrides))
            opened.append(mailbox)
            return mailbox

        yield make
        for mailbox in opened:
            mailbox.close()

    def pytest_terminal_summary(terminalreporter: Any) -> None:
        if TIMINGS:
            terminalreporter.section("mail server timings (tests/mailservers.py)")
            for what, secs in TIMINGS:
                if not what.startswith("start aiosmtpd"):
                    terminalreporter.write_line(f"{secs:7.3f}s  {what}")


# --------------------------------------------------------------------------- script


def _smtp_main(argv: list[str]) -> None:
    """`python tests/mailservers.py smtp --port P --users DIR --lmtp-port L [--no-deliver]`."""
    p = argparse.ArgumentParser(prog="mailservers.py smtp")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users", type=Path, required=True)
    p.add_argument("--lmtp-port", type=int, required=True)
    p.add_argument("--no-deliver", action="store_true")
    args = p.parse_args(argv)
    server = SmtpServer(args.users, args.lmtp_port, args.port, deliver=not args.no_deliver).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.mta
    if sys.argv[1:2] == ["smtp"]:
        _smtp_main(sys.argv[2:])
    else:
        sys.exit(f"usage: {sys.argv[0]} smtp --port P --users DIR --lmtp-port L [--no-deliver]")
