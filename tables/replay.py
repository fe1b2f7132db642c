"""Both keyed stages in one process, in arrival order: the engine of `s2c replay` and of the tests.

`Pipeline` does in memory what the Faust topology does across partitions: route an event (one path
per source key, see routing.py), run the LINK stage for the events keyed by their account, the
PROCESS stage for what it forwards and for the events keyed by their appointment or case (then the
LINK stage for their registration copy, as it reaches the link after the event), and fire
deadlines as stream time (the largest business time seen) less the allowed lateness (`grace`, the
workers' `S2C_DEADLINE_GRACE_HOURS`) passes them: those strictly before it ahead of the event that
moved it (an event at a deadline's very instant is in time for it), and after the event those at
it and those the event set in the past (a surgery booked less than 48 h ahead is late for its
authorization at once). Timers are a heap of (deadline, stage, key) with stale entries skipped,
so a deadline costs O(log n), not a scan of every instance.

`replay_file` reads canonical events as JSON Lines (`{"schema": "CaseScheduled", "event": {...}}`)
and writes `commands.jsonl`, `exceptions.jsonl`, `sla_breaches.jsonl`, `metrics.jsonl` (one
`{"schema": ..., "record": ...}` per line, in emission order) and the final `processes.jsonl` and
`links.jsonl` (sorted by key). A line that is not a canonical event, or an event the ingest
stage's plausibility rule refuses (tables/plausible.py), goes to `dead_letters.jsonl` with its
reason and the line itself, and the replay goes on, as the workers' ingest stage does. No clock and no randomness are involved: same input, same bytes.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from s2c.tables.codec import dumps, loads, to_native
from s2c.tables.core import next_deadline, on_deadline, transition
from s2c.tables.events import Event, event_from_record
from s2c.tables.handling import Output
from s2c.tables.ids import IdKey
from s2c.tables.link import LinkState, link_on_deadline, link_transition
from s2c.tables.master import MasterData, load_master_dir
from s2c.tables.outputs import Command, Forward, MetricObservation, SlaBreached, WorkQueueException
from s2c.tables.plausible import Limits, refusal
from s2c.tables.process import ProcessState
from s2c.tables.routing import route, unroutable


class Pipeline:
    def __init__(self, master: MasterData, ids: IdKey, grace: timedelta = timedelta(0)) -> None:
        self.master, self.ids = master, ids
        self.grace = grace  # allowed lateness: deadlines fire at stream time less this
        self.links: dict[str, LinkState] = {}
        self.processes: dict[str, ProcessState] = {}
        self.stream_time: datetime | None = None
        self._timers: list[tuple[datetime, str, str]] = []
        self._due: dict[tuple[str, str], datetime] = {}

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
            out.extend(self._link(link_key, event, now))
        elif process_id is not None:
            out.extend(self._process(process_id, event, now))
            if link_key is not None:  # its registration copy reaches the link after the event
                out.extend(self._link(link_key, event, now, registers=True))
        else:
            out.append(unroutable(event, now))
        out.extend(self.advance(due))  # deadlines the event itself set in the past
        return out

    def advance(self, now: datetime, before: bool = False) -> list[Output]:
        """Fire every deadline at or before `now` (event time), earliest first; `before`: only
        those strictly before `now`, as ahead of the event that moved stream time to `now`."""
        out: list[Output] = []
        while self._timers and (
            self._timers[0][0] < now or (not before and self._timers[0][0] <= now)
        ):
            deadline, stage, key = heapq.heappop(self._timers)
            if self._due.get((stage, key)) != deadline:
                continue  # superseded by a later schedule
            del self._due[(stage, key)]
            if stage == "link":
                link, reported = link_on_deadline(self.links[key], now)
                self._schedule(stage, key, link.next_deadline(), after=now)
                out.extend(reported)
            else:
                state, produced = on_deadline(self.processes[key], self.master, now)
                self._schedule(stage, key, next_deadline(state), after=now)
                out.extend(produced)
        return out

    def _link(
        self, link_key: str, event: Event, now: datetime, registers: bool = False
    ) -> list[Output]:
        link, produced = link_transition(
            self.links.get(link_key), event, now, self.ids, registers=registers
        )
        self.links[link_key] = link
        self._schedule("link", link_key, link.next_deadline())
        out: list[Output] = []
        for item in produced:
            if isinstance(item, Forward):
                out.extend(self._process(item.process_id, item.event, now))
            else:
                out.append(item)
        return out

    def _process(self, process_id: str, event: Event, now: datetime) -> list[Output]:
        state, out = transition(
            self.processes.get(process_id), event, self.master, now, process_id=process_id
        )
        self.processes[process_id] = state
        self._schedule("process", process_id, next_deadline(state))
        return out

    def _schedule(
        self, stage: str, key: str, deadline: datetime | None, after: datetime | None = None
    ) -> None:
        if deadline is None or (after is not None and deadline <= after):
            self._due.pop((stage, key), None)
            return
        if self._due.get((stage, key)) != deadline:
            self._due[(stage, key)] = deadline
            heapq.heappush(self._timers, (deadline, stage, key))


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
