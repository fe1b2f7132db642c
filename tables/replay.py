"""Both keyed stages in one process, in arrival order: the engine of `s2c replay` and of the tests.

`Pipeline` does in memory what the Faust topology does across partitions: route an event (one path
per source key, see routing.py), run the LINK stage for the events keyed by their account, the
PROCESS stage for what it forwards and for the events keyed by their appointment or case (then the
LINK stage for their registration copy, as it reaches the link after the event), and fire
deadlines as stream time (the largest business time seen) less the allowed lateness (`grace`, the
workers' `S2C_DEADLINE_GRACE_HOURS`) passes them. When a deadline fires is the stage runner's
rule (stage.py), the same the live stages run: replay is their driver over dicts and heaps, with
the whole input as one partition whose watermark is its stream time.

`replay_file` reads canonical events as JSON Lines (`{"schema": "CaseScheduled", "event": {...}}`)
and writes `commands.jsonl`, `exceptions.jsonl`, `sla_breaches.jsonl`, `metrics.jsonl` (one
`{"schema": ..., "record": ...}` per line, in emission order) and the final `processes.jsonl` and
`links.jsonl` (sorted by key). A line that is not a canonical event, or an event the ingest
stage's plausibility rule refuses (tables/plausible.py), goes to `dead_letters.jsonl` with its
reason and the line itself, and the replay goes on, as the workers' ingest stage does. No clock and no randomness are involved: same input, same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from s2c.tables.codec import dumps, loads, to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.handling import Output
from s2c.tables.ids import IdKey
from s2c.tables.link import LinkState
from s2c.tables.master import MasterData, load_master_dir
from s2c.tables.outputs import Command, Forward, MetricObservation, SlaBreached, WorkQueueException
from s2c.tables.plausible import Limits, refusal
from s2c.tables.process import ProcessState
from s2c.tables.routing import route, unroutable
from s2c.tables.stage import DictKeeper, HeapTimers, LinkStage, ProcessStage, StageRunner


class Pipeline:
    """Both stages as `StageRunner`s (stage.py: the one rule deadlines fire by, shared with the
    live workers) over dicts and in-memory timers, with one stream time for the whole input."""

    def __init__(self, master: MasterData, ids: IdKey, grace: timedelta = timedelta(0)) -> None:
        self.master, self.ids = master, ids
        self.grace = grace  # allowed lateness: deadlines fire at stream time less this
        self.links: dict[str, LinkState] = {}
        self.processes: dict[str, ProcessState] = {}
        self.stream_time: datetime | None = None
        self._link_timers, self._process_timers = HeapTimers(), HeapTimers()
        self.link: StageRunner[LinkState] = StageRunner(
            LinkStage(ids), DictKeeper(self.links), self._link_timers, grace
        )
        self.process: StageRunner[ProcessState] = StageRunner(
            ProcessStage(master), DictKeeper(self.processes), self._process_timers, grace
        )

    def feed(self, event: Event) -> list[Output]:
        at = event.occurred_at
        now = self.stream_time = (
            at if self.stream_time is None or at > self.stream_time else self.stream_time
        )
        due = now - self.grace if self.grace else now
        out = self.advance(due, before=True)  # an event at a deadline's instant is in time
        where = route(event, self.ids)
        link_key, process_id = where.link_key, where.process_id
        if where.via_link and link_key is not None:
            out.extend(self._link(link_key, event, now, due))
        elif process_id is not None:
            out.extend(self.process.apply(process_id, event, now, due))
            if link_key is not None:  # its registration copy reaches the link after the event
                out.extend(self._link(link_key, event, now, due, registers=True))
        else:
            out.append(unroutable(event, now))
        out.extend(self.advance(due))  # deadlines the event itself set in the past
        return out

    def advance(self, now: datetime, before: bool = False) -> list[Output]:
        """Fire every deadline at or before `now` (event time) of both stages, earliest first
        (a link deadline before a process deadline at the same instant); `before`: only those
        strictly before `now`, as ahead of the event that moved stream time to `now`."""
        out: list[Output] = []
        stages = ((self._link_timers, self.link), (self._process_timers, self.process))
        while True:
            ready = [
                (at, index)
                for index, (timers, _) in enumerate(stages)
                if (at := timers.next()) is not None and (at < now or (not before and at == now))
            ]
            if not ready:
                return out
            timers, runner = stages[min(ready)[1]]
            out.extend(runner.fire(timers.pop(), now, before))

    def _link(
        self, link_key: str, event: Event, now: datetime, due: datetime, registers: bool = False
    ) -> list[Output]:
        out: list[Output] = []
        for item in self.link.apply(link_key, event, now, due, registers=registers):
            if isinstance(item, Forward):
                out.extend(self.process.apply(item.process_id, item.event, now, due))
            else:
                out.append(item)
        return out


@dataclass(frozen=True)
class DeadLine:
    """A line replay refused, as the ingest stage dead-letters it: why, and the line itself."""

    line: int
    reason: str
    exception_class: str
    message: str
    original: str

    def to_record(self) -> dict[str, object]:
        return {
            "line": self.line,
            "stage": "ingest",
            "reason": self.reason,
            "exception_class": self.exception_class,
            "message": self.message,
            "original": self.original,
        }


def read_events(path: Path) -> Iterator[tuple[int, str, Event | DeadLine]]:
    """Yield (line number, line, event) for each line of a JSON Lines file, with a `DeadLine` in
    place of the event for a line that is not one (`undecodable`: not JSON; `invalid-event`:
    JSON, but not a canonical event), as the ingest stage dead-letters such records."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            text = line.rstrip("\n")
            try:
                row = loads(line)
            except ValueError as exc:
                yield (
                    number,
                    text,
                    DeadLine(number, "undecodable", type(exc).__name__, str(exc), text),
                )
                continue
            try:
                yield number, text, event_from_record(row["schema"], row["event"])
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                told = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                name = type(exc).__name__
                yield number, text, DeadLine(number, "invalid-event", name, told[:300], text)


