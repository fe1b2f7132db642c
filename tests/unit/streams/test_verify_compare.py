"""`s2c verify`'s judgement on hand-made outputs: a knee replacement at Riverside General (case
CASE-RIV-0001) and a walk-in at the same site, billed to Northwind Health Plan. Each test changes
what the live pipeline wrote and checks what verify makes of it."""

from __future__ import annotations

from collections import Counter
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from s2c.streams.verify.compare import judge
from s2c.streams.verify.lateness import Lateness
from s2c.streams.verify.report import figures, render
from s2c.tables.events import event_from_record
from s2c.tables.ids import IdKey

KNEE = "CASE-RIV-0001"
WALK_IN = "ENC-3c1f0e9a77d24b5a1c6e"
IDS = IdKey(b"verify-unit-test-key-not-secret")


def charge(command_id: str, process_id: str = KNEE, amount: str = "4200.00") -> dict:
    return {
        "header": {
            "command_id": command_id,
            "command_type": "PostJournal",
            "process_id": process_id,
            "caused_by_event_id": f"EV-{command_id}",
            "effective_date": date(2025, 3, 4),
            "cost_center_id": "RIV-OR",
            "issued_at": datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
            "correlation_id": "TR-RIV-0001",
            "reverses_command_id": None,
        },
        "journal_kind": "CHARGE",
        "lines": [
            {
                "gl_account": "RIV-PATIENT_AR",
                "debit": Decimal(amount),
                "credit": Decimal(0),
                "memo": "knee",
            },
            {
                "gl_account": "RIV-GROSS_REV",
                "debit": Decimal(0),
                "credit": Decimal(amount),
                "memo": "knee",
            },
        ],
        "amount": Decimal(amount),
    }


def breach(breach_id: str, process_id: str = KNEE, sla: str = "CLAIM_NOT_SUBMITTED_7D") -> dict:
    return {
        "breach_id": breach_id,
        "process_id": process_id,
        "sla": sla,
        "deadline": datetime(2025, 3, 11, 9, 30, tzinfo=UTC),
        "detected_at": datetime(2025, 3, 11, 10, 0, tzinfo=UTC),
        "site_id": "RIV",
        "service_line_id": "SL-ORTH",
        "payer_class": "COMMERCIAL",
    }


def item(exception_id: str, process_id: str | None = KNEE, event_id: str = "EV-9") -> dict:
    return {
        "exception_id": exception_id,
        "process_id": process_id,
        "kind": "DENIAL",
        "reason": "CO-50: not medically necessary",
        "event_id": event_id,
        "event_type": "DenialReceived",
        "raised_at": datetime(2025, 4, 2, 8, 0, tzinfo=UTC),
        "site_id": "RIV",
        "amount": Decimal("4200.00"),
        "resolves_exception_id": None,
    }


REPLAY = {
    "commands": [charge("c1"), charge("c2", amount="310.50"), charge("c3", WALK_IN, "95.00")],
    "exceptions": [item("x1")],
    "breaches": [breach("b1"), breach("b2", WALK_IN, "CHARGE_LAG_3D")],
}


def nothing_late(record: dict) -> bool:
    return False


def verdict(live: dict, allowed=nothing_late, dead_letters=(), replay_dead_letters=()):
    return judge(live, deepcopy(REPLAY), dead_letters, allowed, replay_dead_letters)


def test_the_same_outputs_are_equal_and_money_compares_as_numbers() -> None:
    live = deepcopy(REPLAY)
    live["commands"][0]["amount"] = Decimal("4200.0")  # Avro's scale against replay's
    live["breaches"][0]["detected_at"] += timedelta(hours=5)  # live's watermark trails: not a fact
    live["exceptions"][0]["raised_at"] += timedelta(hours=1)
    result = verdict(live)
    assert result.equal and result.failures == 0
    assert result.commands.ledger["CHARGE"] == (Decimal("4605.50"), Decimal("4605.50"))
    assert result.commands.family.live == result.commands.family.replay == 3


def test_a_lost_command_fails_and_the_ledger_shows_the_missing_money() -> None:
    live = deepcopy(REPLAY)
    del live["commands"][1]
    result = verdict(live)
    assert not result.equal
    assert result.commands.family.lost == ["c2"]
    assert result.commands.ledger["CHARGE"] == (Decimal("4295.00"), Decimal("4605.50"))


