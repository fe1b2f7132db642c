"""`s2c worker`: run one pipeline worker (Faust, aiokafka transport, RocksDB tables).

Settings come from S2C_* environment variables (see streams/settings.py). If the local stack's
Prometheus target folder exists, the worker registers its /metrics endpoint there.
"""

from __future__ import annotations

import argparse
import atexit
import json
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", default="warning", help="Faust log level")


def _register_scrape_target(settings: object) -> None:
    target_dir = settings.data_dir / "prometheus" / "targets"  # type: ignore[attr-defined]
    if target_dir.is_dir():
        target = f"{settings.host}:{settings.worker_web_port}"  # type: ignore[attr-defined]
        path = target_dir / f"worker-{settings.worker_web_port}.json"  # type: ignore[attr-defined]
        path.write_text(json.dumps([{"targets": [target], "labels": {"app": "s2c"}}]))
        atexit.register(path.unlink, missing_ok=True)


def copartitioning_problem(settings: object, wait_seconds: float = 15.0) -> str | None:
    """Tables are co-partitioned with the topics that feed them: every keyed pipeline topic must
    exist with exactly `S2C_PARTITIONS` partitions, or the worker refuses to start. Missing topics
    are looked for again for `wait_seconds`: right after a broker starts, its metadata can lack
    topics just created (seen when a worker started seconds after `s2c topics create`)."""
    from s2c.streams.admin import partition_counts
    from s2c.streams.topics import declare

    topics = declare(settings)  # type: ignore[arg-type]
    keyed = [topics.events.name, topics.link.name, topics.process.name]
    deadline = time.monotonic() + wait_seconds
    while True:
        counts = partition_counts(settings, keyed)  # type: ignore[arg-type]
        missing = [name for name in keyed if name not in counts]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if missing:
        return f"topics {', '.join(missing)} do not exist: run 's2c topics create' first"
    wrong = {n: c for n, c in counts.items() if c != settings.partitions}  # type: ignore[attr-defined]
    if wrong:
        return (f"co-partitioning broken: tables expect {settings.partitions} partitions "  # type: ignore[attr-defined]
                f"but {', '.join(f'{n} has {c}' for n, c in wrong.items())}")
    return None


def run(args: argparse.Namespace) -> int:
    from s2c.streams.app import create_app, service_worker
    from s2c.streams.topology import build_pipeline
    from s2c.streams.settings import Settings

    settings = Settings.from_env()
    problem = copartitioning_problem(settings)
    if problem:
        print(f"s2c worker: {problem}", file=sys.stderr)
        return 2
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    app, metrics = create_app(settings)
    build_pipeline(app, metrics, settings)
    _register_scrape_target(settings)
    service_worker(app, args.loglevel).execute_from_commandline()
    return 0
