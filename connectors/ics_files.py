"""The embedded default calendar: one .ics file per event, plus one file with all.

`path/events/<uid>.ics` holds each series as the organizer sees it (a vdir
that vdirsyncer and khal read); `path/program.ics` merges every event into a
single calendar that any calendar app can import or subscribe to. Files are
written atomically, so a crash never leaves half an event.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from connectors.local_folders import prepare, readiness

if TYPE_CHECKING:
    from agent.config.model import Config


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class IcsCalendar:
    invites_attendees = False  # the agent's iMIP emails invite; the files are the organizer's
    keeps_folders = True  # the registry passes `create` (a dry run creates nothing)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: Path = Path("calendar")

    def __init__(self, options: Options, config: Config, *, create: bool = True) -> None:
        self.root = config.resolve(options.path)
        self.events = self.root / "events"
        self.product = config.program.name
        prepare(self.root, "calendar folder", create=create)
        prepare(self.events, "calendar folder", create=create)

    def check(self) -> list[tuple[str, bool, str]]:
        """The folders as they are: `check` opens with `create=False` and changes nothing."""
        return [("folders", *readiness(self.root, ("events",), "calendar"))]

    def busy(
        self, emails: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        return {address: [] for address in emails}  # files know nobody's other appointments

    def _file(self, uid: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in uid)
        if safe != uid:  # keep names unique when characters had to be replaced
            safe += "-" + hashlib.sha256(uid.encode()).hexdigest()[:8]
        return self.events / f"{safe}.ics"

    def put_event(self, uid: str, ics: bytes) -> None:
        write_atomically(self._file(uid), ics)
        self._write_merged()

    def cancel_event(self, uid: str, ics: bytes) -> None:
        self.put_event(uid, ics)

    def _write_merged(self) -> None:
        import icalendar  # here, not at the top: `validate` reads Options without it

        merged = icalendar.Calendar()
        merged.add("prodid", "-//mentormail//mentormail//EN")
        merged.add("version", "2.0")
        merged.add("x-wr-calname", self.product)
        zones: set[str] = set()
        for path in sorted(self.events.glob("*.ics")):
            for component in icalendar.Calendar.from_ical(path.read_bytes()).subcomponents:
                if component.name == "VTIMEZONE":
                    if str(component["TZID"]) in zones:
                        continue
                    zones.add(str(component["TZID"]))
                merged.add_component(component)
        write_atomically(self.root / "program.ics", merged.to_ical())

    def close(self) -> None:
        pass
