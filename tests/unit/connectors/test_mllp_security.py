"""The MLLP listener over real sockets on 127.0.0.1: TLS, mutual TLS, the peer allowlist and
the message size limit. Certificates come from a CA the test makes with `openssl`."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import hl7
import pytest
from prometheus_client import CollectorRegistry
from samples import PRODUCED_AT, message

from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp import MllpListener
from s2c.streams.connectors.mllp_access import MllpPolicy, parse_allowlist, server_tls_context
from s2c.streams.connectors.mllp_frames import END, START
from s2c.streams.connectors.publish import MemoryPublisher

BOOKING = message("hl7v2/SIU-S12-booking.hl7")  # control id ORS260126-0007
DISCHARGE = message("hl7v2/ADT-A03-discharge.hl7")
LIMIT = 1048576


@pytest.fixture
def ingestor(refs) -> Ingestor:
    return Ingestor(
        MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """ca.pem; server.pem/.key for IP 127.0.0.1; client.pem/.key of an interface engine."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificates")
    folder = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req", "-x509", *ec, "-days", "2", "-subj", "/CN=Riverside General integration CA",
        "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    for name, subject, usage, san in [
        ("server", "/CN=s2c-mllp", "serverAuth", "subjectAltName=IP:127.0.0.1\n"),
        ("client", "/CN=rhapsody-prod-01", "clientAuth", ""),
    ]:
        openssl("req", *ec, "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (folder / f"{name}.ext").write_text(
            f"{san}extendedKeyUsage={usage}\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        )
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        )  # fmt: skip
    return folder


def tls_policy(pki: Path, mutual: bool = False) -> MllpPolicy:
    client_ca = pki / "ca.pem" if mutual else None
    return MllpPolicy(tls=server_tls_context(pki / "server.pem", pki / "server.key", client_ca))


