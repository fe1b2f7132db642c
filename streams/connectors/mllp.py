"""MLLP listener: python-hl7's asyncio server, one ACK per message, sent after Kafka has it.

Acknowledgment codes (original mode, HL7 table 0008):
  AA  mapped, events (or the dead letter) confirmed by Kafka;
  AE  content error (a required field missing or malformed): dead-lettered, do not resend as is;
  AR  rejected for reasons other than content (unsupported message type/version, no MSH) or
      because Kafka did not confirm the write: nothing was stored, the sender may resend.
MSA-2 echoes MSH-10, the idempotency key: a resent message yields the same event ids.
Mapping and the blocking Kafka flush run in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import hl7
from hl7.mllp import InvalidBlockError, start_hl7_server

from s2c.streams.connectors.events import MappingError
from s2c.streams.connectors.ingest import Ingestor, Outcome
from s2c.streams.connectors.publish import PublishError

log = logging.getLogger(__name__)
_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-?(\d+)?")


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
    text = raw.decode("utf-8", "replace")
    separators, escape = _DEFAULT_SEPARATORS, _DEFAULT_ESCAPE
    try:
        from s2c.streams.connectors.hl7v2 import normalize

        source = hl7.parse(normalize(text))
        control = str(source.segment("MSH")(10))
        ack = source.create_ack(code, message_id=f"ACK{control}"[:20])
        separators, escape = ack.separators, ack.esc
        rendered = str(ack).rstrip("\r")
    except (hl7.ParseException, KeyError, IndexError, ValueError, MappingError):
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        rendered = f"MSH|^~\\&|S2C|S2C|||{now}||ACK|ACK{now}|P|2.5\rMSA|{code}|"
    if error is not None:
        reason = _plain(error.reason, separators, escape)[:80]
        rendered += f"{separators[1]}{reason}\r" + error_segment(error, separators, escape)
    return (rendered + "\r").encode()


class MllpListener:
    def __init__(self, ingestor: Ingestor, host: str = "127.0.0.1", port: int = 2575) -> None:
        self.ingestor, self.host, self.port = ingestor, host, port
        self.server: asyncio.AbstractServer | None = None
        self._received = 0
        # one worker thread: messages are handled in arrival order and the counter needs no lock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp")

    async def start(self) -> int:
        self.server = await start_hl7_server(self._serve, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("MLLP listening on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self._executor.shutdown(wait=True)

    def handle(self, block: bytes) -> bytes:
        """Blocking: map, publish, flush, then build the ACK for one MLLP block."""
        index, self._received = self._received, self._received + 1
        outcome: Outcome = self.ingestor.hl7_message(block, "mllp", index)
        try:
            self.ingestor.publisher.flush()
        except PublishError as exc:
            log.error("MLLP message %d not persisted: %s", index, exc)
            failure = MappingError(
                "MSH", "could not persist the message, resend later", code="207", reject=True
            )
            return build_ack(block, "AR", failure)
        self.ingestor.metrics.acks.labels(outcome.ack_code).inc()
        return build_ack(block, outcome.ack_code, outcome.error)

    async def _serve(
        self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError:
                    break  # peer closed the connection
                except (InvalidBlockError, ValueError) as exc:
                    log.warning("MLLP framing error, closing connection: %s", exc)
                    break
                ack = await loop.run_in_executor(self._executor, self.handle, block)
                writer.writeblock(ack)
                await writer.drain()
        finally:
            writer.close()
