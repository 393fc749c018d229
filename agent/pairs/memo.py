"""Remember a pure function's result per argument object, for as long as that object lives.

For values derived from immutable objects the agent keeps for a whole process (the
loaded config; the stored pair states, which the store keeps between ticks), asked for
many times per tick. Keyed by identity rather than by value: frozen pydantic models with
dict fields cannot be hashed, and a cache kept on the object itself would be carried
over to the changed copy that `model_copy(update=...)` makes.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def per_object(function: Callable[[T], R]) -> Callable[[T], R]:
    """`function(obj)`, computed once per live `obj` (which must allow weak references)."""
    known: dict[int, tuple[weakref.ref[Any], R]] = {}

    @functools.wraps(function)
    def remembered(obj: T) -> R:
        ident = id(obj)
        entry = known.get(ident)
        if entry is not None and entry[0]() is obj:
            return entry[1]
        result = function(obj)
        known[ident] = (weakref.ref(obj, lambda _: known.pop(ident, None)), result)
        return result

    return remembered
