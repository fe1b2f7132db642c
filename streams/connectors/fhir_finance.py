"""FHIR ClaimResponse, ExplanationOfBenefit and PaymentReconciliation to claim/remittance events,
and a preauthorization ClaimResponse (`use` preauthorization) to an Authorization* event.

ClaimResponse and ExplanationOfBenefit share `outcome`, `payment` and `item.adjudication`:
queued is an acknowledgment, error a rejection, complete/partial a payment plus one adjustment
per adjudication that carries a reason code, read as a CARC. FHIR core has no CAS group, so copay
and deductible are patient responsibility (PR) and every other reason contractual (CO); the CARC
then says denial or adjustment exactly as on an 835 (`carc.py`): a reason of 50 (not medically
necessary) is a DenialReceived, never a contractual write-off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from s2c.streams.connectors.carc import AdjustmentClass, classify
from s2c.streams.connectors.events import (
    Event,
    MappingError,
    PatientRefs,
    Source,
    as_utc,
    event,
    money,
)
from s2c.streams.connectors.fhir import (
    Claims,
    claim_account,
    claim_identifier,
    code_of,
    contained,
    ref_id,
    required,
    status_of,
)

PATIENT_SHARE = {"copay", "deductible"}
NAMING_CLAIMS = ("ClaimResponse", "ExplanationOfBenefit", "PaymentReconciliation")


def _claim_keys(res: Any, claim_ref: Any, claims: Claims, where: str) -> dict[str, str]:
    """claim_id and account_number of the Claim `claim_ref` names: a Claim carried inside `res`,
    else one seen earlier in the run by its logical id (`Claim/<id>`), else the reference's id
    (or identifier) as both, as an 837's CLM01 is both when nothing else says."""
    claim = contained(res, claim_ref, "Claim")
    if claim is not None:
        claim_id = claim_identifier(claim) or claim.id
        return {"claim_id": claim_id, "account_number": claim_account(claim) or claim_id}
    named = ref_id(claim_ref) or getattr(getattr(claim_ref, "identifier", None), "value", None)
    claim_id, account = claims.get(named, (named, None)) if named else (None, None)
    claim_id = required(claim_id, where)
    return {"claim_id": claim_id, "account_number": claim_account(res) or account or claim_id}


def _adjudicated(
    res: Any, src: Source, now: datetime, claim_ref: Any, claims: Claims
) -> list[Event]:
    """ClaimResponse and ExplanationOfBenefit share outcome, payment and item.adjudication."""
    kind = res.__resource_type__
    outcome = res.outcome or ""
    keys = _claim_keys(res, claim_ref, claims, f"{kind}.request")
    payer = required(ref_id(res.insurer), f"{kind}.insurer")
    when = as_utc(res.created)
    if outcome == "queued":
        return [
            event(
                src,
                "ClaimAcknowledged",
                kind,
                when,
                now,
                **keys,
                status_category="A1",
                payer_claim_control_number=res.id,
            )
        ]
    if outcome == "error":
        code = code_of(res.error[0].code) if getattr(res, "error", None) else None
        return [
            event(
                src,
                "ClaimRejected",
                kind,
                when,
                now,
                **keys,
                status_category="A3",
                status_code=code or None,
                reason=f"{kind}.outcome error {code or ''}".strip(),
            )
        ]
    if outcome not in ("complete", "partial"):
        raise MappingError(
            f"{kind}.outcome", f"outcome {outcome or '(empty)'} is not mapped", code="103"
        )
    remittance = f"{payer}:{res.id}"
    events = []
    if res.payment is not None:  # a claim denied in full may come without a payment
        payment = res.payment
        events.append(
            event(
                src,
                "PaymentPosted",
                kind,
                when,
                now,
                **keys,
                payer_id=payer,
                remittance_id=remittance,
                paid_amount=money(
                    required(payment.amount, f"{kind}.payment.amount").value,
                    f"{kind}.payment.amount",
                ),
                payment_trace=required(
                    payment.identifier and payment.identifier.value, f"{kind}.payment.identifier"
                ),
                payment_date=required(payment.date, f"{kind}.payment.date"),
            )
        )
    for i, item in enumerate(res.item or []):
        for j, adj in enumerate(item.adjudication or []):
            if adj.reason is None or adj.amount is None:
                continue
            where = f"{kind}.item[{i}].adjudication[{j}]"
            group = "PR" if code_of(adj.category) in PATIENT_SHARE else "CO"
            carc = code_of(adj.reason)
            amount = money(adj.amount.value, f"{where}.amount")
            fields = {"group_code": group, "carc": carc, "rarc": None}
            if classify(group, carc, f"{where}.reason") is AdjustmentClass.DENIAL:
                denial = {"denial_id": f"{remittance}/item{i}/adj{j}", "denied_amount": amount}
                # ExplanationOfBenefit.item names the service, ClaimResponse.item only its number
                product = code_of(getattr(item, "productOrService", None))
                kind_fields = {**denial, "procedure_code": product or None}
                event_type = "DenialReceived"
            else:
                kind_fields = {"adjustment_id": f"{remittance}/item{i}/adj{j}", "amount": amount}
                event_type = "AdjustmentPosted"
            events.append(
                event(
                    src,
                    event_type,
                    f"item{i}/adj{j}",
                    when,
                    now,
                    **keys,
                    payer_id=payer,
                    **fields,
                    **kind_fields,
                )
            )
    if not events:
        raise MappingError(
            f"{kind}.payment", "neither a payment nor an adjudication with a reason", code="101"
        )
    return events


