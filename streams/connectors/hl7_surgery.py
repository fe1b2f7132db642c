"""SIU messages from the OR scheduling feed to Case* events (surgical cases, not appointments).

A booking is a surgical case when it books a preference card: an AIG general resource whose
AIG-4 resource type is `PREFCARD`. The card is what a case has and a clinic visit has not, and
the core cannot plan a case (supplies, labor, room) without it. The OR room is the AIL whose
AIL-4 location type is `OR`; the surgeon is the AIP whose AIP-4 role is `SURG`.

S12 books the case, S13 moves it, S14 moves it when it carries a slot, S15/S16/S17 end it and
S26 (the patient did not come) cancels it: each releases the case plan. CaseRescheduled has no
field for procedures or a surgeon, so an S14 that adds or deletes a procedure (AIS-2 `A`/`D`) or
the primary surgeon is rejected naming that segment rather than applied in part.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import hl7

from s2c.streams.connectors.events import Event, MappingError, PatientRefs, event
from s2c.streams.connectors.hl7_scheduling import (
    END_REASONS,
    UNSPECIFIED,
    appointment_id,
    occurred_at,
    start_and_minutes,
)
from s2c.streams.connectors.hl7v2 import Hl7Message, field_of, patient_ref

PREFERENCE_CARD = "PREFCARD"  # AIG-4.1 of the resource that names the case's preference card
OPERATING_ROOM = "OR"  # AIL-4.1 of the operating room
PRIMARY_SURGEON = "SURG"  # AIP-4.1 of the primary surgeon
CHANGES = ("A", "D")  # AIS-2 / AIP-2 segment action codes that add or delete a resource


def _numbered(msg: Hl7Message, segment_id: str) -> list[tuple[str, hl7.Segment]]:
    """Each segment with its place in the message (`AIG[2]`), for locations in rejections."""
    return [(f"{segment_id}[{n}]", seg) for n, seg in enumerate(msg.segments(segment_id), 1)]


def preference_cards(msg: Hl7Message) -> list[tuple[str, hl7.Segment]]:
    return [
        (where, seg)
        for where, seg in _numbered(msg, "AIG")
        if field_of(seg, 4).upper() == PREFERENCE_CARD
    ]


def is_case(msg: Hl7Message) -> bool:
    return bool(preference_cards(msg))


def preference_card_id(msg: Hl7Message) -> str:
    where, seg = preference_cards(msg)[0]
    card = field_of(seg, 3)
    if not card:
        raise MappingError(f"{where}-3", "preference card AIG has no resource id", code="101")
    return card


def operating_room(msg: Hl7Message) -> tuple[str, str]:
    """(site_id, or_room_id) from the AIL typed `OR`: AIL-3.4 facility and AIL-3.2 room."""
    rooms = [
        (where, seg)
        for where, seg in _numbered(msg, "AIL")
        if field_of(seg, 4).upper() == OPERATING_ROOM
    ]
    if not rooms:
        raise MappingError(
            "AIL-4", f"no AIL with location type {OPERATING_ROOM} (operating room)", code="101"
        )
    where, seg = rooms[0]
    site, room = field_of(seg, 3, 4), field_of(seg, 3, 2)
    if not site or not room:
        raise MappingError(
            f"{where}-3",
            "operating room needs a room (AIL-3.2) and a facility (AIL-3.4)",
            code="101",
        )
    return site, room


def surgeon_id(msg: Hl7Message) -> str:
    """AIP-3.1 of the primary surgeon (AIP-4 `SURG`); a case without one is not bookable."""
    for _, seg in _numbered(msg, "AIP"):
        if field_of(seg, 4).upper() == PRIMARY_SURGEON and field_of(seg, 3):
            return field_of(seg, 3)
    raise MappingError(
        "AIP-3", f"no primary surgeon (AIP with role {PRIMARY_SURGEON} and an id)", code="101"
    )


def procedure_codes(msg: Hl7Message) -> list[str]:
    """AIS-3.1 of every AIS that is not being deleted, primary first."""
    codes = []
    for where, seg in _numbered(msg, "AIS"):
        if field_of(seg, 2).upper() == "D":
            continue
        code = field_of(seg, 3)
        if not code:
            raise MappingError(f"{where}-3", "procedure code is empty", code="101")
        codes.append(code)
    if not codes:
        raise MappingError("AIS-3", "a surgical case books no procedure (AIS)", code="101")
    return codes


def unchanged_plan(msg: Hl7Message) -> None:
    """An S14 may only move the case: a procedure or primary surgeon added or deleted has no
    canonical case event, and applying the move alone would plan the old procedures."""
    for where, seg in _numbered(msg, "AIS"):
        if field_of(seg, 2).upper() in CHANGES:
            raise MappingError(
                f"{where}-2",
                "S14 adds or deletes a procedure of a surgical case; no canonical case event "
                "carries changed procedures (cancel and rebook the case)",
                code="207",
            )
    for where, seg in _numbered(msg, "AIP"):
        if field_of(seg, 2).upper() in CHANGES and field_of(seg, 4).upper() == PRIMARY_SURGEON:
            raise MappingError(
                f"{where}-2",
                "S14 changes the primary surgeon of a surgical case; no canonical case event "
                "carries a new surgeon (cancel and rebook the case)",
                code="207",
            )


def map_case(msg: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    trigger = msg.message_type[1]
    source, when, case = msg.source(), occurred_at(msg), appointment_id(msg)

    def make(event_type: str, **fields: object) -> Event:
        return event(source, event_type, "SCH", when, produced_at, case_id=case, **fields)

    if trigger in END_REASONS or trigger == "S26":
        code = msg.value("SCH", 6)
        reason = END_REASONS.get(trigger, "NO_SHOW") + (f" ({code})" if code else "")
        return [make("CaseCancelled", reason=reason)]
    if trigger in ("S13", "S14"):
        if trigger == "S14":
            unchanged_plan(msg)
        return [_rescheduled(msg, make)]
    start, minutes = start_and_minutes(msg)
    site, room = operating_room(msg)
    return [
        make(
            "CaseScheduled",
            patient_ref=patient_ref(msg, refs),
            account_number=msg.value("PID", 18) or msg.value("PV1", 19) or None,
            site_id=site,
            or_room_id=room,
            surgeon_id=surgeon_id(msg),
            service_line_id=msg.value("PV1", 10) or UNSPECIFIED,
            payer_id=msg.value("IN1", 3) or None,
            procedure_codes=procedure_codes(msg),
            preference_card_id=preference_card_id(msg),
            scheduled_start=start,
            planned_minutes=minutes,
        )
    ]


def _rescheduled(msg: Hl7Message, make: Callable[..., Event]) -> Event:
    start, minutes = start_and_minutes(msg)
    site, room = operating_room(msg)
    return make(
        "CaseRescheduled",
        scheduled_start=start,
        planned_minutes=minutes,
        site_id=site,
        or_room_id=room,
    )
