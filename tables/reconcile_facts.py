"""The facts reconciliation keeps per process instance, and what it reports (tables/reconcile.py
holds the rules). Compact and deterministic: a keeper stores `Facts.to_dict()` (versioned,
sorted by command id) in its table and gets the same facts back with `Facts.from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from s2c.tables.codec import to_date, to_datetime, to_decimal
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import FinancialClass

APPLIED, REJECTED, PENDING = "APPLIED", "REJECTED", "PENDING"
ZERO = Decimal("0.00")
OPEN_ITEMS = frozenset({"ReserveSupplies", "PlanLabor", "ReserveRoom", "AccrueExpectedRevenue"})
FACTS_VERSION = 1


class MismatchKind(str, Enum):
    SCHEDULED_NOT_RESERVED = "SCHEDULED_NOT_RESERVED"
    CANCELLED_STILL_HELD = "CANCELLED_STILL_HELD"
    COMPLETED_WITHOUT_CHARGE = "COMPLETED_WITHOUT_CHARGE"
    CHARGED_WITHOUT_CLAIM = "CHARGED_WITHOUT_CLAIM"
    CLAIMED_WITHOUT_AR = "CLAIMED_WITHOUT_AR"
    PAID_WITHOUT_CASH = "PAID_WITHOUT_CASH"
    PAID_BELOW_EXPECTED = "PAID_BELOW_EXPECTED"
    ERP_REJECTED = "ERP_REJECTED"
    ERP_UNACKNOWLEDGED = "ERP_UNACKNOWLEDGED"


@dataclass(frozen=True)
class Windows:
    """How long business time may run before a gap is a mismatch, and how far paid may fall short
    of expected. Defaults follow the SLAs (charge lag 3 days, claim 7 days after discharge)."""

    charge_window: timedelta = timedelta(days=3)
    dnfb_window: timedelta = timedelta(days=7)
    underpaid_share: Decimal = Decimal("0.05")  # of the contract amount ...
    underpaid_floor: Decimal = Decimal("5.00")  # ... and never less than this, in USD


class CommandFact(NamedTuple):
    """What reconciliation keeps of a command: its type, the journal kind of a PostJournal, the
    effective date, business time issued, what it reverses and its amount (journals, accruals)."""

    command_type: str
    journal_kind: str | None
    effective_date: date
    issued_at: datetime
    reverses: str | None
    amount: Decimal | None


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    process_id: str
    site_id: str | None
    command_ids: tuple[str, ...]
    amount: Decimal | None  # money at stake, where it is money
    reason: str  # ids, codes and amounts only: no patient data

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "process_id": self.process_id,
            "site_id": self.site_id,
            "command_ids": list(self.command_ids),
            "amount": None if self.amount is None else str(self.amount),
            "reason": self.reason,
        }


class Milestones(NamedTuple):
    """The few facts of the process state reconciliation needs."""

    completed_at: datetime | None  # case completed, else discharged
    cancelled_at: datetime | None
    first_claim_at: datetime | None
    self_pay: bool


@dataclass(slots=True)
class Facts:
    process_id: str
    site_id: str | None = None
    commands: dict[str, CommandFact] = field(default_factory=dict)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    milestones: Milestones | None = None

    def add_command(self, record: dict[str, Any]) -> str:
        """Remember a command (an `s2c.commands` record, native or JSON); returns its id.
        The same command again changes nothing."""
        header = record["header"]
        kind = record.get("journal_kind")
        amount = record.get("amount")
        fact = CommandFact(
            header["command_type"],
            None if kind is None else str(getattr(kind, "value", kind)),
            to_date(header["effective_date"]),
            to_datetime(header["issued_at"]),
            header.get("reverses_command_id"),
            None if amount is None else to_decimal(amount),
        )
        self.commands[header["command_id"]] = fact
        return str(header["command_id"])

    def set_status(self, command_id: str, status: str, reason: str | None = None) -> None:
        """The ERP's latest answer to a command; PENDING forgets an answer."""
        if status == PENDING:
            self.statuses.pop(command_id, None)
        elif status in (APPLIED, REJECTED):
            self.statuses[command_id] = (status, reason)
        else:
            raise ValueError(f"unknown ERP status {status!r}")

    def note_process(self, state: ProcessState) -> None:
        self.site_id = state.site_id or self.site_id
        self.milestones = Milestones(
            state.completed_at or state.discharged_at,
            state.cancelled_at,
            state.first_claim_at,
            state.payer_id is None or state.payer_class is FinancialClass.SELF_PAY,
        )

    def to_dict(self) -> dict[str, Any]:
        """Compact and deterministic (sorted by command id) for a keeper's table."""
        return {
            "v": FACTS_VERSION,
            "process_id": self.process_id,
            "site_id": self.site_id,
            "commands": [[cid, *fact] for cid, fact in sorted(self.commands.items())],
            "statuses": [[cid, *answer] for cid, answer in sorted(self.statuses.items())],
            "milestones": None if self.milestones is None else list(self.milestones),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        if data.get("v") != FACTS_VERSION:
            raise ValueError(f"reconciliation facts version {data.get('v')!r} is not readable")
        facts = cls(data["process_id"], data["site_id"])
        for cid, ctype, jkind, eff, issued, rev, amount in data["commands"]:
            facts.commands[cid] = CommandFact(
                ctype,
                jkind,
                to_date(eff),
                to_datetime(issued),
                rev,
                None if amount is None else to_decimal(amount),
            )
        for cid, status, reason in data["statuses"]:
            facts.statuses[cid] = (status, reason)
        if (m := data["milestones"]) is not None:
            done, cancelled, claimed = (None if v is None else to_datetime(v) for v in m[:3])
            facts.milestones = Milestones(done, cancelled, claimed, bool(m[3]))
        return facts
