"""Episodes without an operating room: scheduled clinic visits, walk-ins and emergency visits.

A clinic visit is booked up to `max_lead_days` before it happens (local clinic hours 08:00-17:00),
may be modified, rescheduled (the final start is on the simulated day, the original one around it),
cancelled or missed (no-show); the rest arrive, are seen and discharged, and go through the revenue
cycle. Walk-ins and emergency visits have no appointment: their first event is EncounterStarted.
"""

from __future__ import annotations

from s2c.streams.synth import reference as ref
from s2c.streams.synth.ids import DAY, HOUR, MINUTE
from s2c.streams.synth.planner import Planner
from s2c.streams.synth.revenue import plan_revenue

_CLINIC_CODES = list(ref.CLINIC_WEIGHTS)
_CLINIC_WEIGHTS = list(ref.CLINIC_WEIGHTS.values())
_DURATIONS = {"99203": 30, "99204": 45, "99213": 15, "99214": 25, "99215": 40}
# ED arrivals by local hour: low at night, peak late morning to evening.
_ED_HOURLY = (2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 4, 3, 3)


def _lines(pl: Planner, em_code: str, ancillary_dept: str, most: int) -> list[tuple[str, int]]:
    lines = [(em_code, 1)]
    for proc in pl.rng.sample(ref.ANCILLARY[ancillary_dept],
                              min(most, len(ref.ANCILLARY[ancillary_dept]))):
        if pl.rng.random() < 0.45:
            lines.append((proc.code, 1))
    return lines


def _encounter(pl: Planner, arrival: int, discharge: int, encounter_class: str) -> None:
    pl.emit(arrival, "EncounterStarted", encounter_class)
    pl.emit(discharge, "EncounterCompleted")


def plan_clinic_visit(pl: Planner, n: int) -> None:
    rng, p, site = pl.rng, pl.system.params, pl.site
    assert site is not None
    code = rng.choices(_CLINIC_CODES, _CLINIC_WEIGHTS)[0]
    ep = pl.episode("CLINIC", n, code, ref.CLINICS[code], rng.choice(site.providers[code]))
    ep.appointment_id = f"A-{site.site_id}-{pl.day_tag[2:]}-{n:06d}"
    em = rng.choices(ref.CLINIC_EM, ref.CLINIC_EM_WEIGHTS)[0].code
    ep.procedure_codes = [em]
    duration = _DURATIONS[em]
    start = pl.day_ms + 8 * HOUR + rng.randrange(36) * 15 * MINUTE
    original = start
    rescheduled = rng.random() < p.reschedule_rate
    if rescheduled and p.max_lead_days > 0:  # booked for another day first; the final slot is today
        original = start + rng.choice((-3, -2, -1, 1, 2, 5, 7)) * DAY + rng.randrange(-8, 9) * 15 * MINUTE
    elif rescheduled:  # same-day booking: moved within the day
        original = start + rng.choice((-2, -1, 1, 2)) * HOUR
    earliest = min(start, original)
    if p.max_lead_days > 0:
        booked = earliest - rng.randint(1, p.max_lead_days) * DAY - rng.randrange(0, 8 * 60) * MINUTE
    else:
        booked = pl.day_ms + rng.randrange(0, max(1, (earliest - pl.day_ms) // MINUTE - 90)) * MINUTE
    ep.pre_registered = rng.random() < 0.7
    pl.emit(booked, "AppointmentScheduled", (original, duration, ep.payer_id))
    last = booked
    if not ep.pre_registered and rng.random() < 0.3:
        last = booked + (earliest - booked) // 4
        pl.emit(last, "AppointmentModified", {"account_number": ep.account})
    elif rng.random() < 0.04:  # insurance updated after booking
        ep.payer_id = rng.choice([x.payer_id for x in ref.PAYERS if x.payer_id != ep.payer_id])
        last = booked + (earliest - booked) // 4
        pl.emit(last, "AppointmentModified", {"payer_id": ep.payer_id})
    if rescheduled:
        last = last + (earliest - last) // 2
        pl.emit(last, "AppointmentRescheduled", (start, duration))
    outcome = rng.random()
    if outcome < p.cancel_rate:
        pl.emit(last + (start - last) * 3 // 4, "AppointmentCancelled", rng.choice(ref.CANCEL_REASONS))
        pl.finish(ep, "clinic_visit.cancelled")
        return
    if outcome < p.cancel_rate + p.no_show_rate:
        pl.emit(start + rng.randint(15, 30) * MINUTE, "AppointmentNoShow")
        pl.finish(ep, "clinic_visit.no_show")
        return
    arrival = start + rng.randint(-20, 15) * MINUTE
    discharge = arrival + (duration + rng.randint(10, 45)) * MINUTE
    _encounter(pl, arrival, discharge, "OUTPATIENT")
    plan_revenue(pl, ep, arrival, discharge, _lines(pl, em, code, 2), "PROFESSIONAL",
                 pl.system.npi[ep.provider_id])
    pl.finish(ep, "clinic_visit.completed" if not rescheduled else "clinic_visit.rescheduled")


def plan_walk_in(pl: Planner, n: int) -> None:
    rng, site = pl.rng, pl.site
    assert site is not None
    ep = pl.episode("WALK_IN", n, "PRIM", "SL-PRIM", rng.choice(site.providers["PRIM"]))
    em = rng.choice(("99213", "99214"))
    arrival = pl.day_ms + 8 * HOUR + rng.randrange(10 * 60) * MINUTE
    discharge = arrival + rng.randint(30, 120) * MINUTE
    _encounter(pl, arrival, discharge, "OUTPATIENT")
    plan_revenue(pl, ep, arrival, discharge, _lines(pl, em, "PRIM", 2), "PROFESSIONAL",
                 pl.system.npi[ep.provider_id])
    pl.finish(ep, "walk_in")


def plan_emergency(pl: Planner, n: int) -> None:
    rng, site = pl.rng, pl.site
    assert site is not None
    ep = pl.episode("EMERGENCY", n, ref.ED_DEPT, "SL-EMER", rng.choice(site.providers[ref.ED_DEPT]))
    em = rng.choices(ref.ED_EM, ref.ED_EM_WEIGHTS)[0].code
    hour = rng.choices(range(24), _ED_HOURLY)[0]
    arrival = pl.day_ms + hour * HOUR + rng.randrange(60) * MINUTE
    discharge = arrival + rng.randint(90, 420) * MINUTE
    _encounter(pl, arrival, discharge, "EMERGENCY")
    plan_revenue(pl, ep, arrival, discharge, _lines(pl, em, ref.ED_DEPT, 4), "INSTITUTIONAL",
                 pl.system.npi[site.facility_provider_id])
    pl.finish(ep, "emergency")
