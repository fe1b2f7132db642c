"""Batches for the stateful agents: table writes held back until the batch's outputs are acked.

An agent takes events in batches (`take_batches`, take.py), applies each through the core against a
write-back view of its tables, queues every output in the outbox (streams/outbox.py), drains it
once, and only then writes the states. So the rule "outputs before the state that produced them"
(see OutputSink.deliver) costs one round trip per batch instead of one per event.

A state is written to the table's local store and its changelog record queued in the same outbox
(Faust's own changelog send is bypassed: same topic, partition, key and value bytes, so Faust's
recovery reads it back as its own). The changelog partition is that of the event that made the
write; the batch drains again, persists each changelog partition's last offset in the store as
Faust does, and only then are the batch's offsets free to be committed.

A record whose handling raises does not stop the batch: the table writes it made are undone (a
per-record undo log; the states it loaded are put back as they were before it, see
`StateView`), the record is dead-lettered (`on_failure`), and the batch goes on, so the partition
keeps committing. What the record had already queued in the outbox before it raised stays queued:
outputs carry ids the ERP drops repeats by. A refused or unacknowledged send (`OutboxError`) or a
registry that does not answer (`RegistryUnavailable`) is not the record's fault and still stops
the worker.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from faust.streams import _current_event
from faust.types import TP

from s2c.streams.codec import RegistryUnavailable
from s2c.streams.outbox import Outbox, OutboxError
from s2c.streams.topology.rocks import RocksBatches
from s2c.streams.topology.take import take_batches

_DELETED = object()
_ABSENT = object()  # in the undo log: the key held nothing in this batch
# Failures of the broker or the registry, not of the record: they stop the worker, as before, so
# a readable record is never dead-lettered because something around it was away.
INFRASTRUCTURE = (OutboxError, RegistryUnavailable)
BATCH_MAX = 500
# A batch closes when nothing more is queued; events trickling in one by one close it after this.
BATCH_WITHIN_SECONDS = 0.005


class Held:
    """A state held for the batch as an object, encoded once when the batch writes it."""

    __slots__ = ("state", "encode")

    def __init__(self, state: Any, encode: Callable[[Any], bytes]) -> None:
        self.state, self.encode = state, encode

    def stored(self) -> bytes:
        return self.encode(self.state)


class BatchedTable:
    """get/set/delete over a Faust table, holding writes until `flush`.

    Reads go to the table's store (one lookup in the event's partition; Faust's table `get`
    made two, and ran its sensors) and are kept until the batch ends: the keys an agent reads
    for every event (its partition's watermark marks, timer directory, tallies) are read once."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._writes: dict[Any, tuple[Any, Any]] = {}  # key -> (value or _DELETED, event)
        self._reads: dict[Any, Any] = {}  # key -> stored value or None, this batch
        self._objects: dict[Any, Any] = {}  # key -> decoded stored value, this batch
        self._undo: list[tuple[Any, Any]] | None = None  # the current record's overwritten entries
        self._guards: list[Any] = []  # views that put objects back on a rollback (StateView)
        self.event: Any = None  # the event being applied, set by the agent

    def guard(self, view: Any) -> None:
        """Have `view.begin()`, `view.mark()` and `view.rollback_since(mark)` called with this
        table's record boundaries and savepoints (StateView)."""
        self._guards.append(view)

    def begin_record(self) -> None:
        self._undo = []
        for view in self._guards:
            view.begin()

    def rollback_record(self) -> None:
        """Undo every write since `begin_record`: the record that made them failed."""
        self.rollback_to((0, [0] * len(self._guards)))
        self._undo = None

    def savepoint(self) -> tuple[int, list[int]]:
        """A mark inside the current record, to undo only what follows it (`rollback_to`)."""
        return len(self._undo or ()), [view.mark() for view in self._guards]

    def rollback_to(self, mark: tuple[int, list[int]]) -> None:
        undo_from, guard_marks = mark
        undo = self._undo or []
        for key, entry in reversed(undo[undo_from:]):
            if entry is _ABSENT:
                self._writes.pop(key, None)
            else:
                self._writes[key] = entry
        del undo[undo_from:]
        self._objects.clear()  # a decoded object may have been changed in place, unheld
        for view, since in zip(self._guards, guard_marks, strict=True):
            view.rollback_since(since)

    def _journal(self, key: Any) -> None:
        if self._undo is not None:
            self._undo.append((key, self._writes.get(key, _ABSENT)))

    def get(self, key: Any, default: Any = None) -> Any:
        held = self._writes.get(key)
        if held is not None:
            value = held[0]
            if value is _DELETED:
                return default
            return value.stored() if isinstance(value, Held) else value
        try:
            value = self._reads[key]
        except KeyError:
            value = self._reads[key] = self._read(key)
        return default if value is None else value

    def _read(self, key: Any) -> Any:
        if self.event is None:
            return self._table.get(key)
        token = _current_event.set(weakref.ref(self.event))
        try:
            return self._table.data.get(key)
        finally:
            _current_event.reset(token)

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._journal(key)
        self._objects.pop(key, None)
        self._writes[key] = (value, self.event)

    def __delitem__(self, key: Any) -> None:
        self._journal(key)
        self._objects.pop(key, None)
        self._writes[key] = (_DELETED, self.event)

    def hold(self, key: Any, state: Any, encode: Callable[[Any], bytes]) -> None:
        """Write `state` at the end of the batch, encoded then: once per key and batch."""
        self._journal(key)
        self._writes[key] = (Held(state, encode), self.event)

    def held(self, key: Any) -> Any:
        """The state object held for `key` in this batch, or None."""
        held = self._writes.get(key)
        return held[0].state if held is not None and isinstance(held[0], Held) else None

    def decoded(self, key: Any, decode: Callable[[bytes], Any]) -> Any:
        """The value at `key` as an object (None if there is none): the one held for this batch,
        else the stored bytes decoded once per batch. Whoever changes the object holds it again
        (`hold`), so small indexes read and written on every event (timer buckets, tallies)
        are parsed and encoded once per batch, not once per event."""
        state = self.held(key)
        if state is not None:
            return state
        try:
            return self._objects[key]
        except KeyError:
            pass
        stored = self.get(key)
        state = self._objects[key] = None if stored is None else decode(stored)
        return state

    def items(self) -> Any:
        return self._table.items()

    def flush(self, outbox: Outbox) -> bool:
        """Write the held states to the store and queue their changelog records; True if any."""
        store, topic = self._table.data, self._table.changelog_topic.get_topic_name()
        batches = RocksBatches.of(store)
        for key, (value, event) in self._writes.items():
            partition = event.message.partition
            if isinstance(value, Held):
                value = value.stored()
            if value is not _DELETED and batches is not None:
                batches.put(partition, key, value)
            else:
                # The store picks its partition from the event. Only this task's context variable
                # is set: the stream's own `current_event` belongs to the task filling the next
                # batch.
                token = _current_event.set(weakref.ref(event))
                try:
                    if value is _DELETED:
                        store.pop(key, None)
                    else:
                        store[key] = value
                finally:
                    _current_event.reset(token)
            outbox.send(topic, key, None if value is _DELETED else value, partition=partition)
        if batches is not None:
            batches.write()
        wrote = bool(self._writes)
        self._undo = None
        self._writes.clear()
        self._reads.clear()
        self._objects.clear()
        return wrote

    def persist_offsets(self, outbox: Outbox) -> None:
        """Remember in the store how far its changelog partitions are, as Faust does after each
        acknowledged changelog send: a restart then reads only the records after them."""
        topic = self._table.changelog_topic.get_topic_name()
        for partition, offset in outbox.offsets_of(topic).items():
            self._table.data.set_persisted_offset(TP(topic, partition), offset)


class BatchScope:
    """The batched views of one agent, switched event by event and flushed together."""

    def __init__(
        self, tables: dict[str, Any], names: tuple[str, ...], progress: tuple[str, ...] = ()
    ) -> None:
        self.views = {name: BatchedTable(tables[name]) for name in names}
        # Written after the others are acknowledged: the views that say how far the stage has
        # come (watermark notes, timer index, kept stream time), see `flush`.
        self._groups = [
            [view for name, view in self.views.items() if name not in progress],
            [view for name, view in self.views.items() if name in progress],
        ]

    def __getitem__(self, name: str) -> BatchedTable:
        return self.views[name]

    def current(self, event: Any) -> None:
        for view in self.views.values():
            view.event = event
            view.begin_record()

    def rollback(self) -> None:
        """Undo the current record's writes in every view."""
        for view in self.views.values():
            view.rollback_record()

    def savepoint(self) -> dict[str, Any]:
        """A mark inside the current record: `rollback_to` undoes only the writes after it (a
        deadline that fails while a record is handled, see `fire_isolated`)."""
        return {name: view.savepoint() for name, view in self.views.items()}

    def rollback_to(self, marks: dict[str, Any]) -> None:
        for name, view in self.views.items():
            view.rollback_to(marks[name])

    async def flush(self, outbox: Outbox) -> None:
        """Write the states, wait for their changelog records, then the same for the progress
        views, and persist the changelog offsets. A worker killed mid-flush may have delivered
        some changelog records and not others, and whoever recovers the partition reads the
        batch's input again: in this order the progress it recovers (the watermark its
        partitions heard, the timers it fired) is never ahead of the states, so no event read
        again meets a watermark ahead of it and fires a deadline before it that the first
        reading fired after it."""
        wrote: list[BatchedTable] = []
        for group in self._groups:
            flushed = [view for view in group if view.flush(outbox)]
            if flushed:
                await outbox.drain()
                wrote += flushed
        for view in wrote:
            view.persist_offsets(outbox)


async def fire_isolated(
    scope: BatchScope,
    fire: Callable[[], Awaitable[None]],
    failed: Callable[[Exception], None],
) -> None:
    """Fire one key's deadline so that its failure stays its own: the writes it made are undone
    and `failed` is told, and the record being handled goes on. Its timer entry, taken out before,
    stays out: the instance's next event files its deadline again. Were the failure the record's,
    the record would be dead-lettered, the timer put back by the rollback, and every later record
    of the partition would meet the same failing deadline."""
    mark = scope.savepoint()
    try:
        await fire()
    except INFRASTRUCTURE:
        raise
    except Exception as exc:  # a state the core cannot advance: logged, the partition goes on
        scope.rollback_to(mark)
        failed(exc)


async def consume_in_batches(
    stream: Any,
    scope: BatchScope,
    outbox: Outbox,
    handle: Callable[[Any], Awaitable[None]],
    on_failure: Callable[[Any, Exception], Awaitable[None]],
) -> None:
    """The one loop of the agents: apply a batch, wait for every output's ack, then write the
    batch's states (outputs before the state that produced them) and wait for those too; the
    stream acknowledges the batch's events (their offsets may be committed) only after.
    A record whose `handle` raises has its writes undone and goes to `on_failure` (the DLQ)."""
    async for batch in take_batches(stream, BATCH_MAX, BATCH_WITHIN_SECONDS):
        for event in batch:
            scope.current(event)
            try:
                await handle(event.message)
            except INFRASTRUCTURE:
                raise
            except Exception as exc:  # any other failure is this record's: dead-letter it
                scope.rollback()
                await on_failure(event.message, exc)
        await outbox.drain()
        await scope.flush(outbox)
        for event in batch:
            await stream.ack(event)
