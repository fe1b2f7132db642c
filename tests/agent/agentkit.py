"""The agent tier's world: the real Faust agents under `test_context()`, no broker, no registry.

What stands in for the outside world, and only here:
- `InMemoryRegistry`: subject -> id and id -> schema text, enough for `AvroCodec`.
- `StubReplica`: the master-data replica with the core tests' small health system loaded and ready.
- `RecordingOutbox`: the worker's outbox (streams/runtime/outbox.py), so every record the agents queue
  lands in `.sent` as (topic, key, value, partition, headers) and every drain succeeds at once;
  table changelog records land there too, on their changelog topics.

Everything else is production code: `create_app`, `build_pipeline`, the codec, the sink, the
tables (on Faust's `memory://` store). Build a `World` inside the (async) test, so the app binds
to that test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core_world import IDS, MASTER_RECORDS, master_data

from s2c.streams.app import create_app
from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec
from s2c.streams.runtime.watermarks import WATERMARK, to_ms
from s2c.streams.settings import SecretStr, Settings
from s2c.streams.topics import TopicSpec
from s2c.streams.topology import build_pipeline
from s2c.streams.topology.announce import sources_of
from s2c.streams.topology.context import CONTROL_HEADER, Topology
from s2c.tables.codec import to_native
from s2c.tables.events import Event

PROCESSED_TIMEOUT_SECONDS = 5.0


class InMemoryRegistry:
    """The agent tier's registry: one id per distinct schema text, as a real registry assigns."""

    def __init__(self) -> None:
        self.subjects: dict[str, int] = {}
        self.schemas: dict[int, Any] = {}

    def register_schema(self, subject: str, schema: Any) -> int:
        for schema_id, known in self.schemas.items():
            if known.schema_str == schema.schema_str:
                break
        else:
            schema_id = len(self.schemas) + 1
            self.schemas[schema_id] = schema
        self.subjects[subject] = schema_id
        return schema_id

    def get_schema(self, schema_id: int) -> Any:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if schema_id not in self.schemas:  # what a registry answers for an id it does not have
            raise SchemaRegistryError(404, 40403, "Schema not found")
        return self.schemas[schema_id]


class StubReplica:
    """A master replica already caught up on the core tests' health system; never reads Kafka."""

    def __init__(self) -> None:
        self.store = master_data()
        self.ready = threading.Event()
        self.ready.set()
        self.records = sum(len(rows) for rows in MASTER_RECORDS.values())

    def start(self) -> None:
        pass


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None
    headers: dict[str, bytes]


class RecordingOutbox:
    """The outbox for a broker-less test: records what is queued; every drain succeeds."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.drains = 0

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.sent.append(Sent(topic, key, value, partition, dict(headers or [])))

    def offsets_of(self, topic: str) -> dict[int, int]:
        return {}  # the memory store keeps no changelog offsets

    async def drain(self) -> None:
        self.drains += 1


WATERMARK_CONTROL = (CONTROL_HEADER, WATERMARK)


class World:
    """One pipeline wired as a worker would wire it, minus the broker."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        # No allowed lateness: the agent tests check deadlines to the minute. The core tests' key
        # of the account pseudonyms, so a test computes a link key with `IDS.account_ref`.
        self.settings = Settings(
            app_id=f"s2c-agent-{tmp_path.name}",
            data_dir=tmp_path,
            worker_dir=tmp_path / "worker",
            deadline_grace_hours=0,
            id_key=SecretStr(IDS.secret.decode()),
            **settings,
        )
        self.app, self.metrics = create_app(self.settings)
        self.app.conf.store = "memory://"
        self.registry = InMemoryRegistry()
        self.codec = AvroCodec(self.registry, lambda name: load_catalog().resolved_json(name))
        self.replica = StubReplica()
        self.producer = RecordingOutbox()
        self.t: Topology = build_pipeline(
            self.app,
            self.metrics,
            self.settings,
            replica=self.replica,
            codec=self.codec,
            outbox=self.producer,
        )
        # No broker, so no table recovery ever runs: say it is over, as a started worker would.
        self.app.tables.recovery.completed.set()

    def agent(self, name: str) -> Any:
        return self.app.agents[name]

    def encode(self, event: Event) -> bytes:
        return self.codec.encode(f"s2c.events.{event.schema}", to_native(event))

    def decode(self, value: bytes) -> tuple[str, dict[str, Any]]:
        return self.codec.decode(value)

    def sent_to(self, spec: TopicSpec) -> list[Sent]:
        return [s for s in self.producer.sent if s.topic == spec.name]

    def counter(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def announce(
        self, ctx: Any, stage: str, partition: int, at: Any, idle: bool = False
    ) -> None:
        """Every upstream of `stage`'s `partition` announces it got to `at` (watermarks.py): the
        events held there up to `at` are applied, then the deadlines up to it fire."""
        for source in sources_of(stage, self.settings.partitions):
            body = json.dumps(
                {"source": source, "at": None if at is None else to_ms(at), "idle": idle}
            ).encode()
            await self.put(
                ctx, b"__watermark__", body, partition=partition, headers=[WATERMARK_CONTROL]
            )

    async def put(
        self,
        ctx: Any,
        key: bytes | None,
        value: bytes,
        partition: int = 0,
        headers: list[tuple[str, bytes]] | None = None,
        timestamp: float | None = None,
    ) -> Any:
        """Hand one message to the agent and return once its body has finished with it;
        `timestamp` is the record's (epoch seconds; default now).

        `put(wait=True)` returns when the stream hands the value to the agent, before the body
        runs; the stream acknowledges the event only when the body asks for the next one."""
        event = await ctx.put(
            key=key, value=value, partition=partition, headers=headers, timestamp=timestamp
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROCESSED_TIMEOUT_SECONDS
        while not event.message.acked:
            if ctx.crash_reason is not None:
                raise ctx.crash_reason
            if loop.time() > deadline:
                raise TimeoutError(f"agent {ctx.name} did not finish message {key!r}")
            await asyncio.sleep(0.005)
        return event.message
