"""The benchmark's results: one table for a person on stdout, one section appended to
BENCHMARKS.md (created with a header that explains each figure and issue 8's targets)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from s2c.streams.settings import REPO_ROOT

DAY_EVENTS = 3_000_000  # issue 8: a 40-hospital day


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str = ""
    met: bool | None = None  # None: no target, or not measured


@dataclass
class Results:
    command: str
    parameters: dict[str, str]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)

    def add(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.figures.append(Figure(name, value, target, met))

    def missing(self, name: str, reason: str) -> None:
        self.figures.append(Figure(name, f"n/a ({reason})"))


def _met(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def table(results: Results) -> str:
    rows = [("figure", "value", "target", "met")]
    rows += [(f.name, f.value, f.target, _met(f.met)) for f in results.figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(["", f"s2c bench ({results.command})", *lines, *results.notes, ""])


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration, ValueError):
        mem_kib = 0
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_kib / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def markdown(results: Results) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results.started))
    load_after = os.getloadavg()
    params = ", ".join(f"{k} {v}" for k, v in results.parameters.items())
    lines = [
        f"## {when}: `{results.command}`",
        "",
        f"- commit `{git_commit()}`; machine: {machine()}",
        (
            f"- load average (1/5/15 min) before {_load(results.load_before)}, "
            f"after {_load(load_after)} (other work on the machine shares its cores)"
        ),
        f"- parameters: {params}",
        "",
        "| figure | value | target | met |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f.name} | {f.value} | {f.target} | {_met(f.met)} |" for f in results.figures]
    if results.notes:
        lines += ["", *[f"- {note}" for note in results.notes]]
    return "\n".join(lines) + "\n\n"


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


HEADER = """# s2c benchmarks

Appended by `s2c bench` (issue 8, item 2), newest last. Every figure comes from one run on one
broker; a benchmark never fails on a slow figure, it records it. The `met` column compares with
issue 8's targets; `NO` is a finding, not an error.

## What each figure is

- **R, raw consume+decode**: the fastest plain consumer of the same Avro messages
  (confluent-kafka `consume(num_messages=...)` on every partition from the beginning, fastavro
  schemaless decode of each value with its writer schema fetched from the registry by id, no
  processing). Best of 3 passes, clock from the first batch to the last message. R is the
  ceiling every other rate is divided by.
- **one worker, sustained**: one `s2c worker` subprocess (full state, commands out) over N
  pre-loaded events on a fresh topic prefix and app id. events/s = (N - events committed at
  the first commit seen) / (seconds from that first commit until the group's commits on the
  events topic reach N *and* its commits on the link and process topics reach their log ends).
  Read from the broker (`list_consumer_group_offsets`), not from the worker, so it counts only
  work whose effects are committed; start-up is excluded. Faust commits every 1 s, so both ends
  carry up to ~1 s of commit lag (a few per cent over a ~60 s run). Target: >= 0.35 x R.
- **plain Faust peer**: `streams/bench/peer.py`, the least a Faust app does per event (one
  agent, one RocksDB table update and one send per event, value bytes passed through), same
  events, its own group. It gets through N events in seconds, where a 1 s commit interval would
  swamp the clock, so its rate is (records sent - 1) / (last send's timestamp - first send's),
  read back from its output topic; the commit-clock rate is shown beside it. Gain = one
  worker / peer.
- **latency event -> command**: fresh events produced at a set share (default 50%) of the
  one-worker rate by a paced producer (acks=all, idempotent, linger 5 ms as librdkafka's
  default, warmed up before the clock starts), into the worker that was just restored;
  latency = time a plain consumer (`poll`) reads the command minus the event's
  `envelope.produced_at` (ms), matched by `header.caused_by_event_id` (first command per
  event). The *floor* is the same consumer reading the events themselves back: producer,
  broker and harness, no s2c. Targets at 50% of max sustained load: p50 <= 10 ms, p99 <= 50 ms.
- **restore**: after the one-worker run the worker is stopped, its data dir (S2C_WORKER_DIR)
  deleted and the worker started again. Records = what its changelog topics hold (end - start
  offsets). *Recovery phase*: records / seconds between Faust's log lines
  "Executing _on_partitions_assigned" and "Recovery complete". *Start to serving*: process start
  until /metrics answers and one fresh event is committed on the events topic. Target: recovery
  rate >= 0.5 x R records/s.
- **two workers**: the same N events on a fresh prefix, two worker processes in one group,
  same clock. Master data is loaded first, the events only once the group is stable with both
  workers in it (pre-loaded, the first worker to join would start alone and hand half its
  partitions over mid-run), so start-up and the initial rebalance are excluded.
  Target: >= 1.7 x one worker.
- **peak memory**: VmHWM from /proc/<pid>/status, sampled while the process runs.
- **40-hospital day**: a projection, 3,000,000 events / the measured rate (one worker and two
  workers), not a run. Target: within 3 minutes.
- **s2c replay**: the pure core (`s2c.tables.replay.replay_file`, no Kafka) over the same N
  events written as JSON Lines by the generator's writer; only the replay is timed (parse, both
  stages, deadlines, output files). Target: >= 1 x R.

Targets of issue 8: throughput >= 0.35 x R; p99 event->command <= 50 ms and p50 <= 10 ms at
50% of max sustained load; restore >= 0.5 x R records/s; two workers >= 1.7 x one; a 40-hospital
day (~3M events) within 3 minutes; `s2c replay` >= 1 x R.

"""


def append(path: Path, results: Results) -> None:
    """Appends the run's section to `path`, writing the header first when the file is new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists() or path.stat().st_size == 0
    # Notes added by hand may end without a blank line: the new heading must not join them.
    ending = b"" if fresh else _tail(path)
    with path.open("a", encoding="utf-8") as out:
        if fresh:
            out.write(HEADER)
        elif ending != b"\n\n":
            out.write("\n" if ending.endswith(b"\n") else "\n\n")
        out.write(markdown(results))


def _tail(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(max(path.stat().st_size - 2, 0))
        return f.read()
