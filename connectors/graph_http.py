"""What the Microsoft Graph mail and calendar connectors share: options, sign-in, HTTP.

Sign-in is the OAuth 2.0 client-credentials flow (app-only, no user) through MSAL:
`ConfidentialClientApplication(client_id, authority=https://login.microsoftonline.com/
<tenant>).acquire_token_for_client(["https://graph.microsoft.com/.default"])`, with a
client secret (from an environment variable or a file) or a certificate (a PEM file with
the private key, and the certificate's SHA-1 thumbprint). MSAL keeps the token in memory
and renews it shortly before it expires. Instance discovery is switched off
(`instance_discovery=False`: login.microsoftonline.com is Microsoft's own host, and MSAL
would otherwise call `/common/discovery/instance` after a failed sign-in to look for
authority aliases), so the only other request is the tenant's OpenID configuration
(`/<tenant>/v2.0/.well-known/openid-configuration`), read once per process.

Every Graph call goes through `GraphClient.request`:

- 429, 503 and 504 are retried after the server's Retry-After (seconds or an HTTP date;
  without one 1, 2, 4 ... s), at most `retries` times and never waiting longer than
  `max_retry_wait` at once; then it fails.
- 401 drops the cached token and tries once more with a new one (a token revoked or
  expired early); a second 401 fails.
- Anything else that is not 2xx is a `GraphError` (a ConnectorError) on one line:
  `Microsoft Graph <mailbox>: <what failed>: <status> <Graph error code>: <message>`.
  Tokens and secrets never appear in it.
- Links the server hands back (@odata.nextLink, @odata.deltaLink) are followed only when
  they point at graph.microsoft.com, so the bearer token never goes anywhere else.

msal and requests are imported when the first request is made, never on import, so
`mentormail validate` can read the Options without them installed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ConnectorError

if TYPE_CHECKING:
    from requests import Response, Session

    from agent.config.model import Config

log = logging.getLogger(__name__)

AUTHORITY_HOST = "https://login.microsoftonline.com"
GRAPH_ROOT = "https://graph.microsoft.com/"
GRAPH_BASE = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRY_STATUSES = frozenset({429, 503, 504})
PREFER_UTC = {"Prefer": 'outlook.timezone="UTC"'}
USER_AGENT = "mentormail (Microsoft Graph connector)"
_QUERY_SAFE = "$',:()/@"  # kept as they are in query strings; spaces become %20


class GraphOptions(BaseModel):
    """What both Graph connectors need: the app registration and the program mailbox."""

    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(min_length=1)  # directory (tenant) ID or a verified domain
    client_id: str = Field(min_length=1)  # application (client) ID of the app registration
    client_secret_env: str | None = None  # name of the environment variable with the secret
    client_secret_file: Path | None = None  # a file holding the secret, relative to the config
    certificate_file: Path | None = None  # PEM: the private key (and the certificate)
    certificate_thumbprint: str | None = None  # SHA-1 thumbprint shown in Entra, hex
    mailbox: str = Field(min_length=3)  # the program mailbox: UPN or primary address
    timeout: float = 30.0
    retries: int = Field(default=3, ge=0, le=10)  # after 429/503/504
    max_retry_wait: float = 120.0  # seconds; a longer Retry-After fails at once

    @model_validator(mode="after")
    def _one_credential(self) -> GraphOptions:
        given = [self.client_secret_env, self.client_secret_file, self.certificate_file]
        count = sum(v is not None for v in given)
        if count == 0:
            raise ValueError(
                "set client_secret_env (an environment variable's name), client_secret_file "
                "or certificate_file; the secret itself never goes in the config"
            )
        if count > 1:
            raise ValueError(
                "set only one of client_secret_env, client_secret_file, certificate_file"
            )
        if (self.certificate_file is None) != (self.certificate_thumbprint is None):
            raise ValueError("certificate_file and certificate_thumbprint go together")
        if self.certificate_thumbprint is not None and not re.fullmatch(
            r"[0-9A-Fa-f]{40}", self.certificate_thumbprint.replace(":", "")
        ):
            raise ValueError("certificate_thumbprint: expected 40 hex digits (SHA-1)")
        return self


class GraphError(ConnectorError):
    """Graph answered with an error; `status` and `code` let callers handle known cases."""

    def __init__(self, message: str, status: int, code: str, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail  # "<status> <code>: <message>", for DeliveryRefused replies


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def odata_quote(value: str) -> str:
    """A string literal's content for $filter: single quotes doubled (OData ABNF)."""
    return value.replace("'", "''")


