"""Episodes without an operating room: scheduled clinic visits, walk-ins and emergency visits.

A clinic visit is booked up to `max_lead_days` before it happens (local clinic hours 08:00-17:00),
may be modified, rescheduled (the final start is on the simulated day, the original one around it),
cancelled or missed (no-show); the rest arrive, are seen and discharged, and go through the revenue
cycle. Walk-ins and emergency visits have no appointment: their first event is EncounterStarted.
"""

from __future__ import annotations

from s2c.streams.synth import reference as ref
from s2c.streams.synth.ids import DAY, HOUR, MINUTE
from s2c.streams.synth.planner import Planner, Weighted, between, pick
from s2c.streams.synth.revenue import plan_revenue

_CLINICS = Weighted(list(ref.CLINIC_WEIGHTS), list(ref.CLINIC_WEIGHTS.values()))
_CLINIC_EM = Weighted([p.code for p in ref.CLINIC_EM], ref.CLINIC_EM_WEIGHTS)
_ED_EM = Weighted([p.code for p in ref.ED_EM], ref.ED_EM_WEIGHTS)
_DURATIONS = {"99203": 30, "99204": 45, "99213": 15, "99214": 25, "99215": 40}
# ED arrivals by local hour: low at night, peak late morning to evening.
_ED_HOURS = Weighted(
    range(24), (2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 4, 3, 3)
)


def _lines(pl: Planner, em_code: str, ancillary_dept: str, most: int) -> list[tuple[str, int]]:
    lines = [(em_code, 1)]
    for proc in ref.ANCILLARY[ancillary_dept]:
        if len(lines) <= most and pl.rng.random() < 0.3:
            lines.append((proc.code, 1))
    return lines


def _encounter(pl: Planner, arrival: int, discharge: int, encounter_class: str) -> None:
    pl.emit(arrival, "EncounterStarted", encounter_class)
    pl.emit(discharge, "EncounterCompleted")


def plan_clinic_visit(pl: Planner, n: int) -> None:
    rng, p, site = pl.rng, pl.system.params, pl.site
    assert site is not None
    code = _CLINICS.draw(rng)
    ep = pl.episode("CLINIC", n, code, ref.CLINICS[code], pick(rng, site.providers[code]))
    ep.appointment_id = f"A-{site.site_id}-{pl.day_tag[2:]}-{n:06d}"
    em = _CLINIC_EM.draw(rng)
    ep.procedure_codes = [em]
    duration = _DURATIONS[em]
    start = pl.day_ms + 8 * HOUR + between(rng, 0, 36 - 1) * 15 * MINUTE
    original = start
    rescheduled = rng.random() < p.reschedule_rate
    if rescheduled and p.max_lead_days > 0:  # booked for another day first; the final slot is today
        original = (
            start
            + pick(rng, (-3, -2, -1, 1, 2, 5, 7)) * DAY
            + between(rng, -8, 9 - 1) * 15 * MINUTE
        )
    elif rescheduled:  # same-day booking: moved within the day
        original = start + pick(rng, (-2, -1, 1, 2)) * HOUR
    earliest = min(start, original)
    if p.max_lead_days > 0:
        booked = (
            earliest - between(rng, 1, p.max_lead_days) * DAY - between(rng, 0, 8 * 60 - 1) * MINUTE
        )
    else:
        booked = (
            pl.day_ms + between(rng, 0, max(1, (earliest - pl.day_ms) // MINUTE - 90) - 1) * MINUTE
        )
    ep.pre_registered = rng.random() < 0.7
    pl.emit(booked, "AppointmentScheduled", (original, duration, ep.payer_id))
    last = booked
    if not ep.pre_registered and rng.random() < 0.3:
        last = booked + (earliest - booked) // 4
        pl.emit(last, "AppointmentModified", {"account_number": ep.account})
    elif rng.random() < 0.04:  # insurance updated after booking
        ep.payer_id = pick(rng, [x.payer_id for x in ref.PAYERS if x.payer_id != ep.payer_id])
        last = booked + (earliest - booked) // 4
        pl.emit(last, "AppointmentModified", {"payer_id": ep.payer_id})
    if rescheduled:
        last = last + (earliest - last) // 2
        pl.emit(last, "AppointmentRescheduled", (start, duration))
    outcome = rng.random()
    if outcome < p.cancel_rate:
        pl.emit(
            last + (start - last) * 3 // 4, "AppointmentCancelled", pick(rng, ref.CANCEL_REASONS)
        )
        pl.finish(ep, "clinic_visit.cancelled")
        return
    if outcome < p.cancel_rate + p.no_show_rate:
        pl.emit(start + between(rng, 15, 30) * MINUTE, "AppointmentNoShow")
        pl.finish(ep, "clinic_visit.no_show")
        return
    arrival = start + between(rng, -20, 15) * MINUTE
    discharge = arrival + (duration + between(rng, 10, 45)) * MINUTE
    _encounter(pl, arrival, discharge, "OUTPATIENT")
    plan_revenue(
        pl,
        ep,
        arrival,
        discharge,
        _lines(pl, em, code, 2),
        "PROFESSIONAL",
        pl.system.npi[ep.provider_id],
    )
    pl.finish(ep, "clinic_visit.completed" if not rescheduled else "clinic_visit.rescheduled")


def plan_walk_in(pl: Planner, n: int) -> None:
    rng, site = pl.rng, pl.site
    assert site is not None
    ep = pl.episode("WALK_IN", n, "PRIM", "SL-PRIM", pick(rng, site.providers["PRIM"]))
    em = pick(rng, ("99213", "99214"))
    arrival = pl.day_ms + 8 * HOUR + between(rng, 0, 10 * 60 - 1) * MINUTE
    discharge = arrival + between(rng, 30, 120) * MINUTE
    _encounter(pl, arrival, discharge, "OUTPATIENT")
    plan_revenue(
        pl,
        ep,
        arrival,
        discharge,
        _lines(pl, em, "PRIM", 2),
        "PROFESSIONAL",
        pl.system.npi[ep.provider_id],
    )
    pl.finish(ep, "walk_in")


def plan_emergency(pl: Planner, n: int) -> None:
    rng, site = pl.rng, pl.site
    assert site is not None
    ep = pl.episode("EMERGENCY", n, ref.ED_DEPT, "SL-EMER", pick(rng, site.providers[ref.ED_DEPT]))
    em = _ED_EM.draw(rng)
    hour = _ED_HOURS.draw(rng)
    arrival = pl.day_ms + hour * HOUR + between(rng, 0, 60 - 1) * MINUTE
    discharge = arrival + between(rng, 90, 420) * MINUTE
    _encounter(pl, arrival, discharge, "EMERGENCY")
    plan_revenue(
        pl,
        ep,
        arrival,
        discharge,
        _lines(pl, em, ref.ED_DEPT, 4),
        "INSTITUTIONAL",
        pl.system.npi[site.facility_provider_id],
    )
    pl.finish(ep, "emergency")
