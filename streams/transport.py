"""Faust's aiokafka transport with three repairs, registered as the `s2ckafka://` scheme.

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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "s2ckafka"


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class RewindingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        changelogs = self.consumer.app.tables.changelog_topics
        never_committed = [tp for tp, offset in committed.items()
                           if not offset and tp.topic not in changelogs]
        if never_committed:
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *never_committed)
        return committed


class RewindingConsumer(faust_aiokafka.Consumer):
    async def perform_seek(self) -> None:
        self.stop_flow()  # every caller resumes the flow afterwards (or already had it stopped)
        await super().perform_seek()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
    Consumer = RewindingConsumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
