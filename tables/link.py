"""The LINK stage (keyed by the account's pseudonym, `IdKey.account_ref`): which process
instance an account belongs to. The state, the work items and their reasons name the account by
that pseudonym only, never by its number.

Identity across feeds: an ADT registration names no appointment or case (only the account, PID-18,
else PV1-19). A walk-in `EncounterStarted` (`routing.is_walk_in`) on an account already linked to
a scheduled appointment or case joins that instance like any account-only event (its discharge,
charges, claims and remittances follow it). On an account nobody has linked yet it waits
`WALK_IN_WAIT` of business time for a booking that names the account (a same-day add-on booked as
the patient registers, or a booking message delayed behind the registration): if one comes, the
registration joins the booking's instance; if none does, the registration opens its own `ENC-`
instance at that deadline, and everything parked for the account follows it there.

Events that carry their own process id register `account -> process id` and are forwarded (or,
for a registration copy of an event that went straight to its process, only registered). Events
that only carry the account (charges, claims, remittances, discharges) are forwarded to the linked
process, or parked here until the link arrives. At the park deadline (event time + `LINK_PARK_TTL`)
they are reported as `UNLINKED_EVENT` exceptions, once, and stay parked: if the link comes later
they are forwarded as if in time, with a notice resolving the exception; only at event time +
`LINK_PARK_HARD_LIMIT` are they dropped, with an exception of their own. The first link wins: a second process claiming an account
is reported, not silently re-pointed, because moving money between episodes needs a person.

`link_transition` may mutate and return the state it is given (the adapter deserializes a fresh one
per key), which keeps the hot path free of copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeAlias

from s2c.tables.codec import iso, to_datetime, to_native
from s2c.tables.events import Event, event_from_record, money_of
from s2c.tables.ids import IdKey
from s2c.tables.outputs import Forward, WorkQueueException, stable_id
from s2c.tables.routing import is_walk_in, process_id_of
from s2c.tables.vocabulary import ExceptionKind

LINK_PARK_TTL = timedelta(days=7)
WALK_IN_WAIT = timedelta(hours=1)  # a registration waits this long for a booking of its account
LINK_PARK_HARD_LIMIT = timedelta(days=90)  # a reported event is dropped this long after it happened
MAX_PARKED_PER_ACCOUNT = 500  # bounds the state; beyond it an event is reported at once

LinkOutput: TypeAlias = Forward | WorkQueueException


class LinkParked(NamedTuple):
    """An event waiting for its account's link: `deadline` is the report deadline, then, once
    `reported`, the hard limit. A walk-in registration waiting for a booking (`opens`: the
    `ENC-` instance it opens at `deadline` if no booking has linked the account by then)."""

    deadline: datetime
    event: Event
    reported: bool = False
    opens: str | None = None


@dataclass(slots=True)
class LinkState:
    account_ref: str
    process_id: str | None = None
    parked: dict[str, LinkParked] = field(default_factory=dict)

    def next_deadline(self) -> datetime | None:
        if not self.parked:
            return None
        return min(p.deadline for p in self.parked.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_ref": self.account_ref,
            "process_id": self.process_id,
            "parked": [
                [iso(p.deadline), p.event.schema, to_native(p.event), p.reported]
                + ([p.opens] if p.opens is not None else [])
                for p in self.parked.values()
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkState:
        parked = {}
        for row in data["parked"]:  # rows written before `reported` existed have three columns
            event = event_from_record(row[1], row[2])
            parked[event.event_id] = LinkParked(
                to_datetime(row[0]),
                event,
                bool(row[3]) if len(row) > 3 else False,
                row[4] if len(row) > 4 else None,
            )
        return cls(data["account_ref"], data["process_id"], parked)


def link_transition(
    state: LinkState | None, event: Event, now: datetime, ids: IdKey, registers: bool = False
) -> tuple[LinkState, list[LinkOutput]]:
    """Apply `event` to its account's link. `registers`: the event went straight to its process
    (`Route.registers`) and this is its registration copy: the link is recorded and what was
    parked is released, but the event itself is not forwarded again."""
    if state is None:
        # Only events with an account number come here (`routing.link_key_of`); `Event` has none.
        state = LinkState(ids.account_ref(event.account_number))  # type: ignore[attr-defined]
    own = process_id_of(event, ids)
    if own is not None and is_walk_in(event):  # identity rule: join a booking, or wait for one
        if state.process_id is None:
            return state, park_until_linked(state, event, now, opens=own)
        if state.process_id != own:
            own = None
    if own is None:
        if state.process_id is not None:
            return state, [Forward(state.process_id, event)]
        return state, park_until_linked(state, event, now)
    if state.process_id is None:
        outputs: list[LinkOutput] = [] if registers else [Forward(own, event)]
        return state, outputs + _link_and_release(state, own, now)
    outputs = [] if registers else [Forward(own, event)]
    if state.process_id != own:
        outputs.append(
            _exception(
                state,
                event,
                now,
                f"account {state.account_ref} is linked to {state.process_id}; "
                f"{event.schema} claims it for {own}",
                ExceptionKind.INVALID_TRANSITION,
            )
        )
    return state, outputs


def _link_and_release(state: LinkState, process_id: str, now: datetime) -> list[LinkOutput]:
    """Link the account to `process_id` and forward everything parked for it, earliest first
    (a waiting walk-in registration among them: it joins), each reported one with the notice
    that resolves its exception."""
    state.process_id = process_id
    released = sorted(state.parked.values(), key=lambda p: (p.event.occurred_at, p.event.event_id))
    state.parked.clear()
    outputs: list[LinkOutput] = []
    for parked in released:
        outputs.append(Forward(process_id, parked.event))
        if parked.reported:
            outputs.append(_resolution(state, parked.event, now))
    return outputs


def park_until_linked(
    state: LinkState, event: Event, now: datetime, opens: str | None = None
) -> list[LinkOutput]:
    """Park `event` until its account is linked (`opens`: a walk-in registration, which opens
    that instance itself after `WALK_IN_WAIT` if nothing links the account first)."""
    if event.event_id in state.parked:
        return []  # redelivery of an event already waiting
    if len(state.parked) >= MAX_PARKED_PER_ACCOUNT:
        return [
            _exception(
                state,
                event,
                now,
                "too many events waiting for this account",
                ExceptionKind.UNLINKED_EVENT,
            )
        ]
    wait = LINK_PARK_TTL if opens is None else WALK_IN_WAIT
    state.parked[event.event_id] = LinkParked(event.occurred_at + wait, event, opens=opens)
    return []


def link_overdue(state: LinkState, until: datetime) -> tuple[LinkState, list[LinkOutput]]:
    """The account's parked deadlines that fell strictly before `until` (its own event's time less
    the allowed lateness), fired at `until` before that event is applied (see `core.overdue`)."""
    due = state.next_deadline()
    if due is None or due >= until:
        return state, []
    return link_on_deadline(state, until)


def link_on_deadline(state: LinkState, now: datetime) -> tuple[LinkState, list[LinkOutput]]:
    """A walk-in registration whose wait has passed on event time `now` opens its instance, and
    everything parked for the account follows it. Otherwise report every parked event whose
    deadline has passed (once: it stays parked), and drop those past the hard limit."""
    opening = min(
        (
            (p.event.occurred_at, p.event.event_id, p.opens)
            for p in state.parked.values()
            if p.opens and p.deadline <= now
        ),
        default=None,
    )
    if opening is not None and state.process_id is None:
        return state, _link_and_release(state, opening[2], now)
    expired = sorted(
        (p for p in state.parked.values() if p.deadline <= now),
        key=lambda p: (p.event.occurred_at, p.event.event_id),
    )
    outputs: list[LinkOutput] = []
    for parked in expired:
        event = parked.event
        hard_limit = event.occurred_at + LINK_PARK_HARD_LIMIT
        if now >= hard_limit:
            del state.parked[event.event_id]
            outputs.append(
                _exception(
                    state,
                    event,
                    now,
                    f"dropped: no appointment, case or encounter linked account "
                    f"{state.account_ref} within {LINK_PARK_HARD_LIMIT.days} days",
                    ExceptionKind.UNLINKED_EVENT,
                    tag="hard-limit",
                )
            )
            continue
        state.parked[event.event_id] = LinkParked(hard_limit, event, reported=True)
        outputs.append(
            _exception(
                state,
                event,
                now,
                f"no appointment, case or encounter linked account "
                f"{state.account_ref} within {LINK_PARK_TTL.days} days; kept until "
                f"{iso(hard_limit)} in case it comes",
                ExceptionKind.UNLINKED_EVENT,
            )
        )
    return state, outputs


def _exception(
    state: LinkState,
    event: Event,
    now: datetime,
    reason: str,
    kind: ExceptionKind,
    tag: str | None = None,
    resolves: str | None = None,
) -> WorkQueueException:
    return WorkQueueException(
        exception_id=stable_id(
            "link",
            kind.value,
            state.account_ref,
            event.event_id,
            *((tag,) if tag is not None else ()),
        ),
        process_id=state.process_id,
        kind=kind,
        reason=reason,
        event_id=event.event_id,
        event_type=event.schema,
        raised_at=now,
        amount=money_of(event),
        resolves_exception_id=resolves,
    )


def _resolution(state: LinkState, event: Event, now: datetime) -> WorkQueueException:
    """The notice closing the exception `link_on_deadline` raised for `event`: linked after all."""
    raised = _exception(state, event, now, "", ExceptionKind.UNLINKED_EVENT)
    return _exception(
        state,
        event,
        now,
        f"account {state.account_ref} linked to "
        f"{state.process_id} after all; {event.schema} forwarded",
        ExceptionKind.UNLINKED_EVENT,
        tag="resolved",
        resolves=raised.exception_id,
    )
