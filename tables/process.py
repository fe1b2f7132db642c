"""The schedule-to-cash process instance: one per scheduled episode or unscheduled encounter.

The instance holds the appointment or surgical-case sub-state (`reference_id`, schedule, room), the
authorization and encounter milestones, the claim sub-state (`claims`: claim id -> status) and the
ledger: `open_items` (reservations, plans and accruals not yet released, by command id) and
`journals` (charge and payment journals a later reversal must mirror). Milestones are kept as the
earliest business time they happened, so the stage and the SLAs are functions of facts, not of the
order the facts arrived in.

Machinery beside the business state: `applied` (event ids already applied, a bounded FIFO: an
instance's history is small), `parked` (events waiting for an anchor or master data, each with a
deadline; still held once reported, up to a hard limit) and `breached` / `observed` (each SLA
breach and each stage duration reported once) and `fixable` (work items a later event closes,
workitems.py).

Serialization is `to_dict` / `from_dict` over native values (datetime, Decimal); `codec.dumps`
turns that into compact JSON. Keyed collections are written sorted so equal states give equal bytes.
"""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from s2c.tables.codec import compile_function, decode, to_datetime, to_decimal, to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.outputs import COMMAND_TYPES, Command, PostJournal
from s2c.tables.vocabulary import FinancialClass, ProcessStage

MAX_APPLIED_IDS = 4096


class Parked(NamedTuple):
    """An event waiting on its instance. `deadline` is when `on_deadline` next looks at it: the
    report deadline, then, once reported (`reported` holds the `ExceptionKind` value raised), the
    hard limit at which it is dropped."""

    deadline: datetime
    waits_for: str  # "anchor:<what>" or "master:<Record>:<key>"
    event: Event
    reported: str | None = None


class Deviation(NamedTuple):
    """A departure from the reference schedule-to-cash path (conformance.py): its kind, the
    event that revealed it and that event's business time."""

    kind: str
    event_id: str
    at: datetime


@dataclass(slots=True)
class ProcessState:
    process_id: str
    stage: ProcessStage = ProcessStage.SCHEDULED
    # appointment / surgical case
    reference_id: str | None = None
    scheduled_at: datetime | None = None
    account_number: str | None = None
    site_id: str | None = None
    department_id: str | None = None
    room_id: str | None = None
    provider_id: str | None = None
    service_line_id: str | None = None
    payer_id: str | None = None
    payer_class: FinancialClass | None = None
    procedure_codes: tuple[str, ...] = ()
    preference_card_id: str | None = None
    scheduled_start: datetime | None = None
    minutes: int | None = None
    cost_center_id: str | None = None
    inventory_location_id: str | None = None
    expected_amount: Decimal | None = None
    cancelled_at: datetime | None = None
    completed_at: datetime | None = None
    # authorization and encounter
    authorized_at: datetime | None = None
    auth_denied_at: datetime | None = None
    encounter_id: str | None = None
    encounter_cost_center_id: str | None = None
    arrived_at: datetime | None = None
    discharged_at: datetime | None = None
    # revenue cycle
    first_charge_at: datetime | None = None
    first_claim_at: datetime | None = None
    first_payment_at: datetime | None = None
    first_denial_at: datetime | None = None
    first_remit_at: datetime | None = None
    claims: dict[str, str] = field(default_factory=dict)
    charged: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    adjusted: Decimal = Decimal("0.00")
    denied: Decimal = Decimal("0.00")
    ar_balance: Decimal = Decimal("0.00")
    # ledger
    open_items: dict[str, Command] = field(default_factory=dict)
    journals: dict[str, PostJournal] = field(default_factory=dict)
    reversed_amounts: dict[str, Decimal] = field(default_factory=dict)
    # conformance to the reference path (conformance.py): what it needs beyond the milestones
    auth_requested_at: datetime | None = None
    reschedules: int = 0
    claim_rejected_at: datetime | None = None
    claims_sent: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # id: event, at
    charge_reversed_at: datetime | None = None
    deviations: tuple[Deviation, ...] = ()
    # machinery
    applied: dict[str, None] = field(default_factory=dict)
    parked: dict[str, Parked] = field(default_factory=dict)
    breached: set[str] = field(default_factory=set)
    observed: set[str] = field(default_factory=set)
    fixable: dict[str, dict[str, Any]] = field(default_factory=dict)  # workitems.py

    @property
    def is_scheduled(self) -> bool:
        return self.scheduled_at is not None

    @property
    def is_placed(self) -> bool:
        """Anchored on a scheduling or encounter event, so money can be booked against it."""
        return self.scheduled_at is not None or self.arrived_at is not None

    @property
    def revenue_cost_center(self) -> str | None:
        return self.cost_center_id or self.encounter_cost_center_id

    def remember(self, event_id: str) -> None:
        self.applied[event_id] = None
        if len(self.applied) > MAX_APPLIED_IDS:
            del self.applied[next(iter(self.applied))]

    def to_dict(self) -> dict[str, Any]:
        out = dict(zip(_FIELD_NAMES, _field_values(self)))
        for name, write in _WRITERS:
            out[name] = write(out[name])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessState:
        try:
            return _load_every_field(data)  # what to_dict writes: one generated call
        except KeyError:  # written before a field existed (or a loader failed: raise it below)
            state = cls(data["process_id"])
            for name, load in _LOAD_PLAN:
                if name in data:
                    setattr(state, name, load(data[name]))
            return state


