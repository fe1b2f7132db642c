"""835 remittance advice to PaymentPosted, AdjustmentPosted, DenialReceived and PaymentReversed.

One CLP (claim payment) at a time. Each CAS triplet is a denial or an adjustment by its group
and CARC alone (`carc.py`), whatever the claim status or a line's payment. CLP02 22 reverses an
earlier adjudication: a PaymentReversed for the negated CLP04 (none when it paid nothing, as a
reversed denial) and its negated CAS as negative adjustments and denials, so that a payment, its
reversal and the payer's corrected payment leave the ledger of the corrected one.
A claim must balance (CLP03 - CLP04 = its CAS) and the transaction must tie out (BPR02 =
sum(CLP04) - sum(PLB amounts)), or the set is rejected whole: posting cash from a remittance
that does not add up would put the error into the ledger.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from s2c.streams.connectors.carc import AdjustmentClass, classify
from s2c.streams.connectors.events import Event, MappingError, event, midnight_utc, money, ymd
from s2c.streams.connectors.x12 import Seg, TransactionSet

log = logging.getLogger(__name__)
CAS_GROUPS = {"CO", "PR", "OA", "PI", "CR"}
REVERSAL, DENIED = "22", "4"


def payer_id(tx: TransactionSet) -> str:
    n1 = tx.find("N1", "PR")
    ref = tx.find("REF", "2U")
    trn = tx.find("TRN")
    value = (n1.get(4) if n1 else "") or (ref.get(2) if ref else "") or (trn.get(3) if trn else "")
    if not value:
        raise MappingError("N104", "no payer id in N1*PR N104, REF*2U or TRN03", code="101")
    return value


def payment_date(tx: TransactionSet, bpr: Seg) -> date:
    """BPR16, falling back to the DTM*405 production date when BPR16 is missing or invalid."""
    if bpr.get(16):
        try:
            return ymd(bpr.get(16), "BPR16")
        except MappingError:
            log.warning("835 ST %s: BPR16 is not a date, using DTM*405", tx.control)
    dtm = tx.find("DTM", "405")
    if dtm is None or not dtm.get(2):
        raise MappingError("BPR16", "no payment date in BPR16 or DTM*405", code="101")
    return ymd(dtm.get(2), "DTM02")


def tie_out(tx: TransactionSet, bpr: Seg, claims: list[dict[str, Any]]) -> None:
    paid = sum((money(c["clp"].get(4), "CLP04") for c in claims), Decimal("0.00"))
    provider_adjustments = Decimal("0.00")
    for plb in (s for s in tx.segments if s.id == "PLB"):
        for element in range(4, 15, 2):
            if plb.get(element):
                provider_adjustments += money(plb.get(element), f"PLB{element:02d}")
    total = money(bpr.get(2), "BPR02")
    if total != paid - provider_adjustments:
        raise MappingError(
            "BPR02",
            f"835 does not tie out: BPR02 {total} != sum(CLP04) {paid} - "
            f"sum(PLB) {provider_adjustments}",
            code="207",
        )


def map_835(tx: TransactionSet, produced_at: datetime) -> list[Event]:
    bpr, trn = tx.find("BPR"), tx.find("TRN")
    if bpr is None or trn is None or not trn.get(2):
        raise MappingError("BPR" if bpr is None else "TRN02", "835 lacks BPR or TRN02", code="100")
    claims = _claims(tx)
    if not claims:
        raise MappingError("CLP", "835 holds no CLP segment", code="100")
    tie_out(tx, bpr, claims)
    payer, trace, paid_on = payer_id(tx), trn.get(2), payment_date(tx, bpr)
    production = tx.find("DTM", "405")
    when = midnight_utc(ymd(production.get(2), "DTM02") if production else paid_on)
    source = tx.source()
    events: list[Event] = []
    for index, claim in enumerate(claims, start=1):
        clp: Seg = claim["clp"]
        account, status = clp.get(1), clp.get(2)
        if not account:
            raise MappingError(f"CLP[{index}]01", "patient control number is empty", code="101")
        paid = money(clp.get(4), f"CLP[{index}]04")
        if status == REVERSAL and paid > 0:
            raise MappingError(
                f"CLP[{index}]04",
                "a reversal (CLP02=22) carries the payment negated, this one is positive",
                code="102",
            )
        balances(claim, index, paid)
        remittance = f"{payer}:{clp.get(7)}" if clp.get(7) else f"{trace}:{account}"
        # a reversal repeats the original's CLP07, so its adjustments need ids of their own
        ids = f"{remittance}:reversal:{trace}" if status == REVERSAL else remittance
        keys = {"account_number": account, "claim_id": account, "payer_id": payer}

        def emit(event_type: str, locator: str, **fields: Any) -> None:
            at = f"CLP{index}{locator}"
            events.append(event(source, event_type, at, when, produced_at, **keys, **fields))

        if status == REVERSAL:
            if paid:  # a reversed denial paid nothing: there is no payment to take back
                emit(
                    "PaymentReversed",
                    "",
                    reversal_id=f"{remittance}:reversal:{trace}",
                    reverses_remittance_id=remittance,
                    amount=-paid,
                )
        elif status != DENIED or paid:
            emit(
                "PaymentPosted",
                "",
                remittance_id=remittance,
                paid_amount=paid,
                payment_trace=trace,
                payment_date=paid_on,
            )
        elif not claim["adjustments"]:
            raise MappingError(f"CLP[{index}]02", "denied claim (CLP02=4) has no CAS", code="101")
        for adj in claim["adjustments"]:
            locator, group, carc = adj["locator"], adj["group"], adj["carc"]
            if classify(group, carc, adj["where"]) is AdjustmentClass.DENIAL:
                emit(
                    "DenialReceived",
                    locator,
                    denial_id=f"{ids}{locator}",
                    group_code=group,
                    carc=carc,
                    rarc=adj["rarc"],
                    denied_amount=adj["amount"],
                    procedure_code=adj["procedure"],
                )
            else:
                emit(
                    "AdjustmentPosted",
                    locator,
                    adjustment_id=f"{ids}{locator}",
                    group_code=group,
                    carc=carc,
                    rarc=adj["rarc"],
                    amount=adj["amount"],
                )
    return events


def balances(claim: dict[str, Any], index: int, paid: Decimal) -> None:
    """CLP03 - CLP04 = the claim's and its lines' CAS amounts (the 835 balancing rule). A claim
    that does not balance has lost an adjustment; a reversal that drops its negated CAS would
    leave the original's adjustments on the books."""
    charged = money(claim["clp"].get(3), f"CLP[{index}]03")
    adjusted = sum((adj["amount"] for adj in claim["adjustments"]), Decimal("0.00"))
    if charged - paid != adjusted:
        raise MappingError(
            f"CLP[{index}]03",
            f"claim does not balance: CLP03 {charged} - CLP04 {paid} != sum(CAS) {adjusted}",
            code="207",
        )


