"""`s2c worker`: run one pipeline worker (Faust, aiokafka transport, RocksDB tables).

Settings come from S2C_* environment variables (see streams/settings.py). If the local stack's
Prometheus target folder exists, the worker registers its /metrics endpoint there (see
streams/scrape_targets.py), after removing the targets of workers that are gone.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import os
import socket
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", default="warning", help="Faust log level")


def _register_scrape_target(settings: object) -> None:
    from s2c.streams.scrape_targets import remove_stale_targets, target_dir, write_target

    directory = target_dir(settings.data_dir)  # type: ignore[attr-defined]
    if directory.is_dir():
        remove_stale_targets(directory, settings.host)  # type: ignore[attr-defined]
        path = write_target(
            directory,
            settings.host,
            settings.worker_web_port,  # type: ignore[attr-defined]
            os.getpid(),
        )
        atexit.register(path.unlink, missing_ok=True)


def web_port_problem(host: str, port: int) -> str | None:
    """The web port must be free before the worker joins its group: Faust binds it only after
    starting the consumer, and a worker that then dies on a busy port has already rebalanced
    its group (and used to delete the other worker's scrape target)."""
    with socket.socket() as sock:
        # as aiohttp binds: connections of an earlier worker in TIME_WAIT do not count as busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            return (
                f"web port {host}:{port} is in use (another worker, e.g. one kept by "
                f"'s2c demo --keep-worker'?): set S2C_WORKER_WEB_PORT to a free port"
            )
    return None


def copartitioning_problem(settings: object, wait_seconds: float = 15.0) -> str | None:
    """Tables are co-partitioned with the topics that feed them: every keyed pipeline topic must
    exist with exactly `S2C_PARTITIONS` partitions, or the worker refuses to start. Missing topics
    are looked for again for `wait_seconds`: right after a broker starts, its metadata can lack
    topics just created (seen when a worker started seconds after `s2c topics create`)."""
    from s2c.streams.admin import partition_counts
    from s2c.streams.topics import declare

    topics = declare(settings)  # type: ignore[arg-type]
    keyed = [
        topics.events.name,
        topics.link.name,
        topics.process.name,
        topics.commands.name,  # read back with the ERP's acks by the ERP status keeper
        topics.erp_acks.name,
    ]
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
        return (
            f"co-partitioning broken: tables expect {settings.partitions} partitions "  # type: ignore[attr-defined]
            f"but {', '.join(f'{n} has {c}' for n, c in wrong.items())}"
        )
    return None


def run(args: argparse.Namespace) -> int:
    from s2c.streams.admin import access_problem
    from s2c.streams.app import create_app, service_worker
    from s2c.streams.logthrottle import install_broker_log_throttle
    from s2c.streams.settings import Settings
    from s2c.streams.topology import build_pipeline

    settings = Settings.from_env().role_unless_given("worker")
    problem = (
        web_port_problem(settings.host, settings.worker_web_port)
        or access_problem(settings)
        or copartitioning_problem(settings)
    )
    if problem:
        print(f"s2c worker: {problem}", file=sys.stderr)
        return 2
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    app, metrics = create_app(settings)
    build_pipeline(app, metrics, settings)
    install_broker_log_throttle()
    _register_scrape_target(settings)
    service_worker(app, args.loglevel).execute_from_commandline()
    return 0
