"""The four SLAs on event time: each breached once, detected by `on_deadline` or by a late fact."""

from __future__ import annotations

from datetime import timedelta

from core_world import (
    DAY,
    SURGERY_DAY,
    T0,
    charge,
    claim,
    encounter_completed,
    encounter_started,
    knee_case_scheduled,
    payment,
)

from s2c.tables.core import next_deadline, on_deadline, transition
from s2c.tables.outputs import MetricObservation, SlaBreached
from s2c.tables.vocabulary import FinancialClass, SlaKind


def breaches(outputs: list) -> list[SlaKind]:
    return [o.sla for o in outputs if isinstance(o, SlaBreached)]


def test_surgery_without_authorization_48h_before_is_breached_once(master, feed) -> None:
    state, _ = transition(None, knee_case_scheduled(feed), master, T0)
    due = T0 + timedelta(days=12)
    assert next_deadline(state) == due
    assert breaches(on_deadline(state, master, due - timedelta(minutes=1))[1]) == []
    state, out = on_deadline(state, master, due)
    (breach,) = [o for o in out if isinstance(o, SlaBreached)]
    assert (breach.sla, breach.site_id, breach.service_line_id, breach.payer_class) == (
        SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY,
        "RIVERSIDE",
        "ORTHO",
        FinancialClass.COMMERCIAL,
    )
    assert breaches(on_deadline(state, master, due + timedelta(days=1))[1]) == []


def test_rescheduling_moves_the_authorization_deadline(master, feed) -> None:
    state, _ = transition(None, knee_case_scheduled(feed), master, T0)
    state, _ = transition(
        state,
        feed(
            "CaseRescheduled",
            2,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=30),
            planned_minutes=90,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-3",
        ),
        master,
        T0,
    )
    assert next_deadline(state) == T0 + timedelta(days=28)


def test_cancelled_case_has_no_deadlines(master, feed) -> None:
    state, _ = transition(None, knee_case_scheduled(feed), master, T0)
    state, _ = transition(state, feed("CaseCancelled", 1, case_id="C-1001", reason="x"), master, T0)
    assert next_deadline(state) is None


def _discharged(master, feed):
    state, _ = transition(None, knee_case_scheduled(feed), master, T0)
    state, _ = transition(
        state,
        feed(
            "AuthorizationApproved",
            1,
            authorization_id="AUTH-1",
            appointment_id=None,
            case_id="C-1001",
            payer_id="AETNA-COMM",
            auth_number="A1",
        ),
        master,
        T0,
    )
    state, _ = transition(state, encounter_started(feed), master, T0)
    state, _ = transition(state, encounter_completed(feed), master, T0)
    return state, T0 + timedelta(hours=SURGERY_DAY + 6)


def test_charge_lag_and_dnfb_are_breached_when_nothing_arrives(master, feed) -> None:
    state, discharged = _discharged(master, feed)
    state, out = on_deadline(state, master, discharged + timedelta(days=3))
    assert breaches(out) == [SlaKind.CHARGE_LAG_3D]
    state, out = on_deadline(state, master, discharged + timedelta(days=7))
    assert breaches(out) == [SlaKind.CLAIM_NOT_SUBMITTED_7D]


def test_a_charge_posted_late_is_a_breach_even_if_no_timer_fired(master, feed) -> None:
    state, _ = _discharged(master, feed)
    late = SURGERY_DAY + 6 + 4 * DAY
    state, out = transition(state, charge(feed, late), master, T0 + timedelta(hours=late))
    assert breaches(out) == [SlaKind.CHARGE_LAG_3D]
    lag = next(
        o for o in out if isinstance(o, MetricObservation) and o.metric == "charge_lag_seconds"
    )
    assert lag.value == 4 * 86400 and ("payer_class", "COMMERCIAL") in lag.labels


def test_no_remittance_30_days_after_the_claim(master, feed) -> None:
    state, _ = _discharged(master, feed)
    billed_at = SURGERY_DAY + 2 * DAY
    state, _ = transition(state, charge(feed, SURGERY_DAY + 10), master, T0)
    state, out = transition(state, claim(feed, billed_at), master, T0)
    assert breaches(out) == []
    assert next_deadline(state) == T0 + timedelta(hours=billed_at, days=30)
    state, out = on_deadline(state, master, T0 + timedelta(hours=billed_at, days=30))
    assert breaches(out) == [SlaKind.NO_REMITTANCE_30D]
    state, out = transition(state, payment(feed, billed_at + 40 * DAY, "100.00"), master, T0)
    assert breaches(out) == [] and next_deadline(state) is None


def test_met_on_time_means_no_breach_and_no_timer(master, feed) -> None:
    state, discharged = _discharged(master, feed)
    state, _ = transition(state, charge(feed, SURGERY_DAY + 30), master, T0)
    state, _ = transition(state, claim(feed, SURGERY_DAY + 2 * DAY), master, T0)
    state, _ = transition(state, payment(feed, SURGERY_DAY + 20 * DAY, "4200.00"), master, T0)
    assert next_deadline(state) is None
    assert breaches(on_deadline(state, master, discharged + timedelta(days=400))[1]) == []
