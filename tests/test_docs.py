"""README.md and docs/ say what the program does: the config reference names exactly the
keys of config/schema.json with their defaults, the provider pages every connector option,
the links lead somewhere, and every shell block runs as written.

How blocks are marked and run: tests/doc_blocks.py and docs/development.md ("Tests").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from connectors import registry
from tests.doc_blocks import Block, Command, blocks_of, chains

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIG_DOC = ROOT / "docs" / "config.md"
SCHEMA = json.loads((ROOT / "config" / "schema.json").read_text())
BIN = Path(sys.executable).parent
MENTORMAIL = BIN / "mentormail"

# What a block may run without a skip marker: local, ending, touching only its folder.
RUNNABLE = set(
    [
        "mentormail",
        "ls",
        "cat",
        "cp",
        "ln",
        "mkdir",
        "head",
        "tail",
        "grep",
        "wc",
        "openssl",
        "chmod",
        "echo",
        "sort",
    ]
)
NEVER_ENDS = re.compile(r"^mentormail\s+(?:\S+\s+)*?run\b")

# -- the config reference --------------------------------------------------------------


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _resolve(SCHEMA["$defs"][ref.removeprefix("#/$defs/")])
    return node


def schema_keys() -> dict[str, dict[str, Any]]:
    """Every property path of the schema (`cadence.follow_up.after`, `participants[].id`),
    with its schema node and whether its parent requires it."""
    keys: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        node = _resolve(node)
        for alternative in node.get("anyOf", []):
            walk(alternative, prefix)
        if "items" in node:
            walk(node["items"], prefix + "[]")
        required = set(node.get("required", []))
        for name, child in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            keys[path] = {"node": child, "required": name in required}
            walk(child, path)

    walk(SCHEMA, "")
    return keys


_ROW = re.compile(r"^\|\s*`(?P<key>[^`]+)`\s*\|(?P<cells>.*)\|\s*$")
_KEYLIKE = re.compile(r"`(?P<key>[a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)+)`")


def documented_rows() -> dict[str, list[str]]:
    """Key -> the other cells of its row, for the table rows of docs/config.md."""
    rows: dict[str, list[str]] = {}
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        row = _ROW.match(line)
        if row:
            rows[row["key"]] = [cell.strip() for cell in row["cells"].split("|")]
    return rows


def test_config_reference_names_every_key_of_the_schema() -> None:
    missing = sorted(set(schema_keys()) - set(documented_rows()))
    assert not missing, f"docs/config.md has no row for: {', '.join(missing)}"


def test_config_reference_names_no_key_the_schema_lacks() -> None:
    keys = set(schema_keys())
    top = {key for key in keys if "." not in key and "[" not in key}
    rows = set(documented_rows())
    text = CONFIG_DOC.read_text(encoding="utf-8")
    named = {
        m["key"] for m in _KEYLIKE.finditer(text) if m["key"].split(".")[0].rstrip("[]") in top
    }
    unknown = sorted((rows | named) - keys)
    assert not unknown, f"docs/config.md names keys config/schema.json lacks: {', '.join(unknown)}"


_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)
_OURS = re.compile(r"^(?:\d+[smhdw])+$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _seconds(text: str) -> float | None:
    iso = _ISO.match(text)
    if iso and text != "P":
        parts = {k: int(v or 0) for k, v in iso.groupdict().items()}
        return timedelta(
            weeks=parts["w"],
            days=parts["d"],
            hours=parts["h"],
            minutes=parts["m"],
            seconds=parts["s"],
        ).total_seconds()
    if _OURS.match(text):
        return float(sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text)))
    return None


def _same_default(schema_default: Any, documented: str) -> bool:
    shown = documented.strip().strip("`").strip('"')
    if schema_default is None:
        return shown == "–"
    if isinstance(schema_default, bool):
        return shown == str(schema_default).lower()
    if isinstance(schema_default, list):
        return shown == json.dumps(schema_default)
    if isinstance(schema_default, int):
        if shown in WEEKDAYS:  # cadence.digest.day: the schema writes the weekday's number
            return WEEKDAYS.index(shown) == schema_default
        if re.fullmatch(r"0[0-7]{3}", shown):  # reports.file_mode: the schema writes the int
            return int(shown, 8) == schema_default
        return shown.replace(",", "") == str(schema_default)
    text = str(schema_default)
    seconds = _seconds(text)
    if seconds is not None:
        return _seconds(shown) == seconds
    if re.fullmatch(r"\d\d:\d\d:\d\d", text):  # a time of day
        return f"{shown}:00" == text
    return shown == text


def test_config_reference_gives_the_schemas_defaults() -> None:
    rows = documented_rows()
    wrong = []
    for key, info in schema_keys().items():
        cells = rows.get(key)
        if cells is None or len(cells) < 2:
            continue  # reported by the test above
        default_cell = cells[1]
        node = info["node"]
        if info["required"]:
            if default_cell != "required":
                wrong.append(f"{key}: required, but the default given is {default_cell!r}")
        elif (
            "default" in node
            and not isinstance(node["default"], dict)
            and not _same_default(node["default"], default_cell)
        ):
            wrong.append(f"{key}: schema default {node['default']!r}, documented {default_cell!r}")
    assert not wrong, "docs/config.md:\n" + "\n".join(wrong)


# -- the shell blocks ------------------------------------------------------------------


def all_chains() -> list[list[Block]]:
    return [chain for path in DOCS for chain in chains(blocks_of(path))]


def _programs(command: Command) -> list[str]:
    """The first word of each simple command in a command line (before any heredoc body)."""
    first = command.text.split("\n")[0] if "<<" in command.text else command.text
    first = first.replace("\\\n", " ")
    first = re.sub(r"\s#\s.*$", "", first, flags=re.M)
    words = []
    for part in re.split(r"\|\|?|&&|;", first):
        tokens = part.split()
        while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", tokens[0]):
            tokens.pop(0)  # VAR=value before the program
        if tokens:
            words.append(tokens[0].removeprefix(".venv/bin/"))
    return words


def test_blocks_that_cannot_run_here_are_marked() -> None:
    problems = []
    for path in DOCS:
        for block in blocks_of(path):
            if block.skipped:
                if not re.fullmatch(r"skip \(.+\)", block.marker or ""):
                    problems.append(
                        f"{block.where}: write the reason: <!-- doc-test: skip (why) -->"
                    )
                continue
            try:
                block.place  # noqa: B018 - raises on an unknown marker
            except ValueError as error:
                problems.append(str(error))
            for command in block.commands:
                for program in _programs(command):
                    if program not in RUNNABLE:
                        problems.append(
                            f"{path.name}:{command.line}: `{program}` cannot run in a test; "
                            "mark the block <!-- doc-test: skip (why) --> or make it runnable"
                        )
                if NEVER_ENDS.match(command.text.removeprefix(".venv/bin/")):
                    problems.append(
                        f"{path.name}:{command.line}: `mentormail run` does not end; mark the "
                        "block <!-- doc-test: skip (why) -->"
                    )
    assert not problems, "\n".join(problems)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, env=_env(), check=False
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MENTORMAIL_TOKEN_KEY"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One demo and one init'ed folder per session; each chain runs in a copy."""
    assert MENTORMAIL.exists(), f"{MENTORMAIL} is missing: pip install -e . first"
    base = tmp_path_factory.mktemp("doc-places")
    places: dict[str, Path] = {}
    demo = base / "demo"
    demo.mkdir()
    done = _run([str(MENTORMAIL), "demo", "demo"], demo)
    assert done.returncode == 0, f"mentormail demo failed:\n{done.stdout}\n{done.stderr}"
    (demo / "program.yaml").symlink_to(Path("demo") / "config.yaml")
    places["demo"] = demo
    places["empty"] = base / "empty"
    places["empty"].mkdir()
    init = base / "init"
    init.mkdir()
    done = _run([str(MENTORMAIL), "init", "program"], init)
    places["init"] = init / "program" if done.returncode == 0 else Path()
    places["init-failure"] = Path(f"exit {done.returncode}: {done.stdout}{done.stderr}")
    return places


