"""Run the pure schedule-to-cash core over a JSON Lines file of canonical events, no Kafka.

Input: one event per line, `{"schema": "CaseScheduled", "event": {"envelope": {...}, ...}}`,
times as ISO-8601 UTC, dates as YYYY-MM-DD, money as decimal strings. Master data: a directory
with one `<RecordName>.jsonl` per master record (Payer.jsonl, Location.jsonl, ...).
Output directory: commands.jsonl, exceptions.jsonl, sla_breaches.jsonl, metrics.jsonl (emission
order) and processes.jsonl, links.jsonl (final states, sorted by key). Same input, same bytes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSON Lines file of canonical events")
    parser.add_argument("--master-data", type=Path, required=True, metavar="DIR",
                        help="directory of <RecordName>.jsonl master data files")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="directory for the output JSON Lines files (created if missing)")


def run(args: argparse.Namespace) -> int:
    from s2c.tables.replay import replay_file  # the core only; never imports Faust

    if not args.input.is_file():
        log.error("input %s is not a file", args.input)
        return 2
    if not args.master_data.is_dir():
        log.error("master data %s is not a directory", args.master_data)
        return 2
    try:
        counts = replay_file(args.input, args.master_data, args.out)
    except ValueError as exc:
        log.error("replay stopped: %s", exc)
        return 1
    log.info("replayed %s", ", ".join(f"{name}={n}" for name, n in sorted(counts.items())))
    return 0
