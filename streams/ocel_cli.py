"""`s2c export-ocel`: the correlated history of a replay as an OCEL 2.0 log, and conformance.json.

    s2c replay day/events.jsonl --master-data day/master --out out/
    s2c export-ocel day/events.jsonl --replay out/ --out out/ocel.json [--check]

Reads the replay's input stream and its output folder (processes.jsonl, commands.jsonl) and writes
the OCEL 2.0 JSON log (streams/ocel.py says what is in it) and, beside it, `conformance.json`:
`{"deviations": {kind: n}, "by_site": {site: {kind: n}}, "pm4py": {...}}`, the core's deviations
from the reference path (tables/conformance.py) counted by kind and by site. With `--check`
(pm4py installed: `pip install -e '.[test]'`) the log is read back with pm4py, its event and
object counts, per type, must round-trip (exit 1 otherwise), and `pm4py` holds the figures of a
token-based replay per flattened episode type against a Petri net discovered from the instances
without deviations. The ids of accounts, encounters, claims and remittances are pseudonyms under
the pipeline's key (S2C_ID_KEY, else <S2C_DATA_DIR>/id.key), the same as the live pipeline's.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
CONFORMANCE_FILE = "conformance.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="the replay's input: JSON Lines of events")
    parser.add_argument(
        "--replay", type=Path, required=True, metavar="DIR", help="the replay's output folder"
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="default: DIR/ocel.json"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="read the log back with pm4py, check its counts and add pm4py conformance figures",
    )


def deviation_counts(processes: list[dict[str, Any]]) -> dict[str, Any]:
    """The core's deviations by kind and by site (sorted keys, so the file is stable)."""
    total: Counter[str] = Counter()
    by_site: dict[str, Counter[str]] = {}
    for state in processes:
        for deviation in state.get("deviations", ()):
            total[deviation["kind"]] += 1
            by_site.setdefault(state.get("site_id") or "unknown", Counter())[deviation["kind"]] += 1
    return {
        "deviations": dict(sorted(total.items())),
        "by_site": {site: dict(sorted(c.items())) for site, c in sorted(by_site.items())},
    }


def export(
    events_path: Path, replay_dir: Path, out: Path, ids: Any
) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """Write the OCEL file; returns the builder, the document and what was exported or left
    out."""
    from s2c.streams.ocel import OcelBuilder
    from s2c.tables.events import Event
    from s2c.tables.replay_input import read_events

    processes = _jsonl(replay_dir / "processes.jsonl")
    builder = OcelBuilder(ids, processes)
    counts: Counter[str] = Counter()
    for _number, _text, item in read_events(events_path):
        if isinstance(item, Event):
            counts[builder.add_event(item)] += 1
    for row in _jsonl(replay_dir / "commands.jsonl"):
        builder.add_command(row["record"], row["schema"])
        counts["commands"] += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    document = builder.document()
    out.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    return builder, document, dict(counts)


def write_conformance(
    events_path: Path, replay_dir: Path, out: Path, ids: Any, check: bool
) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """The OCEL log at `out` and `conformance.json` beside it (with pm4py's figures when
    `check`); returns the builder, the conformance summary and what was exported."""
    builder, document, counts = export(events_path, replay_dir, out, ids)
    summary = deviation_counts(list(builder.instances.values()))
    summary["pm4py"] = {}
    if check:
        from s2c.streams.ocel_check import check as pm4py_check

        summary["pm4py"] = pm4py_check(out, document, builder.deviated_episodes())
    (out.parent / CONFORMANCE_FILE).write_text(
        json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return builder, summary, counts


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def run(args: argparse.Namespace) -> int:
    from s2c.streams.idkey import id_key_of
    from s2c.streams.settings import Settings

    for needed in (args.replay / "processes.jsonl", args.replay / "commands.jsonl"):
        if not needed.is_file():
            log.error("%s is missing: give the output folder of s2c replay", needed)
            return 2
    if not args.input.is_file():
        log.error("input %s is not a file", args.input)
        return 2
    out = args.out or args.replay / "ocel.json"
    ids = id_key_of(Settings.from_env())
    builder, summary, counts = write_conformance(args.input, args.replay, out, ids, args.check)
    status = 0 if not args.check or summary["pm4py"]["round_trip"]["ok"] else 1
    print(
        f"{out}: {counts.get('events', 0)} events and {counts.get('commands', 0)} commands "
        f"(left out: {counts.get('duplicates', 0)} resent, {counts.get('outside', 0)} in no "
        "instance's history), "
        f"{len(builder.objects)} objects; deviations {summary['deviations']}; "
        f"{out.parent / CONFORMANCE_FILE}"
    )
    return status
