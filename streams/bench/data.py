"""Benchmark data: fresh topic namespaces and the synthetic events every figure runs on.

Each measured run gets its own topic prefix and app id (`bench<stamp><tag>`), so runs and stages
never share a consumer group, a changelog or an output. Events come from the generator
(`s2c.streams.synth`): a one-day health system with enough sites for `n` events, cut to exactly
the first `n` arrivals, published with the generator's producer (`produced_at` = hand-over time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.synth import Synthesis, SynthParams, generate
from s2c.streams.topics import Topics, declare

EVENTS_PER_SITE_DAY = 6_000  # a weekday at scale 1.0 is ~6.4k events per site; a floor is enough


@dataclass(frozen=True)
class Namespace:
    """One benchmark run's private corner of the broker."""

    settings: Settings
    topics: Topics

    @property
    def group(self) -> str:
        return self.settings.app_id  # a Faust app's consumer group is its app id


def new_namespace(base: Settings, stamp: str, tag: str) -> Namespace:
    """Settings with a fresh prefix and app id, and the pipeline's topics created."""
    from s2c.streams.admin import create_topics

    settings = replace(base, topic_prefix=f"bench{stamp}{tag}", app_id=f"s2c-bench-{stamp}-{tag}")
    topics = declare(settings)
    create_topics(settings, topics.all())
    return Namespace(settings, topics)


def synthesis_for(
    n: int, seed: int, sites: int | None = None, start: date = date(2025, 3, 3)
) -> Synthesis:
    """The first `n` arrivals of a synthetic system just large enough to hold them: one day over
    enough sites, or over a fixed number of `sites`, as many days as it takes."""
    sites = sites or max(1, math.ceil(n / EVENTS_PER_SITE_DAY))
    days = 1
    synthesis = generate(SynthParams(seed=seed, sites=sites, start_date=start))
    while len(synthesis) < n:  # fell short of the estimate: add a day
        days += 1
        synthesis = generate(SynthParams(seed=seed, sites=sites, start_date=start, days=days))
    del synthesis.timeline[n:]
    return synthesis


def fresh_synthesis(base: Synthesis, n: int, days_after: int) -> Synthesis:
    """`n` new events for `base`'s health system: same seed and sites, so the master data already
    published covers them, but a later start day, and ids carry the day, so no id repeats."""
    params = base.params
    return synthesis_for(
        n, params.seed, params.sites, params.start_date + timedelta(days=params.days + days_after)
    )


def load(ns: Namespace, synthesis: Synthesis, codec: Any) -> tuple[int, float]:
    """Publishes master data, then the events; returns (events, seconds spent publishing them)."""
    load_master(ns, synthesis, codec)
    return load_events(ns, synthesis, codec)


def load_master(ns: Namespace, synthesis: Synthesis, codec: Any) -> int:
    from s2c.streams.synth.kafka_out import publish_master

    return publish_master(ns.settings, synthesis.system, codec)


def load_events(ns: Namespace, synthesis: Synthesis, codec: Any) -> tuple[int, float]:
    """Publishes the events (`produced_at` = now); returns (events, seconds it took)."""
    from s2c.streams.synth.kafka_out import publish_events

    started = time.perf_counter()
    sent = publish_events(ns.settings, synthesis, codec)
    return sent, time.perf_counter() - started


def encoded(
    synthesis: Synthesis, codec: Any, clock: Callable[[], int] | None = None
) -> Iterator[tuple[bytes, bytes, str, int]]:
    """(key, Avro value, event id, produced_at epoch ms) per event, built as it is reached, so
    with `clock` the event is stamped the moment it is handed over."""
    for schema, key, record in synthesis.events(clock):
        envelope = record["envelope"]
        value = codec.encode(f"s2c.events.{schema}", record)
        yield key.encode(), value, envelope["event_id"], _epoch_ms(envelope["produced_at"])


def _epoch_ms(at: Any) -> int:
    return at if isinstance(at, int) else int(at.timestamp() * 1000)


def delete_namespace(ns: Namespace, extra: list[str] | None = None) -> None:
    """Removes the run's topics (and `extra`, e.g. changelogs) so benchmarks do not fill the disk."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(ns.settings.confluent_config())
    existing = set(admin.list_topics(timeout=10).topics)
    prefix = (ns.settings.topic_prefix + ".", ns.settings.app_id + "-")
    doomed = [t for t in existing if t.startswith(prefix) or t in (extra or [])]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result(30)
