"""`s2c audit list`: print the audit trail (who changed the registry, who replayed dead letters).

  s2c audit list                          every record, oldest first
  s2c audit list --since 24h              the last day (also 30m, 7d, or 2026-12-04T09:00)
  s2c audit list --action registry        registry changes only (or registry.compatibility,
                                          dlq.replay, ...)

Each line: when (UTC), who, what, on what, details. Exit status 0 also when nothing matches.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list"])
    parser.add_argument("--since", help="only records at or after: 30m, 12h, 7d or an ISO time")
    parser.add_argument(
        "--action",
        dest="what",
        help="only this action, or a family of them (registry, dlq, registry.mode)",
    )


def run(args: argparse.Namespace) -> int:
    from s2c.streams.audit import AuditUnavailable, matches, parse_since, read
    from s2c.streams.settings import Settings

    settings = Settings.from_env().role_unless_given("admin")
    try:
        since = parse_since(args.since, datetime.now(UTC)) if args.since else None
    except ValueError:
        log.error("--since %r is neither 30m/12h/7d nor an ISO date or time", args.since)
        return 2
    try:
        records = [r for r in read(settings) if matches(r, since, args.what)]
    except AuditUnavailable as exc:
        log.error("%s", exc)
        return 1
    for record in records:
        print(record.line())
    print(f"{len(records)} audit record(s) on {settings.audit_topic}")
    return 0
