"""X12 005010 in: pyx12 reads the interchange, we split it into transaction sets and dispatch.

pyx12's `X12Reader` takes the separators from the ISA segment (ISA16 is the component
separator), checks the envelopes (ISA/IEA, GS/GE, ST/SE counts and control numbers) and reports
problems instead of raising, so one bad transaction set is rejected alone while the others in the
interchange still map. Its errors are the "validator's reason" a dead letter carries.
Each transaction set is a unit: it maps whole or is dead-lettered whole (an 835 must tie out).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyx12.errors
import pyx12.segment
import pyx12.x12file

from s2c.streams.connectors.events import Event, MappingError, Source, digest

log = logging.getLogger(__name__)
FOREIGN_SEPARATORS = (">", ":", "^", "|", "\\")


@dataclass
class Seg:
    """One segment: 1-based element access that returns '' for anything absent."""

    raw: pyx12.segment.Segment
    component_separator: str

    @property
    def id(self) -> str:
        return self.raw.get_seg_id() or ""

    def get(self, element: int, component: int | None = None) -> str:
        ref = f"{self.id}{element:02d}" + (f"-{component}" if component else "")
        return (self.raw.get_value(ref) or "").strip()

    def composite(self, element: int) -> list[str]:
        """Components of a composite element; a value that holds another separator character
        but not ISA16's means the data disagrees with the envelope, and is rejected."""
        ref = f"{self.id}{element:02d}"
        item = self.raw.get(ref)
        if item is None or item.is_empty():
            return []
        if item.is_composite():
            return [item[i].get_value() for i in range(len(item))]
        value = item.get_value()
        for foreign in FOREIGN_SEPARATORS:
            if foreign in value and foreign != self.component_separator:
                raise MappingError(
                    ref,
                    f"composite uses '{foreign}' but ISA16 declares "
                    f"'{self.component_separator}' as the component separator",
                    stage="parse",
                    code="102",
                )
        return [value]


@dataclass
class TransactionSet:
    """ST..SE with the envelope facts that identify it."""

    sender: str  # ISA06
    interchange: str  # ISA13
    group: str  # GS06
    application_sender: str  # GS02
    version: str  # GS08, e.g. 005010X222A2
    group_date: str  # GS04
    control: str  # ST02
    kind: str  # ST01
    segments: list[Seg] = field(default_factory=list)
    text: str = ""
    errors: list[str] = field(default_factory=list)
    envelope_text: str = ""  # the ISA and GS segments this set travelled in

    def standalone(self) -> str:
        """This set alone as a complete interchange (for the dead-letter topic and replay)."""
        end, sep = self.envelope_text[-1:] or "~", self.envelope_text[3:4] or "*"
        closing = f"GE{sep}1{sep}{self.group}{end}IEA{sep}1{sep}{self.interchange}{end}"
        return self.envelope_text + self.text + closing

    def source(self) -> Source:
        prefix = (
            f"x12:{self.sender}:{self.interchange}:{self.group}:{self.control}:{digest(self.text)}"
        )
        return Source(
            system=f"x12:{self.application_sender or self.sender}",
            id_prefix=prefix,
            correlation_id=f"{self.sender}:{self.interchange}:{self.group}:{self.control}",
        )

    def find(self, seg_id: str, first: str | None = None) -> Seg | None:
        for seg in self.segments:
            if seg.id == seg_id and (first is None or seg.get(1) == first):
                return seg
        return None

    def created_at(self) -> datetime:
        bht = self.find("BHT")
        day, clock = (bht.get(4), bht.get(5)) if bht else (self.group_date, "")
        return _x12_time(day or self.group_date, clock)


def _x12_time(day: str, clock: str) -> datetime:
    try:
        moment = datetime.strptime(day + (clock[:4] or "0000").ljust(4, "0"), "%Y%m%d%H%M")
    except ValueError:
        raise MappingError("BHT04", "not a CCYYMMDD date", code="102") from None
    return moment.replace(tzinfo=UTC)


def read_transactions(text: str) -> tuple[list[TransactionSet], list[str]]:
    """Every ST..SE of an interchange plus the interchange-level errors (ISA/GS problems)."""
    try:  # pyx12 reads the ISA at offset 0: line breaks in front of it would shift every separator
        reader = pyx12.x12file.X12Reader(io.StringIO(text.lstrip("\r\n")))
    except pyx12.errors.X12Error as exc:
        raise MappingError("ISA", f"pyx12: {exc}", stage="parse", code="100") from None
    sets: list[TransactionSet] = []
    envelope_errors: list[str] = []
    isa: Seg | None = None
    gs: Seg | None = None
    current: TransactionSet | None = None
    envelope_text = ""
    try:
        for raw in reader:
            seg = Seg(raw, reader.subele_term)
            formatted = raw.format(reader.seg_term, reader.ele_term, reader.subele_term)
            if seg.id == "ISA":
                isa, envelope_text = seg, formatted
            elif seg.id == "GS":
                gs = seg
                envelope_text = (
                    envelope_text.split(reader.seg_term)[0] + reader.seg_term + formatted
                )
            elif seg.id == "ST":
                current = TransactionSet(
                    sender=isa.get(6) if isa else "",
                    interchange=isa.get(13) if isa else "",
                    group=gs.get(6) if gs else "",
                    application_sender=gs.get(2) if gs else "",
                    version=gs.get(8) if gs else "",
                    group_date=gs.get(4) if gs else "",
                    control=seg.get(2),
                    kind=seg.get(1),
                    envelope_text=envelope_text,
                )
                sets.append(current)
            if current is not None:
                current.segments.append(seg)
                current.text += formatted
            messages = [
                f"{level.upper()} {code}: {text}" for level, code, text, *_ in reader.pop_errors()
            ]
            (current.errors if current is not None else envelope_errors).extend(messages)
            if seg.id == "SE":
                current = None
    except pyx12.errors.X12Error as exc:
        envelope_errors.append(f"pyx12: {exc}")
    except (IndexError, KeyError, ValueError, TypeError) as exc:  # pyx12 tripping on bad input
        envelope_errors.append(f"pyx12 could not read the interchange ({type(exc).__name__})")
    return sets, envelope_errors


def map_transaction(tx: TransactionSet, produced_at: datetime) -> list[Event]:
    from s2c.streams.connectors import x12_auth, x12_claims, x12_remit

    if tx.errors:
        raise MappingError(f"ST {tx.control}", "; ".join(tx.errors), stage="parse", code="100")
    if tx.kind == "837":
        return x12_claims.map_837(tx, produced_at)
    if tx.kind == "277":
        return x12_claims.map_277(tx, produced_at)
    if tx.kind == "835":
        return x12_remit.map_835(tx, produced_at)
    if tx.kind == "278":
        return x12_auth.map_278(tx, produced_at)
    raise MappingError("ST01", f"transaction set {tx.kind} is not mapped", code="200", reject=True)


def iter_units(text: str) -> Iterator[TransactionSet]:
    """The transaction sets of a file; interchange-level errors reject the whole file."""
    sets, envelope_errors = read_transactions(text)
    if envelope_errors:
        raise MappingError("ISA", "; ".join(envelope_errors), stage="parse", code="100")
    if not sets:
        raise MappingError("ST", "interchange holds no transaction set", stage="parse", code="100")
    yield from sets
