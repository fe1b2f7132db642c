"""What the reference ERP accepts: the checks a real general ledger makes before it posts.

Pure: a decoded command (the Avro record, Decimal money), the chart the ERP knows (GL accounts
and cost centers, from s2c's master data) and the open periods go in; a `Rejection` or None comes
out. Journals (PostJournal, the revenue accrual and its reversal, RecognizeCost) are refused in a
closed or unknown period, with an unknown GL account or cost center, with a line that has a
negative side or both sides, when all lines are zero, when debits differ from credits, or when
the control total (`amount`) is not the debits' total. Operational documents (supply reservations and issues, labor
plans, room bookings) are refused with an unknown cost center. Any reversal or release is refused
when the command it undoes was not applied here: a real ERP cannot reverse a document it never
posted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ZERO = Decimal("0")
CENT = Decimal("0.01")
# Avro record name -> (ERP document kind, document number prefix).
DOCUMENT_KINDS: dict[str, tuple[str, str]] = {
    "PostJournal": ("JOURNAL_ENTRY", "JE"),
    "AccrueExpectedRevenue": ("JOURNAL_ENTRY", "JE"),
    "ReverseRevenueAccrual": ("JOURNAL_ENTRY", "JE"),
    "RecognizeCost": ("JOURNAL_ENTRY", "JE"),
    "ReserveSupplies": ("SUPPLY_RESERVATION", "SR"),
    "ReleaseSupplies": ("SUPPLY_RELEASE", "SX"),
    "IssueSupplies": ("GOODS_ISSUE", "GI"),
    "PlanLabor": ("LABOR_PLAN", "LP"),
    "CancelLaborPlan": ("LABOR_PLAN_CANCELLATION", "LX"),
    "ReserveRoom": ("ROOM_BOOKING", "RB"),
    "ReleaseRoom": ("ROOM_RELEASE", "RX"),
}
JOURNALS = frozenset(n for n, (kind, _) in DOCUMENT_KINDS.items() if kind == "JOURNAL_ENTRY")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Rejection:
    """Why the ERP refuses a command: a stable code for machines, a sentence for people (ids and
    amounts only: commands carry no patient data, and neither does this)."""

    code: str
    message: str

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Chart:
    """The master data the ERP validates against: its GL accounts and cost centers."""

    gl_accounts: frozenset[str]
    cost_centers: frozenset[str]

    @classmethod
    def from_master_dir(cls, directory: Path) -> Chart:
        """The accounts named by GlAccountMap and the CostCenter ids of an `s2c replay
        --master-data` folder (`<RecordName>.jsonl` files)."""
        from s2c.tables.master import master_rows

        accounts: set[str] = set()
        centers: set[str] = set()
        for _, _, line, name in master_rows(directory):
            if name == "GlAccountMap":
                accounts.add(json.loads(line)["gl_account"])
            elif name == "CostCenter":
                centers.add(json.loads(line)["cost_center_id"])
        return cls(frozenset(accounts), frozenset(centers))


def period_of(day: date) -> str:
    """The accounting period (calendar month) a day falls in, `YYYY-MM`."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_periods(text: str) -> list[str]:
    """`2025-03,2025-05` or a range `2025-01..2025-12` (or both, comma separated) -> the
    periods, in order; ValueError on anything else."""
    periods: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        first, _, last = part.partition("..")
        last = last or first
        for bound in (first, last):
            if not PERIOD.match(bound):
                raise ValueError(f"{bound!r} is not a period (YYYY-MM)")
        if last < first:
            raise ValueError(f"{part!r}: the range ends before it starts")
        year, month = int(first[:4]), int(first[5:])
        while f"{year:04d}-{month:02d}" <= last:
            periods.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return periods


def cents(amount: Decimal) -> int:
    """Exact money as integer cents (what the ledger stores); ValueError below a cent."""
    scaled = amount / CENT
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has fractions of a cent")
    return int(scaled)


def decide(
    record_name: str,
    command: dict[str, Any],
    chart: Chart,
    open_periods: Container[str],
    applied: Callable[[str], bool],
) -> Rejection | None:
    """None when the ERP posts `command` (an Avro-decoded `s2c.commands.<record_name>`), else
    why not. `applied(command_id)` tells whether this ERP applied that command."""
    if record_name not in DOCUMENT_KINDS:
        return Rejection("UNKNOWN_COMMAND_TYPE", f"this ERP does not take {record_name} commands")
    header = command["header"]
    if header["cost_center_id"] not in chart.cost_centers:
        return Rejection("UNKNOWN_COST_CENTER", f"cost center {header['cost_center_id']} unknown")
    if record_name in JOURNALS:
        period = period_of(header["effective_date"])
        if period not in open_periods:
            return Rejection("CLOSED_PERIOD", f"period {period} is not open for posting")
        found = journal_problem(command["lines"], command["amount"], chart.gl_accounts)
        if found is not None:
            return found
    undone = header.get("reverses_command_id")
    if undone is not None and not applied(undone):
        return Rejection(
            "UNKNOWN_REVERSED_DOCUMENT", f"reverses command {undone}, which this ERP did not apply"
        )
    return None


def journal_problem(
    lines: Iterable[dict[str, Any]], amount: Decimal, accounts: Container[str]
) -> Rejection | None:
    """What is wrong with a journal's lines, if anything."""
    debits = credits = ZERO
    count = 0
    for number, line in enumerate(lines, 1):
        count = number
        debit, credit = line["debit"], line["credit"]
        if line["gl_account"] not in accounts:
            return Rejection(
                "UNKNOWN_GL_ACCOUNT", f"line {number}: GL account {line['gl_account']} unknown"
            )
        if debit < ZERO or credit < ZERO or (debit > ZERO and credit > ZERO):
            return Rejection("BAD_LINE", f"line {number}: a debit or a credit, not both, >= 0")
        debits += debit
        credits += credit
    if count == 0:
        return Rejection("EMPTY_JOURNAL", "a journal needs lines")
    if debits == ZERO and credits == ZERO:
        return Rejection("ZERO_AMOUNT_JOURNAL", "a journal of 0.00 posts nothing")
    if debits != credits:
        return Rejection("UNBALANCED_JOURNAL", f"debits {debits} differ from credits {credits}")
    if amount != debits:
        return Rejection("CONTROL_TOTAL", f"amount {amount} is not the debits' total {debits}")
    return None


def is_silent(process_id: str, fraction: float, seed: str = "") -> bool:
    """Whether a "silent ERP" (`s2c erp-sink --silent-fraction`) withholds every posting and ack
    of this instance: the process ids whose seeded hash falls below `fraction`, the same on every
    run. By instance, not by command: a silent queue loses an instance's commands together, so a
    release never meets the ERP without the reservation it undoes."""
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\x1f{process_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction
