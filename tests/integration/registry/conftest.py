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


def start_registry(topic: str, log_dir: Path) -> RunningRegistry:
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
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/subjects", timeout=1).status_code == 200:
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


def _delete_topics(settings: Settings, topics: set[str]) -> None:
    """Leave the shared broker as we found it."""
    from confluent_kafka.admin import AdminClient

    if not topics:  # the registry failed to start: its failure is the test's, not teardown's
        return

    admin = AdminClient(settings.confluent_config())
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
