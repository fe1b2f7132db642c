"""Where an event goes: its process id when the event itself says it, and its link key.

Kafka partitions by key, so the pipeline has two keyed stages and this module is their address book.

Process ids (derivable without any state):
- appointment events -> `APPT-<appointment_id>`; surgical case events -> `CASE-<case_id>`;
- authorization and encounter-started events -> the case's id when they carry `case_id`, else
  the appointment's when they carry `appointment_id` (a case wins: a surgery may be booked off a
  consult);
- a walk-in or emergency `EncounterStarted` (no appointment, no case) -> `ENC-<account ref>`;
- everything else (encounter completed, charges, claims, remittances) has no process id of its own.

Link key: the account's pseudonym (`IdKey.account_ref`, see ids.py), when the event carries an
`account_number`; the account number itself never becomes a key or an id. An event with a link key
goes through the LINK stage (keyed by that pseudonym) first: if it also has a process id it registers
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
from s2c.tables.ids import IdKey
from s2c.tables.outputs import WorkQueueException, stable_id
from s2c.tables.vocabulary import ExceptionKind


@dataclass(frozen=True, slots=True)
class Route:
    process_id: str | None
    link_key: str | None

    @property
    def needs_link_stage(self) -> bool:
        return self.link_key is not None


def process_id_of(event: Event, ids: IdKey | None) -> str | None:
    """The event's own process id; `ids` None gives only the ids that need no key (a walk-in's
    encounter then has none: its adapter always knows it from the message key)."""
    rule = _RULES.get(type(event))
    if rule is None:  # once per event class: the name decides, so the rule is fixed per class
        rule = _RULES[type(event)] = _rule_for(event.schema)
    return rule(event, ids)


def _rule_for(name: str) -> Callable[[Any, IdKey | None], str | None]:
    if name.startswith("Appointment"):
        return lambda e, ids: f"APPT-{e.appointment_id}"
    if name.startswith("Case"):
        return lambda e, ids: f"CASE-{e.case_id}"
    walk_in = name == "EncounterStarted"
    if name.startswith("Authorization") or walk_in:

        def case_else_appointment(e: Any, ids: IdKey | None) -> str | None:
            if e.case_id:
                return f"CASE-{e.case_id}"
            if e.appointment_id:
                return f"APPT-{e.appointment_id}"
            if walk_in and ids is not None:
                return ids.encounter_process_id(e.account_number)
            return None

        return case_else_appointment
    return lambda e, ids: None


_RULES: dict[type, Callable[[Any, IdKey | None], str | None]] = {}  # one entry per event class


def link_key_of(event: Event, ids: IdKey) -> str | None:
    account: str | None = getattr(event, "account_number", None)
    return None if account is None else ids.account_ref(account)


def route(event: Event, ids: IdKey) -> Route:
    return Route(process_id_of(event, ids), link_key_of(event, ids))


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
