"""Files with personal data that the commands write (reports, exports, previews).

Each is written whole or not at all (temp file, fsync, rename), with the mode set
explicitly rather than left to the umask: 0600 unless the config's
`reports.file_mode` says otherwise. Replacing the file also replaces an older,
wider-open copy's mode.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

OWNER_ONLY = 0o600


def write_private(path: Path, text: str, mode: int = OWNER_ONLY) -> None:
    """Write `text` (UTF-8) to `path` as one atomic change, with `mode`."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
