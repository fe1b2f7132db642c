"""Throughput from consumer-group commits: how fast a group finishes a pre-loaded topic.

The figure is read from the broker, not from inside the process: a group has processed an event
when its committed offset on the source topic is past it, and the work the event caused is done
when the group's committed offsets on the downstream topics it also consumes (link, process)
have caught up with their log ends. The clock stops when every one of those topics is committed
to its end (Faust commits every second, so up to ~1 s late: the figure errs low).

The clock starts at the first event record the group wrote downstream (its timestamp, set by
the worker when it sent it; control records such as watermarks, which a stage announces before
any event, do not count), so start-up, rebalance and master-data loading are left out and every
event's work is inside the measured span. It used to start at the first commit on the source
and count only the events after it; but the ingest stage runs ahead of the others, so that
commit could already cover thousands of events (1,378 and 2,941 of 20,000 in two runs here)
whose downstream work was still inside the span: the figure came out low by a varying amount.
Without downstream topics (the plain-Faust peer) the first source commit is the start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from s2c.streams.settings import Settings


@dataclass(frozen=True)
class Finish:
    """How a group went through `expected` events of its source topic."""

    expected: int
    first_commit: int  # source events already committed when the clock started
    seconds: float  # from that first commit to everything committed
    done: bool  # False: timed out, the rate is over what got done
    processed: int
    behind: str = ""  # on a time-out: the partitions whose commits never reached their log end

    @property
    def events_per_s(self) -> float:
        return (self.processed - self.first_commit) / self.seconds if self.seconds > 0 else 0.0


class OffsetWatch:
    """Committed offsets of one group and log-end offsets, for a fixed set of topics."""

    def __init__(self, settings: Settings, group: str, topics: Sequence[str]) -> None:
        from confluent_kafka.admin import AdminClient

        self.settings = settings
        self.admin = AdminClient(settings.confluent_config())
        self.group = group
        metadata = self.admin.list_topics(timeout=10).topics
        self.partitions = [(t, p) for t in topics for p in metadata[t].partitions]

    def committed(self) -> dict[str, int]:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(t, p) for t, p in self.partitions]
        )
        result = self.admin.list_consumer_group_offsets([request])[self.group].result(10)
        sums: dict[str, int] = {t: 0 for t, _ in self.partitions}
        for tp in result.topic_partitions:
            sums[tp.topic] += max(tp.offset, 0)  # -1001: nothing committed yet
        return sums

    def behind(self) -> str:
        """Every partition committed short of its log end, as `topic[p] committed/end`."""
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(t, p) for t, p in self.partitions]
        )
        result = self.admin.list_consumer_group_offsets([request])[self.group].result(10)
        end_of = self._log_ends(self.partitions)
        return ", ".join(
            f"{tp.topic}[{tp.partition}] {max(tp.offset, 0)}/{end}"
            for tp in result.topic_partitions
            if max(tp.offset, 0) < (end := end_of[(tp.topic, tp.partition)])
        )

    def stable_members(self) -> int:
        """Members of the group when it is stable (no rebalance under way), else 0."""
        from confluent_kafka import ConsumerGroupState

        description = self.admin.describe_consumer_groups([self.group])[self.group].result(10)
        return len(description.members) if description.state == ConsumerGroupState.STABLE else 0

    def first_record_ms(self, topics: Sequence[str], timeout: float = 30.0) -> int | None:
        """The earliest timestamp among the first event records (control records, such as
        the watermarks a stage announces before any event, are skipped) of `topics`'
        partitions; None when there is none."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        from s2c.streams.topology.context import CONTROL_HEADER

        ends = self._log_ends([(t, p) for t, p in self.partitions if t in topics])
        open_ = {tp for tp, end in ends.items() if end > 0}  # still looking there
        if not open_:
            return None
        consumer = Consumer(
            {
                **self.settings.confluent_config(),
                "group.id": f"{self.group}-clock",
                "enable.auto.commit": False,
            }
        )
        first: list[int] = []
        deadline = time.monotonic() + timeout
        try:
            consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in open_])
            while open_ and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                tp = (message.topic(), message.partition())
                if tp not in open_:
                    continue
                if not any(name == CONTROL_HEADER for name, _ in message.headers() or []):
                    first.append(message.timestamp()[1])
                    open_.discard(tp)
                elif message.offset() + 1 >= ends[tp]:
                    open_.discard(tp)  # nothing but control records here
        finally:
            consumer.close()
        return min(first) if first else None

    def ends(self) -> dict[str, int]:
        sums: dict[str, int] = {t: 0 for t, _ in self.partitions}
        for (topic, _), end in self._log_ends(self.partitions).items():
            sums[topic] += end
        return sums

    def _log_ends(self, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        from confluent_kafka import TopicPartition
        from confluent_kafka.admin import OffsetSpec

        if not partitions:
            return {}
        futures = self.admin.list_offsets(
            {TopicPartition(t, p): OffsetSpec.latest() for t, p in partitions}
        )
        return {(tp.topic, tp.partition): f.result(10).offset for tp, f in futures.items()}


def watch(
    watcher: OffsetWatch,
    source: str,
    expected: int,
    timeout: float,
    alive: Callable[[], bool],
    on_poll: Callable[[], Any] = lambda: None,
    interval: float = 0.25,
) -> Finish:
    """Polls until the group has committed `expected` source events and caught up downstream.
    Call it once the measured processes answer on their web port."""
    began = time.monotonic()
    deadline = began + timeout
    started: float | None = None
    first = processed = 0
    downstream = [t for t in dict.fromkeys(t for t, _ in watcher.partitions) if t != source]
    while time.monotonic() < deadline:
        on_poll()
        if not alive():
            raise RuntimeError("a measured process exited or crashed during the run")
        committed = watcher.committed()
        now, wall_ms = time.monotonic(), time.time() * 1000
        processed = committed[source]
        if started is None and processed > 0:
            started, first = now, processed
        if processed >= expected:
            ends = watcher.ends()
            if all(committed[t] >= ends[t] for t in committed if t != source):
                first_ms = watcher.first_record_ms(downstream)
                return finished(expected, processed, began, started, first, now, first_ms, wall_ms)
        time.sleep(interval)
    now = time.monotonic()
    return Finish(expected, first, now - (started or now), False, processed, watcher.behind())


def finished(
    expected: int,
    processed: int,
    began: float,
    started: float | None,
    first: int,
    now: float,
    first_ms: float | None,
    now_ms: float,
) -> Finish:
    """The finish of a complete run: from the first downstream record when there is one (all
    `processed` events count), else from the first source commit (the events after it count)."""
    if first_ms is not None and now_ms > first_ms:
        return Finish(expected, 0, (now_ms - first_ms) / 1000, True, processed)
    if started is None or first >= expected:
        # so few events that the first commit covered them all: the clock falls back to the
        # start of the watch (the process answering on its web port)
        started, first = began, 0
    return Finish(expected, first, now - started, True, processed)
