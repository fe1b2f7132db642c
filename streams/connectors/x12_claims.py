"""837P/837I claims to ClaimSubmitted, 277CA claim acknowledgments to ClaimAcknowledged/Rejected.

CLM01 (the patient control number) is both claim_id and account_number: the payer echoes it in
277CA TRN02 and 835 CLP01, so every claim event of an episode carries the same key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from s2c.streams.connectors.events import (
    Event,
    MappingError,
    event,
    midnight_utc,
    money,
    whole_units,
    ymd,
)
from s2c.streams.connectors.x12 import Seg, TransactionSet

ACKNOWLEDGED = {"A1", "A2"}
REJECTED = {"A3", "A4", "A6", "A7", "A8"}
CLAIM_LEVELS = {"PT", "22", "23"}  # HL03 of the claim loop: 277CA patient; 277 subscriber/dependent
CLAIM_TYPES = {"X222": "PROFESSIONAL", "X223": "INSTITUTIONAL"}


def claim_type(tx: TransactionSet) -> str:
    for marker, kind in CLAIM_TYPES.items():
        if marker in tx.version:
            return kind
    raise MappingError(
        "GS08",
        f"837 version {tx.version or '(empty)'} is neither 837P (X222) nor 837I (X223)",
        code="203",
        reject=True,
    )


def map_837(tx: TransactionSet, produced_at: datetime) -> list[Event]:
    kind, source, when = claim_type(tx), tx.source(), tx.created_at()
    billing_npi = payer = ""
    level = ""
    claims: list[dict[str, Any]] = []
    claim: dict[str, Any] | None = None
    for seg in tx.segments:
        if seg.id in ("HL", "SE"):
            claim = None
            level = seg.get(3)
            if level == "20":
                billing_npi = ""
            if level == "22":
                payer = ""
        elif seg.id == "NM1" and claim is None:
            if seg.get(1) == "85" and seg.get(8) == "XX":
                billing_npi = seg.get(9)
            elif seg.get(1) == "PR" and level == "22":
                payer = seg.get(9)
        elif seg.id == "CLM":
            claim = {"seg": seg, "npi": billing_npi, "payer": payer, "lines": []}
            claims.append(claim)
        elif seg.id == "LX" and claim is not None:
            claim["line"] = (
                whole_units(seg.get(1), f"LX[CLM {len(claims)}]01")
                if seg.get(1)
                else len(claim["lines"]) + 1
            )
        elif seg.id in ("SV1", "SV2") and claim is not None:
            claim["lines"].append(_line(seg, claim.get("line", len(claim["lines"]) + 1)))
    if not claims:
        raise MappingError("CLM", "837 holds no CLM segment", code="100")
    events = []
    for index, found in enumerate(claims, start=1):
        clm: Seg = found["seg"]
        where = f"CLM[{index}]"
        if not clm.get(1):
            raise MappingError(f"{where}01", "patient control number is empty", code="101")
        if not found["npi"]:
            raise MappingError(
                "NM109", f"no billing provider NPI (NM1*85 ... XX) for {where}", code="101"
            )
        if not found["payer"]:
            raise MappingError("NM109", f"no payer id (2010BB NM1*PR) for {where}", code="101")
        events.append(
            event(
                source,
                "ClaimSubmitted",
                f"CLM{index}",
                when,
                produced_at,
                claim_id=clm.get(1),
                account_number=clm.get(1),
                payer_id=found["payer"],
                claim_type=kind,
                billing_npi=found["npi"],
                total_charge=money(clm.get(2), f"{where}02"),
                lines=found["lines"],
            )
        )
    return events


def _line(seg: Seg, number: int) -> dict[str, Any]:
    where = f"{seg.id}[LX {number}]"
    if seg.id == "SV1":
        procedure = seg.composite(1)
        charge, quantity = seg.get(2), seg.get(4)
        code = procedure[1] if len(procedure) > 1 else ""
    else:
        procedure = seg.composite(2)
        charge, quantity = seg.get(3), seg.get(5)
        code = procedure[1] if len(procedure) > 1 else seg.get(1)  # revenue code alone
    if not code:
        raise MappingError(f"{where}01-2", "procedure code is empty", code="101")
    return {
        "line_number": number,
        "procedure_code": code,
        "units": whole_units(quantity or "1", f"{where} quantity"),
        "charge": money(charge, f"{where} charge"),
    }


def map_277(tx: TransactionSet, produced_at: datetime) -> list[Event]:
    """Claim-level statuses: the first STC after a TRN*2 in a claim-level HL (PT, 22, 23),
    before any SVC. TRN*2 at the information receiver level is a batch trace, not a claim."""
    source, when = tx.source(), tx.created_at()
    claims: list[dict[str, Any]] = []
    claim: dict[str, Any] | None = None
    level = ""
    for seg in tx.segments:
        if seg.id in ("HL", "SE"):
            claim, level = None, seg.get(3)
        elif seg.id == "TRN":
            is_claim = seg.get(1) == "2" and level in CLAIM_LEVELS
            claim = {"trace": seg.get(2), "stc": None, "ccn": None} if is_claim else None
            if claim is not None:
                claims.append(claim)
        elif seg.id == "SVC":
            claim = None  # service-line statuses do not change the claim's acknowledgment
        elif seg.id == "STC" and claim is not None and claim["stc"] is None:
            claim["stc"] = seg
        elif seg.id == "REF" and claim is not None and seg.get(1) == "1K":
            claim["ccn"] = seg.get(2)
    if not claims:
        raise MappingError("TRN02", "277 holds no claim-level status (TRN*2 + STC)", code="100")
    events = []
    for index, found in enumerate(claims, start=1):
        stc: Seg | None = found["stc"]
        if stc is None:
            raise MappingError("STC", f"claim {index} has a TRN*2 but no STC", code="100")
        status = stc.composite(1)
        category = status[0] if status else ""
        code = status[1] if len(status) > 1 else None
        if category not in ACKNOWLEDGED | REJECTED:
            raise MappingError(
                "STC01-1",
                f"category {category or '(empty)'} is not a 277CA "
                f"acknowledgment category (A1-A8); GS08 is {tx.version}",
                code="103",
                reject=True,
            )
        effective = midnight_utc(ymd(stc.get(2), "STC02")) if stc.get(2) else when
        common = {"claim_id": found["trace"], "account_number": found["trace"]}
        if category in ACKNOWLEDGED:
            events.append(
                event(
                    source,
                    "ClaimAcknowledged",
                    f"TRN{index}",
                    effective,
                    produced_at,
                    **common,
                    status_category=category,
                    payer_claim_control_number=found["ccn"],
                )
            )
        else:
            entity = status[2] if len(status) > 2 else ""
            reason = f"STC01 {category}:{code or ''}" + (f" entity {entity}" if entity else "")
            events.append(
                event(
                    source,
                    "ClaimRejected",
                    f"TRN{index}",
                    effective,
                    produced_at,
                    **common,
                    status_category=category,
                    status_code=code,
                    reason=reason,
                )
            )
    return events
