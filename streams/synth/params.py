"""Parameters of the synthetic health system: sizes, behaviour rates and feed noise.

Defaults sit inside ranges commonly quoted for US health systems (the README of this package says
where each comes from, in words); they are knobs, not facts, so every one is a CLI flag.
Volumes are per site per weekday; each site gets a size factor (0.6-1.4) so sites differ.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date


@dataclass(frozen=True)
class SynthParams:
    seed: int = 42
    sites: int = 3
    start_date: date = date(2025, 3, 3)  # a Monday
    days: int = 1
    scale: float = 1.0  # multiplies every volume below
    # volumes per site per weekday (weekends: clinics and elective surgery at 10%, ED unchanged)
    clinic_visits: int = 600
    walk_ins: int = 40
    ed_visits: int = 120
    cases: int = 30
    max_lead_days: int = 21  # bookings happen up to this many days before the visit; 0 = same day
    # scheduling behaviour
    reschedule_rate: float = 0.12
    cancel_rate: float = 0.06
    no_show_rate: float = 0.10
    case_reschedule_rate: float = 0.10
    case_cancel_rate: float = 0.04
    auth_denied_rate: float = 0.06
    auth_missing_rate: float = 0.03  # auth needed but never requested -> CO-197 later
    # revenue cycle behaviour
    late_charge_rate: float = 0.05  # charge posted more than 3 days after discharge
    charge_reversal_rate: float = 0.02
    late_claim_rate: float = 0.05  # claim submitted more than 7 days after discharge
    claim_rejection_rate: float = 0.04  # 277CA front-end rejection, then a corrected claim
    denial_rate: float = 0.09  # whole-claim denial at adjudication
    line_denial_rate: float = 0.04  # one line denied (CO-97 bundling), rest paid
    patient_share_rate: float = 0.45  # paid claims with a PR deductible/coinsurance/copay part
    payment_reversal_rate: float = 0.01  # 835 CLP02=22 reversal, then a corrected payment
    self_pay_payment_rate: float = 0.5  # self-pay accounts paying part of the bill (no claim)
    remit_days_min: int = 14
    remit_days_max: int = 30
    # feed noise
    late_rate: float = 0.02  # events that arrive late (after later events)
    max_late_minutes: int = 360
    out_of_order_rate: float = 0.01  # episodes whose claim arrives after its payment etc.
    duplicate_rate: float = 0.01  # events resent with the same event_id
    # bad records mixed in after good events (poison.py); the good events do not change
    poison: float = 0.0
    # clinic visits per reconciliation mismatch kind broken on purpose (faults_finance.py)
    finance_faults: int = 0
    # deviations from the reference path injected at known episodes (deviations.py), with truth
    deviation_rate: float = 0.0

    def volume(self, base: int, size: float, weekday: int, elective: bool) -> int:
        factor = 0.1 if elective and weekday >= 5 else 1.0
        return max(0, round(base * self.scale * size * factor))


RATE_FIELDS = tuple(f.name for f in fields(SynthParams) if f.name.endswith("_rate"))

HELP: dict[str, str] = {
    "seed": "random seed; same seed and flags give the same output",
    "sites": "hospitals (each with clinics, an ED and an OR suite)",
    "start_date": "first simulated day (YYYY-MM-DD, local time of each site)",
    "days": "simulated days of care",
    "scale": "multiplies every per-site volume",
    "clinic_visits": "scheduled clinic visits per site per weekday",
    "walk_ins": "walk-in visits (no appointment) per site per weekday",
    "ed_visits": "emergency visits per site per day",
    "cases": "surgical cases per site per weekday",
    "max_lead_days": "bookings up to this many days ahead; 0 = booked the same day",
    "reschedule_rate": "share of clinic appointments rescheduled",
    "cancel_rate": "share of clinic appointments cancelled",
    "no_show_rate": "share of clinic appointments missed",
    "case_reschedule_rate": "share of surgical cases rescheduled",
    "case_cancel_rate": "share of surgical cases cancelled (besides authorization denials)",
    "auth_denied_rate": "share of prior-authorization requests denied",
    "auth_missing_rate": "share of cases needing authorization that never ask for it",
    "late_charge_rate": "share of episodes charged more than 3 days after discharge",
    "charge_reversal_rate": "share of multi-line episodes with a charge reversed",
    "late_claim_rate": "share of claims submitted more than 7 days after discharge",
    "claim_rejection_rate": "share of claims rejected by the 277CA front end",
    "denial_rate": "share of claims denied in full at adjudication",
    "line_denial_rate": "share of multi-line claims with one line denied (CO-97)",
    "patient_share_rate": "share of paid claims with a deductible, coinsurance or copay",
    "payment_reversal_rate": "share of payments reversed (835 CLP02=22) and paid again",
    "self_pay_payment_rate": "share of self-pay accounts with a patient payment (no claim)",
    "remit_days_min": "fewest days from claim to remittance",
    "remit_days_max": "most days from claim to remittance",
    "late_rate": "share of events that arrive late",
    "max_late_minutes": "most minutes an event arrives late",
    "out_of_order_rate": "share of episodes with a pair of events arriving in reverse order",
    "duplicate_rate": "share of events sent twice with the same event_id",
    "finance_faults": "N: break N clinic visits per reconciliation mismatch kind and write "
    "the truth to DIR/finance_faults.json, the ERP's chart to DIR/erp_master/ "
    "(streams/synth/faults_finance.py)",
    "deviation_rate": "share of scheduled episodes given one deviation from the reference path "
    "(streams/synth/deviations.py); with --out the truth goes to DIR/deviations.jsonl",
    "poison": "FRACTION: after each event, the chance of a bad record of one of 13 kinds "
    "(tagged; see streams/synth/poison.py); the good events are the same as without",
}
