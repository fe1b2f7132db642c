"""Sustained throughput of `s2c worker` processes, and of the plain-Faust peer, on pre-loaded events.

The events are on the namespace's events topic before any process starts. Workers run as
subprocesses (`procs`), black boxes: the rate comes from the group's commits (`offsets`), the
command count from the commands topic's log end, peak memory from /proc, and the worker's own
`s2c_events_in_total` is scraped from /metrics as a cross-check of how many events it ingested.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2c.streams.bench import procs
from s2c.streams.bench.data import Namespace
from s2c.streams.bench.offsets import Finish, OffsetWatch, watch


@dataclass
class Run:
    """One measured run: its finish, its processes (kept for the next stage), what came out."""

    finish: Finish
    processes: list[procs.Proc] = field(default_factory=list)
    commands: int = 0
    events_in: float = 0.0  # sum of the workers' s2c_events_in_total (cross-check)
    peak_mib: list[float] = field(default_factory=list)  # per process, over this run only
    sent: int = 0  # peer only: records it sent, and first to last send
    send_seconds: float = 0.0

    @property
    def send_rate(self) -> float:
        return (self.sent - 1) / self.send_seconds if self.send_seconds else 0.0

    def __post_init__(self) -> None:
        self.peak_mib = [p.sample_memory() / 1024 for p in self.processes]


def worker_env(ns: Namespace) -> dict[str, str]:
    s = ns.settings
    return {
        "S2C_TOPIC_PREFIX": s.topic_prefix,
        "S2C_APP_ID": s.app_id,
        "S2C_PARTITIONS": str(s.partitions),
    }


def counter_total(metrics_text: str | None, name: str) -> float:
    """Sum of every sample of counter `name` in a Prometheus text page."""
    total = 0.0
    for line in (metrics_text or "").splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def _watch_all(
    ns: Namespace,
    group: str,
    topics: list[str],
    running: list[procs.Proc],
    expected: int,
    timeout: float,
    load: Callable[[], Any] | None = None,
) -> Finish:
    """Starts `running`, waits for their web ports, watches the group finish; on any failure the
    processes are stopped and the error names their logs and first logged errors. With `load`,
    the events are published only once the group is stable with every process in it."""
    try:
        for proc in running:
            proc.start()
        for proc in running:
            proc.wait_web(120)
        watcher = OffsetWatch(ns.settings, group, topics)
        if load is not None:
            _wait_stable(watcher, len(running), running)
            load()

        def sample() -> None:
            for proc in running:
                proc.sample_memory()

        return watch(
            watcher, topics[0], expected, timeout, lambda: all(p.healthy() for p in running), sample
        )
    except RuntimeError as exc:
        for proc in running:
            proc.stop()
        logged = "; ".join(f"{p.log_path}: {p.errors[0]}" for p in running if p.errors)
        raise RuntimeError(f"{exc} ({logged or 'see ' + str(running[0].log_path.parent)})") from exc


# A Faust group rebalances again about two seconds after it first forms, once the agents'
# subscriptions are in (seen here: both members stable, then a rebalance 2.1 s later that held
# one of them back for 2.5 s of a ten-second run). Events go out only after this long stable.
SETTLED_SECONDS = 5.0


def _wait_stable(
    watcher: OffsetWatch, members: int, running: list[procs.Proc], timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    since: float | None = None
    while since is None or time.monotonic() - since < SETTLED_SECONDS:
        if time.monotonic() > deadline or not all(p.healthy() for p in running):
            raise RuntimeError(f"the group never settled with {members} members")
        if watcher.stable_members() < members:
            since = None
        elif since is None:
            since = time.monotonic()
        time.sleep(0.25)


def measure_workers(
    ns: Namespace,
    count: int,
    expected: int,
    run_dir: Path,
    timeout: float,
    keep: bool = False,
    load: Callable[[], Any] | None = None,
) -> Run:
    """Starts `count` workers in one group over the pre-loaded events (or the events `load`
    publishes once they all joined); stops them unless `keep`."""
    t = ns.topics
    running = [procs.worker(worker_env(ns), run_dir, f"worker-{i}") for i in range(count)]
    finish = _watch_all(
        ns, ns.group, [t.events.name, t.link.name, t.process.name], running, expected, timeout, load
    )
    run = Run(finish, running)
    try:
        run.events_in = sum(counter_total(p.metrics_text(), "s2c_events_in_total") for p in running)
        run.commands = sum(OffsetWatch(ns.settings, ns.group, [t.commands.name]).ends().values())
    finally:
        if not keep:
            for proc in running:
                proc.stop()
    return run


def send_span(ns: Namespace, topic: str, timeout: float = 60.0) -> tuple[int, float]:
    """(records, seconds from the first record's timestamp to the last) of a whole topic: the
    producer stamps each record when it is sent, so this clock has ms resolution."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            **ns.settings.confluent_config(),
            "group.id": "s2c-bench-span",
            "enable.auto.commit": False,
        }
    )
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    remaining = sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    count, first, last = 0, float("inf"), 0.0
    deadline = time.monotonic() + timeout
    try:
        while count < remaining and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                if not message.error():
                    stamp = message.timestamp()[1]
                    count, first, last = count + 1, min(first, stamp), max(last, stamp)
    finally:
        consumer.close()
    return count, (last - first) / 1000 if count > 1 else 0.0


def measure_peer(ns: Namespace, expected: int, run_dir: Path, timeout: float) -> Run:
    """The plain-Faust peer over the same events topic, in its own group, then stopped. Its
    rate comes from its sends' timestamps (`send_span`): the peer finishes N events in a few
    seconds, where the 1 s commit interval would be most of the measurement."""
    from s2c.streams.admin import create_topics
    from s2c.streams.topics import TopicSpec

    group = f"{ns.settings.app_id}-peer"
    sink = f"{ns.settings.topic_prefix}.peer.out"
    create_topics(ns.settings, [TopicSpec(sink, "same key", "same bytes")])
    peer = procs.peer(
        ns.settings.kafka_bootstrap,
        group,
        ns.topics.events.name,
        sink,
        ns.settings.partitions,
        run_dir,
    )
    try:
        finish = _watch_all(ns, group, [ns.topics.events.name], [peer], expected, timeout)
    finally:
        peer.stop()
        shutil.rmtree(run_dir / "peer-data", ignore_errors=True)
    run = Run(finish, [peer])
    run.sent, run.send_seconds = send_span(ns, sink)
    return run
