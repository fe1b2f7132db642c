"""SIU (scheduling) messages to Appointment* events. Field precedence is documented in README.md.

S12 new booking, S13 reschedule, S14 modification, S15 cancellation, S16 discontinuation and
S17 deletion (both end the appointment, so both become AppointmentCancelled with the trigger in
the reason: the reservations behind them must be released either way), S26 no-show.
Free-text NTE notes never travel.
"""

from __future__ import annotations

from datetime import datetime

from s2c.streams.connectors.events import Event, MappingError, PatientRefs, event
from s2c.streams.connectors.hl7v2 import Hl7Message, field_of, first_time, patient_ref, ts

TRIGGERS = ("S12", "S13", "S14", "S15", "S16", "S17", "S26")
END_REASONS = {"S15": "CANCELLED", "S16": "DISCONTINUED", "S17": "DELETED"}
UNSPECIFIED = "UNSPECIFIED"  # service line resolved downstream from the department's cost center
# AIS-8 / SCH-10 duration units (ISO+ codes and the words feeds spell out), in minutes
_UNIT_MINUTES = {
    "min": 1.0,
    "m": 1.0,
    "mins": 1.0,
    "minute": 1.0,
    "minutes": 1.0,
    "s": 1 / 60,
    "sec": 1 / 60,
    "second": 1 / 60,
    "seconds": 1 / 60,
    "h": 60.0,
    "hr": 60.0,
    "hrs": 60.0,
    "hour": 60.0,
    "hours": 60.0,
    "d": 1440.0,
    "day": 1440.0,
    "days": 1440.0,
}


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
    unit = msg.value(seg, unit_field).lower() or "min"
    if unit not in _UNIT_MINUTES:  # guessing minutes would plan a 3-hour case as 3 minutes
        raise MappingError(f"{seg}-{unit_field}", f"duration unit {unit} is not known", code="103")
    try:
        return max(1, round(float(raw) * _UNIT_MINUTES[unit]))
    except ValueError:
        raise MappingError(
            f"{seg}-{amount_field}", "duration is not a number", code="102"
        ) from None


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


def occurred_at(msg: Hl7Message) -> datetime:
    found = first_time(msg, ("EVN", 6), ("EVN", 2), ("MSH", 7))
    if found is None:
        raise MappingError("MSH-7", "no message date/time", code="101")
    return found[0]


def map_siu(msg: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
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
        return [
            make(
                "AppointmentModified",
                provider_id=provider_id(msg),
                payer_id=payer,
                procedure_codes=codes or None,
                account_number=account,
            )
        ]
    start, minutes = start_and_minutes(msg)
    site, department = place(msg)
    provider = provider_id(msg)
    if provider is None:
        raise MappingError("AIP-3", "no provider in AIP-3, SCH-16 or PV1-7", code="101")
    if trigger == "S13":
        return [
            make(
                "AppointmentRescheduled",
                scheduled_start=start,
                duration_minutes=minutes,
                site_id=site,
                department_id=department,
                provider_id=provider,
            )
        ]
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
