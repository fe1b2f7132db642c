"""The state store of a batch: writes to a Faust table held back until the batch checkpoints.

`BatchedTable` is a get/set/delete view over one Faust table for the length of a batch (the
stage interface's state store, see s2c.tables.stage). Reads go to the table's local store once
per key and batch; writes are held, journaled per record so a record that fails is undone
(`rollback_record`), and written by the checkpoint (checkpoint.py): to the local store (RocksDB
in one write batch per partition) and as changelog records through the outbox. Faust's own
changelog send is bypassed: same topic, partition, key and value bytes, so Faust's recovery
reads them back as its own. The changelog partition is that of the event that made the write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.types import TP

from s2c.streams.runtime.outbox import Outbox
from s2c.streams.runtime.overrides.store import RocksBatches
from s2c.streams.runtime.overrides.stream import event_context

_DELETED = object()
_ABSENT = object()  # in the undo log: the key held nothing in this batch


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
        with event_context(self.event):
            return self._table.data.get(key)

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

    def keys(self) -> Any:
        """The stored keys (not this batch's writes)."""
        return self._table.keys()

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
                with event_context(event):
                    if value is _DELETED:
                        store.pop(key, None)
                    else:
                        store[key] = value
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
