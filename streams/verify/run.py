"""The main job behind `s2c verify`: one workload through live workers and through replay, judged.

Steps: a fresh namespace (`verify<stamp>.*`, app id `s2c-verify-<stamp>`); the workload's master
data and events published in file order; the workers started and, once the last event is out, the
faults; the wait until drained; the outputs read back; the same files replayed in process with the
workers' allowed lateness, the input's late events found on the way; the comparison printed (and
written as JSON); the namespace deleted unless `--keep`. With poison, the bad records go out among
the events, replay skips them, and the dead letters are matched to them (poisoncheck.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import time
from array import array
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.verify.compare import judge
from s2c.streams.verify.faults import FaultLog, FaultPlan, inflict
from s2c.streams.verify.lateness import Lateness
from s2c.streams.verify.live import Fleet, pending, wait_drained
from s2c.streams.verify.poisoncheck import check
from s2c.streams.verify.readback import read_outputs, remove_namespace
from s2c.streams.verify.report import figures, render
from s2c.streams.verify.workload import Workload, generated, given, publish, take_large_records
from s2c.tables.ids import IdKey
from s2c.tables.plausible import Limits

PROCESS_IDS = ("APPT-", "CASE-", "ENC-")  # the touched keys that are instances, not accounts


def replay_with_lateness(
    workload: Workload,
    partitions: array[int] | None,
    ids: IdKey,
    grace: timedelta,
    limits: Limits,
    clock: datetime | None,
) -> tuple[dict[str, list[dict[str, Any]]], Lateness, dict[str, str | None], list[str]]:
    """Replay's outputs as records (of the good events: poison lines are skipped), the input's
    late events, replay's final links and the reasons of the lines it refused (as `s2c replay`:
    not an event, or implausible against its stream time and `clock`, the wall clock the workers
    judged by)."""
    from s2c.tables.events import Event
    from s2c.tables.master import load_master_dir
    from s2c.tables.outputs import Command, SlaBreached, WorkQueueException
    from s2c.tables.plausible import refusal
    from s2c.tables.replay import Pipeline
    from s2c.tables.replay_input import MasterDelete, MasterLine, read_events

    pipeline = Pipeline(load_master_dir(workload.master), ids, grace)
    lateness = Lateness(grace, ids)
    out: dict[str, list[dict[str, Any]]] = {"commands": [], "exceptions": [], "breaches": []}
    families = (
        (Command, "commands"),
        (WorkQueueException, "exceptions"),
        (SlaBreached, "breaches"),
    )
    refused: list[str] = []
    for index, (number, _, event) in enumerate(read_events(workload.events)):
        if number in workload.poison:  # replay of the good events only
            continue
        if isinstance(event, MasterLine | MasterDelete):  # refused up front (workload.given)
            raise SystemExit(f"s2c verify: line {number} is a master record")
        if not isinstance(event, Event):
            refused.append(event.reason)
            continue
        if (no := refusal(event, pipeline.stream_time, clock, limits)) is not None:
            refused.append(no.reason)
            continue
        lateness.observe(event, partitions[index] if partitions is not None else None)
        for item in pipeline.feed(event):
            for cls, name in families:
                if isinstance(item, cls):
                    out[name].append(item.to_record())
    links = {key: link.process_id for key, link in pipeline.links.items()}
    return out, lateness, links, refused


def _commit() -> str:
    from s2c.streams.settings import REPO_ROOT

    done = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"


def run_verify(args: argparse.Namespace) -> int:
    from s2c.streams.acls import grant_namespace
    from s2c.streams.admin import create_topics
    from s2c.streams.catalog import load_catalog
    from s2c.streams.demo_workers import free_ports
    from s2c.streams.idkey import id_key_of
    from s2c.streams.synth.kafka_out import default_codec
    from s2c.streams.topics import declare

    commit = _commit()  # first thing: the code this run loaded, before anyone commits more
    # the second and a random tail: two runs started in the same second never share a namespace
    stamp = f"{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(2)}"
    base = Settings.from_env()
    settings = replace(base, topic_prefix=f"verify{stamp}", app_id=f"s2c-verify-{stamp}")
    grace_hours = (
        base.deadline_grace_hours
        if args.deadline_grace_hours is None
        else args.deadline_grace_hours
    )
    run_dir = settings.data_dir / "verify" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.events is not None:
        workload = given(args.events, args.master_data)
    else:
        workload = generated(run_dir / "input", args.sites, args.scale, args.seed, args.poison)
    admin = settings.for_role("admin")
    create_topics(admin, declare(admin).all())
    if workload.poison:
        take_large_records(admin)
    grant_namespace(settings)
    codec = default_codec(admin)
    for name in load_catalog().names():  # every schema before the first event, as the demo does
        codec.prepare(name)
    slots = args.workers + (1 if args.add_remove else 0)
    ports = free_ports(settings.host, settings.worker_web_port, slots)
    # No ERP runs in a verify: an ack wait inherited from the shell would only raise
    # ERP_UNSYNCHRONIZED for every command (set aside by the comparison anyway).
    fleet = Fleet(
        settings,
        run_dir,
        ports,
        {"S2C_DEADLINE_GRACE_HOURS": str(grace_hours), "S2C_ERP_ACK_WAIT": ""},
    )
    print(
        f"s2c verify: {workload.described}; {args.workers} worker(s), allowed lateness "
        f"{grace_hours:g} h; topics {settings.topic_prefix}.*; logs in {run_dir}"
    )
    started = time.monotonic()
    try:
        landed = publish(admin, workload, codec)
        for slot in range(args.workers):
            fleet.start(slot)
        published = time.monotonic()
        records = len(landed.partitions)
        print(
            f"s2c verify: {records - len(workload.poison):,} events"
            + (f" and {len(workload.poison):,} bad records" if workload.poison else "")
            + " published; workers running"
        )
        window = args.fault_window or max(10.0, records / 1000)
        plan = FaultPlan(args.kills, args.broker_restart, args.add_remove, window, args.fault_seed)
        faults = None
        if plan.any:
            faults = inflict(plan, fleet, lambda: pending(admin), spare_slot=args.workers)
            for line in faults.lines:
                print(f"  fault {line}")
        drained = wait_drained(settings, fleet, args.timeout, args.quiet_seconds)
        live_seconds = time.monotonic() - published
        print(f"s2c verify: drained ({drained:.1f} s of waiting); reading the outputs back")
        fleet.stop_all()
        live, letters = read_outputs(admin, codec)
    except BaseException:
        fleet.stop_all()
        raise
    replay_started = time.monotonic()
    replayed, lateness, links, refused = replay_with_lateness(
        workload,
        landed.partitions,
        id_key_of(settings),
        timedelta(hours=grace_hours),
        settings.plausibility,
        datetime.now(UTC),  # the workers judged by their clock, within minutes of this one
    )
    replay_seconds = time.monotonic() - replay_started
    poison = None
    if workload.poison:
        poison = check(
            declare(admin).events.name,
            landed.records(workload.poison),
            landed.refused,
            letters,
        )
        letters = poison.unmatched
    reasons = [letter.reason for letter in letters]
    verdict = judge(live, replayed, reasons, lateness.rule(links), refused, poison)
    run = _run_figures(args, workload, lateness, links, faults, grace_hours)
    run.update(
        live_seconds=round(live_seconds, 1),
        replay_seconds=round(replay_seconds, 1),
        wall_seconds=round(time.monotonic() - started, 1),
        commit=commit,
        namespace=settings.topic_prefix,
    )
    header = _header(run, workload)
    print(render(verdict, header))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures(verdict, run), indent=2) + "\n")
        print(f"figures written to {args.json}")
    if args.keep or not verdict.equal:  # a difference is kept to be looked into
        print(f"kept: topics {settings.topic_prefix}.*, worker folders in {run_dir}")
    else:
        removed = remove_namespace(admin)
        for slot in range(len(ports)):
            shutil.rmtree(run_dir / f"worker-{slot}", ignore_errors=True)
        print(f"removed {len(removed)} topics of {settings.topic_prefix} and the worker folders")
    return 0 if verdict.equal else 1


def _run_figures(
    args: argparse.Namespace,
    workload: Workload,
    lateness: Lateness,
    links: dict[str, str | None],
    faults: FaultLog | None,
    grace_hours: float,
) -> dict[str, Any]:
    touched = lateness.touched(links)
    return {
        "workload": workload.described,
        "events": lateness.events,
        "workers": args.workers,
        "kills": faults.kills if faults else 0,
        "kills_mid_stream": faults.kills_mid_stream if faults else 0,
        "broker_restarts": faults.broker_restarts if faults else 0,
        "workers_added": faults.added if faults else 0,
        "workers_removed": faults.removed if faults else 0,
        "fault_seed": args.fault_seed,
        "poison_fraction": args.poison,
        "poison_records": len(workload.poison),
        "allowed_lateness_hours": grace_hours,
        "late_events": lateness.late_events,
        "late_on_own_partition": lateness.late_on_partition,
        "behind_within_lateness": lateness.behind,
        "most_late_hours": round(lateness.most_late.total_seconds() / 3600, 2),
        "instances_touched_by_late_events": sum(1 for k in touched if k.startswith(PROCESS_IDS)),
        "machine": f"{platform.node()} ({os.cpu_count() or 1} cores)",
    }


def _header(run: dict[str, Any], workload: Workload) -> list[str]:
    return [
        "",
        "s2c verify: live pipeline against s2c replay of the same input",
        "=" * 66,
        f"input            {workload.described}",
        f"live             {run['workers']} worker(s); {run['kills']} kill -9 "
        f"({run['kills_mid_stream']} mid-stream), {run['broker_restarts']} broker restart(s), "
        f"{run['workers_added']} added / {run['workers_removed']} removed; "
        f"{run['live_seconds']:.1f} s",
        f"replay           in process, {run['replay_seconds']:.1f} s",
        f"late events      {run['late_events']:,} later than {run['allowed_lateness_hours']:g} h "
        f"behind stream time ({run['late_on_own_partition']:,} also on their own partition; "
        f"the latest {run['most_late_hours']} h)"
        + (
            f", {run['behind_within_lateness']:,} on time but behind it"
            if run["allowed_lateness_hours"]
            else ""
        )
        + f", touching {run['instances_touched_by_late_events']:,} instances",
        f"commit           {run['commit']} on {run['machine']}",
    ]
