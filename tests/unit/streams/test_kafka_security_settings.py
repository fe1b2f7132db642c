"""Kafka security settings: what every client gets from S2C_KAFKA_SECURITY_PROTOCOL and friends,
the secured stack's per-role credentials, and what each role is granted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from s2c.streams.acls import Grant, base_acls, namespace_acls
from s2c.streams.settings import Settings


def from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in (
        "S2C_KAFKA_USERNAME",
        "S2C_KAFKA_PASSWORD",
        "S2C_KAFKA_SECURITY_PROTOCOL",
        "S2C_KAFKA_CA_FILE",
        "S2C_SECURE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_plain_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch)
    assert settings.confluent_config() == {"bootstrap.servers": settings.kafka_bootstrap}
    assert settings.aiokafka_ssl_context() is None


def test_a_username_alone_keeps_sasl_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    config = from_env(
        monkeypatch, S2C_KAFKA_USERNAME="worker", S2C_KAFKA_PASSWORD="pw"
    ).confluent_config()
    assert config["security.protocol"] == "SASL_PLAINTEXT"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("worker", "pw")
    assert "ssl.ca.location" not in config


def test_sasl_ssl_verifies_the_broker_with_the_given_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = from_env(
        monkeypatch,
        S2C_KAFKA_SECURITY_PROTOCOL="sasl_ssl",
        S2C_KAFKA_CA_FILE=str(tmp_path / "ca.pem"),
        S2C_KAFKA_USERNAME="ingest",
        S2C_KAFKA_PASSWORD="pw",
    )
    config = settings.confluent_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["ssl.ca.location"] == str(tmp_path / "ca.pem")
    assert config["sasl.username"] == "ingest"


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, S2C_KAFKA_USERNAME="worker", S2C_KAFKA_PASSWORD="s3cret-pw")
    assert "s3cret-pw" not in repr(settings)


def test_secure_mode_keeps_its_data_apart_and_reads_a_roles_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = from_env(monkeypatch, S2C_SECURE="1", S2C_DATA_DIR=str(tmp_path))
    assert settings.data_dir == tmp_path / "secure-stack"
    (tmp_path / "secure").mkdir()
    (tmp_path / "secure" / "erp-reader.env").write_text(
        "# made by deploy/local/stack\n"
        "S2C_SECURE=1\n"
        "S2C_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
        f"S2C_KAFKA_CA_FILE={tmp_path}/secure/tls/ca.pem\n"
        "S2C_KAFKA_USERNAME=erp-reader\n"
        "S2C_KAFKA_PASSWORD=0a1b2c\n"
        "S2C_REGISTRY_USER_INFO=erp-reader:0a1b2c\n"
    )
    reader = settings.for_role("erp-reader")
    assert reader.confluent_config()["sasl.username"] == "erp-reader"
    assert reader.confluent_config()["ssl.ca.location"] == f"{tmp_path}/secure/tls/ca.pem"
    assert reader.registry_user_info.get_secret_value() == "erp-reader:0a1b2c"
    with pytest.raises(SystemExit, match="S2C_SECURE=1 deploy/local/stack start"):
        settings.for_role("worker")


def test_roles_are_unchanged_outside_secure_mode() -> None:
    settings = Settings()
    assert settings.for_role("admin") is settings
    assert replace(settings).role_env("worker") == {}


def allowed(grants: list[Grant], role: str, operation: str, topic: str) -> bool:
    return any(
        g.role == role
        and g.resource == "TOPIC"
        and g.operation == operation
        and (topic.startswith(g.name) if g.prefixed else topic == g.name)
        for g in grants
    )


def test_each_role_gets_its_topics_only() -> None:
    grants = namespace_acls("s2c", "s2c-pipeline") + base_acls("_s2c_schemas")
    assert allowed(grants, "erp-reader", "READ", "s2c.erp.commands")
    assert not allowed(grants, "erp-reader", "READ", "s2c.events")
    assert allowed(grants, "erp-reader", "WRITE", "s2c.erp.acks")  # s2c erp-sink answers there
    assert allowed(grants, "erp-reader", "READ", "s2c.master")  # its chart of accounts
    assert not allowed(grants, "erp-reader", "WRITE", "s2c.erp.commands")
    assert allowed(grants, "ingest", "WRITE", "s2c.events")
    assert allowed(grants, "ingest", "WRITE", "s2c.dlq")
    assert not allowed(grants, "ingest", "READ", "s2c.erp.commands")
    assert not allowed(grants, "ingest", "WRITE", "s2c.erp.commands")
    assert allowed(grants, "worker", "WRITE", "s2c.erp.commands")
    assert allowed(grants, "worker", "READ", "s2c-pipeline-process_states-changelog")
    assert not allowed(grants, "worker", "WRITE", "_s2c_schemas")
    assert allowed(grants, "registry", "WRITE", "_s2c_schemas")
    assert not allowed(grants, "registry", "READ", "s2c.events")
