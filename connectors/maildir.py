"""The embedded default mailbox: standard Maildir folders on local disk.

Layout under `path`: `inbox/` (new mail for the program; drop files in its
`new/`), `processed/` and `quarantine/` (handled mail, moved there by a
rename, so a message is always in exactly one place), and `sent/` (every
message the program sends; with no server this *is* delivery). All four are
ordinary Maildirs that Thunderbird, mutt or Evolution can open.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from connectors.base import Outcome, RawMessage
from connectors.local_folders import prepare, readiness

if TYPE_CHECKING:
    import mailbox

    from agent.config.model import Config

FOLDERS = ("inbox", "processed", "quarantine", "sent")
SUBFOLDERS = ("new", "cur", "tmp")


def message_id_of(data: bytes) -> str:
    """The Message-ID (without <>) from a message's header block, '' when absent."""
    import email.parser
    import email.policy

    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    return str(headers.get("Message-ID", "")).strip().strip("<>")


class MaildirMailbox:
    send_limits = (None, None)  # files: nothing to protect
    keeps_folders = True  # the registry passes `create` (a dry run creates nothing)

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: Path = Path("mail")

    def __init__(self, options: Options, config: Config, *, create: bool = True) -> None:
        self.root = config.resolve(options.path)
        prepare(self.root, "mail folder", create=create)
        for name in FOLDERS:
            for sub in ("", *SUBFOLDERS):
                prepare(self.root / name / sub, "Maildir folder", create=create)
        self._boxes: dict[str, mailbox.Maildir] = {}
        self._sent_ids: set[str] | None = None

    def check(self) -> list[tuple[str, bool, str]]:
        """The folders as they are: `check` opens with `create=False` and changes nothing."""
        return [("folders", *readiness(self.root, FOLDERS, "Maildir"))]

    def _box(self, name: str) -> mailbox.Maildir:
        if name not in self._boxes:
            import mailbox  # email.policy and mailbox: not for `validate`

            self._boxes[name] = mailbox.Maildir(self.root / name, create=True)
        return self._boxes[name]

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        inbox = self.root / "inbox"
        refs = []
        for sub in ("new", "cur"):
            if not (inbox / sub).is_dir():
                continue  # a dry run before the first tick made the folders
            for entry in os.scandir(inbox / sub):
                if entry.is_file() and not entry.name.startswith("."):
                    refs.append((entry.stat().st_mtime, f"{sub}/{entry.name}"))
        messages = []
        for _, ref in sorted(refs):
            try:
                messages.append(RawMessage(ref, (inbox / ref).read_bytes()))
            except FileNotFoundError:  # moved away by another reader meanwhile
                continue
        return messages, cursor

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        source = self.root / "inbox" / ref
        name = Path(ref).name
        if ":2," not in name:
            name += ":2,S"  # Maildir info: seen
        target = (
            self.root / ("processed" if outcome == "processed" else "quarantine") / "cur" / name
        )
        try:
            os.replace(source, target)
        except FileNotFoundError:
            if not target.exists():
                raise

    def send(self, message: EmailMessage) -> None:
        import email.policy

        self._box("sent").add(message.as_bytes(policy=email.policy.SMTP))
        self._known_sent().add(str(message["Message-ID"]).strip("<>"))

    def was_sent(self, message_id: str) -> bool:
        return message_id in self._known_sent()

    def _known_sent(self) -> set[str]:
        if self._sent_ids is None:
            sent = self.root / "sent"
            self._sent_ids = {
                message_id_of(path.read_bytes())
                for sub in ("new", "cur")
                if (sent / sub).is_dir()
                for path in (sent / sub).iterdir()
            }
        return self._sent_ids

    def close(self) -> None:
        for box in self._boxes.values():
            box.close()
