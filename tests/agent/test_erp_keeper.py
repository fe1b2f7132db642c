"""The ERP keeper (streams/topology/erp.py): what the ERP did with each command, per instance.

Riverside books Dr Okafor's knee arthroscopy (case C-1001, Aetna Commercial): four commands go to
the ERP. The ERP applies the supply reservation and the labor plan, rejects the revenue accrual
(its period is closed) and says nothing of the room booking. With a 30-second ack wait, the room
booking becomes an ERP_UNSYNCHRONIZED work item; the accrual an ERP_REJECTED one, with its amount
and Riverside as its site. When the ERP answers the room booking and, after finance reopened the
period, retries the accrual, both items are resolved by notices. Repeats change nothing; the
instance query shows each command's status; without an ack wait nothing is ever unsynchronized.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from agentkit import World
from aiohttp.test_utils import TestClient, TestServer
from core_world import Feed, knee_case_scheduled, master_data
from yarl import URL

from s2c.streams.settings import SecretStr
from s2c.streams.topology.erp import partition_of
from s2c.streams.topology.keepers import WORK_SLOT
from s2c.streams.topology.workitems import state_of
from s2c.tables import core
from s2c.tables.codec import dumps
from s2c.tables.erp_status import ErpState
from s2c.tables.outputs import Command, stable_id

CASE = "CASE-C-1001"
PART = partition_of(CASE.encode(), 4)  # where the outbox and the sink put its records
SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the commands' record timestamps (wall clock)
CLOSED = "CLOSED_PERIOD: period 2026-03 is not open"


def booked(w: World) -> dict[str, Command]:
    """The booking's commands by type; the instance saved as the process stage saves it."""
    state, outputs = core.transition(
        None, knee_case_scheduled(Feed("erp")), master_data(), SENT, CASE
    )
    w.t.tables["processes"].data[CASE.encode()] = dumps(state.to_dict()).encode()
    return {o.schema: o for o in outputs if isinstance(o, Command)}


def command_value(w: World, command: Command) -> bytes:
    return w.codec.encode(f"s2c.commands.{command.schema}", command.to_record())


def ack_value(w: World, command: Command, status: str, seconds: int, reason=None) -> bytes:
    return w.codec.encode(
        "s2c.erp.CommandAck",
        {
            "command_id": command.command_id,
            "process_id": CASE,
            "command_type": command.schema,
            "status": status,
            "erp_document_number": f"JE-{seconds:010d}" if status == "APPLIED" else None,
            "reason": reason,
            "erp_system": "s2c-reference-erp",
            "acknowledged_at": SENT + timedelta(seconds=seconds),
        },
    )


def items(w: World) -> list[dict]:
    return [w.decode(s.value)[1] for s in w.sent_to(w.t.topics.exceptions)]


def erp_state(w: World) -> ErpState:
    return ErpState.from_dict(json.loads(w.t.tables["erp_commands"][CASE.encode()]))