def test_an_extra_breach_fails() -> None:
    live = deepcopy(REPLAY)
    live["breaches"].append(breach("b3", sla="NO_REMITTANCE_30D"))
    result = verdict(live)
    assert result.breaches.extra == ["b3"] and result.failures == 1
    [example] = result.breaches.examples
    assert example["difference"] == "extra" and example["record"]["sla"] == "NO_REMITTANCE_30D"
    assert result.breaches.kinds["NO_REMITTANCE_30D"] == (1, 0)


def test_erp_items_are_set_aside_for_the_ledger_but_other_extra_items_still_fail() -> None:
    live = deepcopy(REPLAY)
    rejected = {**item("x-erp-1"), "kind": "ERP_REJECTED", "reason": "ERP rejected command c2"}
    late = {**item("x-erp-2"), "kind": "ERP_UNSYNCHRONIZED", "reason": "no ERP ack of c3"}
    live["exceptions"] += [rejected, late]
    result = verdict(live)
    assert result.equal and result.erp_items == 2
    assert "ERP items (ledger, not replay)" in render(result)
    live["exceptions"].append(item("x2"))  # a DENIAL replay never raised: still a failure
    result = verdict(live)
    assert result.exceptions.extra == ["x2"] and result.failures == 1


def test_a_changed_amount_under_the_same_id_fails() -> None:
    live = deepcopy(REPLAY)
    live["commands"][0] = charge("c1", amount="4300.00")
    result = verdict(live)
    assert result.commands.family.changed == ["c1"]
    assert not result.equal


def test_a_command_delivered_twice_with_its_id_is_counted_not_failed() -> None:
    live = deepcopy(REPLAY)
    live["commands"].append(charge("c1"))  # redelivered after a kill -9: same id, same content
    result = verdict(live)
    assert result.equal
    assert (result.commands.family.delivered_twice, result.commands.family.redeliveries) == (1, 1)
    assert result.commands.double_postings == []
    assert result.commands.ledger["CHARGE"][0] == Decimal("4605.50")  # the ERP books it once


def test_the_same_charge_under_a_second_id_is_a_double_posting() -> None:
    live = deepcopy(REPLAY)
    again = charge("c1")
    again["header"]["command_id"] = "c1-again"
    live["commands"].append(again)
    result = verdict(live)
    assert result.commands.double_postings == ["c1-again"]
    assert result.commands.ledger["CHARGE"][0] == Decimal("8805.50")
    assert not result.equal


def test_differences_on_an_instance_a_late_event_touched_are_allowed_by_rule() -> None:
    live = deepcopy(REPLAY)
    del live["breaches"][0]  # the knee's claim came late: live did not report its breach
    live["exceptions"][0]["process_id"] = None  # and raised a work item replay does not have
    live["exceptions"][0]["exception_id"] = "x-live"
    del live["commands"][2]  # but the walk-in's charge is lost, and nothing excuses that
    late_knee = lambda record: (record.get("header") or record).get("process_id") == KNEE
    result = verdict(live, allowed=lambda r: late_knee(r) or r.get("event_id") == "EV-9")
    assert result.breaches.allowed == Counter({"lost": 1}) and result.breaches.lost == []
    assert result.exceptions.allowed == Counter({"extra": 1, "lost": 1})
    assert result.commands.family.lost == ["c3"]
    assert result.failures == 1 and result.allowed == 3


def test_a_dead_letter_replay_did_not_refuse_fails() -> None:
    result = verdict(deepcopy(REPLAY), dead_letters=["invalid-event"])
    assert result.dead_letters == {"invalid-event": (1, 0)} and not result.equal
    assert result.failures == 1


def test_dead_letters_that_replay_refused_alike_are_equal_by_reason() -> None:
    live = ["implausible-time", "undecodable", "implausible-time"]
    same = verdict(deepcopy(REPLAY), dead_letters=live, replay_dead_letters=sorted(live))
    assert same.equal and same.dead_letters == {"implausible-time": (2, 2), "undecodable": (1, 1)}
    # One refused by replay only: a bad record live let through.
    short = verdict(
        deepcopy(REPLAY), dead_letters=live[:2], replay_dead_letters=[*live, "bad-business-key"]
    )
    assert short.dead_letters == {
        "bad-business-key": (0, 1),
        "implausible-time": (1, 2),
        "undecodable": (1, 1),
    }
    assert short.failures == 2 and "bad-business-key" in render(short)


