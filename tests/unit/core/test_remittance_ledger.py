"""Pay, deny, reverse and re-pay: whatever the sequence, the ledger is the final adjudication's.

Two chains come from the 835s s2c ships, mapped by the connector and posted by the core, for
Riverside's knee arthroscopy account: Lakeshore Mutual pays a claim, reverses it and pays it
again (issue 17: the reversal used to drop its negated CAS and left A/R off by the adjustments);
Lakeshore denies a claim (no authorization, not medically necessary), reverses the denial and
pays it with a contractual reduction on a line paid zero (the reversal used to wait for a
payment that never existed, and CO-45 on a zero-paid line used to be a denial). A property test
then tries any number of adjudications, each but the last reversed.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from core_world import (
    DAY,
    IDS,
    SURGERY_DAY,
    Feed,
    claim,
    knee_case_through_claim,
    master_data,
    payment,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import PRODUCED_AT, message

from s2c.streams.connectors import x12
from s2c.tables.events import Event, event_from_record
from s2c.tables.outputs import PostJournal, WorkQueueException
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind

ACCOUNT = "ACCT-7001"
REMIT_AT = SURGERY_DAY + 40 * DAY


def ledger(outputs: list[Any]) -> dict[str, Decimal]:
    """Debits less credits per GL account, accounts that net to zero left out."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for journal in (o for o in outputs if isinstance(o, PostJournal)):
        for line in journal.lines:
            balance[line.gl_account] += line.debit - line.credit
    return {account: amount for account, amount in balance.items() if amount}


def billed(feed: Feed) -> tuple[Pipeline, list[Any]]:
    """The knee case charged 6,800.00 and claimed under its account number, as CLM01 = CLP01."""
    pipeline, outputs = Pipeline(master_data(), IDS), []
    for event in knee_case_through_claim(feed)[:-1]:
        outputs += pipeline.feed(event)
    outputs += pipeline.feed(claim(feed, SURGERY_DAY + 2 * DAY, claim_id=ACCOUNT))
    return pipeline, outputs


def remitted(name: str, account: str) -> list[Event]:
    """The shipped 835 for our account, dated after the claim (January remits become May)."""
    text = message(f"x12/{name}").decode("ascii").replace(account, ACCOUNT)
    text = text.replace("202601", "202605").replace("202602", "202606")
    mapped = [e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)]
    return [
        event_from_record(e["envelope"]["event_type"], e)
        for e in mapped
        if e["account_number"] == ACCOUNT
    ]


def of(events: list[Event], remittance: str) -> list[Event]:
    """The events of one adjudication, by the payer claim control number in their ids."""
    ids = ("remittance_id", "adjustment_id", "denial_id", "reversal_id")
    return [e for e in events if any(str(getattr(e, n, "")).startswith(remittance) for n in ids)]


def posted(events: list[Event]) -> tuple[Pipeline, list[Any]]:
    pipeline, outputs = billed(Feed())
    for event in events:
        outputs += pipeline.feed(event)
    return pipeline, outputs


def work_items(outputs: list[Any], kind: ExceptionKind) -> list[WorkQueueException]:
    return [o for o in outputs if isinstance(o, WorkQueueException) and o.kind is kind]


def test_pay_reverse_repay_leaves_the_ledger_of_the_corrected_payment() -> None:
    paid = remitted("835-lakeshore-check-payment.835", "26511230")
    corrected = remitted("835-lakeshore-reversal-and-denial.835", "26511230")
    chain, chain_out = posted(paid + corrected)
    final, final_out = posted(of(corrected, "734100:LKM5518820003"))
    assert ledger(chain_out) == ledger(final_out)
    # 6,800.00 charged; Lakeshore's final word: 261.00 paid, 52.00 contractual, 20.00 copay
    assert chain.processes["CASE-C-1001"].ar_balance == Decimal("6800.00") - 261 - 52 - 20
    assert chain.processes["CASE-C-1001"].ar_balance == final.processes["CASE-C-1001"].ar_balance
    assert not work_items(chain_out, ExceptionKind.INVALID_TRANSITION)


def test_deny_reverse_repay_takes_the_denial_off_the_reserve() -> None:
    denied = remitted("835-lakeshore-reversal-and-denial.835", "7000123403")
    repaid = remitted("835-lakeshore-denial-reversed-and-repaid.835", "7000123403")
    chain, chain_out = posted(denied + repaid)
    final, final_out = posted(of(repaid, "734100:LKM5518820009"))
    assert ledger(chain_out) == ledger(final_out)
    assert "4851-RIV-CO" not in ledger(chain_out)  # Riverside's CO denial reserve nets to zero
    state = chain.processes["CASE-C-1001"]
    assert (state.denied, state.paid) == (Decimal("0.00"), Decimal("1100.00"))
    # the denial's two reasons (CO-197, CO-50) opened a work item each; the reversal and the
    # CO-45 line paid 0 open none, and the reversal closes both (workitems.py)
    denials = work_items(chain_out, ExceptionKind.DENIAL)
    raised = {d.exception_id for d in denials if d.resolves_exception_id is None}
    assert len(raised) == 2
    assert {d.resolves_exception_id for d in denials} - {None} == raised
    assert not work_items(final_out, ExceptionKind.DENIAL)
    assert not work_items(chain_out, ExceptionKind.INVALID_TRANSITION)