async def test_rejections_and_silence_become_work_items_resolved_when_the_erp_answers(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, erp_ack_wait_seconds=30.0)
    commands = booked(w)
    accrual, room = commands["AccrueExpectedRevenue"], commands["ReserveRoom"]
    supplies, labor = commands["ReserveSupplies"], commands["PlanLabor"]

    async with w.agent("s2c-erp").test_context() as erp:
        for command in commands.values():
            await w.put(
                erp, CASE.encode(), command_value(w, command), PART, timestamp=SENT.timestamp()
            )
        await w.put(erp, CASE.encode(), ack_value(w, supplies, "APPLIED", 2), PART)
        await w.put(erp, CASE.encode(), ack_value(w, labor, "APPLIED", 3), PART)
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "REJECTED", 4, CLOSED), PART)

        [rejected] = items(w)
        assert rejected["kind"] == "ERP_REJECTED"
        assert rejected["exception_id"] == stable_id(
            "erp", "ERP_REJECTED", CASE, accrual.command_id
        )
        assert accrual.command_id in rejected["reason"] and CLOSED in rejected["reason"]
        assert (rejected["process_id"], rejected["site_id"]) == (CASE, "RIVERSIDE")
        assert rejected["amount"] == accrual.amount > Decimal("0")
        assert rejected["event_id"] == accrual.header.caused_by_event_id
        assert w.counter("s2c_erp_acks_total", status="APPLIED") == 2
        assert w.counter("s2c_erp_acks_total", status="REJECTED") == 1

        # Redelivered: a command and an ack again change nothing, raise nothing, count nothing.
        stored = w.t.tables["erp_commands"][CASE.encode()]
        await w.put(
            erp, CASE.encode(), command_value(w, supplies), PART, timestamp=SENT.timestamp()
        )
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "REJECTED", 4, CLOSED), PART)
        assert w.t.tables["erp_commands"][CASE.encode()] == stored
        assert len(items(w)) == 1
        assert w.counter("s2c_erp_acks_total", status="REJECTED") == 1

        # Wall clock: at 29 s nothing is late; at 30 s the room booking is, once.
        await w.t.erp.check([PART], SENT + timedelta(seconds=29))
        assert len(items(w)) == 1
        await w.t.erp.check([PART], SENT + timedelta(seconds=30))
        await w.t.erp.check([PART], SENT + timedelta(seconds=90))
        unsynchronized = items(w)[1:]
        assert [(i["kind"], room.command_id in i["reason"]) for i in unsynchronized] == [
            ("ERP_UNSYNCHRONIZED", True)
        ]
        assert w.t.erp.pending([PART]) == 1
        assert erp_state(w).counts() == {"APPLIED": 2, "REJECTED": 1, "PENDING": 1}

        # The ERP answers the room at last, and applies the accrual on a retry.
        await w.put(erp, CASE.encode(), ack_value(w, room, "APPLIED", 120), PART)
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "APPLIED", 150), PART)

    notices = items(w)[2:]
    assert {(n["kind"], n["resolves_exception_id"]) for n in notices} == {
        ("ERP_UNSYNCHRONIZED", unsynchronized[0]["exception_id"]),
        ("ERP_REJECTED", rejected["exception_id"]),
    }
    assert erp_state(w).counts() == {"APPLIED": 4, "REJECTED": 0, "PENDING": 0}
    assert w.t.erp.pending([PART]) == 0
    assert w.counter("s2c_erp_acks_total", status="APPLIED") == 4
    # Kept for the work queue beside the state, and written to the changelog (recovery).
    kept = json.loads(w.t.tables["erp_exceptions"][CASE.encode()])
    assert [k["exception_id"] for k in kept] == [i["exception_id"] for i in items(w)]
    changelog = w.t.tables["erp_commands"].changelog_topic.get_topic_name()
    assert any(s.key == CASE.encode() for s in w.producer.sent if s.topic == changelog)

    # The instance query shows the ERP facts and the ERP's work items.
    me = URL(str(w.app.conf.canonical_url))
    w.app.router.key_store = lambda table, key: me  # type: ignore[method-assign]
    w.app.web.init_server()
    async with TestClient(TestServer(w.app.web.web_app)) as client:
        answer = await client.get(f"/process/{CASE}/")
        body = await answer.json()
    assert body["erp"]["counts"] == {"APPLIED": 4, "REJECTED": 0, "PENDING": 0}
    assert {e["kind"] for e in body["exceptions"]} == {"ERP_REJECTED", "ERP_UNSYNCHRONIZED"}


async def test_an_instance_query_lists_the_rejected_and_pending_commands(tmp_path: Path) -> None:
    w = World(tmp_path)
    commands = booked(w)
    accrual = commands["AccrueExpectedRevenue"]
    async with w.agent("s2c-erp").test_context() as erp:
        for command in commands.values():
            await w.put(
                erp, CASE.encode(), command_value(w, command), PART, timestamp=SENT.timestamp()
            )
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "REJECTED", 4, CLOSED), PART)
    me = URL(str(w.app.conf.canonical_url))
    w.app.router.key_store = lambda table, key: me  # type: ignore[method-assign]
    w.app.web.init_server()
    async with TestClient(TestServer(w.app.web.web_app)) as client:
        body = await (await client.get(f"/process/{CASE}/")).json()
    assert body["erp"]["counts"] == {"APPLIED": 0, "REJECTED": 1, "PENDING": 3}
    assert [(r["command_id"], r["reason"]) for r in body["erp"]["rejected"]] == [
        (accrual.command_id, CLOSED)
    ]
    assert sorted(p["command_id"] for p in body["erp"]["pending"]) == sorted(
        c.command_id for c in commands.values() if c is not accrual
    )