_FILES = {
    Command: "commands",
    WorkQueueException: "exceptions",
    SlaBreached: "sla_breaches",
    MetricObservation: "metrics",
}
DEAD_LETTERS = "dead_letters"
_AVRO = (Command, WorkQueueException, SlaBreached)  # written by `to_record()`, the rest as they are


def replay_file(
    events_path: Path,
    master_dir: Path,
    out_dir: Path,
    ids: IdKey,
    on_event: Callable[[], object] | None = None,
    grace: timedelta = timedelta(0),
    limits: Limits | None = None,
    clock: datetime | None = None,
) -> Counter[str]:
    """Run the core over `events_path`; returns how many lines each output file got.
    `ids` is the key of the account pseudonyms: the live pipeline's key gives its ids.
    `on_event` is called once per event read (the CLI's progress bar). `grace` is the allowed
    lateness, the workers' `S2C_DEADLINE_GRACE_HOURS`: deadlines fire at stream time less it.
    `limits` are the ingest stage's plausibility limits (tables/plausible.py), judged against
    replay's stream time and, only when given, `clock` (a replay has no wall clock of its own:
    the workers' was the time the events reached them, which a file does not record)."""
    pipeline = Pipeline(load_master_dir(master_dir), ids, grace)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    limits = limits or Limits()
    sinks = {
        name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n")
        for name in (*_FILES.values(), DEAD_LETTERS)
    }
    try:
        for number, text, event in read_events(events_path):
            counts["events"] += 1
            if on_event is not None:
                on_event()
            if isinstance(event, Event):
                refused = refusal(event, pipeline.stream_time, clock, limits)
                if refused is not None:  # refused before it can move stream time, as live
                    event = DeadLine(number, refused.reason, "Implausible", refused.detail, text)
            if isinstance(event, DeadLine):
                sinks[DEAD_LETTERS].write(dumps(event.to_record()) + "\n")
                counts[DEAD_LETTERS] += 1
                continue
            for item in pipeline.feed(event):
                name = next((n for cls, n in _FILES.items() if isinstance(item, cls)), None)
                if name is None:
                    continue  # AwaitMasterData: replay's master data never changes mid-run
                record = item.to_record() if isinstance(item, _AVRO) else to_native(item)
                sinks[name].write(dumps({"schema": type(item).__name__, "record": record}) + "\n")
                counts[name] += 1
    finally:
        for sink in sinks.values():
            sink.close()
    _write_sorted(out_dir / "processes.jsonl", pipeline.processes)
    _write_sorted(out_dir / "links.jsonl", pipeline.links)
    counts["processes"], counts["links"] = len(pipeline.processes), len(pipeline.links)
    return counts


def _write_sorted(path: Path, states: Mapping[str, ProcessState | LinkState]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as sink:
        for key in sorted(states):
            sink.write(dumps(states[key].to_dict()) + "\n")
