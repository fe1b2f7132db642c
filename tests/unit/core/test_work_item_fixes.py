"""Work items the business closes itself (tables/workitems.py): Riverside's knee arthroscopy for
Aetna (case C-1001, claim CLM-1) meets a denial, a rejected claim, a denied authorization and
a supply off the preference card, and the event that fixes each one emits the notice that
resolves it; events that fix nothing close nothing."""

from __future__ import annotations

from core_world import DAY, IDS, SURGERY_DAY, Feed, claim, denial, knee_case_through_claim, payment

from s2c.tables.outputs import WorkQueueException
from s2c.tables.process import ProcessState
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind

REMIT = SURGERY_DAY + 20 * DAY


def items(outputs: list, kind: ExceptionKind) -> list[WorkQueueException]:
    return [o for o in outputs if isinstance(o, WorkQueueException) and o.kind is kind]


def raised(outputs: list, kind: ExceptionKind) -> WorkQueueException:
    (item,) = [w for w in items(outputs, kind) if w.resolves_exception_id is None]
    return item


def notices(outputs: list, kind: ExceptionKind) -> list[WorkQueueException]:
    return [w for w in items(outputs, kind) if w.resolves_exception_id is not None]


def billed(pipeline: Pipeline, feed: Feed) -> None:
    for event in knee_case_through_claim(feed):
        pipeline.feed(event)


def test_a_payment_on_a_later_remittance_resolves_the_denial(pipeline, feed) -> None:
    billed(pipeline, feed)
    denied = raised(pipeline.feed(denial(feed, REMIT, "6800.00")), ExceptionKind.DENIAL)
    paid = pipeline.feed(payment(feed, REMIT + 30 * DAY, "4200.00", remittance_id="ERA-2"))
    (notice,) = notices(paid, ExceptionKind.DENIAL)
    assert notice.resolves_exception_id == denied.exception_id
    assert notice.event_type == "PaymentPosted"
    assert notice.site_id == "RIVERSIDE" and "later remittance" in notice.reason
    assert pipeline.processes["CASE-C-1001"].fixable == {}
    # a second payment finds nothing left to close
    again = pipeline.feed(payment(feed, REMIT + 31 * DAY, "10.00", remittance_id="ERA-3"))
    assert notices(again, ExceptionKind.DENIAL) == []


def test_the_other_lines_of_the_denials_own_remittance_fix_nothing(pipeline, feed) -> None:
    billed(pipeline, feed)
    pipeline.feed(denial(feed, REMIT, "1200.00"))
    same_remit = pipeline.feed(payment(feed, REMIT + 0.001, "4200.00"))
    assert notices(same_remit, ExceptionKind.DENIAL) == []
    assert len(pipeline.processes["CASE-C-1001"].fixable) == 1


def test_a_payment_of_another_claim_does_not_resolve_the_denial(pipeline, feed) -> None:
    billed(pipeline, feed)
    pipeline.feed(denial(feed, REMIT, "6800.00"))
    pipeline.feed(claim(feed, REMIT + DAY, claim_id="CLM-2"))
    other = payment(feed, REMIT + 30 * DAY, "4200.00", remittance_id="ERA-2", claim_id="CLM-2")
    assert notices(pipeline.feed(other), ExceptionKind.DENIAL) == []


def test_the_payer_taking_the_denial_back_resolves_it(pipeline, feed) -> None:
    billed(pipeline, feed)
    denied = raised(pipeline.feed(denial(feed, REMIT, "6800.00")), ExceptionKind.DENIAL)
    back = pipeline.feed(denial(feed, REMIT + 2 * DAY, "-6800.00", denial_id="DEN-1R"))
    (notice,) = notices(back, ExceptionKind.DENIAL)
    assert notice.resolves_exception_id == denied.exception_id


def test_a_reposted_payment_after_a_reversal_does_not_resolve_a_line_denial(pipeline, feed) -> None:
    billed(pipeline, feed)
    pipeline.feed(denial(feed, REMIT, "1200.00"))
    pipeline.feed(payment(feed, REMIT + 0.001, "4200.00"))
    pipeline.feed(
        feed(
            "PaymentReversed",
            REMIT + 20 * DAY,
            reversal_id="RV-1",
            account_number="ACCT-7001",
            claim_id="CLM-1",
            payer_id="AETNA-COMM",
            reverses_remittance_id="ERA-1",
            amount="4200.00",
        )
    )
    reposted = pipeline.feed(payment(feed, REMIT + 22 * DAY, "4200.00", remittance_id="ERA-2"))
    assert notices(reposted, ExceptionKind.DENIAL) == []


