"""The stage interface: one keyed stage (link or process) and the one rule its deadlines fire by.

Two stages hold state: LINK (keyed by the account's pseudonym) and PROCESS (keyed by process id).
Each is a `Stage`: the core's transition, deadline and overdue functions for its state type.
A `StageRunner` runs one stage over a state store (`Keeper`) and a timer index (`Timers`) and is
the only place that says when a deadline fires. The live workers run one per stage partition
over their batched tables (s2c.streams.topology), `s2c replay` one per stage over dicts and a
heap (replay.py), so live and replay cannot drift apart on the rule:

- ahead of an event, a partition fires the deadlines strictly before its deadline time
  (`due_at`: its watermark, or in replay its stream time, less the allowed lateness): an event
  at a deadline's very instant is in time for it (`fire_due(..., before=True)`);
- applying an event to a key first fires that key's own deadlines strictly before the event's
  time less the allowed lateness (the event proves its instance's business time passed them;
  live, where events wait for the watermark before they are applied, this matters only for an
  event late on its own partition), then the transition, then at once any deadline now at or
  before `max(due_at, own)` (a surgery booked less than 48 h ahead is late at once);
- a deadline fires only when the key's state still has it (the index may hold a stale entry);
  one not due yet is filed again; one the firing leaves at or before the time fired is not
  filed again (the core has fired everything up to it).

Pure: no Faust, no I/O. The store and the timers are behind two small protocols so a dict and a
heap stand in for the tables.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from s2c.tables import core
from s2c.tables.events import Event
from s2c.tables.ids import IdKey
from s2c.tables.link import LinkState, link_on_deadline, link_overdue, link_transition
from s2c.tables.master import MasterData
from s2c.tables.process import ProcessState

S = TypeVar("S")
Step = tuple[S, list[Any]]


class Stage(Protocol[S]):
    """What a keyed stage does to its state; the core's functions, named alike for both."""

    name: str

    def transition(
        self, state: S | None, event: Event, now: datetime, key: str, registers: bool
    ) -> Step[S]: ...

    def on_deadline(self, state: S, now: datetime) -> Step[S]: ...

    def overdue(self, state: S, until: datetime) -> Step[S]: ...

    def next_deadline(self, state: S) -> datetime | None: ...


class Keeper(Protocol[S]):
    """A stage's states: `load` a key's state (None if it has none), `keep` the state a step
    left with the outputs it produced (`cause`: the event applied, None for a deadline)."""

    def load(self, key: str) -> S | None: ...

    def keep(self, key: str, state: S, outputs: list[Any], cause: Any) -> None: ...


class Timers(Protocol):
    """A stage partition's deadlines: `schedule` files a key's next deadline (None: none);
    `due` hands out, once each, the keys filed at or before `now` (`before`: strictly before)."""

    def schedule(self, key: str, deadline: datetime | None) -> None: ...

    def due(self, now: datetime, before: bool = False) -> Iterable[str]: ...


class StageRunner(Generic[S]):
    def __init__(
        self, stage: Stage[S], keeper: Keeper[S], timers: Timers, grace: timedelta
    ) -> None:
        self.stage, self.keeper, self.timers, self.grace = stage, keeper, timers, grace

    def deadline_time(self, at: datetime) -> datetime:
        """The event time up to which deadlines fire when time is at `at`."""
        return at - self.grace

    def fire_due(
        self,
        due_at: datetime,
        before: bool = False,
        isolate: Callable[[str, Callable[[], list[Any]]], list[Any] | None] | None = None,
    ) -> list[Any]:
        """Fire every filed deadline at or before `due_at` (`before`: strictly before, as ahead
        of an event). `isolate(key, fire)` runs each key's firing (the live stages keep a
        failing one from failing the record that moved time); None runs it as it is."""
        out: list[Any] = []
        for key in self.timers.due(due_at, before):
            if isolate is None:
                out.extend(self.fire(key, due_at, before))
            else:
                out.extend(isolate(key, partial(self.fire, key, due_at, before)) or [])
        return out

    def fire(self, key: str, now: datetime, before: bool = False) -> list[Any]:
        """Fire `key`'s deadline if its state still has one at or before `now`."""
        state = self.keeper.load(key)
        if state is None:
            return []
        due = self.stage.next_deadline(state)
        if due is None or due > now or (before and due == now):
            self.timers.schedule(key, due)  # a stale entry: file the real one
            return []
        state, out = self.stage.on_deadline(state, now)
        self._keep(key, state, out, None, fired_at=now)
        return out

    def apply(
        self,
        key: str,
        event: Event,
        now: datetime,
        due_at: datetime | None,
        cause: Any = None,
        registers: bool = False,
    ) -> list[Any]:
        """Apply `event` to `key` at stream time `now`, `due_at` being the partition's deadline
        time (None while it has none): the key's overdue deadlines, the transition, and what
        the transition left already due, in that order. `registers`: a registration copy for
        the link stage (routing.Route.registers)."""
        own = self.deadline_time(event.occurred_at)
        reached = own if due_at is None else max(due_at, own)
        state = self.keeper.load(key)
        caught: list[Any] = []
        if state is not None:
            state, caught = self.stage.overdue(state, own)
        state, out = self.stage.transition(state, event, now, key, registers)
        due = self.stage.next_deadline(state)
        if due is not None and due <= reached:
            state, expired = self.stage.on_deadline(state, reached)
            out = out + expired
            self._keep(key, state, caught + out, cause, fired_at=reached)
        else:
            self._keep(key, state, caught + out, cause)
        return caught + out

    def step(self, key: str, change: Callable[[S], Step[S]], cause: Any = None) -> list[Any]:
        """Any other change of an existing state (a master-data retry): kept and filed alike."""
        state = self.keeper.load(key)
        if state is None:
            return []
        state, out = change(state)
        self._keep(key, state, out, cause)
        return out

    def _keep(
        self,
        key: str,
        state: S,
        out: list[Any],
        cause: Any,
        fired_at: datetime | None = None,
    ) -> None:
        self.keeper.keep(key, state, out, cause)
        due = self.stage.next_deadline(state)
        if due is not None and fired_at is not None and due <= fired_at:
            due = None
        self.timers.schedule(key, due)


