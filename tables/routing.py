"""Where an event goes: its process id when the event itself says it, and its link key.

Kafka partitions by key, so the pipeline has two keyed stages and this module is their address book.

Process ids (derivable without any state):
- appointment events -> `APPT-<appointment_id>`; surgical case events -> `CASE-<case_id>`;
- authorization and encounter-started events -> the case's id when they carry `case_id`, else
  the appointment's when they carry `appointment_id` (a case wins: a surgery may be booked off a
  consult);
- a walk-in or emergency `EncounterStarted` (no appointment, no case) -> `ENC-<account ref>`,
  unless its account is already linked: then it joins that instance (`is_walk_in`, link.py);
- everything else (encounter completed, charges, claims, remittances) has no process id of its own.

Link key: the account's pseudonym (`IdKey.account_ref`, see ids.py), when the event carries an
`account_number`; the account number itself never becomes a key or an id.

One ordered path per source key. Kafka keeps the order of one key on one partition, and an
event's path to the process stage must keep it too: two events of one source key that took
different paths could overtake each other (an `AppointmentModified` with an account, sent through
the link stage, was overtaken by the appointment's later `AppointmentCancelled` sent straight to
the process stage). The path follows the source key (`keyed_by_instance`):
- events keyed by their appointment or case (`Appointment*`, `Case*`, `Authorization*` naming
  one) go straight to the PROCESS stage; when they carry an account, the LINK stage gets a
  registration copy (`Route.registers`): it records `account -> process id` and releases what
  was parked for the account, but does not forward the copy;
- events keyed by their account (encounters, charges, claims, remittances) go through the LINK
  stage, which registers the link for those that name their process (an encounter started) and
  forwards each to the linked process, or parks it until the link arrives.
An event with neither a process id nor a link key (an authorization naming no appointment or
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
    via_link: bool = False  # through the link stage (else straight to the process stage)

    @property
    def needs_link_stage(self) -> bool:
        return self.via_link

    @property
    def registers(self) -> bool:
        """Straight to its process, with a registration copy to the link stage."""
        return not self.via_link and self.link_key is not None and self.process_id is not None


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


def is_walk_in(event: Event) -> bool:
    """An `EncounterStarted` that names no appointment and no case: an ADT registration carries
    neither, so this is a walk-in only if its account is not already linked to an instance."""
    return (
        event.schema == "EncounterStarted"
        and not getattr(event, "case_id", None)
        and not getattr(event, "appointment_id", None)
    )


def link_key_of(event: Event, ids: IdKey) -> str | None:
    account: str | None = getattr(event, "account_number", None)
    return None if account is None else ids.account_ref(account)


def keyed_by_instance(event: Event) -> bool:
    """Whether the event's source key is its appointment or case (as the feeds and the generator
    key them), not its account: scheduling, surgical cases and authorizations."""
    return event.schema.startswith(("Appointment", "Case", "Authorization"))


def route(event: Event, ids: IdKey) -> Route:
    process_id, link_key = process_id_of(event, ids), link_key_of(event, ids)
    via_link = link_key is not None and (process_id is None or not keyed_by_instance(event))
    return Route(process_id, link_key, via_link)


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
