"""Signing in to Google Workspace and calling its REST APIs, for the Gmail and Calendar connectors.

Two ways in, exactly one per connector (`GoogleOptions`):

- `service_account_file` + `delegate`: a service account's JSON key, acting as the program
  mailbox `delegate` through domain-wide delegation. The Workspace admin authorizes the
  service account's client ID for the scopes below (Admin console > Security > Access and
  data control > API controls > Domain-wide delegation).
- `token_file`: an authorized-user OAuth token (JSON with client_id, client_secret,
  refresh_token), issued to the program mailbox itself with the scopes below.

The file is read when the connector opens (a missing or unreadable file is reported then);
the access token is fetched on first use and refreshed by google-auth when it expires. Both
files are secrets: their key, client secret, refresh and access tokens never appear in an
error message or log line.

Scopes, the smallest that cover what the connectors do:

- Gmail: `gmail.modify` (read, label, send; no permanent deletion, no settings).
- Calendar: `calendar.events` (create, change, delete events and single meetings) and
  `calendar.freebusy` (participants' busy time, nothing about their events).

Every call goes through the library's own retry (`execute(num_retries=...)`): 429, 5xx and
403 rateLimitExceeded / userRateLimitExceeded are retried with exponential backoff
(googleapiclient.http._should_retry_response). Batches (multipart/mixed, at most 50 calls)
retry the batch request itself the same way, and resend a single failed part on its own.
What still fails becomes a one-line ConnectorError naming the API, the mailbox or calendar,
what failed and the API's own message; a GoogleApiError when the API answered, so callers
can tell a 404 or 409 from a failure.

googleapiclient, google.auth and httplib2 are imported only when a connector is opened, so
`mentormail validate` can read the Options without them.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

from connectors.base import ConnectorError

if TYPE_CHECKING:
    from agent.config.model import Config

log = logging.getLogger(__name__)

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
NUM_RETRIES = 5  # the library waits rand() * 2**n s before retry n: about a minute at most
BATCH_LIMIT = 50  # calls per batch request (Gmail advises at most 50)


class GoogleOptions(BaseModel):
    """The options both Google connectors share: how to sign in."""

    model_config = ConfigDict(extra="forbid")
    service_account_file: Path | None = None  # a service account's JSON key
    delegate: str | None = None  # the program mailbox the service account acts as
    token_file: Path | None = None  # an authorized-user OAuth token (JSON)
    timeout: float = 30.0  # seconds per HTTP request

    @model_validator(mode="after")
    def _one_way_in(self) -> GoogleOptions:
        if (self.service_account_file is None) == (self.token_file is None):
            raise ValueError(
                "set exactly one of service_account_file (with delegate: the program "
                "mailbox, through domain-wide delegation) or token_file (an OAuth token of "
                "the program mailbox)"
            )
        if self.service_account_file is not None and not self.delegate:
            raise ValueError(
                "service_account_file needs delegate: the program mailbox the service "
                "account acts as (domain-wide delegation)"
            )
        if self.token_file is not None and self.delegate:
            raise ValueError(
                "delegate goes with service_account_file; a token_file is one mailbox's"
            )
        return self


class GoogleApiError(ConnectorError):
    """The API answered with an HTTP error; `status` and `reason` let callers pick a way on."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # the first error's reason, e.g. "notFound", "duplicate"
        self.api_message = ""  # the API's own message, e.g. "Invalid To header"


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_parts(content: bytes | str | None) -> tuple[str, str]:
    """(message, first reason) of a Google JSON error body; empty strings if unreadable."""
    try:
        data = json.loads(content or b"")
        error = data["error"] if isinstance(data, dict) else data[0]["error"]
    except (ValueError, KeyError, IndexError, TypeError):
        return "", ""
    if not isinstance(error, dict):  # OAuth style: {"error": "invalid_grant", ...}
        return str(error), str(error)
    errors = error.get("errors") or []
    reason = str(errors[0].get("reason", "")) if errors and isinstance(errors[0], dict) else ""
    reason = reason or str(error.get("status", ""))
    return str(error.get("message", "")), reason


