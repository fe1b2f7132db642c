"""A generated day through a real worker leaves no patient identifier behind: no record on an
output topic (key, value or header), no line of the worker's log and no metric names any of the
day's account numbers or patient refs. The generator's own charge, claim and remittance ids embed
the account number, as CLM01 does on real claims, so the pipeline has to keep them in.

The same worker shows its experience API as an operator meets it with `S2C_API_TOKEN` set:
Faust's table pages answer 404, the API wants the token, `/health/` and `/metrics` do not, and a
walk-in is found by its account number, under the id the reference replay gives it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from stackkit import IDS, PipelineEnv, read_topic

from s2c.streams.synth import SynthParams, generate
from s2c.streams.synth.kafka_out import default_codec, publish_events, publish_master
from s2c.streams.topics import declare
from s2c.tables.events import event_from_record
from s2c.tables.master import DictMasterData, master_record
from s2c.tables.outputs import Command
from s2c.tables.replay import Pipeline

pytestmark = pytest.mark.integration

TOKEN = "integration-ops-token-not-a-secret"
# One site's small weekday: clinic visits, walk-ins, ED visits and surgeries, with the feed noise.
DAY = SynthParams(seed=11, sites=1, clinic_visits=40, walk_ins=8, ed_visits=12, cases=6)


def whole_topic(settings, topic: str) -> list:
    """Every record on `topic` up to its end now (partitions assigned, no consumer group)."""
    consumer = Consumer({**settings.confluent_config(), "group.id": "unused"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records, left = [], {p for p, end in ends.items() if end > 0}
        while left:
            msg = consumer.poll(5)
            assert msg is not None, f"{topic}: partitions {left} did not reach their end"
            assert not msg.error(), msg.error()
            records.append(msg)
            if msg.offset() + 1 >= ends[msg.partition()]:
                left.discard(msg.partition())
        return records
    finally:
        consumer.close()


def http(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_a_generated_day_leaves_no_account_number_or_patient_ref(pipeline_env: PipelineEnv) -> None:
    settings = pipeline_env.settings
    synthesis = generate(DAY)
    events = list(synthesis.events())
    accounts = {r["account_number"] for _, _, r in events if r.get("account_number")}
    patients = {r["patient_ref"] for _, _, r in events if r.get("patient_ref")}
    walk_ins = {
        r["account_number"]
        for s, _, r in events
        if s == "EncounterStarted" and not r["case_id"] and not r["appointment_id"]
    }
    assert len(accounts) > 50 and patients and walk_ins

    master = DictMasterData(master_record(n, r) for n, _, r in synthesis.master())
    reference = Pipeline(master, IDS)
    want = {
        o.command_id
        for s, _, r in events
        for o in reference.feed(event_from_record(s, r))
        if isinstance(o, Command)
    }

    publish_master(settings, synthesis.system)
    worker = pipeline_env.worker(S2C_API_TOKEN=TOKEN).start().wait_ready()
    publish_events(settings, synthesis)
    topics = declare(settings)
    commands = read_topic(settings, topics.commands.name, len(want), timeout=180, settle=3)
    codec = default_codec(settings)
    # Replay with the workers' key is the live pipeline: the same commands, under the same ids.
    assert {codec.decode(m.value())[1]["header"]["command_id"] for m in commands} == want
    walk_in_keys = {m.key().decode() for m in commands if m.key().startswith(b"ENC-")}
    assert walk_in_keys and walk_in_keys <= {IDS.encounter_process_id(a) for a in walk_ins}

    base = worker.metrics_url.removesuffix("/metrics")
    status, metrics = http(f"{base}/metrics")
    assert status == 200

    identifying = re.compile("|".join(map(re.escape, sorted(accounts | patients))).encode())
    outputs = [topics.commands, topics.sla_breaches, topics.exceptions, topics.dlq]
    found = {spec.name: whole_topic(settings, spec.name) for spec in outputs}
    assert found[topics.dlq.name] == []  # a clean day: nothing dead-lettered
    assert found[topics.exceptions.name] and found[topics.sla_breaches.name]
    for topic, records in found.items():
        for msg in records:
            seen = [msg.key() or b"", msg.value() or b""]
            seen += [name.encode() + b"=" + (value or b"") for name, value in msg.headers() or []]
            assert not any(identifying.search(part) for part in seen), (topic, seen)
    assert not identifying.search(metrics.encode())
    status, health = http(f"{base}/health/")  # open, like /metrics: it names no instance
    assert status == 200 and not identifying.search(health.encode())
    assert not re.search(r"(APPT|CASE|ENC)-", health + metrics)
    log = worker.log_path.read_bytes()
    assert log and not identifying.search(log)

    # The experience API with a token configured.
    walk_in = sorted(walk_ins)[0]
    process_id = IDS.encounter_process_id(walk_in)
    assert process_id in reference.processes
    for path in ("/table/", "/table/links/", f"/table/links/{IDS.account_ref(walk_in)}/"):
        assert http(base + path, TOKEN)[0] == 404, path
    assert http(f"{base}/process/{process_id}/")[0] == 401
    assert http(f"{base}/exceptions/")[0] == 401
    status, page = http(f"{base}/exceptions/?limit=5", TOKEN)
    assert status == 200 and len(json.loads(page)["exceptions"]) <= 5
    search = {"account_number": walk_in}
    assert http(f"{base}/process/by-account/", None, search)[0] == 401
    status, answer = http(f"{base}/process/by-account/", TOKEN, search)
    assert status == 200 and json.loads(answer)["process_id"] == process_id
    status, answer = http(f"{base}/process/{process_id}/", TOKEN)
    assert (
        status == 200 and json.loads(answer)["stage"] == reference.processes[process_id].stage.value
    )
    # The search is logged nowhere: the number went in the body, and only its ref between workers.
    assert walk_in.encode() not in worker.log_path.read_bytes()
