"""FHIR R4 Procedure (the OR's case record) to CaseCompleted.

The surgery scheduling system books a case as a ServiceRequest; the Procedure that records it
points back with `basedOn`, so that reference's id is the case id (the same filler case number
the OR feed sends in SCH-2). Only a completed Procedure ends a case: any other status is
rejected by name, since in-progress or not-done records would otherwise complete or cancel it.

actual_minutes is `performedPeriod` (end - start, whole minutes); a bare `performedDateTime` has
no duration and is rejected. FHIR R4 gives used items no quantity, so each `usedCode` is one
unit of the item its first coding names and repeats add up (a box of three is three codes).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from s2c.streams.connectors.events import (
    MAX_UNITS,
    Event,
    MappingError,
    PatientRefs,
    Source,
    as_utc,
    event,
)
from s2c.streams.connectors.fhir import code_of, required, status_of

CASE_ORDERS = ("ServiceRequest", "Appointment")  # what a Procedure may be basedOn for a case


def case_id(res: Any) -> str:
    """The id of the first basedOn that is a ServiceRequest (or Appointment) reference, else
    the first basedOn's logical identifier."""
    for i, ref in enumerate(res.basedOn or []):
        reference = ref.reference or ""
        kind, _, ident = reference.partition("/")
        if kind in CASE_ORDERS and ident:
            return ident
        if reference:
            raise MappingError(
                f"Procedure.basedOn[{i}].reference",
                f"{kind or reference} is not a case order ({', '.join(CASE_ORDERS)})",
                code="103",
            )
        if ref.identifier is not None and ref.identifier.value:
            return str(ref.identifier.value)
    raise MappingError(
        "Procedure.basedOn", "no case order (ServiceRequest) the procedure is based on", code="101"
    )


def actual_minutes(res: Any) -> tuple[datetime, int]:
    period = res.performedPeriod
    if period is None:
        where = (
            "Procedure.performedDateTime" if res.performedDateTime else "Procedure.performedPeriod"
        )
        raise MappingError(
            where, "a completed case needs performedPeriod (start and end)", code="101"
        )
    start = as_utc(required(period.start, "Procedure.performedPeriod.start"))
    end = as_utc(required(period.end, "Procedure.performedPeriod.end"))
    minutes = int((end - start).total_seconds() // 60)
    if not 1 <= minutes <= MAX_UNITS:
        raise MappingError(
            "Procedure.performedPeriod", "end is not at least a minute after start", code="102"
        )
    return end, minutes


def supplies(res: Any) -> list[dict[str, Any]]:
    counted: Counter[str] = Counter()
    for i, concept in enumerate(res.usedCode or []):
        counted[required(code_of(concept), f"Procedure.usedCode[{i}].coding.code")] += 1
    return [{"item_id": item, "quantity": quantity} for item, quantity in counted.items()]


def procedure(res: Any, src: Source, refs: PatientRefs, now: datetime) -> list[Event]:
    status_of(res, ("completed",))
    case = case_id(res)
    ended, minutes = actual_minutes(res)
    return [
        event(
            src,
            "CaseCompleted",
            "Procedure",
            ended,
            now,
            case_id=case,
            actual_minutes=minutes,
            supplies_used=supplies(res),
        )
    ]
