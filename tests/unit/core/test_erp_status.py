"""The ERP side of an instance (s2c.tables.erp_status): each command APPLIED, REJECTED or PENDING.

Dr Okafor's knee arthroscopy at Riverside books four documents and, after surgery, a charge
journal of $4,200.00. The ERP applies the reservations, rejects the charge (its period is closed),
and later applies it when finance reopens the period and the ERP retries. A silent ERP leaves the
room booking unanswered past the ack wait.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from s2c.tables.codec import dumps, loads
from s2c.tables.erp_status import (
    APPLIED,
    PENDING,
    REJECTED,
    AckReceived,
    CommandSent,
    ErpState,
    ack_received,
    command_sent,
    next_overdue,
    overdue,
    summary,
)
from s2c.tables.outputs import stable_id
from s2c.tables.vocabulary import ExceptionKind

CASE = "CASE-C-1001"
SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT = timedelta(seconds=30)
CHARGE = CommandSent("cmd-charge", "PostJournal", "evt-charge-1", SENT, Decimal("4200.00"))
ROOM = CommandSent("cmd-room", "ReserveRoom", "evt-booked-1", SENT, None)
SUPPLIES = CommandSent("cmd-supplies", "ReserveSupplies", "evt-booked-1", SENT, None)


def ack(sent: CommandSent, status: str, at_seconds: int = 5, reason: str | None = None):
    return AckReceived(
        sent.command_id,
        sent.command_type,
        status,
        f"JE-{at_seconds:010d}" if status == APPLIED else None,
        reason,
        SENT + timedelta(seconds=at_seconds),
    )


CLOSED = "CLOSED_PERIOD: period 2026-03 is not open"


def sent_all(*commands: CommandSent) -> ErpState:
    state = None
    for command in commands:
        state, out = command_sent(state, CASE, command)
        assert out == []
    assert state is not None
    return state


def test_commands_are_pending_until_acknowledged_then_applied_with_their_document() -> None:
    state = sent_all(CHARGE, ROOM)
    assert state.counts() == {APPLIED: 0, REJECTED: 0, PENDING: 2}
    state, out = ack_received(state, CASE, ack(ROOM, APPLIED))
    assert out == []
    room = state.commands["cmd-room"]
    assert (room.status, room.erp_document_number) == (APPLIED, "JE-0000000005")
    assert state.counts() == {APPLIED: 1, REJECTED: 0, PENDING: 1}


def test_a_rejected_charge_raises_one_erp_rejected_item_with_its_amount_and_command_id() -> None:
    state = sent_all(CHARGE)
    state, out = ack_received(state, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    [item] = out
    assert item.kind is ExceptionKind.ERP_REJECTED
    assert item.exception_id == stable_id("erp", "ERP_REJECTED", CASE, "cmd-charge")
    assert "cmd-charge" in item.reason and CLOSED in item.reason
    assert (item.process_id, item.event_id, item.amount) == (
        CASE,
        "evt-charge-1",
        Decimal("4200.00"),
    )
    assert item.resolves_exception_id is None
    assert item.raised_at == SENT + timedelta(seconds=5)  # the ERP's decision time
    # The ERP sends the same answer again: nothing changes, nothing is raised twice.
    again, out = ack_received(state, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    assert out == [] and again.to_dict() == state.to_dict()


def test_an_erp_retry_that_applies_the_rejected_charge_resolves_its_item() -> None:
    state = sent_all(CHARGE)
    state, [rejected] = ack_received(state, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    state, [notice] = ack_received(state, CASE, ack(CHARGE, APPLIED, at_seconds=90))
    assert notice.kind is ExceptionKind.ERP_REJECTED
    assert notice.resolves_exception_id == rejected.exception_id
    assert notice.exception_id != rejected.exception_id
    assert state.commands["cmd-charge"].status == APPLIED
    assert state.commands["cmd-charge"].open_item is None
    # APPLIED is final: a stray REJECTED afterwards changes nothing.
    _, out = ack_received(state, CASE, ack(CHARGE, REJECTED, at_seconds=95, reason=CLOSED))
    assert out == [] and state.commands["cmd-charge"].status == APPLIED


def test_a_command_unanswered_past_the_wait_is_unsynchronized_once() -> None:
    state = sent_all(CHARGE, ROOM)
    state, _ = ack_received(state, CASE, ack(CHARGE, APPLIED))
    assert next_overdue(state) == SENT
    state, out = overdue(state, SENT + WAIT - timedelta(milliseconds=1), WAIT)
    assert out == []
    state, [item] = overdue(state, SENT + WAIT, WAIT)
    assert item.kind is ExceptionKind.ERP_UNSYNCHRONIZED
    assert item.exception_id == stable_id("erp", "ERP_UNSYNCHRONIZED", CASE, "cmd-room")
    assert "cmd-room" in item.reason and item.raised_at == SENT + WAIT
    assert overdue(state, SENT + 10 * WAIT, WAIT)[1] == []  # reported once
    assert next_overdue(state) is None


def test_a_late_applied_ack_resolves_the_unsynchronized_item() -> None:
    state = sent_all(ROOM)
    state, [item] = overdue(state, SENT + WAIT, WAIT)
    state, [notice] = ack_received(state, CASE, ack(ROOM, APPLIED, at_seconds=60))
    assert notice.kind is ExceptionKind.ERP_UNSYNCHRONIZED
    assert notice.resolves_exception_id == item.exception_id
    assert summary(state)["pending"] == []


def test_a_late_rejection_resolves_the_unsynchronized_item_and_raises_erp_rejected() -> None:
    state = sent_all(CHARGE)
    state, [unsynchronized] = overdue(state, SENT + WAIT, WAIT)
    state, out = ack_received(state, CASE, ack(CHARGE, REJECTED, at_seconds=60, reason=CLOSED))
    notice, rejected = out
    assert (notice.kind, notice.resolves_exception_id) == (
        ExceptionKind.ERP_UNSYNCHRONIZED,
        unsynchronized.exception_id,
    )
    assert (rejected.kind, rejected.resolves_exception_id) == (ExceptionKind.ERP_REJECTED, None)
    assert state.commands["cmd-charge"].open_item == "ERP_REJECTED"


def test_an_ack_read_before_its_command_is_kept_and_the_command_changes_nothing_of_it() -> None:
    state, [item] = ack_received(None, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    assert item.amount is None  # not known before the command is read
    state, out = command_sent(state, CASE, CHARGE)
    assert out == []
    charge = state.commands["cmd-charge"]
    assert (charge.status, charge.amount, charge.sent_at) == (REJECTED, Decimal("4200.00"), SENT)
    assert overdue(state, SENT + WAIT, WAIT)[1] == []  # answered: never unsynchronized


def test_the_instance_summary_lists_rejected_and_pending_commands() -> None:
    state = sent_all(CHARGE, ROOM, SUPPLIES)
    state, _ = ack_received(state, CASE, ack(SUPPLIES, APPLIED))
    state, _ = ack_received(state, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    view = summary(state)
    assert view["counts"] == {APPLIED: 1, REJECTED: 1, PENDING: 1}
    assert [(r["command_id"], r["reason"]) for r in view["rejected"]] == [("cmd-charge", CLOSED)]
    assert [p["command_id"] for p in view["pending"]] == ["cmd-room"]
    assert summary(None)["counts"] == {APPLIED: 0, REJECTED: 0, PENDING: 0}


def test_the_stored_form_round_trips_and_is_versioned() -> None:
    state = sent_all(CHARGE, ROOM)
    state, _ = ack_received(state, CASE, ack(CHARGE, REJECTED, reason=CLOSED))
    state, _ = overdue(state, SENT + WAIT, WAIT)
    stored = dumps(state.to_dict())
    back = ErpState.from_dict(loads(stored))
    assert dumps(back.to_dict()) == stored
    assert back.commands == state.commands
    try:
        ErpState.from_dict({**loads(stored), "v": 99})
    except ValueError as exc:
        assert "99" in str(exc)
    else:
        raise AssertionError("an unknown stored format must be refused, not misread")


# Arrival order and duplicates: whatever order the commands, their acks and their repeats are
# read in (the two topics are not ordered with each other), the final facts are the same and each
# work item is raised once.
INPUTS = [
    ("sent", CHARGE),
    ("sent", ROOM),
    ("sent", SUPPLIES),
    ("ack", ack(CHARGE, REJECTED, reason=CLOSED)),
    ("ack", ack(ROOM, APPLIED)),
    ("ack", ack(SUPPLIES, APPLIED, at_seconds=7)),
]


def run(inputs):
    state, raised = None, []
    for what, item in inputs:
        if what == "sent":
            state, out = command_sent(state, CASE, item)
        else:
            state, out = ack_received(state, CASE, item)
        raised += out
    return state, raised


@settings(max_examples=60, deadline=None)
@given(st.permutations(INPUTS), st.lists(st.sampled_from(INPUTS), max_size=6))
def test_any_order_with_repeats_gives_the_same_facts_and_items(order, repeats) -> None:
    want_state, want_items = run(INPUTS)
    state, items = run(list(order) + repeats)
    assert dumps(state.to_dict()) == dumps(want_state.to_dict())
    assert sorted(i.exception_id for i in items) == sorted(i.exception_id for i in want_items)
    assert len(items) == 1  # the charge's rejection, once
