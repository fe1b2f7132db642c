"""Run the pure schedule-to-cash core over a JSON Lines file of the workers' stream, no Kafka.

Input: one event per line, `{"schema": "CaseScheduled", "event": {"envelope": {...}, ...}}`,
times as ISO-8601 UTC, dates as YYYY-MM-DD, money as decimal strings, and among them master
records, `{"schema": "Payer", "record": {...}}`, taking effect where they stand. Master data
known before the stream: a directory with one `<RecordName>.jsonl` per master record
(Payer.jsonl, Location.jsonl, ...), optional.
Output directory: commands.jsonl, exceptions.jsonl, sla_breaches.jsonl, metrics.jsonl (emission
order) and processes.jsonl, links.jsonl (final states, sorted by key). Same input, same bytes.
A folder holding anything but these files (and dead_letters.jsonl) is refused, so two runs never
mix; a previous replay's folder is overwritten whole.
Lines that are not canonical events or master records, and events the ingest stage's
plausibility rule refuses, go to dead_letters.jsonl with their reason; the replay goes on.
On a terminal a progress bar runs on stderr (not with --quiet); at the end the same summary as
`s2c demo` (commands by type, journals, ledger check, exceptions, SLA breaches) goes to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSON Lines file of canonical events")
    parser.add_argument(
        "--master-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory of <RecordName>.jsonl master data files, loaded before the stream "
        "(default: none; master records may also stand in the input among the events)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory for the output JSON Lines files: new, empty, or a previous replay's "
        "(overwritten whole); one holding anything else is refused",
    )
    parser.add_argument(
        "--deadline-grace-hours",
        type=float,
        default=None,
        metavar="H",
        help="allowed lateness: deadlines fire at stream time less H hours "
        "(default: S2C_DEADLINE_GRACE_HOURS, as the workers)",
    )
    parser.add_argument(
        "--clock",
        type=_instant,
        default=None,
        metavar="ISO",
        help="judge business times against this wall clock too (e.g. 2025-04-01T00:00:00Z, "
        "when the workers took the events); default: stream time only, so the output never "
        "depends on when replay runs",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text} has no time zone (add Z or +hh:mm)")
    return at.astimezone(UTC)


def _count_lines(path: Path) -> int:
    with path.open("rb") as raw:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from s2c.streams.idkey import id_key_of
    from s2c.streams.settings import Settings
    from s2c.streams.summary import replay_summary
    from s2c.tables.replay import foreign_entries, replay_file  # the core; never imports Faust

    if not args.input.is_file():
        log.error("input %s is not a file", args.input)
        return 2
    if args.master_data is not None and not args.master_data.is_dir():
        log.error("master data %s is not a directory", args.master_data)
        return 2
    if foreign := foreign_entries(args.out):
        log.error(
            "output folder %s holds %s, which no replay wrote: give a new or empty folder "
            "(a previous replay's folder is overwritten whole, so runs never mix)",
            args.out,
            ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else ""),
        )
        return 2
    settings = Settings.from_env()
    grace_hours = (
        settings.deadline_grace_hours
        if args.deadline_grace_hours is None
        else args.deadline_grace_hours
    )
    if grace_hours < 0:
        log.error("--deadline-grace-hours must not be negative")
        return 2
    show = not args.quiet and sys.stderr.isatty()
    bar = tqdm(
        total=_count_lines(args.input) if show else None,
        unit="event",
        desc="replay",
        disable=not show,
        mininterval=0.5,
        file=sys.stderr,
    )
    started = time.monotonic()
    try:
        with bar:
            counts = replay_file(
                args.input,
                args.master_data,
                args.out,
                id_key_of(settings),  # the workers' key: the same process ids
                on_event=bar.update if show else None,
                grace=timedelta(hours=grace_hours),
                limits=settings.plausibility,
                clock=args.clock,
            )
    except ValueError as exc:
        log.error("replay stopped: %s", exc)
        return 1
    print(replay_summary(args.out, counts, time.monotonic() - started))
    return 0
