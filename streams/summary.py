"""The summary `s2c replay` prints at the end: the demo's summary over replay's output files.

The journal table and ledger check are the demo's own (`s2c.streams.demo_summary.journal_table`),
so a replay and a demo of the same day read alike. The files are read a line at a time (twice for
the commands: counts, then journals), so a large replay's summary holds tallies, not records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from s2c.streams.demo_summary import counted, journal_table, work_items
from s2c.tables.codec import loads


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The `record` of each `{"schema": ..., "record": ...}` line of a replay output file."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield loads(line)["record"]


def _with_decimal_money(commands: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Commands as the demo reads them from Avro: money as Decimal, not JSON's decimal strings."""
    for command in commands:
        for line in command.get("lines") or ():
            if "debit" in line:
                line["debit"], line["credit"] = Decimal(line["debit"]), Decimal(line["credit"])
        yield command


def replay_summary(out_dir: Path, counts: Counter[str], seconds: float) -> str:
    by_type: Counter[str] = Counter()
    reversals = 0
    for command in _records(out_dir / "commands.jsonl"):
        by_type[command["header"]["command_type"]] += 1
        reversals += bool(command["header"]["reverses_command_id"])
    raised = list(_records(out_dir / "exceptions.jsonl"))
    exceptions = Counter(e["kind"] for e in raised if not e.get("resolves_exception_id"))
    breaches = Counter(b["sla"] for b in _records(out_dir / "sla_breaches.jsonl"))
    journals = journal_table(_with_decimal_money(_records(out_dir / "commands.jsonl")))
    events = counts["events"]
    lines = [
        "",
        "s2c replay: the core over the events file",
        "=" * 50,
        f"events in:    {events:>8}"
        + (f"   master records in the stream: {counts['master']}" if counts["master"] else ""),
        f"commands out: {sum(by_type.values()):>8}   "
        f"({reversals} of them reverse an earlier command)",
        f"exceptions:   {sum(exceptions.values()):>8}   SLA breaches: {sum(breaches.values())}",
        f"processes:    {counts['processes']:>8}   links: {counts['links']}",
        f"dead letters: {counts['dead_letters']:>8}   (refused lines, in dead_letters.jsonl)",
        f"wall time:    {seconds:>8.1f} s  ({events / max(seconds, 1e-9):,.0f} events/s)",
        "",
        *counted("ERP commands by type:", by_type, 24),
        "",
        *journals,
        "",
        *work_items(raised),
        "",
        *counted("SLA breaches:", breaches, 34),
        "",
        f"outputs in {out_dir}: commands.jsonl, exceptions.jsonl, sla_breaches.jsonl, "
        "metrics.jsonl, processes.jsonl, links.jsonl, dead_letters.jsonl",
        "",
    ]
    return "\n".join(lines)
