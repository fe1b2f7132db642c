"""Helpers of the integration tier: worker subprocesses, private pipeline namespaces, readers.

Importable from any integration test as `stackkit` (pytest puts this folder on sys.path when it
loads the conftest beside it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from s2c.streams.settings import REPO_ROOT, SecretStr, Settings
from s2c.tables.ids import IdKey

STACK = REPO_ROOT / "deploy" / "local" / "stack"
SERVICES = ("kafka", "registry", "prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WorkerProcess:
    """One `s2c worker` subprocess with its own env, data dir and log file."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: int = field(default=0)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['S2C_WORKER_WEB_PORT']}/metrics"

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "s2c.streams.cli", "worker", "--loglevel", "info"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 180.0) -> "WorkerProcess":
        """Until /health/ answers 200: tables recovered, master data loaded."""
        import urllib.error
        import urllib.request

        url = self.metrics_url.replace("/metrics", "/health/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log_tail()
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.remove_scrape_target()  # also when it died on its own

    def remove_scrape_target(self) -> None:
        """A worker removes its Prometheus target on exit; one killed (SIGKILL, or after the
        timeout above) could not, and its target would keep `S2cWorkerDown` firing."""
        from s2c.streams.scrape_targets import target_dir, target_path

        assert self.proc is not None
        data_dir = Path(self.env.get("S2C_DATA_DIR") or Settings.from_env().data_dir)
        target_path(
            target_dir(data_dir), int(self.env["S2C_WORKER_WEB_PORT"]), self.proc.pid
        ).unlink(missing_ok=True)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PipelineEnv:
    """A private namespace on the shared stack: topic prefix, app id, settings, workers."""

    settings: Settings
    env: dict[str, str]
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, name: str = "w1", **overrides: str) -> WorkerProcess:
        env = dict(self.env)
        env.update(
            {
                "S2C_WORKER_WEB_PORT": str(free_port()),
                "S2C_WORKER_DIR": str(self.tmp / f"worker-{name}"),
            }
        )
        env.update(overrides)
        process = WorkerProcess(env=env, log_path=self.tmp / f"worker-{name}.log")
        self.workers.append(process)
        return process


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    """Polls `predicate` until it returns a truthy value; fails naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _reader(settings: Settings):
    """A consumer of its own group (nothing committed) that starts at the earliest offset."""
    from confluent_kafka import Consumer

    return Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def read_topic(
    settings: Settings, topic: str, expected: int, timeout: float = 60.0, settle: float = 1.0
) -> list:
    """Reads `topic` from the beginning until `expected` messages arrived (then `settle` more
    seconds, to catch extras) or `timeout` passed. Returns the confluent-kafka messages."""
    consumer = _reader(settings)
    consumer.subscribe([topic])
    messages: list = []
    deadline = time.monotonic() + timeout
    settle_until = None
    try:
        while time.monotonic() < deadline:
            if settle_until is None and len(messages) >= expected:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() > settle_until:
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise AssertionError(f"consumer error on {topic}: {msg.error()}")
            messages.append(msg)
    finally:
        consumer.close()
    return messages


def read_to_end(settings: Settings, topic: str, timeout: float = 60.0) -> list:
    """Every message `topic` holds now: read from the beginning up to each partition's end offset
    as the broker gives it at the call. Complete, unlike a read that stops after a quiet spell."""
    from confluent_kafka import TopicPartition

    consumer = _reader(settings)
    try:
        meta = consumer.list_topics(topic, timeout=30).topics[topic]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in meta.partitions
        }
        left = {p: high for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in left])
        messages: list = []
        deadline = time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{topic}: {len(messages)} read; partitions {sorted(left)} short"
                )
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise AssertionError(f"consumer error on {topic}: {msg.error()}")
            messages.append(msg)
            if msg.offset() + 1 >= left.get(msg.partition(), 0):
                left.pop(msg.partition(), None)
    finally:
        consumer.close()
    return messages


def wait_drained(
    settings: Settings, workers: list[WorkerProcess], timeout: float = 240.0, quiet: float = 3.0
) -> None:
    """Until the workers' group has committed every record of the events, link and process topics,
    every running worker holds no event for its watermark (`events_waiting` 0 on /health/), and no
    output topic has grown for `quiet` seconds: whatever the workers will emit for the input so far
    is on the topics. Workers commit only after their outputs are acknowledged."""
    from confluent_kafka.admin import AdminClient

    from s2c.streams.demo_workers import events_waiting
    from s2c.streams.topics import declare
    from s2c.streams.verify.live import ends_of, partitions_of, pending

    topics = declare(settings)
    names = [t.name for t in (topics.commands, topics.sla_breaches, topics.exceptions, topics.dlq)]
    outputs = partitions_of(AdminClient(settings.confluent_config()), names)
    consumer = _reader(settings)  # only asked for end offsets
    deadline = time.monotonic() + timeout
    last, quiet_since = None, None
    try:
        while time.monotonic() < deadline:
            running = [w for w in workers if w.proc is not None and w.proc.poll() is None]
            held = [events_waiting(w.metrics_url.replace("/metrics", "/health/")) for w in running]
            busy = pending(settings) or any(h != 0 for h in held)
            now_ends = None if busy else ends_of(consumer, outputs)
            if now_ends is not None and now_ends == last:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet:
                    return
            else:
                quiet_since = None
            last = now_ends
            time.sleep(0.5)
    finally:
        consumer.close()
    raise AssertionError(f"the workers did not drain their input within {timeout:.0f} s")


# The workers' key of the account pseudonyms (S2C_ID_KEY), so a test's reference replay gives the
# process ids and link keys the workers give.
ID_KEY = "integration-test-id-key-not-a-secret"
IDS = IdKey(ID_KEY.encode())


def new_pipeline_env(tmp: Path) -> PipelineEnv:
    """A private namespace on the shared stack, its topics created."""
    from s2c.streams.admin import create_topics
    from s2c.streams.topics import declare

    suffix = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update(
        {"S2C_TOPIC_PREFIX": f"t{suffix}", "S2C_APP_ID": f"s2c-test-{suffix}", "S2C_ID_KEY": ID_KEY}
    )
    settings = replace(
        Settings.from_env(),
        topic_prefix=f"t{suffix}",
        app_id=f"s2c-test-{suffix}",
        id_key=SecretStr(ID_KEY),
    )
    create_topics(settings, declare(settings).all())
    return PipelineEnv(settings=settings, env=env, tmp=tmp)