class LinkStage:
    """LINK: an account's link to its process instance."""

    name = "link"

    def __init__(self, ids: IdKey) -> None:
        self.ids = ids

    def transition(
        self, state: LinkState | None, event: Event, now: datetime, key: str, registers: bool
    ) -> Step[LinkState]:
        linked, out = link_transition(state, event, now, self.ids, registers=registers)
        return linked, list(out)

    def on_deadline(self, state: LinkState, now: datetime) -> Step[LinkState]:
        linked, out = link_on_deadline(state, now)
        return linked, list(out)

    def overdue(self, state: LinkState, until: datetime) -> Step[LinkState]:
        linked, out = link_overdue(state, until)
        return linked, list(out)

    def next_deadline(self, state: LinkState) -> datetime | None:
        return state.next_deadline()


class ProcessStage:
    """PROCESS: the schedule-to-cash instance, against master data. `on_repeat` is told of an
    event its instance has applied before (the live stage counts them)."""

    name = "process"

    def __init__(self, master: MasterData, on_repeat: Callable[[Event], None] | None = None):
        self.master, self.on_repeat = master, on_repeat

    def transition(
        self, state: ProcessState | None, event: Event, now: datetime, key: str, registers: bool
    ) -> Step[ProcessState]:
        if self.on_repeat is not None and state is not None and event.event_id in state.applied:
            self.on_repeat(event)
        processed, out = core.transition(state, event, self.master, now, key)
        return processed, list(out)

    def on_deadline(self, state: ProcessState, now: datetime) -> Step[ProcessState]:
        processed, out = core.on_deadline(state, self.master, now)
        return processed, list(out)

    def overdue(self, state: ProcessState, until: datetime) -> Step[ProcessState]:
        processed, out = core.overdue(state, self.master, until)
        return processed, list(out)

    def next_deadline(self, state: ProcessState) -> datetime | None:
        return core.next_deadline(state)


class HeapTimers:
    """Timers in memory, for replay: a heap of (deadline, key) with stale entries skipped, so a
    deadline costs O(log n), not a scan of every instance."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._due: dict[str, datetime] = {}

    def schedule(self, key: str, deadline: datetime | None) -> None:
        if deadline is None:
            self._due.pop(key, None)
        elif self._due.get(key) != deadline:
            self._due[key] = deadline
            heapq.heappush(self._heap, (deadline, key))

    def next(self) -> datetime | None:
        """The earliest filed deadline (stale entries dropped on the way)."""
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop(self) -> str:
        """The key of the earliest filed deadline, handed out (call after `next`)."""
        _, key = heapq.heappop(self._heap)
        del self._due[key]
        return key

    def due(self, now: datetime, before: bool = False) -> Iterable[str]:
        while (at := self.next()) is not None and (at < now or (not before and at == now)):
            yield self.pop()


class DictKeeper(Generic[S]):
    """States in a dict, for replay."""

    def __init__(self, states: dict[str, S]) -> None:
        self.states = states

    def load(self, key: str) -> S | None:
        return self.states.get(key)

    def keep(self, key: str, state: S, outputs: list[Any], cause: Any) -> None:
        self.states[key] = state
