"""HL7 v2 (SIU, ADT, DFT) from the messages s2c ships map to canonical events.

The messages under tests/messages/hl7v2/ follow one lap cholecystectomy at Riverside General from
booking to charges, plus clinic, infusion, emergency and labour-and-delivery visits. They are
written the way real feeds send them: `\\n`, `\\r` and `\\r\\n` segment ends, escape sequences in
text, separators other than `|^~\\&` declared in MSH-1/MSH-2, and a batch file of several messages.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import fastavro
import fastavro.validation
import pytest
from samples import MESSAGES, PRODUCED_AT, message

from s2c.streams.catalog import load_catalog
from s2c.streams.connectors import hl7v2
from s2c.streams.connectors.events import MappingError

BOOKING = "SIU-S12-booking.hl7"
# What identifies the patients in the shipped messages: none of it may reach an event.
IDENTIFYING = (
    "RG4471902",
    "EMPI88310427",
    "TESTPATIENT",
    "AVERY",
    "19680229",
    "SAMPLE CREEK",
    "5550199",
    "MBR-6620194",
    "RG6093317",
    "CASEY",
    "19910815",
    "RG7025548",
    "DANA",
    "19940310",
    "12 TEST LN",
    "RG8102264",
    "ELLIS",
    "19820506",
    "RG5180336",
    "BLAKE",
    "RG9033157",
    "FINLEY",
    "RG9120475",
    "GRAY",
)


def text(name: str) -> str:
    return message(f"hl7v2/{name}").decode()


def mapped(name: str, refs):
    return hl7v2.map_text(message(f"hl7v2/{name}"), refs, PRODUCED_AT)


def only(events):
    assert len(events) == 1
    return events[0]


def every_event(refs):
    events = []
    for path in sorted((MESSAGES / "hl7v2").glob("*.hl7")):
        for unit in hl7v2.split_messages(path.read_bytes()):
            events += hl7v2.map_text(unit, refs, PRODUCED_AT)
    return events


def segment_names(raw: bytes | str) -> list[str]:
    return [str(seg[0][0]) for seg in hl7v2.parse(hl7v2.normalize(raw)).parsed]


# --- segment terminators -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ends"),
    [
        (BOOKING, "LF"),
        ("SIU-S13-reschedule.hl7", "CR"),
        ("SIU-S12-infusion-ais-timing.hl7", "CRLF"),
    ],
)
def test_every_segment_terminator_parses_into_all_segments(name, ends):
    raw = message(f"hl7v2/{name}")
    lf, cr, crlf = raw.count(b"\n"), raw.count(b"\r"), raw.count(b"\r\n")
    assert {"LF": lf and not cr, "CR": cr and not lf, "CRLF": crlf and crlf == lf == cr}[ends]
    names = segment_names(raw)
    assert names[:2] == ["MSH", "SCH"] and {"PID", "RGS", "AIS", "AIL", "AIP"} <= set(names)
    assert len(names) == len(raw.strip().splitlines())


def test_lf_booking_keeps_its_ais_aig_ail_aip_groups():
    names = segment_names(message(f"hl7v2/{BOOKING}"))
    assert names.count("AIS") == 2 and names.count("AIG") == 2 and names.count("AIP") == 3
    assert names.count("AIL") == 1 and names.count("NTE") == 2


def test_same_message_with_cr_or_lf_gives_the_same_events(refs):
    lf = message(f"hl7v2/{BOOKING}")
    cr = lf.replace(b"\n", b"\r")
    crlf = lf.replace(b"\n", b"\r\n")
    assert (
        hl7v2.map_text(lf, refs, PRODUCED_AT)
        == hl7v2.map_text(cr, refs, PRODUCED_AT)
        == hl7v2.map_text(crlf, refs, PRODUCED_AT)
    )  # a resend over another transport is a replay


def test_message_that_still_has_one_segment_is_a_parse_error():
    with pytest.raises(MappingError) as err:
        hl7v2.parse(text(BOOKING).splitlines()[0])
    assert err.value.stage == "parse" and "single segment" in err.value.reason


# --- SIU -------------------------------------------------------------------------------------


def test_or_booking_becomes_appointment_scheduled(refs):
    scheduled = only(mapped(BOOKING, refs))
    assert scheduled["envelope"]["event_type"] == "AppointmentScheduled"
    assert scheduled["appointment_id"] == "ORC-88120"  # SCH-2 filler id, not SCH-1 placer
    assert scheduled["scheduled_start"] == datetime(2026, 2, 10, 13, 30, tzinfo=UTC)  # -0600
    assert scheduled["duration_minutes"] == 135  # TQ1-8 minus TQ1-7
    assert (scheduled["site_id"], scheduled["department_id"]) == ("RGH-MAIN", "MAINOR")
    assert scheduled["provider_id"] == "40117"  # first AIP: the surgeon, not the anaesthetist
    assert scheduled["procedure_codes"] == ["47562", "74300"]
    assert scheduled["account_number"] == "A26004417"  # PID-18
    assert scheduled["payer_id"] == "LSHP01"  # IN1-3
    assert scheduled["service_line_id"] == "SUR"
    assert scheduled["envelope"]["occurred_at"] == datetime(2026, 1, 26, 16, 15, tzinfo=UTC)
    assert scheduled["envelope"]["produced_at"] == PRODUCED_AT
    assert scheduled["envelope"]["source_system"] == "hl7v2:ORSCHED@RGH"


def test_clinic_booking_with_two_services_and_withdrawn_sch11_timing(refs):
    scheduled = only(mapped("SIU-S12-clinic-two-services.hl7", refs))  # v2.4, no TQ1
    assert scheduled["procedure_codes"] == ["99213", "36415"]  # every RGS group's AIS
    assert scheduled["scheduled_start"] == datetime(2026, 2, 24, 20, 0, tzinfo=UTC)
    assert scheduled["duration_minutes"] == 45  # SCH-11.5 minus SCH-11.4
    assert (scheduled["site_id"], scheduled["department_id"]) == ("RGH-MAIN", "GSCLIN")


def test_infusion_booking_timed_only_by_ais_in_hours(refs):
    scheduled = only(mapped("SIU-S12-infusion-ais-timing.hl7", refs))
    assert scheduled["scheduled_start"] == datetime(2026, 2, 5, 15, 0, tzinfo=UTC)  # AIS-4
    assert scheduled["duration_minutes"] == 180  # AIS-7 3, AIS-8 h
    assert (scheduled["site_id"], scheduled["department_id"]) == ("RGH-CC", "INFUSION")
    assert scheduled["payer_id"] == "MCRB-TX"


@pytest.mark.parametrize(
    ("unit", "minutes"),
    [
        ("h^hours^ISO+", 180),
        ("HR", 180),
        ("hours", 180),
        ("min", 3),
        ("MIN^Minutes", 3),
        ("d^day^ISO+", 4320),
    ],
)
def test_duration_units_as_feeds_spell_them(refs, unit, minutes):
    raw = text("SIU-S12-infusion-ais-timing.hl7").replace(
        "|3|h^hours^ISO+|Booked\r\nAIL", f"|3|{unit}|Booked\r\nAIL"
    )
    assert only(hl7v2.map_text(raw, refs, PRODUCED_AT))["duration_minutes"] == minutes


def test_unknown_duration_unit_is_rejected_not_read_as_minutes(refs):
    raw = text("SIU-S12-infusion-ais-timing.hl7").replace(
        "|3|h^hours^ISO+|Booked\r\nAIL", "|3|fortnight|Booked\r\nAIL"
    )
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert err.value.location == "AIS-8" and not err.value.reject


def test_patient_appears_only_as_a_keyed_pseudonym(refs):
    scheduled = only(mapped(BOOKING, refs))
    assert scheduled["patient_ref"] == refs.ref("RG4471902", "RGH", "MR")  # the MR repetition
    flat = repr(scheduled)
    for identifying in IDENTIFYING:
        assert identifying not in flat


def test_the_same_patient_has_one_ref_across_feeds(refs):
    booked = only(mapped(BOOKING, refs))
    arrived = only(mapped("ADT-A04-registration.hl7", refs))
    clinic = only(mapped("SIU-S12-clinic-two-services.hl7", refs))
    assert booked["patient_ref"] == arrived["patient_ref"] == clinic["patient_ref"]
    other = only(mapped("ADT-A04-emergency-walk-in.hl7", refs))
    assert other["patient_ref"] != booked["patient_ref"]


@pytest.mark.parametrize(
    ("name", "event_type", "appointment", "extra"),
    [
        (
            "SIU-S13-reschedule.hl7",
            "AppointmentRescheduled",
            "ORC-88120",
            {
                "scheduled_start": datetime(2026, 2, 12, 18, 0, tzinfo=UTC),
                "duration_minutes": 135,
                "site_id": "RGH-MAIN",
                "department_id": "MAINOR",
                "provider_id": "40117",
            },
        ),
        (
            "SIU-S15-cancellation.hl7",
            "AppointmentCancelled",
            "ORC-88120",
            {"reason": "CANCELLED (PTREQ)"},
        ),
        (
            "SIU-S16-discontinuation.hl7",
            "AppointmentCancelled",
            "INF-7781",
            {"reason": "DISCONTINUED (REGCHG)"},
        ),
        (
            "SIU-S17-deletion.hl7",
            "AppointmentCancelled",
            "CL-30529",
            {"reason": "DELETED (ENTERR)"},
        ),
        ("SIU-S26-no-show.hl7", "AppointmentNoShow", "CL-30517", {}),
    ],
)
def test_schedule_changes(refs, name, event_type, appointment, extra):
    changed = only(mapped(name, refs))
    assert changed["envelope"]["event_type"] == event_type
    assert changed["appointment_id"] == appointment
    for key, value in extra.items():
        assert changed[key] == value
    assert "patient_ref" not in changed or changed["patient_ref"].startswith("pt-")


def test_modification_that_moves_the_slot_keeps_the_new_start_and_site(refs):
    """An S14 carries the appointment's current TQ1/AIS timing and AIL room; AppointmentModified
    has no field for them, so the modification is followed by a reschedule to that slot."""
    moved = text("SIU-S14-modification.hl7").replace("20260212120000-0600", "20260213090000-0600")
    moved = moved.replace("20260212141500-0600", "20260213111500-0600")
    moved = moved.replace("MAINOR^OR2^^RGH-MAIN", "ASCOR^OR1^^RGH-ASC")
    modified, rescheduled = hl7v2.map_text(moved, refs, PRODUCED_AT)
    assert modified["envelope"]["event_type"] == "AppointmentModified"
    assert (modified["procedure_codes"], modified["payer_id"]) == (["47563"], "LSHP01")
    assert modified["account_number"] == "A26004417"
    assert rescheduled["envelope"]["event_type"] == "AppointmentRescheduled"
    assert rescheduled["appointment_id"] == modified["appointment_id"] == "ORC-88120"
    assert rescheduled["scheduled_start"] == datetime(2026, 2, 13, 15, 0, tzinfo=UTC)
    assert rescheduled["duration_minutes"] == 135
    assert (rescheduled["site_id"], rescheduled["department_id"]) == ("RGH-ASC", "ASCOR")
    assert rescheduled["provider_id"] == "40117"
    assert modified["envelope"]["event_id"] != rescheduled["envelope"]["event_id"]


def test_modification_without_a_slot_is_only_a_modification(refs):
    raw = text("SIU-S14-modification.hl7")
    for segment in ("TQ1", "AIS", "AIL"):
        raw = "\r\n".join(
            s for s in raw.replace("\r\n", "\n").split("\n") if not s.startswith(segment)
        )
    (modified,) = hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert modified["envelope"]["event_type"] == "AppointmentModified"


def test_modification_with_a_start_but_no_room_is_refused_not_half_applied(refs):
    raw = text("SIU-S14-modification.hl7").replace("MAINOR^OR2^^RGH-MAIN", "MAINOR^OR2")
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert err.value.location == "AIL-3"


def test_schedule_changes_happen_when_the_scheduler_says(refs):
    cancelled = only(mapped("SIU-S15-cancellation.hl7", refs))
    assert cancelled["envelope"]["occurred_at"] == datetime(2026, 2, 9, 22, 45, tzinfo=UTC)


# --- ADT -------------------------------------------------------------------------------------


def test_registration_starts_a_surgical_encounter(refs):
    started = only(mapped("ADT-A04-registration.hl7", refs))
    assert started["envelope"]["event_type"] == "EncounterStarted"
    assert started["encounter_id"] == "V7710234"  # PV1-19
    assert started["account_number"] == "A26004417"  # PID-18
    assert started["arrived_at"] == datetime(2026, 2, 12, 16, 30, tzinfo=UTC)  # PV1-44
    assert started["envelope"]["occurred_at"] == started["arrived_at"]
    assert started["encounter_class"] == "SURGERY"  # PV1-2 O with PV1-10 SUR
    assert (started["site_id"], started["department_id"]) == ("RGH-MAIN", "SDS")
    assert started["payer_id"] == "LSHP01"
    assert started["appointment_id"] is None and started["case_id"] is None


def test_emergency_walk_in_arrives_at_the_event_time(refs):
    started = only(mapped("ADT-A04-emergency-walk-in.hl7", refs))
    assert started["encounter_class"] == "EMERGENCY"
    assert started["arrived_at"] == datetime(2026, 2, 14, 8, 37, tzinfo=UTC)  # EVN-6, no PV1-44
    assert started["payer_id"] is None  # self pay: no IN1
    assert (started["encounter_id"], started["account_number"]) == ("V7730551", "A26005530")


def test_discharge_completes_the_encounter(refs):
    done = only(mapped("ADT-A03-discharge.hl7", refs))  # v2.8, MSH-2 with truncation char
    assert done["envelope"]["event_type"] == "EncounterCompleted"
    assert (done["encounter_id"], done["account_number"]) == ("V7710234", "A26004417")
    assert done["discharged_at"] == datetime(2026, 2, 13, 0, 15, tzinfo=UTC)  # PV1-45


# --- DFT -------------------------------------------------------------------------------------


def test_dft_posts_one_charge_per_ft1(refs):
    surgeon, anaesthesia, cholangiogram, supplies = mapped("DFT-P03-surgery-charges.hl7", refs)
    assert {c["envelope"]["event_type"] for c in (surgeon, anaesthesia, cholangiogram)} == {
        "ChargePosted"
    }
    assert surgeon["charge_id"] == "CHG-900101"  # FT1-2
    assert anaesthesia["charge_id"] == "CHG260213-0415-FT1-2"  # no FT1-2: control id + set id
    assert (surgeon["procedure_code"], surgeon["units"], surgeon["amount"]) == (
        "47562",
        1,
        Decimal("4850.00"),
    )
    assert (anaesthesia["procedure_code"], anaesthesia["units"], anaesthesia["amount"]) == (
        "00790",
        8,
        Decimal("760.00"),
    )  # no FT1-11: 8 x FT1-12 95.00
    assert (cholangiogram["procedure_code"], cholangiogram["amount"]) == (
        "74300",
        Decimal("410.00"),
    )
    assert supplies["amount"] == Decimal("268.50")  # FT1-11 wins over FT1-12 x units
    assert surgeon["service_date"] == date(2026, 2, 12)
    assert surgeon["department_id"] == "MAINOR" and cholangiogram["department_id"] == "SDS"  # PV1-3
    assert surgeon["envelope"]["occurred_at"] == datetime(2026, 2, 13, 8, 0, tzinfo=UTC)  # FT1-5
    assert {c["account_number"] for c in (surgeon, anaesthesia, cholangiogram, supplies)} == {
        "A26004417"
    }
    assert all(isinstance(c["amount"], Decimal) for c in (surgeon, anaesthesia, supplies))


def test_p11_posts_charges_and_a_credit_that_reverses_one(refs):
    visit, venipuncture, credit, corrected = mapped("DFT-P11-clinic-charges.hl7", refs)
    assert (visit["charge_id"], visit["procedure_code"], visit["amount"]) == (
        "CHG-771201",
        "99213",
        Decimal("185.00"),
    )
    assert (venipuncture["procedure_code"], venipuncture["amount"]) == ("36415", Decimal("18.00"))
    assert venipuncture["envelope"]["occurred_at"] == datetime(
        2026, 2, 24, 23, 15, tzinfo=UTC
    )  # EVN-2
    assert credit["envelope"]["event_type"] == "ChargeReversed"
    assert credit["reverses_charge_id"] == "CHG-771201"  # FT1-31
    assert credit["amount"] == Decimal("185.00")  # a positive amount, the credit is the type
    assert (corrected["procedure_code"], corrected["amount"]) == ("99214", Decimal("260.00"))


# --- declared separators, escapes ----------------------------------------------------------


def test_declared_field_and_component_separators_are_honoured(refs):
    raw = text("SIU-S12-declared-separators.hl7")
    assert raw.startswith("MSH#$~\\&#") and "|" not in raw and "^" not in raw
    scheduled = only(mapped("SIU-S12-declared-separators.hl7", refs))
    assert scheduled["envelope"]["event_type"] == "AppointmentScheduled"
    assert scheduled["envelope"]["event_id"].startswith("hl7:DERMSCHED:DRM260211-0052:")
    assert scheduled["appointment_id"] == "CL-30611"
    assert (scheduled["site_id"], scheduled["department_id"]) == ("RGH-NORTH", "DERM")
    assert scheduled["procedure_codes"] == ["11602"]
    assert scheduled["scheduled_start"] == datetime(2026, 2, 19, 16, 30, tzinfo=UTC)
    assert scheduled["duration_minutes"] == 45
    assert scheduled["patient_ref"] == refs.ref("RG8102264", "RGH", "MR")
    assert scheduled["account_number"] == "A26006840"


def test_same_booking_with_default_separators_maps_to_the_same_values(refs):
    declared = text("SIU-S12-declared-separators.hl7")
    default = declared.replace("#", "|").replace("$", "^")  # it holds no | or ^ of its own
    assert default.startswith("MSH|^~\\&|")
    one = only(mapped("SIU-S12-declared-separators.hl7", refs))
    other = only(hl7v2.map_text(default, refs, PRODUCED_AT))
    assert one["envelope"]["event_type"] == other["envelope"]["event_type"]
    assert {k: v for k, v in one.items() if k != "envelope"} == {
        k: v for k, v in other.items() if k != "envelope"
    }


def test_declared_escape_and_subcomponent_separators_are_honoured(refs):
    raw = text("DFT-P03-declared-separators.hl7")
    assert raw.startswith("MSH|^~!%|")
    exercise, manual = mapped("DFT-P03-declared-separators.hl7", refs)
    assert exercise["amount"] == Decimal("142.50")  # FT1-11 `142.50%USD`: % splits the currency
    assert manual["amount"] == Decimal("102.50")  # 2 x `51.25%USD`
    assert exercise["department_id"] == "PT&OT"  # & is plain data when it is not a separator
    assert (exercise["units"], manual["charge_id"]) == (3, "RHB260219-0009-FT1-2")


def test_escape_sequences_in_text_do_not_move_fields(refs):
    raw = text("ADT-A04-labor-and-delivery-escapes.hl7")
    for sequence in ("\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\"):
        assert sequence in raw
    started = only(mapped("ADT-A04-labor-and-delivery-escapes.hl7", refs))
    assert started["department_id"] == "L&D"  # PV1-3.1 `L\T\D`, unescaped
    assert started["site_id"] == "RGH-WOMENS"
    assert started["payer_id"] == "LSHL02"  # IN1-3, after an IN1-2 with \T\ and \S\ in it
    assert started["account_number"] == "A26006102"  # PID-18, after a PID-11 with \T\ in it
    assert started["encounter_class"] == "INPATIENT"
    assert started["arrived_at"] == datetime(2026, 3, 4, 4, 18, tzinfo=UTC)
    flat = repr(started)
    for text_only in ("Term labor", "GBS", "Lone Star", "UNIT 3"):
        assert text_only not in flat


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("L\\T\\D", "L&D"),
        ("OR\\S\\A", "OR^A"),
        ("OR\\F\\4", "OR|4"),
        ("OR\\R\\4", "OR~4"),
        ("OR\\E\\4", "OR\\4"),
    ],
)
def test_each_escape_sequence_in_a_mapped_field_is_unescaped(refs, escaped, plain):
    raw = text("ADT-A04-labor-and-delivery-escapes.hl7").replace("L\\T\\D^LDR4", f"{escaped}^LDR4")
    assert only(hl7v2.map_text(raw, refs, PRODUCED_AT))["department_id"] == plain


# --- ids, errors, files ----------------------------------------------------------------------


def test_event_ids_are_stable_and_distinct_across_reused_control_ids(refs):
    first = only(mapped(BOOKING, refs))["envelope"]["event_id"]
    again = only(mapped(BOOKING, refs))["envelope"]["event_id"]
    reused = text(BOOKING).replace("CHOLE^Symptomatic", "BILIARY^Biliary colic")  # same MSH-10
    other = only(hl7v2.map_text(reused, refs, PRODUCED_AT))["envelope"]["event_id"]
    assert first == again and first != other
    assert first.startswith("hl7:ORSCHED:ORS260126-0007:")


def test_charge_event_ids_are_distinct_per_ft1(refs):
    ids = [c["envelope"]["event_id"] for c in mapped("DFT-P03-surgery-charges.hl7", refs)]
    assert len(set(ids)) == 4 and ids == sorted(ids)


@pytest.mark.parametrize(
    ("edit", "location", "reject"),
    [
        (lambda t: t.replace("SIU^S12^SIU_S12", "SIU^S99^SIU_S99"), "MSH-9", True),
        (lambda t: t.replace("SIU^S12^SIU_S12", "ORM^O01^ORM_O01"), "MSH-9", True),
        (lambda t: t.replace("SCH|ORP-55120^RGHOR|ORC-88120^RGHOR|", "SCH|||"), "SCH-2", False),
        (lambda t: t.replace("|2.5.1|", "|2.1|", 1), "MSH-12", True),
        (
            lambda t: t.replace("TQ1|1||||||20260210073000-0600", "TQ1|1||||||2026-02-10"),
            "TQ1-7",
            False,
        ),
        (lambda t: t.replace("RG4471902^^^RGH^MR~EMPI88310427^^^RGHEMPI^PI", ""), "PID-3", False),
        (
            lambda t: t.replace("AIL|1|A|MAINOR^OR4^^RGH-MAIN", "AIL|1|A|MAINOR^OR4^^").replace(
                "PV1|1|O|MAINOR^OR4^^RGH-MAIN", "PV1|1|O|MAINOR^OR4^^"
            ),
            "AIL-3",
            False,
        ),
        (lambda t: t.replace("ORS260126-0007", ""), "MSH-10", False),
    ],
)
def test_malformed_siu_names_the_field(refs, edit, location, reject):
    changed = edit(text(BOOKING))
    assert changed != text(BOOKING)
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(changed, refs, PRODUCED_AT)
    assert err.value.location == location
    assert err.value.reject is reject
    for identifying in IDENTIFYING:
        assert identifying not in str(err.value)


@pytest.mark.parametrize(
    ("edit", "location"),
    [
        (lambda t: t.replace("PV1|1|O|SDS", "PV1|1|Z|SDS"), "PV1-2"),
        (lambda t: t.replace("|V7710234^^^RGH^VN|", "||"), "PV1-19"),
        (lambda t: t.replace("SDS^PREOP2^^RGH-MAIN", "SDS^PREOP2^^"), "PV1-3"),
        (lambda t: t.replace("20260212103000-0600", "20260212 1030"), "PV1-44"),
    ],
)
def test_malformed_adt_names_the_field(refs, edit, location):
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(edit(text("ADT-A04-registration.hl7")), refs, PRODUCED_AT)
    assert err.value.location == location


@pytest.mark.parametrize(
    ("edit", "location"),
    [
        (lambda t: t.replace("|CG|74300", "|PY|74300"), "FT1[3]-6"),
        (lambda t: t.replace("|1|410.00&USD", "|1|four hundred&USD"), "FT1[3]-11"),
        (lambda t: t.replace("|CG|74300^Cholangiogram intraop^CPT4", "|CG|"), "FT1[3]-25"),
        (lambda t: t.replace("|8||95.00&USD|", "|8|||"), "FT1[2]-11"),
    ],
)
def test_malformed_dft_names_the_line(refs, edit, location):
    changed = edit(text("DFT-P03-surgery-charges.hl7"))
    assert changed != text("DFT-P03-surgery-charges.hl7")
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(changed, refs, PRODUCED_AT)
    assert err.value.location == location


def test_credit_that_names_no_charge_is_rejected(refs):
    changed = (
        text("DFT-P11-clinic-charges.hl7")
        .replace("|CHG-771201\r", "|\r")
        .replace("FT1|3|CHG-771203|", "FT1|3||")
    )
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(changed, refs, PRODUCED_AT)
    assert err.value.location == "FT1[3]-31"


def test_file_with_several_messages_splits_on_msh():
    both = message(f"hl7v2/{BOOKING}") + b"\n" + message("hl7v2/SIU-S15-cancellation.hl7")
    assert [m.split("|")[9] for m in hl7v2.split_messages(both)] == [
        "ORS260126-0007",
        "ORS260209-0044",
    ]


def test_batch_file_drops_its_wrappers_and_maps_every_message(refs):
    raw = message("hl7v2/SIU-batch-clinic-day.hl7")
    assert raw.startswith(b"FHS|") and b"\r\n" in raw
    units = hl7v2.split_messages(raw)
    assert [u.split("|")[9] for u in units] == [
        "CLS260226-0101",
        "CLS260226-0188",
        "CLS260226-0201",
    ]
    events = [only(hl7v2.map_text(u, refs, PRODUCED_AT)) for u in units]
    assert [(e["envelope"]["event_type"], e["appointment_id"]) for e in events] == [
        ("AppointmentScheduled", "CL-30640"),
        ("AppointmentRescheduled", "CL-30640"),
        ("AppointmentCancelled", "CL-30598"),
    ]
    assert events[1]["scheduled_start"] == datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    assert events[1]["department_id"] == "GSCLIN"


# --- every shipped message -------------------------------------------------------------------


def test_every_shipped_message_gives_valid_avro_records(refs):
    catalog = load_catalog()
    events = every_event(refs)
    kinds = {e["envelope"]["event_type"] for e in events}
    assert kinds == {
        "AppointmentScheduled",
        "AppointmentRescheduled",
        "AppointmentModified",
        "AppointmentCancelled",
        "AppointmentNoShow",
        "CaseScheduled",
        "CaseRescheduled",
        "CaseCancelled",
        "EncounterStarted",
        "EncounterCompleted",
        "ChargePosted",
        "ChargeReversed",
    }
    for record in events:
        schema = catalog.parsed(f"s2c.events.{record['envelope']['event_type']}")
        fastavro.validation.validate(record, schema, raise_errors=True, strict=True)
        fastavro.schemaless_writer(io.BytesIO(), schema, record)


def test_no_identifying_value_in_any_event(refs):
    flat = repr(every_event(refs))
    for identifying in IDENTIFYING:
        assert identifying not in flat


def test_event_ids_are_unique_across_the_shipped_messages(refs):
    ids = [e["envelope"]["event_id"] for e in every_event(refs)]
    assert len(ids) == len(set(ids))
