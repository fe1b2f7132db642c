"""`s2c reconcile`: what a replay sent the ERP against what the ERP's ledger holds, offline.

Reads a replay's output folder (commands.jsonl: what s2c sent; processes.jsonl: each instance's
milestones and site) and the reference ERP's ledger (`s2c erp-sink --db`: an SQLite file or a
postgresql:// URL; its `erp_commands` table holds the ERP's answer to each command id). A command
the ledger has no row for is unacknowledged. Runs `tables.reconcile.mismatches` per instance at
business time --as-of (default: the latest `issued_at` of the commands), prints counts by kind
and site, and writes reconciliation.json and reconciliation.csv into --out.

  s2c reconcile out/ --db erp.sqlite --out report/
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from s2c.tables.codec import loads, to_datetime

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("replay", type=Path, help="an `s2c replay --out` folder")
    parser.add_argument(
        "--db", required=True, metavar="PATH_OR_URL", help="the ERP ledger (s2c erp-sink --db)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where reconciliation.json and reconciliation.csv go (default: .)",
    )
    parser.add_argument(
        "--as-of",
        type=to_datetime,
        default=None,
        metavar="ISO",
        help="business time to judge windows at (default: the latest command's issued_at)",
    )


def load_facts(replay: Path, answers: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    """Facts per process id from a replay folder and the ERP's answers by command id."""
    from s2c.tables.process import ProcessState
    from s2c.tables.reconcile import Facts

    facts: dict[str, Facts] = {}
    with (replay / "processes.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            state = ProcessState.from_dict(loads(line))
            facts.setdefault(state.process_id, Facts(state.process_id)).note_process(state)
    with (replay / "commands.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = loads(line)["record"]
            pid = record["header"]["process_id"]
            cid = facts.setdefault(pid, Facts(pid)).add_command(record)
            if cid in answers:
                facts[pid].set_status(cid, *answers[cid])
    return facts


def ledger_answers(target: str) -> dict[str, tuple[str, str | None]]:
    from s2c.streams.erp.ledger import Ledger

    ledger = Ledger.open(target)
    try:
        rows = ledger.rows("SELECT command_id, status, reason FROM erp_commands")
        return {cid: (status, reason) for cid, status, reason in rows}
    finally:
        ledger.close()


def run(args: argparse.Namespace) -> int:
    from s2c.tables.reconcile import mismatches, summarize

    missing = [n for n in ("commands.jsonl", "processes.jsonl") if not (args.replay / n).is_file()]
    if missing:
        log.error("s2c reconcile: %s has no %s: not a replay folder", args.replay, missing[0])
        return 2
    is_url = args.db.startswith(("postgresql://", "postgres://"))
    if not is_url and not Path(args.db.removeprefix("sqlite:///")).is_file():
        log.error("s2c reconcile: no ledger at %s", args.db)
        return 2
    facts = load_facts(args.replay, ledger_answers(args.db))
    as_of: datetime | None = args.as_of
    if as_of is None:
        issued = [c.issued_at for f in facts.values() for c in f.commands.values()]
        if not issued:
            log.error("s2c reconcile: no commands in %s and no --as-of", args.replay)
            return 2
        as_of = max(issued)
    found = [m for pid in sorted(facts) for m in mismatches(facts[pid], as_of)]
    report = summarize(found, as_of)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reconciliation.json").write_text(
        json.dumps(report, indent=1) + "\n", encoding="utf-8"
    )
    with (args.out / "reconciliation.csv").open("w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(["kind", "process_id", "site_id", "command_ids", "amount", "reason"])
        for m in report["mismatches"]:
            writer.writerow(
                [
                    m["kind"],
                    m["process_id"],
                    m["site_id"] or "",
                    " ".join(m["command_ids"]),
                    m["amount"] or "",
                    m["reason"],
                ]
            )
    _print(report, len(facts), args.out)
    return 0


def _print(report: dict[str, Any], instances: int, out: Path) -> None:
    counts: dict[str, int] = report["counts"]
    print(f"s2c reconcile: {instances} instances as of {report['as_of']}")
    print(f"{'kind':<26}{'count':>7}")
    for kind, n in counts.items():
        print(f"  {kind:<24}{n:>7}")
    print(f"  {'total':<24}{sum(counts.values()):>7}")
    for site, by_kind in report["by_site"].items():
        listed = ", ".join(f"{k} {n}" for k, n in by_kind.items())
        print(f"  site {site}: {listed}")
    print(f"written: {out / 'reconciliation.json'} and {out / 'reconciliation.csv'}")
