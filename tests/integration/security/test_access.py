"""Who gets into the secured broker, and what each role may do there.

The broker's client listener is SASL_SSL with SCRAM-SHA-512: a client speaking plaintext, one
that does not trust the stack's CA, an unknown user and a wrong password are all turned away.
Inside, each role does its job and nothing more: the ERP connector (erp-reader) reads posting
commands but not the clinical events; ingest publishes events but cannot read or forge commands;
a worker cannot write the schema registry's log.

librdkafka keeps retrying a refused connection; every wait here is bounded.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from s2c.streams.settings import SecretStr
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration


def connection_errors(config: dict[str, Any], seconds: float = 10.0) -> set[int]:
    """The error codes librdkafka reports through error_cb while connecting (until the first)."""
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append})
    deadline = time.monotonic() + seconds
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    return {e.code() for e in errors}


def delivery_error(settings: Any, topic: str, seconds: float = 15.0) -> int | None:
    """Produces one record as `settings`' user; the delivery's error code, None when written."""
    outcome: list[Any] = []
    producer = Producer({**settings.confluent_config(), "message.timeout.ms": int(seconds * 1000)})
    producer.produce(topic, value=b"probe", on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(seconds + 5)
    assert outcome, f"no delivery report for {topic} within {seconds + 5} s"
    return None if outcome[0] is None else outcome[0].code()


def read_first(settings: Any, topic: str, group: str, seconds: float = 20.0) -> bytes | int:
    """The first record's value of `topic`, or the error code the broker answered with."""
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.3)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return msg.error().code()
            return msg.value()
    finally:
        consumer.close()
    raise AssertionError(f"neither a record nor an error from {topic} in {seconds} s")


def test_a_plaintext_client_is_refused(secure_stack) -> None:
    plain = {"bootstrap.servers": secure_stack.settings().kafka_bootstrap}
    assert connection_errors(plain) & {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}


def test_a_client_that_does_not_trust_the_stacks_ca_is_refused(secure_stack) -> None:
    config = secure_stack.settings("worker").confluent_config()
    del config["ssl.ca.location"]  # the system's CAs never signed the stack's broker
    # librdkafka reports the failed handshake as _SSL or, retrying, as a transport failure
    refused = {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}
    assert connection_errors(config) & refused


def test_an_unknown_user_and_a_wrong_password_are_refused(secure_stack) -> None:
    worker = secure_stack.settings("worker")
    config = worker.confluent_config()
    stranger = {**config, "sasl.username": f"mallory-{uuid.uuid4().hex[:6]}"}
    guessed = {**config, "sasl.password": "not-the-password"}
    assert KafkaError._AUTHENTICATION in connection_errors(stranger)
    assert KafkaError._AUTHENTICATION in connection_errors(guessed)
    assert not connection_errors(config, seconds=2)  # the real one gets in


def test_erp_reader_reads_commands_and_not_the_clinical_events(namespace) -> None:
    topics = declare(namespace.settings("admin"))
    assert delivery_error(namespace.settings("admin"), topics.commands.name) is None
    assert delivery_error(namespace.settings("ingest"), topics.events.name) is None
    reader = namespace.settings("erp-reader")
    assert read_first(reader, topics.commands.name, "erp-reader-posting") == b"probe"
    assert (
        read_first(reader, topics.events.name, "erp-reader-posting")
        == KafkaError.TOPIC_AUTHORIZATION_FAILED
    )
    # Its consumer groups are its own: a worker's group is not.
    assert (
        read_first(reader, topics.commands.name, namespace.app_id)
        == KafkaError.GROUP_AUTHORIZATION_FAILED
    )


def test_ingest_publishes_events_and_dead_letters_only(namespace) -> None:
    ingest = namespace.settings("ingest")
    topics = declare(ingest)
    assert delivery_error(ingest, topics.events.name) is None
    assert delivery_error(ingest, topics.dlq.name) is None
    assert delivery_error(ingest, topics.commands.name) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # No group of its own, no read permission on commands: refused whichever is checked first.
    assert read_first(ingest, topics.commands.name, f"{namespace.app_id}-peek") in {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    }


def test_a_worker_cannot_write_the_registrys_log(namespace) -> None:
    worker = namespace.settings("worker")
    assert delivery_error(worker, worker.registry_topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert delivery_error(worker, declare(worker).commands.name) is None
    # Another namespace's topics are not the worker's either.
    elsewhere = declare(replace(worker, topic_prefix=f"{namespace.prefix}x"))
    assert delivery_error(worker, elsewhere.events.name) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_role_files_hold_the_secrets_and_nobody_else_reads_them(secure_stack) -> None:
    folder = secure_stack.settings().secure_dir
    assert folder is not None
    for role in ("admin", "worker", "registry", "ingest", "erp-reader"):
        env_file = folder / f"{role}.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert f"S2C_KAFKA_USERNAME={role}\n" in env_file.read_text()
    password = SecretStr(secure_stack.role_env("admin")["S2C_KAFKA_PASSWORD"])
    logs = secure_stack.settings().data_dir / "logs"
    for log in logs.glob("*.log"):
        assert password.get_secret_value() not in log.read_text(errors="replace"), log


def registry_status(
    url: str, user_info: str | None, method: str = "GET", body: Any = None, ca: Any = None
) -> int:
    import base64
    import json
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/vnd.schemaregistry.v1+json")
    if user_info:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(user_info.encode()).decode()
        )
    try:
        tls = ssl.create_default_context(cafile=str(ca)) if ca else None
        with urllib.request.urlopen(request, timeout=10, context=tls) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_registry_asks_who_you_are_and_only_the_admin_registers(secure_stack) -> None:
    from s2c.streams.catalog import load_catalog

    admin = secure_stack.settings("admin")
    if not admin.registry_user_info:
        pytest.skip("this registry has no users ('s2c registry add-user' missing)")
    worker = secure_stack.settings("worker")
    subjects = f"{admin.registry_url}/subjects"
    assert subjects.startswith("https://")  # basic auth never crosses the wire in the clear
    ca = admin.registry_ca_file
    assert registry_status(subjects, None, ca=ca) == 401
    assert registry_status(subjects, "worker:not-the-password", ca=ca) == 401
    assert registry_status(subjects, worker.registry_user_info.get_secret_value(), ca=ca) == 200
    name = "s2c.events.AppointmentScheduled"  # registered by the stack, as the admin
    body = {"schema": load_catalog().resolved_json(name)}
    worker_info = worker.registry_user_info.get_secret_value()
    look_up, register = f"{subjects}/{name}", f"{subjects}/{name}/versions"
    assert registry_status(look_up, worker_info, "POST", body, ca) == 200
    assert registry_status(register, worker_info, "POST", body, ca) == 403
    admin_info = admin.registry_user_info.get_secret_value()
    assert registry_status(register, admin_info, "POST", body, ca) == 200


def test_a_worker_with_a_wrong_password_stops_and_says_why(secure_stack, tmp_path) -> None:
    import subprocess
    import sys

    from stackkit import free_port

    env = secure_stack.role_env("worker")
    env.update(
        S2C_KAFKA_PASSWORD="guessed-password-1",
        S2C_WORKER_WEB_PORT=str(free_port()),
        S2C_WORKER_DIR=str(tmp_path / "worker"),
    )
    run = subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "refused user 'worker' (SCRAM-SHA-512)" in run.stderr
    assert "guessed-password-1" not in run.stdout + run.stderr
