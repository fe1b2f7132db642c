"""Plausibility at the door: the rule the ingest stage and `s2c replay` apply to every event
before it may touch an instance, so that what cannot be true is refused with a reason instead of
being posted to the ERP.

An event is refused when
- its business time is further than the window from the partition's stream time (either way), or
  further ahead of or behind the clock than allowed: an event dated 2999 would otherwise move
  stream time a millennium and fire every deadline at once, one dated 1970 would open an instance
  already decades late;
- a business key (`BUSINESS_KEYS`: the event id, appointment, case, account, claim ids...) it
  carries is empty or malformed: events with an empty key would all merge into one instance;
- an amount has the wrong sign for its event type or lies beyond the largest plausible amount: a
  negative charge would be journaled as a credit.

Reasons name the field and the rule, never the value: a key may be an account number, a time a
date of service. Pure: time, the window and the limits are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from s2c.tables.events import Event

# Fields that name a business instance or a business fact; the master-data ids (site, payer,
# provider...) are checked against master data by the core instead.
BUSINESS_KEYS = (
    "appointment_id",
    "case_id",
    "account_number",
    "encounter_id",
    "authorization_id",
    "charge_id",
    "reverses_charge_id",
    "claim_id",
    "remittance_id",
    "adjustment_id",
    "denial_id",
    "reversal_id",
    "reverses_remittance_id",
)
MAX_KEY_LENGTH = 128
# The amounts that can only be zero or positive, per event type. An adjustment or a denial (X12
# CAS) may be negative: a payer's negative adjustment adds to what is owed.
NOT_NEGATIVE = {
    "ChargePosted": ("amount",),
    "ChargeReversed": ("amount",),  # the amount taken back, as a positive figure
    "ClaimSubmitted": ("total_charge",),
    "PaymentPosted": ("paid_amount",),
    "PaymentReversed": ("amount",),
}
# An 835 reversal (CLP02 = 22) repeats the CAS it undoes negated, denials included.
SIGNED = {"AdjustmentPosted": ("amount",), "DenialReceived": ("denied_amount",)}

# Reasons (the dead-letter reason header and replay's `reason`).
IMPLAUSIBLE_TIME = "implausible-time"
BAD_KEY = "bad-business-key"
BAD_AMOUNT = "bad-amount"


@dataclass(frozen=True)
class Limits:
    """How far business time may be from stream time (either way) and from the clock, and the
    largest amount (in absolute value) an event may carry."""

    stream: timedelta = timedelta(days=366)
    ahead_of_clock: timedelta = timedelta(days=31)
    behind_clock: timedelta = timedelta(days=3660)
    max_amount: Decimal = Decimal("10000000")


class Implausible(ValueError):
    """An event refused at the door; `reason` is one of the reason codes above."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def refusal(
    event: Event, stream_time: datetime | None, clock: datetime | None, limits: Limits
) -> Implausible | None:
    """Why `event` must not be applied, or None. `stream_time` is the partition's (None before
    its first event); `clock` the wall clock (None: judged on stream time alone, as replay)."""
    return _time(event, stream_time, clock, limits) or _keys(event) or _amounts(event, limits)


def _time(
    event: Event, stream_time: datetime | None, clock: datetime | None, limits: Limits
) -> Implausible | None:
    at = event.occurred_at
    if stream_time is not None:
        if at > stream_time + limits.stream:
            return Implausible(
                IMPLAUSIBLE_TIME,
                f"business time is more than {_days(limits.stream)} ahead of stream time",
            )
        if at < stream_time - limits.stream:
            return Implausible(
                IMPLAUSIBLE_TIME,
                f"business time is more than {_days(limits.stream)} behind stream time",
            )
    if clock is not None:
        if at > clock + limits.ahead_of_clock:
            return Implausible(
                IMPLAUSIBLE_TIME,
                f"business time is more than {_days(limits.ahead_of_clock)} ahead of the clock",
            )
        if at < clock - limits.behind_clock:
            return Implausible(
                IMPLAUSIBLE_TIME,
                f"business time is more than {_days(limits.behind_clock)} behind the clock",
            )
    return None


def _keys(event: Event) -> Implausible | None:
    checked: list[tuple[str, Any]] = [("event_id", event.event_id)]
    checked += [(name, getattr(event, name, None)) for name in BUSINESS_KEYS]
    for name, value in checked:
        if value is None:
            continue  # absent where the schema allows it; a required one fails decoding
        if not isinstance(value, str) or not value.strip():
            return Implausible(BAD_KEY, f"{event.schema}.{name} is empty")
        if len(value) > MAX_KEY_LENGTH or value != value.strip() or not value.isprintable():
            return Implausible(
                BAD_KEY,
                f"{event.schema}.{name} is malformed (surrounding spaces, control characters "
                f"or over {MAX_KEY_LENGTH} characters)",
            )
    return None


def _amounts(event: Event, limits: Limits) -> Implausible | None:
    schema = event.schema
    amounts = [(name, getattr(event, name), False) for name in NOT_NEGATIVE.get(schema, ())]
    amounts += [(name, getattr(event, name), True) for name in SIGNED.get(schema, ())]
    for index, line in enumerate(getattr(event, "lines", ()) if schema == "ClaimSubmitted" else ()):
        amounts.append((f"lines[{index}].charge", line.charge, False))
    for name, value, signed in amounts:
        if not isinstance(value, Decimal) or not value.is_finite():
            return Implausible(BAD_AMOUNT, f"{schema}.{name} is not a finite amount")
        if value < 0 and not signed:
            return Implausible(BAD_AMOUNT, f"{schema}.{name} is negative")
        if abs(value) > limits.max_amount:
            return Implausible(BAD_AMOUNT, f"{schema}.{name} is beyond {limits.max_amount}")
    return None


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):g} days"
