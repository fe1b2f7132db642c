"""The secured stack of the security tests: `S2C_SECURE=1 deploy/local/stack start kafka registry`
with its own data folder (.s2c/test-secure) and ports (29092, 29093, 28081), so it never meets
the plain stack (19092...) a developer or another test session runs. Started once per session,
stopped at its end (S2C_KEEP_STACK=1 keeps it)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

import pytest
from stackkit import ID_KEY, STACK, WorkerProcess, free_port

from s2c.streams.settings import REPO_ROOT, SecretStr, Settings

DATA = REPO_ROOT / ".s2c" / "test-secure"
PORTS = {
    "S2C_KAFKA_PORT": "29092",
    "S2C_CONTROLLER_PORT": "29093",
    "S2C_REGISTRY_PORT": "28081",
    "S2C_PROMETHEUS_PORT": "29090",
}
# Variables of the developer's shell that would point a client elsewhere or as someone else.
FOREIGN = (
    "S2C_KAFKA_BOOTSTRAP",
    "S2C_REGISTRY_URL",
    "S2C_KAFKA_USERNAME",
    "S2C_KAFKA_PASSWORD",
    "S2C_KAFKA_SECURITY_PROTOCOL",
    "S2C_KAFKA_CA_FILE",
    "S2C_REGISTRY_USER_INFO",
    "S2C_TOPIC_PREFIX",
    "S2C_APP_ID",
)


@dataclass
class SecureStack:
    env: dict[str, str]  # the stack's environment, no credentials in it

    def settings(self, role: str | None = None) -> Settings:
        with mock.patch.dict(os.environ, self.env, clear=True):
            settings = Settings.from_env()
        return settings.for_role(role) if role else settings

    def role_env(self, role: str) -> dict[str, str]:
        return {**self.env, **self.settings().role_env(role)}


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[SecureStack]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(PORTS, S2C_SECURE="1", S2C_DATA_DIR=str(DATA))
    shared_jars = REPO_ROOT / ".s2c" / "kafka" / "libs"
    if (shared_jars / ".pom.sha256").exists():  # the plain stack's copy: no second Maven run
        env["S2C_KAFKA_LIBS"] = str(shared_jars)
    subprocess.run([str(STACK), "start", "kafka", "registry"], env=env, check=True)
    yield SecureStack(env)
    if not os.environ.get("S2C_KEEP_STACK"):
        subprocess.run([str(STACK), "stop", "registry", "kafka"], env=env, check=False)


@dataclass
class SecureNamespace:
    """A private topic prefix and app id on the secured stack, its topics created and its
    ACLs granted by the admin; `settings(role)` connects as that role."""

    stack: SecureStack
    prefix: str
    app_id: str
    tmp: Path

    def settings(self, role: str) -> Settings:
        return replace(
            self.stack.settings(role),
            topic_prefix=self.prefix,
            app_id=self.app_id,
            id_key=SecretStr(ID_KEY),
        )

    def worker(self, name: str = "w1") -> WorkerProcess:
        env = self.stack.role_env("worker")
        env.update(
            S2C_TOPIC_PREFIX=self.prefix,
            S2C_APP_ID=self.app_id,
            S2C_ID_KEY=ID_KEY,
            S2C_WORKER_WEB_PORT=str(free_port()),
            S2C_WORKER_DIR=str(self.tmp / f"worker-{name}"),
        )
        return WorkerProcess(env=env, log_path=self.tmp / f"worker-{name}.log")


@pytest.fixture
def namespace(secure_stack: SecureStack, tmp_path: Path) -> Iterator[SecureNamespace]:
    from s2c.streams.acls import grant_namespace
    from s2c.streams.admin import create_topics
    from s2c.streams.topics import declare

    suffix = uuid.uuid4().hex[:8]
    space = SecureNamespace(secure_stack, f"sec{suffix}", f"s2c-sec-{suffix}", tmp_path)
    admin = space.settings("admin")
    create_topics(admin, declare(admin).all())
    grant_namespace(admin)
    workers: list[WorkerProcess] = []
    space.worker = _tracking(space.worker, workers)  # type: ignore[method-assign]
    yield space
    for worker in workers:
        worker.stop()


def _tracking(make, started: list[WorkerProcess]):  # type: ignore[no-untyped-def]
    def worker(name: str = "w1") -> WorkerProcess:
        process = make(name)
        started.append(process)
        return process

    return worker
