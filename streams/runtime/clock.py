"""Stream time: the largest business time seen, per stage and partition."""

from __future__ import annotations

from datetime import datetime


class StreamClock:
    """Stream time per (stage, partition): the largest business time seen there, as Kafka Streams
    keeps it per task. A per-worker maximum would let one partition's late-day events expire
    another partition's parked events before their anchors had a chance to arrive."""

    def __init__(self) -> None:
        self._now: dict[tuple[str, int], datetime] = {}  # bounded: stages x partitions

    def observe(self, stage: str, partition: int, at: datetime) -> datetime:
        key = (stage, partition)
        current = self._now.get(key)
        if current is None or at > current:
            self._now[key] = current = at
        return current

    def now(self, stage: str, partition: int) -> datetime | None:
        return self._now.get((stage, partition))
