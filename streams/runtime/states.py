"""Decoded states kept across batches, so a busy instance is parsed once, not per event.

A stateful agent owns its partitions' states: nothing else writes them while the partition is
assigned here. So the decoded object the agent last saved is what the table holds, and a later
event for the same key can start from it instead of parsing the stored JSON again. States are
written at the end of their batch (`BatchedTable.hold`), encoded once per key and batch.

A record that fails mid-way (loop.py) must leave the states as they were before it, though the
core may have changed the objects it was handed in place: the first time a record loads a key, the
view notes what to go back to (nothing, when the key was not written yet in this batch: the table
and a fresh decode hold the truth; else that state encoded, a cost paid only for a key a batch
touches again), and `rollback` puts it back.

The cache is dropped whenever partitions move (revoked or assigned): a partition handed away and
back may have been changed by another worker, and its table recovered from the changelog.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import orjson

from s2c.streams.runtime.store import BatchedTable
from s2c.tables.codec import dumps_bytes, loads

S = TypeVar("S")


class StateView(Generic[S]):
    def __init__(
        self,
        view: BatchedTable,
        decode: Callable[[bytes], S],
        encode: Callable[[S], bytes],
        keep: int,
    ) -> None:
        self._view, self._decode, self._encode, self._keep = view, decode, encode, keep
        self._cache: OrderedDict[bytes, S] = OrderedDict()
        # This record's keys, each noted with what to go back to the first time it is loaded
        # after the record began or after a savepoint (`mark`): a record that applies several
        # events (the held ones a watermark releases) undoes only the one that failed.
        self._before: list[tuple[bytes, bytes | None]] = []
        self._noted: set[bytes] = set()
        view.guard(self)

    def begin(self) -> None:
        self._before.clear()
        self._noted.clear()

    def mark(self) -> int:
        self._noted.clear()
        return len(self._before)

    def rollback_since(self, mark: int) -> None:
        """Put back the keys loaded after `mark` (0: every key of the record) as they were then,
        the earliest note of a key last. They stay noted, so a rollback of the whole record
        later puts them back again."""
        for key, before in reversed(self._before[mark:]):
            self._cache.pop(key, None)
            if before is not None:
                self._view.hold(key, self._decode(before), self._encode)

    def _note(self, key: bytes) -> None:
        if key not in self._noted:
            self._noted.add(key)
            held = self._view.held(key)
            self._before.append((key, None if held is None else self._encode(held)))

    def load(self, key: bytes) -> S | None:
        self._note(key)
        state = self._cache.get(key)
        if state is not None:
            self._cache.move_to_end(key)
            return state
        state = self._view.held(key)
        if state is None:
            stored = self._view.get(key)
            if stored is None:
                return None
            state = self._decode(stored)
        self._remember(key, state)
        return state

    def save(self, key: bytes, state: S) -> None:
        self._note(key)
        self._remember(key, state)
        self._view.hold(key, state, self._encode)

    def forget(self) -> None:
        self._cache.clear()

    def _remember(self, key: bytes, state: S) -> None:
        self._cache[key] = state
        self._cache.move_to_end(key)
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)


class Forgets(Protocol):
    def forget(self) -> None: ...


def forget_on_rebalance(app: Any, *views: Forgets) -> None:
    """Call each view's `forget` whenever this worker's partitions change (decoded states are
    dropped, timer indexes check their directories again)."""

    async def forget(*_: Any, **__: Any) -> None:
        for view in views:
            view.forget()

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)


def json_states(app: Any, view: BatchedTable, state_type: Any, keep: int) -> StateView[Any]:
    """The agent's view of a table of states stored as compact JSON (`to_dict` / `from_dict`),
    up to `keep` of them kept decoded, dropped whenever partitions move."""
    states: StateView[Any] = StateView(
        view,
        lambda stored: state_type.from_dict(loads(stored)),
        lambda state: dumps_bytes(state.to_dict()),
        keep,
    )
    forget_on_rebalance(app, states)
    return states


def sorted_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
