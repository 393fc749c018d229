"""The folders are the architecture: which package may import which, and no import circles.

Read from the source with `ast`, so every import counts: at the top, inside a function (a
lazy import is still a dependency) and under `if TYPE_CHECKING:` (a type is one too). The
rules are the ones each package's docstring states.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent

ROOT = Path(__file__).resolve().parent.parent

# What each package may import besides itself and the standard library / third parties.
ALLOWED: dict[str, set[str]] = {
    "agent.meetings": set(),
    "agent.mail_in": {"agent.meetings"},
    "agent.config": {"agent.meetings", "connectors.registry"},
    "agent.pairs": {"agent.meetings", "agent.mail_in", "agent.config"},
    "agent.mail_out": {"agent.meetings", "agent.mail_in", "agent.config", "agent.pairs"},
    "agent.state": {"agent.meetings", "agent.mail_in", "agent.config", "agent.pairs"},
    "agent.reports": {
        "agent.meetings",
        "agent.mail_in",
        "agent.config",
        "agent.pairs",
        "agent.mail_out",
        "agent.state",
    },
    "agent.commands": {"agent", "connectors"},
    "connectors": {"agent.config", "agent.meetings", "agent.pairs"},
}
# Within `config`, only the loader consults the connector registry.
ONLY_FROM = {"connectors.registry": {"agent.config.loading", "agent.commands", "connectors"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for top in ("agent", "connectors"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported(path: Path, known: set[str]) -> Iterator[str]:
    """The project modules `path` imports, wherever in the file the import is."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from agent.mail_in import tokens` imports the module agent.mail_in.tokens
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in {"agent", "connectors"})


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(path, known)) - {name} for name, path in found.items()}


def package_of(module: str) -> str:
    for package in sorted(ALLOWED, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return module  # `agent` itself


def within(module: str, prefixes: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_every_module_is_in_a_package_with_rules():
    loose = [m for m in modules() if m != "agent" and package_of(m) == m and m not in ALLOWED]
    assert loose == [], f"modules outside the layered packages: {loose}"


def test_each_package_imports_only_what_its_docstring_allows():
    wrong = []
    for module, targets in graph().items():
        package = package_of(module)
        for target in targets:
            if within(target, {package}):
                continue
            if not within(target, ALLOWED.get(package, set())):
                wrong.append(f"{module} imports {target}")
            elif target in ONLY_FROM and not within(module, ONLY_FROM[target]):
                wrong.append(f"{module} imports {target} (only {ONLY_FROM[target]} may)")
    assert wrong == []


def test_no_import_circles():
    edges = graph()
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert circles == []


@pytest.mark.parametrize("package", sorted(p for p in ALLOWED if p.startswith("agent.")))
def test_each_package_says_what_it_owns_and_may_import(package):
    module = __import__(package, fromlist=["_"])
    doc = module.__doc__ or ""
    assert "May import" in doc, f"{package}'s docstring does not say what it may import"
    owned = {m.rsplit(".", 1)[1] for m in modules() if m.startswith(package + ".")}
    unnamed = sorted(name for name in owned if f"`{name}`" not in doc)
    assert unnamed == [], f"{package}'s docstring does not name its modules {unnamed}"


def test_the_top_package_names_every_sub_package():
    subs = {p.split(".")[1] for p in ALLOWED if p.startswith("agent.")}
    assert all(f"`{s}`" in (agent.__doc__ or "") for s in subs)


def test_the_rules_catch_a_lower_layer_reaching_up(tmp_path, monkeypatch):
    """The checker itself: a meetings module importing a command is reported."""
    fake = tmp_path / "agent" / "meetings"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from agent.commands import cli\n")
    assert set(imported(fake / "bad.py", {"agent.commands.cli"})) == {"agent.commands.cli"}
    assert not within("agent.commands.cli", ALLOWED["agent.meetings"])