async def test_without_an_ack_wait_no_command_is_ever_unsynchronized(tmp_path: Path) -> None:
    w = World(tmp_path)  # S2C_ERP_ACK_WAIT unset: no ERP connected
    commands = booked(w)
    async with w.agent("s2c-erp").test_context() as erp:
        for command in commands.values():
            await w.put(
                erp, CASE.encode(), command_value(w, command), PART, timestamp=SENT.timestamp()
            )
        await w.t.erp.check([PART], SENT + timedelta(days=30))
    assert items(w) == []
    assert erp_state(w).counts() == {"APPLIED": 0, "REJECTED": 0, "PENDING": 4}
    assert w.t.erp.pending([PART]) == 4


async def test_a_record_that_is_no_command_nor_ack_is_dead_lettered(tmp_path: Path) -> None:
    w = World(tmp_path)
    async with w.agent("s2c-erp").test_context() as erp:
        await w.put(erp, CASE.encode(), w.encode(knee_case_scheduled(Feed("erp"))), PART)
        await w.put(erp, CASE.encode(), b"\x00not avro", 1)
        # An ack another ERP put in a partition its key does not hash to: its facts would split.
        stray = ack_value(w, booked(w)["ReserveRoom"], "APPLIED", 9)
        await w.put(erp, CASE.encode(), stray, (PART + 1) % 4)
    letters = w.sent_to(w.t.topics.dlq)
    assert len(letters) == 3
    assert w.counter("s2c_dead_letters_total", reason="misrouted", stage="erp") == 1
    assert CASE.encode() not in w.t.tables["erp_commands"]
    assert w.counter("s2c_dead_letters_total", reason="invalid-erp-record", stage="erp") == 1
    assert w.counter("s2c_dead_letters_total", reason="undecodable", stage="erp") == 1


async def test_live_reconciliation_follows_the_erps_answers_and_the_ack_wait(
    tmp_path: Path,
) -> None:
    """The keeper keeps each instance's reconciliation facts beside its statuses: the refused
    accrual is SCHEDULED_NOT_RESERVED at once; the unanswered room booking is ERP_UNACKNOWLEDGED
    only once it is reported unsynchronized; the instance query, `/reconciliation/` and the
    gauge show the same; when the ERP answers, the mismatches go."""
    w = World(tmp_path, erp_ack_wait_seconds=30.0)
    commands = booked(w)
    accrual, room = commands["AccrueExpectedRevenue"], commands["ReserveRoom"]
    live = w.t.erp.live

    def kinds() -> dict[str, tuple[str, ...]]:
        raw = CASE.encode()
        found = live.judge(raw, live.facts_of(raw, w.t.tables["erp_facts"][raw]), live.latest)
        return {m.kind.value: m.command_ids for m in found}

    async with w.agent("s2c-erp").test_context() as erp:
        for command in commands.values():
            await w.put(
                erp, CASE.encode(), command_value(w, command), PART, timestamp=SENT.timestamp()
            )
        for command in (commands["ReserveSupplies"], commands["PlanLabor"]):
            await w.put(erp, CASE.encode(), ack_value(w, command, "APPLIED", 2), PART)
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "REJECTED", 4, CLOSED), PART)
        assert kinds() == {"SCHEDULED_NOT_RESERVED": (accrual.command_id,)}
        await w.t.erp.check([PART], SENT + timedelta(seconds=30))
        assert kinds() == {
            "SCHEDULED_NOT_RESERVED": (accrual.command_id,),
            "ERP_UNACKNOWLEDGED": (room.command_id,),
        }
        live.sweep()
        gauge = w.metrics.mismatches
        live.show(gauge, set())
        sample = w.metrics.registry.get_sample_value
        labels = {"kind": "ERP_UNACKNOWLEDGED", "site": "RIVERSIDE"}
        assert sample("s2c_reconciliation_mismatches", labels) == 1

        me = URL(str(w.app.conf.canonical_url))
        w.app.router.key_store = lambda table, key: me  # type: ignore[method-assign]
        w.app.router.tables_metadata = lambda: {}  # type: ignore[method-assign]
        w.app.web.init_server()
        async with TestClient(TestServer(w.app.web.web_app)) as client:
            shown = await (await client.get(f"/process/{CASE}/")).json()
            listed = await (await client.get("/reconciliation/")).json()
        assert {m["kind"] for m in shown["reconciliation"]} == {
            "SCHEDULED_NOT_RESERVED",
            "ERP_UNACKNOWLEDGED",
        }
        [row] = listed["instances"]
        assert row["unsynchronized"] == [room.command_id]
        assert set(row["facts"]["commands"][i][0] for i in range(4)) == {
            c.command_id for c in commands.values()
        }

        await w.put(erp, CASE.encode(), ack_value(w, room, "APPLIED", 120), PART)
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "APPLIED", 150), PART)
        assert kinds() == {}
        shown_before = live.show(gauge, {("ERP_UNACKNOWLEDGED", "RIVERSIDE")})
        assert shown_before == set()
        assert sample("s2c_reconciliation_mismatches", labels) is None


async def test_an_erp_item_is_listed_and_a_person_acknowledges_and_resolves_it(
    tmp_path: Path,
) -> None:
    """ERP items are work items like the others: `/exceptions/` lists them (stage `erp`), the
    open-items tally counts them, and a named user acknowledges and resolves one; the keeper
    applies the action under its lock and commits it before answering, so it is in the table."""
    token = "lena-from-general-ledger"
    users = tmp_path / "api-users"
    users.write_text(f"lena:{hashlib.sha256(token.encode()).hexdigest()}\n")
    w = World(tmp_path / "w", api_token=SecretStr("shared"), api_users_file=users)
    commands = booked(w)
    accrual = commands["AccrueExpectedRevenue"]
    async with w.agent("s2c-erp").test_context() as erp:
        await w.put(erp, CASE.encode(), command_value(w, accrual), PART, timestamp=SENT.timestamp())
        await w.put(erp, CASE.encode(), ack_value(w, accrual, "REJECTED", 4, CLOSED), PART)
    tally = json.loads(w.t.tables["erp_timers"][str(PART).encode()])
    assert [n for slot, n in tally.items() if slot.startswith(WORK_SLOT)] == [1]

    me = URL(str(w.app.conf.canonical_url))
    w.app.router.key_store = lambda table, key: me  # type: ignore[method-assign]
    w.app.router.tables_metadata = lambda: {}  # type: ignore[method-assign]
    w.app.web.init_server()
    lena = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(w.app.web.web_app)) as client:
        listed = await client.get("/exceptions/", headers={"Authorization": "Bearer shared"})
        [item] = (await listed.json())["exceptions"]
        assert (item["kind"], item["stage"], item["state"]) == ("ERP_REJECTED", "erp", "open")
        path = f"/exceptions/{item['exception_id']}"
        body = {"key": item["key"], "stage": "erp", "reason": "period reopened, retry asked"}
        assert (await client.post(f"{path}/acknowledge", json=body, headers=lena)).status == 202
        assert (await client.post(f"{path}/resolve", json=body, headers=lena)).status == 202
        again = await client.post(f"{path}/resolve", json=body, headers=lena)
        assert again.status == 200 and (await again.json())["changed"] is False
    [kept] = json.loads(w.t.tables["erp_exceptions"][CASE.encode()])
    assert state_of(kept) == "resolved" and kept["resolved"]["by"] == "lena"
    assert kept["acknowledged"]["reason"] == "period reopened, retry asked"
    tally = json.loads(w.t.tables["erp_timers"][str(PART).encode()])
    assert [n for slot, n in tally.items() if slot.startswith(WORK_SLOT)] == []
