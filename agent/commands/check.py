"""`mentormail check`: connect to every configured back end and say what works.

Nothing is sent to participants and no event is written: each connector's
`check()` (see `connectors.base.Checkable`) only logs in, looks at folders and
capabilities, and asks the mail server whether the program may send.
The local Maildir and .ics folders are opened as a dry run opens them
(`create=False`): the disk is left as it was, and a folder that is not there yet
is reported as what the first tick creates (or cannot create, when its parent is
read-only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.config.model import Config
from connectors.base import ConnectorError, FolderUnusable
from connectors.registry import open_calendar, open_mailbox


def check_connectors(cfg: Config) -> list[tuple[str, bool, str]]:
    """(what, ok, detail) for every back end in the config; never raises for a back end."""
    results: list[tuple[str, bool, str]] = []
    openers: list[tuple[str, Callable[[Config], Any]]] = [
        ("mail", open_mailbox),
        ("calendar", open_calendar),
    ]
    for section, opener in openers:
        label = f"{section} ({getattr(cfg, section).type})"
        try:
            connector = opener(cfg, create=False)
        except (ConnectorError, FolderUnusable) as exc:
            results.append((f"{label}: open", False, str(exc)))
            continue
        try:
            check = getattr(connector, "check", None)
            lines = check() if check else [("open", True, "opened; no further checks")]
        finally:
            connector.close()
        results += [(f"{label}: {what}", ok, detail) for what, ok, detail in lines]
    return results


def check_lines(results: list[tuple[str, bool, str]]) -> list[str]:
    width = max((len(what) for what, _, _ in results), default=0)
    return [f"{'ok  ' if ok else 'FAIL'} {what:<{width}}  {detail}" for what, ok, detail in results]