def path_id(value: str) -> str:
    """A Graph id (message, folder, event) as one URL path segment."""
    return quote(value, safe="=")


def short_id(value: str) -> str:
    """The end of a long Graph id, enough to tell messages apart in a message."""
    return value if len(value) <= 16 else "..." + value[-12:]


def utc_text(value: datetime) -> str:
    """An aware time as Graph's ISO 8601 UTC text, e.g. 2027-03-02T14:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def windows_zone(iana: str) -> str:
    """The Windows time zone name Exchange stores for an IANA zone (CLDR windowsZones).

    Graph documents Windows names for dateTimeTimeZone and accepts only some IANA names
    on create and update, so events are written with the Windows name. tzlocal carries
    the CLDR table; a zone missing there is passed on as it is.
    """
    if iana in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return "UTC"
    from tzlocal.windows_tz import tz_win

    return str(tz_win.get(iana, iana))


def zone_of(name: str | None) -> tzinfo:
    """A Graph timeZone value (Windows or IANA name) as a tzinfo; UTC when empty."""
    if not name or name in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        return UTC
    from tzlocal.windows_tz import win_tz

    iana = str(win_tz.get(name, name))
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConnectorError(f"unknown time zone {name!r} in a Graph answer") from None


def graph_time(value: Mapping[str, Any]) -> datetime:
    """A dateTimeTimeZone ({"dateTime": "2027-03-02T14:00:00.0000000", "timeZone": "UTC"})."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value["dateTime"]))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(value.get("timeZone")))
    return moment.astimezone(UTC)


