"""`s2c verify`: is the live pipeline what `s2c replay` says it should be? On the running local
stack: publish a workload to a fresh namespace, run it through live workers (optionally under
faults: kill -9 of random workers, a broker restart, a worker added and one removed), wait until
the pipeline is drained, read every output topic back and compare it, by id, with `s2c replay` of
the same input at the same allowed lateness.

The workload is generated (`--sites`, `--scale`, `--seed`: the generator of `s2c generate`) or
given (`--events FILE --master-data DIR`, as `s2c replay` takes them). `--poison FRACTION` mixes
the bad records of `s2c generate --poison` into a generated workload: each must reach the
dead-letter topic with its reason (a resent event id: be dropped), and the good events' outputs
must equal replay of the good events. Differences on instances
that an event later than the allowed lateness touched are allowed by the README's rule ("When live
equals replay") and reported apart.

Exit status: 0 live equals replay; 1 a difference the rule does not allow; 2 no verdict (bad
input, a worker exited on its own, the pipeline did not drain within --timeout).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    work = parser.add_argument_group("workload (generated unless --events is given)")
    work.add_argument("--sites", type=int, default=1, help="hospitals in the synthetic system")
    work.add_argument("--scale", type=float, default=0.1, help="share of a full day's volume")
    work.add_argument("--seed", type=int, default=7, help="generator seed")
    work.add_argument(
        "--poison",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="mix bad records into the generated workload (s2c generate --poison); every one "
        "must be dead-lettered with its reason, and the good events' outputs equal their replay",
    )
    work.add_argument("--events", type=Path, metavar="FILE", help="JSON Lines events file")
    work.add_argument(
        "--master-data", "--master", type=Path, metavar="DIR", help="master-data folder"
    )
    live = parser.add_argument_group("live run")
    live.add_argument("--workers", type=int, default=2, help="worker processes")
    live.add_argument("--kills", type=int, default=0, metavar="N", help="kill -9 of random workers")
    live.add_argument("--broker-restart", action="store_true", help="stop and start Kafka once")
    live.add_argument(
        "--add-remove", action="store_true", help="add a worker mid-run, then remove one"
    )
    live.add_argument(
        "--fault-window",
        type=float,
        default=None,
        metavar="S",
        help="seconds after publication over which faults fall (default: ~1 s per 1,000 events, "
        "at least 10)",
    )
    live.add_argument("--fault-seed", type=int, default=None, help="seed of the fault times")
    live.add_argument(
        "--deadline-grace-hours",
        type=float,
        default=None,
        metavar="H",
        help="allowed lateness for the workers and the replay (default S2C_DEADLINE_GRACE_HOURS)",
    )
    live.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the pipeline to drain"
    )
    live.add_argument(
        "--quiet-seconds",
        type=float,
        default=5.0,
        help="drained: no input lag, and no output for this long",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's topics and folders (kept anyway when the verdict is not equal)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")


def run(args: argparse.Namespace) -> int:
    import random

    from s2c.streams.verify.live import NotJudged
    from s2c.streams.verify.run import run_verify

    if (args.events is None) != (args.master_data is None):
        print("s2c verify: --events and --master-data go together")
        return 2
    if args.poison and args.events is not None:
        print("s2c verify: --poison mixes bad records into a generated workload, not into --events")
        return 2
    if not 0 <= args.poison < 1:
        print(f"s2c verify: --poison must be a fraction in [0, 1), not {args.poison}")
        return 2
    if args.fault_seed is None:
        args.fault_seed = random.randrange(1_000_000)
    try:
        return run_verify(args)
    except NotJudged as stop:
        print(stop.code)
        return 2
