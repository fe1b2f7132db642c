"""Building blocks every connector shares: the envelope, deterministic ids, money, patient refs.

Mappers are pure: message text in, a list of canonical event dicts out (shaped exactly like the
Avro records in schemas/README.md), or a `MappingError` that names the segment/element at fault.
Event ids are derived from the message (control numbers, a digest of the unit and the locator of
the segment that produced the event), so ingesting the same file twice yields the same ids and the
pipeline drops the replay. The digest is there because real senders (and the public samples)
reuse control numbers for different messages; a control number alone would silently merge them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

Event = dict[str, Any]
CENT = Decimal("0.01")
# Event amounts are Avro decimals of precision 18, scale 2; a larger figure cannot be written.
MAX_MONEY = Decimal(10) ** 16
MAX_UNITS = 2**31 - 1  # Avro int


class MappingError(ValueError):
    """A message that parsed but cannot become canonical events.

    `location` names the segment/element (e.g. `SCH-2`, `CLP04`, `Appointment.start`);
    `stage` is `parse` (the bytes are not a well-formed message) or `map`.
    `code` is an HL7 table 0357 error code, used for the ERR segment of a NAK.
    Reasons never quote patient data: they name places and codes, not values from PID/NM1.
    """

    def __init__(
        self,
        location: str,
        reason: str,
        *,
        stage: str = "map",
        code: str = "207",
        reject: bool = False,
    ) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason
        self.stage = stage
        self.code = code
        self.reject = reject  # True: AR (unsupported), False: AE (content error)


def digest(text: str | bytes, size: int = 12) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:size]


@dataclass(frozen=True)
class Source:
    """Where a unit of input came from and what identifies it (control ids + content digest)."""

    system: str  # source_system in the envelope
    id_prefix: str  # e.g. "hl7:SCHApp:MSG00012:3f2a9c1b7d4e"
    correlation_id: str

    def event_id(self, locator: str, event_type: str) -> str:
        return f"{self.id_prefix}:{locator}:{event_type}"


def envelope(
    source: Source, event_type: str, locator: str, occurred_at: datetime, produced_at: datetime
) -> dict[str, Any]:
    return {
        "event_id": source.event_id(locator, event_type),
        "event_type": event_type,
        "occurred_at": as_utc(occurred_at),
        "source_system": source.system,
        "correlation_id": source.correlation_id,
        "produced_at": as_utc(produced_at),
    }


def event(
    source: Source,
    event_type: str,
    locator: str,
    occurred_at: datetime,
    produced_at: datetime,
    **fields: Any,
) -> Event:
    return {"envelope": envelope(source, event_type, locator, occurred_at, produced_at), **fields}


def as_utc(moment: datetime | date) -> datetime:
    """Naive timestamps are taken as UTC (the feeds here carry offsets; see README); a bare date
    (FHIR dateTime may be one) is its midnight UTC."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def number(raw: str | Decimal | float, location: str, what: str = "amount") -> Decimal:
    """A finite decimal exactly as written (a float is read through its shortest repr)."""
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise MappingError(location, f"{what} is not a number", code="102") from None
    if not value.is_finite():
        raise MappingError(location, f"{what} is not a number", code="102")
    return value


def cents(value: Decimal, location: str) -> Decimal:
    """`value` in whole cents, refused rather than rounded: 12.345 would silently move half a
    cent per line, and a sender that sends fractions of a cent means something we do not model."""
    if abs(value) >= MAX_MONEY:
        raise MappingError(location, f"amount is beyond {MAX_MONEY - CENT}", code="102")
    if value != value.quantize(CENT):
        raise MappingError(location, "amount has fractions of a cent (not rounded)", code="102")
    return value.quantize(CENT)


def money(raw: str | Decimal | float, location: str) -> Decimal:
    return cents(number(raw, location), location)


def whole_units(raw: str | Decimal | float, location: str) -> int:
    value = number(str(raw).strip() or "1", location, "quantity")
    if value != value.to_integral_value():
        raise MappingError(location, "quantity is not a whole number of units", code="102")
    if abs(value) > MAX_UNITS:
        raise MappingError(location, f"quantity is beyond {MAX_UNITS}", code="102")
    return int(value)


def ymd(raw: str, location: str) -> date:
    try:
        return datetime.strptime(raw.strip()[:8], "%Y%m%d").date()
    except ValueError:
        raise MappingError(location, "not a CCYYMMDD date", code="102") from None


def midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class PatientRefs:
    """Keyed pseudonyms for patients: HMAC-SHA256(key, authority|type|id), never the id itself.

    Without the key the token cannot be reversed by hashing every plausible MRN, which a plain
    hash of a 7-digit MRN would allow in seconds.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("patient ref key must be at least 16 bytes")
        self._key = key

    def ref(self, identifier: str, authority: str = "", id_type: str = "") -> str:
        message = f"{authority}|{id_type}|{identifier}".encode()
        return "pt-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def from_settings(cls, settings: Any) -> PatientRefs:
        """Use `settings.patient_ref_key` when the settings module has one; otherwise a random key
        kept under the data dir (0600), so local runs are stable and nothing secret is in code."""
        configured = getattr(settings, "patient_ref_key", None)
        if configured:
            value = (
                configured.get_secret_value()
                if hasattr(configured, "get_secret_value")
                else str(configured)
            )
            return cls(value.encode())
        path = Path(settings.data_dir) / "connectors" / "patient_ref.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(secrets.token_hex(32).encode())
            path.chmod(0o600)
        return cls(path.read_bytes().strip())
