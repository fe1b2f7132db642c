"""Fixtures for the registry's integration tier: the real broker, the service as a subprocess.

Each test module gets its own topic (uuid suffix) so runs never see each other's schemas, and the
service is started exactly as the local stack starts it (`python -m s2c.streams.cli registry serve`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from s2c.streams.settings import REPO_ROOT, Settings


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningRegistry:
    url: str
    topic: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


def start_registry(topic: str, log_dir: Path, env: dict[str, str] | None = None) -> RunningRegistry:
    """`env` adds to this process's environment (an auth file, an audit topic). Unless `env`
    names one, the registry's audit topic is the test's own (`_s2c_audit_test_...`), so tests
    leave nothing on the cluster's trail; `_delete_topics` removes both."""
    env = {"S2C_AUDIT_TOPIC": audit_topic_of(topic), **(env or {})}
    port = _free_port()
    log_path = log_dir / f"registry-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "s2c.streams.cli",
            "registry",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--topic",
            topic,
        ],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/", timeout=1).status_code == 200:  # open even with auth
                return RunningRegistry(url, topic, process, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"registry did not answer within 30 s: {log_path.read_text()}")


@pytest.fixture(scope="session")
def kafka() -> Settings:
    settings = Settings.from_env()
    host, port = settings.kafka_bootstrap.rsplit(":", 1)
    if not _port_open(host, int(port)):
        subprocess.run(
            [str(REPO_ROOT / "deploy" / "local" / "stack"), "start", "kafka"], check=True
        )
    return settings


def audit_topic_of(topic: str) -> str:
    """The test registry's own audit topic, named after its schemas topic."""
    return f"_s2c_audit_test_{topic.removeprefix('_s2c_schemas_test_')}"


def _delete_topics(settings: Settings, topics: set[str]) -> None:
    """Leave the shared broker as we found it."""
    from confluent_kafka.admin import AdminClient

    if not topics:  # the registry failed to start: its failure is the test's, not teardown's
        return

    admin = AdminClient(settings.confluent_config())
    existing = set(admin.list_topics(timeout=30).topics)
    topics = topics | {audit_topic_of(t) for t in topics if audit_topic_of(t) in existing}
    for future in admin.delete_topics(sorted(topics)).values():
        future.result(30)


@pytest.fixture
def registry_factory(kafka: Settings, tmp_path: Path) -> Iterator:
    started: list[RunningRegistry] = []

    def start(topic: str | None = None) -> RunningRegistry:
        running = start_registry(topic or f"_s2c_schemas_test_{uuid.uuid4().hex[:12]}", tmp_path)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.stop()
    _delete_topics(kafka, {running.topic for running in started})


@pytest.fixture(scope="module")
def registry(
    kafka: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    topic = f"_s2c_schemas_test_{uuid.uuid4().hex[:12]}"
    running = start_registry(topic, tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()
    _delete_topics(kafka, {topic})


@dataclass
class SecuredRegistry:
    """A registry with users (S2C_REGISTRY_AUTH_FILE) and its own audit topic."""

    running: RunningRegistry
    audit_topic: str
    writer: tuple[str, str]  # billing-ops, role write
    reader: tuple[str, str]  # erp-reader, role read

    @property
    def url(self) -> str:
        return self.running.url

    def user_info(self, who: tuple[str, str]) -> str:
        return ":".join(who)


def add_user(users_file: Path, name: str, role: str, password: str) -> None:
    """As the secured stack does it: `s2c registry add-user`, the password in the environment."""
    subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "registry", "add-user"]
        + ["--file", str(users_file), "--user", name, "--role", role],
        env={**os.environ, "S2C_NEW_PASSWORD": password},
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def secured_registry_factory(kafka: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Starts registries with users billing-ops (write) and erp-reader (read), random passwords,
    each on its own schemas topic and audit topic; stops them and deletes the topics after."""
    started: list[tuple[RunningRegistry, str]] = []

    def start(audit_topic: str | None = None) -> SecuredRegistry:
        tmp = tmp_path_factory.mktemp("secured-registry")
        users_file = tmp / "registry-users"
        writer = ("billing-ops", f"remit-{uuid.uuid4().hex}")
        reader = ("erp-reader", f"st-olaf-{uuid.uuid4().hex}")
        add_user(users_file, writer[0], "write", writer[1])
        add_user(users_file, reader[0], "read", reader[1])
        audit_topic = audit_topic or f"_s2c_audit_test_{uuid.uuid4().hex[:12]}"
        running = start_registry(
            f"_s2c_schemas_test_{uuid.uuid4().hex[:12]}",
            tmp,
            {"S2C_REGISTRY_AUTH_FILE": str(users_file), "S2C_AUDIT_TOPIC": audit_topic},
        )
        started.append((running, audit_topic))
        return SecuredRegistry(running, audit_topic, writer, reader)

    yield start
    for running, audit_topic in started:
        if running.process.poll() is None:
            running.stop()
        _delete_topics(kafka, {running.topic, audit_topic})
