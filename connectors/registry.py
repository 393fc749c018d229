"""Maps a config's `type:` to a connector class, imported only when used.

Keeping the table as strings means `mentormail validate` and a maildir tick
never import googleapiclient, exchangelib or msal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from agent.config import Config
    from connectors.base import Calendar, Mailbox

_TABLE: dict[str, dict[str, str]] = {
    "mail": {
        "maildir": "connectors.maildir:MaildirMailbox",
        "imap": "connectors.imap:ImapMailbox",
    },
    "calendar": {
        "ics": "connectors.ics_files:IcsCalendar",
        "caldav": "connectors.caldav:CalDavCalendar",
    },
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


def _open(section: str, config: Config) -> Any:
    spec = getattr(config, section)
    cls = _class(section, spec.type)
    return cls(cls.Options.model_validate(spec.options), config)


def open_mailbox(config: Config) -> Mailbox:
    return _open("mail", config)


def open_calendar(config: Config) -> Calendar:
    return _open("calendar", config)
