"""Every input ends in canonical events or in one rejection that names the place and the reason.

The inputs are the messages s2c ships, bent the ways issue 17 found real feeds bend them: an HL7
date with month 13 or an offset of +9999, a duration declared only in words, money with three
decimals, a Latin-1 message that says so in MSH-18, two FT1s sharing a set id, a FHIR file that
is a JSON array, a Bundle entry whose resource is null, an empty file. None of them may raise,
stop `s2c ingest` or leave an MLLP sender without an acknowledgment.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import hl7
import pytest
from hl7.mllp import open_hl7_connection
from prometheus_client import CollectorRegistry
from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir, hl7v2
from s2c.streams.connectors.cli import ingest_files
from s2c.streams.connectors.events import MappingError
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp import MllpListener
from s2c.streams.connectors.publish import MemoryPublisher

INFUSION = "hl7v2/SIU-S12-infusion-ais-timing.hl7"
AIS_TIMING = "|3|h^hours^ISO+|Booked\r\nAIL"


@pytest.fixture
def ingestor(refs) -> Ingestor:
    return Ingestor(
        MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
    )


def text(name: str) -> str:
    return message(name).decode()


def rejected(raw: str | bytes, refs) -> MappingError:
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(raw, refs, PRODUCED_AT)
    return err.value


# --- HL7 v2 dates, durations, money ---------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "location", "why"),
    [
        ("20260205090000-0600|0|min|3", "20261305090000-0600|0|min|3", "AIS-4", "out of range"),
        ("20260205090000-0600|0|min|3", "20260205090000+9999|0|min|3", "AIS-4", "offset"),
        ("20260205090000-0600|0|min|3", "20260230090000-0600|0|min|3", "AIS-4", "out of range"),
        ("20260205090000-0600|0|min|3", "20260205250000-0600|0|min|3", "AIS-4", "out of range"),
        ("20260128113000-0600", "20261328113000-0600", "MSH-7", "out of range"),
    ],
)
def test_impossible_dates_are_rejected_naming_the_field(ingestor, old, new, location, why):
    raw = text(INFUSION).replace(old, new, 1)
    (outcome,) = ingestor.hl7_file(raw.encode(), "inbox/oncology.hl7")
    assert outcome.ack_code == "AE" and outcome.error.location == location
    assert why in outcome.error.reason
    (letter,) = ingestor.publisher.dead_letters
    assert letter.location == location and new.encode() in letter.original
    assert not ingestor.publisher.events


@pytest.mark.parametrize(
    ("unit", "minutes"), [("^hours", 180), ("^Hours^ISO+", 180), ("h^hour(s)", 180)]
)
def test_a_unit_declared_in_words_only_is_read_not_taken_for_minutes(refs, unit, minutes):
    raw = text(INFUSION).replace(AIS_TIMING, f"|3|{unit}|Booked\r\nAIL")
    (booked,) = hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert booked["duration_minutes"] == minutes


@pytest.mark.parametrize(
    ("amount", "unit", "location", "why"),
    [
        ("3", "", "AIS-8", "has no unit"),
        ("3", "min^hours", "AIS-8", "disagree"),
        ("3", "fortnight", "AIS-8", "not known"),
        ("-3", "h", "AIS-7", "not positive"),
        ("Infinity", "h", "AIS-7", "not a number"),
        ("1e30", "h", "AIS-7", "too long"),
    ],
)
def test_a_duration_without_a_usable_unit_or_amount_is_refused(refs, amount, unit, location, why):
    raw = text(INFUSION).replace(AIS_TIMING, f"|{amount}|{unit}|Booked\r\nAIL")
    err = rejected(raw, refs)
    assert err.location == location and why in err.reason


def dft_with(ft1: str, charged: str) -> str:
    return text("hl7v2/DFT-P03-surgery-charges.hl7").replace(ft1, charged, 1)


def test_money_with_fractions_of_a_cent_is_refused_not_rounded(refs):
    err = rejected(dft_with("|1|4850.00&USD|", "|1|4850.005&USD|"), refs)
    assert err.location == "FT1[1]-11" and "fractions of a cent" in err.reason


def test_a_unit_price_in_fractions_of_a_cent_is_fine_when_the_total_is_whole_cents(refs):
    raw = dft_with("|1|4850.00&USD||", "|8||0.125&USD|")
    (first, *_) = hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert str(first["amount"]) == "1.00"


def test_a_charge_in_another_currency_is_refused_not_taken_for_dollars(refs):
    err = rejected(dft_with("|1|4850.00&USD|", "|1|4850.00&EUR|"), refs)
    assert err.location == "FT1[1]-11" and "EUR" in err.reason


def test_two_ft1_without_ft1_2_sharing_a_set_id_are_two_charges(refs):
    suture, trocars = hl7v2.map_text(
        message("hl7v2/DFT-P03-repeated-set-ids.hl7"), refs, PRODUCED_AT
    )
    assert suture["charge_id"] != trocars["charge_id"]
    assert (suture["charge_id"], trocars["charge_id"]) == (
        "CHG260213-0107-FT1-1",
        "CHG260213-0107-FT1-2",
    )
    assert str(trocars["amount"]) == "268.50"  # FT1-12 89.50 x FT1-10 3


# --- HL7 v2 character sets (MSH-18) ---------------------------------------------------------

LATIN1 = "hl7v2/ADT-A04-latin1-charset.hl7"


def test_a_latin1_message_that_declares_it_keeps_its_accents(refs):
    raw = message(LATIN1)
    assert "ÍA".encode("latin-1") in raw and b"|8859/1" in raw
    (arrived,) = hl7v2.map_text(raw, refs, PRODUCED_AT)
    assert arrived["department_id"] == "NEUROLOGÍA"


def test_the_same_department_in_utf8_maps_to_the_same_value(refs):
    raw = message(LATIN1).decode("latin-1").replace("|8859/1", "|UNICODE UTF-8").encode()
    assert hl7v2.map_text(raw, refs, PRODUCED_AT)[0]["department_id"] == "NEUROLOGÍA"


@pytest.mark.parametrize(
    ("declared", "why"),
    [("", "not valid UTF-8"), ("EBCDIC", "not supported"), ("UNICODE UTF-16", "not supported")],
)
def test_bytes_that_do_not_match_the_declared_character_set_are_refused(refs, declared, why):
    raw = message(LATIN1).replace(b"|8859/1", f"|{declared}".encode())
    err = rejected(raw, refs)
    assert (err.location, err.stage) == ("MSH-18", "parse") and why in err.reason


def test_a_file_mixing_character_sets_decodes_each_message_by_its_own_msh18(ingestor):
    raw = message(LATIN1) + b"\r\n" + message("hl7v2/ADT-A04-registration.hl7")
    outcomes = list(ingestor.hl7_file(raw, "inbox/adt.hl7"))
    assert [o.ack_code for o in outcomes] == ["AA", "AA"]
    departments = [record["department_id"] for _, _, record in ingestor.publisher.events]
    assert departments == ["NEUROLOGÍA", "SDS"]


# --- MLLP: one acknowledgment per message, whatever happens -----------------------------------


async def exchange(listener: MllpListener, blocks: list[bytes]) -> list[bytes]:
    port = await listener.start()
    try:
        reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="latin-1")
        acks = []
        for block in blocks:
            writer.writeblock(block)
            await writer.drain()
            acks.append(await reader.readblock())
        writer.close()
        return acks
    finally:
        await listener.stop()


def test_mllp_naks_an_impossible_date_naming_the_field_and_dead_letters_it(ingestor):
    bad = text(INFUSION).replace("20260205090000-0600", "20261305090000-0600", 1).encode()
    good = message("hl7v2/ADT-A03-discharge.hl7")
    nak, ack = asyncio.run(exchange(MllpListener(ingestor, port=0), [bad, good]))
    parsed = hl7.parse(nak.decode())
    assert str(parsed.segment("MSA")(1)) == "AE"
    assert str(parsed.segment("ERR")(2)) == "AIS^1^4"
    assert "out of range" in str(parsed.segment("ERR")(3))
    assert str(hl7.parse(ack.decode()).segment("MSA")(1)) == "AA"  # the connection carried on
    (letter,) = ingestor.publisher.dead_letters
    assert (letter.source, letter.location) == ("mllp", "AIS-4")


def test_mllp_naks_encoding_characters_python_hl7_cannot_use(ingestor):
    """python-hl7 raised a bare AssertionError on MSH-2 `  `: the listener thread died."""
    bad = message("hl7v2/ADT-A03-discharge.hl7").replace(b"MSH|^~\\&#|", b"MSH|  |", 1)
    assert bad.startswith(b"MSH|  |")
    (nak,) = asyncio.run(exchange(MllpListener(ingestor, port=0), [bad]))
    assert b"\rMSA|AE|" in nak and b"encoding characters" in nak
    (letter,) = ingestor.publisher.dead_letters
    assert (letter.location, letter.stage, letter.original) == ("MSH-2", "parse", bad)


def test_mllp_answers_a_latin1_message_in_latin1(ingestor):
    (ack,) = asyncio.run(exchange(MllpListener(ingestor, port=0), [message(LATIN1)]))
    parsed = hl7.parse(ack.decode("latin-1"))
    assert str(parsed.segment("MSA")(1)) == "AA"
    assert str(parsed.segment("MSH")(18)) == "8859/1"
    assert ingestor.publisher.events[0][2]["department_id"] == "NEUROLOGÍA"


def test_a_mapper_failure_nobody_foresaw_is_a_nak_and_a_dead_letter(ingestor, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug in a mapper")

    monkeypatch.setattr(hl7v2, "map_message", broken)
    blocks = [message("hl7v2/ADT-A03-discharge.hl7"), message("hl7v2/ADT-A03-discharge.hl7")]
    acks = asyncio.run(exchange(MllpListener(ingestor, port=0), blocks))
    assert [str(hl7.parse(a.decode()).segment("MSA")(1)) for a in acks] == ["AE", "AE"]
    assert "207" in str(hl7.parse(acks[0].decode()).segment("ERR")(3))
    letters = ingestor.publisher.dead_letters
    assert [letter.reason for letter in letters] == [
        "unit: internal error while mapping (KeyError)"
    ] * 2


# --- FHIR files -------------------------------------------------------------------------------


def fhir_outcomes(ingestor: Ingestor, raw: bytes):
    return list(ingestor.fhir_file(raw, "inbox/payer.json"))


def test_a_fhir_file_that_is_a_json_array_is_one_rejection(ingestor):
    raw = b"[" + message("fhir/Appointment-booked-colonoscopy.json") + b"]"
    (outcome,) = fhir_outcomes(ingestor, raw)
    assert outcome.error.location == "$" and "JSON array" in outcome.error.reason
    (letter,) = ingestor.publisher.dead_letters
    assert letter.original == raw


def test_a_bundle_entry_whose_resource_is_null_is_rejected_alone(ingestor):
    bundle = message("fhir/Bundle-two-appointments.json").decode()
    raw = bundle.replace('"entry": [', '"entry": [{"fullUrl": "urn:uuid:1", "resource": null}, ', 1)
    assert raw != bundle
    outcomes = fhir_outcomes(ingestor, raw.encode())
    assert [o.ack_code for o in outcomes] == ["AE", "AA", "AA"]
    (letter,) = ingestor.publisher.dead_letters
    assert letter.location == "Bundle.entry[0].resource" and "null" in letter.reason
    assert len(ingestor.publisher.events) == 2


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        (b"", "json"),
        (b"  \n", "json"),
        (b'{"resourceType": "Bundle", "type": "collection"}', "Bundle.entry"),
        (b'{"resourceType": "Bundle", "entry": [42]}', "Bundle.entry[0]"),
        (b"42", "$"),
    ],
)
def test_a_file_that_gives_nothing_says_so(ingestor, raw, location):
    (outcome,) = fhir_outcomes(ingestor, raw)
    assert outcome.events == 0 and outcome.error.location == location
    assert len(ingestor.publisher.dead_letters) == 1


def test_an_ndjson_line_that_is_not_json_is_rejected_alone(ingestor):
    lines = message("fhir/Encounter-bulk-export.ndjson").decode().splitlines()
    raw = "\n".join([lines[0], '{"resourceType": "Encounter", "id": ', *lines[1:]]).encode()
    outcomes = fhir_outcomes(ingestor, raw)
    assert [o.ack_code for o in outcomes] == ["AA", "AE", "AA"]
    assert ingestor.publisher.dead_letters[0].location == "line 2"


# --- s2c ingest goes on after a bad file ------------------------------------------------------


def test_the_cli_ingests_every_file_after_a_bad_one(ingestor, tmp_path: Path, monkeypatch):
    files = []
    for name, raw in [
        ("1-booked.json", message("fhir/Appointment-booked-colonoscopy.json")),
        ("2-array.json", b"[1, 2]"),
        ("3-empty.json", b""),
        ("4-claim.json", message("fhir/Claim-professional-colonoscopy.json")),
        ("5-encounters.ndjson", message("fhir/Encounter-bulk-export.ndjson")),
    ]:
        (tmp_path / name).write_bytes(raw)
        files.append(tmp_path / name)
    real = fhir.map_resource

    def fails_on_claims(doc, *args):
        if doc.get("resourceType") == "Claim":
            raise RuntimeError("a bug in the claim mapper")
        return real(doc, *args)

    monkeypatch.setattr(fhir, "map_resource", fails_on_claims)
    assert ingest_files(ingestor, "fhir", files, show_progress=False) == 1
    types = [record["envelope"]["event_type"] for _, _, record in ingestor.publisher.events]
    assert types == ["AppointmentScheduled", "EncounterCompleted", "EncounterStarted"]
    letters = ingestor.publisher.dead_letters
    assert [(Path(letter.source).name, letter.location) for letter in letters] == [
        ("2-array.json", "$"),
        ("3-empty.json", "json"),
        ("4-claim.json", "unit"),
    ]


# --- found by spoiling the shipped messages (test_mutated_messages.py) --------------------------


def test_a_claim_line_number_that_is_not_a_number_is_rejected_naming_lx(ingestor):
    raw = message("x12/837p-clinic-claims.837").replace(b"LX*2~", b"LX*2x~", 1)
    outcomes = list(ingestor.x12_file(raw, "inbox/claims.837"))
    assert [o.error.location for o in outcomes if o.error] == ["LX[CLM 1]01"]


def test_a_fhir_resource_without_an_id_is_rejected_naming_it(ingestor):
    doc = message("fhir/Encounter-colonoscopy-in-progress.json").replace(b'"id": "enc-5",', b"", 1)
    (outcome,) = fhir_outcomes(ingestor, doc)
    assert outcome.error.location == "Encounter.id"


@pytest.mark.parametrize("kind", ["", None, "Nope", 5])
def test_a_contained_resource_of_no_known_type_is_rejected_naming_it(ingestor, kind):
    """fhir.resources looks a contained resource's model up by its type and raised a KeyError or
    TypeError, not a validation error, for these: the mapper's own exception, and for a Claim
    the run's memory of Claims (`remember_claims`) stopped the whole file."""
    response = json.loads(message("fhir/ClaimResponse-paid-contained-claim.json"))
    response["contained"][0]["resourceType"] = kind
    claim = json.loads(message("fhir/Claim-professional-colonoscopy-account-number.json"))
    claim["contained"] = [{"resourceType": kind, "id": "visit"}]
    raw = "".join(json.dumps(doc) + "\n" for doc in (claim, response)).encode()
    outcomes = fhir_outcomes(ingestor, raw)
    assert [(o.error.location, o.error.stage) for o in outcomes] == [
        ("Claim.contained[0].resourceType", "parse"),
        ("ClaimResponse.contained[0].resourceType", "parse"),
    ]
