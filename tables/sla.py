"""Stage, SLA deadlines and stage-duration metrics, all derived from the instance's milestones.

Each SLA is a deadline and the business time it was met (None while unmet), computed from the state:
- AUTH_MISSING_48H_BEFORE_SURGERY: a payer-billed surgical case needs an approved authorization
  48 h before its (latest) scheduled start;
- CHARGE_LAG_3D: a first charge within 3 days of discharge;
- CLAIM_NOT_SUBMITTED_7D: a first claim within 7 days of discharge (DNFB);
- NO_REMITTANCE_30D: a first payment, adjustment or denial within 30 days of the first claim.
A breach is an unmet deadline at event time `now`, or a deadline met too late; either way it is
reported once (`state.breached`). Cancelled instances have no SLAs. Because all of this reads facts
(earliest milestone times), arrival order cannot change what is breached, only when it is noticed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from s2c.tables.outputs import MetricObservation, SlaBreached, stable_id
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import ProcessStage, SlaKind

Deadline = tuple[tuple[SlaKind, str], datetime, datetime | None]  # (SLA, its name), due, met

# name, start milestone, end milestone: each observed once per instance, when both are first known
# (read also by `s2c report`, which derives them from final states when no observations exist)
STAGE_METRICS = (
    ("schedule_to_encounter_seconds", "scheduled_at", "arrived_at"),
    ("charge_lag_seconds", "discharged_at", "first_charge_at"),
    ("discharge_to_claim_seconds", "discharged_at", "first_claim_at"),
    ("claim_to_first_payment_seconds", "first_claim_at", "first_payment_at"),
    ("claim_to_denial_seconds", "first_claim_at", "first_denial_at"),
)
_METRIC_NAMES = frozenset(name for name, _, _ in STAGE_METRICS)


def derive_stage(s: ProcessState) -> ProcessStage:
    if s.cancelled_at is not None:
        return ProcessStage.CANCELLED
    live_claims = [c for c in s.claims.values() if c in ("SUBMITTED", "ACKNOWLEDGED")]
    remitted = s.paid or s.adjusted or s.denied
    if remitted and s.ar_balance == 0:
        return ProcessStage.CLOSED
    if live_claims or remitted:
        if s.paid > 0:
            return ProcessStage.PARTIALLY_PAID if s.denied > 0 else ProcessStage.PAID
        if s.denied > 0:
            return ProcessStage.DENIED
        if "ACKNOWLEDGED" in live_claims:
            return ProcessStage.ACKNOWLEDGED
        if live_claims:
            return ProcessStage.CLAIM_SUBMITTED
    if s.journals and s.charged > 0:
        return ProcessStage.CHARGED
    if s.discharged_at is not None:
        return ProcessStage.DISCHARGED
    if s.arrived_at is not None:
        return ProcessStage.IN_ENCOUNTER
    if s.authorized_at is not None:
        return ProcessStage.AUTHORIZED
    return ProcessStage.SCHEDULED


_AUTH_LEAD = timedelta(hours=48)
_CHARGE_LAG = timedelta(days=3)
_CLAIM_LAG = timedelta(days=7)
_REMIT_LAG = timedelta(days=30)
# Each SLA's name as stored in `breached`, looked up once: `.value` is a slow enum property and
# these run twice for every event (`check_slas`, then `next_sla_deadline` for the timer).
_AUTH, _CHARGE, _CLAIM, _REMIT = (
    (kind, kind.value)
    for kind in (
        SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY,
        SlaKind.CHARGE_LAG_3D,
        SlaKind.CLAIM_NOT_SUBMITTED_7D,
        SlaKind.NO_REMITTANCE_30D,
    )
)


def deadlines(s: ProcessState) -> list[Deadline]:
    if s.cancelled_at is not None:
        return []
    out: list[Deadline] = []
    if s.scheduled_start is not None and s.payer_id and s.process_id.startswith("CASE-"):
        out.append((_AUTH, s.scheduled_start - _AUTH_LEAD, s.authorized_at))
    if s.discharged_at is not None:
        out.append((_CHARGE, s.discharged_at + _CHARGE_LAG, s.first_charge_at))
        out.append((_CLAIM, s.discharged_at + _CLAIM_LAG, s.first_claim_at))
    if s.first_claim_at is not None:
        remitted = [t for t in (s.first_payment_at, s.first_denial_at, s.first_remit_at) if t]
        out.append((_REMIT, s.first_claim_at + _REMIT_LAG, min(remitted) if remitted else None))
    return out


def next_sla_deadline(s: ProcessState) -> datetime | None:
    breached = s.breached
    return min(
        (d for (_, name), d, met in deadlines(s) if met is None and name not in breached),
        default=None,
    )


def check_slas(s: ProcessState, now: datetime, late_only: bool = False) -> list[SlaBreached]:
    """Breaches not yet reported. `late_only` reports only deadlines met too late (order-proof)."""
    found = []
    for (kind, name), deadline, met in deadlines(s):
        if name in s.breached:
            continue
        late = met is not None and met > deadline
        if late or (not late_only and met is None and now >= deadline):
            s.breached.add(name)
            found.append(
                SlaBreached(
                    breach_id=stable_id("sla", s.process_id, name),
                    process_id=s.process_id,
                    sla=kind,
                    deadline=deadline,
                    detected_at=now,
                    site_id=s.site_id or "",
                    service_line_id=s.service_line_id or "",
                    payer_class=s.payer_class,
                )
            )
    return found


def labels(s: ProcessState) -> tuple[tuple[str, str], ...]:
    """Metric labels: site, service line, payer class; never anything about the patient."""
    return (
        ("site_id", s.site_id or ""),
        ("service_line_id", s.service_line_id or ""),
        ("payer_class", s.payer_class.value if s.payer_class else ""),
    )


def stage_durations(s: ProcessState) -> list[MetricObservation]:
    """Each stage duration once, as soon as both of its milestones are known."""
    if s.observed.issuperset(_METRIC_NAMES):
        return []  # all reported: the case of most events in an instance's life
    found = []
    for name, start_field, end_field in STAGE_METRICS:
        if name in s.observed:
            continue
        start, end = getattr(s, start_field), getattr(s, end_field)
        if start is not None and end is not None:
            s.observed.add(name)
            found.append(
                MetricObservation(name, s.process_id, (end - start).total_seconds(), labels(s))
            )
    return found
