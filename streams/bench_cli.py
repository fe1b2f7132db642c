"""`s2c bench`: the pipeline measured against the raw consume+decode rate R of the same broker.

On the running stack, in one run: R; one worker's sustained throughput over N pre-loaded events
(and b/R); the plain-Faust peer on the same events; table restore after a restart with an empty
data dir; event->command latency at a share of b; two workers vs one; peak memory; `s2c replay`
over the same events. Prints a table and appends it to BENCHMARKS.md (or `--out`). Never fails
on a slow figure. On 2 cores the default takes ~3.5 minutes, `--quick` ~1.5; a throughput run
that stalls waits out `--run-timeout` (200 s, quick 90 s) and is reported as partial.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from s2c.streams.settings import REPO_ROOT

FULL = {"events": 20_000, "latency_seconds": 30.0, "run_timeout": 200.0}
QUICK = {"events": 6_000, "latency_seconds": 10.0, "run_timeout": 90.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a ~2 minute run: {QUICK['events']:,} events, "
        f"{QUICK['latency_seconds']:.0f} s of latency load",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"N pre-loaded events (default {FULL['events']:,}, ~60 s of one "
        "worker's work at the rate measured when the default was set)",
    )
    parser.add_argument(
        "--latency-fraction",
        type=float,
        default=0.5,
        help="latency load as a share of the measured one-worker rate",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=None,
        help=f"how long the paced producer runs (default "
        f"{FULL['latency_seconds']:.0f}, quick {QUICK['latency_seconds']:.0f})",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=None,
        help="give up on a throughput run after this long and report the "
        "partial rate (default 200 s, quick 90 s)",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "BENCHMARKS.md",
        help="markdown file the results are appended to",
    )
    parser.add_argument(
        "--keep-topics",
        action="store_true",
        help="leave the run's topics on the broker (deleted by default)",
    )


def run(args: argparse.Namespace) -> int:
    from s2c.streams.bench.report import Results, append, table
    from s2c.streams.bench.runner import Plan
    from s2c.streams.bench.runner import run as run_bench
    from s2c.streams.settings import Settings

    preset = QUICK if args.quick else FULL
    plan = Plan(
        events=args.events or preset["events"],
        latency_fraction=args.latency_fraction,
        latency_seconds=args.latency_seconds or preset["latency_seconds"],
        run_timeout=args.run_timeout or preset["run_timeout"],
        seed=args.seed,
        keep_topics=args.keep_topics,
    )
    settings = Settings.from_env().role_unless_given("admin")
    command = (
        "s2c " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("bench") :])
        if "bench" in sys.argv
        else "s2c bench"
    )
    results = Results(
        command,
        {
            "N events": f"{plan.events:,}",
            "partitions": str(settings.partitions),
            "latency load": f"{plan.latency_fraction:.0%} of b for {plan.latency_seconds:.0f} s",
            "seed": str(plan.seed),
            "broker": settings.kafka_bootstrap,
        },
    )
    run_dir = run_bench(plan, settings, results)
    results.notes.append(f"process logs: {run_dir}")
    print(table(results))
    append(args.out, results)
    print(f"s2c bench: results appended to {args.out}")
    return 0