class GoogleApi:
    """One signed-in client of one Google API (Gmail or Calendar) for one mailbox."""

    def __init__(
        self,
        *,
        product: str,  # "Gmail", "Google Calendar": how messages name the API
        api: str,
        version: str,
        scopes: Sequence[str],
        options: GoogleOptions,
        config: Config,
        transport: Any = None,
    ) -> None:
        self.product = product
        self.api, self.version = api, version
        self.scopes = tuple(scopes)
        self.options = options
        self.account = options.delegate or config.program.sender.email
        self._secrets: set[str] = set()
        self._transport = transport
        self._service: Any = None
        self._http: Any = None
        self.client_id = ""  # the OAuth client (of the service account): not a secret
        self.credentials: Any = None
        # Loaded now, when the connector opens: a missing package is a ModuleNotFoundError
        # here, which connectors.registry turns into "pip install 'mentormail[google]'".
        import google_auth_httplib2  # noqa: F401
        import googleapiclient.discovery  # noqa: F401
        import httplib2  # noqa: F401

        self.credentials = self._load_credentials(options, config)

    @property
    def where(self) -> str:
        return f"{self.product} {self.account}"

    # -- credentials -------------------------------------------------------------------

    def _read_json(self, path: Path, key: str) -> dict[str, Any]:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConnectorError(
                f"{self.where}: cannot read {key} {path}: {exc.strerror}"
            ) from None
        except ValueError:
            raise ConnectorError(f"{self.where}: {key} {path} is not JSON") from None
        if not isinstance(info, dict):
            raise ConnectorError(f"{self.where}: {key} {path} is not a JSON object")
        for secret in ("private_key", "client_secret", "refresh_token", "token"):
            if isinstance(info.get(secret), str) and info[secret]:
                self._secrets.add(info[secret])
        return info

    def _load_credentials(self, options: GoogleOptions, config: Config) -> Any:
        if options.service_account_file is not None:
            path = config.resolve(options.service_account_file)
            info = self._read_json(path, "service_account_file")
            self.client_id = str(info.get("client_id", ""))
            try:
                from google.oauth2 import service_account

                return service_account.Credentials.from_service_account_info(
                    info, scopes=list(self.scopes), subject=options.delegate
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ConnectorError(
                    self.scrub(f"{self.where}: service_account_file {path} is not usable: {exc}")
                ) from None
        assert options.token_file is not None
        path = config.resolve(options.token_file)
        info = self._read_json(path, "token_file")
        self.client_id = str(info.get("client_id", ""))
        try:
            from google.oauth2.credentials import Credentials

            return Credentials.from_authorized_user_info(info, scopes=list(self.scopes))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError(
                self.scrub(f"{self.where}: token_file {path} is not usable: {exc}")
            ) from None

    def scrub(self, text: str) -> str:
        """`text` without any key or token (from the files, or fetched since)."""
        for secret in [*self._secrets, getattr(self.credentials, "token", None)]:
            if secret:
                text = text.replace(secret, "***")
        return re.sub(r"(?i)(bearer\s+|ya29\.)[\w.\-~+/=]+", r"\1***", text)

    # -- the service -------------------------------------------------------------------

    def service(self) -> Any:
        """The discovery-built client, on an AuthorizedHttp over the transport."""
        if self._service is None:
            import google_auth_httplib2
            import httplib2
            from googleapiclient.discovery import build

            transport = self._transport or httplib2.Http(timeout=self.options.timeout)
            self._http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=transport)
            self._service = build(
                self.api,
                self.version,
                http=self._http,
                static_discovery=True,
                cache_discovery=False,
            )
        return self._service

    def close(self) -> None:
        http, self._http, self._service = self._http, None, None
        close = getattr(http, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # closing must not fail a tick
                log.debug("%s: close: %s", self.where, exc)

    # -- errors ------------------------------------------------------------------------

    def refused(self, what: str, exc: Any) -> GoogleApiError:
        """A GoogleApiError from googleapiclient's HttpError."""
        from googleapiclient.http import _should_retry_response

        status = int(exc.resp.status)
        message, reason = _error_parts(exc.content)
        message = message or str(getattr(exc, "reason", "") or exc.resp.reason or "")
        detail = f"{status} {message}".strip()
        if reason and reason not in message:
            detail += f" ({reason})"
        if _should_retry_response(status, exc.content):
            detail += f"; gave up after {NUM_RETRIES} retries"
        text = self.scrub(one_line(f"{self.where}: {what}: {detail}"))
        error = GoogleApiError(text, status, reason)
        error.api_message = message
        return error

    def failed(self, what: str, exc: BaseException) -> ConnectorError:
        """A ConnectorError for anything but an HTTP error answer."""
        import httplib2
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import Error as ClientError

        if isinstance(exc, auth_errors.RefreshError):
            text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            detail = f"sign-in failed: {text}"
            if self.options.service_account_file is not None and (
                "unauthorized_client" in text or "access_denied" in text
            ):
                detail += (
                    f" (domain-wide delegation: authorize client ID {self.client_id} for "
                    f"{', '.join(self.scopes)} in the Admin console, and check that "
                    f"{self.options.delegate} exists)"
                )
            elif "invalid_grant" in text and self.options.token_file is not None:
                detail += (
                    f" (the refresh token in {self.options.token_file} was revoked or expired)"
                )
            elif "invalid_scope" in text:
                detail += f" (the token must grant {', '.join(self.scopes)})"
            return ConnectorError(self.scrub(one_line(f"{self.where}: {detail}")))
        if isinstance(
            exc, auth_errors.TransportError | httplib2.HttpLib2Error | OSError | ConnectionError
        ):
            reason = str(exc) or type(exc).__name__
            return ConnectorError(
                self.scrub(one_line(f"{self.where}: {what}: cannot connect: {reason}"))
            )
        if isinstance(exc, ClientError):
            return ConnectorError(self.scrub(one_line(f"{self.where}: {what}: {exc}")))
        detail = f"unreadable answer: {type(exc).__name__}: {exc}"
        return ConnectorError(self.scrub(one_line(f"{self.where}: {what}: {detail}")))

    # -- calls -------------------------------------------------------------------------

    def call(self, what: str, request: Callable[[Any], Any]) -> Any:
        """Build a request from the service and execute it with the library's retries.

        `request` gets the service (so building it is covered too); a non-2xx answer is a
        GoogleApiError, anything else that goes wrong a ConnectorError.
        """
        from googleapiclient.errors import HttpError

        try:
            return request(self.service()).execute(num_retries=NUM_RETRIES)
        except HttpError as exc:
            raise self.refused(what, exc) from None
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.failed(what, exc) from None

    def pages(
        self, what: str, request: Callable[[Any, str | None], Any]
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list call; `request(service, page_token)` builds one."""
        token: str | None = None
        while True:
            page = self.call(what, lambda service, token=token: request(service, token))
            yield page
            token = page.get("nextPageToken")
            if not token:
                return

    def batch(
        self, what: str, requests: Sequence[tuple[str, Callable[[Any], Any]]]
    ) -> dict[str, Any]:
        """Run the requests in batch requests of at most 50; key -> result or GoogleApiError.

        Keys must be unique. A part answered with a retryable error (429, 5xx, rate limit)
        is sent again on its own with the library's backoff; a part that fails for good is
        a GoogleApiError in the result, for the caller to judge (a 404 may be fine).
        """
        from googleapiclient.errors import HttpError
        from googleapiclient.http import _should_retry_response

        results: dict[str, Any] = {}
        answers: dict[str, tuple[Any, Any]] = {}  # request id -> (response, HttpError)

        def collect(request_id: str, response: Any, exception: Any) -> None:
            answers[request_id] = (response, exception)

        for start in range(0, len(requests), BATCH_LIMIT):
            chunk = requests[start : start + BATCH_LIMIT]
            built = {key: self._build(what, make) for key, make in chunk}
            self._send_batch(what, built, collect)
            for key, request in built.items():
                response, exception = answers.get(key, (None, None))
                if exception is None and key in answers:
                    results[key] = response
                    continue
                if exception is not None and not _should_retry_response(
                    exception.resp.status, exception.content
                ):
                    results[key] = self.refused(what, exception)
                    continue
                try:  # retryable, or missing from the answer: once more on its own
                    results[key] = request.execute(num_retries=NUM_RETRIES)
                except HttpError as exc:
                    results[key] = self.refused(what, exc)
                except Exception as exc:
                    raise self.failed(what, exc) from None
        return results

    def _build(self, what: str, make: Callable[[Any], Any]) -> Any:
        try:
            return make(self.service())
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.failed(what, exc) from None

    def _send_batch(
        self, what: str, built: dict[str, Any], collect: Callable[[str, Any, Any], None]
    ) -> None:
        """POST one batch; the batch request itself is retried like a single call."""
        from googleapiclient.errors import HttpError
        from googleapiclient.http import _should_retry_response

        for attempt in range(NUM_RETRIES + 1):
            batch = self.service().new_batch_http_request()
            for key, request in built.items():
                batch.add(request, callback=collect, request_id=key)
            try:
                batch.execute()
                return
            except HttpError as exc:
                if attempt == NUM_RETRIES or not _should_retry_response(
                    exc.resp.status, exc.content
                ):
                    raise self.refused(f"{what} (batch)", exc) from None
                delay = random.random() * 2 ** (attempt + 1)
                log.warning(
                    "%s: %s: batch answered %s; retry %d of %d in %.1f s",
                    self.where,
                    what,
                    exc.resp.status,
                    attempt + 1,
                    NUM_RETRIES,
                    delay,
                )
                time.sleep(delay)
            except ConnectorError:
                raise
            except Exception as exc:
                raise self.failed(f"{what} (batch)", exc) from None
