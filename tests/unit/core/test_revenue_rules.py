"""Journals for charges, payments, adjustments, denials and their reversals."""

from __future__ import annotations

from decimal import Decimal

from core_world import (
    DAY,
    IDS,
    SURGERY_DAY,
    Feed,
    adjustment,
    charge,
    denial,
    knee_case_through_claim,
    payment,
)

from s2c.tables.outputs import PostJournal, WorkQueueException
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind, JournalKind, ProcessStage

LATER = SURGERY_DAY + 20 * DAY


def journals(outputs: list) -> list[PostJournal]:
    return [o for o in outputs if isinstance(o, PostJournal)]


def sides(journal: PostJournal) -> list[tuple[str, Decimal, Decimal]]:
    return [(ln.gl_account, ln.debit, ln.credit) for ln in journal.lines]


def billed(pipeline: Pipeline, feed: Feed) -> None:
    for event in knee_case_through_claim(feed):
        pipeline.feed(event)


def test_charge_reversal_is_the_exact_opposite_journal_pointing_at_the_charge(
    pipeline, feed
) -> None:
    billed(pipeline, feed)
    posted = pipeline.processes["CASE-C-1001"].journals["charge:CHG-1"]
    (reversal,) = journals(
        pipeline.feed(
            feed(
                "ChargeReversed",
                LATER,
                charge_id="CHG-1R",
                account_number="ACCT-7001",
                reverses_charge_id="CHG-1",
                amount="6800.00",
            )
        )
    )
    assert reversal.journal_kind is JournalKind.CHARGE_REVERSAL
    assert reversal.header.reverses_command_id == posted.command_id
    assert sides(reversal) == [(a, c, d) for a, d, c in sides(posted)]


def test_payment_and_contractual_adjustment_close_the_account(pipeline, feed) -> None:
    billed(pipeline, feed)
    (paid,) = journals(pipeline.feed(payment(feed, LATER, "4200.00")))
    assert sides(paid) == [
        ("1010", Decimal("4200.00"), Decimal("0.00")),
        ("1200-RIV", Decimal("0.00"), Decimal("4200.00")),
    ]
    assert paid.header.effective_date.isoformat() == "2026-04-20"
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.PAID
    pipeline.feed(adjustment(feed, LATER, "2000.00"))
    (patient_share,) = journals(
        pipeline.feed(
            adjustment(feed, LATER, "600.00", group="PR", carc="1", adjustment_id="ADJ-2")
        )
    )
    assert patient_share.journal_kind is JournalKind.PATIENT_RESPONSIBILITY
    assert patient_share.lines[0].gl_account == "1210"
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.CLOSED


def test_negative_cas_amount_posts_the_other_way_round(pipeline, feed) -> None:
    billed(pipeline, feed)
    (undo,) = journals(pipeline.feed(adjustment(feed, LATER, "-50.00")))
    assert sides(undo) == [
        ("1200-RIV", Decimal("50.00"), Decimal("0.00")),
        ("4800", Decimal("0.00"), Decimal("50.00")),
    ]


def test_denial_posts_to_the_co_reserve_of_the_site_and_opens_a_work_item(pipeline, feed) -> None:
    billed(pipeline, feed)
    out = pipeline.feed(denial(feed, LATER, "6800.00"))
    (journal,) = journals(out)
    assert journal.journal_kind is JournalKind.DENIAL
    assert sides(journal)[0] == ("4851-RIV-CO", Decimal("6800.00"), Decimal("0.00"))
    (item,) = [o for o in out if isinstance(o, WorkQueueException)]
    assert (item.kind, item.amount, "CO-50" in item.reason) == (
        ExceptionKind.DENIAL,
        Decimal("6800.00"),
        True,
    )
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.CLOSED  # written off in full


