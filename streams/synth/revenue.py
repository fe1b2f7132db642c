"""The revenue cycle of one episode: charges, the claim (837), its 277CA, the remittance (835).

Amounts tie out: for every adjudicated claim, total charge = paid + CO-45 contractual + patient
share (PR) + denied, to the cent. Contract rates come from the master data (payer x procedure), so
expected-vs-paid variance in the pipeline is driven by denials and patient shares, not rounding.
Self-pay accounts get no claim; some patients pay part of the self-pay rate weeks later.
"""

from __future__ import annotations

from decimal import Decimal

from s2c.streams.synth import reference as ref
from s2c.streams.synth.ids import DAY, HOUR, MINUTE, to_date
from s2c.streams.synth.master import CENT, all_procedures
from s2c.streams.synth.planner import Episode, Planner, Weighted, between, pick

PROCEDURES = all_procedures()
FINANCIAL_CLASS = {p.payer_id: p.financial_class for p in ref.PAYERS}
_DENIAL_CLINIC = Weighted(ref.DENIALS, [d[3] for d in ref.DENIALS])
_DENIAL_SURGERY = Weighted(ref.DENIALS, [d[4] for d in ref.DENIALS])
ZERO = Decimal("0.00")


def plan_revenue(
    pl: Planner,
    ep: Episode,
    service_ms: int,
    discharge_ms: int,
    lines: list[tuple[str, int]],
    claim_type: str,
    billing_npi: str,
    auth_problem: bool = False,
) -> None:
    rng, p, acct = pl.rng, pl.system.params, ep.account
    offset = ep.site.utc_offset
    service_date = to_date(service_ms, offset)
    if rng.random() < p.late_charge_rate:
        t = discharge_ms + between(rng, 3 * 24 + 1, 10 * 24) * HOUR
    else:
        t = discharge_ms + between(rng, 5, 36 * 60) * MINUTE
    charges: list[tuple[str, str, int, Decimal]] = []
    for i, (code, units) in enumerate(lines, 1):
        amount = (PROCEDURES[code].charge * units).quantize(CENT)
        charges.append((f"CH{acct}-{i}", code, units, amount))
        pl.emit(t + i * MINUTE, "ChargePosted", (*charges[-1], service_date))
    last_charge = t + len(lines) * MINUTE
    if len(charges) > 1 and rng.random() < p.charge_reversal_rate:
        reversed_line = charges.pop()  # posted in error; the claim leaves it out
        last_charge += between(rng, 1, 24) * HOUR
        pl.emit(last_charge, "ChargeReversed", (f"CH{acct}-R1", reversed_line[0], reversed_line[3]))
        pl.episodes["charge.reversed"] += 1
    if FINANCIAL_CLASS[ep.payer_id] == "SELF_PAY":
        _self_pay(pl, ep, discharge_ms, charges)
        return
    if rng.random() < p.late_claim_rate:
        claim_ms = discharge_ms + between(rng, 7 * 24 + 1, 14 * 24) * HOUR
    else:
        claim_ms = discharge_ms + between(rng, 12, 96) * HOUR
    claim_ms = max(claim_ms, last_charge + HOUR)
    total = sum((c[3] for c in charges), ZERO)
    claim_lines = [
        {"line_number": i, "procedure_code": c[1], "units": c[2], "charge": c[3]}
        for i, c in enumerate(charges, 1)
    ]
    claim_no = 1
    claim_id = f"CLM{acct}-{claim_no}"
    pl.emit(
        claim_ms,
        "ClaimSubmitted",
        (claim_id, ep.payer_id, claim_type, billing_npi, total, claim_lines),
    )
    if rng.random() < p.claim_rejection_rate:
        rejected = claim_ms + between(rng, 2, 36) * HOUR
        pl.emit(
            rejected,
            "ClaimRejected",
            (claim_id, pick(rng, ("A3", "A7")), "21", "Missing or invalid information"),
        )
        pl.episodes["claim.rejected"] += 1
        claim_no += 1
        claim_id = f"CLM{acct}-{claim_no}"  # corrected claim, new claim id
        claim_ms = rejected + between(rng, 1, 5) * DAY
        pl.emit(
            claim_ms,
            "ClaimSubmitted",
            (claim_id, ep.payer_id, claim_type, billing_npi, total, claim_lines),
        )
    pl.emit(
        claim_ms + between(rng, 2, 36) * HOUR,
        "ClaimAcknowledged",
        (claim_id, pick(rng, ("A1", "A2")), f"PCN{acct[1:]}{claim_no}"),
    )
    remit_ms = claim_ms + between(rng, p.remit_days_min * 24, p.remit_days_max * 24) * HOUR
    _adjudicate(pl, ep, claim_id, remit_ms, charges, total, claim_type, auth_problem)