def test_an_acceptance_of_the_corrected_claim_resolves_the_rejection(pipeline, feed) -> None:
    billed(pipeline, feed)
    rejected = pipeline.feed(
        feed(
            "ClaimRejected",
            SURGERY_DAY + 3 * DAY,
            claim_id="CLM-1",
            account_number="ACCT-7001",
            status_category="A7",
            status_code="21",
            reason="Missing or invalid information",
        )
    )
    item = raised(rejected, ExceptionKind.CLAIM_REJECTED)
    pipeline.feed(claim(feed, SURGERY_DAY + 5 * DAY, claim_id="CLM-2"))
    assert notices(pipeline.feed(payment(feed, REMIT, "1.00")), ExceptionKind.CLAIM_REJECTED) == []
    accepted = pipeline.feed(
        feed(
            "ClaimAcknowledged",
            SURGERY_DAY + 6 * DAY,
            claim_id="CLM-2",
            account_number="ACCT-7001",
            status_category="A1",
            payer_claim_control_number="PCN-2",
        )
    )
    (notice,) = notices(accepted, ExceptionKind.CLAIM_REJECTED)
    assert notice.resolves_exception_id == item.exception_id
    assert notice.event_type == "ClaimAcknowledged"


def test_an_approval_after_the_denial_resolves_the_authorization_denial(pipeline, feed) -> None:
    def decided(schema: str, hours: float, **extra: str) -> list:
        return pipeline.feed(
            feed(
                schema,
                hours,
                authorization_id="AUTH-9",
                appointment_id=None,
                case_id="C-1001",
                payer_id="AETNA-COMM",
                **extra,
            )
        )

    billed(pipeline, feed)  # approved at hour 30: before the denial, so no fix
    denied = raised(
        decided("AuthorizationDenied", 40, reason="Not medically necessary"),
        ExceptionKind.AUTHORIZATION_DENIED,
    )
    (notice,) = notices(
        decided("AuthorizationApproved", 60, auth_number="A999"),
        ExceptionKind.AUTHORIZATION_DENIED,
    )
    assert notice.resolves_exception_id == denied.exception_id


def test_an_off_card_supply_is_resolved_when_the_account_ties_out(pipeline, feed) -> None:
    events = knee_case_through_claim(feed)
    for event in events[:4]:  # booked, authorized, in surgery, discharged
        pipeline.feed(event)
    completed = pipeline.feed(
        feed(
            "CaseCompleted",
            SURGERY_DAY + 3,
            case_id="C-1001",
            actual_minutes=80,
            supplies_used=[{"item_id": "SUTURE-ANCHOR", "quantity": 2}],
        )
    )
    item = raised(completed, ExceptionKind.TIE_OUT)
    for event in events[4:]:
        assert notices(pipeline.feed(event), ExceptionKind.TIE_OUT) == []
    assert notices(pipeline.feed(payment(feed, REMIT, "4200.00")), ExceptionKind.TIE_OUT) == []
    tied = pipeline.feed(
        feed(
            "AdjustmentPosted",
            REMIT + 1,
            adjustment_id="ADJ-1",
            account_number="ACCT-7001",
            claim_id="CLM-1",
            payer_id="AETNA-COMM",
            group_code="CO",
            carc="45",
            rarc=None,
            amount="2600.00",
        )
    )
    assert pipeline.processes["CASE-C-1001"].ar_balance == 0
    (notice,) = notices(tied, ExceptionKind.TIE_OUT)
    assert notice.resolves_exception_id == item.exception_id
    assert "ties out" in notice.reason


def test_notices_are_the_same_in_a_rerun_and_after_state_reloads(master, feed) -> None:
    """The notice ids depend only on the item and the fixing event: a rerun, or the live workers
    loading the state from its table between events, emit the same records."""
    events = [
        *knee_case_through_claim(feed),
        denial(feed, REMIT, "6800.00"),
        payment(feed, REMIT + 30 * DAY, "4200.00", remittance_id="ERA-2"),
    ]

    def run(reload: bool) -> list:
        p, out = Pipeline(master, IDS), []
        for event in events:
            out += p.feed(event)
            if reload:
                for key, state in list(p.processes.items()):
                    p.processes[key] = ProcessState.from_dict(state.to_dict())
        return [w.to_record() for w in out if isinstance(w, WorkQueueException)]

    first = run(False)
    assert first == run(True)
    assert [w["resolves_exception_id"] is not None for w in first] == [False, True]
