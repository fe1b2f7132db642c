"""The checkpoint of a batch: outputs acknowledged, then states and changelogs, then offsets.

One object owns the order in which a stage's batch becomes durable, because every guarantee of
the pipeline leans on it:

1. every output the batch queued in the outbox (commands, breaches, work items, forwards,
   dead letters) is acknowledged by the broker: an output is never behind the state that
   produced it, so a crash re-reads the batch and sends again (same ids) rather than lose one;
2. the batch's states are written (the local store, and their changelog records through the
   outbox, acknowledged), then its progress (watermark notes, timer index, kept stream time),
   acknowledged in turn. A worker killed between the two leaves progress behind the states,
   never ahead: whoever recovers the partition re-reads the batch with a watermark that is not
   ahead of its events, so no deadline fires before an event it used to fire after;
3. each changelog partition's last offset is persisted in the store as Faust does, and only
   then are the batch's events acknowledged to the stream, which lets their offsets be committed.

Inside the batch the checkpoint also keeps the per-record undo: `current` opens a record,
`rollback` undoes it (it failed and is dead-lettered), `savepoint`/`rollback_to` undo a part of
it (a deadline that failed while the record was handled).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from s2c.streams.runtime.outbox import Outbox
from s2c.streams.runtime.store import BatchedTable


class Placed:
    """Where a write goes when it is not the record's own partition: what Faust's stores and
    `BatchedTable` read of an event (`event.message.partition`), and nothing else."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, partition: int) -> None:
        self.message = _Partition(partition)


class _Partition:
    __slots__ = ("partition",)

    def __init__(self, partition: int) -> None:
        self.partition = partition


class Checkpoint:
    """The batched views of one stage, switched record by record and made durable together."""

    def __init__(
        self,
        tables: dict[str, Any],
        names: tuple[str, ...],
        outbox: Outbox,
        progress: tuple[str, ...] = (),
    ) -> None:
        self.views = {name: BatchedTable(tables[name]) for name in names}
        self.outbox = outbox
        self._placed: dict[int, Placed] = {}  # bounded by the partition count
        # Written after the others are acknowledged: the views that say how far the stage has
        # come (watermark notes, timer index, kept stream time).
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

    def place(self, names: tuple[str, ...], partition: int) -> None:
        """Have the views `names` read and write `partition` of their tables, not the record's
        own: a stage applied in memory for a record of another topic (a link or process
        partition this worker owns, reached from an ingest record). Until the next record."""
        placed = self._placed.get(partition)
        if placed is None:
            placed = self._placed[partition] = Placed(partition)
        for name in names:
            self.views[name].event = placed

    def rollback(self) -> None:
        """Undo the current record's writes in every view."""
        for view in self.views.values():
            view.rollback_record()

    def savepoint(self) -> dict[str, Any]:
        """A mark inside the current record: `rollback_to` undoes only the writes after it."""
        return {name: view.savepoint() for name, view in self.views.items()}

    def rollback_to(self, marks: dict[str, Any]) -> None:
        for name, view in self.views.items():
            view.rollback_to(marks[name])

    async def commit(self, stream: Any, events: Iterable[Any]) -> None:
        """Make the batch durable in the order above, then acknowledge `events` to `stream`."""
        await self.outbox.drain()
        await self.write_states()
        for event in events:
            await stream.ack(event)

    async def write_states(self) -> None:
        """Steps 2 and 3 without the acknowledgement: the states, then the progress, each
        acknowledged, then the changelog offsets persisted."""
        wrote: list[BatchedTable] = []
        for group in self._groups:
            flushed = [view for view in group if view.flush(self.outbox)]
            if flushed:
                await self.outbox.drain()
                wrote += flushed
        for view in wrote:
            view.persist_offsets(self.outbox)
