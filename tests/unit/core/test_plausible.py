"""Plausibility at the door (tables/plausible.py): what cannot be true is refused with a reason.

Riverside's knee arthroscopy C-1001 is booked on the morning of 2 March 2026, its charge posted two
weeks later. Feeds also send what no health system does: a booking dated 2999 or 1970, a case with
no id or a key with a line break in it, a negative charge, a claim beyond ten million. Each must be
refused naming the rule, never the value; real events, including a negative CAS adjustment (a
payer adding to what is owed), must pass.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from core_world import (
    SURGERY_DAY,
    T0,
    Feed,
    adjustment,
    charge,
    claim,
    denial,
    knee_case_scheduled,
    payment,
)

from s2c.tables.plausible import BAD_AMOUNT, BAD_KEY, IMPLAUSIBLE_TIME, Limits, refusal

LIMITS = Limits()
CLOCK = T0 + timedelta(days=30)


def dated(event, at):
    return replace(event, envelope=replace(event.envelope, occurred_at=at))


def no_id(event):
    return replace(event, envelope=replace(event.envelope, event_id=""))


def test_real_events_pass() -> None:
    feed = Feed("real")
    for event in (
        knee_case_scheduled(feed),
        charge(feed, SURGERY_DAY),
        claim(feed, SURGERY_DAY + 48),
        payment(feed, SURGERY_DAY + 500, "4200.00"),
        adjustment(feed, SURGERY_DAY + 500, "-35.00", group="OA", carc="94"),
        denial(feed, SURGERY_DAY + 500, "0.00"),
    ):
        assert refusal(event, T0, CLOCK, LIMITS) is None, event.schema


@pytest.mark.parametrize(
    ("when", "stream_time", "clock", "detail"),
    [
        (T0.replace(year=2999), None, CLOCK, "more than 31 days ahead of the clock"),
        (T0.replace(year=2999), T0, None, "more than 366 days ahead of stream time"),
        (T0.replace(year=1970), None, CLOCK, "more than 3660 days behind the clock"),
        (T0.replace(year=1970), T0, None, "more than 366 days behind stream time"),
    ],
)
def test_a_business_time_far_from_stream_time_or_the_clock_is_refused(
    when, stream_time, clock, detail
) -> None:
    refused = refusal(dated(knee_case_scheduled(Feed("t")), when), stream_time, clock, LIMITS)
    assert refused is not None
    assert (refused.reason, refused.detail) == (IMPLAUSIBLE_TIME, f"business time is {detail}")


def test_the_first_event_of_a_replay_is_judged_on_keys_and_amounts_alone() -> None:
    """No stream time yet and no clock (replay): nothing to judge its time against."""
    assert (
        refusal(dated(knee_case_scheduled(Feed("t")), T0.replace(year=2999)), None, None, LIMITS)
        is None
    )


@pytest.mark.parametrize(
    ("case_id", "detail"),
    [
        ("", "CaseScheduled.case_id is empty"),
        ("   ", "CaseScheduled.case_id is empty"),
        ("C-1001\r\nPID|", "CaseScheduled.case_id is malformed"),
        (" C-1001", "CaseScheduled.case_id is malformed"),
        ("C" * 129, "CaseScheduled.case_id is malformed"),
    ],
)
def test_an_empty_or_malformed_business_key_is_refused_without_quoting_it(case_id, detail) -> None:
    refused = refusal(knee_case_scheduled(Feed("k"), case_id=case_id), T0, CLOCK, LIMITS)
    assert refused is not None and refused.reason == BAD_KEY
    assert refused.detail.startswith(detail)
    assert "PID" not in refused.detail


def test_an_empty_account_or_event_id_is_refused() -> None:
    feed = Feed("k")
    assert refusal(charge(feed, 10, account=""), T0, CLOCK, LIMITS).detail == (
        "ChargePosted.account_number is empty"
    )
    assert refusal(
        no_id(feed("AppointmentNoShow", 3, appointment_id="A-1")), T0, CLOCK, LIMITS
    ).detail == ("AppointmentNoShow.event_id is empty")


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (charge(Feed("a"), 10, amount="-6800.00"), "ChargePosted.amount is negative"),
        (payment(Feed("a"), 10, "-4200.00"), "PaymentPosted.paid_amount is negative"),
        # negative: an 835 reversal's negated denial, still bounded
        (denial(Feed("a"), 10, "-20000000"), "DenialReceived.denied_amount is beyond 10000000"),
        (charge(Feed("a"), 10, amount="10000000.01"), "ChargePosted.amount is beyond 10000000"),
        (adjustment(Feed("a"), 10, "-20000000"), "AdjustmentPosted.amount is beyond 10000000"),
        (claim(Feed("a"), 10, total="-1.00"), "ClaimSubmitted.total_charge is negative"),
        (charge(Feed("a"), 10, amount="NaN"), "ChargePosted.amount is not a finite amount"),
    ],
)
def test_an_amount_of_the_wrong_sign_or_size_is_refused(event, detail) -> None:
    refused = refusal(event, T0, CLOCK, LIMITS)
    assert refused is not None
    assert (refused.reason, refused.detail) == (BAD_AMOUNT, detail)


def test_a_claim_line_with_a_negative_charge_is_refused() -> None:
    bad = claim(Feed("a"), 10)
    bad = replace(bad, lines=(replace(bad.lines[0], charge=Decimal("-6800.00")),))
    assert refusal(bad, T0, CLOCK, LIMITS).detail == "ClaimSubmitted.lines[0].charge is negative"
