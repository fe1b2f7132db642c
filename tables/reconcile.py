"""Reconciliation: what s2c sent the ERP for one process instance against what the ERP holds.

Pure, built incrementally per instance, so the live keeper and `s2c reconcile` share it:
`Facts.add_command(record)` takes an `s2c.commands` record (Avro-native or its JSON form),
`Facts.set_status(command_id, status, reason)` the ERP's answer (APPLIED, REJECTED, or PENDING to
forget one), `Facts.note_process(state)` the milestones of the instance's process state; then
`mismatches(facts, as_of)` lists what does not tie out at business time `as_of`.

Kinds (`MismatchKind`, facts and report types in reconcile_facts.py); a refused command is
reported under one ERP-side kind only, the most specific that explains it:
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
- ERP_UNACKNOWLEDGED: the commands with no answer (PENDING). Until the ERP answers, whether it
  holds a command is unknown, so a pending command raises no other ERP-side kind.

COMPLETED_WITHOUT_CHARGE, CHARGED_WITHOUT_CLAIM and PAID_BELOW_EXPECTED judge what s2c saw,
whatever the ERP answered; the others judge the ERP's answers. At most one mismatch per kind per
instance, naming every command involved.

Not a mismatch: a 0.00 journal refused as ZERO_AMOUNT_JOURNAL (nothing to hold), and an item that
the ERP refused and s2c released anyway (nothing held on either side).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from s2c.tables.reconcile_facts import (
    APPLIED,
    OPEN_ITEMS,
    PENDING,
    REJECTED,
    ZERO,
    CommandFact,
    Facts,
    Milestones,
    Mismatch,
    MismatchKind,
    Windows,
)

__all__ = [
    "APPLIED",
    "PENDING",
    "REJECTED",
    "CommandFact",
    "Facts",
    "Milestones",
    "Mismatch",
    "MismatchKind",
    "Windows",
    "mismatches",
    "summarize",
]


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

    def add(
        self,
        kind: MismatchKind,
        cids: list[str],
        amount: Decimal | None,
        why: str,
        explains: bool = True,  # False: a kind judged on s2c's side explains no refusal
    ) -> None:
        if explains:
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
                    explains=False,
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
                explains=False,
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


def unacknowledged_only_if_late(found: list[Mismatch], late: set[str]) -> list[Mismatch]:
    """`found` with ERP_UNACKNOWLEDGED narrowed to the commands in `late` (those the ERP keeper
    reported unsynchronized, past the ack wait) and dropped when none is: the live view, where an
    unanswered command may simply not be answered *yet*."""
    kept = []
    for m in found:
        if m.kind is MismatchKind.ERP_UNACKNOWLEDGED:
            overdue = tuple(c for c in m.command_ids if c in late)
            if not overdue:
                continue
            reason = f"{len(overdue)} command(s) unanswered past the ERP ack wait"
            m = Mismatch(m.kind, m.process_id, m.site_id, overdue, m.amount, reason)
        kept.append(m)
    return kept
