"""The shell blocks of README.md and docs/*.md, as `tests/test_docs.py` runs them.

A block is a fenced ```sh, ```bash, ```shell or ```console block. An HTML comment on the
line just before its fence says where it runs (docs/development.md, "Tests"):

    <!-- doc-test: in demo -->      the default: demo/ from `mentormail demo`, program.yaml
    <!-- doc-test: in init -->      inside a folder made by `mentormail init`
    <!-- doc-test: in empty -->     an empty folder
    <!-- doc-test: continue -->     the folder the previous block of the page left
    <!-- doc-test: skip (why) -->   not run

In a console block only the lines that start with `$ ` are commands. A command's trailing
comment may state the exit status it is shown with (`# exit 2: ...`); otherwise it must
exit 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
PLACES = {"demo", "init", "empty"}

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<what>.*?)\s*-->\s*$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>[A-Za-z_][A-Za-z0-9_]*)\1")
_COMMENT = re.compile(r"\s#\s(?P<text>.*)$")
_STATED_EXIT = re.compile(r"\bexit (?P<status>\d+)\b")


@dataclass
class Command:
    text: str  # as written, continuation lines and heredoc body included
    line: int  # 1-based line of the file where it starts
    exit_status: int = 0


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    marker: str | None  # the doc-test comment's text, None when unmarked
    commands: list[Command] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def skipped(self) -> bool:
        return self.marker is not None and self.marker.startswith("skip")

    @property
    def place(self) -> str:
        """demo, init, empty or continue."""
        if self.marker is None:
            return "demo"
        what = self.marker
        if what == "continue":
            return "continue"
        if what.startswith("in ") and what[3:].strip() in PLACES:
            return what[3:].strip()
        raise ValueError(
            f"{self.where}: unknown doc-test marker {what!r}; use 'in demo', 'in init', "
            "'in empty', 'continue' or 'skip (why)'"
        )


def blocks_of(path: Path) -> list[Block]:
    """Every shell block of one markdown file, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        opening = _FENCE.match(lines[number])
        if not opening or not opening["lang"]:
            if opening:  # a fence without a language: skip to its end
                number = _end_of_fence(lines, number)
            number += 1
            continue
        end = _end_of_fence(lines, number)
        lang = opening["lang"].lower()
        if lang in SHELL_LANGUAGES:
            marker = _MARKER.match(lines[number - 1]) if number else None
            indent = len(opening["indent"])
            body = [_dedent(line, indent) for line in lines[number + 1 : end]]
            block = Block(path, number + 1, lang, marker["what"] if marker else None)
            block.commands = _commands(body, number + 2, console=lang == "console")
            blocks.append(block)
        number = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """A line of a fenced block without the fence's own indentation (in a list item)."""
    if not indent:
        return line
    return line[indent:] if line[:indent].isspace() else line.lstrip()


def _end_of_fence(lines: list[str], opening: int) -> int:
    for number in range(opening + 1, len(lines)):
        if lines[number].strip() == "```":
            return number
    raise ValueError(f"line {opening + 1}: a code fence that is never closed")


def _commands(body: list[str], first_line: int, *, console: bool) -> list[Command]:
    commands: list[Command] = []
    index = 0
    while index < len(body):
        line = body[index]
        start = first_line + index
        index += 1
        if console:
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [line]
        while parts[-1].endswith("\\") and index < len(body):
            parts.append(body[index])
            index += 1
        heredoc = _HEREDOC.search(" ".join(parts))
        if heredoc:
            while index < len(body):
                parts.append(body[index])
                index += 1
                if parts[-1].strip() == heredoc["word"]:
                    break
        text = "\n".join(parts)
        commands.append(Command(text, start, _stated_exit(parts[0])))
    return commands


def _stated_exit(first_line: str) -> int:
    """The exit status a trailing comment states (`# exit 2: ...`), else 0."""
    comment = _COMMENT.search(first_line)
    if not comment:
        return 0
    stated = _STATED_EXIT.search(comment["text"])
    return int(stated["status"]) if stated else 0


def chains(blocks: list[Block]) -> list[list[Block]]:
    """Blocks that share one folder: a block and the `continue` blocks after it."""
    result: list[list[Block]] = []
    for block in blocks:
        if block.skipped:
            continue
        if block.place == "continue":
            if not result or result[-1][0].path != block.path:
                raise ValueError(f"{block.where}: 'continue' without a block before it")
            result[-1].append(block)
        else:
            result.append([block])
    return result
