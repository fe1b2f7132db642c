"""Conformance to the reference schedule-to-cash path (tables/conformance.py), one kind at a time.

A knee arthroscopy for Aetna at Riverside, booked, authorized, operated, charged, billed and paid
in the reference order, holds no deviation; each test moves one step out of that order (or loops
it) and checks the instance names the deviation, the event it blames and its business time, and
that the workers' metric gets one observation labelled by kind and site, never the patient. The
negative twin of each keeps the order and only the arrival changes, which is no deviation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core_world import (
    DAY,
    SURGERY_DAY,
    T0,
    Feed,
    charge,
    claim,
    encounter_completed,
    encounter_started,
    knee_case_scheduled,
    payment,
)

from s2c.tables.codec import dumps, loads
from s2c.tables.events import Event
from s2c.tables.outputs import MetricObservation
from s2c.tables.process import ProcessState
from s2c.tables.replay import Pipeline

CASE = "CASE-C-1001"


def _auth(feed: Feed, schema: str, hours: float, **more: Any) -> Event:
    return feed(
        schema,
        hours,
        authorization_id="AUTH-1",
        appointment_id=None,
        case_id="C-1001",
        payer_id="AETNA-COMM",
        **more,
    )


def _completed(feed: Feed, hours: float = SURGERY_DAY + 3) -> Event:
    return feed("CaseCompleted", hours, case_id="C-1001", actual_minutes=95, supplies_used=[])


def _rescheduled(feed: Feed, hours: float, days: float) -> Event:
    return feed(
        "CaseRescheduled",
        hours,
        case_id="C-1001",
        scheduled_start=T0 + timedelta(days=days),
        planned_minutes=90,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )


def _rejected(feed: Feed, hours: float) -> Event:
    return feed(
        "ClaimRejected",
        hours,
        claim_id="CLM-1",
        account_number="ACCT-7001",
        status_category="A7",
        status_code="21",
        reason="invalid subscriber id",
    )


def _reversed(feed: Feed, hours: float) -> Event:
    return feed(
        "ChargeReversed",
        hours,
        charge_id="CHG-1R",
        account_number="ACCT-7001",
        reverses_charge_id="CHG-1",
        amount="6800.00",
    )


def _run(pipeline: Pipeline, events: list[Event]) -> list[MetricObservation]:
    seen = []
    for event in events:
        seen += [o for o in pipeline.feed(event) if isinstance(o, MetricObservation)]
    return [o for o in seen if o.metric == "path_deviations"]


def _kinds(pipeline: Pipeline) -> list[str]:
    return [d.kind for d in pipeline.processes[CASE].deviations]


def _reference(feed: Feed) -> dict[str, Event]:
    """The knee case in the reference order, by step name."""
    surgery = SURGERY_DAY
    return {
        "booked": knee_case_scheduled(feed),
        "requested": _auth(feed, "AuthorizationRequested", 2, procedure_codes=["29881"]),
        "approved": _auth(feed, "AuthorizationApproved", 30, auth_number="A123"),
        "arrived": encounter_started(feed),
        "completed": _completed(feed),
        "discharged": encounter_completed(feed),
        "charged": charge(feed, surgery + 30),
        "claimed": claim(feed, surgery + 2 * DAY),
        "paid": payment(feed, surgery + 20 * DAY, "4200.00"),
    }


def test_the_reference_path_holds_no_deviation(pipeline, feed) -> None:
    assert _run(pipeline, list(_reference(feed).values())) == []
    assert _kinds(pipeline) == []


def test_a_case_completed_before_its_approval_skipped_the_authorization(pipeline, feed) -> None:
    steps = _reference(feed)
    steps["approved"] = _auth(feed, "AuthorizationApproved", SURGERY_DAY + 30, auth_number="A1")
    order = ["booked", "requested", "arrived", "completed", "discharged", "approved", "charged"]
    observed = _run(pipeline, [steps[name] for name in order])
    (deviation,) = pipeline.processes[CASE].deviations
    assert deviation.kind == "SKIPPED_AUTHORIZATION"
    assert deviation.event_id == steps["completed"].event_id
    assert deviation.at == steps["completed"].occurred_at
    (metric,) = observed
    assert dict(metric.labels) == {
        "kind": "SKIPPED_AUTHORIZATION",
        "site_id": "RIVERSIDE",
        "service_line_id": "ORTHO",
        "payer_class": "COMMERCIAL",
    }
    assert "ACCT-7001" not in dumps(metric.labels) and CASE not in dumps(metric.labels)


def test_a_discharge_arriving_before_the_case_completion_still_blames_the_completion(
    pipeline, feed
) -> None:
    """The discharge (EncounterCompleted) overtakes the case's completion in the feed: the
    deviation, found on the discharge, moves to the completion when it arrives (the event the
    generator's truth names, and the one an in-order feed blames); counted once."""
    steps = _reference(feed)
    steps["approved"] = _auth(feed, "AuthorizationApproved", SURGERY_DAY + 30, auth_number="A1")
    order = ["booked", "requested", "arrived", "discharged", "completed", "approved", "charged"]
    observed = _run(pipeline, [steps[name] for name in order])
    (deviation,) = pipeline.processes[CASE].deviations
    assert deviation == (
        "SKIPPED_AUTHORIZATION",
        steps["completed"].event_id,
        steps["completed"].occurred_at,
    )
    assert len(observed) == 1


def test_a_denied_authorization_and_the_case_done_anyway_is_skipped_too(pipeline, feed) -> None:
    steps = _reference(feed)
    denied = _auth(feed, "AuthorizationDenied", 30, reason="not medically necessary")
    _run(pipeline, [steps["booked"], steps["requested"], denied, steps["arrived"]])
    _run(pipeline, [steps["completed"]])
    assert _kinds(pipeline) == ["SKIPPED_AUTHORIZATION"]


def test_an_approval_that_arrives_late_but_is_dated_in_time_is_no_deviation(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "requested", "approved", "arrived", "completed", "discharged"]
    _run(pipeline, [steps[name] for name in order])
    assert _kinds(pipeline) == []


def test_a_claim_dated_before_the_first_charge_is_claim_before_charge(pipeline, feed) -> None:
    steps = _reference(feed)
    early_claim = claim(feed, SURGERY_DAY + 10)  # before the charge at +30 h
    order = ["booked", "approved", "arrived", "completed", "discharged"]
    _run(pipeline, [steps[n] for n in order] + [early_claim, steps["charged"]])
    (deviation,) = pipeline.processes[CASE].deviations
    assert deviation.kind == "CLAIM_BEFORE_CHARGE"
    assert deviation.event_id == early_claim.event_id  # the step out of place
    assert deviation.at == early_claim.occurred_at


def test_claim_before_charge_is_found_whichever_arrives_first(pipeline, feed) -> None:
    steps = _reference(feed)
    early_claim = claim(feed, SURGERY_DAY + 10)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    _run(pipeline, [steps[n] for n in order] + [early_claim])
    (deviation,) = pipeline.processes[CASE].deviations
    assert (deviation.kind, deviation.event_id) == ("CLAIM_BEFORE_CHARGE", early_claim.event_id)


def test_a_charge_arriving_after_the_claim_but_dated_before_is_in_order(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "claimed", "charged"]
    _run(pipeline, [steps[n] for n in order])
    assert _kinds(pipeline) == []


def test_a_payment_dated_before_the_claim_is_payment_before_claim(pipeline, feed) -> None:
    steps = _reference(feed)
    early = payment(feed, SURGERY_DAY + 40, "4200.00")  # the claim is at +2 days
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    observed = _run(pipeline, [steps[n] for n in order] + [early, steps["claimed"]])
    (deviation,) = pipeline.processes[CASE].deviations
    assert (deviation.kind, deviation.event_id) == ("PAYMENT_BEFORE_CLAIM", early.event_id)
    assert len(observed) == 1


def test_a_payment_that_overtakes_its_claim_in_the_feed_only_is_in_order(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    _run(pipeline, [steps[n] for n in order] + [steps["paid"], steps["claimed"]])
    assert _kinds(pipeline) == []


def test_every_reschedule_after_the_first_is_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    moves = [_rescheduled(feed, 5, 15), _rescheduled(feed, 6, 16), _rescheduled(feed, 7, 14)]
    observed = _run(pipeline, [steps["booked"], *moves])
    assert _kinds(pipeline) == ["REWORK_RESCHEDULE", "REWORK_RESCHEDULE"]
    assert [d.event_id for d in pipeline.processes[CASE].deviations] == [
        moves[1].event_id,
        moves[2].event_id,
    ]
    assert len(observed) == 2


def test_one_reschedule_is_no_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    _run(pipeline, [steps["booked"], _rescheduled(feed, 5, 15)])
    assert _kinds(pipeline) == []


def test_a_reschedule_refused_after_the_cancellation_is_not_counted(pipeline, feed) -> None:
    steps = _reference(feed)
    cancel = feed("CaseCancelled", 4, case_id="C-1001", reason="patient request")
    _run(pipeline, [steps["booked"], _rescheduled(feed, 3, 15), cancel, _rescheduled(feed, 5, 16)])
    assert _kinds(pipeline) == []


def test_a_claim_sent_again_after_its_rejection_is_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged", "claimed"]
    corrected = claim(feed, SURGERY_DAY + 4 * DAY, claim_id="CLM-2")
    _run(pipeline, [steps[n] for n in order] + [_rejected(feed, SURGERY_DAY + 3 * DAY), corrected])
    (deviation,) = pipeline.processes[CASE].deviations
    assert (deviation.kind, deviation.event_id) == ("REWORK_CLAIM", corrected.event_id)


def test_a_rejected_claim_not_sent_again_is_no_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged", "claimed"]
    _run(pipeline, [steps[n] for n in order] + [_rejected(feed, SURGERY_DAY + 3 * DAY)])
    assert _kinds(pipeline) == []


def test_a_charge_reversed_and_posted_again_is_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    again = charge(feed, SURGERY_DAY + 40, charge_id="CHG-2")
    _run(pipeline, [steps[n] for n in order] + [_reversed(feed, SURGERY_DAY + 35), again])
    (deviation,) = pipeline.processes[CASE].deviations
    assert (deviation.kind, deviation.event_id) == ("REWORK_CHARGE", again.event_id)


def test_a_reversal_alone_or_a_charge_dated_before_it_is_no_rework(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    second_line = charge(feed, SURGERY_DAY + 31, charge_id="CHG-2", code="20610")
    _run(pipeline, [steps[n] for n in order] + [_reversed(feed, SURGERY_DAY + 35), second_line])
    assert _kinds(pipeline) == []


def test_deviations_survive_the_state_store_and_old_states_still_load(pipeline, feed) -> None:
    _run(
        pipeline, [knee_case_scheduled(feed), _rescheduled(feed, 5, 15), _rescheduled(feed, 6, 16)]
    )
    state = pipeline.processes[CASE]
    stored = dumps(state.to_dict())
    assert '"deviations":[{"kind":"REWORK_RESCHEDULE"' in stored
    again = ProcessState.from_dict(loads(stored))
    assert again.deviations == state.deviations and again.reschedules == 2
    old = loads(stored)
    for name in ("deviations", "reschedules", "auth_requested_at", "claim_rejected_at"):
        del old[name]  # a state stored before conformance existed
    older = ProcessState.from_dict(old)
    assert older.deviations == () and older.reschedules == 0
    assert older.open_items == state.open_items


def test_a_reversal_arriving_after_the_repost_still_names_the_repost(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged"]
    again = charge(feed, SURGERY_DAY + 40, charge_id="CHG-2")
    late_reversal = _reversed(feed, SURGERY_DAY + 35)
    _run(pipeline, [steps[n] for n in order] + [again, late_reversal])
    (deviation,) = pipeline.processes[CASE].deviations
    assert deviation == ("REWORK_CHARGE", again.event_id, again.occurred_at)


def test_a_rejection_arriving_after_the_corrected_claim_still_names_it(pipeline, feed) -> None:
    steps = _reference(feed)
    order = ["booked", "approved", "arrived", "completed", "discharged", "charged", "claimed"]
    corrected = claim(feed, SURGERY_DAY + 4 * DAY, claim_id="CLM-2")
    _run(pipeline, [steps[n] for n in order] + [corrected, _rejected(feed, SURGERY_DAY + 3 * DAY)])
    (deviation,) = pipeline.processes[CASE].deviations
    assert deviation == ("REWORK_CLAIM", corrected.event_id, corrected.occurred_at)


def test_the_workers_count_deviations_by_kind_and_site(pipeline, feed) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from s2c.streams.metrics import PipelineMetrics
    from s2c.streams.sink import observe

    moves = [_rescheduled(feed, 5, 15), _rescheduled(feed, 6, 16), _rescheduled(feed, 7, 14)]
    observed = _run(pipeline, [knee_case_scheduled(feed), *moves])
    metrics = PipelineMetrics(CollectorRegistry())
    for item in observed:
        observe(metrics, item)
    labels = {
        "kind": "REWORK_RESCHEDULE",
        "site": "RIVERSIDE",
        "service_line": "ORTHO",
        "payer_class": "COMMERCIAL",
    }
    sample = metrics.registry.get_sample_value("s2c_path_deviations_total", labels)
    assert sample == 2.0
    exposed = generate_latest(metrics.registry).decode()
    assert "C-1001" not in exposed and "ACCT-7001" not in exposed
