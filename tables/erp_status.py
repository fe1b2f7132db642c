"""What the ERP did with each command of an instance: APPLIED, REJECTED or still PENDING.

Pure: the adapter hands in a command as the pipeline sent it (`CommandSent`) and each ERP
acknowledgement (`AckReceived`, the `s2c.erp.CommandAck` record); `command_sent`, `ack_received`
and `overdue` update the instance's `ErpState` and return the work items to raise:

- a REJECTED ack raises `ERP_REJECTED` (the command id and the ERP's reason in `reason`, the
  causing event's id in `event_id`, the amount of a journal); a later APPLIED ack of the same
  command id (the ERP retried) resolves it with a notice (`resolves_exception_id`);
- a command PENDING longer than the ack wait raises `ERP_UNSYNCHRONIZED` (`overdue`); an APPLIED
  ack resolves it, a REJECTED one resolves it and raises `ERP_REJECTED`.

The ack wait is wall-clock: it measures the ERP's responsiveness, not business time. `sent_at` is
when the command was written to the commands topic (the record's timestamp), so a keeper that
reads the topic again after a restart files the same deadline. Ids are `stable_id`s of the kind,
the process and the command id, so a raised item keeps its id through redeliveries; a repeated
command or ack changes nothing and raises nothing.

Acks and commands come in on two topics, so an ack may be read before its command: it is kept
(the command's type comes with the ack), and the command fills in what only it carries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from s2c.tables.codec import iso, to_datetime, to_decimal
from s2c.tables.outputs import WorkQueueException, stable_id
from s2c.tables.vocabulary import ExceptionKind

PENDING, APPLIED, REJECTED = "PENDING", "APPLIED", "REJECTED"
STATUSES = (APPLIED, REJECTED, PENDING)
FORMAT = 1  # the stored form of `ErpState.to_dict`


@dataclass(frozen=True, slots=True)
class CommandSent:
    """A command as the keeper read it from the commands topic."""

    command_id: str
    command_type: str
    caused_by_event_id: str
    sent_at: datetime  # the commands topic's record timestamp (wall clock)
    amount: Decimal | None  # a journal's control total; None for operational documents


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An `s2c.erp.CommandAck`."""

    command_id: str
    command_type: str
    status: str  # APPLIED or REJECTED
    erp_document_number: str | None
    reason: str | None
    acknowledged_at: datetime

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> AckReceived:
        return cls(
            record["command_id"],
            record["command_type"],
            str(record["status"]),
            record.get("erp_document_number"),
            record.get("reason"),
            to_datetime(record["acknowledged_at"]),
        )


@dataclass(slots=True)
class ErpCommand:
    """One command's ERP facts. `open_item` is the kind of the work item raised for it and not
    resolved yet (ERP_REJECTED or ERP_UNSYNCHRONIZED), None when there is none."""

    command_id: str
    command_type: str
    status: str = PENDING
    sent_at: datetime | None = None  # None: its ack came first
    caused_by_event_id: str | None = None
    amount: Decimal | None = None
    erp_document_number: str | None = None
    reason: str | None = None
    acknowledged_at: datetime | None = None
    open_item: str | None = None
    reported_unsynchronized: bool = False

    def row(self) -> list[Any]:
        return [
            self.command_id,
            self.command_type,
            self.status,
            None if self.sent_at is None else iso(self.sent_at),
            self.caused_by_event_id,
            None if self.amount is None else str(self.amount),
            self.erp_document_number,
            self.reason,
            None if self.acknowledged_at is None else iso(self.acknowledged_at),
            self.open_item,
            self.reported_unsynchronized,
        ]

    @classmethod
    def of_row(cls, row: list[Any]) -> ErpCommand:
        return cls(
            row[0],
            row[1],
            row[2],
            None if row[3] is None else to_datetime(row[3]),
            row[4],
            None if row[5] is None else to_decimal(row[5]),
            row[6],
            row[7],
            None if row[8] is None else to_datetime(row[8]),
            row[9],
            bool(row[10]),
        )


