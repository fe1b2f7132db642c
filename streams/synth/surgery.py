"""Surgical cases: booking with a preference card, prior authorization, the day of surgery, billing.

Cases start in the OR between 07:30 and 15:45 local. Payers that ask for prior authorization get an
AuthorizationRequested shortly after booking and a decision hours to days later (sometimes less
than 48 h before surgery, which the pipeline's SLA should flag). Some needed authorizations are
never requested, and some denied ones still go ahead: both tend to come back as CO-197 denials.
Supplies used follow the preference card with small deviations (an item opened but not used, one
extra), so issued-vs-reserved differences are realistic.
"""

from __future__ import annotations

from s2c.streams.synth import reference as ref
from s2c.streams.synth.ids import DAY, HOUR, MINUTE
from s2c.streams.synth.planner import Episode, Planner, Weighted, between, pick
from s2c.streams.synth.revenue import plan_revenue

_SERVICE_LINES = Weighted(list(ref.SURGERY_WEIGHTS), list(ref.SURGERY_WEIGHTS.values()))
_NEEDS_AUTH = {p.payer_id for p in ref.PAYERS if p.needs_auth}


def plan_case(pl: Planner, n: int) -> None:
    rng, p, site, system = pl.rng, pl.system.params, pl.site, pl.system
    assert site is not None
    sl = _SERVICE_LINES.draw(rng)
    procs = list(ref.SURGERY[sl])
    primary = pick(rng, procs)
    codes = [primary.code]
    minutes = primary.minutes + 30  # turnover
    if len(procs) > 1 and rng.random() < 0.15:
        second = pick(rng, [x for x in procs if x.code != primary.code])
        codes.append(second.code)
        minutes += second.minutes
    surgeon = pick(rng, site.providers[sl])
    ep = pl.episode("SURGERY", n, ref.OR_DEPT, sl, surgeon)
    ep.case_id = f"C-{site.site_id}-{pl.day_tag[2:]}-{n:06d}"
    ep.procedure_codes = codes
    ep.pre_registered = rng.random() < 0.9
    card_id = system.card_for(surgeon, primary.code)
    room = pick(rng, site.rooms)
    start = pl.day_ms + 7 * HOUR + 30 * MINUTE + between(rng, 0, 34 - 1) * 15 * MINUTE
    original, original_room = start, room
    rescheduled = rng.random() < p.case_reschedule_rate
    if rescheduled:
        shift = pick(rng, (-7, -3, -2, -1, 1, 2, 7)) * DAY if p.max_lead_days > 0 else -2 * HOUR
        original, original_room = start + shift, pick(rng, site.rooms)
    earliest = min(start, original)
    if p.max_lead_days > 0:
        lead = between(rng, min(2, p.max_lead_days), p.max_lead_days)
        booked = earliest - lead * DAY - between(rng, 0, 8 * 60 - 1) * MINUTE
    else:
        booked = (
            pl.day_ms + between(rng, 0, max(1, (earliest - pl.day_ms) // MINUTE - 120) - 1) * MINUTE
        )
    pl.emit(booked, "CaseScheduled", (original, original_room, minutes, card_id, ep.payer_id))
    last = booked
    if rescheduled:
        last = booked + (earliest - booked) // 3
        pl.emit(last, "CaseRescheduled", (start, minutes, room))
    auth_problem, cancelled = _authorize(pl, ep, booked, start)
    if not cancelled and rng.random() < p.case_cancel_rate:
        cancelled = True
        pl.emit(last + (start - last) * 3 // 4, "CaseCancelled", pick(rng, ref.CASE_CANCEL_REASONS))
    if cancelled:
        pl.finish(ep, "surgery.cancelled")
        return
    arrival = start - between(rng, 60, 120) * MINUTE
    actual = max(10, round(minutes * (0.8 + 0.55 * rng.random())))
    end = start + actual * MINUTE
    pl.emit(arrival, "EncounterStarted", "SURGERY")
    pl.emit(end, "CaseCompleted", (actual, _supplies_used(pl, card_id)))
    discharge = end + between(rng, 90, 300) * MINUTE
    pl.emit(discharge, "EncounterCompleted")
    lines = [(code, 1) for code in codes]
    for proc in ref.ANCILLARY[ref.OR_DEPT]:
        if rng.random() < 0.5:
            lines.append((proc.code, 1))
    plan_revenue(
        pl,
        ep,
        start,
        discharge,
        lines,
        "INSTITUTIONAL",
        system.npi[site.facility_provider_id],
        auth_problem,
    )
    pl.finish(ep, "surgery.rescheduled" if rescheduled else "surgery.completed")


def _authorize(pl: Planner, ep: Episode, booked: int, start: int) -> tuple[bool, bool]:
    """Plans the prior authorization; returns (authorization problem, case cancelled)."""
    rng, p = pl.rng, pl.system.params
    if ep.payer_id not in _NEEDS_AUTH:
        return False, False
    if rng.random() < p.auth_missing_rate:
        pl.episodes["auth.missing"] += 1
        return True, False
    requested = min(booked + between(rng, 1, 24) * HOUR, start - 3 * HOUR)
    requested = max(requested, booked + MINUTE)
    decided = requested + between(rng, 4, 5 * 24) * HOUR
    decided = max(requested + 10 * MINUTE, min(decided, start - HOUR))
    pl.emit(requested, "AuthorizationRequested")
    if rng.random() < p.auth_denied_rate:
        pl.emit(decided, "AuthorizationDenied", "Not medically necessary per payer criteria")
        pl.episodes["auth.denied"] += 1
        if rng.random() < 0.7:
            pl.emit(decided + (start - decided) // 3, "CaseCancelled", "AUTHORIZATION_DENIED")
            return True, True
        return True, False
    pl.emit(decided, "AuthorizationApproved", (f"AUTH{ep.account[1:]}", start + 30 * DAY))
    pl.episodes["auth.approved"] += 1
    return False, False


def _supplies_used(pl: Planner, card_id: str) -> list[dict[str, object]]:
    rng = pl.rng
    used = []
    for item in pl.system.cards[card_id]["items"]:
        qty = item["quantity"]
        if qty > 1 and rng.random() < 0.1:
            qty -= 1  # opened fewer than planned
        elif rng.random() < 0.06:
            qty += 1  # one extra opened
        used.append({"item_id": item["item_id"], "quantity": qty})
    return used