def test_partial_payment_with_a_line_denied_is_partially_paid(pipeline, feed) -> None:
    billed(pipeline, feed)
    pipeline.feed(charge(feed, SURGERY_DAY + 31, charge_id="CHG-2", amount="450.00", code="20610"))
    pipeline.feed(payment(feed, LATER, "4200.00"))
    out = pipeline.feed(denial(feed, LATER, "450.00", group="OA", carc="96"))
    assert sides(journals(out)[0])[0][0] == "4850"  # no OA row for Riverside: system-wide reserve
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.PARTIALLY_PAID


def test_payment_reversal_undoes_the_payment_and_reopens_the_balance(pipeline, feed) -> None:
    billed(pipeline, feed)
    (paid,) = journals(pipeline.feed(payment(feed, LATER, "6800.00")))
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.CLOSED
    (undo,) = journals(
        pipeline.feed(
            feed(
                "PaymentReversed",
                LATER + 24,
                reversal_id="REV-1",
                account_number="ACCT-7001",
                claim_id="CLM-1",
                payer_id="AETNA-COMM",
                reverses_remittance_id="ERA-1",
                amount="6800.00",
            )
        )
    )
    assert undo.header.reverses_command_id == paid.command_id
    assert sides(undo) == [(a, c, d) for a, d, c in sides(paid)]
    state = pipeline.processes["CASE-C-1001"]
    assert (state.ar_balance, state.stage) == (Decimal("6800.00"), ProcessStage.CLAIM_SUBMITTED)


def test_reversing_more_than_was_charged_is_refused(pipeline, feed) -> None:
    billed(pipeline, feed)
    out = pipeline.feed(
        feed(
            "ChargeReversed",
            LATER,
            charge_id="CHG-1R",
            account_number="ACCT-7001",
            reverses_charge_id="CHG-1",
            amount="9000.00",
        )
    )
    assert journals(out) == [] and out[0].kind is ExceptionKind.INVALID_TRANSITION


def test_rejected_claim_goes_to_the_work_queue_and_back_to_charged(pipeline, feed) -> None:
    billed(pipeline, feed)
    out = pipeline.feed(
        feed(
            "ClaimRejected",
            LATER,
            claim_id="CLM-1",
            account_number="ACCT-7001",
            status_category="A7",
            status_code="21",
            reason="invalid subscriber id",
        )
    )
    assert [o.kind for o in out] == [ExceptionKind.CLAIM_REJECTED]
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.CHARGED


def test_every_journal_balances(pipeline, feed) -> None:
    billed(pipeline, feed)
    out = pipeline.feed(payment(feed, LATER, "4000.00"))
    out += pipeline.feed(adjustment(feed, LATER, "2200.00"))
    out += pipeline.feed(denial(feed, LATER, "600.00", group="PI", carc="204"))
    for journal in journals(out):
        assert sum(ln.debit for ln in journal.lines) == sum(ln.credit for ln in journal.lines)
        assert journal.amount == sum(ln.debit for ln in journal.lines)


def test_self_pay_walk_in_pays_at_the_desk_without_a_claim(pipeline, feed) -> None:
    from core_world import encounter_completed, encounter_started

    pipeline.feed(
        encounter_started(
            feed,
            hours=1,
            account="ACCT-ED-2",
            case_id=None,
            department="RIV-ED",
            encounter_id="ENC-ED-2",
            payer=None,
        )
    )
    pipeline.feed(encounter_completed(feed, hours=4, account="ACCT-ED-2", encounter_id="ENC-ED-2"))
    pipeline.feed(charge(feed, 6, account="ACCT-ED-2", amount="180.00", code="99283"))
    (paid,) = journals(
        pipeline.feed(
            payment(feed, 7, "180.00", remittance_id="DESK-1", claim_id=None, account="ACCT-ED-2")
        )
    )
    assert paid.journal_kind is JournalKind.PAYMENT
    assert pipeline.processes[IDS.encounter_process_id("ACCT-ED-2")].stage is ProcessStage.CLOSED
