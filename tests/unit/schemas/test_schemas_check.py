"""`s2c schemas check` catches each broken rule and names the schema and the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from s2c.streams.cli import main
from s2c.streams.schemas_cli import check, snapshot

Edit = Callable[[str, Callable[[dict[str, Any]], None]], None]


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def rules(tree: Path) -> list[str]:
    """check() without the history findings a lint-breaking edit also triggers."""
    return [p for p in check(tree) if "previous version" not in p and "not recorded" not in p]


def only(problems: list[str], *needles: str) -> str:
    """The problems must be exactly one, mentioning every needle."""
    assert len(problems) == 1, problems
    for needle in needles:
        assert needle in problems[0], problems[0]
    return problems[0]


def test_money_as_double_is_refused(tree: Path, edit: Edit) -> None:
    edit("events/ChargePosted.avsc", lambda s: field(s, "amount").update(type="double"))
    only(rules(tree), "s2c.events.ChargePosted.amount", "float/double", "Money")


def test_money_as_plain_cents_is_refused(tree: Path, edit: Edit) -> None:
    edit("master/ContractRate.avsc", lambda s: field(s, "expected_amount").update(type="long"))
    only(rules(tree), "s2c.master.ContractRate.expected_amount", "plain number")


def test_float_anywhere_in_a_command_is_refused_even_inside_a_shared_type(
    tree: Path, edit: Edit
) -> None:
    edit("common/LaborLine.avsc", lambda s: field(s, "hours").update(type="float"))
    problems = check(tree)
    assert any("s2c.commands.PlanLabor.lines[].hours" in p and "float" in p for p in problems)
    assert any("s2c.commands.CancelLaborPlan.lines[].hours" in p for p in problems)


def test_float_in_a_command_field_not_named_like_money_is_refused(tree: Path, edit: Edit) -> None:
    weight = {
        "name": "implant_weight_grams",
        "type": ["null", "float"],
        "default": None,
        "doc": "Weight of the implant.",
    }
    edit("commands/IssueSupplies.avsc", lambda s: s["fields"].append(weight))
    only(rules(tree), "s2c.commands.IssueSupplies.implant_weight_grams", "float")


def test_sensitive_field_in_a_command_is_refused_through_named_types(
    tree: Path, edit: Edit
) -> None:
    edit("common/JournalLine.avsc", lambda s: field(s, "memo").update({"s2c.sensitive": True}))
    problems = check(tree)
    journals = [p for p in problems if "lines[].memo" in p]
    assert {p.split(": ")[1].split(".lines")[0] for p in journals} == {
        "s2c.commands.PostJournal",
        "s2c.commands.AccrueExpectedRevenue",
        "s2c.commands.ReverseRevenueAccrual",
        "s2c.commands.RecognizeCost",
    }
    assert all("sensitive" in p for p in journals)


def test_sensitive_field_in_a_work_queue_exception_is_refused(tree: Path, edit: Edit) -> None:
    patient = {
        "name": "patient_ref",
        "type": ["null", "string"],
        "default": None,
        "doc": "Pseudonymous patient token.",
        "s2c.sensitive": True,
    }
    edit("ops/WorkQueueException.avsc", lambda s: s["fields"].append(patient))
    assert any(
        "s2c.ops.WorkQueueException.patient_ref" in p and "sensitive" in p for p in check(tree)
    )


def test_missing_docs_are_named(tree: Path, edit: Edit) -> None:
    edit("events/ClaimVoided.avsc", lambda s: field(s, "claim_id").pop("doc"))
    edit("master/Payer.avsc", lambda s: s.pop("doc"))
    problems = [p for p in check(tree) if "missing 'doc'" in p]
    assert len(problems) == 2
    assert any("s2c.events.ClaimVoided.claim_id" in p for p in problems)
    assert any("s2c.master.Payer: missing 'doc' on the record" in p for p in problems)


def test_naming_rules(tree: Path, edit: Edit) -> None:
    edit("events/CaseCancelled.avsc", lambda s: field(s, "reason").update(name="cancelReason"))
    edit("common/CasGroup.avsc", lambda s: s["symbols"].append("Correction"))
    problems = check(tree)
    assert any(
        "s2c.events.CaseCancelled.cancelReason: field names are snake_case" in p for p in problems
    )
    assert any("s2c.common.CasGroup" in p and "'Correction'" in p for p in problems)


def test_file_must_match_record_name_and_namespace(tree: Path) -> None:
    (tree / "events/CaseScheduled.avsc").rename(tree / "events/SurgeryBooked.avsc")
    problems = check(tree)
    assert any(
        "events/SurgeryBooked.avsc: s2c.events.CaseScheduled: file must be named "
        "CaseScheduled.avsc" in p
        for p in problems
    )


def test_timestamps_and_days_need_logical_types(tree: Path, edit: Edit) -> None:
    edit("common/Envelope.avsc", lambda s: field(s, "occurred_at").update(type="long"))
    edit("events/ChargePosted.avsc", lambda s: field(s, "service_date").update(type="string"))
    problems = [p for p in check(tree) if "logicalType" in p]
    assert len(problems) == 2
    assert any("s2c.common.Envelope.occurred_at: timestamp field" in p for p in problems)
    assert any("s2c.events.ChargePosted.service_date: calendar-day field" in p for p in problems)


def test_optional_fields_put_null_first_with_a_null_default(tree: Path, edit: Edit) -> None:
    edit("events/PaymentPosted.avsc", lambda s: field(s, "claim_id").pop("default"))
    only(rules(tree), "s2c.events.PaymentPosted.claim_id", "default")


def test_events_start_with_the_envelope(tree: Path, edit: Edit) -> None:
    edit("events/ClaimVoided.avsc", lambda s: s["fields"].reverse())
    problems = [p for p in check(tree) if "first field" in p]
    only(problems, "s2c.events.ClaimVoided", "'envelope'")


def test_unknown_named_type_and_broken_json_are_named(tree: Path, edit: Edit) -> None:
    edit(
        "events/AdjustmentPosted.avsc",
        lambda s: field(s, "group_code").update(type="s2c.common.CasGroupCode"),
    )
    (tree / "master/ServiceLine.avsc").write_text('{"type": "record", "name": "ServiceLine",')
    only(check(tree), "master/ServiceLine.avsc", "not valid JSON")
    (tree / "master/ServiceLine.avsc").unlink()
    only(check(tree), "events/AdjustmentPosted.avsc", "s2c.common.CasGroupCode")


def test_incompatible_change_names_field_and_version(tree: Path, edit: Edit) -> None:
    required = {"name": "anesthesia_type", "type": "string", "doc": "GENERAL, REGIONAL, MAC."}
    edit("events/CaseScheduled.avsc", lambda s: s["fields"].append(required))
    only(
        check(tree),
        "s2c.events.CaseScheduled.anesthesia_type",
        "previous version 1",
        "BACKWARD_TRANSITIVE",
    )
    problems, recorded = snapshot(tree, ["CaseScheduled"])
    assert recorded == [] and problems
    assert not (tree / "history/s2c.events.CaseScheduled/v2.avsc").exists()


def test_a_shared_type_change_is_checked_in_every_record_using_it(tree: Path, edit: Edit) -> None:
    region = {"name": "region", "type": "string", "doc": "Data-centre region of the producer."}
    edit("common/Envelope.avsc", lambda s: s["fields"].append(region))
    problems = check(tree)
    assert len(problems) == 24
    assert all(".envelope.region" in p for p in problems)


def test_compatible_change_must_be_recorded_then_passes(tree: Path, edit: Edit) -> None:
    laterality: dict[str, Any] = {
        "name": "laterality",
        "type": ["null", "string"],
        "default": None,
        "doc": "LEFT, RIGHT or BILATERAL, if any.",
    }
    edit("events/CaseScheduled.avsc", lambda s: s["fields"].append(laterality))
    only(check(tree), "s2c.events.CaseScheduled", "not recorded", "v2.avsc")
    problems, recorded = snapshot(tree, [])
    assert problems == [] and recorded == ["history/s2c.events.CaseScheduled/v2.avsc"]
    assert check(tree) == []
    recorded_v2 = json.loads((tree / "history/s2c.events.CaseScheduled/v2.avsc").read_text())
    assert field(recorded_v2, "laterality")["default"] is None


def test_deleting_a_recorded_schema_is_refused(tree: Path) -> None:
    (tree / "events/ClaimVoided.avsc").unlink()
    only(check(tree), "history/s2c.events.ClaimVoided", "never deleted")


def test_cli_exit_codes(tree: Path, edit: Edit, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "check", "--dir", str(tree)]) == 0
    assert "ok: 48 subjects" in capsys.readouterr().out
    edit("events/DenialReceived.avsc", lambda s: field(s, "denied_amount").update(type="double"))
    assert main(["schemas", "check", "--dir", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "ERROR events/DenialReceived.avsc: s2c.events.DenialReceived.denied_amount" in out


def test_two_records_with_one_short_name_are_refused(tree: Path) -> None:
    payer = json.loads((tree / "master/Payer.avsc").read_text())
    payer["namespace"] = "s2c.common"
    (tree / "common/Payer.avsc").write_text(json.dumps(payer))
    only(check(tree), "s2c.master.Payer has the same short name as s2c.common.Payer")


def test_an_empty_tree_is_not_a_passing_catalogue(tmp_path: Path) -> None:
    only(check(tmp_path), "no schemas found")