def _plain(value: Any) -> Any:
    return value


def _opt(convert: Any) -> Any:
    return lambda v: None if v is None else convert(v)


def _commands(rows: list[Any]) -> dict[str, Any]:
    return {k: decode(COMMAND_TYPES[schema], rec) for k, schema, rec in rows}


def _deviations(rows: list[Any]) -> tuple[Deviation, ...]:
    return tuple(Deviation(r["kind"], r["event_id"], to_datetime(r["at"])) for r in rows)


def _deviation_rows(deviations: tuple[Deviation, ...]) -> list[Any]:
    return [{"kind": d.kind, "event_id": d.event_id, "at": d.at} for d in deviations]


def _parked(rows: list[Any]) -> dict[str, Parked]:
    # rows written before `reported` existed have five columns
    return {
        row[0]: Parked(
            to_datetime(row[1]),
            row[2],
            event_from_record(row[3], row[4]),
            row[5] if len(row) > 5 else None,
        )
        for row in rows
    }


_LOADERS: dict[str, Any] = {
    "stage": ProcessStage,
    "payer_class": _opt(FinancialClass),
    "procedure_codes": tuple,
    "expected_amount": _opt(to_decimal),
    "open_items": _commands,
    "journals": _commands,
    "reversed_amounts": lambda d: {k: to_decimal(v) for k, v in d.items()},
    "applied": dict.fromkeys,
    "parked": _parked,
    "deviations": _deviations,
    "claims_sent": lambda d: {k: (v[0], to_datetime(v[1])) for k, v in d.items()},
    "breached": set,
    "observed": set,
    **{name: to_decimal for name in ("charged", "paid", "adjusted", "denied", "ar_balance")},
    **{
        name: _opt(to_datetime)
        for name in (
            "scheduled_at",
            "scheduled_start",
            "cancelled_at",
            "completed_at",
            "authorized_at",
            "auth_denied_at",
            "arrived_at",
            "discharged_at",
            "first_charge_at",
            "first_claim_at",
            "first_payment_at",
            "first_denial_at",
            "first_remit_at",
            "auth_requested_at",
            "claim_rejected_at",
            "charge_reversed_at",
        )
    },
}


def _command_rows(items: dict[str, Command]) -> list[Any]:
    return [[k, c.schema, to_native(c)] for k, c in sorted(items.items())]


def _parked_rows(parked: dict[str, Parked]) -> list[Any]:
    return [
        [k, p.deadline, p.waits_for, p.event.schema, to_native(p.event), p.reported]
        for k, p in sorted(parked.items())
    ]


def _writer(name: str, hint: Any) -> Any:
    """How `to_dict` writes a field (None: as it is), chosen once from its declared type."""
    special = {
        "open_items": _command_rows,
        "journals": _command_rows,
        "parked": _parked_rows,
        "deviations": _deviation_rows,
        "applied": list,
    }
    if name in special:
        return special[name]
    origin = typing.get_origin(hint) or hint
    if origin is dict:
        return lambda d: dict(sorted(d.items()))
    if origin is set:
        return sorted
    if origin is tuple:
        return list
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if any(isinstance(a, type) and issubclass(a, Enum) for a in typing.get_args(hint)):
            return lambda v: None if v is None else v.value
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda v: v.value
    return None


# Built once: a state is written and read on every event a worker handles.
_FIELD_NAMES = tuple(f.name for f in fields(ProcessState))
_field_values = operator.attrgetter(*_FIELD_NAMES)
_HINTS = typing.get_type_hints(ProcessState)
_WRITERS = [
    (name, write) for name in _FIELD_NAMES if (write := _writer(name, _HINTS[name])) is not None
]
_LOAD_PLAN = [(name, _LOADERS.get(name, _plain)) for name in _FIELD_NAMES if name != "process_id"]
_load_env: dict[str, Any] = {
    "cls": ProcessState,
    **{f"l{i}": load for i, (_, load) in enumerate(_LOAD_PLAN)},
}
_load_every_field: Callable[[dict[str, Any]], ProcessState]
_load_every_field = compile_function(
    "load_ProcessState",
    [
        "return cls(d['process_id'], "
        + ", ".join(
            f"d[{name!r}]" if load is _plain else f"l{i}(d[{name!r}])"
            for i, (name, load) in enumerate(_LOAD_PLAN)
        )
        + ")"
    ],
    _load_env,
)