def offset_time(text: str) -> datetime:
    """A DateTimeOffset ("2027-03-02T14:00:00Z", maybe with 7 fraction digits), in UTC."""
    moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _retry_after(response: Response, attempt: int) -> float:
    """Seconds to wait before the next attempt: Retry-After, else 1, 2, 4 ..."""
    value = (response.headers.get("Retry-After") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
            except (TypeError, ValueError):
                pass
    return float(2**attempt)


class GraphClient:
    """One app sign-in and one HTTP session for one program mailbox. Not thread-safe."""

    def __init__(
        self,
        options: GraphOptions,
        config: Config,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.mailbox = options.mailbox
        self.sleep = sleep
        from connectors.smtp import Credentials  # ssl and smtplib: not for `validate`

        secret_file = options.client_secret_file or options.certificate_file
        self.credentials = Credentials(
            options.client_id,
            password_env=options.client_secret_env,
            password_file=config.resolve(secret_file) if secret_file else None,
        )
        self.credentials.secret()  # a missing variable or file is reported at open
        self._app: Any = None
        self._session: Session | None = None
        self._tokens: set[str] = set()  # every access token seen, scrubbed from messages

    # -- messages -----------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"Microsoft Graph {self.mailbox}"

    def scrub(self, text: str) -> str:
        text = self.credentials.scrub(text)
        for token in self._tokens:
            text = text.replace(token, "***")
        return text

    def error(self, what: str, detail: str) -> ConnectorError:
        return ConnectorError(self.scrub(one_line(f"{self.where}: {what}: {detail}")))

    def user_path(self, rest: str = "") -> str:
        """`/users/<mailbox><rest>`: every call acts on the program mailbox."""
        return f"/users/{quote(self.mailbox, safe='@')}{rest}"

    # -- sign-in ------------------------------------------------------------------------

    def _credential(self) -> str | dict[str, str]:
        secret = self.credentials.secret()
        if self.options.certificate_file is None:
            return secret
        thumbprint = (self.options.certificate_thumbprint or "").replace(":", "")
        return {"private_key": secret, "thumbprint": thumbprint}

    def _application(self) -> Any:
        if self._app is None:
            import msal
            import requests

            authority = f"{AUTHORITY_HOST}/{self.options.tenant_id}"
            what = f"signing in to tenant {self.options.tenant_id}"
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.options.client_id,
                    client_credential=self._credential(),
                    authority=authority,
                    # login.microsoftonline.com needs no instance discovery, and without
                    # this MSAL looks up authority aliases after every failed sign-in
                    instance_discovery=False,
                    timeout=self.options.timeout,
                )
            except ValueError as exc:  # unknown tenant, unreadable private key
                text = str(exc)
                if "authority configuration" in text:
                    text = f"{AUTHORITY_HOST} does not know this tenant (check tenant_id)"
                raise self.error(what, text) from None
            except requests.RequestException as exc:
                raise self.error(what, f"cannot reach {AUTHORITY_HOST}: {_reason(exc)}") from None
        return self._app

    def token(self) -> str:
        """An access token for Graph: MSAL's cached one, else a new one."""
        import requests

        app = self._application()
        what = f"getting a token for app {self.options.client_id}"
        try:
            result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except requests.RequestException as exc:
            raise self.error(what, f"cannot reach {AUTHORITY_HOST}: {_reason(exc)}") from None
        except ValueError as exc:
            raise self.error(what, str(exc)) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            result = result if isinstance(result, dict) else {}
            description = str(result.get("error_description") or "").splitlines()
            reason = description[0] if description else "no reason given"
            raise self.error(f"{what} refused", f"{result.get('error', 'error')}: {reason}")
        self._tokens.add(str(token))
        return str(token)

    def forget_token(self) -> None:
        """Drop the cached access token, so the next request signs in again."""
        if self._app is None:
            return
        cache = self._app.token_cache
        for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(item)

    # -- HTTP ---------------------------------------------------------------------------

    def session(self) -> Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        return self._session

    def url(self, target: str, params: Mapping[str, str] | None = None) -> str:
        """The absolute URL for a path under /v1.0, or a link Graph handed back."""
        if target.startswith("https://"):
            if not target.startswith(GRAPH_ROOT):
                raise ConnectorError(f"{self.where}: refusing to follow a link off Graph: {target}")
            url = target
        else:
            url = GRAPH_BASE + target
        if params:
            joiner = "&" if "?" in url else "?"
            url += joiner + urlencode(dict(params), quote_via=quote, safe=_QUERY_SAFE)
        return url

    def request(
        self,
        method: str,
        target: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> Response:
        """One Graph call, with the retries described in the module docstring."""
        import requests

        url = self.url(target, params)
        refreshed = False
        attempt = 0
        while True:
            sent = {"Authorization": f"Bearer {self.token()}", **(headers or {})}
            try:
                response = self.session().request(
                    method, url, json=json, data=data, headers=sent, timeout=self.options.timeout
                )
            except requests.Timeout:
                raise self.error(what, f"no answer within {self.options.timeout:g} s") from None
            except requests.RequestException as exc:
                raise self.error(what, f"cannot reach Graph: {_reason(exc)}") from None
            status = response.status_code
            if status < 300:
                return response
            if status == 401 and not refreshed:
                refreshed = True
                log.info("%s: %s: 401, signing in again", self.where, what)
                self.forget_token()
                continue
            if status in retry_statuses and attempt < self.options.retries:
                wait = _retry_after(response, attempt)
                if wait <= self.options.max_retry_wait:
                    attempt += 1
                    log.warning(
                        "%s: %s: %d, trying again in %g s (retry %d of %d)",
                        self.where,
                        what,
                        status,
                        wait,
                        attempt,
                        self.options.retries,
                    )
                    self.sleep(wait)
                    continue
            raise self.http_error(what, response)

    def http_error(self, what: str, response: Response) -> GraphError:
        status = response.status_code
        code, message = "", ""
        try:
            body = response.json()
            error = body.get("error", {}) if isinstance(body, dict) else {}
            if isinstance(error, dict):
                code, message = str(error.get("code", "")), str(error.get("message", ""))
        except ValueError:
            message = response.text[:200]
        detail = f"{status} {code}".strip() + (f": {message}" if message else "")
        if status == 403:
            detail += (
                " (check the app's application permissions, admin consent, and that its "
                "Exchange RBAC scope or application access policy covers the mailbox)"
            )
        if status == 429 or status >= 500:
            retry = response.headers.get("Retry-After")
            detail += f" (gave up after {self.options.retries} retries" + (
                f", Retry-After: {retry})" if retry else ")"
            )
        detail = self.scrub(one_line(detail))
        message_text = self.scrub(one_line(f"{self.where}: {what}: {detail}"))
        return GraphError(message_text, status, code, detail)

    def json(self, response: Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise self.error(what, "unreadable answer: not JSON") from None
        if not isinstance(body, dict):
            raise self.error(what, "unreadable answer: not a JSON object")
        return body

    def get(
        self,
        target: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.json(self.request("GET", target, what, params=params, headers=headers), what)

    def pages(
        self,
        target: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following @odata.nextLink."""
        url: str | None = target
        query = params
        while url:
            body = self.get(url, what, params=query, headers=headers)
            yield body
            link = body.get("@odata.nextLink")
            url, query = (str(link) if link else None), None

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


def _reason(exc: BaseException) -> str:
    """The root cause of a requests error, e.g. `Connection refused`."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return found.group(1).strip() if found else one_line(f"{type(exc).__name__}: {text}", 200)


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into pieces of at most `size`."""
    while start < end:
        piece = min(end, start + size)
        yield start, piece
        start = piece
