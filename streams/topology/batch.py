"""Batches for the stateful agents: table writes held back until the batch's outputs are acked.

An agent takes events in batches (`stream.take_events`), applies each through the core against a
write-back view of its tables, hands every output to the producer without waiting, waits once for
the broker to acknowledge them all, and only then writes the states. So the rule "outputs before
the state that produced them" (see OutputSink.deliver) costs one round trip per batch instead of
one per event. A table write goes to the changelog partition of the event that made it, so each
held write remembers its event and is replayed with that event made current.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from faust.streams import _current_event

_DELETED = object()
BATCH_MAX = 500
# Under light load a batch closes after this long, so batching adds at most this to latency.
BATCH_WITHIN_SECONDS = 0.005


class BatchedTable:
    """get/set/delete over a Faust table, holding writes until `flush`."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._writes: dict[Any, tuple[Any, Any]] = {}  # key -> (value or _DELETED, event)
        self.event: Any = None  # the event being applied, set by the agent

    def get(self, key: Any, default: Any = None) -> Any:
        held = self._writes.get(key)
        if held is not None:
            return default if held[0] is _DELETED else held[0]
        return self._table.get(key, default)

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._writes[key] = (value, self.event)

    def __delitem__(self, key: Any) -> None:
        self._writes[key] = (_DELETED, self.event)

    def items(self) -> Any:
        return self._table.items()

    def flush(self) -> None:
        for key, (value, event) in self._writes.items():
            # The changelog partition is the event's. Only this task's context variable is set:
            # the stream's own `current_event` belongs to the task filling the next batch.
            token = _current_event.set(weakref.ref(event))
            try:
                if value is _DELETED:
                    self._table.pop(key, None)
                else:
                    self._table[key] = value
            finally:
                _current_event.reset(token)
        self._writes.clear()


class BatchScope:
    """The batched views of one agent, switched event by event and flushed together, and the
    delivery futures of the outputs the batch produced."""

    def __init__(self, tables: dict[str, Any], names: tuple[str, ...]) -> None:
        self.views = {name: BatchedTable(tables[name]) for name in names}
        self.pending: list[Any] = []

    def __getitem__(self, name: str) -> BatchedTable:
        return self.views[name]

    def current(self, event: Any) -> None:
        for view in self.views.values():
            view.event = event

    def flush(self) -> None:
        for view in self.views.values():
            view.flush()


async def consume_in_batches(stream: Any, scope: BatchScope,
                             handle: Callable[[Any], Awaitable[None]]) -> None:
    """The one loop of the stateful agents: apply a batch, wait for every output's ack, then
    write the batch's states (outputs before the state that produced them)."""
    async for batch in stream.take_events(BATCH_MAX, BATCH_WITHIN_SECONDS):
        for event in batch:
            scope.current(event)
            await handle(event.message)
        if scope.pending:
            await asyncio.gather(*scope.pending)
            scope.pending.clear()
        scope.flush()