def _claims(tx: TransactionSet) -> list[dict[str, Any]]:
    """CLP loops with their CAS triplets, each tagged with its service line (if any) and RARC."""
    claims: list[dict[str, Any]] = []
    claim: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    for seg in tx.segments:
        if seg.id == "CLP":
            claim = {
                "clp": seg,
                "adjustments": [],
                "rarc": None,
                "lines": 0,
                "index": len(claims) + 1,
            }
            claims.append(claim)
            line = None
        elif claim is None:
            continue
        elif seg.id in ("MOA", "MIA"):
            claim["rarc"] = (seg.get(3) if seg.id == "MOA" else seg.get(5)) or None
        elif seg.id == "SVC":
            claim["lines"] += 1
            where = f"SVC[{len(claims)}.{claim['lines']}]"
            procedure = seg.composite(1)
            if len(procedure) < 2 or not procedure[1]:
                raise MappingError(
                    f"{where}01-2", "adjudicated procedure code is missing", code="101"
                )
            line = {
                "procedure": procedure[1],
                "paid": money(seg.get(3), f"{where}03"),
                "rarc": None,
                "number": claim["lines"],
            }
        elif seg.id == "LQ" and line is not None and seg.get(1) == "HE" and not line["rarc"]:
            line["rarc"] = seg.get(2)
        elif seg.id == "CAS":
            _cas(seg, claim, line)
    for found in claims:  # line RARCs arrive after the CAS they explain
        for adj in found["adjustments"]:
            adj["rarc"] = (adj.pop("line")["rarc"] if adj.get("line") else None) or found["rarc"]
    return claims


def _cas(seg: Seg, claim: dict[str, Any], line: dict[str, Any] | None) -> None:
    group = seg.get(1)
    if group not in CAS_GROUPS:
        raise MappingError(
            "CAS01",
            f"claim adjustment group {group or '(empty)'} is not one of CO, PR, OA, PI, CR",
            code="103",
        )
    for triplet in range(6):
        carc, amount = seg.get(2 + triplet * 3), seg.get(3 + triplet * 3)
        if not carc:
            continue
        place = f"/SVC{line['number']}" if line else ""
        number = len(claim["adjustments"]) + 1
        claim["adjustments"].append(
            {
                "group": group,
                "carc": carc,
                "amount": money(amount, f"CAS[{claim['index']}.{number}]{3 + triplet * 3:02d}"),
                "where": f"CAS[{claim['index']}.{number}]{2 + triplet * 3:02d}",
                "locator": f"{place}/CAS{number}",
                "line": line,
                "procedure": line["procedure"] if line else None,
                "rarc": None,
            }
        )
