"""Faust's aiokafka transport with five repairs, registered as the `s2ckafka://` scheme.

1. An idempotent, acks=all producer outside transactions too. Faust turns on `enable_idempotence`
   only in exactly-once mode, whose open duplicate bugs we avoid (at-least-once plus deterministic
   command ids instead); an idempotent producer keeps broker retries from writing a record twice.
2. A consumer that really rewinds after recovery. Faust fetches records while tables recover, then
   drops its in-memory queues and calls aiokafka's `seek_to_committed`, which only seeks when the
   committed offset is > 0. A partition with no committed offset yet keeps the position the early
   fetch left it at, and the dropped records are never read: observed here as a restarted worker
   silently losing an event forwarded to a fresh partition of the process topic. Such partitions are
   sent back to their beginning (the app's `auto_offset_reset` is `earliest`). Changelog partitions
   are left alone: the group never commits them, their position is the table recovery's business.
3. No records handed on while positions are reset. After a recovery Faust resumes the stream
   partitions, then seeks them to their committed offsets (seconds on a busy broker) with the flow
   of records still on, then resumes flow control, which empties every agent's queue. A record
   fetched in that window was put in a queue, emptied out of it, and its offset was already behind
   the consumer's position: never read again. Seen as a restarted worker that ignored an event
   published while it started (about one restart in three right after the broker started). The
   flow is now stopped before the seek; Faust turns it back on once the queues are emptied, and
   the records come again from the committed offsets.
4. No two tasks per record. Faust's fetch loop hands each record to the agents' queues through
   `wait_first(callback(message), suspend_flow.wait())`: two tasks and an `asyncio.wait` per
   record, so that a record waiting for room in a full queue is given up when a rebalance stops
   the flow. Measured here as a quarter of a busy worker's main thread. The loop below awaits the
   callback directly, and one guard task per loop gives the record up the same way: when the flow
   stops while a record waits inside the callback, the guard cancels that wait (and only that
   wait; Task.uncancel keeps the loop itself running). A record whose turn comes after the flow
   stopped is not handed on, as Faust's `getmany` hands on no record once the flow is off: the
   seek that follows reads it again from the committed offset.
5. One request for the committed offsets. aiokafka's `seek_to_committed` asks the coordinator
   once per partition, one after the other (a worker holds about fifty: its stream partitions
   and every table's changelog), and its `seek_to_beginning` waits for the fetcher to serve a
   reset: a restarted worker spent 1.5 s seeking. All offsets now come in one request, and a
   partition with none is set to offset 0 directly (see `_seek_to_committed_or_start`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "s2ckafka"


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class RewindingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[Any, int | None]:
        return await self.call_thread(self._seek_to_committed_or_start)

    async def _seek_to_committed_or_start(self) -> dict[Any, int | None]:
        """Every partition to its committed offset, and a stream partition with none to its
        start (repair 2), in one offset-fetch request (repair 5)."""
        consumer = self._ensure_consumer()
        changelogs = self.consumer.app.tables.changelog_topics
        partitions = consumer.assignment()
        fetched = await consumer._coordinator.fetch_committed_offsets(list(partitions))
        committed: dict[Any, int | None] = {}
        for tp in partitions:
            meta = fetched.get(tp)
            offset = None if meta is None or meta.offset == -1 else meta.offset
            committed[tp] = offset
            if offset:
                consumer._fetcher.seek_to(tp, offset)
            elif tp.topic not in changelogs:
                # Offset 0, not aiokafka's seek_to_beginning: a log whose start moved on is out
                # of range at 0 and reset to its start by auto_offset_reset=earliest, without
                # waiting for the fetcher to serve a reset request.
                consumer._fetcher.seek_to(tp, 0)
        return committed


class RewindingConsumer(faust_aiokafka.Consumer):
    async def perform_seek(self) -> None:
        self.stop_flow()  # every caller resumes the flow afterwards (or already had it stopped)
        await super().perform_seek()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's fetch loop (the Fetcher service runs it) with one await per record."""
        loop_task = asyncio.current_task()
        assert loop_task is not None
        state = _Delivery()
        guard = asyncio.ensure_future(self._guard_delivery(loop_task, state))
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = self.getmany(timeout=1.0)
                await asyncio.sleep(0)  # a getmany that returns at once must still yield
                if not self.should_stop:
                    await self._hand_on(records, state)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            guard.cancel()
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _hand_on(self, records: Any, state: _Delivery) -> None:
        read_offset = self._read_offset
        since_yield = 0
        async for tp, message in records:
            since_yield += 1
            if since_yield > 100:  # let the agents run during a long fetch
                await asyncio.sleep(0)
                since_yield = 0
            offset, last = message.offset, read_offset[tp]
            if last is not None and offset < last:
                continue  # already handed on (a seek went back over it)
            if last and offset - last > 1 and self.app.topics.acks_enabled_for(message.topic):
                await self._add_gap(tp, last + 1, offset)  # offsets that never come (compaction)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            if self.flow_active:
                await self._deliver(message, state)
            read_offset[tp] = offset

    async def _deliver(self, message: Any, state: _Delivery) -> None:
        state.waiting = True
        try:
            await self.callback(message)
        except asyncio.CancelledError:
            if not state.given_up:
                raise
        finally:
            state.waiting = False
            if state.given_up:  # the guard's cancel: the record is given up, the loop goes on
                state.given_up = False
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()

    async def _guard_delivery(self, loop_task: asyncio.Task, state: _Delivery) -> None:
        """While the flow is stopped, give up the record that waits inside the callback."""
        while True:
            await self.suspend_flow.wait()
            while self.suspend_flow.is_set():
                if state.waiting and not state.given_up:
                    state.given_up = True
                    loop_task.cancel()
                await asyncio.sleep(0.05)


class _Delivery:
    """Whether the fetch loop is inside the callback, and whether the guard gave that up."""

    __slots__ = ("waiting", "given_up")

    def __init__(self) -> None:
        self.waiting = False
        self.given_up = False


class Transport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
    Consumer = RewindingConsumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
