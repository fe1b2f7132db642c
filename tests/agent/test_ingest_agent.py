"""The ingest agent routes each canonical event by its business keys and dead-letters the rest.

Riverside's OR schedule books a knee arthroscopy on account ACCT-7001 (straight to its process,
and the link stage must learn the account), the orthopaedic clinic books a follow-up visit before registration opened an account
(straight to its process), and two things that are not s2c events reach the topic: a raw HL7 line
and a master-data record produced to the wrong topic.
"""

from __future__ import annotations

from datetime import timedelta

from agentkit import World
from core_world import IDS, T0, Feed, knee_case_scheduled

from s2c.streams.deadletter import DeadLetter
from s2c.streams.topology.context import CONTROL_HEADER, REGISTRATION

HL7_LINE = b"MSH|^~\\&|EPIC|RIVERSIDE|||202603020800||SIU^S12|8812|P|2.5.1\r"
UNKNOWN_SCHEMA = b"\x00\x00\x00\x00\x07junk"  # framed like Avro, schema id 7 was never registered


def follow_up_visit(feed: Feed):
    return feed(
        "AppointmentScheduled",
        2,
        appointment_id="A-2001",
        patient_ref="pt-9f3a",
        account_number=None,
        site_id="RIVERSIDE",
        department_id="RIV-ORTHO-CLINIC",
        provider_id="DR-OKAFOR",
        service_line_id="ORTHO",
        payer_id="AETNA-COMM",
        procedure_codes=["99213"],
        scheduled_start=T0 + timedelta(days=28),
        duration_minutes=20,
    )


async def test_events_go_to_their_process_and_register_their_account(tmp_path) -> None:
    w = World(tmp_path)
    feed = Feed("ingest")
    case, visit = knee_case_scheduled(feed), follow_up_visit(feed)
    case_bytes, visit_bytes = w.encode(case), w.encode(visit)

    async with w.agent("s2c-ingest").test_context() as ingest:
        await w.put(ingest, b"C-1001", case_bytes, partition=1)
        await w.put(ingest, b"A-2001", visit_bytes, partition=3)

    # A case event goes straight to its process; because it carries an account, a registration
    # copy teaches the link stage the account, keyed by the account's pseudonym, never its number.
    # Ingest's forwards carry no time: the stages apply each event once every upstream has got
    # as far as its own business time (reorder.py).
    link_key = IDS.account_ref("ACCT-7001").encode()
    assert [(s.key, s.value, s.headers) for s in w.sent_to(w.t.topics.link)] == [
        (link_key, case_bytes, {CONTROL_HEADER: REGISTRATION})
    ]
    assert [(s.key, s.value, s.headers) for s in w.sent_to(w.t.topics.process)] == [
        (b"CASE-C-1001", case_bytes, {}),
        (b"APPT-A-2001", visit_bytes, {}),
    ]
    assert w.sent_to(w.t.topics.dlq) == []
    assert w.counter("s2c_events_in_total", event_type="CaseScheduled") == 1
    assert w.counter("s2c_events_in_total", event_type="AppointmentScheduled") == 1