def test_the_report_says_what_failed_and_the_json_has_the_figures() -> None:
    live = deepcopy(REPLAY)
    del live["commands"][1]
    result = verdict(live)
    text = render(result)
    assert "lost" in text and "c2" in text and "DIFFERENT" in text
    data = figures(result)
    assert data["equal"] is False
    assert data["commands"]["lost"] == 1 and data["commands"]["compared"] == 3
    assert data["ledger"]["CHARGE"] == {"live": "4295.00", "replay": "4605.50"}


def _event(schema: str, at: datetime, **fields: object) -> object:
    envelope = {
        "event_id": fields.pop("event_id"),
        "event_type": schema,
        "occurred_at": at,
        "source_system": "test",
        "correlation_id": "TR-RIV-0001",
        "produced_at": at,
    }
    return event_from_record(schema, {"envelope": envelope, **fields})


def _claim(event_id: str, at: datetime) -> object:
    return _event(
        "ClaimSubmitted",
        at,
        event_id=event_id,
        claim_id="CLM-RIV-1",
        account_number="ACCT-RIV-0001",
        payer_id="PAY-NORTHWIND",
        claim_type="INSTITUTIONAL",
        billing_npi="1234567893",
        total_charge=Decimal("4200.00"),
        lines=[],
    )


def test_a_claim_later_than_the_grace_touches_its_account_and_the_linked_case() -> None:
    day = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    booking = _event(
        "CaseCancelled", day, event_id="EV-1", case_id="RIV-0001", reason="patient request"
    )
    lateness = Lateness(grace=timedelta(hours=1), ids=IDS)
    lateness.observe(booking, partition=0)
    lateness.observe(_claim("EV-2", day + timedelta(days=9)), partition=1)
    lateness.observe(_claim("EV-3", day + timedelta(days=8, hours=23, minutes=30)), partition=1)
    lateness.observe(_claim("EV-4", day + timedelta(days=2)), partition=0)  # late, not on its own
    assert lateness.late_events == 1 and lateness.is_late("EV-4")
    # EV-3 is on time but 30 min behind stream time: with a lateness above zero, its instance
    # may see a deadline fire on either side of it (README, "When live equals replay").
    assert lateness.behind == 1 and lateness.is_late("EV-3") and not lateness.is_late("EV-2")
    assert lateness.late_on_partition == 0 and lateness.most_late == timedelta(days=7)
    account = IDS.account_ref("ACCT-RIV-0001")
    touched = lateness.touched({account: KNEE})
    assert touched == {account, KNEE}
    allowed = lateness.rule({account: KNEE})
    assert allowed(breach("b1")) and not allowed(breach("b2", WALK_IN))
    assert allowed(item("x9", process_id=None, event_id="EV-2"))  # parked on the same account


def test_without_allowed_lateness_an_event_behind_stream_time_is_late() -> None:
    day = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    lateness = Lateness(grace=timedelta(0), ids=IDS)
    lateness.observe(_claim("EV-1", day), partition=0)
    lateness.observe(_claim("EV-2", day), partition=0)  # the same instant: not behind
    lateness.observe(_claim("EV-3", day - timedelta(minutes=1)), partition=0)
    assert (lateness.late_events, lateness.behind) == (1, 0)
    assert lateness.is_late("EV-3") and not lateness.is_late("EV-2")


def test_a_fault_plan_is_repeatable_and_falls_inside_its_window() -> None:
    from s2c.streams.verify.faults import FaultPlan, schedule

    plan = FaultPlan(kills=10, broker_restart=True, add_remove=True, window=180.0, seed=20)
    faults = schedule(plan)
    assert faults == schedule(plan)  # the same seed, the same times
    assert [name for _, name in faults].count("kill") == 10
    assert {"broker-restart", "add-worker", "remove-worker"} <= {name for _, name in faults}
    assert all(0 < at < 180.0 for at, _ in faults) and faults == sorted(faults)
    added = next(at for at, name in faults if name == "add-worker")
    assert added < next(at for at, name in faults if name == "remove-worker")
    assert schedule(FaultPlan(kills=10, window=180.0, seed=21)) != schedule(
        FaultPlan(kills=10, window=180.0, seed=20)
    )
