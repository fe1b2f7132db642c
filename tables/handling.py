"""Shared plumbing of the event handlers: outputs list, work items, keeping `open_items` in step.

A handler is `handler(state, event, master, now, out) -> None`. It resolves master data first
(raising `MissingMasterData` before it changes anything), then mutates the state and appends to
`out`. Anchor checks (`waits_for`) tell the core when an event cannot be placed yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

from s2c.tables.events import Event
from s2c.tables.master import MasterData
from s2c.tables.outputs import (
    AccrueExpectedRevenue,
    AwaitMasterData,
    Command,
    Forward,
    MetricObservation,
    PlanLabor,
    ReserveRoom,
    ReserveSupplies,
    SlaBreached,
    WorkQueueException,
    stable_id,
)
from s2c.tables.posting import Posting
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import ExceptionKind

Output: TypeAlias = (
    Command | SlaBreached | WorkQueueException | MetricObservation | AwaitMasterData | Forward
)
Handler = Callable[[ProcessState, Any, MasterData, datetime, list[Output]], None]
WaitsFor = Callable[[ProcessState, Any], str | None]

OPEN_KINDS = (ReserveSupplies, PlanLabor, ReserveRoom, AccrueExpectedRevenue)
_RANK = {cls.__name__: rank for rank, cls in enumerate(OPEN_KINDS)}


def work_item(
    state: ProcessState,
    event: Event | None,
    now: datetime,
    kind: ExceptionKind,
    reason: str,
    amount: Decimal | None = None,
    *,
    tag: str | None = None,
    resolves: WorkQueueException | None = None,
    resolves_id: str | None = None,
) -> WorkQueueException:
    """A work-queue exception whose id depends only on the process, the kind and the event (and
    `tag`, for a second item about the same event: a resolution notice, a final drop).
    `resolves` (or its id, `resolves_id`) makes it the notice that closes that earlier item."""
    event_id = event.event_id if event is not None else None
    return WorkQueueException(
        exception_id=stable_id(
            "process", kind.value, state.process_id, event_id, *((tag,) if tag is not None else ())
        ),
        process_id=state.process_id,
        kind=kind,
        reason=reason,
        event_id=event_id,
        event_type=event.schema if event is not None else None,
        raised_at=now,
        site_id=state.site_id,
        amount=amount,
        resolves_exception_id=resolves.exception_id if resolves is not None else resolves_id,
    )


def invalid(state: ProcessState, event: Event, now: datetime, reason: str) -> WorkQueueException:
    return work_item(state, event, now, ExceptionKind.INVALID_TRANSITION, reason)


def open_items_in_order(state: ProcessState) -> list[Command]:
    """Open items in a canonical order (by kind, then id), the same before and after a reload."""
    return sorted(state.open_items.values(), key=lambda c: (_RANK[c.schema], c.command_id))


def book(state: ProcessState, posting: Posting, out: list[Output]) -> None:
    """Emit the posting's commands and keep the open items and expected revenue in step."""
    for command in posting.commands:
        reverses = command.header.reverses_command_id
        if reverses is not None:
            state.open_items.pop(reverses, None)
        elif isinstance(command, OPEN_KINDS):
            state.open_items[command.command_id] = command
        out.append(command)
    accruals = [c.amount for c in state.open_items.values() if isinstance(c, AccrueExpectedRevenue)]
    state.expected_amount = sum(accruals, Decimal("0.00")) if accruals else None


def earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current
