"""Handled messages waiting to be moved out of the inbox, in batches.

Moving one message at a time costs a round trip each (an IMAP MOVE, an EWS MoveItem);
moving a fetch's messages together costs one per target folder. So a mailbox queues each
`mark_handled` and moves when the last message of its latest fetch is marked, when
`batch` are queued, or at once for a message marked outside that pattern. What is still
queued is moved before the next fetch and on close.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

Ref = TypeVar("Ref")


class MoveQueue(Generic[Ref]):
    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.outstanding: set[Ref] = set()  # of the latest fetch, not marked handled yet
        self.queued: dict[str, list[Ref]] = {}  # target folder -> refs to move there

    def fetched(self, refs: Iterable[Ref]) -> None:
        self.outstanding = set(refs)

    def add(self, ref: Ref, target: str) -> bool:
        """Queue a move; True when the queue should be moved now."""
        self.queued.setdefault(target, []).append(ref)
        batched = ref in self.outstanding
        self.outstanding.discard(ref)
        count = sum(len(refs) for refs in self.queued.values())
        return not (batched and self.outstanding and count < self.batch)

    def take(self) -> dict[str, list[Ref]]:
        queued, self.queued = self.queued, {}
        return queued