@dataclass
class ErpState:
    """The ERP side of one process instance: its commands by id. Bounded by the instance's own
    commands (each caused by one of its events)."""

    process_id: str
    commands: dict[str, ErpCommand] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": FORMAT,
            "process_id": self.process_id,
            "commands": [self.commands[cid].row() for cid in sorted(self.commands)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErpState:
        if data.get("v") != FORMAT:
            raise ValueError(f"ERP state format {data.get('v')!r} is not {FORMAT}")
        rows = (ErpCommand.of_row(row) for row in data["commands"])
        return cls(data["process_id"], {c.command_id: c for c in rows})

    def counts(self) -> dict[str, int]:
        found = Counter(c.status for c in self.commands.values())
        return {status: found[status] for status in STATUSES}

    def pending(self) -> int:
        return sum(1 for c in self.commands.values() if c.status == PENDING)


def command_sent(
    state: ErpState | None, process_id: str, sent: CommandSent
) -> tuple[ErpState, list[WorkQueueException]]:
    """The command is on its way to the ERP: PENDING until its ack. Its ack, if read first, stays."""
    state = state or ErpState(process_id)
    known = state.commands.get(sent.command_id)
    if known is None:
        state.commands[sent.command_id] = ErpCommand(
            sent.command_id,
            sent.command_type,
            sent_at=sent.sent_at,
            caused_by_event_id=sent.caused_by_event_id,
            amount=sent.amount,
        )
    elif known.sent_at is None:  # its ack came first; a repeated command changes nothing
        known.sent_at = sent.sent_at
        known.caused_by_event_id = sent.caused_by_event_id
        known.amount = sent.amount
    return state, []


def ack_received(
    state: ErpState | None, process_id: str, ack: AckReceived
) -> tuple[ErpState, list[WorkQueueException]]:
    """Record the ERP's answer. APPLIED is final: a later REJECTED of an applied id (which an ERP
    that answers each id once never sends) changes nothing; REJECTED may turn APPLIED (a retry)."""
    state = state or ErpState(process_id)
    command = state.commands.get(ack.command_id)
    if command is None:
        command = state.commands[ack.command_id] = ErpCommand(ack.command_id, ack.command_type)
    if command.status == APPLIED or (
        command.status == REJECTED and ack.status == REJECTED
    ):  # a repeated ack, or a REJECTED after APPLIED
        return state, []
    out: list[WorkQueueException] = []
    command.status = APPLIED if ack.status == APPLIED else REJECTED
    command.erp_document_number = ack.erp_document_number
    command.reason = ack.reason
    command.acknowledged_at = ack.acknowledged_at
    if command.open_item is not None:  # answered at last, or applied after a rejection
        kind = ExceptionKind(command.open_item)
        out.append(_resolution(state, command, kind, ack))
        command.open_item = None
    if command.status == REJECTED:
        out.append(
            _item(
                state,
                command,
                ExceptionKind.ERP_REJECTED,
                f"ERP rejected command {command.command_id} ({command.command_type}): "
                f"{ack.reason or 'no reason given'}",
                ack.acknowledged_at,
            )
        )
        command.open_item = ExceptionKind.ERP_REJECTED.value
    return state, out


def overdue(
    state: ErpState, now: datetime, wait: timedelta
) -> tuple[ErpState, list[WorkQueueException]]:
    """Commands still PENDING `wait` after they were sent, each reported once (wall clock)."""
    out: list[WorkQueueException] = []
    for cid in sorted(state.commands):
        command = state.commands[cid]
        if command.status != PENDING or command.reported_unsynchronized:
            continue
        if command.sent_at is None or command.sent_at + wait > now:
            continue
        out.append(
            _item(
                state,
                command,
                ExceptionKind.ERP_UNSYNCHRONIZED,
                f"no ERP acknowledgement of command {cid} ({command.command_type}) "
                f"{_seconds(wait)} after it was sent",
                command.sent_at + wait,
            )
        )
        command.reported_unsynchronized = True
        command.open_item = ExceptionKind.ERP_UNSYNCHRONIZED.value
    return state, out


def next_overdue(state: ErpState) -> datetime | None:
    """The earliest `sent_at` of a PENDING command not reported yet: its deadline is that plus
    the wait (the caller's)."""
    waiting = [
        c.sent_at
        for c in state.commands.values()
        if c.status == PENDING and not c.reported_unsynchronized and c.sent_at is not None
    ]
    return min(waiting) if waiting else None


def summary(state: ErpState | None) -> dict[str, Any]:
    """The instance query's view: counts by status, the rejected and pending commands."""
    commands = [] if state is None else [state.commands[cid] for cid in sorted(state.commands)]
    return {
        "counts": state.counts() if state is not None else dict.fromkeys(STATUSES, 0),
        "rejected": [
            {
                "command_id": c.command_id,
                "command_type": c.command_type,
                "reason": c.reason,
                "acknowledged_at": c.acknowledged_at,
            }
            for c in commands
            if c.status == REJECTED
        ],
        "pending": [
            {
                "command_id": c.command_id,
                "command_type": c.command_type,
                "sent_at": c.sent_at,
                "unsynchronized": c.reported_unsynchronized,
            }
            for c in commands
            if c.status == PENDING
        ],
    }


def _item(
    state: ErpState,
    command: ErpCommand,
    kind: ExceptionKind,
    reason: str,
    at: datetime,
    resolves: str | None = None,
) -> WorkQueueException:
    tag = () if resolves is None else ("resolved",)
    return WorkQueueException(
        exception_id=stable_id("erp", kind.value, state.process_id, command.command_id, *tag),
        process_id=state.process_id,
        kind=kind,
        reason=reason,
        event_id=command.caused_by_event_id,
        event_type=None,
        raised_at=at,
        amount=command.amount,
        resolves_exception_id=resolves,
    )


def _resolution(
    state: ErpState, command: ErpCommand, kind: ExceptionKind, ack: AckReceived
) -> WorkQueueException:
    first = stable_id("erp", kind.value, state.process_id, command.command_id)
    answer = (
        f"applied as {ack.erp_document_number}"
        if ack.status == APPLIED
        else "rejected (see its ERP_REJECTED item)"
    )
    return _item(
        state,
        command,
        kind,
        f"resolved: ERP command {command.command_id} ({command.command_type}) {answer}",
        ack.acknowledged_at,
        resolves=first,
    )


def _seconds(wait: timedelta) -> str:
    seconds = wait.total_seconds()
    return f"{seconds:g} s"