CENTS = st.integers(min_value=1, max_value=300_000).map(lambda c: Decimal(c).scaleb(-2))
CAS = st.tuples(st.sampled_from([("CO", "45"), ("PR", "2"), ("CO", "50"), ("OA", "18")]), CENTS)
ADJUDICATION = st.tuples(st.one_of(st.just(Decimal("0.00")), CENTS), st.lists(CAS, max_size=3))


def _adjudication(feed: Feed, at: float, remittance: str, paid: Decimal, cas: list, sign: int):
    """One CLP as the connector maps it; sign -1 is its reversal (CLP02 = 22)."""
    keys = {"account_number": ACCOUNT, "claim_id": ACCOUNT, "payer_id": "AETNA-COMM"}
    events = []
    if paid and sign > 0:
        events.append(
            feed(
                "PaymentPosted",
                at,
                remittance_id=remittance,
                paid_amount=paid,
                payment_trace=f"TRN-{at}",
                payment_date="2026-05-01",
                **keys,
            )
        )
    elif paid:
        events.append(
            feed(
                "PaymentReversed",
                at,
                reversal_id=f"{remittance}:reversal:{at}",
                reverses_remittance_id=remittance,
                amount=paid,
                **keys,
            )
        )
    for n, ((group, carc), amount) in enumerate(cas):
        tag = f"{remittance}:{'reversal' if sign < 0 else 'paid'}:{at}/CAS{n}"
        common = {"group_code": group, "carc": carc, "rarc": None, **keys}
        if carc in ("50", "18"):
            events.append(
                feed("DenialReceived", at, denial_id=tag, denied_amount=sign * amount, **common)
            )
        else:
            events.append(
                feed("AdjustmentPosted", at, adjustment_id=tag, amount=sign * amount, **common)
            )
    return events


@settings(max_examples=60, deadline=None)
@given(
    adjudications=st.lists(ADJUDICATION, min_size=1, max_size=4),
    same_control_number=st.booleans(),
)
def test_any_sequence_of_reversed_adjudications_leaves_the_final_ledger(
    adjudications: list, same_control_number: bool
) -> None:
    """Each adjudication but the last is reversed; the payer may re-adjudicate under the same
    claim control number (one remittance id) or a new one."""
    feed, events = Feed("remit"), []
    for n, (paid, cas) in enumerate(adjudications):
        remittance = "ERA-1" if same_control_number else f"ERA-{n + 1}"
        events += _adjudication(feed, REMIT_AT + 2 * n, remittance, paid, cas, +1)
        if n < len(adjudications) - 1:
            events += _adjudication(feed, REMIT_AT + 2 * n + 1, remittance, paid, cas, -1)
    last_paid, last_cas = adjudications[-1]
    final_events = _adjudication(Feed("final"), REMIT_AT, "ERA-F", last_paid, last_cas, +1)
    chain, chain_out = posted(events)
    final, final_out = posted(final_events)
    assert ledger(chain_out) == ledger(final_out)
    assert chain.processes["CASE-C-1001"].ar_balance == final.processes["CASE-C-1001"].ar_balance
    assert not work_items(chain_out, ExceptionKind.INVALID_TRANSITION)


def test_a_remittance_that_pays_nothing_sends_no_journal_and_cannot_be_reversed() -> None:
    """A claim paid 0.00 (all to the patient, or denied by line) is an adjudication, not a
    posting: no ERP posts a journal of 0.00, so none is sent. The payment is still known: its
    remittance id cannot post again with money, and a reversal of it is refused by name."""
    feed = Feed()
    pipeline, _ = billed(feed)
    out = pipeline.feed(payment(feed, REMIT_AT, "0.00", remittance_id="ERA-0", claim_id=ACCOUNT))
    assert not [o for o in out if isinstance(o, PostJournal)]
    state = pipeline.processes["CASE-C-1001"]
    assert state.paid == Decimal("0.00") and "payment:ERA-0" in state.journals
    reversal = feed(
        "PaymentReversed",
        REMIT_AT + 1,
        reversal_id="ERA-0-R",
        reverses_remittance_id="ERA-0",
        account_number=ACCOUNT,
        claim_id=ACCOUNT,
        payer_id="AETNA-COMM",
        amount="10.00",
    )
    out = pipeline.feed(reversal)
    assert not [o for o in out if isinstance(o, PostJournal)]
    (refused,) = work_items(out, ExceptionKind.INVALID_TRANSITION)
    assert "exceeds the 0.00 left" in refused.reason
    paid = pipeline.feed(
        payment(feed, REMIT_AT + 2, "900.00", remittance_id="ERA-1", claim_id=ACCOUNT)
    )
    assert [o.amount for o in paid if isinstance(o, PostJournal)] == [Decimal("900.00")]