def _cwd_for(place: str, prepared: dict[str, Path], tmp_path: Path) -> Path:
    if place == "init" and prepared["init"] == Path():
        pytest.fail(f"`mentormail init program` failed: {prepared['init-failure']}")
    source = prepared[place]
    target = tmp_path / ("program" if place == "init" else "here")
    shutil.copytree(source, target, symlinks=True)
    return target


def _as_run(command: Command) -> str:
    text = command.text.replace(".venv/bin/mentormail", str(MENTORMAIL))
    return re.sub(r"^mentormail\b", str(MENTORMAIL), text)


@pytest.mark.slow  # a demo, then ~50 commands: about 25 s, more on a loaded machine
@pytest.mark.parametrize("chain", all_chains(), ids=lambda chain: chain[0].where)
def test_shell_block_runs_as_written(
    chain: list[Block], prepared: dict[str, Path], tmp_path: Path
) -> None:
    cwd = _cwd_for(chain[0].place, prepared, tmp_path)
    for block in chain:
        for command in block.commands:
            done = _run(["bash", "-c", _as_run(command)], cwd)
            assert done.returncode == command.exit_status, (
                f"{block.path.name}:{command.line}: `{command.text}` exited {done.returncode}, "
                f"not {command.exit_status}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}"
            )


# -- links -----------------------------------------------------------------------------

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*$")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file."""
    anchors = set()
    fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        heading = None if fence else _HEADING.match(line)
        if heading:
            title = heading["title"].lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_links_between_the_pages_resolve() -> None:
    broken = []
    for path in DOCS:
        for link in _LINK.finditer(path.read_text(encoding="utf-8")):
            target = link["target"]
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{path.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


# -- connector options -----------------------------------------------------------------

PROVIDER_PAGES = {
    "maildir": "providers.md",
    "ics": "providers.md",
    "imap": "providers.md",
    "caldav": "providers.md",
    "google": "google.md",
    "exchange": "exchange.md",
    "graph": "microsoft365.md",
}


def _option_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(prefix + name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _option_names(kind, f"{prefix}{name}.")
    return names


def _option_cells(page: Path) -> set[str]:
    """The backticked names in the first cell of each table row of a page."""
    names = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize(
    ("section", "kind"),
    [(section, kind) for section, kinds in registry._TABLE.items() for kind in kinds],
)
def test_provider_pages_name_every_connector_option(section: str, kind: str) -> None:
    page = ROOT / "docs" / PROVIDER_PAGES[kind]
    missing = sorted(_option_names(registry.options_model(section, kind)) - _option_cells(page))
    assert not missing, f"docs/{page.name} has no row for {section} type {kind}: {missing}"


def test_the_list_of_emails_names_every_template() -> None:
    text = (ROOT / "docs" / "running.md").read_text(encoding="utf-8")
    sentence = re.search(r"The emails are (?P<names>`.*?)\(files starting", text, re.S)
    assert sentence, "docs/running.md: the sentence 'The emails are ...' is missing"
    listed = set(re.findall(r"`([a-z_]+)`", sentence["names"]))
    shipped = {
        path.name.removesuffix(".txt.j2")
        for path in (ROOT / "templates").glob("*.txt.j2")
        if not path.name.startswith("_")
    }
    assert listed == shipped, (
        f"docs/running.md lists {sorted(listed - shipped)} that templates/ lacks "
        f"and lacks {sorted(shipped - listed)}"
    )


_REPO_PATH = re.compile(r"\b(?:agent|connectors|tests|bench|config|templates)/[\w/.-]+\.\w+")
_MODULE = re.compile(r"\b(?P<name>agent(?:\.\w+)+)")


def test_the_files_and_modules_the_pages_name_exist() -> None:
    missing = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for named in sorted(set(_REPO_PATH.findall(text))):
            if not (ROOT / named).exists():
                missing.append(f"{path.name}: {named}")
        for match in _MODULE.finditer(text):
            module = ROOT.joinpath(*match["name"].split("."))  # a module or a package
            if not (module.with_suffix(".py").exists() or module.is_dir()):
                missing.append(f"{path.name}: {match['name']}")
    assert not missing, "\n".join(missing)
