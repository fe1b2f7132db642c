"""Deviations from the reference schedule-to-cash path, injected at known episodes, and the truth.

With `--deviation-rate F`, each scheduled episode (appointment or surgical case) is picked with
chance F and given one deviation of a kind it can carry (the kind least injected so far on its
site-day, so a small day gets every kind). Its planned events get other business times before
the feed noise (which draws once per event, so their number stays), and the events it adds go on
the timeline after the noise, in time order and without noise of their own:

- `SKIPPED_AUTHORIZATION`: the approval comes a day after discharge (a retro-authorization), so
  the case is completed without one;
- `CLAIM_BEFORE_CHARGE`: the first claim is sent a minute before the first charge;
- `PAYMENT_BEFORE_CLAIM`: the first payment is dated an hour before the first claim;
- `REWORK_RESCHEDULE`: moved a day later and back again before the visit (two reschedules);
- `REWORK_CLAIM`: a first claim rejected by the 277CA, then the planned claim as its correction;
- `REWORK_CHARGE`: the first charge reversed and posted again before the claim (net unchanged).

The truth is every deviation the day holds, injected or not: the generator's own behaviour makes
two kinds too (a denied authorization whose case goes ahead anyway: `SKIPPED_AUTHORIZATION`; a
rejected claim sent again: `REWORK_CLAIM`). One line per deviation in `deviations.jsonl` beside
`events.jsonl`: `{"trace": ..., "process_id": ..., "kind": ..., "event_id": ..., "injected": ...}`,
`event_id` being the event the pipeline blames (tables/conformance.py) and `process_id` the
instance (None for a walk-in, whose id depends on the pipeline's key: match it by `trace`, the
events' `correlation_id`). The choice uses its own RNG per episode, so the business content and
the noise of every other episode are the same as without the option. With `--finance-faults`
too, the finance faults are chosen among the episodes this truth does not name
(`faults_finance.py`), so both truths stay exact.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s2c.streams.synth.ids import DAY, HOUR, MINUTE
from s2c.tables.conformance import KINDS

if TYPE_CHECKING:
    from s2c.streams.synth.planner import Episode, Planner

TRUTH_FILE = "deviations.jsonl"
Planned = list[list[Any]]  # the episode's [occurred_ms, schema, extra], its index is `k`


class Injector:
    """Picks episodes and kinds; counts what it injected per site-day (a site-day's choices
    do not depend on which process plans the other sites)."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate, self.seed = rate, seed
        self._day: tuple[str, str] | None = None
        self._counts: Counter[str] = Counter()

    def apply(
        self, pl: Planner, ep: Episode, events: Planned
    ) -> tuple[list[dict[str, Any]], Planned]:
        """Inject (maybe) into the episode's planned `events` (business times only: the feed
        noise draws once per event, so their number must not change) and return its truth
        lines and the events to add after the noise (their index `k` goes on from `events`)."""
        assert pl.site is not None
        day = (pl.site.site_id, pl.day_tag)
        if day != self._day:
            self._day, self._counts = day, Counter()
        truth, added = _natural(ep, events), []
        if not (ep.appointment_id or ep.case_id) or truth:
            return truth, added  # only clean scheduled episodes get an injection
        rng = random.Random(f"{self.seed}:deviations:{ep.trace}")
        if rng.random() >= self.rate:
            return truth, added
        eligible = [kind for kind in KINDS if _INJECT[kind][0](events)]
        if not eligible:
            return truth, added
        kind = min(eligible, key=lambda k: (self._counts[k], KINDS.index(k)))
        self._counts[kind] += 1
        pl.episodes[f"deviation.{kind}"] += 1
        blamed = _INJECT[kind][1](events, added)
        return [_line(ep, kind, blamed, injected=True)], added


def write_truth(out_dir: Path, truth: list[dict[str, Any]]) -> int:
    lines = sorted(truth, key=lambda t: (t["trace"], t["event_id"]))
    (out_dir / TRUTH_FILE).write_text(
        "".join(json.dumps(t, separators=(",", ":")) + "\n" for t in lines), encoding="utf-8"
    )
    return len(lines)


def _line(ep: Episode, kind: str, k: int, injected: bool) -> dict[str, Any]:
    process_id = (
        f"CASE-{ep.case_id}"
        if ep.case_id
        else f"APPT-{ep.appointment_id}"
        if ep.appointment_id
        else None
    )
    return {
        "trace": ep.trace,
        "process_id": process_id,
        "kind": kind,
        "event_id": f"EV-{ep.trace[3:]}.{k:02d}",
        "injected": injected,
    }


def _first(events: Planned, schema: str) -> int | None:
    found = [k for k, e in enumerate(events) if e[1] == schema]
    return min(found, key=lambda k: events[k][0]) if found else None


def _has(events: Planned, *schemas: str) -> bool:
    return all(_first(events, s) is not None for s in schemas)


