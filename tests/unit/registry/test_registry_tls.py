"""`s2c registry serve` over https (S2C_REGISTRY_TLS_CERT / _KEY): a client that trusts
S2C_REGISTRY_CA_FILE registers and reads with its user; one that does not trust the CA gets no
answer at all. The certificates are made here with openssl, as the secured stack makes its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from s2c.streams.codec import AvroCodec, RegistryUnavailable, registry_client, registry_client_for
from s2c.streams.registry import users
from s2c.streams.registry.api import create_app
from s2c.streams.registry.auth import UsersFile
from s2c.streams.registry.cli import server_tls
from s2c.streams.registry.service import Registry
from s2c.streams.settings import SecretStr, Settings

CLAIM = json.dumps(
    {
        "type": "record",
        "name": "ClaimSubmitted",
        "namespace": "s2c.events",
        "fields": [{"name": "claim_id", "type": "string"}],
    }
)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=s2c test CA", cwd=d)  # fmt: skip
    openssl("req", *ec, "-keyout", "registry.key", "-out", "registry.csr",
            "-subj", "/CN=localhost", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "registry.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "registry.pem", "-days", "1", "-extfile", "san.ext",
            cwd=d)  # fmt: skip
    return d


def serve_and(pki: Path, users_file: UsersFile, client_calls):  # type: ignore[no-untyped-def]
    settings = Settings(
        registry_tls_cert=pki / "registry.pem", registry_tls_key=pki / "registry.key"
    )

    async def go():  # type: ignore[no-untyped-def]
        runner = web.AppRunner(create_app(Registry.in_memory(), users_file=users_file))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls(settings))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, client_calls, f"https://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    return asyncio.run(go())


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UsersFile:
    monkeypatch.setattr(users, "ITERATIONS", 1000)
    path = tmp_path / "registry-users"
    users.add_user(path, "billing-ops", "write", "remit-2291")
    return UsersFile(path)


def test_a_client_trusting_the_ca_registers_over_https(pki: Path, users_file: UsersFile) -> None:
    def calls(url: str) -> tuple[int, str]:
        client = registry_client_for(
            Settings(
                registry_url=url,
                registry_user_info=SecretStr("billing-ops:remit-2291"),
                registry_ca_file=pki / "ca.pem",
            )
        )
        schema_id = AvroCodec(client, lambda name: CLAIM).prepare("s2c.events.ClaimSubmitted")
        return schema_id, client.get_schema(schema_id).schema_str

    schema_id, text = serve_and(pki, users_file, calls)
    assert schema_id == 1 and json.loads(text)["name"] == "ClaimSubmitted"


def test_a_client_not_trusting_the_ca_gets_no_answer(pki: Path, users_file: UsersFile) -> None:
    def calls(url: str) -> None:
        client = registry_client(url, "billing-ops:remit-2291")  # the system's CAs only
        AvroCodec(client, lambda name: CLAIM).prepare("s2c.events.ClaimSubmitted")

    with pytest.raises(RegistryUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        serve_and(pki, users_file, calls)


def test_a_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(SystemExit, match="both S2C_REGISTRY_TLS_CERT and S2C_REGISTRY_TLS_KEY"):
        server_tls(Settings(registry_tls_cert=Path("registry.pem")))
    assert server_tls(Settings()) is None
