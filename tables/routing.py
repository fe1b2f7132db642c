"""Where an event goes: its process id when the event itself says it, and its link key.

Kafka partitions by key, so the pipeline has two keyed stages and this module is their address book.

Process ids (derivable without any state):
- appointment events -> `APPT-<appointment_id>`; surgical case events -> `CASE-<case_id>`;
- authorization and encounter-started events -> the case's id when they carry `case_id`, else
  the appointment's when they carry `appointment_id` (a case wins: a surgery may be booked off a
  consult);
- a walk-in or emergency `EncounterStarted` (no appointment, no case) -> `ENC-<account_number>`;
- everything else (encounter completed, charges, claims, remittances) has no process id of its own.

Link key: the `account_number`, when the event carries one. An event with a link key goes through
the LINK stage (keyed by account number) first: if it also has a process id it registers
`account -> process id` there (scheduled events with an account, encounter started, an appointment
modification that sets the account) and is forwarded; otherwise the link stage forwards it to the
linked process or parks it until the link arrives. An event with a process id and no link key goes
straight to the PROCESS stage. An event with neither (an authorization naming no appointment or
case) cannot be placed: the adapter reports it as an `UNLINKED_EVENT` exception (`unroutable`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from s2c.tables.events import Event
from s2c.tables.outputs import WorkQueueException, stable_id
from s2c.tables.vocabulary import ExceptionKind


@dataclass(frozen=True, slots=True)
class Route:
    process_id: str | None
    link_key: str | None

    @property
    def needs_link_stage(self) -> bool:
        return self.link_key is not None


def process_id_of(event: Event) -> str | None:
    rule = _RULES.get(type(event))
    if rule is None:  # once per event class: the name decides, so the rule is fixed per class
        rule = _RULES[type(event)] = _rule_for(event.schema)
    return rule(event)


def _rule_for(name: str) -> Callable[[Any], str | None]:
    if name.startswith("Appointment"):
        return lambda e: f"APPT-{e.appointment_id}"
    if name.startswith("Case"):
        return lambda e: f"CASE-{e.case_id}"
    walk_in = name == "EncounterStarted"
    if name.startswith("Authorization") or walk_in:

        def case_else_appointment(e: Any) -> str | None:
            if e.case_id:
                return f"CASE-{e.case_id}"
            if e.appointment_id:
                return f"APPT-{e.appointment_id}"
            return f"ENC-{e.account_number}" if walk_in else None

        return case_else_appointment
    return lambda e: None


_RULES: dict[type, Callable[[Any], str | None]] = {}  # one entry per event class


def link_key_of(event: Event) -> str | None:
    return getattr(event, "account_number", None)


def route(event: Event) -> Route:
    return Route(process_id_of(event), link_key_of(event))


def unroutable(event: Event, now: datetime) -> WorkQueueException:
    """The exception for an event that names neither a process nor an account."""
    return WorkQueueException(
        exception_id=stable_id("unroutable", event.event_id),
        process_id=None,
        kind=ExceptionKind.UNLINKED_EVENT,
        reason=f"{event.schema} names no appointment, case or account",
        event_id=event.event_id,
        event_type=event.schema,
        raised_at=now,
    )
