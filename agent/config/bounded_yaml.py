"""YAML read with a bound on what its aliases expand to, checked before anything is built.

An alias (`*name`) stands for the whole node its anchor (`&name`) names, so a few lines
can stand for billions of values ("billion laughs"): PyYAML builds them as shared
objects, but whatever walks the result afterwards (validation, cross-checks, `str()`)
walks every repetition. `load` first reads the file's events once, in linear time and
without building anything, adding up how many nodes and how many characters of text the
document holds with every alias counted as what it repeats; past `MAX_NODES` or
`MAX_CHARS` it refuses, naming the line. Only then does libyaml build the document.

An alias inside the node its own anchor names (a recursive structure) is refused too:
no config needs one.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)

# A 10,000-participant config written out in full is about 150,000 nodes and 2 MB.
MAX_NODES = 1_000_000
MAX_CHARS = 50_000_000

# libyaml's loader where PyYAML was built with it (its wheels are): ten times faster
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LOADER(_BASE):  # type: ignore[misc,valid-type]
    """The safe loader, except that a date that does not exist (2027-13-01) stays text,
    for the config's checks to report, instead of a ValueError from deep in PyYAML."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


LOADER.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class YAMLTooLarge(yaml.MarkedYAMLError):
    """The document would expand past the bounds; `problem_mark` is where it crossed them."""


def load(text: str) -> Any:
    """The document in `text`, as `yaml.safe_load` gives it, or `yaml.YAMLError`
    (`YAMLTooLarge` when its aliases expand past the bounds)."""
    check_expansion(yaml.parse(text, Loader=LOADER))
    return yaml.load(text, Loader=LOADER)


def check_expansion(events: Any) -> None:
    """Raise `YAMLTooLarge` at the first event where the document, aliases expanded,
    holds more than `MAX_NODES` nodes or `MAX_CHARS` characters of scalars."""
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, chars) of its node, expanded
    open_: list[tuple[str | None, int, int]] = []  # collections being read: anchor, start
    open_anchors: set[str] = set()
    nodes = chars = 0
    for event in events:
        if isinstance(event, ScalarEvent):
            nodes += 1
            chars += len(event.value)
            if event.anchor:
                sizes[event.anchor] = (1, len(event.value))
        elif isinstance(event, CollectionStartEvent):
            nodes += 1
            open_.append((event.anchor, nodes - 1, chars))
            if event.anchor:
                open_anchors.add(event.anchor)
        elif isinstance(event, CollectionEndEvent):
            anchor, start_nodes, start_chars = open_.pop()
            if anchor:
                sizes[anchor] = (nodes - start_nodes, chars - start_chars)
                open_anchors.discard(anchor)
        elif isinstance(event, AliasEvent):
            if event.anchor in open_anchors:
                _refuse(event, f"the alias *{event.anchor} is inside the node it names")
            repeated_nodes, repeated_chars = sizes.get(event.anchor, (1, 0))
            nodes += repeated_nodes
            chars += repeated_chars
        else:
            continue
        if nodes > MAX_NODES:
            _refuse(event, f"the document expands to more than {MAX_NODES:,} values here")
        if chars > MAX_CHARS:
            _refuse(event, f"the document expands to more than {MAX_CHARS:,} characters here")


def _refuse(event: Event, problem: str) -> None:
    raise YAMLTooLarge(
        problem=f"{problem} (an alias repeats everything its anchor names); refused before "
        "building it: write the values out, or use fewer aliases",
        problem_mark=event.start_mark,
    )
