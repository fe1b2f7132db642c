"""Conformance of each instance to the reference schedule-to-cash path (tables/README.md).

The reference path of a visit or a surgical case, in business time:

    scheduled -> (authorization requested -> approved) -> encounter / case completed
      -> charge -> claim submitted -> acknowledged -> payment / adjustment / denial

`observe(state, event, produced)` is called by the core once an event is applied (never for a
parked or refused one) and judges that event against what the instance already knows, from
business times, so an event that merely arrived late is no deviation. Deviations:

- `SKIPPED_AUTHORIZATION`: an authorization was asked for (requested, or denied) and the case
  was completed (a visit: discharged) without an approval dated at or before that;
- `CLAIM_BEFORE_CHARGE`: the first claim is dated before the first charge (found by whichever
  of the two is applied second, blaming the claim; a claim never followed by any charge is
  reconciliation's);
- `PAYMENT_BEFORE_CLAIM`: a payer's payment dated before the instance's first claim;
- rework loops, each repetition once: `REWORK_RESCHEDULE` (every reschedule after the first),
  `REWORK_CLAIM` (a claim submitted after a claim of the instance was rejected),
  `REWORK_CHARGE` (a charge posted after a charge of the instance was reversed).

The first three are reported once per instance. Each deviation is kept in the state
(`state.deviations`, at most `MAX_DEVIATIONS`) as `(kind, event_id, at)`, `at` being the event's
business time, and returned as a `MetricObservation` "path_deviations" labelled by kind, site,
service line and payer class (never the patient), which the workers count in
`s2c_path_deviations_total`. Live and replay call the same function from the same core step.

What the core cannot see is no deviation here: a case whose payer needs an authorization that was
never asked for (payer master data carries no prior-authorization flag) shows up as the 48 h
authorization SLA and as a CO-197 denial instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s2c.tables import events as ev
from s2c.tables import events_revenue as rv
from s2c.tables.handling import Output, earliest
from s2c.tables.outputs import MetricObservation, WorkQueueException
from s2c.tables.process import Deviation, ProcessState
from s2c.tables.sla import labels
from s2c.tables.vocabulary import ExceptionKind, FinancialClass

MAX_DEVIATIONS = 32  # kept per instance; the metric counts every one

SKIPPED_AUTHORIZATION = "SKIPPED_AUTHORIZATION"
CLAIM_BEFORE_CHARGE = "CLAIM_BEFORE_CHARGE"
PAYMENT_BEFORE_CLAIM = "PAYMENT_BEFORE_CLAIM"
REWORK_RESCHEDULE = "REWORK_RESCHEDULE"
REWORK_CLAIM = "REWORK_CLAIM"
REWORK_CHARGE = "REWORK_CHARGE"
KINDS = (
    SKIPPED_AUTHORIZATION,
    CLAIM_BEFORE_CHARGE,
    PAYMENT_BEFORE_CLAIM,
    REWORK_RESCHEDULE,
    REWORK_CLAIM,
    REWORK_CHARGE,
)
_ONCE = frozenset((SKIPPED_AUTHORIZATION, CLAIM_BEFORE_CHARGE, PAYMENT_BEFORE_CLAIM))
METRIC = "path_deviations"
Found = str | Deviation  # a kind blaming the event judged, or a deviation blaming another


def observe(
    state: ProcessState, event: ev.Event, produced: list[Output], out: list[Output]
) -> None:
    """Judge the applied `event` (its handler's outputs `produced`) against the reference path;
    append what it reveals to `out`. An event its handler refused changes nothing."""
    judge = _JUDGES.get(event.schema)
    if judge is None or _refused(event, produced):
        return
    for found in judge(state, event):
        blamed = (
            found
            if isinstance(found, Deviation)
            else Deviation(found, event.event_id, event.occurred_at)
        )
        _record(state, blamed, out)


def _refused(event: ev.Event, produced: list[Output]) -> bool:
    return any(
        isinstance(item, WorkQueueException)
        and item.kind is ExceptionKind.INVALID_TRANSITION
        and item.event_id == event.event_id
        for item in produced
    )


def _record(state: ProcessState, blamed: Deviation, out: list[Output]) -> None:
    kind = blamed.kind
    if any(
        d.kind == kind and (kind in _ONCE or d.event_id == blamed.event_id)
        for d in state.deviations
    ):
        return  # once per instance, or once per blamed event
    if len(state.deviations) < MAX_DEVIATIONS:
        state.deviations = (*state.deviations, blamed)
    out.append(MetricObservation(METRIC, state.process_id, 1.0, (("kind", kind), *labels(state))))


def _rescheduled(state: ProcessState, e: ev.Event) -> list[Found]:
    state.reschedules += 1
    return [REWORK_RESCHEDULE] if state.reschedules > 1 else []


def _authorization(state: ProcessState, e: ev.Event) -> list[Found]:
    if isinstance(e, ev.AuthorizationRequested):
        state.auth_requested_at = earliest(state.auth_requested_at, e.occurred_at)
    return _skipped_authorization(state)


def _completed(state: ProcessState, e: ev.Event) -> list[Found]:
    """A case's completion or a visit's discharge. Whichever arrives first, the skipped
    authorization blames the completion dated first (a surgical case: `CaseCompleted`, before
    its discharge), so arrival order changes neither the deviation nor the event it names."""
    state.deviations = tuple(
        Deviation(d.kind, e.event_id, e.occurred_at)
        if d.kind == SKIPPED_AUTHORIZATION and e.occurred_at < d.at
        else d
        for d in state.deviations
    )
    return _skipped_authorization(state)


def _skipped_authorization(state: ProcessState) -> list[Found]:
    needed = state.auth_requested_at is not None or state.auth_denied_at is not None
    done = [t for t in (state.completed_at, state.discharged_at) if t is not None]
    if not needed or not done:
        return []
    if state.authorized_at is None or state.authorized_at > min(done):
        return [SKIPPED_AUTHORIZATION]
    return []


def _charge_posted(state: ProcessState, e: rv.ChargePosted) -> list[Found]:
    found: list[Found] = []
    if state.charge_reversed_at is not None and state.charge_reversed_at <= e.occurred_at:
        found.append(REWORK_CHARGE)
    claim = state.first_claim_at
    if claim is not None and state.first_charge_at == e.occurred_at and claim < e.occurred_at:
        # the first charge came after the first claim: the claim is the step out of place
        sent = sorted((at, event_id) for event_id, at in state.claims_sent.values())
        # (a state stored before claims_sent existed knows no claim event: blame the charge)
        found.append(
            Deviation(CLAIM_BEFORE_CHARGE, sent[0][1], sent[0][0]) if sent else CLAIM_BEFORE_CHARGE
        )
    return found


def _charge_reversed(state: ProcessState, e: rv.ChargeReversed) -> list[Found]:
    """Charges already posted but dated after this reversal are re-posts too (the reversal
    arrived late); a charge journal's `issued_at` is its charge's business time."""
    state.charge_reversed_at = earliest(state.charge_reversed_at, e.occurred_at)
    return [
        Deviation(REWORK_CHARGE, journal.header.caused_by_event_id, journal.header.issued_at)
        for key, journal in sorted(state.journals.items())
        if key.startswith("charge:")
        and key != f"charge:{e.reverses_charge_id}"
        and journal.header.issued_at >= e.occurred_at
    ]


def _claim_submitted(state: ProcessState, e: rv.ClaimSubmitted) -> list[Found]:
    state.claims_sent[e.claim_id] = (e.event_id, e.occurred_at)
    found: list[Found] = []
    if state.claim_rejected_at is not None and state.claim_rejected_at <= e.occurred_at:
        found.append(REWORK_CLAIM)
    charge = state.first_charge_at
    if charge is not None and e.occurred_at < charge and state.first_claim_at == e.occurred_at:
        found.append(CLAIM_BEFORE_CHARGE)
    paid = state.first_payment_at
    if paid is not None and paid < e.occurred_at and state.first_claim_at == e.occurred_at:
        if state.payer_class is not FinancialClass.SELF_PAY:
            found.append(PAYMENT_BEFORE_CLAIM)
    return found


def _claim_rejected(state: ProcessState, e: rv.ClaimRejected) -> list[Found]:
    """Other claims already sent but dated after this rejection are its corrections (the
    rejection arrived late)."""
    state.claim_rejected_at = earliest(state.claim_rejected_at, e.occurred_at)
    return [
        Deviation(REWORK_CLAIM, event_id, at)
        for claim_id, (event_id, at) in sorted(state.claims_sent.items())
        if claim_id != e.claim_id and at >= e.occurred_at
    ]


def _remittance(state: ProcessState, e: ev.Event) -> list[Found]:
    found: list[Found] = []
    claim = state.first_claim_at
    if isinstance(e, rv.PaymentPosted) and claim is not None and e.occurred_at < claim:
        found.append(PAYMENT_BEFORE_CLAIM)
    return found


_JUDGES: dict[str, Callable[[ProcessState, Any], list[Found]]] = {
    "AppointmentRescheduled": _rescheduled,
    "CaseRescheduled": _rescheduled,
    "AuthorizationRequested": _authorization,
    "AuthorizationApproved": _authorization,
    "AuthorizationDenied": _authorization,
    "CaseCompleted": _completed,
    "EncounterCompleted": _completed,
    "ChargePosted": _charge_posted,
    "ChargeReversed": _charge_reversed,
    "ClaimSubmitted": _claim_submitted,
    "ClaimRejected": _claim_rejected,
    "PaymentPosted": _remittance,
    "AdjustmentPosted": _remittance,
    "DenialReceived": _remittance,
}
