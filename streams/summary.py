"""The run summary a person reads after `s2c demo` or `s2c replay`: ERP commands by type, journal
totals, the ledger check, work-queue exceptions and SLA breaches.

One rendering for both commands: the demo feeds it the records it read back from Kafka, replay
the records it wrote to its output files (read one line at a time, so a large replay's summary
needs no more memory than its tallies). Money may come as Decimal (Avro) or decimal strings (JSON).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from s2c.tables.codec import loads


@dataclass
class Tally:
    commands: int = 0
    reversals: int = 0  # commands that reverse an earlier one
    by_type: Counter[str] = field(default_factory=Counter)
    journals: dict[str, Decimal] = field(default_factory=dict)  # journal kind -> amount
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    exceptions: Counter[str] = field(default_factory=Counter)
    breaches: Counter[str] = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


def tally(commands: Iterable[dict[str, Any]], exceptions: Iterable[dict[str, Any]],
          breaches: Iterable[dict[str, Any]]) -> Tally:
    """One pass over each kind of output record."""
    t = Tally()
    for c in commands:
        t.commands += 1
        t.by_type[c["header"]["command_type"]] += 1
        t.reversals += bool(c["header"]["reverses_command_id"])
        for line in c.get("lines") or ():
            if "debit" in line:  # journal lines (labour plans carry hours, not money)
                t.debit += Decimal(line["debit"])
                t.credit += Decimal(line["credit"])
        if c["header"]["command_type"] == "PostJournal":
            kind = c["journal_kind"]
            t.journals[kind] = t.journals.get(kind, Decimal(0)) + Decimal(c["amount"])
    t.exceptions.update(e["kind"] for e in exceptions)
    t.breaches.update(b["sla"] for b in breaches)
    return t


def outcome_lines(t: Tally) -> list[str]:
    lines = ["ERP commands by type:"]
    lines += [f"  {name:24} {count:>7}" for name, count in sorted(t.by_type.items())]
    lines += ["", "journals (USD):"]
    lines += [f"  {kind:24} {amount:>14,.2f}" for kind, amount in sorted(t.journals.items())]
    lines.append(f"  ledger check: debits {t.debit:,.2f} = credits {t.credit:,.2f}  "
                 f"{'balanced' if t.balanced else 'NOT BALANCED'}")
    lines += ["", "work-queue exceptions:"]
    lines += [f"  {k:24} {n:>7}" for k, n in sorted(t.exceptions.items())] or ["  none"]
    lines += ["", "SLA breaches:"]
    lines += [f"  {k:34} {n:>7}" for k, n in sorted(t.breaches.items())] or ["  none"]
    return lines


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The `record` of each `{"schema": ..., "record": ...}` line of a replay output file."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield loads(line)["record"]


def replay_summary(out_dir: Path, counts: Counter[str], seconds: float) -> str:
    t = tally(_records(out_dir / "commands.jsonl"), _records(out_dir / "exceptions.jsonl"),
              _records(out_dir / "sla_breaches.jsonl"))
    events = counts["events"]
    lines = [
        "", "s2c replay: the core over the events file", "=" * 50,
        f"events in:    {events:>8}",
        f"commands out: {t.commands:>8}   ({t.reversals} of them reverse an earlier command)",
        f"exceptions:   {sum(t.exceptions.values()):>8}   SLA breaches: {sum(t.breaches.values())}",
        f"processes:    {counts['processes']:>8}   links: {counts['links']}",
        f"wall time:    {seconds:>8.1f} s  ({events / max(seconds, 1e-9):,.0f} events/s)",
        "", *outcome_lines(t), "",
        f"outputs in {out_dir}: commands.jsonl, exceptions.jsonl, sla_breaches.jsonl, "
        "metrics.jsonl, processes.jsonl, links.jsonl", ""]
    return "\n".join(lines)
