"""ERP (`<prefix>.erp.commands` + `<prefix>.erp.acks`, keyed by process id): what the ERP did with
each command of each instance, kept beside the process stage.

One agent reads both topics (co-partitioned with the process topic, so partition p of all three is
one worker's) and keeps per instance the ERP status of each command (s2c.tables.erp_status):
APPLIED with its document number, REJECTED with the ERP's reason, PENDING while unanswered. The
work items it raises (ERP_REJECTED, ERP_UNSYNCHRONIZED and their resolution notices) go to the
exceptions topic and are kept for the experience API, in the keeper's own tables: `erp_commands`
(the states), `erp_exceptions` (the kept items), `erp_timers` (the ack-wait index and the pending
tally per partition). All three are changelog-backed and checkpointed per batch like the stages'
(runtime/checkpoint.py), so a restart or a rebalance neither loses nor repeats a status; a
repeated command or ack changes nothing.

The ack wait (`S2C_ERP_ACK_WAIT`, seconds) is wall clock, not event time: it measures the ERP's
responsiveness. A command's deadline is its record timestamp on the commands topic plus the wait;
every `TICK_SECONDS` the keeper raises ERP_UNSYNCHRONIZED for the commands of its partitions past
it, under the agent's lock and with a checkpoint of its own. Unset, no ERP is connected: nothing
is filed and nothing is ever raised as unsynchronized.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from s2c.streams.runtime.checkpoint import Checkpoint, Placed
from s2c.streams.runtime.loop import run_stage
from s2c.streams.runtime.overrides.app import RAW
from s2c.streams.runtime.states import forget_on_rebalance, json_states
from s2c.streams.runtime.timers import TimerIndex
from s2c.streams.topology.context import Topology
from s2c.streams.topology.keepers import add_to_tally
from s2c.streams.topology.reconciliation import LiveReconciliation
from s2c.streams.topology.worklist import apply_action, keep_raised
from s2c.tables.codec import loads, to_decimal
from s2c.tables.erp_status import (
    AckReceived,
    CommandSent,
    ErpState,
    ack_received,
    command_sent,
    next_overdue,
    overdue,
)
from s2c.tables.outputs import WorkQueueException

log = logging.getLogger(__name__)
ERP_TABLES = ("erp_commands", "erp_exceptions", "erp_timers", "erp_facts")
TICK_SECONDS = 1.0
COMMANDS = "s2c.commands."
ACK = "s2c.erp.CommandAck"
PENDING_SLOT = "{}:pending"  # in erp_timers: the partition's PENDING commands, for the gauge
Change = Callable[[ErpState | None], tuple[ErpState, list[WorkQueueException]]]


class ErpKeeper:
    def __init__(self, t: Topology) -> None:
        self.t = t
        self.checkpoint = Checkpoint(t.tables, ERP_TABLES, t.outbox, progress=("erp_timers",))
        self.states = json_states(
            t.app, self.checkpoint["erp_commands"], ErpState, t.settings.state_cache
        )
        self.timers = TimerIndex(self.checkpoint["erp_timers"], prefix="ack")
        forget_on_rebalance(t.app, self.timers)
        self.lock = asyncio.Lock()  # the agent's batches and the ack-wait check take turns
        seconds = t.settings.erp_ack_wait_seconds
        self.wait = None if seconds is None else timedelta(seconds=seconds)
        self.processes = t.tables["processes"]  # read only: the site of an instance
        # the instance's reconciliation facts, beside its statuses (reconciliation.py)
        self.live = LiveReconciliation(t.tables, acks_connected=self.wait is not None)

    def command(self, partition: int, key: str, record: dict[str, Any], sent_at: datetime) -> None:
        header = record["header"]
        amount = record.get("amount")
        sent = CommandSent(
            header["command_id"],
            header["command_type"],
            header["caused_by_event_id"],
            sent_at,
            None if amount is None else to_decimal(amount),
        )
        self._step(partition, key, lambda state: command_sent(state, key, sent))
        self.live.command(self.checkpoint["erp_facts"], key, record)

    def ack(self, partition: int, key: str, record: dict[str, Any]) -> None:
        ack = AckReceived.of_record(record)
        if ack.status not in ("APPLIED", "REJECTED"):
            raise ValueError(f"an ack's status is APPLIED or REJECTED, not {ack.status}")
        before = self.states.load(key.encode())
        known = None if before is None else before.commands.get(ack.command_id)
        status_before = None if known is None else known.status
        after = self._step(partition, key, lambda state: ack_received(state, key, ack))
        decided = after.commands[ack.command_id]
        if decided.status != status_before:  # decided now: a repeated ack is not counted again
            self.t.metrics.child(self.t.metrics.erp_acks, decided.status).inc()
            self.live.answer(
                self.checkpoint["erp_facts"], key, ack.command_id, decided.status, decided.reason
            )

    def fire_overdue(self, partition: int, now: datetime) -> None:
        """ERP_UNSYNCHRONIZED for the commands of `partition` unanswered for the wait at `now`."""
        wait = self.wait
        if wait is None:
            return
        self.checkpoint.current(Placed(partition))
        for raw in self.timers.due(partition, now - wait):
            if self.states.load(raw) is None:
                continue  # nothing kept under that key: nothing can be late
            key = raw.decode()
            self._step(partition, key, lambda state: overdue(state or ErpState(key), now, wait))

    async def check(self, partitions: list[int], now: datetime) -> None:
        """The ack-wait round over `partitions` (this worker's), made durable at once."""
        if self.wait is None or not partitions:
            return
        async with self.lock:
            for partition in partitions:
                self.fire_overdue(partition, now)
            await self.checkpoint.commit(None, [])

    async def act(self, key: str, action: dict[str, Any]) -> None:
        """A person's action on an ERP item kept for `key` (api_actions.py), made durable before
        it returns: the keeper's own topics are the ERP's, so no control record goes there."""
        raw = key.encode()
        partition = partition_of(raw, self.t.settings.partitions)
        async with self.lock:
            self.checkpoint.current(Placed(partition))
            moves = apply_action(self.checkpoint["erp_exceptions"], raw, action)
            add_to_tally(self.checkpoint["erp_timers"], partition, moves)
            await self.checkpoint.commit(None, [])

    def pending(self, partitions: list[int]) -> int:
        """The PENDING commands of `partitions`, from the tallies (read only, over the table)."""
        table = self.t.tables["erp_timers"]
        return sum(int(table.get(PENDING_SLOT.format(p).encode()) or 0) for p in partitions)

    def _step(self, partition: int, key: str, change: Change) -> ErpState:
        raw = key.encode()
        state = self.states.load(raw)
        before = None if state is None else state.to_dict()
        pending_before = 0 if state is None else state.pending()
        state, items = change(state)
        if before is not None and state.to_dict() == before:
            return state  # a repeated command or ack: nothing written, nothing raised
        if items:
            site = self._site_of(raw)
            items = [replace(item, site_id=site) for item in items]
            self.t.sink.emit(items)
            moves = keep_raised(self.checkpoint["erp_exceptions"], raw, items)
            add_to_tally(self.checkpoint["erp_timers"], partition, moves)
        self.states.save(raw, state)
        moved = state.pending() - pending_before
        if moved:
            tallies = self.checkpoint["erp_timers"]
            slot = PENDING_SLOT.format(partition).encode()
            tallies[slot] = str(max(int(tallies.get(slot) or 0) + moved, 0)).encode()
        if self.wait is not None:
            self.timers.schedule(partition, raw, next_overdue(state))
        return state

    def _site_of(self, raw: bytes) -> str | None:
        """The instance's site, as the process stage last saved it (None before it did)."""
        stored = self.processes.get(raw)
        return None if stored is None else loads(stored).get("site_id")


def partition_of(key: bytes, partitions: int) -> int:
    """Where a producer with Java's partitioner (murmur2: the workers' outbox, Faust, the
    reference sink) puts `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def attach_erp(t: Topology) -> ErpKeeper:
    app: faust.App = t.app
    keeper = ErpKeeper(t)
    erp_t = app.topic(t.topics.commands.name, t.topics.erp_acks.name, schema=RAW)
    acks_name = t.topics.erp_acks.name

    @app.agent(erp_t, name="s2c-erp", concurrency=1)
    async def erp(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        await run_stage(stream, keeper.checkpoint, erp_one, erp_failed, keeper.lock)

    async def erp_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "erp", exc)

    async def erp_one(message: Any) -> None:
        decoded = await t.decode(message, "erp")
        if decoded is None:
            return
        name, record = decoded
        try:
            if name.startswith(COMMANDS):
                key = record["header"]["process_id"]
            elif name == ACK:
                key = record["process_id"]
            else:
                raise ValueError(f"{name} is neither an ERP command nor an ERP acknowledgement")
        except (ValueError, KeyError, TypeError) as exc:
            await t.dead_letter(message, "invalid-erp-record", "erp", exc)
            return
        if partition_of(key.encode(), t.settings.partitions) != message.partition:
            # Its instance's facts live in another partition: kept here they would split in two.
            # An ERP adapter that partitions its acks otherwise than by murmur2 of the key.
            misrouted = ValueError(f"keyed {key} but in partition {message.partition}")
            await t.dead_letter(message, "misrouted", "erp", misrouted)
            return
        if name == ACK:
            keeper.ack(message.partition, key, record)
        else:
            sent_at = datetime.fromtimestamp(message.timestamp, UTC)
            keeper.command(message.partition, key, record, sent_at)

    shown: set[tuple[str, str]] = set()

    @app.timer(interval=TICK_SECONDS)
    async def erp_ack_wait() -> None:
        nonlocal shown
        if not app.tables.recovery.completed.is_set():
            return
        owned = sorted(
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic == acks_name
        )
        t.metrics.erp_pending.set(keeper.pending(owned))
        await keeper.check(owned, datetime.now(UTC))
        partitions = t.settings.partitions
        keeper.live.forget(set(owned), lambda key: partition_of(key.encode(), partitions))
        keeper.live.sweep()
        shown = keeper.live.show(t.metrics.mismatches, shown)

    return keeper
