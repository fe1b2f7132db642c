"""`s2c stack start|stop|status [service ...]`: the local stack, via deploy/local/stack."""

from __future__ import annotations

import argparse
import subprocess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help="kafka, registry or prometheus (default: all)",
    )


def run(args: argparse.Namespace) -> int:
    from s2c.streams.settings import REPO_ROOT

    script = REPO_ROOT / "deploy" / "local" / "stack"
    return subprocess.run([str(script), args.action, *args.services]).returncode
