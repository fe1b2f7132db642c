"""The main job behind `s2c demo` / `make demo`: a synthetic day through the real pipeline.

Steps: fresh topics under a run prefix; the synthetic health system's master data, then its day of
events (with reschedules, cancellations, late and duplicate arrivals, denials, reversals) through
the schema registry onto Kafka; one or more `s2c worker` processes; wait until the outputs go quiet;
read every output topic back and print what happened in the words of the people who use it;
write those outputs as a replay-format folder and the HTML report of it (`s2c report`).
The summary is rendered in streams/demo_summary.py, the worker processes are handled in
streams/demo_workers.py (`--keep-worker` leaves them running, `--stop` stops them).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from s2c.streams.acls import grant_namespace
from s2c.streams.admin import create_topics
from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec
from s2c.streams.demo_erp import DemoErp
from s2c.streams.demo_outputs import live_tables, write_outputs
from s2c.streams.demo_summary import Workers, summary
from s2c.streams.demo_workers import (
    events_waiting,
    free_ports,
    record_kept,
    start_worker,
    stop_kept,
    wait_own_answer,
)
from s2c.streams.report_cli import write_report
from s2c.streams.settings import Settings
from s2c.streams.topics import Topics, declare


def _drain_outputs(
    settings: Settings,
    topics: Topics,
    codec: AvroCodec,
    quiet_seconds: float,
    workers: list[subprocess.Popen[bytes]],
    run_dir: Path,
    health: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Reads the output topics until nothing new arrived for `quiet_seconds` (after the first
    output) and no worker holds an event for its watermark (`health`: their /health/ addresses;
    the last events of the day wait there until every input partition has gone idle), failing
    loudly if a worker dies or nothing at all comes out within two minutes."""
    from confluent_kafka import Consumer

    names = {
        topics.commands.name: "commands",
        topics.sla_breaches.name: "breaches",
        topics.exceptions.name: "exceptions",
        topics.dlq.name: "dlq",
    }
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"{settings.app_id}-summary",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(list(names))
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in names.values()}
    last, seen = time.monotonic(), 0

    def quiet() -> bool:
        silent = time.monotonic() - last
        if silent < (quiet_seconds if seen else 120):
            return False
        if seen and any(events_waiting(url) != 0 for url in health):
            # still held: they come out once the watermarks pass them
            if silent < quiet_seconds + 60:
                return False
            print("s2c demo: events still wait for their watermark after 60 s; summary as is")
        return True

    while not quiet():
        dead = [i for i, proc in enumerate(workers) if proc.poll() is not None]
        if dead:
            raise SystemExit(
                f"s2c demo: worker {dead[0]} died; read {run_dir}/worker-{dead[0]}.log"
            )
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        last, seen = time.monotonic(), seen + 1
        kind = names[msg.topic()]
        out[kind].append(
            {"headers": dict(msg.headers() or [])}
            if kind == "dlq"
            else codec.decode(msg.value())[1]
        )
    consumer.close()
    return out


def stop_demo_workers() -> int:
    stopped = stop_kept(Settings.from_env())
    print(
        f"s2c demo: stopped kept worker(s) pid {', '.join(map(str, stopped))}"
        if stopped
        else "s2c demo: no kept workers running"
    )
    return 0


