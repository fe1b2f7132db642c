"""What the core returns: ERP commands (`s2c.commands`), SLA breaches and work-queue exceptions
(`s2c.ops`), plus three adapter instructions that never leave the process (`Forward`,
`AwaitMasterData`, `MetricObservation`).

Avro-bound outputs have `to_record()` giving the catalogue's record (nested `header`, Decimal money,
datetime/date). Ids are deterministic (`stable_id`): a hash of what caused the output, never a clock
or a counter, so a redelivered or replayed history yields the same ids and the ERP can drop repeats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from s2c.tables.codec import to_native
from s2c.tables.events import Event
from s2c.tables.vocabulary import ExceptionKind, FinancialClass, JournalKind, SlaKind


def stable_id(*parts: object) -> str:
    """A UUID-shaped id derived only from `parts`: the text of `uuid.UUID(bytes=digest)`, cut
    from the hex digest directly (building a UUID object cost as much as the hash)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class SupplyLine:
    item_id: str
    quantity: int
    unit_cost: Decimal
    extended_cost: Decimal


@dataclass(frozen=True, slots=True)
class LaborLine:
    role: str
    hours: Decimal


@dataclass(frozen=True, slots=True)
class JournalLine:
    gl_account: str
    debit: Decimal
    credit: Decimal
    memo: str


@dataclass(frozen=True, slots=True)
class CommandHeader:
    command_id: str
    command_type: str
    process_id: str
    caused_by_event_id: str
    effective_date: date
    cost_center_id: str
    issued_at: datetime
    correlation_id: str
    reverses_command_id: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    header: CommandHeader

    @property
    def command_id(self) -> str:
        return self.header.command_id

    @property
    def schema(self) -> str:
        return type(self).__name__

    def to_record(self) -> dict[str, Any]:
        return to_native(self)


@dataclass(frozen=True, slots=True)
class ReserveSupplies(Command):
    case_id: str
    inventory_location_id: str
    needed_on: date
    items: tuple[SupplyLine, ...]


@dataclass(frozen=True, slots=True)
class ReleaseSupplies(Command):
    case_id: str
    inventory_location_id: str
    items: tuple[SupplyLine, ...]


@dataclass(frozen=True, slots=True)
class PlanLabor(Command):
    case_id: str
    planned_on: date
    lines: tuple[LaborLine, ...]


@dataclass(frozen=True, slots=True)
class CancelLaborPlan(Command):
    case_id: str
    lines: tuple[LaborLine, ...]


@dataclass(frozen=True, slots=True)
class ReserveRoom(Command):
    room_id: str
    reference_id: str
    start: datetime
    minutes: int


@dataclass(frozen=True, slots=True)
class ReleaseRoom(Command):
    room_id: str
    reference_id: str
    start: datetime
    minutes: int


@dataclass(frozen=True, slots=True)
class AccrueExpectedRevenue(Command):
    payer_id: str
    procedure_codes: tuple[str, ...]
    amount: Decimal
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True, slots=True)
class ReverseRevenueAccrual(Command):
    payer_id: str
    amount: Decimal
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True, slots=True)
class IssueSupplies(Command):
    case_id: str
    inventory_location_id: str
    items: tuple[SupplyLine, ...]


@dataclass(frozen=True, slots=True)
class RecognizeCost(Command):
    case_id: str
    amount: Decimal
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True, slots=True)
class PostJournal(Command):
    journal_kind: JournalKind
    lines: tuple[JournalLine, ...]
    amount: Decimal

    @property
    def moves_money(self) -> bool:
        """False for a journal of 0.00 (a remittance that paid nothing): the core keeps it in the
        state, so its source id stays known, but never sends it; no ERP posts an empty journal."""
        return self.amount != 0


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        ReserveSupplies,
        ReleaseSupplies,
        PlanLabor,
        CancelLaborPlan,
        ReserveRoom,
        ReleaseRoom,
        AccrueExpectedRevenue,
        ReverseRevenueAccrual,
        IssueSupplies,
        RecognizeCost,
        PostJournal,
    )
}


@dataclass(frozen=True, slots=True)
class SlaBreached:
    breach_id: str
    process_id: str
    sla: SlaKind
    deadline: datetime
    detected_at: datetime
    site_id: str
    service_line_id: str
    payer_class: FinancialClass | None

    schema = "SlaBreached"

    def to_record(self) -> dict[str, Any]:
        return to_native(self)


@dataclass(frozen=True, slots=True)
class WorkQueueException:
    exception_id: str
    process_id: str | None
    kind: ExceptionKind
    reason: str
    event_id: str | None
    event_type: str | None
    raised_at: datetime
    site_id: str | None = None
    amount: Decimal | None = None
    resolves_exception_id: str | None = None  # set on the notice that closes an earlier item

    schema = "WorkQueueException"

    def to_record(self) -> dict[str, Any]:
        return to_native(self)


@dataclass(frozen=True, slots=True)
class Forward:
    """Link stage -> process stage: send `event` to the process topic keyed by `process_id`."""

    process_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class AwaitMasterData:
    """An event is parked on `process_id` until master record `record`, wait key `key`, arrives."""

    process_id: str
    record: str
    key: str
    event_id: str


@dataclass(frozen=True, slots=True)
class MetricObservation:
    """A business measurement for the metrics module: seconds (float) for durations, USD as an
    exact Decimal for money (`expected_reimbursement_usd`, `paid_usd`); only the Prometheus
    edge turns money into a float. `labels` are site, service line and payer class, never the
    patient; `process_id` stays in the core's outputs (replay) and never becomes a label."""

    metric: str
    process_id: str
    value: float | Decimal
    labels: tuple[tuple[str, str], ...]
