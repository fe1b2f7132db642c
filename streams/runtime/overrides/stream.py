"""The few private hooks of Faust's streams and aiokafka's consumer the runtime needs, by name.

Every other runtime module goes through these functions, so a Faust or aiokafka upgrade is
checked here (and in the other modules of this package) and nowhere else:

- `event_context`: a table store picks the partition of a write from the current event, a
  context variable (`faust.streams._current_event`). A batch writes its states after the stream
  has moved on to the next batch, so the write sets the variable to the event that made it.
- `add_batch_processor` / `remove_batch_processor`: `take_batches` fills a batch from a processor
  on the stream (`Stream._processors`) while the stream is drained in the background
  (`Stream._enable_passive`), as Faust's own `take_events` does.
- `committed_offset`: the offset the group last committed for a partition, as the consumer
  holds it (`Consumer._committed_offset`), without a request to the coordinator.
- `describe_consumer`: what Faust's consumer keeps of a partition (paused, buffered, read,
  committed and acked offsets, gaps), for the "stalled" warning; read with defaults, so a field
  a new version drops shows as missing instead of failing the report.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


@contextmanager
def event_context(event: Any) -> Iterator[None]:
    """Within the block, Faust's stores and tables take `event` as the current event."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def add_batch_processor(stream: Any, channel: Any, processor: Callable[[Any], Any]) -> None:
    """Run `processor` on every value of `stream`, which drains `channel` in the background."""
    stream.add_processor(processor)
    stream._enable_passive(channel)


def remove_batch_processor(stream: Any, processor: Callable[[Any], Any]) -> None:
    stream._processors.remove(processor)


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of `tp` as this worker's consumer last saw it; None if it
    has none (or the consumer keeps no such map, as a test's stand-in may not)."""
    committed: dict[Any, int] = getattr(consumer, "_committed_offset", None) or {}
    return committed.get(tp)


def describe_consumer(consumer: object, tp: object) -> str:
    """What Faust's consumer knows of one partition, for a stall report (no record contents)."""
    fields = {
        "paused": tp in getattr(consumer, "_paused_partitions", ()),
        "buffered": tp in getattr(consumer, "_buffered_partitions", ()),
        "flow_active": getattr(consumer, "flow_active", None),
        "read_offset": getattr(consumer, "_read_offset", {}).get(tp),
        "committed": getattr(consumer, "_committed_offset", {}).get(tp),
        "acked": sorted(getattr(consumer, "_acked", {}).get(tp, ()))[:5],
        "gaps": len(getattr(consumer, "_gap", {}).get(tp, ())),
    }
    return " ".join(f"{k}={v}" for k, v in fields.items())
