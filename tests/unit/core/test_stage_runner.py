"""The one rule deadlines fire by (tables/stage.py), which replay and both live stages run.

A toy stage keeps the rule apart from the business: its state is a list of deadlines still
open and the log of when each fired, so each test reads as "this deadline fired at that time".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from s2c.tables.stage import DictKeeper, HeapTimers, StageRunner

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning clinic
HOUR = timedelta(hours=1)


@dataclass
class Reminders:
    """Open deadlines of one key, and (deadline, fired at) for each one that fired."""

    open: list[datetime] = field(default_factory=list)
    fired: list[tuple[datetime, datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class Booked:
    """An event at `occurred_at` that opens a deadline at `due`."""

    occurred_at: datetime
    due: datetime
    event_id: str = "EV-1"


class ReminderStage:
    name = "reminders"

    def transition(self, state: Any, event: Any, now: datetime, key: str, registers: bool) -> Any:
        state = state or Reminders()
        state.open.append(event.due)
        return state, [f"booked {key}"]

    def on_deadline(self, state: Reminders, now: datetime) -> Any:
        due = [d for d in state.open if d <= now]
        state.open = [d for d in state.open if d > now]
        state.fired += [(d, now) for d in due]
        return state, [f"fired {d:%H:%M} at {now:%H:%M}" for d in due]

    def overdue(self, state: Reminders, until: datetime) -> Any:
        if not any(d < until for d in state.open):
            return state, []
        return self.on_deadline(state, until)

    def next_deadline(self, state: Reminders) -> datetime | None:
        return min(state.open, default=None)


def runner(grace: timedelta = timedelta(0)) -> tuple[StageRunner[Any], dict[str, Any]]:
    states: dict[str, Any] = {}
    return StageRunner(ReminderStage(), DictKeeper(states), HeapTimers(), grace), states


def test_a_deadline_at_the_events_instant_waits_for_after_the_event() -> None:
    run, states = runner()
    run.apply("APPT-1", Booked(T0, due=T0 + 2 * HOUR), T0, T0)
    assert run.fire_due(T0 + 2 * HOUR, before=True) == []  # ahead of an event at 10:00
    assert run.fire_due(T0 + 2 * HOUR) == ["fired 10:00 at 10:00"]  # after it
    assert states["APPT-1"].open == []


def test_an_event_fires_its_own_overdue_deadlines_however_far_the_watermark_trails() -> None:
    run, states = runner()
    run.apply("APPT-1", Booked(T0, due=T0 + HOUR), T0, None)
    later = Booked(T0 + 5 * HOUR, due=T0 + 9 * HOUR, event_id="EV-2")
    out = run.apply("APPT-1", later, later.occurred_at, due_at=None)  # no watermark yet
    assert out == ["fired 09:00 at 13:00", "booked APPT-1"]


def test_the_own_rule_leaves_the_allowed_lateness() -> None:
    run, states = runner(grace=3 * HOUR)
    run.apply("APPT-1", Booked(T0, due=T0 + HOUR), T0, None)
    in_grace = Booked(T0 + 3 * HOUR, due=T0 + 9 * HOUR, event_id="EV-2")
    assert run.apply("APPT-1", in_grace, in_grace.occurred_at, None) == ["booked APPT-1"]
    past_grace = Booked(T0 + 5 * HOUR, due=T0 + 9 * HOUR, event_id="EV-3")
    out = run.apply("APPT-1", past_grace, past_grace.occurred_at, None)
    assert out == ["fired 09:00 at 10:00", "booked APPT-1"]  # at 13:00 less 3 h


def test_a_deadline_an_event_sets_in_the_past_fires_at_once_at_the_later_time() -> None:
    run, states = runner()
    late = Booked(T0 + 4 * HOUR, due=T0 + HOUR)  # e.g. booked less than 48 h ahead
    out = run.apply("CASE-7", late, late.occurred_at, due_at=T0 + 6 * HOUR)
    assert out == ["booked CASE-7", "fired 09:00 at 14:00"]  # the watermark's time is later
    assert run.fire_due(T0 + 24 * HOUR) == []  # not filed again


def test_a_stale_timer_entry_is_filed_again_not_fired() -> None:
    states: dict[str, Any] = {}
    timers = HeapTimers()
    run = StageRunner(ReminderStage(), DictKeeper(states), timers, timedelta(0))
    run.apply("APPT-1", Booked(T0, due=T0 + HOUR), T0, T0)
    states["APPT-1"].open = [T0 + 5 * HOUR]  # the state moved on; the index still says 09:00
    assert run.fire_due(T0 + 2 * HOUR) == []
    assert timers.next() == T0 + 5 * HOUR
    assert run.fire_due(T0 + 5 * HOUR) == ["fired 13:00 at 13:00"]


def test_each_keys_firing_goes_through_isolate_and_a_failed_one_gives_nothing() -> None:
    run, _ = runner()
    for key in ("APPT-1", "APPT-2"):
        run.apply(key, Booked(T0, due=T0 + HOUR), T0, T0)
    seen: list[str] = []

    def isolate(key: str, fire: Any) -> Any:
        seen.append(key)
        return None if key == "APPT-1" else fire()

    assert run.fire_due(T0 + HOUR, isolate=isolate) == ["fired 09:00 at 09:00"]
    assert seen == ["APPT-1", "APPT-2"]
