"""X12 278 (005010X217) prior authorization to Authorization* events.

A request (BHT02 13) is an AuthorizationRequested; a response (BHT02 11) is an approval or a
denial, one per patient event (HL level EV, loop 2000E). The requester traces its request with
TRN*1 (echoed as TRN*2 in the response): its TRN02 is the authorization id, and the OR
scheduling system traces by its case id, so TRN02 is the case id too. That is the only number
the payer is bound to return unchanged.

The decision is the patient event's HCR; without one, the service lines' (2000F) HCRs decide
together: any line not certified denies, otherwise all must be certified. An AAA with AAA01 N
(the payer could not process the request: unknown member, invalid provider...) denies with that
reason. HCR01 A4 pended, CT contact payer, D deferred and NA no action required are not
decisions s2c has an event for: they are rejected by name, never read as approvals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from s2c.streams.connectors.events import Event, MappingError, event, midnight_utc, ymd
from s2c.streams.connectors.x12 import Seg, TransactionSet

CERTIFIED = {"A1": "certified in total", "A2": "certified, partial", "A6": "modified"}
NOT_CERTIFIED = {"A3": "NOT_CERTIFIED", "C": "CANCELLED"}
NO_DECISION = {
    "A4": "pended",
    "CT": "contact the payer",
    "D": "deferred",
    "NA": "no action required",
}
REQUEST, RESPONSE = "13", "11"  # BHT02


@dataclass
class PatientEvent:
    """Loop 2000E with its service lines (2000F)."""

    hl: str
    trace: str = ""
    decision: Seg | None = None
    rejected: Seg | None = None
    expires: Seg | None = None
    services: list[Seg] = field(default_factory=list)  # HCR of each 2000F
    codes: list[str] = field(default_factory=list)  # SV1/SV2/SV3 procedure of each 2000F


def map_278(tx: TransactionSet, produced_at: datetime) -> list[Event]:
    bht = tx.find("BHT")
    purpose = bht.get(2) if bht else ""
    if purpose not in (REQUEST, RESPONSE):
        raise MappingError(
            "BHT02",
            f"278 purpose {purpose or '(empty)'} is neither a request (13) nor a response (11)",
            code="203",
            reject=True,
        )
    payer, patient_events = _read(tx, purpose)
    if not patient_events:
        raise MappingError("2000E HL", "278 holds no patient event (HL03 EV)", code="100")
    source, when = tx.source(), tx.created_at()
    events = []
    for pe in patient_events:
        if not pe.trace:
            which = "TRN*1" if purpose == REQUEST else "TRN*2"
            raise MappingError(
                f"2000E[HL{pe.hl}] TRN02", f"no requester trace ({which}) in the patient event"
            )
        keys = {
            "authorization_id": pe.trace,
            "appointment_id": None,
            "case_id": pe.trace,
            "payer_id": payer,
        }
        locator = f"HL{pe.hl}"
        if purpose == REQUEST:
            fields = {**keys, "procedure_codes": pe.codes}
            events.append(
                event(source, "AuthorizationRequested", locator, when, produced_at, **fields)
            )
        else:
            kind, extra = _decision(pe)
            events.append(event(source, kind, locator, when, produced_at, **keys, **extra))
    return events


def _read(tx: TransactionSet, purpose: str) -> tuple[str, list[PatientEvent]]:
    """The payer and each patient event. An AAA above the patient event (UMO, requester,
    subscriber, dependent) applies to the patient events of that subscriber."""
    payer, level = "", ""
    found: list[PatientEvent] = []
    above: Seg | None = None  # AAA*N met above the patient event level
    above_level = ""
    own_trace = "1" if purpose == REQUEST else "2"
    for seg in tx.segments:
        if seg.id == "HL":
            level = seg.get(3)
            if level in ("22", "23") and above_level in ("22", "23"):
                above, above_level = None, ""  # a new subscriber: the last one's AAA ends
            if level == "EV":
                found.append(PatientEvent(seg.get(1), rejected=above))
            continue
        if seg.id == "AAA" and seg.get(1) == "N":
            if level in ("EV", "SS") and found:
                found[-1].rejected = found[-1].rejected or seg
            else:
                if above is None:
                    above, above_level = seg, level
            continue
        if seg.id == "NM1" and level == "20" and seg.get(1) == "X3":
            payer = seg.get(9)
        if not found or level not in ("EV", "SS"):
            continue
        current = found[-1]
        if seg.id == "TRN" and level == "EV" and seg.get(1) == own_trace:
            current.trace = current.trace or seg.get(2)
        elif seg.id == "HCR":
            if level == "EV":
                current.decision = seg
            else:
                current.services.append(seg)
        elif seg.id == "DTP" and level == "EV" and seg.get(1) == "036":
            current.expires = seg
        elif seg.id in ("SV1", "SV2", "SV3") and level == "SS":
            composite = seg.composite(2 if seg.id == "SV2" else 1)
            if len(composite) > 1 and composite[1]:
                current.codes.append(composite[1])
    if not payer:
        raise MappingError("2010A NM109", "no UMO/payer id (NM1*X3 NM109 in HL level 20)")
    return payer, found


def _decision(pe: PatientEvent) -> tuple[str, dict[str, object]]:
    where = f"2000E[HL{pe.hl}]"
    if pe.rejected is not None:
        return "AuthorizationDenied", {
            "reason": f"REQUEST_REJECTED (AAA03 {pe.rejected.get(3) or '-'})"
        }
    decisions = [pe.decision] if pe.decision is not None else pe.services
    if not decisions:
        raise MappingError(f"{where} HCR01", "response has no review decision (HCR)", code="101")
    for hcr in decisions:
        action = hcr.get(1)
        if action in NO_DECISION:
            raise MappingError(
                f"{where} HCR01",
                f"review outcome {action} ({NO_DECISION[action]}) is not an approval or a denial",
                code="207",
            )
        if action not in CERTIFIED and action not in NOT_CERTIFIED:
            raise MappingError(
                f"{where} HCR01", f"review action {action or '(empty)'} is not known", code="103"
            )
    denied = next((h for h in decisions if h.get(1) in NOT_CERTIFIED), None)
    if denied is not None:
        code = denied.get(3)
        reason = NOT_CERTIFIED[denied.get(1)] + (f" (HCR03 {code})" if code else "")
        return "AuthorizationDenied", {"reason": reason}
    number = next((h.get(2) for h in decisions if h.get(2)), "")
    if not number:
        raise MappingError(f"{where} HCR02", "certified without a review number", code="101")
    return "AuthorizationApproved", {"auth_number": number, "valid_until": _until(pe, where)}


def _until(pe: PatientEvent, where: str) -> datetime | None:
    """DTP*036 (certification expiration): valid through that day, so the end is the next
    midnight (UTC, as every X12 date here). An RD8 range ends on its second date."""
    if pe.expires is None:
        return None
    kind, raw = pe.expires.get(2), pe.expires.get(3)
    if kind == "RD8":
        raw = raw.split("-")[-1]
    elif kind != "D8":
        raise MappingError(f"{where} DTP02", f"date format {kind or '(empty)'} is not D8/RD8")
    return midnight_utc(ymd(raw, f"{where} DTP03")) + timedelta(days=1)
