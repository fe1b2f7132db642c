"""The run behind `s2c bench`: every figure in one go on the same broker, in an order that
gives each measured process the machine to itself.

R -> plain Faust peer -> one worker -> restore (same worker, data dir deleted) -> latency (the
restored worker) -> two workers (fresh prefix) -> s2c replay. A figure that cannot be measured
is reported as n/a with the reason and the run goes on; nothing here fails on a slow figure.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2c.streams.bench import data, latency, pipeline, raw, replay, restore
from s2c.streams.bench.report import DAY_EVENTS, Results
from s2c.streams.settings import Settings
from s2c.streams.synth.kafka_out import default_codec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    events: int
    latency_fraction: float
    latency_seconds: float
    run_timeout: float
    seed: int
    keep_topics: bool


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base else "n/a"


def _attempt(results: Results, name: str, step: Callable[[], Any]) -> Any:
    """Runs one measurement; a failure becomes an n/a figure and a note, never an abort."""
    from confluent_kafka import KafkaException

    try:
        return step()
    except (RuntimeError, OSError, ValueError, KafkaException, subprocess.SubprocessError) as exc:
        log.warning("bench: %s not measured: %s", name, exc)
        results.missing(name, type(exc).__name__)
        results.notes.append(f"{name}: {exc}")
        return None


def run(plan: Plan, base: Settings, results: Results) -> Path:
    """Measures everything into `results`; returns the folder holding the processes' logs."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    run_dir = base.data_dir / "bench" / stamp
    synthesis = data.synthesis_for(plan.events, plan.seed)
    one = data.new_namespace(base, stamp, "one")
    codec = default_codec(one.settings)
    n, publish_s = data.load(one, synthesis, codec)
    log.info("bench: %d events on %s (%.1f s to publish)", n, one.topics.events.name, publish_s)
    namespaces = [one]
    try:
        _measure(plan, base, results, stamp, run_dir, synthesis, one, codec, namespaces)
    finally:
        for ns in namespaces if not plan.keep_topics else []:
            _attempt(
                results,
                f"cleanup of {ns.settings.topic_prefix}",
                lambda ns=ns: data.delete_namespace(ns),
            )
        for folder in run_dir.glob("**/*-data"):
            shutil.rmtree(folder, ignore_errors=True)
    return run_dir


def _measure(
    plan: Plan,
    base: Settings,
    results: Results,
    stamp: str,
    run_dir: Path,
    synthesis: Any,
    one: data.Namespace,
    codec: Any,
    namespaces: list[data.Namespace],
) -> None:
    n = plan.events
    r = _attempt(
        results,
        "R, raw consume+decode",
        lambda: raw.measure(one.settings, one.topics.events.name, n),
    )
    rate_r = r.events_per_s if r else 0.0
    if r:
        results.add("R, raw consume+decode", f"{rate_r:,.0f} ev/s")
    peer = _attempt(
        results,
        "plain Faust peer",
        lambda: pipeline.measure_peer(one, n, run_dir / "peer", plan.run_timeout),
    )
    single = _attempt(
        results,
        "one worker, sustained",
        lambda: pipeline.measure_workers(one, 1, n, run_dir / "one", plan.run_timeout, keep=True),
    )
    b = single.finish.events_per_s if single else 0.0
    if single:
        results.add("one worker, sustained (b)", f"{b:,.0f} ev/s" + _partial(single.finish))
        results.add("b / R", _ratio(b, rate_r), ">= 0.35", b >= 0.35 * rate_r if rate_r else None)
        results.add(
            "commands out (one worker)",
            f"{single.commands:,}; the worker's own s2c_events_in_total: {single.events_in:,.0f}",
        )
    if peer:
        p = peer.send_rate
        results.add(
            "plain Faust peer",
            f"{p:,.0f} ev/s (first to last send of {peer.sent:,}; "
            f"commit clock {peer.finish.events_per_s:,.0f})" + _partial(peer.finish),
        )
        results.add("peer / R", _ratio(p, rate_r))
        results.add("gain: one worker / peer", _ratio(b, p) if single else "n/a")
    if single:
        _restore_and_latency(plan, results, synthesis, one, codec, single, b, rate_r)
    two = _attempt(
        results,
        "two workers",
        lambda: _two_workers(plan, base, stamp, run_dir, synthesis, codec, namespaces),
    )
    if two:
        t = two.finish.events_per_s
        results.add("two workers, sustained", f"{t:,.0f} ev/s" + _partial(two.finish))
        results.add("two / one worker", _ratio(t, b), ">= 1.7", t >= 1.7 * b if b else None)
    for rate, label in ((b, "one worker"), (two.finish.events_per_s if two else 0.0, "two")):
        if rate:
            seconds = DAY_EVENTS / rate
            results.add(
                f"40-hospital day, 3M events ({label}, projected)",
                f"{seconds:,.0f} s",
                "<= 180 s",
                seconds <= 180,
            )
    _memory(results, single, two, peer)
    _logged_errors(results, single, two, peer)
    rep = _attempt(results, "s2c replay", lambda: replay.measure(synthesis))
    if rep:
        results.add("s2c replay (pure core)", f"{rep.events_per_s:,.0f} ev/s")
        results.add(
            "replay / R",
            _ratio(rep.events_per_s, rate_r),
            ">= 1",
            rep.events_per_s >= rate_r if rate_r else None,
        )


