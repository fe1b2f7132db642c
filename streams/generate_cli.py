"""`s2c generate`: a deterministic synthetic health system, master data first, then days of events.

Writes JSON Lines files for `s2c replay` (`--out DIR`: DIR/events.jsonl, DIR/master/<Record>.jsonl)
and/or publishes Avro to the pipeline's topics (`--kafka`: master data to the master topic keyed
`<RecordName>:<id>`, events to the events topic keyed by business key). Same seed and parameters,
same output. Every size and rate is a flag; streams/synth/README.md says where the defaults come from.
`--poison FRACTION` mixes tagged bad records of 13 kinds in (streams/synth/poison.py); the good
events stay the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from datetime import date
from pathlib import Path

from s2c.streams.synth.params import HELP, SynthParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write DIR/events.jsonl and DIR/master/<RecordName>.jsonl",
    )
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="publish to the master-data and events topics (Avro, schema registry)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="processes for --kafka without --out (default: CPUs, at most one "
        "per site); sites are shared out, per-key order is unchanged",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        metavar="N",
        help="aim for about N episodes per day in total (sets --scale)",
    )
    for f in dataclasses.fields(SynthParams):
        kind = date.fromisoformat if f.type in (date, "date") else type(f.default)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=kind,
            default=f.default,
            help=f"{HELP.get(f.name, '')} (default {f.default})",
        )


def params_from(args: argparse.Namespace) -> SynthParams:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SynthParams)}
    if not 0 <= values["deviation_rate"] <= 1:
        raise SystemExit(f"--deviation-rate must be in [0, 1], not {values['deviation_rate']}")
    if not 0 <= values["poison"] < 1:
        raise SystemExit(f"--poison must be a fraction in [0, 1), not {values['poison']}")
    params = SynthParams(**values)
    if getattr(args, "episodes", None):
        from s2c.streams.synth.stream import scaled_for_episodes

        params = scaled_for_episodes(params, args.episodes)
    return params


def run(args: argparse.Namespace) -> int:
    from collections import Counter

    from s2c.streams.synth.stream import generate
    from s2c.streams.synth.summary import Totals, print_summary

    if args.out is None and not args.kafka:
        print("nothing to do: give --out DIR, --kafka or both")
        return 2
    params = params_from(args)
    workers = args.workers or min(os.cpu_count() or 1, params.sites)
    started = time.perf_counter()
    if args.kafka and args.out is None and workers > 1 and not params.finance_faults:
        from s2c.streams.settings import Settings
        from s2c.streams.synth.kafka_out import publish_parallel

        settings = Settings.from_env().role_unless_given("admin")
        totals, plan_seconds = publish_parallel(settings, params, workers)
        output_seconds = time.perf_counter() - started - plan_seconds
        where = f"{settings.topic_prefix}.master and {settings.topic_prefix}.events"
        print_summary(
            params,
            totals,
            plan_seconds,
            output_seconds,
            [f"Kafka {settings.kafka_bootstrap}: {where} ({workers} worker processes)"],
        )
        return 0
    synthesis = generate(params)
    plan_seconds = time.perf_counter() - started
    outputs = []
    if args.out is not None:
        from s2c.streams.synth.writer import write_events, write_master

        write_master(args.out, synthesis.master())
        write_events(args.out, synthesis.events())
        if synthesis.finance is not None:
            from s2c.streams.synth.faults_finance import write_truth

            write_truth(args.out, synthesis.finance, synthesis.master())
        outputs.append(f"{args.out}/events.jsonl and {args.out}/master/<RecordName>.jsonl")
        if params.deviation_rate:
            from s2c.streams.synth.deviations import TRUTH_FILE, write_truth

            n = write_truth(args.out, synthesis.deviations)
            outputs.append(f"{args.out}/{TRUTH_FILE} ({n} deviations from the reference path)")
    if args.kafka:
        from s2c.streams.settings import Settings
        from s2c.streams.synth.kafka_out import publish_events, publish_master

        settings = Settings.from_env().role_unless_given("admin")
        publish_master(settings, synthesis.system)
        publish_events(settings, synthesis)
        outputs.append(
            f"Kafka {settings.kafka_bootstrap}: {settings.topic_prefix}.master and "
            f"{settings.topic_prefix}.events"
        )
    totals = Totals(
        synthesis.episodes,
        synthesis.event_counts(),
        Counter({n: len(rows) for n, rows in synthesis.system.records.items()}),
        synthesis.poisoned,
    )
    print_summary(
        params, totals, plan_seconds, time.perf_counter() - started - plan_seconds, outputs
    )
    return 0
