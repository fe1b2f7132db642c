"""The link agent holds account-only events until the account belongs to a process instance.

Riverside's charge master posts the arthroscopy charge on account ACCT-7001 before the surgical
encounter has been registered (interfaces race; this happens every day). The charge must wait in
the `links` table, and leave for the knee case's process once EncounterStarted ties ACCT-7001 to
case C-1001. A charge on an account nobody ever registers becomes a work item after seven days of
event time: once every ingest partition has announced that it got that far (its watermark).
"""

from __future__ import annotations

import json
from decimal import Decimal

from agentkit import World
from core_world import DAY, IDS, SURGERY_DAY, Feed, charge, claim, encounter_started

from s2c.streams.runtime.reorder import TIME_HEADER
from s2c.streams.runtime.watermarks import WATERMARK, to_ms
from s2c.streams.topology.context import CONTROL_HEADER
from s2c.tables.link import WALK_IN_WAIT

ACCOUNT = IDS.account_ref("ACCT-7001").encode()  # the link key: the account's pseudonym
STRAY = IDS.account_ref("ACCT-7999").encode()


def link_state(w: World, account: bytes) -> dict:
    return json.loads(w.t.tables["links"][account])


async def test_a_charge_waits_for_its_account_and_follows_the_encounter(tmp_path) -> None:
    w = World(tmp_path)
    feed = Feed("link")
    early_charge = charge(feed, SURGERY_DAY - 1)
    arrived = encounter_started(feed)
    billed = claim(feed, SURGERY_DAY + 2 * DAY)

    sent_as = {e: w.encode(e) for e in (early_charge, arrived, billed)}
    encoded: list[str] = []  # what the worker asks its codec to encode
    encode = w.codec.encode
    w.codec.encode = lambda name, record: encoded.append(name) or encode(name, record)

    async with w.agent("s2c-link").test_context() as link:
        await w.put(link, ACCOUNT, sent_as[early_charge], partition=2)
        # Held until every ingest partition has got as far as the charge, then parked.
        assert b"".join(w.t.tables["links"].keys()) == b""
        await w.announce(link, "link", 2, early_charge.occurred_at)
        assert w.sent_to(w.t.topics.process) == []
        parked = link_state(w, ACCOUNT)
        assert parked["process_id"] is None
        assert [entry[2]["envelope"]["event_id"] for entry in parked["parked"]] == [
            early_charge.event_id
        ]

        await w.put(link, ACCOUNT, sent_as[arrived], partition=2)
        await w.put(link, ACCOUNT, sent_as[billed], partition=2)
        await w.announce(link, "link", 2, billed.occurred_at)
    w.codec.encode = encode

    forwarded = w.sent_to(w.t.topics.process)
    assert {s.key for s in forwarded} == {b"CASE-C-1001"}
    events = [w.decode(s.value) for s in forwarded]
    assert [(name, record["envelope"]["event_id"]) for name, record in events] == [
        ("s2c.events.EncounterStarted", arrived.event_id),
        ("s2c.events.ChargePosted", early_charge.event_id),
        ("s2c.events.ClaimSubmitted", billed.event_id),
    ]
    assert events[1][1]["amount"] == Decimal("6800.00")  # the money travels intact
    # An event forwarded as it arrived leaves as the bytes it came in; only the parked charge,
    # kept in the links table, is encoded again.
    assert forwarded[0].value == sent_as[arrived] and forwarded[2].value == sent_as[billed]
    assert [name for name in encoded if name.startswith("s2c.events.")] == [
        "s2c.events.ChargePosted"
    ]
    assert link_state(w, ACCOUNT) == {
        "account_ref": ACCOUNT.decode(),
        "process_id": "CASE-C-1001",
        "parked": [],
    }
    assert w.sent_to(w.t.topics.exceptions) == []


