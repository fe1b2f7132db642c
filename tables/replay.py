"""Both keyed stages in one process, in arrival order: the engine of `s2c replay` and of the tests.

`Pipeline` does in memory what the Faust topology does across partitions: route an event (one path
per source key, see routing.py), run the LINK stage for the events keyed by their account, the
PROCESS stage for what it forwards and for the events keyed by their appointment or case (then the
LINK stage for their registration copy, as it reaches the link after the event), and fire
deadlines as stream time (the largest business time seen) less the allowed lateness (`grace`, the
workers' `S2C_DEADLINE_GRACE_HOURS`) passes them. When a deadline fires is the stage runner's
rule (stage.py), the same the live stages run: replay is their driver over dicts and heaps, with
the whole input as one partition whose watermark is its stream time.

`replay_file` reads the stream the workers take as JSON Lines: canonical events
(`{"schema": "CaseScheduled", "event": {...}}`) and, among them, master records
(`{"schema": "Payer", "record": {...}}`), which take effect where they stand in the file, as a
record on the master topic does when the workers' replica reads it: the instances parked on it are
retried at once; a master delete (`{"schema": "Provider", "delete": "<id>"}`, the topic's
tombstone) retires the record from that point on. It writes `commands.jsonl`,
`exceptions.jsonl`, `sla_breaches.jsonl`, `metrics.jsonl` (one
`{"schema": ..., "record": ...}` per line, in emission order) and the final `processes.jsonl` and
`links.jsonl` (sorted by key). A line that is not a canonical event, or an event the ingest
stage's plausibility rule refuses (tables/plausible.py), goes to `dead_letters.jsonl` with its
reason and the line itself, and the replay goes on, as the workers' ingest stage does; so does a
master record that cannot be read (`unusable-master-record`, stage `master`), in the stream or in
the master-data directory. The output folder holds one run only: a folder with anything but a
replay's own files in it is refused. No clock and no randomness are involved: same input, same
bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from s2c.tables import core
from s2c.tables.codec import dumps, to_native
from s2c.tables.events import Event
from s2c.tables.handling import Output
from s2c.tables.ids import IdKey
from s2c.tables.link import LinkState
from s2c.tables.master import DictMasterData, MasterData, arrivals
from s2c.tables.outputs import Command, Forward, MetricObservation, SlaBreached, WorkQueueException
from s2c.tables.plausible import Limits, refusal
from s2c.tables.process import ProcessState
from s2c.tables.replay_input import (
    DeadLine,
    MasterDelete,
    MasterLine,
    read_events,
    read_master_dir,
)
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
        # (record, wait key) -> the instances parked on it, in the order they parked, as the
        # workers' `awaiting` table: emptied for a key when its record arrives
        self.awaiting: dict[tuple[str, str], dict[str, None]] = {}
        self._link_timers, self._process_timers = HeapTimers(), HeapTimers()
        self.link: StageRunner[LinkState] = StageRunner(
            LinkStage(ids), DictKeeper(self.links), self._link_timers, grace
        )
        self.process: StageRunner[ProcessState] = StageRunner(
            ProcessStage(master),
            AwaitingKeeper(self.processes, self.awaiting),
            self._process_timers,
            grace,
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

    def take_master(self, record_name: str, record: Any) -> list[Output]:
        """A master record arrives mid-stream: store it, then retry the instances parked on a
        key it satisfies at the current stream time, as a worker does on a `retry-master`
        control record. Before any event nothing can wait, so it is only stored."""
        if not isinstance(self.master, DictMasterData):
            raise TypeError("master records mid-stream need a DictMasterData to store them in")
        self.master.put(record)
        now, out = self.stream_time, []
        for slot in arrivals(record_name, record):
            waiting = self.awaiting.pop(slot, None)
            if not waiting or now is None:
                continue
            for process_id in waiting:
                out.extend(self.process.step(process_id, self._retry(now)))
        return out

    def retire_master(self, record_name: str, key: str) -> None:
        """A master delete (the topic's tombstone) mid-stream: the record is gone from here on,
        so events naming it park as for an unknown record. Nothing waits for a deletion."""
        if not isinstance(self.master, DictMasterData):
            raise TypeError("master deletes mid-stream need a DictMasterData to delete from")
        self.master.delete(record_name, key)

    def _retry(self, now: datetime) -> Callable[[ProcessState], tuple[ProcessState, list[Any]]]:
        def retry(state: ProcessState) -> tuple[ProcessState, list[Any]]:
            retried, out = core.retry_parked(state, self.master, now)
            return retried, list(out)

        return retry

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
            # a link deadline may forward too (a walk-in opening its instance, link.py)
            out.extend(self._on_to_process(runner.fire(timers.pop(), now, before), now))

    def _link(
        self, link_key: str, event: Event, now: datetime, due: datetime, registers: bool = False
    ) -> list[Output]:
        return self._on_to_process(
            self.link.apply(link_key, event, now, due, registers=registers), due
        )

    def _on_to_process(self, items: list[Any], due: datetime) -> list[Output]:
        """The link's outputs, each forward applied to its instance at the stream time."""
        out: list[Output] = []
        now = self.stream_time or due
        for item in items:
            if isinstance(item, Forward):
                out.extend(self.process.apply(item.process_id, item.event, now, due))
            else:
                out.append(item)
        return out


class AwaitingKeeper(DictKeeper[ProcessState]):
    """Process states in a dict, and after each step the index of the master records its
    parked events wait for (what the workers' process keeper writes to `awaiting`)."""

    def __init__(
        self, states: dict[str, ProcessState], awaiting: dict[tuple[str, str], dict[str, None]]
    ) -> None:
        super().__init__(states)
        self.awaiting = awaiting

    def keep(self, key: str, state: ProcessState, outputs: list[Any], cause: Any) -> None:
        self.states[key] = state
        if state.parked:
            for slot in sorted(core.waiting_for_master(state)):
                self.awaiting.setdefault(slot, {})[key] = None


_FILES = {
    Command: "commands",
    WorkQueueException: "exceptions",
    SlaBreached: "sla_breaches",
    MetricObservation: "metrics",
}
DEAD_LETTERS = "dead_letters"
_AVRO = (Command, WorkQueueException, SlaBreached)  # written by `to_record()`, the rest as they are


# What `s2c export-ocel` derives from a replay's folder and writes into it: a replay into the
# folder removes them, as they describe the run it replaces.
DERIVED_FILES = frozenset(("ocel.json", "conformance.json"))
OUTPUT_FILES = (
    frozenset(f"{name}.jsonl" for name in (*_FILES.values(), DEAD_LETTERS, "processes", "links"))
    | DERIVED_FILES
)


def foreign_entries(out_dir: Path) -> list[str]:
    """What in `out_dir` is not a replay's own output file (sorted names): a replay writes only
    into a folder where this is empty, so it never mixes its files with anything else's. A
    previous replay's files are overwritten whole, every one of them, so no two runs mix."""
    if not out_dir.exists():
        return []
    if not out_dir.is_dir():
        return [out_dir.name]
    return sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUT_FILES or p.is_dir())