def _adjudicate(
    pl: Planner,
    ep: Episode,
    claim_id: str,
    remit_ms: int,
    charges: list[tuple[str, str, int, Decimal]],
    total: Decimal,
    claim_type: str,
    auth_problem: bool,
) -> None:
    rng, p, acct, payer = pl.rng, pl.system.params, ep.account, ep.payer_id
    rates = pl.system.rates
    allowed = {c[0]: min(c[3], (rates[(payer, c[1])] * c[2]).quantize(CENT)) for c in charges}
    surgery = ep.kind == "SURGERY"
    if auth_problem and rng.random() < 0.8:
        denial = ref.DENIALS[0]  # CO-197: no authorization on file
    elif rng.random() < p.denial_rate:
        denial = (_DENIAL_SURGERY if surgery else _DENIAL_CLINIC).draw(rng)
    else:
        denial = None
    if denial is not None:
        group, carc, rarc = denial[0], denial[1], denial[2]
        pl.episodes[f"claim.denied.{group}-{carc}"] += 1
        if (group, carc) == ("PR", "1"):  # whole allowed amount falls to the deductible
            allowed_total = sum(allowed.values(), ZERO)
            pl.emit(
                remit_ms,
                "DenialReceived",
                (f"DN{acct}-1", claim_id, payer, group, carc, rarc, allowed_total, None),
            )
            if total > allowed_total:
                pl.emit(
                    remit_ms + 1000,
                    "AdjustmentPosted",
                    (f"ADJ{acct}-1", claim_id, payer, "CO", "45", None, total - allowed_total),
                )
        else:
            pl.emit(
                remit_ms,
                "DenialReceived",
                (f"DN{acct}-1", claim_id, payer, group, carc, rarc, total, None),
            )
        return
    denied_line = None
    if len(charges) > 1 and rng.random() < p.line_denial_rate:
        denied_line = charges[-1]
        allowed[denied_line[0]] = ZERO
        group, carc, rarc = ref.LINE_DENIAL
        pl.emit(
            remit_ms,
            "DenialReceived",
            (f"DN{acct}-1", claim_id, payer, group, carc, rarc, denied_line[3], denied_line[1]),
        )
        pl.episodes["claim.line_denied"] += 1
    allowed_total = sum(allowed.values(), ZERO)
    patient_share, pr_carc = ZERO, ""
    if FINANCIAL_CLASS[payer] != "MEDICAID" and rng.random() < p.patient_share_rate:
        if claim_type == "PROFESSIONAL" and FINANCIAL_CLASS[payer] == "COMMERCIAL":
            patient_share, pr_carc = Decimal(pick(rng, ("20.00", "30.00", "40.00"))), "3"
        elif rng.random() < 0.4:
            patient_share, pr_carc = Decimal(50 * between(rng, 1, 20)), "1"
        else:
            patient_share, pr_carc = (allowed_total * Decimal("0.20")).quantize(CENT), "2"
        patient_share = min(patient_share, allowed_total).quantize(CENT)
    paid = allowed_total - patient_share
    trace = f"EFT{to_date(remit_ms, ep.site.utc_offset):%Y%m%d}{ep.site.number:02d}{payer[4:]}"
    remittance_id = f"RA{acct}-1"
    pay_date = to_date(remit_ms, ep.site.utc_offset)
    pl.emit(
        remit_ms + 2000, "PaymentPosted", (remittance_id, claim_id, payer, paid, trace, pay_date)
    )
    contractual = total - allowed_total - (denied_line[3] if denied_line else ZERO)
    if contractual > 0:
        pl.emit(
            remit_ms + 3000,
            "AdjustmentPosted",
            (f"ADJ{acct}-1", claim_id, payer, "CO", "45", None, contractual),
        )
    if patient_share > 0:
        pl.emit(
            remit_ms + 4000,
            "AdjustmentPosted",
            (f"ADJ{acct}-2", claim_id, payer, "PR", pr_carc, None, patient_share),
        )
    pl.episodes["claim.paid" if paid > 0 else "claim.zero_paid"] += 1
    if paid > 0 and rng.random() < p.payment_reversal_rate:
        reversal_ms = remit_ms + between(rng, 15, 60) * DAY
        pl.emit(
            reversal_ms, "PaymentReversed", (f"RV{acct}-1", claim_id, payer, remittance_id, paid)
        )
        corrected_ms = reversal_ms + between(rng, 1, 3) * DAY
        pl.emit(
            corrected_ms,
            "PaymentPosted",
            (
                f"RA{acct}-2",
                claim_id,
                payer,
                paid,
                trace + "C",
                to_date(corrected_ms, ep.site.utc_offset),
            ),
        )
        pl.episodes["payment.reversed"] += 1


def _self_pay(
    pl: Planner, ep: Episode, discharge_ms: int, charges: list[tuple[str, str, int, Decimal]]
) -> None:
    rng = pl.rng
    pl.episodes["claim.self_pay"] += 1
    if rng.random() < pl.system.params.self_pay_payment_rate:
        expected = sum((pl.system.rates[(ep.payer_id, c[1])] * c[2] for c in charges), ZERO)
        paid = (expected * Decimal(between(rng, 40, 101 - 1)) / 100).quantize(CENT)
        paid_ms = discharge_ms + between(rng, 10, 40) * DAY
        pl.emit(
            paid_ms,
            "PaymentPosted",
            (
                f"RA{ep.account}-1",
                None,
                ep.payer_id,
                paid,
                f"PT{ep.account[1:]}",
                to_date(paid_ms, ep.site.utc_offset),
            ),
        )