async def test_undecodable_bytes_and_non_events_are_dead_lettered_with_connect_headers(
    tmp_path,
) -> None:
    w = World(tmp_path)
    payer = w.codec.encode(
        "s2c.master.Payer",
        {
            "payer_id": "AETNA-COMM",
            "display_name": "Aetna Commercial",
            "financial_class": "COMMERCIAL",
        },
    )

    async with w.agent("s2c-ingest").test_context() as ingest:
        hl7 = await w.put(ingest, b"8812", HL7_LINE, partition=2)
        unknown = await w.put(ingest, b"ACCT-7001", UNKNOWN_SCHEMA, partition=2)
        master = await w.put(ingest, b"Payer:AETNA-COMM", payer, partition=0)

    letters = w.sent_to(w.t.topics.dlq)
    assert [(s.key, s.value) for s in letters] == [
        (b"8812", HL7_LINE),
        (b"ACCT-7001", UNKNOWN_SCHEMA),
        (b"Payer:AETNA-COMM", payer),
    ]
    read = [DeadLetter.from_message(s.key, s.value, list(s.headers.items())) for s in letters]
    for letter, message in zip(read, (hl7, unknown, master)):
        assert letter.source_topic == w.t.topics.events.name
        assert (letter.source_partition, letter.source_offset) == (
            message.partition,
            message.offset,
        )
        assert letter.stage == "ingest"
    assert [(d.reason, d.exception_class) for d in read] == [
        ("undecodable", "DecodeError"),
        ("undecodable", "DecodeError"),
        ("invalid-event", "ValueError"),
    ]
    assert "magic byte" in read[0].exception_message
    assert "schema id 7" in read[1].exception_message
    assert "s2c.master.Payer is not a canonical event" in read[2].exception_message
    assert set(letters[0].headers) == {
        "__connect.errors.topic",
        "__connect.errors.partition",
        "__connect.errors.offset",
        "__connect.errors.stage",
        "__connect.errors.exception.class.name",
        "__connect.errors.exception.message",
        "s2c.errors.reason",
    }

    assert w.counter("s2c_dead_letters_total", reason="undecodable", stage="ingest") == 2
    assert w.counter("s2c_dead_letters_total", reason="invalid-event", stage="ingest") == 1
    assert w.sent_to(w.t.topics.link) == w.sent_to(w.t.topics.process) == []


async def test_an_authorization_naming_no_visit_becomes_a_work_item(tmp_path) -> None:
    w = World(tmp_path)
    orphan = Feed("ingest")(
        "AuthorizationRequested",
        5,
        authorization_id="AUTH-77",
        appointment_id=None,
        case_id=None,
        payer_id="AETNA-COMM",
        procedure_codes=["29881"],
    )

    async with w.agent("s2c-ingest").test_context() as ingest:
        await w.put(ingest, b"AUTH-77", w.encode(orphan))

    [item] = w.sent_to(w.t.topics.exceptions)
    name, record = w.decode(item.value)
    assert name == "s2c.ops.WorkQueueException"
    assert (record["kind"], record["event_id"]) == ("UNLINKED_EVENT", orphan.event_id)
    assert w.counter("s2c_exceptions_total", kind="UNLINKED_EVENT") == 1


async def test_implausible_events_are_dead_lettered_with_their_reason_and_move_no_time(
    tmp_path,
) -> None:
    """A booking dated 2999, one with no case id and a negative charge reach the events topic
    between two real bookings: none may reach a process, each names the rule it broke, and the
    partition's stream time is the real events' time, not the year 2999."""
    from dataclasses import replace

    from core_world import T0, charge

    w = World(tmp_path)
    feed = Feed("door")
    first = knee_case_scheduled(feed)
    far = knee_case_scheduled(feed, case_id="C-2999")
    far = replace(far, envelope=replace(far.envelope, occurred_at=T0.replace(year=2999)))
    no_key = knee_case_scheduled(feed, case_id="")
    credit = charge(feed, 5, amount="-6800.00")
    second = follow_up_visit(feed)

    async with w.agent("s2c-ingest").test_context() as ingest:
        for key, event in (
            (b"C-1001", first),
            (b"C-2999", far),
            (b"", no_key),
            (b"ACCT-7001", credit),
            (b"A-2001", second),
        ):
            await w.put(ingest, key, w.encode(event), partition=1)

    read = [
        DeadLetter.from_message(s.key, s.value, list(s.headers.items()))
        for s in w.sent_to(w.t.topics.dlq)
    ]
    assert [(d.reason, d.exception_message) for d in read] == [
        ("implausible-time", "business time is more than 366 days ahead of stream time"),
        ("bad-business-key", "CaseScheduled.case_id is empty"),
        ("bad-amount", "ChargePosted.amount is negative"),
    ]
    assert {d.stage for d in read} == {"ingest"}
    assert [d.value for d in read] == [w.encode(e) for e in (far, no_key, credit)]
    assert [s.key for s in w.sent_to(w.t.topics.process)] == [b"CASE-C-1001", b"APPT-A-2001"]
    assert w.t.clock.now("ingest", 1) == second.occurred_at
    assert w.counter("s2c_dead_letters_total", reason="bad-amount", stage="ingest") == 1
