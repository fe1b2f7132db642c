"""HL7 v2 in: normalise, split and parse with python-hl7, then dispatch to the mappers by MSH-9.

python-hl7 does the parsing (it keeps every field and round-trips losslessly); this module only
makes the text safe to hand to it. The trap it guards against: a message whose segments end in
`\\n` parses without error as ONE segment, so every field after MSH would silently read as empty.
`normalize` turns CRLF and LF into CR before parsing, for files and for MLLP blocks alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import hl7

from s2c.streams.connectors.events import Event, MappingError, PatientRefs, Source, as_utc, digest

log = logging.getLogger(__name__)

MLLP_FRAMING = "\x0b\x1c"
SUPPORTED_VERSIONS = ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9")


# MSH-18 (HL7 table 0211) to Python codecs. Only encodings in which the MSH itself reads as
# ASCII are listed: MSH-18 has to be read before the message can be decoded. UCS-2, UTF-16,
# UTF-32 and CNS 11643 are refused by name rather than read as something else.
CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "UNICODE UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    **{f"8859/{n}": f"iso8859-{n}" for n in range(1, 10)},
    "8859/15": "iso8859-15",
    "ISO IR100": "iso8859-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR144": "iso8859-5",
    "ISO IR127": "iso8859-6",
    "ISO IR126": "iso8859-7",
    "ISO IR138": "iso8859-8",
    "ISO IR148": "iso8859-9",
    "ISO IR14": "iso2022_jp",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_1",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
}
DEFAULT_CHARSET = "utf-8"  # MSH-18 empty: ASCII per HL7, read as its superset UTF-8


def declared_charset(raw: bytes) -> str:
    """MSH-18 (its first repetition) read from the bytes of the MSH segment, '' when empty."""
    head = raw.lstrip(MLLP_FRAMING.encode() + b"\r\n\t ")
    if not head.startswith(b"MSH") or len(head) < 8:
        return ""
    msh = re.split(b"[\r\n]", head, maxsplit=1)[0].decode("latin-1")
    fields = msh.split(msh[3])
    value = fields[17] if len(fields) > 17 else ""
    repetition = msh[5] if len(msh) > 5 else ""  # MSH-2's second character
    if repetition and not repetition.isalnum() and not repetition.isspace():
        value = value.split(repetition)[0]
    return value.strip()


def decode(raw: bytes) -> str:
    """The message text in the character set its MSH-18 declares (UTF-8 when it declares none)."""
    declared = declared_charset(raw)
    codec = CHARSETS.get(declared.upper()) if declared else DEFAULT_CHARSET
    if codec is None:
        raise MappingError(
            "MSH-18",
            f"character set {declared} is not supported (HL7 table 0211, ASCII-based sets)",
            stage="parse",
            code="103",
        )
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise MappingError(
            "MSH-18",
            f"message is not valid {declared or 'UTF-8 (MSH-18 empty)'} at byte {exc.start}",
            stage="parse",
            code="102",
        ) from None


def normalize(raw: bytes | str) -> str:
    """Decode (MSH-18), drop MLLP framing bytes and make CR the only segment terminator."""
    text = decode(raw) if isinstance(raw, bytes) else raw
    text = text.strip(MLLP_FRAMING + "\r\n\t ")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(seg for seg in text.split("\r") if seg.strip())


def split_raw(raw: bytes) -> list[bytes]:
    """A file's messages as bytes, one per MSH (FHS/BHS batch wrappers dropped), each still in
    its own character set: a file may mix messages that declare different MSH-18 values."""
    messages: list[list[bytes]] = []
    for segment in re.split(b"\r\n|\r|\n", raw.strip(MLLP_FRAMING.encode() + b"\r\n\t ")):
        if not segment.strip() or segment.startswith((b"FHS", b"BHS", b"BTS", b"FTS")):
            continue
        if segment.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [b"\r".join(segments) for segments in messages] or [b""]


def split_messages(raw: bytes | str) -> list[str]:
    """A file may hold many messages (and FHS/BHS batch wrappers): one string per MSH."""
    if isinstance(raw, bytes):
        return [normalize(message) for message in split_raw(raw)]
    messages: list[list[str]] = []
    for segment in normalize(raw).split("\r"):
        if segment.startswith(("FHS", "BHS", "BTS", "FTS")):
            continue
        if segment.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return ["\r".join(segments) for segments in messages]


@dataclass
class Hl7Message:
    """A parsed message plus 1-based field access that returns '' for anything absent."""

    parsed: hl7.Message
    text: str

    def segments(self, segment_id: str) -> list[hl7.Segment]:
        return [seg for seg in self.parsed if str(seg[0][0]) == segment_id]

    def has(self, segment_id: str) -> bool:
        return bool(self.segments(segment_id))

    def value(
        self, segment_id: str, field: int, component: int = 1, sub: int = 1, repeat: int = 1
    ) -> str:
        found = self.segments(segment_id)
        return field_of(found[0], field, component, sub, repeat) if found else ""

    @property
    def control_id(self) -> str:
        return self.value("MSH", 10)

    @property
    def message_type(self) -> tuple[str, str]:
        return self.value("MSH", 9, 1), self.value("MSH", 9, 2)

    def source(self) -> Source:
        app = self.value("MSH", 3) or "unknown-app"
        facility = self.value("MSH", 4)
        system = f"hl7v2:{app}" + (f"@{facility}" if facility else "")
        prefix = f"hl7:{app}:{self.control_id}:{digest(self.text)}"
        return Source(system=system, id_prefix=prefix, correlation_id=self.control_id)


def field_of(
    segment: hl7.Segment, field: int, component: int = 1, sub: int = 1, repeat: int = 1
) -> str:
    try:
        value = segment.extract_field(1, field, repeat, component, sub)
    except IndexError:  # python-hl7 raises for a repetition/component that is not there
        return ""
    return str(value).strip() if value is not None else ""


def parse(text: str) -> Hl7Message:
    """Parse one normalised message; structural problems become `MappingError(stage='parse')`."""
    if not text.startswith("MSH"):
        raise MappingError(
            "MSH",
            "message does not start with an MSH segment",
            stage="parse",
            code="100",
            reject=True,
        )
    try:
        parsed = hl7.parse(text)
    except (hl7.ParseException, ValueError, IndexError) as exc:
        raise MappingError(
            "MSH", f"python-hl7 could not parse: {exc}", stage="parse", code="100"
        ) from None
    except AssertionError:  # python-hl7's parse plan, on encoding characters it cannot use
        raise MappingError(
            "MSH-2", "encoding characters are not usable separators", stage="parse", code="100"
        ) from None
    message = Hl7Message(parsed, text)
    if len(parsed) < 2:
        raise MappingError(
            "MSH",
            "message has a single segment (check segment terminators)",
            stage="parse",
            code="100",
        )
    if not message.control_id:
        raise MappingError("MSH-10", "message control id is empty", stage="parse", code="101")
    version = message.value("MSH", 12)
    if not version.startswith(SUPPORTED_VERSIONS):
        raise MappingError(
            "MSH-12",
            f"HL7 version {version or '(empty)'} is not supported",
            code="203",
            reject=True,
        )
    return message


_DTM = re.compile(
    r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,4})?)?)?)?)?)?(?P<offset>[+-]\d{4})?$"
)
MAX_OFFSET_HOURS = 14  # UTC-12:00 .. UTC+14:00 are the offsets in use


def parse_dtm(raw: str, location: str) -> datetime:
    """An HL7 DTM as a UTC datetime. The format is checked first: python-hl7's parser reads
    `2021-09-24` as 1 January 2021 without complaint, and raises a bare ValueError for a month
    13 or an offset of +9999; both become a rejection naming the field."""
    match = _DTM.match(raw)
    if not match:
        raise MappingError(location, "not an HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])", code="102")
    offset = match.group("offset")
    if offset and (int(offset[1:3]) > MAX_OFFSET_HOURS or int(offset[3:]) > 59):
        raise MappingError(location, f"time zone offset {offset} is not a real offset", code="102")
    try:
        return as_utc(hl7.parse_datetime(raw))
    except (ValueError, OverflowError):
        raise MappingError(
            location, "not a calendar date/time (month, day or hour out of range)", code="102"
        ) from None


def ts(message: Hl7Message, segment_id: str, field: int, component: int = 1) -> datetime | None:
    """An HL7 DTM/TS field as a UTC datetime, None when the field is empty."""
    raw = message.value(segment_id, field, component)
    suffix = f".{component}" if component > 1 else ""
    return parse_dtm(raw, f"{segment_id}-{field}{suffix}") if raw else None


def first_time(message: Hl7Message, *places: tuple[str, int]) -> tuple[datetime, str] | None:
    for segment_id, field in places:
        moment = ts(message, segment_id, field)
        if moment is not None:
            return moment, f"{segment_id}-{field}"
    return None


def patient_ref(message: Hl7Message, refs: PatientRefs) -> str:
    """PID-3, preferring the repetition typed MR; keyed hash of authority + type + id."""
    pids = message.segments("PID")
    if not pids:
        raise MappingError("PID", "PID segment missing", code="100")
    pid = pids[0]
    chosen = None
    for rep in range(1, 11):  # CX repetitions; stop at the first empty one
        if not field_of(pid, 3, 1, 1, rep):
            break
        if field_of(pid, 3, 5, 1, rep) == "MR":
            chosen = rep
            break
    if chosen is None and field_of(pid, 3, 1):
        chosen = 1
    if chosen is None:
        raise MappingError("PID-3", "patient identifier list is empty", code="101")
    return refs.ref(
        field_of(pid, 3, 1, 1, chosen),
        field_of(pid, 3, 4, 1, chosen),
        field_of(pid, 3, 5, 1, chosen),
    )


Mapper = Callable[[Hl7Message, PatientRefs, datetime], list[Event]]


def mappers() -> dict[tuple[str, str], Mapper]:
    from s2c.streams.connectors import hl7_scheduling, hl7_visits

    table: dict[tuple[str, str], Mapper] = {}
    for trigger in hl7_scheduling.TRIGGERS:
        table[("SIU", trigger)] = hl7_scheduling.map_siu
    table[("ADT", "A04")] = hl7_visits.map_adt
    table[("ADT", "A03")] = hl7_visits.map_adt
    table[("DFT", "P03")] = hl7_visits.map_dft
    table[("DFT", "P11")] = hl7_visits.map_dft
    return table


def map_message(message: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    kind, trigger = message.message_type
    table = mappers()
    mapper = table.get((kind, trigger))
    if mapper is None:
        known_kind = any(k == kind for k, _ in table)
        raise MappingError(
            "MSH-9",
            f"message type {kind}^{trigger} is not mapped",
            code="201" if known_kind else "200",
            reject=True,
        )
    return mapper(message, refs, produced_at)


def map_text(raw: bytes | str, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    """One message's text to canonical events (the pure entry point tests and MLLP use)."""
    return map_message(parse(normalize(raw)), refs, produced_at)


def iter_file(raw: bytes | str) -> Iterator[str]:
    yield from split_messages(raw)
