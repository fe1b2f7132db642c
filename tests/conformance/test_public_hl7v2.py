"""HL7 v2 samples (SIU, ADT, DFT) map to canonical events whose keys come from the files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from public_samples import PRODUCED_AT, sample

from s2c.streams.connectors import hl7v2
from s2c.streams.connectors.events import MappingError


def mapped(name: str, refs):
    return hl7v2.map_text(sample(f"hl7v2/{name}"), refs, PRODUCED_AT)


def only(events):
    assert len(events) == 1
    return events[0]


def test_lf_terminated_sample_parses_into_all_its_segments():
    raw = sample("hl7v2/SIU-S12-01.hl7")
    assert b"\r" not in raw  # the sample uses \n, which python-hl7 reads as ONE segment
    message = hl7v2.parse(hl7v2.normalize(raw))
    names = [str(seg[0][0]) for seg in message.parsed]
    assert names[:3] == ["MSH", "SCH", "TQ1"] and {"PID", "RGS", "AIS", "AIL", "AIP"} <= set(names)


def test_message_that_still_has_one_segment_is_a_parse_error():
    with pytest.raises(MappingError) as err:
        hl7v2.parse("MSH|^~\\&|SCHApp|GHH|EHR|GHH|20210914||SIU^S12|MSG1|P|2.8")
    assert err.value.stage == "parse" and "single segment" in err.value.reason


def test_new_booking_becomes_appointment_scheduled(refs):
    scheduled = only(mapped("SIU-S12-01.hl7", refs))
    assert scheduled["envelope"]["event_type"] == "AppointmentScheduled"
    assert scheduled["appointment_id"] == "36996"
    assert scheduled["scheduled_start"] == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)  # +0215
    assert scheduled["duration_minutes"] == 50  # TQ1-8 minus TQ1-7
    assert (scheduled["site_id"], scheduled["department_id"]) == ("GH Clinic", "055")
    assert scheduled["provider_id"] == "1210"
    assert scheduled["procedure_codes"] == ["76164006"]
    assert scheduled["account_number"] == "4000776"
    assert scheduled["envelope"]["occurred_at"] == datetime(2021, 9, 14, 9, 5, tzinfo=UTC)
    assert scheduled["envelope"]["produced_at"] == PRODUCED_AT


def test_multi_resource_booking_collects_every_service(refs):
    scheduled = only(mapped("SIU-S12-02.hl7", refs))
    assert scheduled["procedure_codes"] == ["58410-2", "42272-5"]
    assert scheduled["scheduled_start"] == datetime(2021, 8, 18, 9, 15, tzinfo=UTC)
    assert scheduled["duration_minutes"] == 60


def test_patient_appears_only_as_a_keyed_pseudonym(refs):
    scheduled = only(mapped("SIU-S12-01.hl7", refs))
    assert scheduled["patient_ref"] == refs.ref(
        "PATID1234", "test1", "MR"
    )  # PID-3 repetition typed MR
    flat = repr(scheduled)
    for identifying in ("PATID1234", "123456789", "EVERYMAN", "ADAM", "1924", "MAINSTREET"):
        assert identifying not in flat


@pytest.mark.parametrize(
    ("name", "event_type", "extra"),
    [
        (
            "SIU-S13-02.hl7",
            "AppointmentRescheduled",
            {"scheduled_start": datetime(2021, 8, 20, 9, 15, tzinfo=UTC), "duration_minutes": 60},
        ),
        ("SIU-S15-01.hl7", "AppointmentCancelled", {"reason": "CANCELLED (Add)"}),
        ("SIU-S16-01.hl7", "AppointmentCancelled", {"reason": "DISCONTINUED (Add)"}),
        ("SIU-S17-02.hl7", "AppointmentCancelled", {"reason": "DELETED (Add)"}),
        ("SIU-S26-01.hl7", "AppointmentNoShow", {}),
    ],
)
def test_schedule_changes(refs, name, event_type, extra):
    changed = only(mapped(name, refs))
    assert changed["envelope"]["event_type"] == event_type
    assert changed["appointment_id"] == "36996"
    for key, value in extra.items():
        assert changed[key] == value


def test_modification_with_its_slot_is_modified_then_rescheduled(refs):
    """The public S14 carries TQ1 timing and an AIL room: both reach the pipeline."""
    modified, rescheduled = mapped("SIU-S14-01.hl7", refs)
    assert modified["envelope"]["event_type"] == "AppointmentModified"
    assert modified["provider_id"] == "1210"
    assert rescheduled["envelope"]["event_type"] == "AppointmentRescheduled"
    assert rescheduled["appointment_id"] == modified["appointment_id"] == "36996"
    assert rescheduled["scheduled_start"] == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)
    assert rescheduled["duration_minutes"] == 50


def test_registration_starts_a_surgical_encounter(refs):
    started = only(mapped("ADT-A04-01.hl7", refs))
    assert started["envelope"]["event_type"] == "EncounterStarted"
    assert started["encounter_id"] == "40007716"
    assert started["account_number"] == "4000776"
    assert started["arrived_at"] == datetime(2015, 2, 8, 10, 24, 19, tzinfo=UTC)
    assert started["encounter_class"] == "SURGERY"  # PV1-2 P with PV1-10 SUR
    assert (started["site_id"], started["department_id"]) == ("HOMERTON UNIVER", "HUH AE OMU")
    assert started["payer_id"] == "IC-1.31"


def test_discharge_completes_the_encounter(refs):
    done = only(mapped("ADT-A03-01.hl7", refs))
    assert done["envelope"]["event_type"] == "EncounterCompleted"
    assert done["discharged_at"] == datetime(2015, 2, 9, 10, 24, 19, tzinfo=UTC)


def test_dft_posts_one_charge_per_ft1(refs):
    xray, visit = mapped("DFT-P03-01.hl7", refs)
    assert xray["charge_id"] == "12345" and visit["charge_id"] == "MSG00001-FT1-2"
    assert (xray["procedure_code"], xray["units"], xray["amount"]) == (
        "71045",
        2,
        Decimal("100.00"),
    )
    assert (visit["procedure_code"], visit["amount"]) == ("99011", Decimal("120.00"))
    assert xray["service_date"] == date(2019, 11, 22)
    assert xray["department_id"] == "RAD-1" and visit["department_id"] == "HUH AE OMU"


def test_p11_maps_like_p03(refs):
    _, eye = mapped("DFT-P11-01.hl7", refs)
    assert (eye["procedure_code"], eye["amount"]) == ("92002", Decimal("70.00"))


def test_event_ids_are_stable_and_distinct_across_reused_control_ids(refs):
    first = only(mapped("SIU-S12-01.hl7", refs))["envelope"]["event_id"]
    again = only(mapped("SIU-S12-01.hl7", refs))["envelope"]["event_id"]
    other = only(mapped("SIU-S12-02.hl7", refs))["envelope"]["event_id"]  # same MSH-10
    assert first == again and first != other
    assert first.startswith("hl7:SCHApp:MSG00012:")


@pytest.mark.parametrize(
    ("edit", "location", "reject"),
    [
        (lambda t: t.replace("SIU^S12^SIU_S12", "SIU^S99^SIU_S99"), "MSH-9", True),
        (lambda t: t.replace("SCH|12345|36996|", "SCH|||"), "SCH-2", False),
        (lambda t: t.replace("|2.8|", "|2.1|", 1), "MSH-12", True),
        (
            lambda t: t.replace("TQ1|||||||20210924093000+0215", "TQ1|||||||2021-09-24"),
            "TQ1-7",
            False,
        ),
    ],
)
def test_malformed_siu_names_the_field(refs, edit, location, reject):
    text = edit(sample("hl7v2/SIU-S12-01.hl7").decode())
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(text, refs, PRODUCED_AT)
    assert err.value.location == location
    assert err.value.reject is reject


def test_file_with_several_messages_splits_on_msh():
    both = sample("hl7v2/SIU-S12-01.hl7") + b"\n" + sample("hl7v2/SIU-S15-01.hl7")
    assert [m.split("|")[9] for m in hl7v2.split_messages(both)] == ["MSG00012", "MSG00015"]
