"""Faults a verify run inflicts while the pipeline works: kill -9 of a random worker (restarted at
once, on its own data folder), a broker restart, a worker added and one removed.

The times are drawn from a seeded generator over a window that starts when the last event is
published (`schedule`, pure), so a run is repeatable up to the machine's own timing. Each fault is
logged with whether records were still pending then (a kill of an idle pipeline tests recovery,
not delivery).
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from s2c.streams.settings import REPO_ROOT
from s2c.streams.verify.live import Fleet, NotJudged

STACK = REPO_ROOT / "deploy" / "local" / "stack"


@dataclass(frozen=True)
class FaultPlan:
    kills: int = 0
    broker_restart: bool = False
    add_remove: bool = False
    window: float = 10.0  # seconds after the last event is published
    seed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.kills or self.broker_restart or self.add_remove)


def schedule(plan: FaultPlan) -> list[tuple[float, str]]:
    """(seconds after publication, fault) in time order: kills spread over the window, the
    broker restart somewhere in its middle, the worker added at a third and one removed at two."""
    rng = random.Random(plan.seed)
    faults = [(rng.uniform(0.05, 0.95) * plan.window, "kill") for _ in range(plan.kills)]
    if plan.broker_restart:
        faults.append((rng.uniform(0.3, 0.7) * plan.window, "broker-restart"))
    if plan.add_remove:
        faults += [(plan.window / 3, "add-worker"), (2 * plan.window / 3, "remove-worker")]
    return sorted(faults)


@dataclass
class FaultLog:
    lines: list[str] = field(default_factory=list)
    kills: int = 0
    kills_mid_stream: int = 0
    broker_restarts: int = 0
    added: int = 0
    removed: int = 0


def restart_broker(env_note: Callable[[str], None]) -> None:
    """Stops and starts the local stack's Kafka (the same ports and data folder: S2C_* env)."""
    for action in ("stop", "start"):
        done = subprocess.run(
            [str(STACK), action, "kafka"], capture_output=True, text=True, timeout=180
        )
        env_note(f"stack {action} kafka: exit {done.returncode}")
        if done.returncode != 0:
            raise NotJudged(f"s2c verify: 'stack {action} kafka' failed:\n{done.stderr[-2000:]}")


def inflict(plan: FaultPlan, fleet: Fleet, busy: Callable[[], bool], spare_slot: int) -> FaultLog:
    """Runs the schedule against `fleet`; `busy()` says whether records are still pending;
    `spare_slot` is the slot (port, folder) an added worker takes."""
    rng = random.Random(plan.seed + 1)
    log = FaultLog()
    started = time.monotonic()

    def note(text: str) -> None:
        log.lines.append(f"{time.monotonic() - started:7.1f} s  {text}")

    for at, fault in schedule(plan):
        while time.monotonic() - started < at:
            fleet.check()
            time.sleep(0.2)
        pending = busy()
        if fault == "kill":
            slot = rng.choice(fleet.running())
            pid = fleet.kill(slot)
            log.kills += 1
            log.kills_mid_stream += pending
            note(f"kill -9 worker {slot} (pid {pid}){' mid-stream' if pending else ', idle'}")
            fleet.start(slot)
            note(f"worker {slot} restarted (pid {fleet.procs[slot].pid}), answering /health/")
        elif fault == "broker-restart":
            note(f"broker restart{' mid-stream' if pending else ', idle'}")
            restart_broker(note)
            log.broker_restarts += 1
        elif fault == "add-worker":
            fleet.start(spare_slot)
            log.added += 1
            note(f"worker {spare_slot} added (pid {fleet.procs[spare_slot].pid})")
        else:
            slot = min(s for s in fleet.running() if s != spare_slot)
            fleet.stop(slot)
            log.removed += 1
            note(f"worker {slot} removed (SIGTERM){' mid-stream' if pending else ', idle'}")
    return log
