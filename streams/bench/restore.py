"""Table restore after a restart: the worker's RocksDB folder deleted, tables back from changelogs.

After the one-worker run the worker is stopped (SIGTERM: it commits and closes), its data dir
(S2C_WORKER_DIR) deleted, and the same worker started again. Two figures, both explicit:

- recovery phase, from Faust's own log lines: "Executing _on_partitions_assigned" (the restore
  can start) to "Recovery complete" (tables rebuilt, streams resumed): changelog records / seconds.
- start to serving, from outside: process start until /metrics answers and one fresh event,
  published then, is committed on the events topic (commit interval 1 s included).

Changelog records = what the log holds (end - start offsets of every `<app id>-*-changelog`
topic), i.e. what a restore must read, compaction or not.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from s2c.streams.bench import procs
from s2c.streams.bench.data import Namespace
from s2c.streams.bench.offsets import OffsetWatch

_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
ASSIGNED, RECOVERED = "Executing _on_partitions_assigned", "Recovery complete"


@dataclass(frozen=True)
class Restore:
    records: int
    recovery_seconds: float | None  # from the log; None if the lines were not found
    serving_seconds: float  # start -> /metrics answers and a fresh event is committed
    web_seconds: float  # start -> /metrics answers

    @property
    def recovery_rate(self) -> float | None:
        if not self.recovery_seconds:
            return None
        return self.records / self.recovery_seconds

    @property
    def serving_rate(self) -> float:
        return self.records / self.serving_seconds if self.serving_seconds else 0.0


def changelog_records(ns: Namespace) -> int:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient(ns.settings.confluent_config())
    topics = admin.list_topics(timeout=10).topics
    parts = [
        TopicPartition(name, p)
        for name, meta in topics.items()
        if name.startswith(f"{ns.settings.app_id}-") and name.endswith("-changelog")
        for p in meta.partitions
    ]
    ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in parts})
    starts = admin.list_offsets({tp: OffsetSpec.earliest() for tp in parts})
    return sum(ends[tp].result(10).offset - starts[tp].result(10).offset for tp in parts)


def _log_span(log: Path, since: int) -> float | None:
    """Seconds between the last restart's assignment and its "Recovery complete" log lines."""
    found: dict[str, datetime] = {}
    with log.open("rb") as raw:
        raw.seek(since)
        for line in (chunk.decode(errors="replace") for chunk in raw):
            for marker in (ASSIGNED, RECOVERED):
                match = _STAMP.match(line)
                if marker in line and match and marker not in found:
                    found[marker] = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    if len(found) < 2:
        return None
    return (found[RECOVERED] - found[ASSIGNED]).total_seconds()


def restart_empty(
    ns: Namespace, proc: procs.Proc, probe: tuple[bytes, bytes], timeout: float = 300.0
) -> tuple[Restore, procs.Proc]:
    """Stops `proc`, deletes its data dir, starts it again; `probe` is one fresh (key, value)
    event. Returns the figures and the running worker (for the latency run)."""
    proc.stop()
    shutil.rmtree(proc.env["S2C_WORKER_DIR"], ignore_errors=True)
    records = changelog_records(ns)
    since = proc.log_path.stat().st_size
    proc.start()
    web = proc.wait_web(timeout)
    watcher = OffsetWatch(ns.settings, ns.group, [ns.topics.events.name])
    target = _send_one(ns, probe) + 1
    deadline = time.monotonic() + timeout
    while watcher.committed()[ns.topics.events.name] < target:
        if not proc.healthy() or time.monotonic() > deadline:
            raise RuntimeError(
                f"the restarted worker did not process a new event; read {proc.log_path}"
            )
        proc.sample_memory()
        time.sleep(0.1)
    serving = time.monotonic() - proc.started_at
    return Restore(records, _log_span(proc.log_path, since), serving, web), proc


def _send_one(ns: Namespace, event: tuple[bytes, bytes]) -> int:
    """Produces one event; returns the sum of the events topic's end offsets before it."""
    from confluent_kafka import Producer

    before = sum(OffsetWatch(ns.settings, ns.group, [ns.topics.events.name]).ends().values())
    producer: Any = Producer({**ns.settings.confluent_config(), "acks": "all"})
    producer.produce(ns.topics.events.name, event[1], event[0])
    producer.flush(30)
    return before
