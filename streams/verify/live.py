"""The live side of a verify run: the worker fleet and the wait until the pipeline is drained
(the outputs are read back by readback.py).

Drained means: the workers' consumer group has committed every record of every input and internal
topic (events, link, process), every running worker holds no event for its watermark (its
`/health/` says `events_waiting` 0: held events are committed input, not lag), and no output
topic has grown for `quiet` seconds since. A worker
that exits on its own (not killed by a fault) ends the run: its log says why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2c.streams.demo_workers import events_waiting, start_worker, wait_own_answer
from s2c.streams.settings import Settings
from s2c.streams.topics import declare


class NotJudged(SystemExit):
    """The run could not reach a verdict (a worker died, the pipeline did not drain)."""


@dataclass
class Fleet:
    """The run's workers, by slot; a slot keeps its web port and data folder across restarts."""

    settings: Settings
    run_dir: Path
    ports: list[int]
    extra_env: Mapping[str, str] = field(default_factory=dict)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    expected_exits: set[int] = field(default_factory=set)  # pids we killed or stopped

    def start(self, slot: int, wait: float = 120.0) -> subprocess.Popen[bytes]:
        proc = start_worker(self.settings, self.run_dir, slot, self.ports[slot], self.extra_env)
        self.procs[slot] = proc
        wait_own_answer(
            f"http://{self.settings.host}:{self.ports[slot]}/health/",
            proc,
            wait,
            self.log(slot),
        )
        return proc

    def log(self, slot: int) -> Path:
        return self.run_dir / f"worker-{slot}.log"

    def running(self) -> list[int]:
        return sorted(slot for slot, proc in self.procs.items() if proc.poll() is None)

    def kill(self, slot: int) -> int:
        """kill -9 of the worker's process group: no commit, no flush, no goodbye."""
        proc = self.procs[slot]
        self.expected_exits.add(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        return proc.pid

    def stop(self, slot: int, wait: float = 30.0) -> None:
        proc = self.procs[slot]
        self.expected_exits.add(proc.pid)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for slot in list(self.procs):
            self.stop(slot)

    def none_waiting(self) -> bool:
        """Every running worker answers and holds no event for its watermark."""
        return all(
            events_waiting(f"http://{self.settings.host}:{self.ports[slot]}/health/") == 0
            for slot in self.running()
        )

    def check(self) -> None:
        for slot, proc in self.procs.items():
            if proc.poll() is not None and proc.pid not in self.expected_exits:
                raise NotJudged(
                    f"s2c verify: worker {slot} (pid {proc.pid}) exited with {proc.returncode} "
                    f"on its own; read {self.log(slot)}"
                )


def partitions_of(admin: Any, names: list[str]) -> list[Any]:
    from confluent_kafka import TopicPartition

    metadata = admin.list_topics(timeout=30).topics
    return [TopicPartition(n, p) for n in names if n in metadata for p in metadata[n].partitions]


def ends_of(consumer: Any, partitions: list[Any]) -> dict[tuple[str, int], tuple[int, int]]:
    return {
        (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)
        for tp in partitions
    }


def lag(consumer: Any, inputs: list[Any]) -> int:
    """Records of the input and internal topics the workers' group has not committed."""
    committed = consumer.committed(inputs, timeout=10)
    ends = ends_of(consumer, inputs)
    behind = 0
    for tp in committed:
        low, high = ends[(tp.topic, tp.partition)]
        behind += high - (tp.offset if tp.offset >= 0 else low)
    return behind


def _input_partitions(settings: Settings, admin: Any) -> list[Any]:
    topics = declare(settings)
    return partitions_of(admin, [topics.events.name, topics.link.name, topics.process.name])


def _offsets_reader(settings: Settings) -> Any:
    """A consumer in the workers' group id, only to read its committed offsets: it never
    subscribes, so it never joins the group."""
    from confluent_kafka import Consumer

    return Consumer(
        {**settings.confluent_config(), "group.id": settings.app_id, "enable.auto.commit": False}
    )


def pending(settings: Settings) -> bool:
    """Whether the workers still have input records to take (True when Kafka cannot say)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    consumer = _offsets_reader(settings)
    try:
        return (
            lag(consumer, _input_partitions(settings, AdminClient(settings.confluent_config()))) > 0
        )
    except KafkaException:
        return True
    finally:
        consumer.close()


def wait_drained(settings: Settings, fleet: Fleet, timeout: float, quiet: float) -> float:
    """Seconds until drained; raises NotJudged after `timeout` seconds, naming the lag. A broker
    that does not answer a round (just restarted) only postpones the verdict."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    topics = declare(settings)
    admin = AdminClient(settings.confluent_config())
    inputs = _input_partitions(settings, admin)
    outputs = partitions_of(
        admin,
        [topics.commands.name, topics.sla_breaches.name, topics.exceptions.name, topics.dlq.name],
    )
    consumer = _offsets_reader(settings)
    started = time.monotonic()
    quiet_since: float | None = None
    last_ends: dict[tuple[str, int], tuple[int, int]] = {}
    behind = -1
    try:
        while time.monotonic() - started < timeout:
            fleet.check()
            try:
                behind = lag(consumer, inputs)
                ends = ends_of(consumer, outputs)
            except KafkaException:
                quiet_since = None
                time.sleep(1.0)
                continue
            now = time.monotonic()
            if behind == 0 and ends == last_ends and fleet.none_waiting():
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet:
                    return now - started - quiet
            else:
                quiet_since = None
            last_ends = ends
            time.sleep(0.5)
    finally:
        consumer.close()
    raise NotJudged(
        f"s2c verify: the pipeline did not drain within {timeout:.0f} s "
        f"({behind} input record(s) not committed); worker logs in {fleet.run_dir}"
    )
