"""Maps a config's `type:` to a connector class, imported only when used.

Keeping the table as strings means `mentormail validate` and a maildir tick
never import googleapiclient, exchangelib or msal. Each entry names the module that
defines the class, not the package-style module that re-exports both (connectors.graph,
.google, .exchange): `validate` on a Graph mailbox imports the mail connector only.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from connectors.base import ConnectorError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from agent.config.model import Config
    from connectors.base import Calendar, Mailbox

_TABLE: dict[str, dict[str, str]] = {
    "mail": {
        "maildir": "connectors.maildir:MaildirMailbox",
        "imap": "connectors.imap:ImapMailbox",
        "google": "connectors.google_mail:GoogleMailbox",
        "exchange": "connectors.exchange_mail:ExchangeMailbox",
        "graph": "connectors.graph_mail:GraphMailbox",
    },
    "calendar": {
        "ics": "connectors.ics_files:IcsCalendar",
        "caldav": "connectors.caldav:CalDavCalendar",
        "google": "connectors.google_calendar:GoogleCalendar",
        "exchange": "connectors.exchange_calendar:ExchangeCalendar",
        "graph": "connectors.graph_calendar:GraphCalendar",
    },
}

# The optional packages a connector type needs (`pip install 'mentormail[<type>]'`). They
# are checked when the connector is opened, without importing them: the connectors import
# them only on their first call to the server, which may be in the middle of a tick.
_REQUIRES = {
    "google": ("googleapiclient", "google.auth", "google_auth_httplib2", "httplib2"),
    "exchange": ("exchangelib",),
    "graph": ("msal", "requests", "tzlocal"),
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


def _open(section: str, config: Config, create: bool) -> Any:
    spec = getattr(config, section)
    cls = _class(section, spec.type)
    missing = [name for name in _REQUIRES.get(spec.type, ()) if not _installed(name)]
    if missing:
        raise ConnectorError(
            f"{section} type {spec.type} needs the Python package {missing[0]}: "
            f"pip install 'mentormail[{spec.type}]'"
        )
    options = cls.Options.model_validate(spec.options)
    if getattr(cls, "keeps_folders", False):  # local files: a dry run creates none
        return cls(options, config, create=create)
    return cls(options, config)


def _installed(name: str) -> bool:
    if name in sys.modules:  # imported already, or None: blocked (an import would fail)
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package of a dotted name is missing
        return False


def open_mailbox(config: Config, *, create: bool = True) -> Mailbox:
    """The configured mailbox; with `create=False` a local one creates no folders."""
    return _open("mail", config, create)


def open_calendar(config: Config, *, create: bool = True) -> Calendar:
    """The configured calendar; with `create=False` a local one creates no folders."""
    return _open("calendar", config, create)
