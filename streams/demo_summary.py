"""The summary `s2c demo` prints, from the output topics' records: plain functions, no Kafka.

The journal table has a row for every kind of command that carries journal lines, not only the
PostJournal kinds: revenue accruals, their reversals and recognised cost post to the ledger too.
Each row is the sum of its commands' debits, so the rows add up to the ledger's debits, which the
ledger check then compares with the credits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from s2c.streams.settings import Settings
from s2c.streams.topics import declare

RULE = "-" * 40


@dataclass(frozen=True)
class Workers:
    """What the summary says about the demo's workers: their web ports and pids, and whether
    they are still running (`--keep-worker`)."""

    ports: list[int]
    pids: list[int] = field(default_factory=list)
    kept: bool = False


def journal_rows(commands: Iterable[dict[str, Any]]) -> tuple[dict[str, Decimal], Decimal, Decimal]:
    """Debits per journal row, and the ledger's total debits and credits over every journal line
    of every command. Rows: each PostJournal `journal_kind` (CHARGE, PAYMENT, ...), then each
    other command type that carries journal lines (AccrueExpectedRevenue, RecognizeCost, ...)."""
    posted: dict[str, Decimal] = {}
    other: dict[str, Decimal] = {}
    debit = credit = Decimal(0)
    for command in commands:
        lines = [line for line in command.get("lines") or () if "debit" in line]
        if not lines:  # labour plans carry hours, supplies quantities: no money
            continue
        kind = command.get("journal_kind")
        rows, name = (posted, kind) if kind else (other, command["header"]["command_type"])
        debits = sum((line["debit"] for line in lines), Decimal(0))
        rows[name] = rows.get(name, Decimal(0)) + debits
        debit += debits
        credit += sum((line["credit"] for line in lines), Decimal(0))
    ordered = {k: posted[k] for k in sorted(posted)} | {k: other[k] for k in sorted(other)}
    return ordered, debit, credit


def journal_table(commands: Iterable[dict[str, Any]]) -> list[str]:
    """The journal rows, their sum and the ledger check; reads `commands` once, so a generator
    keeps a large replay's commands out of memory."""
    rows, debit, credit = journal_rows(commands)
    lines = ["journals (USD, debits; the rows add up to the ledger):"]
    lines += [f"  {kind:24} {amount:>14,.2f}" for kind, amount in rows.items()]
    lines += [
        f"  {RULE}",
        f"  {'ledger (sum of the rows)':24} {sum(rows.values(), Decimal(0)):>14,.2f}",
        f"  ledger check: debits {debit:,.2f} = credits {credit:,.2f}  "
        f"{'balanced' if debit == credit else 'NOT BALANCED'}",
    ]
    return lines


def work_items(records: list[dict]) -> list[str]:
    """The work items raised, by kind, and how many of them a later event already resolved (the
    notices carrying `resolves_exception_id`, not counted as items)."""
    raised = Counter(e["kind"] for e in records if not e.get("resolves_exception_id"))
    notices = sum(1 for e in records if e.get("resolves_exception_id"))
    return [
        *counted("work-queue exceptions:", raised, 24),
        f"  {'resolved by an event':24} {notices:>7}",
    ]


def counted(title: str, counts: Counter[str], width: int) -> list[str]:
    """A titled count per kind, sorted by kind; `none` when there is nothing to count."""
    rows = [f"  {kind:{width}} {n:>7}" for kind, n in sorted(counts.items())]
    return [title, *(rows or ["  none"])]


def _where_to_look(settings: Settings, workers: Workers) -> list[str]:
    topics = declare(settings)
    prometheus = f"http://{settings.host}:{settings.prometheus_port}"
    lines = [
        "where to look:",
        f"  commands topic     {topics.commands.name}",
        f"  exceptions topic   {topics.exceptions.name} (work queues), SLA: {topics.sla_breaches.name}",
        f"  dead letters       {topics.dlq.name}  (S2C_TOPIC_PREFIX={settings.topic_prefix} s2c dlq list)",
    ]
    secure = "S2C_SECURE=1 " if settings.secure else ""  # the secured stack's own data folder
    if workers.kept:
        lines += [
            "  worker metrics     "
            + ", ".join(f"http://{settings.host}:{p}/metrics" for p in workers.ports),
            "  experience API     "
            + ", ".join(f"http://{settings.host}:{p}/exceptions/" for p in workers.ports),
            "  kept workers       pid "
            + ", ".join(str(p) for p in workers.pids)
            + f"  (stop them: {secure}s2c demo --stop, or {secure}make stack-down)",
        ]
    else:  # the workers have stopped: their own /metrics is gone, Prometheus kept what it scraped
        instances = "|".join(f"{settings.host}:{p}" for p in workers.ports)
        expr = quote(f's2c_commands_out_total{{instance=~"{instances}"}}')
        lines.append(
            f"  worker metrics     in Prometheus (worker stopped, "
            f"its /metrics gone): {prometheus}/graph?g0.expr={expr}"
        )
    lines += [
        f"  Prometheus         {prometheus}/graph?g0.expr=s2c_commands_out_total",
        f"  schema registry    {settings.registry_url}/subjects",
        f"  stop the stack     {secure}make stack-down",
    ]
    return lines


def summary(
    settings: Settings,
    events: Counter[str],
    outputs: dict[str, list[dict[str, Any]]],
    seconds: float,
    workers: Workers,
) -> str:
    commands = outputs["commands"]
    by_type = Counter(c["header"]["command_type"] for c in commands)
    reversals = sum(1 for c in commands if c["header"]["reverses_command_id"])
    lines = [
        "",
        "s2c demo: one synthetic day through the pipeline",
        "=" * 50,
        f"events in:    {sum(events.values()):>8}   ({len(events)} event types)",
        f"commands out: {len(commands):>8}   ({reversals} of them reverse an earlier command)",
        f"exceptions:   {len(outputs['exceptions']):>8}   SLA breaches: {len(outputs['breaches'])}"
        f"   dead letters: {len(outputs['dlq'])}",
        f"wall time:    {seconds:>8.1f} s  ({sum(events.values()) / max(seconds, 1e-9):,.0f} events/s end to end)",
        "",
        *counted("ERP commands by type:", by_type, 24),
        "",
        *journal_table(commands),
        "",
        *work_items(outputs["exceptions"]),
        "",
        *counted("SLA breaches:", Counter(b["sla"] for b in outputs["breaches"]), 34),
    ]
    lines += ["", *_where_to_look(settings, workers), ""]
    return "\n".join(lines)
