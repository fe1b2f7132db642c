"""MLLP listener: one ACK per message, sent after Kafka has it; optional TLS, a peer allowlist.

Acknowledgment codes (original mode, HL7 table 0008):
  AA  mapped, events (or the dead letter) confirmed by Kafka;
  AE  content error (a required field missing or malformed): dead-lettered, do not resend as is;
  AR  rejected for reasons other than content (unsupported message type/version, no MSH) or
      because Kafka did not confirm the write: nothing was stored, the sender may resend.
MSA-2 echoes MSH-10, the idempotency key: a resent message yields the same event ids.
A message over the size limit gets an AR naming the limit (ERR-3 207) and is neither published
nor dead-lettered: it was never read whole. Mapping and the blocking Kafka flush run in a worker
thread so the event loop keeps serving. Peers and TLS: `mllp_access`; framing: `mllp_frames`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import hl7

from s2c.streams.connectors.events import MappingError
from s2c.streams.connectors.hl7v2 import CHARSETS, declared_charset, normalize
from s2c.streams.connectors.ingest import Ingestor, Outcome
from s2c.streams.connectors.mllp_access import (
    GatedProtocol,
    MllpPolicy,
    is_loopback,
    peer_address,
    start_reading,
    tls_summary,
)
from s2c.streams.connectors.mllp_frames import END, START, FramingError, MllpFramer, Oversized
from s2c.streams.connectors.publish import PublishError

log = logging.getLogger(__name__)
_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-?(\d+)?")
READ_BYTES = 65536


_DEFAULT_SEPARATORS = "\r|~^&"  # segment, field, repetition, component, subcomponent
_DEFAULT_ESCAPE = "\\"


def _plain(text: str, separators: str, escape: str) -> str:
    """Reason text with every delimiter the receiver parses by replaced, so it stays one value."""
    for char in separators[1:] + escape:
        text = text.replace(char, "/")
    return text


def error_segment(
    error: MappingError, separators: str = _DEFAULT_SEPARATORS, escape: str = _DEFAULT_ESCAPE
) -> str:
    """ERR-2 error location (segment^sequence^field), ERR-3 code from table 0357, ERR-4 E,
    written with the separators the sender declared."""
    field, component = separators[1], separators[3]
    match = _LOCATION.match(error.location)
    where = (
        component.join(
            p for p in (match.group(1), match.group(2) or "1", match.group(3) or "") if p
        )
        if match
        else ""
    )
    text = _plain(error.reason, separators, escape)[:200]
    code = component.join((error.code, text, "HL70357"))
    return field.join(("ERR", "", where, code, "E"))


def build_ack(raw: bytes, code: str, error: MappingError | None) -> bytes:
    """The ACK, in the character set the message declared in MSH-18 (and declaring it again),
    so a sender reading 8859/1 does not meet UTF-8 bytes in the reason."""
    charset, codec = declared_charset(raw), "utf-8"
    if CHARSETS.get(charset.upper()):
        codec = CHARSETS[charset.upper()]
    text = raw.decode(codec, "replace")
    separators, escape = _DEFAULT_SEPARATORS, _DEFAULT_ESCAPE
    try:
        source = hl7.parse(normalize(text))
        control = str(source.segment("MSH")(10))
        ack = source.create_ack(code, message_id=f"ACK{control}"[:20])
        if codec != "utf-8" or charset:
            ack.segment("MSH").assign_field(charset, 18)
        separators, escape = ack.separators, ack.esc
        rendered = str(ack).rstrip("\r")
    except (hl7.ParseException, KeyError, IndexError, ValueError, AssertionError, MappingError):
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        rendered = f"MSH|^~\\&|S2C|S2C|||{now}||ACK|ACK{now}|P|2.5\rMSA|{code}|"
    if error is not None:
        reason = _plain(error.reason, separators, escape)[:80]
        rendered += f"{separators[1]}{reason}\r" + error_segment(error, separators, escape)
    return (rendered + "\r").encode(codec, "replace")


class MllpListener:
    def __init__(
        self,
        ingestor: Ingestor,
        host: str = "127.0.0.1",
        port: int = 2575,
        policy: MllpPolicy | None = None,
    ) -> None:
        self.ingestor, self.host, self.port = ingestor, host, port
        self.policy = policy or MllpPolicy()
        self.server: asyncio.AbstractServer | None = None
        self._received = 0
        # one worker thread: messages are handled in arrival order and the counter needs no lock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp")

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("MLLP listening on %s:%d (%s)", self.host, self.port, self.policy.describe())
        if not is_loopback(self.host) and all(n.is_loopback for n in self.policy.allow):
            log.warning(
                "MLLP listens on %s but accepts loopback peers only: set S2C_MLLP_ALLOW to the "
                "addresses of the interface engines that send to it",
                self.host,
            )
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self._executor.shutdown(wait=True)

    def handle(self, block: bytes) -> bytes:
        """Blocking: map, publish, flush, then build the ACK for one MLLP block."""
        index, self._received = self._received, self._received + 1
        try:
            outcome: Outcome = self.ingestor.hl7_message(block, "mllp", index)
        except PublishError as exc:  # the dead letter itself could not be handed to Kafka
            log.error("MLLP message %d not persisted: %s", index, exc)
            failure = MappingError(
                "MSH", "could not persist the message, resend later", code="207", reject=True
            )
            self.ingestor.metrics.acks.labels("AR").inc()
            return build_ack(block, "AR", failure)
        try:
            self.ingestor.publisher.flush()
        except PublishError as exc:
            log.error("MLLP message %d not persisted: %s", index, exc)
            failure = MappingError(
                "MSH", "could not persist the message, resend later", code="207", reject=True
            )
            self.ingestor.metrics.acks.labels("AR").inc()
            return build_ack(block, "AR", failure)
        self.ingestor.metrics.acks.labels(outcome.ack_code).inc()
        return build_ack(block, outcome.ack_code, outcome.error)

    def refuse_oversized(self, message: Oversized, peer: object) -> bytes:
        """AR for a message over the limit; table 0357 has no code for a message's size (104
        is a field's length, which ERR-2 would have to locate), so 207 with the reason."""
        reason = f"message of {message.size} bytes exceeds the {self.policy.max_bytes}-byte limit"
        log.warning("MLLP message from %s refused, nothing stored: %s", peer, reason)
        self.ingestor.metrics.mllp_oversized.inc()
        self.ingestor.metrics.acks.labels("AR").inc()
        error = MappingError("", reason, stage="parse", code="207", reject=True)
        return build_ack(message.head, "AR", error)

    def _protocol(self) -> GatedProtocol:
        return GatedProtocol(self.policy.allow, self._refuse_peer, self._serve)

    def _refuse_peer(self, peer: object) -> None:
        log.warning("MLLP connection from %s refused: not in S2C_MLLP_ALLOW", peer)
        self.ingestor.metrics.mllp_refused.labels("address").inc()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = peer_address(writer.get_extra_info("peername"))
        try:
            try:
                await start_reading(writer, self.policy.tls)
            except OSError as exc:  # ssl.SSLError, a reset, the handshake timeout
                log.warning("MLLP TLS handshake with %s failed: %s", peer, exc)
                self.ingestor.metrics.mllp_refused.labels("tls").inc()
                return
            log.info("MLLP connection from %s%s", peer, tls_summary(writer))
            await self._session(reader, writer, peer)
        finally:
            writer.close()

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        loop = asyncio.get_running_loop()
        framer = MllpFramer(self.policy.max_bytes)
        while True:
            try:
                data = await reader.read(READ_BYTES)
            except OSError as exc:  # reset by the peer, a TLS alert
                log.info("MLLP connection from %s ended: %s", peer, exc)
                return
            if not data:
                return  # peer closed the connection
            try:
                for frame in framer.feed(data):
                    if isinstance(frame, Oversized):
                        ack = self.refuse_oversized(frame, peer)
                    else:
                        ack = await loop.run_in_executor(self._executor, self.handle, frame.message)
                    writer.write(START + ack + END)
                    await writer.drain()
            except FramingError as exc:
                log.warning("MLLP framing error from %s, closing the connection: %s", peer, exc)
                return
            except ConnectionError as exc:  # the peer left before its ACK was written
                log.info("MLLP connection from %s ended before an ACK went out: %s", peer, exc)
                return