def client_context(pki: Path, with_certificate: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    if with_certificate:
        context.load_cert_chain(pki / "client.pem", pki / "client.key")
    return context


class Sender:
    """An interface engine's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, raw: bytes) -> str | None:
        """The ACK's text, or None when the connection ended without one."""
        try:
            self.writer.write(START + raw + END)
            await self.writer.drain()
            block = await asyncio.wait_for(self.reader.readuntil(END), 10)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return None
        return block.removeprefix(START).removesuffix(END).decode()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass  # the listener closed first


def run(
    listener: MllpListener, scenario: Callable[[Callable[..., Awaitable[Sender]]], Awaitable[None]]
) -> None:
    async def main() -> None:
        port = await listener.start()

        async def connect(**options: object) -> Sender:
            return Sender(*await asyncio.open_connection("127.0.0.1", port, **options))

        try:
            await scenario(connect)
        finally:
            await listener.stop()

    asyncio.run(main())


def msa(ack: str | None) -> tuple[str, str]:
    assert ack is not None, "no ACK"
    segment = hl7.parse(ack).segment("MSA")
    return str(segment(1)), str(segment(2))


def refused(ingestor: Ingestor, reason: str) -> float | None:
    return ingestor.metrics.registry.get_sample_value(
        "s2c_connector_mllp_refused_connections_total", {"reason": reason}
    )


def booked_appointments(ingestor: Ingestor) -> list[str]:
    return [e[2]["appointment_id"] for e in ingestor.publisher.events if "appointment_id" in e[2]]


def test_tls_client_gets_its_aa(ingestor, pki):
    async def scenario(connect):
        sender = await connect(ssl=client_context(pki))
        assert sender.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        assert msa(await sender.send(BOOKING)) == ("AA", "ORS260126-0007")
        await sender.close()

    run(MllpListener(ingestor, port=0, policy=tls_policy(pki)), scenario)
    assert booked_appointments(ingestor) == ["ORC-88120"]


def test_the_tls_listener_refuses_anything_older_than_tls_1_2(pki):
    assert tls_policy(pki).tls.minimum_version == ssl.TLSVersion.TLSv1_2


def test_plaintext_client_against_tls_listener_gets_no_ack_and_the_listener_keeps_serving(
    ingestor, pki
):
    async def scenario(connect):
        plaintext = await connect()
        assert await plaintext.send(BOOKING) is None
        await plaintext.close()
        sender = await connect(ssl=client_context(pki))
        assert msa(await sender.send(DISCHARGE))[0] == "AA"
        await sender.close()

    run(MllpListener(ingestor, port=0, policy=tls_policy(pki)), scenario)
    assert booked_appointments(ingestor) == []  # the plaintext booking was never read
    assert refused(ingestor, "tls") == 1


def test_mutual_tls_refuses_a_client_without_a_certificate(ingestor, pki):
    async def scenario(connect):
        try:
            anonymous = await connect(ssl=client_context(pki))
        except (ssl.SSLError, ConnectionError):
            pass  # TLS 1.2 fails in the handshake; TLS 1.3 on the first read
        else:
            assert await anonymous.send(BOOKING) is None
            await anonymous.close()
        engine = await connect(ssl=client_context(pki, with_certificate=True))
        assert msa(await engine.send(DISCHARGE))[0] == "AA"
        await engine.close()

    run(MllpListener(ingestor, port=0, policy=tls_policy(pki, mutual=True)), scenario)
    assert booked_appointments(ingestor) == [] and refused(ingestor, "tls") == 1


def test_a_peer_outside_the_allowlist_is_refused_and_one_inside_gets_its_ack(ingestor, caplog):
    policy = MllpPolicy(allow=parse_allowlist(["127.0.0.1"]))

    async def scenario(connect):
        try:
            outsider = await connect(local_addr=("127.0.0.2", 0))
        except OSError:
            pytest.skip("this host cannot send from 127.0.0.2")
        assert await outsider.send(BOOKING) is None
        await outsider.close()
        engine = await connect(local_addr=("127.0.0.1", 0))
        assert msa(await engine.send(BOOKING)) == ("AA", "ORS260126-0007")
        await engine.close()

    with caplog.at_level("WARNING", logger="s2c.streams.connectors.mllp"):
        run(MllpListener(ingestor, port=0, policy=policy), scenario)
    assert booked_appointments(ingestor) == ["ORC-88120"]  # once: the outsider's was not read
    assert refused(ingestor, "address") == 1
    assert "MLLP connection from 127.0.0.2 refused: not in S2C_MLLP_ALLOW" in caplog.text


def test_the_allowlist_defaults_to_loopback_and_rejects_a_typo():
    assert [str(n) for n in parse_allowlist([])] == ["127.0.0.0/8", "::1/128"]
    assert [str(n) for n in parse_allowlist(["10.20.0.15", "10.30.0.0/24"])] == [
        "10.20.0.15/32",
        "10.30.0.0/24",
    ]
    with pytest.raises(ValueError, match="S2C_MLLP_ALLOW"):
        parse_allowlist(["10.20.0.300"])


def padded(raw: bytes, size: int) -> bytes:
    """`raw` with a pre-op note appended (an NTE segment) so the message is `size` bytes."""
    separator = b"\r" if b"\r" in raw else b"\n"
    body = raw.rstrip(b"\r\n") + separator + b"NTE|2||"
    note = b"Pre-op teaching: bring the medication list and the signed consent. "
    text = (note * (size // len(note) + 1))[: size - len(body)]
    assert len(body + text) == size
    return body + text


def test_an_oversized_message_gets_an_ar_naming_the_limit_and_the_connection_stays_in_frame(
    ingestor,
):
    async def scenario(connect):
        sender = await connect()
        ack = await sender.send(padded(BOOKING, 3 * LIMIT // 2))
        assert msa(ack) == ("AR", "ORS260126-0007")
        assert f"message of {3 * LIMIT // 2} bytes exceeds the {LIMIT}-byte limit" in ack
        err = hl7.parse(ack).segment("ERR")
        assert str(err(3)(1)(1)) == "207" and str(err(4)) == "E"
        assert msa(await sender.send(DISCHARGE))[0] == "AA"
        await sender.close()

    run(MllpListener(ingestor, port=0), scenario)
    assert booked_appointments(ingestor) == [] and not ingestor.publisher.dead_letters
    assert len(ingestor.publisher.events) == 1  # the discharge
    registry = ingestor.metrics.registry
    assert registry.get_sample_value("s2c_connector_mllp_oversized_messages_total") == 1


@pytest.mark.parametrize(("size", "code"), [(LIMIT, "AA"), (LIMIT + 1, "AR")])
def test_a_message_at_the_limit_is_accepted_and_one_byte_more_is_not(ingestor, size, code):
    async def scenario(connect):
        sender = await connect()
        assert msa(await sender.send(padded(BOOKING, size))) == (code, "ORS260126-0007")
        await sender.close()

    run(MllpListener(ingestor, port=0), scenario)
    assert booked_appointments(ingestor) == (["ORC-88120"] if code == "AA" else [])