def replay_file(
    events_path: Path,
    master_dir: Path | None,
    out_dir: Path,
    ids: IdKey,
    on_event: Callable[[], object] | None = None,
    grace: timedelta = timedelta(0),
    limits: Limits | None = None,
    clock: datetime | None = None,
) -> Counter[str]:
    """Run the core over `events_path`; returns how many lines each output file got.
    `master_dir` is loaded first, as the master topic is before a worker takes events (None:
    master data only from the stream). `ids` is the key of the account pseudonyms: the live
    pipeline's key gives its ids. `on_event` is called once per line read (the CLI's progress
    bar). `grace` is the allowed lateness, the workers' `S2C_DEADLINE_GRACE_HOURS`: deadlines
    fire at stream time less it. `limits` are the ingest stage's plausibility limits
    (tables/plausible.py), judged against replay's stream time and, only when given, `clock` (a
    replay has no wall clock of its own: the workers' was the time the events reached them,
    which a file does not record). Raises ValueError, writing nothing, when `out_dir` holds
    anything but a replay's files or `master_dir` a file that is no master record name."""
    if foreign := foreign_entries(out_dir):
        raise ValueError(
            f"{out_dir} holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, "
            "not a replay's output: give an empty or new folder"
        )
    master = DictMasterData()
    refused: list[DeadLine] = []
    for name, row in read_master_dir(master_dir) if master_dir is not None else ():
        if isinstance(row, DeadLine):
            refused.append(row)
        else:
            master.put(row)
    pipeline = Pipeline(master, ids, grace)
    out_dir.mkdir(parents=True, exist_ok=True)
    for derived in DERIVED_FILES:
        (out_dir / derived).unlink(missing_ok=True)
    counts: Counter[str] = Counter()
    limits = limits or Limits()
    sinks = {
        name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n")
        for name in (*_FILES.values(), DEAD_LETTERS)
    }

    def write(outputs: list[Output]) -> None:
        for item in outputs:
            name = next((n for cls, n in _FILES.items() if isinstance(item, cls)), None)
            if name is None:
                continue  # AwaitMasterData: the pipeline indexes what instances wait for
            record = item.to_record() if isinstance(item, _AVRO) else to_native(item)
            sinks[name].write(dumps({"schema": type(item).__name__, "record": record}) + "\n")
            counts[name] += 1

    try:
        for letter in refused:
            sinks[DEAD_LETTERS].write(dumps(letter.to_record()) + "\n")
            counts[DEAD_LETTERS] += 1
        for number, text, event in read_events(events_path):
            if on_event is not None:
                on_event()
            if isinstance(event, MasterLine):
                counts["master"] += 1
                write(pipeline.take_master(event.name, event.record))
                continue
            if isinstance(event, MasterDelete):
                counts["master"] += 1
                pipeline.retire_master(event.name, event.key)
                continue
            counts["events"] += 1
            if isinstance(event, Event):
                refused_by = refusal(event, pipeline.stream_time, clock, limits)
                if refused_by is not None:  # refused before it can move stream time, as live
                    event = DeadLine(
                        number, refused_by.reason, "Implausible", refused_by.detail, text
                    )
            if isinstance(event, DeadLine):
                sinks[DEAD_LETTERS].write(dumps(event.to_record()) + "\n")
                counts[DEAD_LETTERS] += 1
                continue
            write(pipeline.feed(event))
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
