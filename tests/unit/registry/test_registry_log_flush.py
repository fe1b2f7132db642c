"""The registry's log (streams/registry/kafkalog.py) takes a producer that fails inside `flush`
without a Kafka error as fenced: the write is decided again on a new producer, not answered 500.

Seen in the suite once: two registry instances on one topic fence each other's transactional
producer, and confluent-kafka's `flush` failed with "returned NULL without setting an exception".
"""

from __future__ import annotations

import asyncio
from typing import Any

from confluent_kafka import KafkaException

from s2c.streams.registry.kafkalog import KafkaLog


class FlakyProducer:
    """Fails its first flush the way the binding did; delivers everything after."""

    flushes = 0

    def __init__(self) -> None:
        self.pending: list[Any] = []

    def begin_transaction(self) -> None:
        self.pending = []

    def produce(
        self,
        topic: str,
        key: Any = None,
        value: Any = None,
        partition: int = 0,
        on_delivery: Any = None,
    ) -> None:
        self.pending.append((topic, on_delivery))

    def flush(self, timeout: float) -> int:
        FlakyProducer.flushes += 1
        if FlakyProducer.flushes == 1:
            raise SystemError("<method 'flush' of 'cimpl.Producer' objects> returned NULL")
        for offset, (topic, delivered) in enumerate(self.pending):
            delivered(None, Delivered(topic, offset))
        return 0

    def commit_transaction(self, timeout: float) -> None:
        pass

    def abort_transaction(self, timeout: float) -> None:
        pass


class Delivered:
    def __init__(self, topic: str, offset: int) -> None:
        self._topic, self._offset = topic, offset

    def topic(self) -> str:
        return self._topic

    def offset(self) -> int:
        return self._offset


def test_a_flush_that_fails_without_a_kafka_error_is_retried_on_a_new_producer() -> None:
    log = KafkaLog({}, "_s2c_schemas", 1, lambda key, value: None)
    FlakyProducer.flushes = 0
    opened: list[FlakyProducer] = []

    def open_producer() -> None:
        if log._producer is None:
            log._producer = FlakyProducer()
            opened.append(log._producer)

    async def no_wait(*_: Any) -> None:
        return None

    log._open_producer = open_producer  # type: ignore[method-assign]
    log.sync = no_wait  # type: ignore[method-assign]
    log._read_up_to = no_wait  # type: ignore[method-assign]
    decided = []

    def decide() -> tuple[list[tuple[bytes, bytes]], str]:
        decided.append(1)
        return [(b"SCHEMA:s2c.events.CaseScheduled", b"{}")], "registered"

    try:
        assert asyncio.run(log.write(decide)) == "registered"
    finally:
        log._producer_thread.shutdown()
        log._meta_thread.shutdown()
    assert len(decided) == 2 and len(opened) == 2  # decided again, on a new producer


def test_the_failure_reads_as_fatal_so_the_producer_is_dropped() -> None:
    log = KafkaLog({}, "_s2c_schemas", 1, lambda key, value: None)
    FlakyProducer.flushes = 0
    log._producer = FlakyProducer()  # type: ignore[assignment]
    try:
        log._append([(b"k", b"v")], [])
    except KafkaException as exc:
        assert exc.args[0].fatal()
    else:
        raise AssertionError("the failed flush was taken as a success")
    finally:
        log._producer_thread.shutdown()
        log._meta_thread.shutdown()
