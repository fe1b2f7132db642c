"""Reconciliation: what s2c sent the ERP for one process instance against what the ERP holds.

Pure, built incrementally per instance, so the live keeper and `s2c reconcile` share it:
`Facts.add_command(record)` takes an `s2c.commands` record (Avro-native or its JSON form),
`Facts.set_status(command_id, status, reason)` the ERP's answer (APPLIED, REJECTED, or PENDING to
forget one), `Facts.note_process(state)` the milestones of the instance's process state; then
`mismatches(facts, as_of)` lists what does not tie out at business time `as_of`.

Kinds (`MismatchKind`), each a command in at most one mismatch:
- SCHEDULED_NOT_RESERVED: a reservation, labor plan, room booking or revenue accrual s2c still
  holds open was refused by the ERP.
- CANCELLED_STILL_HELD: s2c released an item (cancel, no-show, reschedule) that the ERP applied,
  and the ERP refused every release of it, so it still holds it.
- COMPLETED_WITHOUT_CHARGE: discharged or operated more than `charge_window` ago, no charge sent.
- CHARGED_WITHOUT_CLAIM: charged (net of reversals), no claim, `dnfb_window` past discharge
  (self-pay episodes bill the patient, not a payer: excluded).
- CLAIMED_WITHOUT_AR: a claim went out, and no charge journal is in the ledger (none sent, or all
  refused), so the ledger has no A/R to claim against.
- PAID_WITHOUT_CASH: a payment journal (not taken back by s2c) refused by the ERP.
- PAID_BELOW_EXPECTED: adjudicated without denial, and the contract amount accrued exceeds what the
  payer paid plus the patient's share by more than the threshold (revenue leakage).
- ERP_REJECTED: a refusal none of the kinds above explains.
- ERP_UNACKNOWLEDGED: a command with no answer (PENDING). Until the ERP answers, whether it holds
  the command is unknown, so a pending command raises this kind and no other.

Not a mismatch: a 0.00 journal refused as ZERO_AMOUNT_JOURNAL (nothing to hold), and an item that
the ERP refused and s2c released anyway (nothing held on either side).
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


def mismatches(facts: Facts, as_of: datetime, windows: Windows = Windows()) -> list[Mismatch]:
    """The instance's mismatches at business time `as_of`, in kind order."""
    return _Check(facts, as_of, windows).run()


