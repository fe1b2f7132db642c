"""Ingest one input unit: map it, publish the events, or dead-letter the original with the reason.

Nothing is dropped silently: a unit either yields events (published) or a `MappingError`
(dead-lettered with its original bytes, the place that failed and why). The returned `Outcome`
tells the caller what happened; the MLLP listener turns it into AA/AE/AR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from s2c.streams.connectors import hl7v2, x12
from s2c.streams.connectors.events import Event, MappingError, PatientRefs
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import (
    DeadLetterRecord,
    Publisher,
    business_key,
    schema_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    index: int
    events: int
    error: MappingError | None = None
    control_id: str = ""

    @property
    def ack_code(self) -> str:
        if self.error is None:
            return "AA"
        return "AR" if self.error.reject else "AE"


_UTF8_BOM = b"\xef\xbb\xbf"


def unexpected(exc: Exception, stage: str = "map") -> MappingError:
    """A failure no rule foresaw, as a rejection: the unit is dead-lettered (and NAKed with AE,
    so the sender does not resend it forever) instead of stopping the run with a traceback. The
    reason names the exception class only: its message may quote the unit's content."""
    return MappingError(
        "unit", f"internal error while mapping ({type(exc).__name__})", stage=stage, code="207"
    )


def without_bom(raw: bytes) -> bytes:
    """A file as written by editors and engines that start UTF-8 with a byte-order mark: the
    mark is not part of the first segment (ISA, MSH, or the JSON document)."""
    return raw[len(_UTF8_BOM) :] if raw.startswith(_UTF8_BOM) else raw


@dataclass
class Ingestor:
    publisher: Publisher
    metrics: ConnectorMetrics
    refs: PatientRefs
    clock: Callable[[], datetime]
    # FHIR Claims of this run by logical id -> (claim id, account): their answers may name them
    # as `Claim/<id>` only (fhir.remember_claims). Held for the run, never logged.
    fhir_claims: dict[str, tuple[str, str]] = field(default_factory=dict)

    def unit(
        self,
        fmt: str,
        source: str,
        index: int,
        original: bytes,
        mapper: Callable[[datetime], list[Event]],
        control_id: str = "",
    ) -> Outcome:
        try:
            events = mapper(self.clock())
        except MappingError as err:
            self.reject(fmt, source, index, original, err)
            return Outcome(index, 0, err, control_id)
        except Exception as exc:  # a mapper bug must not lose the unit
            err = unexpected(exc)
            log.exception("%s %s#%d: the mapper failed", fmt, source, index)
            self.reject(fmt, source, index, original, err)
            return Outcome(index, 0, err, control_id)
        for record in events:
            self.publisher.publish(schema_name(record), business_key(record), record)
            self.metrics.published(fmt, record["envelope"]["event_type"])
        log.debug("%s %s#%d: %d events", fmt, source, index, len(events))
        return Outcome(index, len(events), None, control_id)

    def reject(self, fmt: str, source: str, index: int, original: bytes, err: MappingError) -> None:
        # the reason names places and codes only; the message itself is the DLQ value
        log.warning("%s %s#%d rejected (%s): %s", fmt, source, index, err.stage, err)
        self.publisher.dead_letter(
            DeadLetterRecord(
                reason=str(err),
                source=source,
                original=original,
                index=index,
                stage=err.stage,
                exception_class=f"s2c.connectors.{fmt}.{type(err).__name__}",
                location=err.location,
            )
        )
        self.metrics.dead_lettered(fmt, err.stage, err.location)

    def hl7_message(self, raw: bytes | str, source: str, index: int) -> Outcome:
        original = raw.encode() if isinstance(raw, str) else raw
        control = ""
        try:
            message = hl7v2.parse(hl7v2.normalize(raw))
            control = message.control_id
        except MappingError as err:
            self.reject("hl7", source, index, original, err)
            return Outcome(index, 0, err)
        except Exception as exc:  # python-hl7 raising something unforeseen
            log.exception("hl7 %s#%d: parsing failed", source, index)
            error = unexpected(exc, stage="parse")
            self.reject("hl7", source, index, original, error)
            return Outcome(index, 0, error)
        return self.unit(
            "hl7",
            source,
            index,
            original,
            lambda now: hl7v2.map_message(message, self.refs, now),
            control,
        )

    def hl7_file(self, raw: bytes, source: str) -> Iterator[Outcome]:
        # split as bytes: each message is decoded in the character set its own MSH-18 declares
        for index, message in enumerate(hl7v2.split_raw(without_bom(raw))):
            yield self.hl7_message(message, source, index)

    def x12_file(self, raw: bytes, source: str) -> Iterator[Outcome]:
        try:
            units = list(x12.iter_units(without_bom(raw).decode("ascii")))
        except (MappingError, UnicodeDecodeError) as err:
            error = (
                err
                if isinstance(err, MappingError)
                else MappingError("ISA", "interchange is not ASCII", stage="parse", code="102")
            )
            self.reject("x12", source, 0, raw, error)
            yield Outcome(0, 0, error)
            return
        except Exception as exc:  # pyx12 raising something unforeseen
            log.exception("x12 %s: reading the interchange failed", source)
            error = unexpected(exc, stage="parse")
            self.reject("x12", source, 0, raw, error)
            yield Outcome(0, 0, error)
            return
        for index, tx in enumerate(units):
            yield self.unit(
                "x12",
                source,
                index,
                tx.standalone().encode(),
                lambda now, tx=tx: x12.map_transaction(tx, now),
                tx.control,
            )

    def fhir_file(self, raw: bytes, source: str) -> Iterator[Outcome]:
        from s2c.streams.connectors import fhir

        try:
            resources = fhir.split_resources(without_bom(raw))
        except MappingError as err:
            self.reject("fhir", source, 0, raw, err)
            yield Outcome(0, 0, err)
            return
        fhir.remember_claims(resources, self.fhir_claims)
        for index, unit in enumerate(resources):
            yield self.unit(
                "fhir",
                source,
                index,
                unit.original,
                lambda now, u=unit: fhir.map_unit(u, self.refs, now, self.fhir_claims),
            )
