"""`s2c report`: one self-contained HTML file with charts, from a folder in `s2c replay`'s format.

Input: the folder `s2c replay --out` wrote (or the one `s2c demo` writes from the live run's
topics): processes.jsonl (volumes by site and service line, expected vs paid by payer),
metrics.jsonl (stage durations; without it, from the instances' final milestones),
sla_breaches.jsonl, exceptions.jsonl, dead_letters.jsonl; and, when there, reconciliation.json
(mismatches by kind and site) and conformance.json (deviations from the reference path; without
it, the instances' own `deviations` if they carry them). A section whose input is missing says so
instead of drawing anything.
Output: one HTML file (default: <folder>.html, beside the folder, so a replay can still
overwrite the folder) with inline SVG charts and CSS, no script,
nothing fetched: it opens offline and can be mailed. No patient data: instances are counted by
site, service line and payer; account numbers are never read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2c.streams.report_figures import read_figures
from s2c.streams.report_page import render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="a folder in s2c replay's output format")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the HTML file to write (default: FOLDER.html, beside the folder)",
    )
    parser.add_argument(
        "--reconciliation",
        type=Path,
        default=None,
        metavar="FILE",
        help="the reconciliation report (JSON; default: FOLDER/reconciliation.json if there)",
    )
    parser.add_argument(
        "--conformance",
        type=Path,
        default=None,
        metavar="FILE",
        help="the conformance report (JSON; default: FOLDER/conformance.json if there)",
    )
    parser.add_argument(
        "--title",
        default=None,
        help="what the page is about, in its heading (default: the folder's name)",
    )


def write_report(
    folder: Path,
    out: Path | None = None,
    reconciliation: Path | None = None,
    conformance: Path | None = None,
    title: str | None = None,
) -> Path:
    """Reads the folder, writes the page; returns the page's path."""
    page = render(read_figures(folder, reconciliation, conformance, title))
    target = out or folder.with_name(f"{folder.name}.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def run(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        print(f"s2c report: {args.folder} is not a folder", file=sys.stderr)
        return 2
    for given in (args.reconciliation, args.conformance):
        if given is not None and not given.is_file():
            print(f"s2c report: {given} is not a file", file=sys.stderr)
            return 2
    try:
        target = write_report(
            args.folder, args.out, args.reconciliation, args.conformance, args.title
        )
    except ValueError as exc:  # a line or a tool's report that is not the JSON it should be
        print(f"s2c report: cannot read {exc}", file=sys.stderr)
        return 2
    print(f"s2c report: {target}")
    return 0
