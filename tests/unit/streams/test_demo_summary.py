"""The `s2c demo` summary, rendered from a handful of hand-built commands: a knee replacement at
Riverside General, billed to Northwind Health Plan, accrued, charged, paid, one accrual reversed
and its cost recognised. A finance reader adds the journal rows and gets the ledger."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from decimal import Decimal

from s2c.streams.demo_summary import Workers, journal_rows, summary
from s2c.streams.settings import Settings

SETTINGS = replace(Settings(), topic_prefix="demo20261201185728", app_id="s2c-demo-20261201185728")


def line(account: str, debit: str = "0.00", credit: str = "0.00") -> dict:
    return {
        "gl_account": account,
        "debit": Decimal(debit),
        "credit": Decimal(credit),
        "memo": "knee replacement, Riverside General",
    }


def command(
    kind: str,
    amount: str,
    debit_account: str,
    credit_account: str,
    n: int,
    journal_kind: str | None = None,
    reverses: str | None = None,
) -> dict:
    cmd = {
        "header": {
            "command_id": f"CASE-RIV-0001:{kind}:{n}",
            "command_type": kind,
            "process_id": "CASE-RIV-0001",
            "reverses_command_id": reverses,
        },
        "amount": Decimal(amount),
        "lines": [line(debit_account, debit=amount), line(credit_account, credit=amount)],
    }
    if journal_kind:
        cmd["journal_kind"] = journal_kind
    return cmd


COMMANDS = [
    command("AccrueExpectedRevenue", "18400.00", "EXPECTED_REVENUE", "EXPECTED_REVENUE_OFFSET", 1),
    command(
        "ReverseRevenueAccrual",
        "18400.00",
        "EXPECTED_REVENUE_OFFSET",
        "EXPECTED_REVENUE",
        2,
        reverses="CASE-RIV-0001:AccrueExpectedRevenue:1",
    ),
    command("AccrueExpectedRevenue", "17950.00", "EXPECTED_REVENUE", "EXPECTED_REVENUE_OFFSET", 3),
    command("PostJournal", "24310.00", "PATIENT_AR", "GROSS_REVENUE", 4, journal_kind="CHARGE"),
    command(
        "PostJournal",
        "6360.00",
        "CONTRACTUAL_ALLOWANCE",
        "PATIENT_AR",
        5,
        journal_kind="CONTRACTUAL_ADJUSTMENT",
    ),
    command("PostJournal", "17950.00", "CASH", "PATIENT_AR", 6, journal_kind="PAYMENT"),
    command("RecognizeCost", "9120.55", "SURGICAL_COST", "INVENTORY", 7),
    # labour plans carry hours, not money: no journal row
    {
        "header": {
            "command_id": "CASE-RIV-0001:PlanLabor:8",
            "command_type": "PlanLabor",
            "process_id": "CASE-RIV-0001",
            "reverses_command_id": None,
        },
        "lines": [{"role": "CIRCULATING_NURSE", "hours": 3.5}],
    },
]
LEDGER = Decimal("112490.55")  # every debit above
OUTPUTS = {
    "commands": COMMANDS,
    "breaches": [{"sla": "CLAIM_NOT_SUBMITTED_7D"}],
    "exceptions": [{"kind": "DENIAL"}, {"kind": "DENIAL"}],
    "dlq": [],
}


def journal_table(text: str) -> dict[str, Decimal]:
    block = text.split("journals (USD")[1].split("\n\n")[0].splitlines()[1:]
    rows = {}
    for row in block:
        found = re.fullmatch(r"  (\S.*?)\s+(-?[\d,]+\.\d\d)", row)
        if found:
            rows[found[1]] = Decimal(found[2].replace(",", ""))
    return rows


def render(workers: Workers) -> str:
    return summary(
        SETTINGS, Counter({"CaseScheduled": 1, "ChargePosted": 1}), OUTPUTS, 9.3, workers
    )


def test_the_journal_rows_add_up_to_the_ledger_that_is_checked():
    text = render(Workers(ports=[16066]))
    rows = journal_table(text)
    total = rows.pop("ledger (sum of the rows)")
    assert rows == {
        "CHARGE": Decimal("24310.00"),
        "CONTRACTUAL_ADJUSTMENT": Decimal("6360.00"),
        "PAYMENT": Decimal("17950.00"),
        "AccrueExpectedRevenue": Decimal("36350.00"),
        "RecognizeCost": Decimal("9120.55"),
        "ReverseRevenueAccrual": Decimal("18400.00"),
    }
    assert sum(rows.values()) == total == LEDGER
    assert f"ledger check: debits {LEDGER:,.2f} = credits {LEDGER:,.2f}  balanced" in text


def test_an_unbalanced_journal_is_called_out():
    lopsided = [
        *COMMANDS,
        {
            "header": {"command_type": "PostJournal", "reverses_command_id": None},
            "journal_kind": "PAYMENT",
            "amount": Decimal("10.00"),
            "lines": [line("CASH", debit="10.00"), line("PATIENT_AR", credit="9.00")],
        },
    ]
    rows, debit, credit = journal_rows(lopsided)
    assert sum(rows.values()) == debit == LEDGER + 10 and credit == LEDGER + 9
    assert "NOT BALANCED" in summary(
        SETTINGS, Counter(), {**OUTPUTS, "commands": lopsided}, 1.0, Workers(ports=[16066])
    )


def test_stopped_workers_get_no_metrics_url_but_where_their_metrics_went():
    text = render(Workers(ports=[16066], pids=[4242], kept=False))
    assert "http://127.0.0.1:16066/metrics" not in text
    metrics = next(l for l in text.splitlines() if l.strip().startswith("worker metrics"))
    assert "Prometheus" in metrics and "http://127.0.0.1:19090/graph" in metrics
    assert "16066" in metrics  # the query picks out this run's worker
    assert "4242" not in text and "--stop" not in text


def test_kept_workers_are_named_by_pid_with_the_command_that_stops_them():
    text = render(Workers(ports=[16067, 16068], pids=[4242, 4243], kept=True))
    assert "http://127.0.0.1:16067/metrics, http://127.0.0.1:16068/metrics" in text
    kept = next(l for l in text.splitlines() if l.strip().startswith("kept workers"))
    assert "4242" in kept and "4243" in kept and "s2c demo --stop" in kept
