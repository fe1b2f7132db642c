"""ADT A04/A03 to Encounter* events and DFT P03/P11 FT1 lines to Charge* events.

The visit number (PV1-19) is the encounter id; the patient account (PID-18, else PV1-19) is the
account number that later becomes CLM01 on the claim. Business time is the visit's own time
(PV1-44 arrival, PV1-45 discharge, FT1-5 posting) before EVN/MSH times.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import hl7

from s2c.streams.connectors.events import (
    Event,
    MappingError,
    PatientRefs,
    cents,
    event,
    money,
    number,
    whole_units,
    ymd,
)
from s2c.streams.connectors.hl7_scheduling import UNSPECIFIED
from s2c.streams.connectors.hl7v2 import (
    Hl7Message,
    field_of,
    first_time,
    parse_dtm,
    patient_ref,
)

# PV1-2 patient class (HL7 table 0004) to the canonical encounter_class
PATIENT_CLASS = {
    "E": "EMERGENCY",
    "I": "INPATIENT",
    "O": "OUTPATIENT",
    "P": "OUTPATIENT",
    "R": "OUTPATIENT",
    "B": "OUTPATIENT",
}
SURGICAL_SERVICES = {"SUR"}  # PV1-10 hospital service (table 0069) that marks a surgical visit


def account_number(msg: Hl7Message) -> str:
    value = msg.value("PID", 18) or msg.value("PV1", 19)
    if not value:
        raise MappingError("PID-18", "no patient account number in PID-18 or PV1-19", code="101")
    return value


def encounter_id(msg: Hl7Message) -> str:
    value = msg.value("PV1", 19)
    if not value:
        raise MappingError("PV1-19", "visit number is empty", code="101")
    return value


def encounter_class(msg: Hl7Message) -> str:
    code = msg.value("PV1", 2)
    if code not in PATIENT_CLASS:
        raise MappingError("PV1-2", f"patient class {code or '(empty)'} is not mapped", code="103")
    mapped = PATIENT_CLASS[code]
    if mapped == "OUTPATIENT" and msg.value("PV1", 10) in SURGICAL_SERVICES:
        return "SURGERY"
    return mapped


def map_adt(msg: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    source, trigger = msg.source(), msg.message_type[1]
    if trigger == "A03":
        found = first_time(msg, ("PV1", 45), ("EVN", 6), ("EVN", 2))
        if found is None:
            raise MappingError("PV1-45", "no discharge time in PV1-45, EVN-6 or EVN-2", code="101")
        return [
            event(
                source,
                "EncounterCompleted",
                "PV1",
                found[0],
                produced_at,
                encounter_id=encounter_id(msg),
                account_number=account_number(msg),
                discharged_at=found[0],
            )
        ]
    found = first_time(msg, ("PV1", 44), ("EVN", 6), ("EVN", 2))
    if found is None:
        raise MappingError("PV1-44", "no arrival time in PV1-44, EVN-6 or EVN-2", code="101")
    site, department = msg.value("PV1", 3, 4), msg.value("PV1", 3, 1)
    if not site or not department:
        raise MappingError("PV1-3", "assigned location lacks facility or point of care", code="101")
    return [
        event(
            source,
            "EncounterStarted",
            "PV1",
            found[0],
            produced_at,
            encounter_id=encounter_id(msg),
            account_number=account_number(msg),
            patient_ref=patient_ref(msg, refs),
            appointment_id=None,
            case_id=None,
            site_id=site,
            department_id=department,
            service_line_id=msg.value("PV1", 10) or UNSPECIFIED,
            payer_id=msg.value("IN1", 3) or None,
            encounter_class=encounter_class(msg),
            arrived_at=found[0],
        )
    ]


def map_dft(msg: Hl7Message, refs: PatientRefs, produced_at: datetime) -> list[Event]:
    source, account = msg.source(), account_number(msg)
    fallback = first_time(msg, ("EVN", 6), ("EVN", 2), ("MSH", 7))
    lines = msg.segments("FT1")
    if not lines:
        raise MappingError("FT1", "DFT without FT1 segments", code="100")
    events = []
    for index, ft1 in enumerate(lines, start=1):
        where = f"FT1[{index}]"
        # Without FT1-2 the id is the FT1's position in the message, not its set id (FT1-1):
        # senders repeat set ids, and two charges with one id would refuse the second.
        own_id = f"{msg.control_id}-FT1-{index}"
        charge_id = field_of(ft1, 2) or own_id
        amount = _amount(ft1, where)
        posted = _posting_time(ft1, where) or (fallback[0] if fallback else None)
        if posted is None:
            raise MappingError(f"{where}-5", "no posting date (FT1-5, EVN-2, MSH-7)", code="101")
        kind = field_of(ft1, 6)
        locator = f"FT1-{index}"
        if kind == "CG":
            department = field_of(ft1, 13) or msg.value("PV1", 3)
            procedure = field_of(ft1, 25) or field_of(ft1, 7)
            if not department:
                raise MappingError(f"{where}-13", "no department (FT1-13, PV1-3)", code="101")
            if not procedure:
                raise MappingError(f"{where}-25", "no procedure code (FT1-25, FT1-7)", code="101")
            service_raw = field_of(ft1, 4) or field_of(ft1, 5)
            if not service_raw:
                raise MappingError(f"{where}-4", "no transaction date", code="101")
            events.append(
                event(
                    source,
                    "ChargePosted",
                    locator,
                    posted,
                    produced_at,
                    charge_id=charge_id,
                    account_number=account,
                    procedure_code=procedure,
                    units=whole_units(field_of(ft1, 10) or "1", f"{where}-10"),
                    amount=amount,
                    service_date=ymd(service_raw, f"{where}-4"),
                    department_id=department,
                )
            )
        elif kind == "CD":
            reverses = field_of(ft1, 31) or field_of(ft1, 2)
            if not reverses:
                raise MappingError(
                    f"{where}-31", "credit does not name the charge it reverses", code="101"
                )
            events.append(
                event(
                    source,
                    "ChargeReversed",
                    locator,
                    posted,
                    produced_at,
                    charge_id=own_id,
                    account_number=account,
                    reverses_charge_id=reverses,
                    amount=abs(amount),
                )
            )
        else:
            raise MappingError(
                f"{where}-6",
                f"transaction type {kind or '(empty)'} is not a charge (CG) or credit (CD)",
                code="103",
            )
    return events


def _amount(ft1: hl7.Segment, where: str) -> Decimal:
    """FT1-11 (extended), else FT1-12 (unit price) x FT1-10, in whole cents and in dollars.

    Both are CP: the price is a MO whose second subcomponent is the currency. A unit price may
    have fractions of a cent as long as the extended amount comes to whole cents."""
    for field in (11, 12):
        currency = field_of(ft1, field, 1, 2)
        if currency and currency.upper() != "USD":
            raise MappingError(
                f"{where}-{field}", f"currency {currency} is not USD (not converted)", code="103"
            )
    extended = field_of(ft1, 11)
    if extended:
        return money(extended, f"{where}-11")
    unit = field_of(ft1, 12)
    if unit:
        qty = whole_units(field_of(ft1, 10) or "1", f"{where}-10")
        return cents(number(unit, f"{where}-12") * qty, f"{where}-12")
    raise MappingError(f"{where}-11", "no amount in FT1-11 or FT1-12", code="101")


def _posting_time(ft1: hl7.Segment, where: str) -> datetime | None:
    raw = field_of(ft1, 5)
    return parse_dtm(raw, f"{where}-5") if raw else None
