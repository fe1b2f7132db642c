"""`s2c reconcile`: what a replay sent the ERP against what the ERP's ledger holds, offline.

Reads a replay's output folder (commands.jsonl: what s2c sent; processes.jsonl: each instance's
milestones and site) and the reference ERP's ledger (`s2c erp-sink --db`: an SQLite file or a
postgresql:// URL; its `erp_commands` table holds the ERP's answer to each command id). A command
the ledger has no row for is unacknowledged. Runs `tables.reconcile.mismatches` per instance at
business time --as-of (default: the latest `issued_at` of the commands), prints counts by kind
and site, and writes reconciliation.json and reconciliation.csv into --out.

  s2c reconcile out/ --db erp.sqlite --out report/

Live (--live URL of any worker): the facts come from the running workers' tables
(`GET /reconciliation/`, every worker's instances) instead of a replay folder. With --db the
ERP's answers are the ledger's, as offline; without it they are the acks the workers received,
and an unanswered command counts as unacknowledged only once its worker reported it
unsynchronized (past S2C_ERP_ACK_WAIT), as the workers' own gauge counts it.

  s2c reconcile --live http://127.0.0.1:16066 --db erp.sqlite --out report/
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
    parser.add_argument(
        "replay", type=Path, nargs="?", help="an `s2c replay --out` folder (or --live)"
    )
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="the ERP ledger (s2c erp-sink --db); needed offline, optional with --live",
    )
    parser.add_argument(
        "--live",
        metavar="URL",
        help="a running worker's web address: reconcile the live tables instead of a replay",
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


def live_facts(
    url: str, answers: dict[str, tuple[str, str | None]] | None
) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """Facts per process id from the workers' `/reconciliation/`, and per process id the
    commands the workers reported unsynchronized. With `answers` (the ledger's) those replace
    the acks the workers received: a command without a ledger row is unanswered."""
    import os
    import urllib.request

    from s2c.tables.reconcile import Facts

    request = urllib.request.Request(f"{url.rstrip('/')}/reconciliation/")
    if token := os.environ.get("S2C_API_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.load(response)
    facts: dict[str, Facts] = {}
    late: dict[str, set[str]] = {}
    for row in body["instances"]:
        found = Facts.from_dict(row["facts"])
        if answers is not None:
            found.statuses.clear()
            for cid in found.commands:
                if cid in answers:
                    found.set_status(cid, *answers[cid])
        facts[found.process_id] = found
        late[found.process_id] = set(row["unsynchronized"])
    return facts, late


def run(args: argparse.Namespace) -> int:
    from s2c.tables.reconcile import mismatches, summarize, unacknowledged_only_if_late

    if (args.live is None) == (args.replay is None):
        log.error("s2c reconcile: give a replay folder or --live URL (one of them)")
        return 2
    if args.db is not None:
        is_url = args.db.startswith(("postgresql://", "postgres://"))
        if not is_url and not Path(args.db.removeprefix("sqlite:///")).is_file():
            log.error("s2c reconcile: no ledger at %s", args.db)
            return 2
    answers = None if args.db is None else ledger_answers(args.db)
    late: dict[str, set[str]] | None = None
    if args.live is not None:
        facts, unsynchronized = live_facts(args.live, answers)
        late = None if answers is not None else unsynchronized
        where = args.live
    else:
        if args.db is None:
            log.error("s2c reconcile: offline, --db (the ERP ledger) is needed")
            return 2
        names = ("commands.jsonl", "processes.jsonl")
        missing = [n for n in names if not (args.replay / n).is_file()]
        if missing:
            log.error("s2c reconcile: %s has no %s: not a replay folder", args.replay, missing[0])
            return 2
        facts = load_facts(args.replay, answers or {})
        where = str(args.replay)
    as_of: datetime | None = args.as_of
    if as_of is None:
        issued = [c.issued_at for f in facts.values() for c in f.commands.values()]
        if not issued:
            log.error("s2c reconcile: no commands in %s and no --as-of", where)
            return 2
        as_of = max(issued)
    found = []
    for pid in sorted(facts):
        judged = mismatches(facts[pid], as_of)
        found += (
            judged if late is None else unacknowledged_only_if_late(judged, late.get(pid, set()))
        )
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
