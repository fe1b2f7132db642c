"""A knee arthroscopy from raw messages through the core: booked on the OR feed (SIU S12),
authorized by the payer (X12 278), completed by the OR's case record (FHIR Procedure).

The chain runs here through `tables.replay.Pipeline`, on the small health system of
tests/unit/core/core_world.py whose ids the messages use; the same case through `s2c ingest` and
a worker on the local stack, on to its claim, denial and re-payment, is in
tests/integration/connectors/test_chains_on_stack.py."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir, hl7v2, x12
from s2c.tables.events import event_from_record
from s2c.tables.outputs import Command
from s2c.tables.replay import Pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from core_world import IDS, master_data  # noqa: E402


def canonical(records: list[dict]) -> list:
    return [event_from_record(r["envelope"]["event_type"], r) for r in records]


def test_case_booked_authorized_completed_from_raw_messages(refs):
    booked = hl7v2.map_text(
        message("hl7v2/SIU-S12-or-case-knee-arthroscopy.hl7"), refs, PRODUCED_AT
    )
    (tx,) = x12.iter_units(message("x12/278-response-approved-knee-arthroscopy.278").decode())
    approved = x12.map_transaction(tx, PRODUCED_AT)
    procedure = json.loads(message("fhir/Procedure-or-case-completed-knee-arthroscopy.json"))
    completed = fhir.map_resource(procedure, refs, PRODUCED_AT)

    pipeline = Pipeline(master_data(), IDS)
    plan = [o for e in canonical(booked) for o in pipeline.feed(e) if isinstance(o, Command)]
    assert [c.schema for c in plan] == [
        "ReserveSupplies",
        "PlanLabor",
        "ReserveRoom",
        "AccrueExpectedRevenue",
    ]
    room = plan[2]
    assert (room.room_id, room.minutes) == ("RIV-OR-3", 120)
    assert plan[3].amount == Decimal("4200.00")  # Aetna x 29881, the 2026 contract rate

    authorized = [o for e in canonical(approved) for o in pipeline.feed(e)]
    assert not [o for o in authorized if isinstance(o, Command)]  # a milestone, no posting
    case = pipeline.processes["CASE-ORC-91207"]  # the 278's trace found the case
    assert case.authorized_at == approved[0]["envelope"]["occurred_at"]

    done = [o for e in canonical(completed) for o in pipeline.feed(e) if isinstance(o, Command)]
    assert [c.schema for c in done] == ["ReleaseSupplies", "IssueSupplies", "RecognizeCost"]
    assert done[0].header.reverses_command_id == plan[0].command_id
    issued = {(line.item_id, line.quantity) for line in done[1].items}
    assert issued == {("SHAVER-BLADE-4.5", 2), ("SALINE-3L", 3)}
    assert done[2].amount == Decimal("407.50")  # 2 x 185.00 + 3 x 12.50