def _partial(finish: Any) -> str:
    if finish.done:
        return ""
    return (
        f" (timed out: {finish.processed:,}/{finish.expected:,} events committed; "
        f"behind: {finish.behind or 'none'})"
    )


def _restore_and_latency(
    plan: Plan,
    results: Results,
    synthesis: Any,
    one: data.Namespace,
    codec: Any,
    single: pipeline.Run,
    b: float,
    rate_r: float,
) -> None:
    probe = next(data.encoded(data.fresh_synthesis(synthesis, 1, 1), codec, _now_ms))[:2]
    restored = _attempt(
        results, "restore", lambda: restore.restart_empty(one, single.processes[0], probe)
    )
    if restored is None:
        single.processes[0].stop()
        return
    figures, proc = restored
    rec = figures.recovery_rate
    results.add("changelog records restored", f"{figures.records:,}")
    results.add(
        "restore, recovery phase (log)",
        f"{rec:,.0f} rec/s in {figures.recovery_seconds:.2f} s" if rec else "n/a",
        ">= 0.5 x R",
        rec >= 0.5 * rate_r if rec and rate_r else None,
    )
    results.add("restore / R", _ratio(rec or 0.0, rate_r))
    results.add(
        "restart to serving a new event",
        f"{figures.serving_seconds:.1f} s ({figures.serving_rate:,.0f} rec/s; "
        f"/metrics after {figures.web_seconds:.1f} s)",
    )
    rate = max(plan.latency_fraction * b, 1.0)
    count = math.ceil(rate * plan.latency_seconds) + 10
    events = data.encoded(data.fresh_synthesis(synthesis, count, 2), codec, _now_ms)
    lat = _attempt(
        results, "latency", lambda: latency.measure(one, events, rate, plan.latency_seconds)
    )
    proc.stop()
    if lat:
        share = f"{plan.latency_fraction:.0%} of b = {rate:,.0f} ev/s"
        results.add(
            "latency load",
            f"{share}; sent {lat.events:,} at {lat.achieved_rate:,.0f} "
            f"ev/s, {lat.matched:,} with a command",
        )
        for label, value, limit in (
            ("p50", lat.p50_ms, 10.0),
            ("p95", lat.p95_ms, None),
            ("p99", lat.p99_ms, 50.0),
        ):
            met = None if value is None or limit is None else value <= limit
            results.add(
                f"latency event->command {label}",
                _ms(value),
                f"<= {limit:.0f} ms" if limit else "",
                met,
            )
        results.add(
            "latency floor: same harness, events read back",
            f"p50 {_ms(lat.floor_p50_ms)}, p99 {_ms(lat.floor_p99_ms)}",
        )
    results.add("peak memory, restarted worker", f"{proc.peak_kib / 1024:,.0f} MiB")


def _logged_errors(results: Results, single: Any, two: Any, peer: Any) -> None:
    for label, run in (("one worker", single), ("two workers", two), ("peer", peer)):
        for proc in run.processes if run else []:
            if proc.errors:
                results.notes.append(
                    f"{label}: {len(proc.errors)} ERROR lines in "
                    f"{proc.log_path}, first: {proc.errors[0]}"
                )


def _ms(value: float | None) -> str:
    return f"{value:,.0f} ms" if value is not None else "n/a"


def _two_workers(
    plan: Plan,
    base: Settings,
    stamp: str,
    run_dir: Path,
    synthesis: Any,
    codec: Any,
    namespaces: list[data.Namespace],
) -> pipeline.Run:
    two = data.new_namespace(base, stamp, "two")
    namespaces.append(two)
    data.load_master(two, synthesis, codec)
    # Events are published once both workers are in the group: pre-loaded, the first worker to
    # join would start alone and a rebalance would hand half its partitions over mid-run.
    return pipeline.measure_workers(
        two,
        2,
        plan.events,
        run_dir / "two",
        plan.run_timeout,
        load=lambda: data.load_events(two, synthesis, codec),
    )


def _memory(results: Results, single: Any, two: Any, peer: Any) -> None:
    for label, run in (("one worker", single), ("two workers, each", two), ("peer", peer)):
        if run:
            results.add(
                f"peak memory, {label}", ", ".join(f"{mib:,.0f} MiB" for mib in run.peak_mib)
            )