def _natural(ep: Episode, events: Planned) -> list[dict[str, Any]]:
    """Deviations the generator's ordinary behaviour planned for this episode."""
    truth = []
    if _has(events, "AuthorizationDenied", "CaseCompleted") and not _has(
        events, "AuthorizationApproved"
    ):
        truth.append(_line(ep, "SKIPPED_AUTHORIZATION", _first_k(events, "CaseCompleted"), False))
    rejected = _first(events, "ClaimRejected")
    if rejected is not None:
        for k, (at, schema, _) in enumerate(events):
            if schema == "ClaimSubmitted" and at >= events[rejected][0]:
                truth.append(_line(ep, "REWORK_CLAIM", k, False))
    return truth


def _first_k(events: Planned, schema: str) -> int:
    k = _first(events, schema)
    assert k is not None
    return k


def _last_charge_ms(events: Planned) -> int:
    return max(e[0] for e in events if e[1] in ("ChargePosted", "ChargeReversed"))


# Each kind: (can the episode carry it, change the events and return the blamed event's index).
def _skip_authorization(events: Planned, added: Planned) -> int:
    approval = _first_k(events, "AuthorizationApproved")
    events[approval][0] = events[_first_k(events, "EncounterCompleted")][0] + DAY
    return _first_k(events, "CaseCompleted")


def _claim_before_charge(events: Planned, added: Planned) -> int:
    claim = _first_k(events, "ClaimSubmitted")
    events[claim][0] = events[_first_k(events, "ChargePosted")][0] - MINUTE
    return claim


def _payment_before_claim(events: Planned, added: Planned) -> int:
    payment = _first_k(events, "PaymentPosted")
    events[payment][0] = events[_first_k(events, "ClaimSubmitted")][0] - HOUR
    return payment


def _rework_reschedule(events: Planned, added: Planned) -> int:
    booking = _first(events, "CaseScheduled")
    if booking is not None:
        start, room, minutes = events[booking][2][0], events[booking][2][1], events[booking][2][2]
        away, back, schema = (start + DAY, minutes, room), (start, minutes, room), "CaseRescheduled"
    else:
        booking = _first_k(events, "AppointmentScheduled")
        start, duration = events[booking][2][0], events[booking][2][1]
        away, back, schema = (start + DAY, duration), (start, duration), "AppointmentRescheduled"
    booked, arrival = events[booking][0], events[_first_k(events, "EncounterStarted")][0]
    span = max(arrival - booked, 10 * MINUTE)
    added.append([booked + span * 6 // 10, schema, away])
    added.append([booked + span * 8 // 10, schema, back])
    return len(events) + 1


def _rework_claim(events: Planned, added: Planned) -> int:
    claim = _first_k(events, "ClaimSubmitted")
    at, extra = events[claim][0], events[claim][2]
    charged = _last_charge_ms(events)
    attempt = f"{extra[0].rsplit('-', 1)[0]}-0"
    added.append([charged + (at - charged) // 3, "ClaimSubmitted", (attempt, *extra[1:])])
    added.append(
        [
            charged + (at - charged) * 2 // 3,
            "ClaimRejected",
            (attempt, "A7", "21", "Missing or invalid information"),
        ]
    )
    return claim


def _rework_charge(events: Planned, added: Planned) -> int:
    first = _first_k(events, "ChargePosted")
    charge_id, code, units, amount, service_date = events[first][2]
    charged = _last_charge_ms(events)
    added.append([charged + 10 * MINUTE, "ChargeReversed", (f"{charge_id}X", charge_id, amount)])
    added.append(
        [
            charged + 20 * MINUTE,
            "ChargePosted",
            (f"{charge_id}P", code, units, amount, service_date),
        ]
    )
    return len(events) + 1


def _schedule_changed(events: Planned) -> bool:
    return _has(events, "AppointmentRescheduled") or _has(events, "CaseRescheduled")


def _paid_on_claim(events: Planned) -> bool:
    payment = _first(events, "PaymentPosted")
    return (
        payment is not None and events[payment][2][1] is not None and _has(events, "ClaimSubmitted")
    )


_INJECT = {
    "SKIPPED_AUTHORIZATION": (
        lambda ev: _has(ev, "AuthorizationApproved", "CaseCompleted", "EncounterCompleted"),
        _skip_authorization,
    ),
    "CLAIM_BEFORE_CHARGE": (
        lambda ev: _has(ev, "ClaimSubmitted", "ChargePosted"),
        _claim_before_charge,
    ),
    "PAYMENT_BEFORE_CLAIM": (_paid_on_claim, _payment_before_claim),
    "REWORK_RESCHEDULE": (
        lambda ev: _has(ev, "EncounterStarted") and not _schedule_changed(ev),
        _rework_reschedule,
    ),
    "REWORK_CLAIM": (lambda ev: _has(ev, "ClaimSubmitted", "ChargePosted"), _rework_claim),
    "REWORK_CHARGE": (
        lambda ev: _has(ev, "ChargePosted") and not _has(ev, "ChargeReversed"),
        _rework_charge,
    ),
}
