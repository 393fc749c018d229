"""Maps a config's `type:` to a connector class, imported only when used.

Keeping the table as strings means `mentormail validate` and a maildir tick
never import googleapiclient, exchangelib or msal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from connectors.base import ConnectorError

if TYPE_CHECKING:
    from agent.config import Config
    from connectors.base import Calendar, Mailbox

_TABLE: dict[str, dict[str, str]] = {
    "mail": {
        "maildir": "connectors.maildir:MaildirMailbox",
        "imap": "connectors.imap:ImapMailbox",
        "google": "connectors.google:GoogleMailbox",
        "exchange": "connectors.exchange:ExchangeMailbox",
        "graph": "connectors.graph:GraphMailbox",
    },
    "calendar": {
        "ics": "connectors.ics_files:IcsCalendar",
        "caldav": "connectors.caldav:CalDavCalendar",
        "google": "connectors.google:GoogleCalendar",
        "exchange": "connectors.exchange:ExchangeCalendar",
        "graph": "connectors.graph:GraphCalendar",
    },
}

# The optional dependencies a connector needs: `pip install 'mentormail[<extra>]'`.
_EXTRAS = {
    "googleapiclient": "google",
    "google_auth_httplib2": "google",
    "google": "google",
    "httplib2": "google",
    "exchangelib": "exchange",
    "msal": "graph",
    "requests": "graph",
    "tzlocal": "graph",
}


class ConnectorLookupError(LookupError):
    pass


def _class(section: str, kind: str) -> Any:
    table = _TABLE[section]
    if kind not in table:
        known = ", ".join(sorted(table))
        raise ConnectorLookupError(f"unknown {section} connector {kind!r}; known: {known}")
    module, name = table[kind].split(":")
    return getattr(importlib.import_module(module), name)


def options_model(section: str, kind: str) -> type[BaseModel]:
    """The pydantic model that checks this connector's options."""
    return _class(section, kind).Options


def invites_attendees(config: Config) -> bool:
    """Whether the configured calendar sends the invitations itself (see base.Calendar)."""
    return bool(_class("calendar", config.calendar.type).invites_attendees)


def _open(section: str, config: Config) -> Any:
    spec = getattr(config, section)
    cls = _class(section, spec.type)
    try:
        return cls(cls.Options.model_validate(spec.options), config)
    except ModuleNotFoundError as exc:  # the heavy libraries load here, not at import
        top = (exc.name or "").split(".")[0]
        if top not in _EXTRAS:
            raise
        raise ConnectorError(
            f"{section} type {spec.type} needs the Python package {top}: "
            f"pip install 'mentormail[{_EXTRAS[top]}]'"
        ) from None


def open_mailbox(config: Config) -> Mailbox:
    return _open("mail", config)


def open_calendar(config: Config) -> Calendar:
    return _open("calendar", config)
