"""The dead-letter workflow end to end, for the case an operator can actually fix: a master-data
feed migrated from another schema registry. Its payer record on `s2c.master` carries a schema id
s2c's registry never gave out, so the worker dead-letters it and a visit billed to that payer
waits. The operator imports the schema under its old id (IMPORT mode), replays the dead letter,
and the waiting visit accrues its revenue at the contract rate, once."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal

import fastavro
import httpx
import pytest
from confluent_kafka import Producer
from stackkit import PipelineEnv, read_topic, wait_for
from test_topology import MASTER_RECORDS, codec_for, master_record, publish_master, to_native
from test_walking_skeleton import accruals, appointment, produce

from s2c.streams.catalog import load_catalog
from s2c.streams.masterdata import UNUSABLE, master_key
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration
HELD_BACK = "AETNA-COMM"  # the payer the visit is billed to
JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def publish_master_data_except(pipeline: PipelineEnv, payer_id: str) -> None:
    master = {
        name: [
            to_native(master_record(name, row))
            for row in rows
            if not (name == "Payer" and row["payer_id"] == payer_id)
        ]
        for name, rows in MASTER_RECORDS.items()
    }
    publish_master(
        pipeline.settings, codec_for(pipeline), declare(pipeline.settings).master_data.name, master
    )


def highest_schema_id(url: str) -> int:
    """The highest id the registry serves now (soft-deleted versions included)."""
    highest = 0
    for subject in httpx.get(f"{url}/subjects", params={"deleted": "true"}).json():
        path = f"{url}/subjects/{urllib.parse.quote(subject, safe='')}/versions"
        for version in httpx.get(path, params={"deleted": "true"}).json():
            found = httpx.get(f"{path}/{version}", params={"deleted": "true"}).json()
            highest = max(highest, found["id"])
    return highest


def framed(schema_id: int, schema_json: str, record: dict) -> bytes:
    """Confluent wire format as the MDM's old serializer wrote it: magic 0, the id, Avro binary."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(json.loads(schema_json)), record)
    return struct.pack(">bI", 0, schema_id) + body.getvalue()


def produce_at(pipeline: PipelineEnv, topic: str, key: bytes, value: bytes) -> tuple[int, int]:
    """Produces one record; returns its (partition, offset)."""
    delivered: list = []
    producer = Producer(pipeline.settings.confluent_config())
    producer.produce(
        topic,
        key=key,
        value=value,
        on_delivery=lambda err, msg: delivered.append((err, msg.partition(), msg.offset())),
    )
    assert producer.flush(30) == 0
    [(err, partition, offset)] = delivered
    assert err is None, err
    return partition, offset


def parked_events(metrics_url: str) -> float:
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    line = next(
        (l for l in text.splitlines() if l.startswith('s2c_parked_events{stage="process"}')), None
    )
    return float(line.split()[-1]) if line else 0.0


def test_a_foreign_schema_id_on_master_data_is_fixed_by_import_and_replay(
    pipeline_env: PipelineEnv,
) -> None:
    settings, topics = pipeline_env.settings, declare(pipeline_env.settings)
    url = settings.registry_url
    publish_master_data_except(pipeline_env, HELD_BACK)  # also registers s2c's own Payer schema
    payer_schema = load_catalog().resolved_json("s2c.master.Payer")
    row = to_native(
        master_record(
            "Payer", next(p for p in MASTER_RECORDS["Payer"] if p["payer_id"] == HELD_BACK)
        )
    )
    foreign_id = highest_schema_id(url) + 1000  # what the MDM's old registry had given it
    assert httpx.get(f"{url}/schemas/ids/{foreign_id}").status_code == 404
    key, value = master_key("Payer", row).encode(), framed(foreign_id, payer_schema, row)
    partition, offset = produce_at(pipeline_env, topics.master_data.name, key, value)

    worker = pipeline_env.worker().start().wait_ready()
    [letter] = read_topic(settings, topics.dlq.name, 1, timeout=60, settle=3)
    headers = dict(letter.headers())
    assert (letter.key(), letter.value()) == (key, value)  # the original bytes, to replay
    assert headers["s2c.errors.reason"] == UNUSABLE.encode()
    assert headers["__connect.errors.stage"] == b"master"
    assert headers["__connect.errors.topic"] == topics.master_data.name.encode()
    assert (headers["__connect.errors.partition"], headers["__connect.errors.offset"]) == (
        str(partition).encode(),
        str(offset).encode(),
    )
    assert (
        f"schema id {foreign_id} unknown".encode() in headers["__connect.errors.exception.message"]
    )

    # A visit billed to that payer waits for it: parked, nothing accrued.
    produce(pipeline_env, [("APT-5001", appointment("APT-5001", f"evt-{uuid.uuid4()}"))])
    wait_for(lambda: parked_events(worker.metrics_url) == 1.0, 60, "the visit to park")
    commands = read_topic(settings, topics.commands.name, 1, timeout=3, settle=0)
    assert commands == [], "nothing may accrue before the payer is known"

    # The fix: import the schema under its old id in a subject of its own, in IMPORT mode only
    # for that subject, so the shared registry is never left importing.
    subject = f"{settings.topic_prefix}.mdm.s2c.master.Payer"
    subject_url = f"{url}/subjects/{urllib.parse.quote(subject, safe='')}"
    mode_url = f"{url}/mode/{urllib.parse.quote(subject, safe='')}"
    try:
        answer = httpx.put(mode_url, json={"mode": "IMPORT"}, headers=JSON)
        assert answer.json() == {"mode": "IMPORT"}, answer.text
        answer = httpx.post(
            f"{subject_url}/versions",
            headers=JSON,
            json={"schema": payer_schema, "id": foreign_id, "version": 1},
        )
        assert answer.json() == {"id": foreign_id}, answer.text
        assert httpx.delete(mode_url).status_code == 200
        assert httpx.get(mode_url, params={"defaultToGlobal": "true"}).json() == {
            "mode": "READWRITE"
        }

        replayed = subprocess.run(
            [sys.executable, "-m", "s2c.streams.cli", "dlq", "replay", "--reason", UNUSABLE],
            env=pipeline_env.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "replayed 1 dead letter(s)" in replayed.stdout, replayed.stderr

        [command] = accruals(pipeline_env, expected=1, settle=5.0)  # exactly once
        assert command["header"]["process_id"] == "APPT-APT-5001"
        assert command["payer_id"] == HELD_BACK
        assert command["amount"] == Decimal("145.00")  # Aetna Commercial x CPT 99213
        assert wait_for(
            lambda: parked_events(worker.metrics_url) == 0.0,
            60,
            "the visit to leave the parked events",
        )
        # The replayed record was read this time: no second dead letter.
        assert len(read_topic(settings, topics.dlq.name, 2, timeout=5, settle=0)) == 1
        assert worker.proc.poll() is None, worker.log_tail()
    finally:
        httpx.delete(mode_url)  # 40409 when already back to the global mode
        if httpx.delete(subject_url).status_code == 200:
            httpx.delete(subject_url, params={"permanent": "true"})
