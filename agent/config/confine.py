"""Files that must stay inside their folder: a template folder's entries.

A symbolic link in a template folder can point anywhere (`welcome.txt.j2 ->
/etc/passwd`), and the email built from it would carry that file to a participant.
Whatever a name resolves to, through any number of links, must lie inside the folder
as it resolves itself (the folder may be a link, e.g. to a shared checkout).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def inside(folder: str | Path, path: str | Path) -> bool:
    """Whether `path`, every link followed, lies inside `folder` (links followed too)."""
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def escaping(folder: Path) -> Iterator[tuple[Path, str]]:
    """Each entry under `folder` (subfolders too, without following links out) that
    resolves outside it, with where it resolves to."""
    for parent, dirs, files in os.walk(folder):
        for name in sorted([*dirs, *files]):
            entry = Path(parent) / name
            if not inside(folder, entry):
                yield entry, os.path.realpath(entry)
