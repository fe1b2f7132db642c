"""Canonical business events (`s2c.events`), one frozen dataclass per record in `schemas/README.md`.

Field names are the catalogue's, in its order, with `envelope` first. Build an event with
`event_from_record(schema_name, record)`: the record may come from fastavro (datetime, date,
Decimal) or from a JSON Lines line (ISO strings, decimal strings); both give the same event.
Revenue-cycle events (charges, claims, remittances) live in `events_revenue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from s2c.tables.codec import decode


@dataclass(frozen=True, slots=True)
class Envelope:
    event_id: str
    event_type: str
    occurred_at: datetime
    source_system: str
    correlation_id: str
    produced_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every canonical event; subclasses add the business keys after the envelope."""

    envelope: Envelope

    @property
    def event_id(self) -> str:
        return self.envelope.event_id

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def schema(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class AppointmentScheduled(Event):
    appointment_id: str
    patient_ref: str
    account_number: str | None
    site_id: str
    department_id: str
    provider_id: str
    service_line_id: str
    payer_id: str | None
    procedure_codes: tuple[str, ...]
    scheduled_start: datetime
    duration_minutes: int


@dataclass(frozen=True, slots=True)
class AppointmentRescheduled(Event):
    appointment_id: str
    scheduled_start: datetime
    duration_minutes: int
    site_id: str
    department_id: str
    provider_id: str


@dataclass(frozen=True, slots=True)
class AppointmentModified(Event):
    appointment_id: str
    provider_id: str | None = None
    payer_id: str | None = None
    procedure_codes: tuple[str, ...] | None = None
    account_number: str | None = None


@dataclass(frozen=True, slots=True)
class AppointmentCancelled(Event):
    appointment_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AppointmentNoShow(Event):
    appointment_id: str


@dataclass(frozen=True, slots=True)
class CaseScheduled(Event):
    case_id: str
    patient_ref: str
    account_number: str | None
    site_id: str
    or_room_id: str
    surgeon_id: str
    service_line_id: str
    payer_id: str | None
    procedure_codes: tuple[str, ...]
    preference_card_id: str
    scheduled_start: datetime
    planned_minutes: int


@dataclass(frozen=True, slots=True)
class CaseRescheduled(Event):
    case_id: str
    scheduled_start: datetime
    planned_minutes: int
    site_id: str
    or_room_id: str


@dataclass(frozen=True, slots=True)
class CaseCancelled(Event):
    case_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class SupplyUsage:
    item_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class CaseCompleted(Event):
    case_id: str
    actual_minutes: int
    supplies_used: tuple[SupplyUsage, ...]


@dataclass(frozen=True, slots=True)
class AuthorizationRequested(Event):
    authorization_id: str
    appointment_id: str | None
    case_id: str | None
    payer_id: str
    procedure_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthorizationApproved(Event):
    authorization_id: str
    appointment_id: str | None
    case_id: str | None
    payer_id: str
    auth_number: str
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationDenied(Event):
    authorization_id: str
    appointment_id: str | None
    case_id: str | None
    payer_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class EncounterStarted(Event):
    encounter_id: str
    account_number: str
    patient_ref: str
    appointment_id: str | None
    case_id: str | None
    site_id: str
    department_id: str
    service_line_id: str
    payer_id: str | None
    encounter_class: str
    arrived_at: datetime


@dataclass(frozen=True, slots=True)
class EncounterCompleted(Event):
    encounter_id: str
    account_number: str
    discharged_at: datetime


EVENT_TYPES: dict[str, type[Event]] = {}


def register(*classes: type[Event]) -> None:
    for cls in classes:
        EVENT_TYPES[cls.__name__] = cls


register(
    AppointmentScheduled,
    AppointmentRescheduled,
    AppointmentModified,
    AppointmentCancelled,
    AppointmentNoShow,
    CaseScheduled,
    CaseRescheduled,
    CaseCancelled,
    CaseCompleted,
    AuthorizationRequested,
    AuthorizationApproved,
    AuthorizationDenied,
    EncounterStarted,
    EncounterCompleted,
)


def money_of(event: Event) -> Decimal | None:
    """The amount an event moves, for work items about it (None for non-monetary events)."""
    for name in ("amount", "paid_amount", "denied_amount", "total_charge"):
        value: Decimal | None = getattr(event, name, None)
        if value is not None:
            return value
    return None


def event_from_record(schema: str, record: dict[str, Any]) -> Event:
    """Decode one event from its record name and its native or JSON record."""
    try:
        cls = EVENT_TYPES[schema]
    except KeyError:
        raise ValueError(f"unknown event schema {schema!r}") from None
    return decode(cls, record)


# Registers the revenue-cycle events; at the bottom because that module imports this one.
import s2c.tables.events_revenue  # noqa: F401
