"""The LINK stage (keyed by `account_number`): which process instance an account belongs to.

Events that carry their own process id register `account -> process id` and are forwarded. Events
that only carry the account (charges, claims, remittances, discharges) are forwarded to the linked
process, or parked here until the link arrives; at the park deadline (event time + `LINK_PARK_TTL`)
they become `UNLINKED_EVENT` exceptions. The first link wins: a second process claiming an account
is reported, not silently re-pointed, because moving money between episodes needs a person.

`link_transition` may mutate and return the state it is given (the adapter deserializes a fresh one
per key), which keeps the hot path free of copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from s2c.tables.codec import iso, to_datetime, to_native
from s2c.tables.events import Event, event_from_record, money_of
from s2c.tables.outputs import Forward, WorkQueueException, stable_id
from s2c.tables.routing import process_id_of
from s2c.tables.vocabulary import ExceptionKind

LINK_PARK_TTL = timedelta(days=7)
MAX_PARKED_PER_ACCOUNT = 500  # bounds the state; beyond it an event is reported at once

LinkOutput: TypeAlias = Forward | WorkQueueException


@dataclass(slots=True)
class LinkState:
    account_number: str
    process_id: str | None = None
    parked: dict[str, tuple[datetime, Event]] = field(default_factory=dict)

    def next_deadline(self) -> datetime | None:
        return min((deadline for deadline, _ in self.parked.values()), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"account_number": self.account_number, "process_id": self.process_id,
                "parked": [[iso(d), e.schema, to_native(e)] for d, e in self.parked.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkState:
        parked = {}
        for deadline, schema, record in data["parked"]:
            event = event_from_record(schema, record)
            parked[event.event_id] = (to_datetime(deadline), event)
        return cls(data["account_number"], data["process_id"], parked)


def link_transition(state: LinkState | None, event: Event,
                    now: datetime) -> tuple[LinkState, list[LinkOutput]]:
    account: str = event.account_number  # type: ignore[attr-defined]
    if state is None:
        state = LinkState(account)
    own = process_id_of(event)
    if own is None:
        if state.process_id is not None:
            return state, [Forward(state.process_id, event)]
        return state, park_until_linked(state, event, now)
    if state.process_id is None:
        state.process_id = own
        released = sorted(state.parked.values(), key=lambda p: (p[1].occurred_at, p[1].event_id))
        state.parked.clear()
        return state, [Forward(own, event)] + [Forward(own, e) for _, e in released]
    outputs: list[LinkOutput] = [Forward(own, event)]
    if state.process_id != own:
        outputs.append(_exception(
            state, event, now, f"account {account} is linked to {state.process_id}; "
            f"{event.schema} claims it for {own}", ExceptionKind.INVALID_TRANSITION))
    return state, outputs


def park_until_linked(state: LinkState, event: Event, now: datetime) -> list[LinkOutput]:
    if event.event_id in state.parked:
        return []  # redelivery of an event already waiting
    if len(state.parked) >= MAX_PARKED_PER_ACCOUNT:
        return [_exception(state, event, now, "too many events waiting for this account",
                           ExceptionKind.UNLINKED_EVENT)]
    state.parked[event.event_id] = (event.occurred_at + LINK_PARK_TTL, event)
    return []


def link_on_deadline(state: LinkState, now: datetime) -> tuple[LinkState, list[LinkOutput]]:
    """Report every parked event whose deadline has passed on event time `now`."""
    expired = sorted((e for d, e in state.parked.values() if d <= now),
                     key=lambda e: (e.occurred_at, e.event_id))
    outputs: list[LinkOutput] = []
    for event in expired:
        del state.parked[event.event_id]
        outputs.append(_exception(
            state, event, now, f"no appointment, case or encounter linked account "
            f"{state.account_number} within {LINK_PARK_TTL.days} days",
            ExceptionKind.UNLINKED_EVENT))
    return state, outputs


def _exception(state: LinkState, event: Event, now: datetime, reason: str,
               kind: ExceptionKind) -> WorkQueueException:
    return WorkQueueException(
        exception_id=stable_id("link", kind.value, state.account_number, event.event_id),
        process_id=state.process_id, kind=kind, reason=reason, event_id=event.event_id,
        event_type=event.schema, raised_at=now, amount=money_of(event))

