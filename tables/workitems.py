"""Work items the business closes itself: which later event fixes which item.

When a handler raises a work item one of these rules can close, the instance remembers it
(`ProcessState.fixable`: exception id -> what the fix must match); every event applied after it
is checked against the rules, and a fix emits the resolution notice (a `WorkQueueException` with
`resolves_exception_id`, as for a parked event applied after its report), so replay and the live
workers close the same items with the same ids.

- `DENIAL`: the payer takes the denial back (a negative denial on the same claim, the 835
  reversal), or pays that claim on a later remittance: a payment more than
  `SAME_REMITTANCE_WINDOW` after the denial (the other lines of the denial's own remittance fix
  nothing), unless a payment of the instance was reversed since the denial (a re-posting of
  money already counted, not the denied money).
- `CLAIM_REJECTED`: a clearinghouse acceptance (277CA, `ClaimAcknowledged`) that happened after
  the rejection, of that claim or of the corrected claim sent in its place.
- `AUTHORIZATION_DENIED`: an approval that happened after the denial.
- `TIE_OUT` (supplies issued at zero cost off the preference card): the account ties out, i.e.
  it was charged and what was charged is all paid, adjusted or denied (A/R balance zero).
- `UNKNOWN_MASTER_DATA`, `UNLINKED_EVENT`: closed already when what the parked event waited for
  arrives (core.py, link.py).

An item is remembered up to `MAX_FIXABLE` per instance (the oldest forgotten first: it stays
open for a person to close). Pure: no I/O, `now` is stream time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from s2c.tables.codec import iso, to_datetime
from s2c.tables.events import Event
from s2c.tables.handling import Output, work_item
from s2c.tables.outputs import WorkQueueException
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import ExceptionKind

SAME_REMITTANCE_WINDOW = timedelta(days=1)
MAX_FIXABLE = 64
FIXABLE_KINDS = frozenset(
    {
        ExceptionKind.DENIAL,
        ExceptionKind.CLAIM_REJECTED,
        ExceptionKind.AUTHORIZATION_DENIED,
        ExceptionKind.TIE_OUT,
    }
)


def remember_fixable(state: ProcessState, raised: list[Output], event: Event) -> None:
    """Note the items in `raised` (caused by `event`) that a later event can close."""
    for item in raised:
        if not isinstance(item, WorkQueueException) or item.kind not in FIXABLE_KINDS:
            continue
        if item.resolves_exception_id is not None:
            continue
        state.fixable[item.exception_id] = {
            "kind": item.kind.value,
            "claim_id": getattr(event, "claim_id", None),
            "at": iso(event.occurred_at),
            "reversed": str(_payments_reversed(state)),
        }
        while len(state.fixable) > MAX_FIXABLE:
            del state.fixable[min(state.fixable, key=lambda k: _order(k, state.fixable[k]))]


def close_fixed(state: ProcessState, event: Event, now: datetime, out: list[Output]) -> None:
    """Emit the notice closing each remembered item that `event` (just applied) fixes."""
    # in the order the items were raised: the state keeps them sorted by id, not by age
    for exception_id, item in sorted(state.fixable.items(), key=lambda kv: _order(*kv)):
        why = _fixes(state, event, item)
        if why is None:
            continue
        del state.fixable[exception_id]
        out.append(
            work_item(
                state,
                event,
                now,
                ExceptionKind(item["kind"]),
                why,
                tag=f"resolves {exception_id}",
                resolves_id=exception_id,
            )
        )


def _fixes(state: ProcessState, event: Event, item: dict[str, Any]) -> str | None:
    """Why `event` fixes `item`, or None when it does not."""
    kind, claim_id, at = item["kind"], item["claim_id"], to_datetime(item["at"])
    schema = event.schema
    same_claim = claim_id is None or getattr(event, "claim_id", None) in (None, claim_id)
    if kind == ExceptionKind.DENIAL.value:
        if schema == "DenialReceived" and same_claim and event.denied_amount < 0:  # type: ignore[attr-defined]
            return "the payer took the denial back"
        if (
            schema == "PaymentPosted"
            and same_claim
            and event.paid_amount > 0  # type: ignore[attr-defined]
            and event.occurred_at - at > SAME_REMITTANCE_WINDOW
            and _payments_reversed(state) == Decimal(item["reversed"])
        ):
            return "the payer paid the denied claim on a later remittance"
        return None
    if kind == ExceptionKind.CLAIM_REJECTED.value:
        if schema == "ClaimAcknowledged" and event.occurred_at > at:
            return "a claim of the account was accepted after the rejection"
        return None
    if kind == ExceptionKind.AUTHORIZATION_DENIED.value:
        if schema == "AuthorizationApproved" and event.occurred_at > at:
            return "the payer approved the authorization after the denial"
        return None
    if kind == ExceptionKind.TIE_OUT.value and state.charged > 0 and state.ar_balance == 0:
        return "the account ties out: every charge is paid, adjusted or denied"
    return None


def _order(exception_id: str, item: dict[str, Any]) -> tuple[str, str]:
    return item["at"], exception_id


def _payments_reversed(state: ProcessState) -> Decimal:
    return sum(
        (amount for key, amount in state.reversed_amounts.items() if key.startswith("payment:")),
        Decimal("0.00"),
    )
