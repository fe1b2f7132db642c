"""`s2c demo`: the main job. On the running local stack: create a fresh set of topics, publish a
synthetic health system's master data and a day of events, run a pipeline worker over them, and
print a summary a person can read (events in, commands out, ledger totals, exceptions, where to look).

Each run uses its own topic prefix (`demo<YYYYmmddHHMMSS>`), so runs never mix. `--keep-worker`
leaves the workers running (their pids recorded in `.s2c/pids/`); `s2c demo --stop` or
`make stack-down` stops them.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sites", type=int, default=3, help="hospitals in the synthetic system")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="share of a full day's volume (1.0 = ~790 episodes per site)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--keep-worker",
        action="store_true",
        help="leave the workers running (stop them with 's2c demo --stop')",
    )
    parser.add_argument(
        "--stop", action="store_true", help="stop the workers earlier runs kept, and nothing else"
    )
    parser.add_argument(
        "--quiet-seconds",
        type=float,
        default=6.0,
        help="stop waiting once no output arrived for this long",
    )


def run(args: argparse.Namespace) -> int:
    from s2c.streams.demo import run_demo

    return run_demo(args)