def first_unreachable(bootstrap: str, timeout: float = 3.0) -> str | None:
    """The first bootstrap address nothing listens on, else None: checked before anything is
    created, so a stopped stack is one line, not a client retrying for 30 s and a traceback."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            return address.strip()
    return None


def run_demo(args: argparse.Namespace) -> int:
    from s2c.streams.synth.kafka_out import default_codec, publish_events, publish_master
    from s2c.streams.synth.params import SynthParams
    from s2c.streams.synth.stream import generate

    if args.stop:
        return stop_demo_workers()
    stamp = time.strftime("%Y%m%d%H%M%S")
    base = Settings.from_env()
    unreachable = first_unreachable(base.kafka_bootstrap)
    if unreachable is not None:
        print(
            f"s2c demo: no Kafka broker answers on {unreachable}: start the local stack first "
            "('make stack-up', or 'make demo', which starts it)"
        )
        return 2
    settings = replace(base, topic_prefix=f"demo{stamp}", app_id=f"s2c-demo-{stamp}")
    # A worker kept by an earlier run holds its port: take the next free ones, before publishing.
    ports = free_ports(settings.host, settings.worker_web_port, args.workers)
    if ports[0] != settings.worker_web_port:
        print(
            f"s2c demo: web port {settings.worker_web_port} is in use (a kept worker? "
            f"'s2c demo --stop' stops those); the workers use {', '.join(map(str, ports))}"
        )
    run_dir = settings.data_dir / "demo" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    # On the secured stack (S2C_SECURE=1) each step runs as its role: the admin creates the
    # topics, grants this run's namespace, registers the schemas, loads the master data and reads
    # the outputs; ingest publishes the events; the workers run as the worker role.
    admin, ingest = settings.for_role("admin"), settings.for_role("ingest")
    create_topics(admin, declare(admin).all())
    grant_namespace(settings)
    synthesis = generate(SynthParams(seed=args.seed, sites=args.sites, scale=args.scale))
    codec = default_codec(admin)
    print(
        f"s2c demo: {args.sites} sites, {len(synthesis)} events planned; topics {settings.topic_prefix}.*"
        + (" (secured broker: SASL_SSL, one role per step)" if settings.secure else "")
    )
    publish_master(admin, synthesis.system, codec)
    # Register every event schema before the first event: registered one by one inside the
    # publishing loop, a fresh registry spread the day over ~16 s instead of ~0.3 s, and how the
    # events spread in time changes which deadlines fire (see README, "What the demo prints").
    # Every schema of the catalogue, in fact (the workers' outputs too): on the secured stack
    # workers and ingest may only look schemas up, the admin registers them.
    for name in load_catalog().names():
        codec.prepare(name)
    started = time.monotonic()
    workers = [start_worker(settings, run_dir, index, port) for index, port in enumerate(ports)]
    erp = DemoErp(settings, run_dir, SynthParams().start_date)
    try:
        erp.start()  # the reference ERP answers the run's commands (demo_erp.py)
        for index, (proc, port) in enumerate(zip(workers, ports)):
            wait_own_answer(
                f"http://{settings.host}:{port}/health/", proc, 90, run_dir / f"worker-{index}.log"
            )
        publish_events(ingest, synthesis, codec)
        print(f"s2c demo: events published; waiting for the pipeline (logs in {run_dir})")
        health = [f"http://{settings.host}:{port}/health/" for port in ports]
        outputs = _drain_outputs(
            admin, declare(admin), codec, args.quiet_seconds, workers, run_dir, health
        )
        elapsed = time.monotonic() - started - args.quiet_seconds
        worker_url = f"http://{settings.host}:{ports[0]}"
        reconciled = erp.reconcile(worker_url, len(outputs["commands"]))
    except BaseException:
        _stop(workers)
        erp.stop()
        raise
    erp.stop()
    if args.keep_worker:
        for proc in workers:
            record_kept(settings, proc)
    else:
        _stop(workers)
    print(
        summary(
            settings,
            synthesis.event_counts(),
            outputs,
            elapsed,
            Workers(ports=ports, pids=[p.pid for p in workers], kept=args.keep_worker),
        )
    )
    folder = write_outputs(outputs, run_dir / "outputs", live_tables(admin))
    title = f"the live demo run {stamp} (topics {settings.topic_prefix}.*)"
    for line in erp.lines(reconciled):
        print(line)
    mismatches = erp.report_path if reconciled is not None else None
    conformance = _conformance(settings, synthesis, folder, run_dir)
    report = write_report(folder, run_dir / "report.html", mismatches, conformance, title)
    print(f"s2c demo: report of this run: {report}")
    print(f"          (from the outputs read back, in replay's format: {folder})")
    return 0


def _conformance(settings: Settings, synthesis: Any, folder: Path, run_dir: Path) -> Path:
    """The run's OCEL 2.0 log (`<run>/ocel.json`, from the day's events and the live outputs)
    and `<run>/conformance.json`, with pm4py's token-based replay when pm4py is installed
    (`make install` installs it; it is a test dependency, never the pipeline's)."""
    import importlib.util

    from s2c.streams.idkey import id_key_of
    from s2c.streams.ocel_cli import CONFORMANCE_FILE, write_conformance
    from s2c.streams.synth.writer import write_events

    write_events(run_dir / "input", synthesis.events())
    check = importlib.util.find_spec("pm4py") is not None
    out = run_dir / "ocel.json"
    _, summary, _ = write_conformance(
        run_dir / "input" / "events.jsonl", folder, out, id_key_of(settings), check
    )
    shown = ", ".join(f"{k} {n}" for k, n in summary["deviations"].items()) or "none"
    fit = summary["pm4py"].get("appointment", {}).get("clean", {}).get("log_fitness")
    print(
        f"s2c demo: deviations from the reference path: {shown}; OCEL 2.0 log {out}"
        + (f" (pm4py: clean visits fit {fit})" if fit is not None else "")
    )
    return out.parent / CONFORMANCE_FILE


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
