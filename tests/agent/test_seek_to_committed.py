"""After a rebalance the worker's consumer seeks every partition in one go (streams/runtime/overrides/transport.py,
repairs 2 and 5): a stream partition to its committed offset, or to its start when the group
never committed one (offset 0: out of range is reset to the log start, auto_offset_reset is
earliest); a table's changelog partition is left where the recovery put it. All committed
offsets come from one request to the group coordinator."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from types import SimpleNamespace
from typing import Any

from s2c.streams.runtime.overrides.transport import RewindingConsumerThread

TP = namedtuple("TP", "topic partition")
Meta = namedtuple("Meta", "offset metadata")
EVENTS, FRESH, ZERO, CHANGELOG = (
    TP("s2c.events", 0),
    TP("s2c.process", 1),
    TP("s2c.link", 2),
    TP("app-processes-changelog", 0),
)


class Coordinator:
    def __init__(self, committed: dict[Any, int]) -> None:
        self.committed, self.requests = committed, []

    async def fetch_committed_offsets(self, partitions: list[Any]) -> dict[Any, Any]:
        self.requests.append(sorted(partitions))
        return {tp: Meta(self.committed.get(tp, -1), "") for tp in partitions}


def test_every_partition_is_sought_from_one_request() -> None:
    seeks: dict[Any, int] = {}
    coordinator = Coordinator({EVENTS: 120, ZERO: 0})
    aiokafka = SimpleNamespace(
        assignment=lambda: {EVENTS, FRESH, ZERO, CHANGELOG},
        _coordinator=coordinator,
        _fetcher=SimpleNamespace(seek_to=seeks.__setitem__),
    )
    thread = SimpleNamespace(
        _ensure_consumer=lambda: aiokafka,
        consumer=SimpleNamespace(
            app=SimpleNamespace(tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}))
        ),
    )
    committed = asyncio.run(RewindingConsumerThread._seek_to_committed_or_start(thread))
    assert committed == {EVENTS: 120, FRESH: None, ZERO: 0, CHANGELOG: None}
    assert seeks == {EVENTS: 120, FRESH: 0, ZERO: 0}  # the changelog is left alone
    assert coordinator.requests == [sorted([EVENTS, FRESH, ZERO, CHANGELOG])]
