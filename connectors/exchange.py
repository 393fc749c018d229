"""On-premises Exchange Server (2016, 2019, Subscription Edition) over EWS, with exchangelib.

Two connectors share the connection set up here: `type: exchange` for `mail:`
(`connectors.exchange_mail.ExchangeMailbox`) and for `calendar:`
(`connectors.exchange_calendar.ExchangeCalendar`); both import this module, never the
other way round.
Exchange Online blocks EWS since October 2026: Microsoft 365 mailboxes use the `graph`
connectors instead.

Importing this module (as `mentormail validate` does to read the options) does not import
exchangelib; that happens on the first call to the server.

Connecting:

- The EWS URL is given (`service_endpoint`); there is no autodiscover. `version` ("15.2")
  skips exchangelib's version probe (one ConvertId request otherwise).
- `auth_type` ntlm (default), basic, or oauth: the OAuth 2.0 client credentials flow of an
  Entra ID app registration, for servers with hybrid modern authentication. The token is
  asked for the EWS host itself (`https://<host>/.default`), the audience hybrid modern
  authentication expects, not outlook.office365.com.
- `access` delegate (the login has FullAccess, and Send As, on the program mailbox) or
  impersonation (the ApplicationImpersonation role, scoped to the program mailbox).
- `ca_file` trusts an internal CA for this host only, through exchangelib's documented
  transport adapter hook (`BaseProtocol.HTTP_ADAPTER_CLS`); other hosts keep the default
  trust store.
- Retry policy: exchangelib's FailFast. A busy server (ErrorServerBusy, HTTP 503), a refused
  login or an unreachable server fails the call at once with a ConnectorError, and the
  agent tries the action again on its next tick. FaultTolerance would sleep inside a tick
  for up to its max_wait and treats a 401 as "busy", which hides a wrong password.
- Every failure is one line, `Exchange <endpoint> <mailbox>: <what failed>: <EWS response
  code>: <message>`, never with a password or client secret in it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ConnectorError

if TYPE_CHECKING:
    from agent.config.model import Config
    from connectors.smtp import Credentials

log = logging.getLogger(__name__)

# what EWS answers for an item or occurrence that is not there (any more)
GONE = frozenset(
    {
        "ErrorItemNotFound",
        "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
        "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
    }
)
T = TypeVar("T")


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def code_of(exc: BaseException) -> str:
    """The EWS response code of an exchangelib error (its class is named after it)."""
    return type(exc).__name__


# --- options ----------------------------------------------------------------------------


class ExchangeOptions(BaseModel):
    """What both Exchange connectors need: where EWS is, whose mailbox, how to log in."""

    model_config = ConfigDict(extra="forbid")
    service_endpoint: Annotated[str, Field(pattern=r"^https?://[^\s/]+/\S*$")]
    mailbox: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]  # primary SMTP address
    username: str | None = None  # DOMAIN\user or user@domain (UPN); not for oauth
    password_env: str | None = None
    password_file: Path | None = None
    auth_type: Literal["ntlm", "basic", "oauth"] = "ntlm"
    client_id: str | None = None  # oauth: the app registration's application (client) id
    tenant_id: str | None = None  # oauth: the directory (tenant) id
    client_secret_env: str | None = None  # oauth: variable holding the client secret
    client_secret_file: Path | None = None
    access: Literal["delegate", "impersonation"] = "delegate"
    version: Annotated[str | None, Field(pattern=r"^\d+\.\d+(\.\d+){0,2}$")] = None
    ca_file: Path | None = None  # PEM bundle of an internal CA for this server
    timeout: float = 60.0  # seconds per HTTP request

    @model_validator(mode="after")
    def _secrets(self) -> ExchangeOptions:
        if self.auth_type == "oauth":
            missing = [k for k in ("client_id", "tenant_id") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"auth_type oauth needs {' and '.join(missing)}")
            count = (self.client_secret_env is not None) + (self.client_secret_file is not None)
            if count != 1:
                raise ValueError(
                    "auth_type oauth needs one of client_secret_env (an environment "
                    "variable's name) or client_secret_file; the secret never goes in the config"
                )
            if self.password_env is not None or self.password_file is not None:
                raise ValueError("auth_type oauth uses the client secret, not a password")
            if self.access != "impersonation":
                raise ValueError(
                    "auth_type oauth logs in as an application, which reaches the mailbox "
                    "only by impersonation: set access: impersonation"
                )
            return self
        if not self.username:
            raise ValueError(f"auth_type {self.auth_type} needs a username")
        count = (self.password_env is not None) + (self.password_file is not None)
        if count == 0:
            raise ValueError(
                "set password_env (an environment variable's name) or password_file; "
                "the password itself never goes in the config"
            )
        if count > 1:
            raise ValueError("set only one of password_env, password_file")
        return self


# --- TLS trust for an internal CA ----------------------------------------------------------

_CA_FILES: dict[str, str] = {}  # host -> CA bundle, from the configs that set ca_file


def trust_ca(host: str, ca_file: str) -> None:
    """Verify `host` against `ca_file` in every exchangelib session from now on.

    exchangelib creates its own requests sessions; its documented way to change TLS
    validation is a transport adapter class in `BaseProtocol.HTTP_ADAPTER_CLS`. The
    adapter installed here changes `verify` only for hosts registered with a CA file and
    leaves every other host on the default trust store. Both `cert_verify` and
    `get_connection_with_tls_context` (requests >= 2.32.3) see the CA file.
    """
    from exchangelib.protocol import BaseProtocol

    _CA_FILES[host.lower()] = ca_file
    if getattr(BaseProtocol.HTTP_ADAPTER_CLS, "mentormail_ca", False):
        return
    base: Any = BaseProtocol.HTTP_ADAPTER_CLS

    class CaFileAdapter(base):  # type: ignore[misc, valid-type]
        mentormail_ca = True

        @staticmethod
        def _verify(url: str, verify: Any) -> Any:
            if verify is not True:
                return verify  # verification turned off or a CA given by the caller
            return _CA_FILES.get((urlsplit(url).hostname or "").lower(), verify)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn=conn, url=url, verify=self._verify(url, verify), cert=cert)

        def get_connection_with_tls_context(
            self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
        ) -> Any:
            return super().get_connection_with_tls_context(
                request, self._verify(request.url, verify), proxies=proxies, cert=cert
            )

    BaseProtocol.HTTP_ADAPTER_CLS = CaFileAdapter


# --- the connection ----------------------------------------------------------------------


def _connect_reason(text: str) -> str:
    """The root cause inside a requests/urllib3 error text, e.g. `Connection refused`."""
    for pattern in (
        r"\[SSL: [A-Z_]+\] ([^(')\"]+)",
        r"\[Errno -?\d+\] ([^'\")]+)",
        r"(Name or service not known|Temporary failure in name resolution|timed out)",
    ):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return one_line(text, 200)


def describe(exc: BaseException, username: str) -> str:
    """What an exchangelib (or requests/oauthlib) exception means, for an operator."""
    from exchangelib import errors

    text = str(exc)
    if isinstance(exc, errors.UnauthorizedError):
        return f"login as {username} refused (401 Unauthorized)"
    if isinstance(exc, errors.ErrorServerBusy) and text.startswith("Reraised from"):
        cause = re.search(r"\((.*)\)$", text)  # exchangelib's wrapper around HTTP 503 etc.
        detail = cause.group(1) if cause else text
        return f"the server failed ({one_line(detail, 200)}); the action is tried again later"
    if isinstance(exc, errors.ErrorServerBusy):
        wait = f", asks to wait {exc.back_off:g} s" if exc.back_off else ""
        return f"ErrorServerBusy: the server is busy{wait}; the action is tried again later"
    if isinstance(exc, errors.ErrorTimeoutExpired) and "Reraised from" in text:
        if "timed out" in text.lower():  # connect or read timeout
            return "no answer in time (timed out); the action is tried again later"
        return f"cannot connect: {_connect_reason(text)}"
    if isinstance(exc, errors.ErrorInternalServerTransientError):
        return f"the server failed ({one_line(text, 200)}); the action is tried again later"
    if isinstance(exc, errors.RedirectError):
        return f"the server redirects to {exc.url}: is service_endpoint right?"
    if isinstance(exc, errors.CASError):
        return f"the server failed (CAS error {exc.cas_error})"
    if isinstance(exc, errors.MalformedResponseError):
        status = re.search(r"Code: (\d+)", text)
        where = f"HTTP {status.group(1)}" if status else one_line(text, 200)
        return f"unexpected answer ({where}): is service_endpoint an EWS URL?"
    if isinstance(exc, errors.ResponseMessageError | errors.SOAPError):
        return f"{code_of(exc)}: {one_line(text, 300)}"
    if isinstance(exc, errors.TransportError):  # TLS errors and other transport failures
        if "SSL" in text or "certificate" in text.lower():
            return f"TLS failed: {_connect_reason(text)} (an internal CA needs ca_file)"
        return f"cannot connect: {_connect_reason(text)}"
    module = type(exc).__module__
    if module.startswith("oauthlib"):
        detail = getattr(exc, "description", None) or text
        return (
            f"the OAuth token request was refused ({getattr(exc, 'error', code_of(exc))}: {detail})"
        )
    if module.startswith(("requests", "urllib3")) or isinstance(exc, OSError):
        return f"cannot connect: {_connect_reason(text)}"
    return f"{code_of(exc)}: {one_line(text, 300)}"


class Ews:
    """One EWS login to the program mailbox; every server call goes through `call`."""

    def __init__(self, options: ExchangeOptions, config: Config) -> None:
        from connectors.smtp import Credentials  # ssl and smtplib: not for `validate`

        self.options = options
        self.endpoint = options.service_endpoint
        self.mailbox = options.mailbox
        resolve = config.resolve
        self.password: Credentials | None = None
        self.client_secret: Credentials | None = None
        if options.auth_type == "oauth":
            self.client_secret = Credentials(
                options.client_id,
                password_env=options.client_secret_env,
                password_file=resolve(options.client_secret_file)
                if options.client_secret_file
                else None,
            )
            self.client_secret.secret()  # a missing variable or file is reported at open
        else:
            self.password = Credentials(
                options.username,
                password_env=options.password_env,
                password_file=resolve(options.password_file) if options.password_file else None,
            )
            self.password.secret()
        self.ca_file = resolve(options.ca_file) if options.ca_file else None
        self._account: Any = None

    @property
    def where(self) -> str:
        return f"Exchange {self.endpoint} {self.mailbox}"

    @property
    def login(self) -> str:
        if self.options.auth_type == "oauth":
            return f"app {self.options.client_id}"
        return str(self.options.username)

    def scrub(self, text: str) -> str:
        for credentials in (self.password, self.client_secret):
            if credentials is not None:
                text = credentials.scrub(text)
        return text

    def error(self, what: str, detail: str) -> ConnectorError:
        return ConnectorError(self.scrub(one_line(f"{self.where}: {what}: {detail}", 600)))

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run exchangelib calls; whatever goes wrong becomes a one-line ConnectorError."""
        try:
            return action()
        except ConnectorError:
            raise
        except Exception as exc:  # exchangelib, requests and oauthlib raise many kinds
            if code_of(exc) == "UnauthorizedError":
                self.close()  # the next call logs in again and reads a rotated password
            raise self.error(what, describe(exc, self.login)) from None

    def account(self) -> Any:
        """The exchangelib Account (made once; no request is sent for it)."""
        if self._account is None:
            self._account = self.call("setting up the connection", self._make_account)
        return self._account

    def _credentials(self) -> Any:
        import exchangelib

        if self.client_secret is not None:
            audience = f"https://{urlsplit(self.endpoint).hostname}/.default"

            class OnPremisesOAuth2Credentials(exchangelib.OAuth2Credentials):
                """Client credentials for the on-premises EWS host (hybrid modern auth)."""

                @property
                def scope(self) -> list[str]:
                    return [audience]

            return OnPremisesOAuth2Credentials(
                client_id=self.options.client_id,
                client_secret=self.client_secret.secret(),
                tenant_id=self.options.tenant_id,
                identity=exchangelib.Identity(primary_smtp_address=self.mailbox),
            )
        assert self.password is not None
        return exchangelib.Credentials(str(self.options.username), self.password.secret())

    def _make_account(self) -> Any:
        import exchangelib

        if self.ca_file is not None:
            trust_ca(urlsplit(self.endpoint).hostname or "", str(self.ca_file))
        auth = {"ntlm": exchangelib.NTLM, "basic": exchangelib.BASIC, "oauth": exchangelib.OAUTH2}
        version = None
        if self.options.version:
            numbers = [int(n) for n in self.options.version.split(".")]
            version = exchangelib.Version(build=exchangelib.Build(*numbers))
        configuration = exchangelib.Configuration(
            service_endpoint=self.endpoint,
            credentials=self._credentials(),
            auth_type=auth[self.options.auth_type],
            version=version,
            retry_policy=exchangelib.FailFast(),
        )
        access = {"delegate": exchangelib.DELEGATE, "impersonation": exchangelib.IMPERSONATION}
        account = exchangelib.Account(
            primary_smtp_address=self.mailbox,
            config=configuration,
            autodiscover=False,
            access_type=access[self.options.access],
            default_timezone=exchangelib.UTC,
        )
        account.protocol.TIMEOUT = self.options.timeout  # instance value, this endpoint only
        return account

    def check_login(self) -> tuple[str, bool, str]:
        """('exchange login', ok, detail): a GetFolder on the mailbox's root folder."""
        try:
            account = self.account()
            self.call("logging in", lambda: account.root.refresh())
            build = self.call("reading the server version", lambda: account.version.build)
        except ConnectorError as exc:
            return ("exchange login", False, str(exc))
        how = f"{self.options.auth_type}, {self.options.access}"
        return ("exchange login", True, f"{self.where} as {self.login} ({how}); build {build}")

    def close(self) -> None:
        """Close the HTTP sessions; never raises. A later call opens new ones."""
        account, self._account = self._account, None
        if account is None:
            return
        try:
            from exchangelib.protocol import Protocol

            account.protocol.close()
            del Protocol[account.protocol.config]  # forget the cached login for this endpoint
        except Exception as exc:  # closing must not fail a tick
            log.debug("%s: close: %s", self.where, exc)


@contextmanager
def reported(lines: list[tuple[str, bool, str]], what: str, ews: Ews) -> Iterator[None]:
    """Turn a failure inside the block into a FAIL line (check() reports, it never raises)."""
    try:
        yield
    except ConnectorError as exc:
        lines.append((what, False, str(exc)))
    except Exception as exc:
        lines.append((what, False, ews.scrub(one_line(f"{type(exc).__name__}: {exc}"))))


def utc(value: datetime) -> datetime:
    """A plain aware datetime in UTC (also from exchangelib's EWSDateTime)."""
    if type(value) is not datetime:
        value = datetime.fromtimestamp(value.timestamp(), tz=UTC)
    return value.astimezone(UTC)
