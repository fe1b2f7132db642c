"""Handlers for charges, claims and remittances: the journals of the schedule-to-cash ledger.

Charge: Dr patient A/R, Cr gross patient revenue. Payment: Dr cash clearing, Cr A/R. Adjustments by
CAS group: CO contractual allowance, PR patient responsibility, OA/PI/CR other (accounts resolved
with the CAS group, so the GL map can route them apart). Denial: Dr denial reserve, Cr A/R, plus a
work item. A reversal is the opposite journal of the one it undoes and points at it; a negative
adjustment or denial (an 835 reversal's negated CAS) posts the other way round, so pay, reverse
and re-pay leave the ledger of the final adjudication. Every journal is two balanced lines;
`ar_balance` follows the A/R side so the stage can tell when it is closed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TypeAlias

from s2c.tables import events_revenue as rv
from s2c.tables.events import Event
from s2c.tables.handling import Handler, Output, WaitsFor, earliest, invalid, work_item
from s2c.tables.master import MasterData
from s2c.tables.outputs import JournalLine, MetricObservation, PostJournal
from s2c.tables.posting import Posting, gl_account, location, opposite, two_lines
from s2c.tables.process import ProcessState
from s2c.tables.sla import labels
from s2c.tables.vocabulary import CasGroup, ExceptionKind, FinancialClass, GlPurpose, JournalKind

ZERO = Decimal("0.00")
# Events that wait for their claim: a status report names it, a remittance may (or names none).
_ClaimStatus: TypeAlias = rv.ClaimAcknowledged | rv.ClaimRejected | rv.ClaimVoided
_NamesClaim: TypeAlias = _ClaimStatus | rv.PaymentPosted | rv.AdjustmentPosted | rv.DenialReceived
_CLAIM_RANK = {"SUBMITTED": 0, "ACKNOWLEDGED": 1, "REJECTED": 2, "VOIDED": 3}
_ADJUSTMENT = {
    CasGroup.CO: (JournalKind.CONTRACTUAL_ADJUSTMENT, GlPurpose.CONTRACTUAL_ALLOWANCE),
    CasGroup.PR: (JournalKind.PATIENT_RESPONSIBILITY, GlPurpose.PATIENT_RESPONSIBILITY),
}


def _ar(master: MasterData, state: ProcessState) -> str:
    return gl_account(master, GlPurpose.PATIENT_AR, state.site_id)


def charge_posted(
    state: ProcessState, e: rv.ChargePosted, master: MasterData, now: datetime, out: list[Output]
) -> None:
    key = f"charge:{e.charge_id}"
    if key in state.journals:
        out.append(invalid(state, e, now, "the charge id was already posted by another event"))
        return
    department = location(master, e.department_id)
    lines = two_lines(
        _ar(master, state),
        gl_account(master, GlPurpose.GROSS_PATIENT_REVENUE, state.site_id),
        e.amount,
        f"charge {e.procedure_code} x{e.units} {e.event_id}",
    )
    posting = Posting(state.process_id, e)
    state.journals[key] = posting.journal(
        JournalKind.CHARGE, department.cost_center_id, e.service_date, lines
    )
    state.charged += e.amount
    state.ar_balance += e.amount
    state.first_charge_at = earliest(state.first_charge_at, e.occurred_at)
    out.extend(posting.commands)


def _reverse_journal(
    state: ProcessState,
    e: rv.ChargeReversed | rv.PaymentReversed,
    key: str,
    kind: JournalKind,
    now: datetime,
    out: list[Output],
) -> Decimal | None:
    original = state.journals[key]
    # Work items and memos name the journal by its command id, never by the source's charge or
    # remittance id: an 835 remittance id may carry the account number (CLP01).
    what = f"{key.split(':', 1)[0]} {original.command_id}"
    remaining = original.amount - state.reversed_amounts.get(key, ZERO)
    if e.amount <= 0 or e.amount > remaining:
        out.append(
            invalid(state, e, now, f"reversal of {e.amount} exceeds the {remaining} left on {what}")
        )
        return None
    memo = f"reverses {what}"
    lines = (
        opposite(original.lines, memo)
        if e.amount == original.amount
        else tuple(
            JournalLine(
                ln.gl_account, e.amount if ln.credit else ZERO, e.amount if ln.debit else ZERO, memo
            )
            for ln in original.lines
        )
    )
    posting = Posting(state.process_id, e)
    posting.journal(
        kind,
        original.header.cost_center_id,
        e.occurred_at.date(),
        lines,
        reverses=original.command_id,
    )
    state.reversed_amounts[key] = state.reversed_amounts.get(key, ZERO) + e.amount
    out.extend(posting.commands)
    return e.amount


def charge_reversed(
    state: ProcessState, e: rv.ChargeReversed, master: MasterData, now: datetime, out: list[Output]
) -> None:
    amount = _reverse_journal(
        state, e, f"charge:{e.reverses_charge_id}", JournalKind.CHARGE_REVERSAL, now, out
    )
    if amount is not None:
        state.charged -= amount
        state.ar_balance -= amount


def payment_reversed(
    state: ProcessState, e: rv.PaymentReversed, master: MasterData, now: datetime, out: list[Output]
) -> None:
    amount = _reverse_journal(
        state, e, f"payment:{e.reverses_remittance_id}", JournalKind.PAYMENT_REVERSAL, now, out
    )
    if amount is not None:
        state.paid -= amount
        state.ar_balance += amount


def claim_submitted(
    state: ProcessState, e: rv.ClaimSubmitted, master: MasterData, now: datetime, out: list[Output]
) -> None:
    if e.claim_id in state.claims:
        out.append(invalid(state, e, now, "the claim id was already submitted by another event"))
        return
    state.claims[e.claim_id] = "SUBMITTED"
    state.first_claim_at = earliest(state.first_claim_at, e.occurred_at)


def claim_status(
    state: ProcessState, e: _ClaimStatus, master: MasterData, now: datetime, out: list[Output]
) -> None:
    """Acknowledged, rejected or voided; the furthest status wins whatever the arrival order."""
    status = {
        "ClaimAcknowledged": "ACKNOWLEDGED",
        "ClaimRejected": "REJECTED",
        "ClaimVoided": "VOIDED",
    }[e.schema]
    claim_id = e.claim_id
    if _CLAIM_RANK[status] > _CLAIM_RANK[state.claims[claim_id]]:
        state.claims[claim_id] = status
    if isinstance(e, rv.ClaimRejected):
        reason = f"277CA {e.status_category} {e.status_code or ''}: {e.reason}"
        out.append(work_item(state, e, now, ExceptionKind.CLAIM_REJECTED, reason))


def _remit(
    state: ProcessState,
    e: Event,
    kind: JournalKind,
    debit: str,
    credit: str,
    amount: Decimal,
    out: list[Output],
    effective: date | None = None,
) -> PostJournal:
    posting = Posting(state.process_id, e)
    when = effective or e.occurred_at.date()
    if state.first_remit_at is None and state.expected_amount is not None:
        # The payer adjudicated the claim: from now on its contract amount is money expected,
        # measured against what is paid (s2c_expected_reimbursement_usd, once per instance;
        # the first remittance applied is first whatever the arrival order).
        out.append(
            MetricObservation(
                "expected_reimbursement_usd",
                state.process_id,
                state.expected_amount,
                labels(state),
            )
        )
    state.first_remit_at = earliest(state.first_remit_at, e.occurred_at)
    journal = posting.journal(
        kind,
        state.revenue_cost_center or "",
        when,
        two_lines(debit, credit, amount, f"{e.schema} {e.event_id}"),
    )
    out.extend(posting.commands)  # nothing when it moves no money (PostJournal.moves_money)
    return journal


def payment_posted(
    state: ProcessState, e: rv.PaymentPosted, master: MasterData, now: datetime, out: list[Output]
) -> None:
    key = f"payment:{e.remittance_id}"
    if key in state.journals:
        earlier = state.journals[key]
        if earlier.amount - state.reversed_amounts.get(key, ZERO) != 0:
            out.append(invalid(state, e, now, "the remittance id was already posted"))
            return
        # taken back in full (or it paid nothing): the payer re-adjudicated under the same
        # claim control number, and this payment is the one a later reversal will undo
        state.reversed_amounts.pop(key, None)
    cash = gl_account(master, GlPurpose.CASH_CLEARING, state.site_id)
    journal = _remit(
        state,
        e,
        JournalKind.PAYMENT,
        cash,
        _ar(master, state),
        e.paid_amount,
        out,
        effective=e.payment_date,
    )
    state.journals[key] = journal
    state.paid += e.paid_amount
    state.ar_balance -= e.paid_amount
    state.first_payment_at = earliest(state.first_payment_at, e.occurred_at)
    # every payment, with or without a contract amount to measure it against (s2c_paid_usd)
    out.append(MetricObservation("paid_usd", state.process_id, e.paid_amount, labels(state)))


def adjustment_posted(
    state: ProcessState,
    e: rv.AdjustmentPosted,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    kind, purpose = _ADJUSTMENT.get(
        e.group_code, (JournalKind.OTHER_ADJUSTMENT, GlPurpose.CONTRACTUAL_ALLOWANCE)
    )
    debit = gl_account(master, purpose, state.site_id, e.group_code)
    _remit(state, e, kind, debit, _ar(master, state), e.amount, out)
    state.adjusted += e.amount
    state.ar_balance -= e.amount


def denial_received(
    state: ProcessState, e: rv.DenialReceived, master: MasterData, now: datetime, out: list[Output]
) -> None:
    reserve = gl_account(master, GlPurpose.DENIAL_RESERVE, state.site_id, e.group_code)
    if e.denied_amount < 0:
        _denial_taken_back(state, e, reserve, master, now, out)
        return
    _remit(state, e, JournalKind.DENIAL, reserve, _ar(master, state), e.denied_amount, out)
    state.denied += e.denied_amount
    state.ar_balance -= e.denied_amount
    state.first_denial_at = earliest(state.first_denial_at, e.occurred_at)
    out.append(
        work_item(
            state,
            e,
            now,
            ExceptionKind.DENIAL,
            f"{e.group_code.value}-{e.carc}{' ' + e.rarc if e.rarc else ''} "
            f"denied by payer {e.payer_id}",
            e.denied_amount,
        )
    )


def _denial_taken_back(
    state: ProcessState,
    e: rv.DenialReceived,
    reserve: str,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    """A negative denial is the payer reversing one (835 CLP02 = 22 repeats the denial's CAS
    negated): the reserve goes back to A/R, on the reserve the denial used, and no work item."""
    if state.denied + e.denied_amount < 0:
        out.append(
            invalid(
                state,
                e,
                now,
                f"denial reversal of {-e.denied_amount} exceeds the {state.denied} denied",
            )
        )
        return
    _remit(state, e, JournalKind.DENIAL, reserve, _ar(master, state), e.denied_amount, out)
    state.denied += e.denied_amount
    state.ar_balance -= e.denied_amount


HANDLERS: dict[str, Handler] = {
    "ChargePosted": charge_posted,
    "ChargeReversed": charge_reversed,
    "ClaimSubmitted": claim_submitted,
    "ClaimAcknowledged": claim_status,
    "ClaimRejected": claim_status,
    "ClaimVoided": claim_status,
    "PaymentPosted": payment_posted,
    "AdjustmentPosted": adjustment_posted,
    "DenialReceived": denial_received,
    "PaymentReversed": payment_reversed,
}


def _needs_claim(state: ProcessState, e: _NamesClaim) -> str | None:
    claim_id = e.claim_id
    if claim_id is None:
        if state.claims:
            return None
        self_pay = state.payer_id is None or state.payer_class is FinancialClass.SELF_PAY
        if self_pay and isinstance(e, rv.PaymentPosted):  # a patient pays without any claim
            return None if state.is_placed else "scheduling or encounter"
        return "ClaimSubmitted"
    return None if claim_id in state.claims else f"ClaimSubmitted {claim_id}"


WAITS: dict[str, WaitsFor] = {
    "ChargePosted": lambda s, e: None if s.arrived_at is not None else "EncounterStarted",
    "ChargeReversed": lambda s, e: (
        None
        if f"charge:{e.reverses_charge_id}" in s.journals
        else f"ChargePosted {e.reverses_charge_id}"
    ),
    "ClaimSubmitted": lambda s, e: None if s.is_placed else "scheduling or encounter",
    "PaymentReversed": lambda s, e: (
        None
        if f"payment:{e.reverses_remittance_id}" in s.journals
        else f"PaymentPosted {e.reverses_remittance_id}"
    ),
    **{
        name: _needs_claim
        for name in (
            "ClaimAcknowledged",
            "ClaimRejected",
            "ClaimVoided",
            "PaymentPosted",
            "AdjustmentPosted",
            "DenialReceived",
        )
    },
}
