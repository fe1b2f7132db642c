"""The main job behind `s2c demo` / `make demo`: a synthetic day through the real pipeline.

Steps: fresh topics under a run prefix; the synthetic health system's master data, then its day of
events (with reschedules, cancellations, late and duplicate arrivals, denials, reversals) through
the schema registry onto Kafka; one or more `s2c worker` processes; wait until the outputs go quiet;
read every output topic back and print what happened in the words of the people who use it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from s2c.streams.admin import create_topics
from s2c.streams.codec import AvroCodec
from s2c.streams.settings import Settings
from s2c.streams.topics import Topics, declare


def _start_worker(settings: Settings, run_dir: Path, index: int, port: int) -> subprocess.Popen:
    env = dict(os.environ, S2C_TOPIC_PREFIX=settings.topic_prefix, S2C_APP_ID=settings.app_id,
               S2C_WORKER_DIR=str(run_dir / f"worker-{index}"), S2C_WORKER_WEB_PORT=str(port))
    log = open(run_dir / f"worker-{index}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "s2c.streams.cli", "worker"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"s2c demo: the worker exited ({proc.returncode}); read {log}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"s2c demo: the worker did not answer on {url}; read {log}")


def _drain_outputs(settings: Settings, topics: Topics, codec: AvroCodec, quiet_seconds: float,
                   workers: list[subprocess.Popen], run_dir: Path) -> dict[str, list[dict]]:
    """Reads the output topics until nothing new arrived for `quiet_seconds` (after the first
    output), failing loudly if a worker dies or nothing at all comes out within two minutes."""
    from confluent_kafka import Consumer

    names = {topics.commands.name: "commands", topics.sla_breaches.name: "breaches",
             topics.exceptions.name: "exceptions", topics.dlq.name: "dlq"}
    consumer = Consumer({**settings.confluent_config(), "group.id": f"{settings.app_id}-summary",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(list(names))
    out: dict[str, list[dict]] = {kind: [] for kind in names.values()}
    last, seen = time.monotonic(), 0
    while time.monotonic() - last < (quiet_seconds if seen else 120):
        dead = [i for i, proc in enumerate(workers) if proc.poll() is not None]
        if dead:
            raise SystemExit(f"s2c demo: worker {dead[0]} died; read {run_dir}/worker-{dead[0]}.log")
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        last, seen = time.monotonic(), seen + 1
        kind = names[msg.topic()]
        out[kind].append({"headers": dict(msg.headers() or [])} if kind == "dlq"
                         else codec.decode(msg.value())[1])
    consumer.close()
    return out


def _summary(settings: Settings, events: Counter, outputs: dict[str, list[dict]],
             seconds: float, ports: list[int]) -> str:
    commands = outputs["commands"]
    by_type = Counter(c["header"]["command_type"] for c in commands)
    debit = credit = Decimal(0)
    kinds: Counter = Counter()
    for c in commands:
        for line in c.get("lines") or ():
            if "debit" in line:  # journal lines (labour plans carry hours, not money)
                debit += line["debit"]
                credit += line["credit"]
        if c["header"]["command_type"] == "PostJournal":
            kinds[c["journal_kind"]] += c["amount"]
    reversals = sum(1 for c in commands if c["header"]["reverses_command_id"])
    lines = [
        "", "s2c demo: one synthetic day through the pipeline", "=" * 50,
        f"events in:    {sum(events.values()):>8}   ({len(events)} event types)",
        f"commands out: {len(commands):>8}   ({reversals} of them reverse an earlier command)",
        f"exceptions:   {len(outputs['exceptions']):>8}   SLA breaches: {len(outputs['breaches'])}"
        f"   dead letters: {len(outputs['dlq'])}",
        f"wall time:    {seconds:>8.1f} s  ({sum(events.values()) / max(seconds, 1e-9):,.0f} events/s end to end)",
        "", "ERP commands by type:"]
    lines += [f"  {name:24} {count:>7}" for name, count in sorted(by_type.items())]
    lines += ["", "journals (USD):"]
    lines += [f"  {kind:24} {amount:>14,.2f}" for kind, amount in sorted(kinds.items())]
    lines.append(f"  ledger check: debits {debit:,.2f} = credits {credit:,.2f}  "
                 f"{'balanced' if debit == credit else 'NOT BALANCED'}")
    lines += ["", "work-queue exceptions:"]
    lines += [f"  {k:24} {n:>7}" for k, n in sorted(Counter(
        e["kind"] for e in outputs["exceptions"]).items())] or ["  none"]
    lines += ["", "SLA breaches:"]
    lines += [f"  {k:34} {n:>7}" for k, n in sorted(Counter(
        b["sla"] for b in outputs["breaches"]).items())] or ["  none"]
    topics = declare(settings)
    lines += ["", "where to look:",
              f"  commands topic     {topics.commands.name}",
              f"  exceptions topic   {topics.exceptions.name} (work queues), SLA: {topics.sla_breaches.name}",
              f"  dead letters       {topics.dlq.name}  (S2C_TOPIC_PREFIX={settings.topic_prefix} s2c dlq list)",
              "  worker metrics     " + ", ".join(f"http://{settings.host}:{p}/metrics" for p in ports),
              f"  Prometheus         http://{settings.host}:{settings.prometheus_port}/graph?g0.expr=s2c_commands_out_total",
              f"  schema registry    {settings.registry_url}/subjects",
              "  stop the stack     make stack-down", ""]
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    from s2c.streams.synth.kafka_out import default_codec, publish_events, publish_master
    from s2c.streams.synth.params import SynthParams
    from s2c.streams.synth.stream import generate

    stamp = time.strftime("%Y%m%d%H%M%S")
    base = Settings.from_env()
    settings = replace(base, topic_prefix=f"demo{stamp}", app_id=f"s2c-demo-{stamp}")
    run_dir = settings.data_dir / "demo" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    create_topics(settings, declare(settings).all())
    synthesis = generate(SynthParams(seed=args.seed, sites=args.sites, scale=args.scale))
    codec = default_codec(settings)
    print(f"s2c demo: {args.sites} sites, {len(synthesis)} events planned; topics {settings.topic_prefix}.*")
    publish_master(settings, synthesis.system, codec)
    started = time.monotonic()
    workers, ports = [], []
    for index in range(args.workers):
        port = settings.worker_web_port + index
        workers.append(_start_worker(settings, run_dir, index, port))
        ports.append(port)
    try:
        for proc, port in zip(workers, ports):
            _wait_http(f"http://{settings.host}:{port}/metrics", proc, 90,
                       run_dir / f"worker-{ports.index(port)}.log")
        publish_events(settings, synthesis, codec)
        print(f"s2c demo: events published; waiting for the pipeline (logs in {run_dir})")
        outputs = _drain_outputs(settings, declare(settings), codec, args.quiet_seconds, workers,
                                 run_dir)
        elapsed = time.monotonic() - started - args.quiet_seconds
    finally:
        if not args.keep_worker:
            for proc in workers:
                proc.terminate()
            for proc in workers:
                proc.wait(30)
    print(_summary(settings, synthesis.event_counts(), outputs, elapsed, ports))
    return 0
