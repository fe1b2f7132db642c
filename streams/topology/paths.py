"""Which link and process partitions this worker reaches in memory, and from when on.

An event whose next stage's partition is owned by this worker is applied there in memory, in
the batch of the record that reached it, instead of being written to the stage's topic and read
back (an encode, a produce, a fetch and a decode per hop, and a batch round trip). A partition
another worker owns is reached through its topic, as before. With one worker, everything after
ingest happens in memory.

What must not change is "one ordered path per source key": an event must never overtake an
earlier event of its source key that went through the topic. A partition's path therefore opens
only behind a fence: after this worker got the partition, the stage has taken every record of
its topic up to the log end the broker reported then (what earlier owners of our sources sent)
and every record this worker itself sent there since (acknowledged offsets, from the outbox).
The decision is made under the stages' lock (stages.py), between batches, so a batch reaches a
partition one way only; a rebalance closes every path until the fences are known again.

Ingest waits for the paths of the link and process partitions this worker owns to open before
it takes on a batch, and link for those of the process partitions (`settled`, at most
`SETTLE_SECONDS`): what they sent through a topic meanwhile would move the fence on, and under a
backlog the paths would open only once it is drained. The wait is short: the stage agents have
only what earlier owners left on their topics to read, and none waits for its own topic (the
process agent waits for nothing, link only for process).

`S2C_LOCAL_STAGES=0` keeps every hop on its topic.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.partitioner import murmur2

from s2c.streams.runtime.overrides.stream import committed_offset
from s2c.streams.runtime.watermarks import InputProgress

log = logging.getLogger(__name__)
REFRESH_SECONDS = 0.2
SETTLE_SECONDS = 30.0


class LocalPaths:
    def __init__(
        self, enabled: bool, partitions: int, inputs: dict[str, InputProgress], outbox: Any
    ) -> None:
        self.enabled, self.partitions = enabled, partitions
        self.inputs, self._outbox = inputs, outbox  # topic -> what its stage has taken
        self._open: set[tuple[str, int]] = set()
        self._fences: dict[tuple[str, int], int] = {}
        self._sent: dict[tuple[str, int], int] = {}  # next offset after our last send there
        self._generation = 0  # moves on every rebalance: a fence read before it is stale
        # topic -> set when every owned path of it is open (or paths are off)
        self._settled = {topic: asyncio.Event() for topic in inputs}
        if not enabled:
            for settled in self._settled.values():
                settled.set()

    def partition_of(self, key: bytes) -> int:
        """The partition the producer puts `key` in (Java's murmur2, as librdkafka's
        `murmur2_random` and aiokafka do): where the key's state lives."""
        return (murmur2(key) & 0x7FFFFFFF) % self.partitions

    def is_open(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self._open

    def local(self, topic: str, key: bytes) -> int | None:
        """The partition of `key` in `topic` if its path in memory is open, else None. Asked
        for every event: with no path open (the default) it costs a set's truth test, not a
        murmur2 of the key."""
        if not self._open:
            return None
        partition = self.partition_of(key)
        return partition if (topic, partition) in self._open else None

    def close_all(self) -> None:
        """A rebalance: every path goes through its topic until fenced again."""
        self._generation += 1
        self._open.clear()
        self._fences.clear()
        if self.enabled:
            for settled in self._settled.values():
                settled.clear()

    async def settled(self, *topics: str) -> None:
        """Until every path this worker owns into `topics` is open, or `SETTLE_SECONDS` passed
        (then records go through the topics, and the paths open once their stages caught up)."""
        for topic in topics:
            settled = self._settled[topic]
            if settled.is_set():
                continue
            try:
                await asyncio.wait_for(settled.wait(), SETTLE_SECONDS)
            except TimeoutError:
                log.warning("%s: paths in memory not open after %.0f s", topic, SETTLE_SECONDS)
                settled.set()  # through the topic until the next rebalance

    @property
    def generation(self) -> int:
        return self._generation

    def fence(self, generation: int, ends: dict[Any, int]) -> None:
        """Log ends read when the partitions were assigned (`generation`: when they were
        asked for); ignored if a rebalance came since."""
        if generation == self._generation:
            for tp, end in ends.items():
                self._fences[(tp.topic, tp.partition)] = end

    def unfenced(self, owned: set[Any]) -> list[Any]:
        """The owned link and process partitions with no fence yet."""
        return [tp for tp in owned if (tp.topic, tp.partition) not in self._fences]

    def refresh(self, consumer: Any, owned: set[Any]) -> list[tuple[str, int]]:
        """Open every owned path whose stage has passed its fence; the newly opened ones.
        Called under the stages' lock: every record sent before is acknowledged by then."""
        if not self.enabled:
            return []
        for topic in self.inputs:
            for partition, offset in self._outbox.offsets_of(topic).items():
                slot = (topic, partition)
                self._sent[slot] = max(self._sent.get(slot, 0), offset + 1)
        opened = []
        for tp in owned:
            slot = (tp.topic, tp.partition)
            fence = self._fences.get(slot)
            if slot in self._open or fence is None:
                continue
            taken = self.inputs[tp.topic].next_offset(tp.partition)
            if taken is None:
                taken = committed_offset(consumer, tp) or 0
            if taken >= max(fence, self._sent.get(slot, 0)):
                self._open.add(slot)
                opened.append(slot)
        if opened:
            log.info("in memory from now on: %s", ", ".join(f"{t}[{p}]" for t, p in opened))
        for topic, settled in self._settled.items():
            if all((tp.topic, tp.partition) in self._open for tp in owned if tp.topic == topic):
                settled.set()
        return opened


def attach_paths(t: Any, stages: Any) -> None:
    """Every `REFRESH_SECONDS`, fence the owned link and process partitions that have no fence
    yet (their log ends, asked of the broker) and open the paths that passed theirs, under the
    stages' lock. A rebalance closes every path at once."""
    app, paths = t.app, stages.paths
    topics = (t.topics.link.name, t.topics.process.name)

    async def close(*_: Any, **__: Any) -> None:
        paths.close_all()

    app.on_partitions_revoked.connect(close)
    app.on_partitions_assigned.connect(close)

    @app.timer(interval=REFRESH_SECONDS)
    async def open_paths() -> None:
        if not paths.enabled or not app.tables.recovery.completed.is_set():
            return
        owned = {tp for tp in app.assignor.assigned_actives() if tp.topic in topics}
        missing = paths.unfenced(owned)
        if missing:
            generation = paths.generation
            try:
                ends = await app.consumer.highwaters(*missing)
            except Exception as exc:  # noqa: BLE001 - a rebalance or a broker away: next round
                log.debug("log ends for the paths in memory not read: %r", exc)
                return
            paths.fence(generation, ends)
        async with stages.lock:  # on whenever paths are
            paths.refresh(app.consumer, owned)