class _Check:
    def __init__(self, facts: Facts, as_of: datetime, windows: Windows) -> None:
        self.facts, self.as_of, self.windows = facts, as_of, windows
        self.explained: set[str] = set()  # commands a mismatch (or a settled pair) accounts for
        self.out: list[Mismatch] = []
        self.releases: dict[str, list[str]] = {}
        for cid, fact in sorted(facts.commands.items()):
            if fact.reverses is not None:
                self.releases.setdefault(fact.reverses, []).append(cid)

    def status(self, cid: str) -> str:
        return self.facts.statuses.get(cid, (PENDING, None))[0]

    def refused(self, cid: str) -> bool:
        if self.status(cid) != REJECTED:
            return False
        reason = self.facts.statuses[cid][1] or ""
        amount = self.facts.commands[cid].amount
        # a 0.00 journal refused as such: the ledger lacks nothing
        return not (reason.startswith("ZERO_AMOUNT_JOURNAL") and not amount)

    def of(self, *, types: frozenset[str] = frozenset(), journal: str | None = None) -> list[str]:
        return [
            cid
            for cid, f in sorted(self.facts.commands.items())
            if f.command_type in types or (journal is not None and f.journal_kind == journal)
        ]

    def report(self, kind: MismatchKind, cids: list[str], reason: str) -> None:
        self.add(kind, cids, self._sum(cids), reason)

    def add(self, kind: MismatchKind, cids: list[str], amount: Decimal | None, why: str) -> None:
        self.explained.update(cids)
        f = self.facts
        self.out.append(Mismatch(kind, f.process_id, f.site_id, tuple(cids), amount, why))

    def answers(self, cids: list[str]) -> str:
        return "; ".join(
            f"{self.facts.commands[c].command_type} {c} {self.facts.statuses[c][1] or 'refused'}"
            for c in cids
            if c in self.facts.statuses
        )

    def run(self) -> list[Mismatch]:
        self.open_items()
        self.charges_and_claims()
        self.payments()
        self.underpaid()
        rejected = [
            c for c in sorted(self.facts.commands) if c not in self.explained and self.refused(c)
        ]
        if rejected:
            self.report(MismatchKind.ERP_REJECTED, rejected, self.answers(rejected))
        pending = [c for c in sorted(self.facts.commands) if self.status(c) == PENDING]
        if pending:
            self.add(
                MismatchKind.ERP_UNACKNOWLEDGED,
                pending,
                None,
                f"{len(pending)} command(s) without an ERP answer",
            )
        order = list(MismatchKind)
        return sorted(self.out, key=lambda m: order.index(m.kind))

    def open_items(self) -> None:
        not_reserved, held, refusals = [], [], []
        for cid in self.of(types=OPEN_ITEMS):
            releases = self.releases.get(cid, [])
            if not releases:
                if self.refused(cid):
                    not_reserved.append(cid)
                continue
            answers = {self.status(r) for r in releases}
            if self.status(cid) == APPLIED and answers == {REJECTED}:
                held.append(cid)
                refusals += releases
            elif self.status(cid) == REJECTED and PENDING not in answers:
                self.explained.update([cid, *releases])  # neither side holds it
        if not_reserved:
            self.report(
                MismatchKind.SCHEDULED_NOT_RESERVED, not_reserved, self.answers(not_reserved)
            )
        if held:
            amount = self._sum(held)
            self.add(
                MismatchKind.CANCELLED_STILL_HELD,
                held + refusals,
                amount,
                "released by s2c, still held by the ERP: " + self.answers(refusals),
            )

    def _sum(self, cids: list[str]) -> Decimal | None:
        amounts = [a for c in cids if (a := self.facts.commands[c].amount) is not None]
        return sum(amounts, ZERO) if amounts else None

    def _net(self, cids: list[str]) -> Decimal:
        """What the journals `cids` leave after the journals that reverse them."""
        total = ZERO
        for cid in cids:
            total += self.facts.commands[cid].amount or ZERO
            for r in self.releases.get(cid, []):
                total -= self.facts.commands[r].amount or ZERO
        return total

    def charges_and_claims(self) -> None:
        f, w, m = self.facts, self.windows, self.facts.milestones
        charges = self.of(journal="CHARGE")
        claimed = m is not None and m.first_claim_at is not None
        if m is not None and m.completed_at is not None and not charges:
            if m.completed_at + w.charge_window <= self.as_of:
                self.add(
                    MismatchKind.COMPLETED_WITHOUT_CHARGE,
                    [],
                    None,
                    f"completed {m.completed_at:%Y-%m-%d}, no charge after "
                    f"{w.charge_window.days} days",
                )
        if charges and m is not None and not claimed and not m.self_pay:
            start = m.completed_at or min(f.commands[c].issued_at for c in charges)
            net = self._net(charges)
            if net > ZERO and start + w.dnfb_window <= self.as_of:
                self.add(
                    MismatchKind.CHARGED_WITHOUT_CLAIM,
                    charges,
                    net,
                    f"charged {net}, no claim {w.dnfb_window.days} days after "
                    f"{'discharge' if m.completed_at else 'the first charge'}",
                )
        if claimed and not any(self.status(c) == PENDING for c in charges):
            if not any(self.status(c) == APPLIED for c in charges):
                refused = [c for c in charges if self.refused(c)]
                self.add(
                    MismatchKind.CLAIMED_WITHOUT_AR,
                    charges,
                    self._sum(charges),
                    "claimed, no charge in the ledger"
                    + (": " + self.answers(refused) if refused else ": no charge sent"),
                )

    def payments(self) -> None:
        refused = [
            c
            for c in self.of(journal="PAYMENT")
            if self.refused(c) and not self.releases.get(c)  # taken back by s2c: nothing owed
        ]
        if refused:
            self.report(MismatchKind.PAID_WITHOUT_CASH, refused, self.answers(refused))

    def underpaid(self) -> None:
        m, w = self.facts.milestones, self.windows
        payments = self.of(journal="PAYMENT")
        if m is None or m.first_claim_at is None or not payments or self.of(journal="DENIAL"):
            return
        accruals = self.of(types=frozenset({"AccrueExpectedRevenue"}))
        expected = sum(
            (self.facts.commands[c].amount or ZERO for c in accruals if not self.releases.get(c)),
            ZERO,
        )
        if not expected:
            return
        settled = self._net(payments) + self._net(self.of(journal="PATIENT_RESPONSIBILITY"))
        short = expected - settled
        if short > max(w.underpaid_floor, (expected * w.underpaid_share).quantize(ZERO)):
            self.add(
                MismatchKind.PAID_BELOW_EXPECTED,
                payments,
                short,
                f"expected {expected}, paid with patient share {settled}: {short} short",
            )


def summarize(found: list[Mismatch], as_of: datetime) -> dict[str, Any]:
    """The reconciliation report: counts by kind (every kind, zeros too), by site, and the
    mismatches themselves (in the order given)."""
    counts = {kind.value: 0 for kind in MismatchKind}
    by_site: dict[str, dict[str, int]] = {}
    for m in found:
        counts[m.kind.value] += 1
        site = by_site.setdefault(m.site_id or "-", {})
        site[m.kind.value] = site.get(m.kind.value, 0) + 1
    return {
        "as_of": as_of.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "counts": counts,
        "by_site": {s: dict(sorted(k.items())) for s, k in sorted(by_site.items())},
        "mismatches": [m.to_record() for m in found],
    }