def announcement(source: str, at=None, idle: bool = False) -> bytes:
    return json.dumps(
        {"source": source, "at": None if at is None else to_ms(at), "idle": idle}
    ).encode()


async def test_a_charge_nobody_links_becomes_a_work_item_after_seven_days(tmp_path) -> None:
    w = World(tmp_path)
    feed = Feed("link")
    stray = charge(feed, SURGERY_DAY, charge_id="CHG-9", account="ACCT-7999", amount="410.00")
    week_later = encounter_started(feed, hours=SURGERY_DAY + 8 * DAY)
    control = [(CONTROL_HEADER, WATERMARK)]
    quiet, busy = range(w.t.settings.partitions - 1), w.t.settings.partitions - 1

    async with w.agent("s2c-link").test_context() as link:
        await w.put(link, STRAY, w.encode(stray), partition=2)
        # Another account's event on the same partition: its own time is past the deadline, but
        # the ingest partitions have not said how far they got, so nothing fires yet.
        await w.put(link, ACCOUNT, w.encode(week_later), partition=2)
        assert w.sent_to(w.t.topics.exceptions) == []
        for p in quiet:
            await w.put(
                link,
                b"__watermark__",
                announcement(f"ingest:{p}", idle=True),
                partition=2,
                headers=control,
            )
        await w.put(
            link,
            b"__watermark__",
            announcement(f"ingest:{busy}", stray.occurred_at),
            partition=2,
            headers=control,
        )
        assert w.sent_to(w.t.topics.exceptions) == []  # the busy partition is a week short
        await w.put(
            link,
            b"__watermark__",
            announcement(f"ingest:{busy}", week_later.occurred_at),
            partition=2,
            headers=control,
        )

    [item] = w.sent_to(w.t.topics.exceptions)
    _, record = w.decode(item.value)
    assert (record["kind"], record["event_id"]) == ("UNLINKED_EVENT", stray.event_id)
    assert STRAY.decode() in record["reason"] and "ACCT-7999" not in record["reason"]
    # Reported once, but kept parked (flag in the fourth column): if the account is ever linked,
    # the charge is still applied.
    assert [row[3] for row in link_state(w, STRAY)["parked"]] == [True]
    assert w.counter("s2c_exceptions_total", kind="UNLINKED_EVENT") == 1


async def test_a_walk_in_opens_its_instance_when_its_wait_has_passed(tmp_path) -> None:
    """An emergency registration on an account nobody has booked waits an hour of event time for
    a booking (link.WALK_IN_WAIT). The charge posted meanwhile waits with it. When every ingest
    partition is past the hour, the registration opens its ENC- instance and both go there, each
    with the time the link let them go at (the deadline), so the process stage applies them no
    earlier than the hour has passed for it too."""
    w = World(tmp_path)
    feed = Feed("walk-in")
    arrived = encounter_started(feed, hours=0, account="ACCT-7999", case_id=None)
    charged = charge(feed, 0.5, account="ACCT-7999")
    wait_ends = arrived.occurred_at + WALK_IN_WAIT

    async with w.agent("s2c-link").test_context() as link:
        for event in (arrived, charged):
            await w.put(link, STRAY, w.encode(event), partition=2)
        await w.announce(link, "link", 2, charged.occurred_at)
        assert w.sent_to(w.t.topics.process) == []  # both wait for a booking
        await w.announce(link, "link", 2, wait_ends)

    walk_in = IDS.encounter_process_id("ACCT-7999").encode()
    forwarded = w.sent_to(w.t.topics.process)
    assert [s.key for s in forwarded] == [walk_in, walk_in]
    assert [w.decode(s.value)[1]["envelope"]["event_id"] for s in forwarded] == [
        arrived.event_id,
        charged.event_id,
    ]
    assert {s.headers[TIME_HEADER] for s in forwarded} == {str(to_ms(wait_ends)).encode()}
    assert link_state(w, STRAY)["process_id"] == walk_in.decode()
