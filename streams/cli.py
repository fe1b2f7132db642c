"""The `s2c` console command: one entry point, subcommands owned by their own modules.

Each subcommand lives in a module exposing `add_arguments(parser)` and `run(args) -> int`;
this file only maps names to modules, so adding a subcommand never touches another's code.
Modules are imported lazily so `s2c replay` does not pay for importing Faust.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "stack": (
        "s2c.streams.stack_cli",
        "start, stop or show the local stack (Kafka, registry, Prometheus)",
    ),
    "registry": (
        "s2c.streams.registry.cli",
        "run the schema registry service (Confluent REST API)",
    ),
    "schemas": (
        "s2c.streams.schemas_cli",
        "check the Avro schema catalogue (parse, compatibility, lint)",
    ),
    "worker": ("s2c.streams.worker_cli", "run a pipeline worker (Faust)"),
    "topics": ("s2c.streams.topics_cli", "create the pipeline's topics"),
    "generate": (
        "s2c.streams.generate_cli",
        "generate a synthetic health system (master data + events)",
    ),
    "replay": ("s2c.streams.replay_cli", "run the pure core over a JSON Lines file, no Kafka"),
    "ingest": (
        "s2c.streams.connectors.cli",
        "ingest HL7 v2, X12 or FHIR files into canonical events",
    ),
    "export-ocel": (
        "s2c.streams.ocel_cli",
        "write a replay's correlated history as an OCEL 2.0 log, with conformance.json",
    ),
    "dlq": ("s2c.streams.dlq_cli", "list or replay dead letters"),
    "audit": ("s2c.streams.audit_cli", "list the audit trail (registry changes, DLQ replays)"),
    "bench": ("s2c.streams.bench_cli", "measure the pipeline against the raw consume+decode rate"),
    "report": (
        "s2c.streams.report_cli",
        "write one self-contained HTML report with charts from a replay-format folder",
    ),
    "demo": ("s2c.streams.demo_cli", "run the pipeline over a synthetic day and print a summary"),
    "verify": (
        "s2c.streams.verify_cli",
        "run a workload live (optionally under faults) and compare it with s2c replay",
    ),
    "erp-sink": (
        "s2c.streams.erp.sink_cli",
        "the reference ERP: post commands into a ledger database, answer each on the acks topic",
    ),
    "reconcile": (
        "s2c.streams.reconcile_cli",
        "reconcile a replay's commands with an ERP ledger: mismatches by kind and site",
    ),
    "acls": ("s2c.streams.acls", "grant the secured stack's roles their Kafka permissions"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2c", description="s2c schedule-to-cash pipeline")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # subcommand not built yet in this checkout
        # module docstrings are laid out by hand (lists, examples): keep their lines as written
        sub_parser = sub.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse hands a subcommand's positionals out in one go: in `s2c ingest hl7 --dry-run a b`
    # the files after the option are left over. They are files all the same.
    paths = getattr(args, "paths", None)
    if extra and paths is not None and not any(e.startswith("-") for e in extra):
        args.paths = [*paths, *(Path(e) for e in extra)]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The registry client logs every HTTP request at INFO; that is noise for a person.
    for chatty in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
