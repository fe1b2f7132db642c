"""SIU (scheduling) messages to Appointment* events. Field precedence is documented in README.md.

S12 new booking, S13 reschedule, S14 modification, S15 cancellation, S16 discontinuation and
S17 deletion (both end the appointment, so both become AppointmentCancelled with the trigger in
the reason: the reservations behind them must be released either way), S26 no-show.
A SIU that books a preference card is a surgical case and goes to `hl7_surgery` instead.
Free-text NTE notes never travel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from s2c.streams.connectors.events import Event, MappingError, PatientRefs, event, number
from s2c.streams.connectors.hl7v2 import Hl7Message, field_of, first_time, patient_ref, ts

TRIGGERS = ("S12", "S13", "S14", "S15", "S16", "S17", "S26")
END_REASONS = {"S15": "CANCELLED", "S16": "DISCONTINUED", "S17": "DELETED"}
UNSPECIFIED = "UNSPECIFIED"  # service line resolved downstream from the department's cost center
# AIS-8 / SCH-10 duration units (ISO+ codes and the words feeds spell out), in seconds
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("min", "m", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
MAX_MINUTES = 2**31 - 1  # duration_minutes is an Avro int


def appointment_id(msg: Hl7Message) -> str:
    value = msg.value("SCH", 2) or msg.value("SCH", 1)
    if not value:
        raise MappingError(
            "SCH-2", "filler (SCH-2) and placer (SCH-1) appointment ids are empty", code="101"
        )
    return value


def start_and_minutes(msg: Hl7Message) -> tuple[datetime, int]:
    """TQ1-7/TQ1-8 first (v2.5+), then the withdrawn SCH-11.4/11.5 timing, then AIS-4.

    Duration is end - start when an end is given, else AIS-7/AIS-8, else SCH-9/SCH-10.
    """
    if msg.value("TQ1", 7):
        start, end = ts(msg, "TQ1", 7), ts(msg, "TQ1", 8)
    elif msg.value("SCH", 11, 4):
        start, end = ts(msg, "SCH", 11, 4), ts(msg, "SCH", 11, 5)
    else:
        start, end = ts(msg, "AIS", 4), None
    if start is None:
        raise MappingError("TQ1-7", "no start time in TQ1-7, SCH-11.4 or AIS-4", code="101")
    if end is not None and end > start:
        return start, int((end - start).total_seconds() // 60)
    for seg, amount, units in (("AIS", 7, 8), ("SCH", 9, 10)):
        minutes = _minutes(msg, seg, amount, units)
        if minutes is not None:
            return start, minutes
    raise MappingError("TQ1-8", "no end time (TQ1-8) or duration (AIS-7, SCH-9)", code="101")


def _minutes(msg: Hl7Message, seg: str, amount_field: int, unit_field: int) -> int | None:
    raw = msg.value(seg, amount_field)
    if not raw:
        return None
    amount = number(raw, f"{seg}-{amount_field}", "duration")
    if amount <= 0:
        raise MappingError(f"{seg}-{amount_field}", "duration is not positive", code="102")
    minutes = round(amount * _unit_seconds(msg, seg, unit_field, amount_field) / 60)
    if not 1 <= minutes <= MAX_MINUTES:
        raise MappingError(
            f"{seg}-{amount_field}", "duration is under a minute or too long", code="102"
        )
    return minutes


def _unit_seconds(msg: Hl7Message, seg: str, unit_field: int, amount_field: int) -> int:
    """The unit the message declares, as a code (CE.1) or only as text (CE.2, e.g. `^hours`).
    Guessing minutes would plan a 3-hour case as 3 minutes, so an empty, unknown or
    self-contradicting unit (`min^hours`) is refused."""
    where = f"{seg}-{unit_field}"
    spelled = [msg.value(seg, unit_field, c).lower() for c in (1, 2)]
    declared = [word for word in spelled if word]
    if not declared:
        raise MappingError(
            where,
            f"duration {seg}-{amount_field} has no unit (minutes are not assumed)",
            code="101",
        )
    if declared[0] not in _UNIT_SECONDS:
        raise MappingError(where, f"duration unit {declared[0]} is not known", code="103")
    known = {_UNIT_SECONDS[word] for word in declared if word in _UNIT_SECONDS}
    if len(known) > 1:
        raise MappingError(
            where, f"duration unit code and text disagree ({'/'.join(declared)})", code="103"
        )
    return known.pop()


def place(msg: Hl7Message) -> tuple[str, str]:
    """(site_id, department_id): AIL-3 facility/point of care, else PV1-3."""
    for seg, field in (("AIL", 3), ("PV1", 3)):
        department = msg.value(seg, field, 1)
        site = msg.value(seg, field, 4)
        if department and site:
            return site, department
    raise MappingError(
        "AIL-3", "no location with facility and point of care (AIL-3, PV1-3)", code="101"
    )


def provider_id(msg: Hl7Message) -> str | None:
    return msg.value("AIP", 3) or msg.value("SCH", 16) or msg.value("PV1", 7) or None


def procedure_codes(msg: Hl7Message) -> list[str]:
    return [code for seg in msg.segments("AIS") if (code := field_of(seg, 3))]


def required_provider(msg: Hl7Message) -> str:
    provider = provider_id(msg)
    if provider is None:
        raise MappingError("AIP-3", "no provider in AIP-3, SCH-16 or PV1-7", code="101")
    return provider


def carries_slot(msg: Hl7Message) -> bool:
    """A start (TQ1-7, SCH-11.4, AIS-4) or a resource location (AIL-3) is in the message."""
    return any(
        msg.value(seg, field, component)
        for seg, field, component in (("TQ1", 7, 1), ("SCH", 11, 4), ("AIS", 4, 1), ("AIL", 3, 1))
    )


def rescheduled(msg: Hl7Message, make: Callable[..., Event]) -> Event:
    start, minutes = start_and_minutes(msg)
    site, department = place(msg)
    return make(
        "AppointmentRescheduled",
        scheduled_start=start,
        duration_minutes=minutes,
        site_id=site,
        department_id=department,
        provider_id=required_provider(msg),
    )


def occurred_at(msg: Hl7Message) -> datetime:
    found = first_time(msg, ("EVN", 6), ("EVN", 2), ("MSH", 7))
    if found is None:
        raise MappingError("MSH-7", "no message date/time", code="101")
    return found[0]


def map_siu(msg: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    from s2c.streams.connectors import hl7_surgery  # it builds on this module's readers

    if hl7_surgery.is_case(msg):
        return hl7_surgery.map_case(msg, refs, produced_at)
    trigger = msg.message_type[1]
    source, when, appt = msg.source(), occurred_at(msg), appointment_id(msg)

    def make(event_type: str, **fields: object) -> Event:
        return event(source, event_type, "SCH", when, produced_at, appointment_id=appt, **fields)

    if trigger == "S26":
        return [make("AppointmentNoShow")]
    if trigger in END_REASONS:
        code = msg.value("SCH", 6)
        reason = END_REASONS[trigger] + (f" ({code})" if code else "")
        return [make("AppointmentCancelled", reason=reason)]
    account = msg.value("PID", 18) or msg.value("PV1", 19) or None
    payer = msg.value("IN1", 3) or None
    if trigger == "S14":
        codes = procedure_codes(msg)
        modified = make(
            "AppointmentModified",
            provider_id=provider_id(msg),
            payer_id=payer,
            procedure_codes=codes or None,
            account_number=account,
        )
        # AppointmentModified has no time or place: an S14 that carries them (a modification
        # often moves the slot or the room too) also reschedules, after the modification so the
        # new reservations are made for the new payer and procedures.
        return [modified, rescheduled(msg, make)] if carries_slot(msg) else [modified]
    if trigger == "S13":
        return [rescheduled(msg, make)]
    start, minutes = start_and_minutes(msg)
    site, department = place(msg)
    provider = required_provider(msg)
    return [
        make(
            "AppointmentScheduled",
            patient_ref=patient_ref(msg, refs),
            account_number=account,
            site_id=site,
            department_id=department,
            provider_id=provider,
            service_line_id=msg.value("PV1", 10) or UNSPECIFIED,
            payer_id=payer,
            procedure_codes=procedure_codes(msg),
            scheduled_start=start,
            duration_minutes=minutes,
        )
    ]
