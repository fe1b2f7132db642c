"""Faust's aiokafka transport with two repairs, registered as the `s2ckafka://` scheme.

1. An idempotent, acks=all producer outside transactions too. Faust turns on `enable_idempotence`
   only in exactly-once mode, whose open duplicate bugs we avoid (at-least-once plus deterministic
   command ids instead); an idempotent producer keeps broker retries from writing a record twice.
2. A consumer that really rewinds after recovery. Faust fetches records while tables recover, then
   drops its in-memory queues and calls aiokafka's `seek_to_committed`, which only seeks when the
   committed offset is > 0. A partition with no committed offset yet keeps the position the early
   fetch left it at, and the dropped records are never read: observed here as a restarted worker
   silently losing an event forwarded to a fresh partition of the process topic. Such partitions are
   sent back to their beginning (the app's `auto_offset_reset` is `earliest`).
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
        never_committed = [tp for tp, offset in committed.items() if not offset]
        if never_committed:
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *never_committed)
        return committed


class RewindingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
    Consumer = RewindingConsumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
