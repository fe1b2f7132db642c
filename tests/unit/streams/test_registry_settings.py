"""The registry's settings: users, TLS, the CA its clients trust, lookups only, the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2c.streams.settings import Settings

ALL_UNSET = (
    "S2C_REGISTRY_USER_INFO",
    "S2C_REGISTRY_CA_FILE",
    "S2C_REGISTRY_AUTH_FILE",
    "S2C_REGISTRY_TLS_CERT",
    "S2C_REGISTRY_TLS_KEY",
    "S2C_REGISTER_SCHEMAS",
    "S2C_AUDIT_TOPIC",
    "S2C_ACTOR",
    "S2C_NEW_PASSWORD",
    "S2C_SECURE",
)


def from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ALL_UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_defaults_are_an_open_plain_registry_that_workers_register_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = from_env(monkeypatch)
    assert settings.registry_auth_file is None and settings.registry_tls_cert is None
    assert settings.registry_ca_file is None and not settings.registry_user_info
    assert settings.register_schemas is True
    assert settings.audit_topic == "_s2c_audit" and settings.actor == ""


def test_the_registry_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(
        monkeypatch,
        S2C_REGISTRY_USER_INFO="worker:r3ad-only",
        S2C_REGISTRY_CA_FILE="/etc/s2c/ca.pem",
        S2C_REGISTRY_AUTH_FILE="/etc/s2c/registry-users",
        S2C_REGISTRY_TLS_CERT="/etc/s2c/registry.pem",
        S2C_REGISTRY_TLS_KEY="/etc/s2c/registry.key",
        S2C_REGISTER_SCHEMAS="0",
        S2C_AUDIT_TOPIC="_s2c_audit_riverside",
        S2C_ACTOR="night-shift-lead",
        S2C_NEW_PASSWORD="n3w-pw",
    )
    assert settings.registry_ca_file == Path("/etc/s2c/ca.pem")
    assert settings.registry_auth_file == Path("/etc/s2c/registry-users")
    assert (settings.registry_tls_cert, settings.registry_tls_key) == (
        Path("/etc/s2c/registry.pem"),
        Path("/etc/s2c/registry.key"),
    )
    assert settings.register_schemas is False
    assert (settings.audit_topic, settings.actor) == ("_s2c_audit_riverside", "night-shift-lead")
    assert "r3ad-only" not in repr(settings) and "n3w-pw" not in repr(settings)


def test_a_roles_env_file_may_name_the_registry_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = from_env(monkeypatch, S2C_SECURE="1", S2C_DATA_DIR=str(tmp_path))
    (tmp_path / "secure").mkdir()
    (tmp_path / "secure" / "worker.env").write_text(
        f"S2C_REGISTRY_USER_INFO=worker:0a1b\nS2C_REGISTRY_CA_FILE={tmp_path}/secure/tls/ca.pem\n"
    )
    worker = settings.for_role("worker")
    assert worker.registry_ca_file == tmp_path / "secure" / "tls" / "ca.pem"
    assert worker.registry_user_info.get_secret_value() == "worker:0a1b"
