"""Operating the pipeline on the real stack: crashes, rebalances, late master data, timers, the
dead-letter workflow and the experience API. A small synthetic day at one hospital (about a
thousand events: visits, surgeries, reschedules, denials, duplicates, late arrivals) is the load;
a clean single-worker run is the reference every disturbed run must equal."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
from stackkit import (
    PipelineEnv,
    WorkerProcess,
    new_pipeline_env,
    read_to_end,
    read_topic,
    wait_drained,
    wait_for,
)

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.synth import SynthParams, generate
from s2c.streams.synth.kafka_out import publish_events, publish_master
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration
DAY = generate(SynthParams(sites=1, scale=0.15, seed=23))


def codec_for(env: PipelineEnv) -> AvroCodec:
    return AvroCodec(
        registry_client(env.settings.registry_url), lambda name: load_catalog().resolved_json(name)
    )


def commands(env: PipelineEnv, workers: list[WorkerProcess]) -> list[dict]:
    """Every command the workers emit for the input published so far: read once they drained it."""
    wait_drained(env.settings, workers)
    codec = codec_for(env)
    return [
        codec.decode(m.value())[1]
        for m in read_to_end(env.settings, declare(env.settings).commands.name)
    ]


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["header"]["command_id"]: r for r in records}


@pytest.fixture(scope="module")
def clean_run(stack, tmp_path_factory) -> dict[str, dict]:
    env = new_pipeline_env(tmp_path_factory.mktemp("clean"))
    publish_master(env.settings, DAY.system)
    worker = env.worker().start()
    try:
        publish_events(env.settings, DAY)
        result = by_id(commands(env, [worker]))
    finally:
        worker.stop()
    assert len(result) > 300, "the synthetic day should give hundreds of commands"
    return result


def test_kill_9_mid_stream_leaves_the_ledger_of_a_clean_run(pipeline_env, clean_run) -> None:
    publish_master(pipeline_env.settings, DAY.system)
    worker = pipeline_env.worker("victim").start()
    publish_events(pipeline_env.settings, DAY)
    wait_for(
        lambda: (
            len(
                read_topic(
                    pipeline_env.settings,
                    declare(pipeline_env.settings).commands.name,
                    len(clean_run) // 3,
                    timeout=2,
                    settle=0,
                )
            )
            >= len(clean_run) // 3
        ),
        120,
        "a third of the commands before the crash",
    )
    worker.kill()  # SIGKILL: no commit, no flush, no goodbye
    # Same data dir: RocksDB and the changelogs bring the tables back; events since the last
    # commit are processed again and must change nothing.
    again = pipeline_env.worker("victim").start()
    after = commands(pipeline_env, [again])
    assert by_id(after).keys() == clean_run.keys()
    assert by_id(after) == clean_run


def test_third_worker_joining_loses_and_doubles_nothing(pipeline_env, clean_run) -> None:
    publish_master(pipeline_env.settings, DAY.system)
    a, b = pipeline_env.worker("a").start(), pipeline_env.worker("b").start()
    publish_events(pipeline_env.settings, DAY)
    time.sleep(3)
    c = pipeline_env.worker("c").start()  # joins mid-stream: a rebalance moves partitions to it
    after = commands(pipeline_env, [a, b, c])
    assert by_id(after).keys() == clean_run.keys()
    doubled = [cid for cid, n in Counter(r["header"]["command_id"] for r in after).items() if n > 1]
    assert doubled == [], f"{len(doubled)} commands were emitted twice"


def test_experience_api_answers_from_the_owning_worker(pipeline_env) -> None:
    publish_master(pipeline_env.settings, DAY.system)
    a, b = pipeline_env.worker("a").start(), pipeline_env.worker("b").start()
    publish_events(pipeline_env.settings, DAY)
    done = commands(pipeline_env, [a, b])
    journals = [
        c
        for c in done
        if c["header"]["command_type"] == "PostJournal" and c["journal_kind"] == "PAYMENT"
    ]
    process_id = journals[0]["header"]["process_id"]
    for worker in (a, b):  # whichever worker is asked, the owner answers
        url = worker.metrics_url.replace("/metrics", f"/process/{process_id}/")
        body = json.load(urllib.request.urlopen(url, timeout=10))
        assert body["process_id"] == process_id
        milestones = [step["milestone"] for step in body["timeline"]]
        assert "first_claim" in milestones and "first_payment" in milestones
        assert body["stage"] in {"PAID", "PARTIALLY_PAID", "CLOSED"}
        assert "patient_ref" not in json.dumps(body)
    listing, query = [], "?limit=7"  # pages across both workers, walked with the cursor
    while query:
        page = json.load(
            urllib.request.urlopen(
                a.metrics_url.replace("/metrics", f"/exceptions/{query}"), timeout=10
            )
        )
        assert page["count"] == len(page["exceptions"]) <= 7
        listing += page["exceptions"]
        query = f"?limit=7&after={page['next']}" if page["next"] else ""
    raised = read_to_end(pipeline_env.settings, declare(pipeline_env.settings).exceptions.name)
    assert len(listing) == len(raised) > 0
    assert len({e["exception_id"] for e in listing}) == len(listing)  # each item once
    for worker in (a, b):  # both ready, sharing the partitions, nothing stuck
        health = json.load(
            urllib.request.urlopen(worker.metrics_url.replace("/metrics", "/health/"), timeout=10)
        )
        assert health["status"] == "ok" and health["stalled"] == [], health
        assert health["master_records"] > 0 and health["assigned"]
    missing = urllib.request.urlopen  # an unknown id answers 404 with a reason
    with pytest.raises(urllib.error.HTTPError) as err:
        missing(a.metrics_url.replace("/metrics", "/process/CASE-NO-SUCH/"), timeout=10)
    assert err.value.code == 404


def test_dead_letters_are_listed_and_replayed_to_their_source(pipeline_env) -> None:
    from confluent_kafka import Producer

    topics = declare(pipeline_env.settings)
    producer = Producer(pipeline_env.settings.confluent_config())
    producer.produce(topics.events.name, key=b"ACCT-1", value=b'{"json": "not avro"}')
    producer.flush(10)
    pipeline_env.worker().start()
    [letter] = read_topic(pipeline_env.settings, topics.dlq.name, 1, timeout=60)
    assert dict(letter.headers())["s2c.errors.reason"] == b"undecodable"
    cli = [sys.executable, "-m", "s2c.streams.cli", "dlq"]
    listed = subprocess.run(
        [*cli, "list", "--reason", "undecodable"],
        env=pipeline_env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "1 dead letter(s) with reason undecodable" in listed.stdout, listed.stderr
    assert f"from={topics.events.name}[" in listed.stdout
    replayed = subprocess.run(
        [*cli, "replay", "--reason", "undecodable"],
        env=pipeline_env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "replayed 1 dead letter(s)" in replayed.stdout, replayed.stderr
    # Back on its source topic, with a header saying where it came from; still malformed, so the
    # worker dead-letters it again: nothing is dropped silently.
    source = read_topic(pipeline_env.settings, topics.events.name, 2, timeout=30)
    assert [m.value() for m in source] == [b'{"json": "not avro"}'] * 2
    assert dict(source[1].headers())["s2c.replayed.from"].startswith(b"dlq[")
    assert len(read_topic(pipeline_env.settings, topics.dlq.name, 2, timeout=60)) == 2