def claim_response(
    res: Any, src: Source, refs: PatientRefs, now: datetime, claims: Claims
) -> list[Event]:
    status_of(res, ("active",))
    if res.use == "preauthorization":
        return _preauthorization(res, src, now)
    if res.use not in (None, "claim"):
        raise MappingError(
            "ClaimResponse.use",
            f"use {res.use} is not mapped (claim, preauthorization)",
            code="103",
        )
    return _adjudicated(res, src, now, res.request, claims)


def _preauthorization(res: Any, src: Source, now: datetime) -> list[Event]:
    """A payer's answer to a prior authorization request, the FHIR peer of a 278 response.

    The request (`ClaimResponse.request`, the provider's preauthorization Claim) is traced the way
    the 278's TRN02 is: its identifier (else the Claim's logical id) is the authorization id, and
    the OR scheduling system issues it under the case id, so it is the case id too. `outcome`
    complete or partial with a `preAuthRef` approves (valid until `preAuthPeriod.end`); `error`
    denies, with the error codes as the reason; `queued` is no decision yet and is rejected by
    name, as a pended 278 is."""
    request = res.request
    trace = required(
        getattr(getattr(request, "identifier", None), "value", None) or ref_id(request),
        "ClaimResponse.request",
    )
    payer = required(ref_id(res.insurer), "ClaimResponse.insurer")
    when = as_utc(required(res.created, "ClaimResponse.created"))
    keys = {"authorization_id": trace, "case_id": trace, "appointment_id": None, "payer_id": payer}
    outcome = res.outcome or ""
    if outcome == "error":
        codes = [code_of(e.code) for e in res.error or [] if code_of(e.code)]
        reason = "REQUEST_REJECTED" + (f" ({', '.join(codes)})" if codes else "")
        if res.disposition:
            reason += f": {res.disposition}"
        return [
            event(src, "AuthorizationDenied", "ClaimResponse", when, now, **keys, reason=reason)
        ]
    if outcome not in ("complete", "partial"):
        raise MappingError(
            "ClaimResponse.outcome",
            f"preauthorization outcome {outcome or '(empty)'} is not an approval or a denial",
            code="207",
        )
    number = required(res.preAuthRef, "ClaimResponse.preAuthRef")
    period = res.preAuthPeriod
    until = as_utc(period.end) if period is not None and period.end is not None else None
    return [
        event(
            src,
            "AuthorizationApproved",
            "ClaimResponse",
            when,
            now,
            **keys,
            auth_number=number,
            valid_until=until,
        )
    ]


def explanation_of_benefit(
    res: Any, src: Source, refs: PatientRefs, now: datetime, claims: Claims
) -> list[Event]:
    status_of(res, ("active",))
    return _adjudicated(res, src, now, res.claim, claims)


def payment_reconciliation(
    res: Any, src: Source, refs: PatientRefs, now: datetime, claims: Claims
) -> list[Event]:
    status_of(res, ("active",))
    payer = required(ref_id(res.paymentIssuer), "PaymentReconciliation.paymentIssuer")
    trace = required(
        res.paymentIdentifier and res.paymentIdentifier.value,
        "PaymentReconciliation.paymentIdentifier",
    )
    events = []
    for i, detail in enumerate(required(res.detail, "PaymentReconciliation.detail")):
        keys = _claim_keys(
            res, detail.request, claims, f"PaymentReconciliation.detail[{i}].request"
        )
        events.append(
            event(
                src,
                "PaymentPosted",
                f"detail{i}",
                as_utc(required(res.paymentDate, "PaymentReconciliation.paymentDate")),
                now,
                **keys,
                payer_id=payer,
                remittance_id=f"{payer}:{res.id}:{i}",
                paid_amount=money(
                    required(detail.amount, "detail.amount").value,
                    f"PaymentReconciliation.detail[{i}].amount",
                ),
                payment_trace=trace,
                payment_date=res.paymentDate,
            )
        )
    return events
