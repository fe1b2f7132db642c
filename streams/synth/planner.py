"""The planner: episodes, their events on a timeline, and the feed noise applied to each episode.

Planning keeps events compact: one `Episode` (shared ids) plus, per event, a tuple
`(arrival_ms, seq, occurred_ms, schema, episode, k, extra)` that `records.py` turns into a record
only when it is emitted. `k` is the event's index within its episode, so `event_id` is stable and a
duplicate (same tuple, later arrival) carries the same id. Arrival = business time unless the noise
made the event late, out of order or a resend. Deterministic: one RNG per site-day for the
business content and another for the noise, so changing a noise rate never changes the business.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from s2c.streams.synth.ids import MINUTE, patient_ref
from s2c.streams.synth.master import HealthSystem, Site
from s2c.streams.synth.reference import PAYERS

Entry = tuple[int, int, int, str, "Episode", int, Any]
_PAYER_IDS = [p.payer_id for p in PAYERS]
_PAYER_WEIGHTS = [p.mix for p in PAYERS]
_PATIENTS_PER_SITE = 200_000  # pool a site's patients are drawn from, so some patients recur


class Episode:
    """Ids and attributes shared by every event of one episode of care."""

    __slots__ = ("kind", "site", "account", "trace", "patient_ref", "payer_id", "dept_code",
                 "department_id", "service_line_id", "provider_id", "appointment_id", "case_id",
                 "procedure_codes", "pre_registered")

    def __init__(self, kind: str, site: Site, account: str, patient: str, payer_id: str,
                 dept_code: str, service_line_id: str, provider_id: str) -> None:
        self.kind = kind
        self.site = site
        self.account = account
        self.trace = f"TR{account}"
        self.patient_ref = patient
        self.payer_id = payer_id
        self.dept_code = dept_code
        self.department_id = site.departments[dept_code]
        self.service_line_id = service_line_id
        self.provider_id = provider_id
        self.appointment_id: str | None = None
        self.case_id: str | None = None
        self.procedure_codes: list[str] = []
        self.pre_registered = True


@dataclass
class Planner:
    system: HealthSystem
    timeline: list[Entry]
    episodes: Counter[str]
    rng: random.Random = field(default_factory=random.Random)
    noise: random.Random = field(default_factory=random.Random)
    site: Site | None = None
    day_ms: int = 0
    day_tag: str = ""
    _seq: int = 0
    _events: list[list[Any]] | None = None

    def start_site_day(self, site: Site, day_ms: int, day_tag: str) -> None:
        seed = self.system.params.seed
        self.rng = random.Random(f"{seed}:{site.site_id}:{day_tag}")
        self.noise = random.Random(f"{seed}:{site.site_id}:{day_tag}:noise")
        self.site, self.day_ms, self.day_tag = site, day_ms, day_tag

    def episode(self, kind: str, n: int, dept_code: str, service_line_id: str,
                provider_id: str) -> Episode:
        site = self.site
        assert site is not None
        account = f"V{site.number:02d}{self.day_tag[2:]}{n:06d}"
        patient = patient_ref(self.system.params.seed,
                              site.number * _PATIENTS_PER_SITE + self.rng.randrange(_PATIENTS_PER_SITE))
        payer = self.rng.choices(_PAYER_IDS, _PAYER_WEIGHTS)[0]
        self._events = []
        return Episode(kind, site, account, patient, payer, dept_code, service_line_id, provider_id)

    def emit(self, occurred_ms: int, schema: str, extra: Any = None) -> None:
        assert self._events is not None, "emit() outside an episode"
        self._events.append([occurred_ms, schema, extra])

    def finish(self, ep: Episode, outcome: str) -> None:
        """Count the episode and put its events, with noise, on the timeline."""
        self.episodes[outcome] += 1
        events = self._events or []
        self._events = None
        p, noise = self.system.params, self.noise
        arrivals = [e[0] for e in events]
        if events and noise.random() < p.out_of_order_rate:
            _swap_arrival(events, arrivals, noise)
        for k, (occurred, schema, extra) in enumerate(events):
            arrival = arrivals[k]
            if p.late_rate and noise.random() < p.late_rate:
                arrival += noise.randint(1, max(1, p.max_late_minutes)) * MINUTE
            self._seq += 1
            self.timeline.append((arrival, self._seq, occurred, schema, ep, k, extra))
            if p.duplicate_rate and noise.random() < p.duplicate_rate:
                self._seq += 1
                resend = arrival + noise.randint(0, 120) * MINUTE
                self.timeline.append((resend, self._seq, occurred, schema, ep, k, extra))


# (event that arrives late, event it must arrive after): "a payment before its claim", "a charge
# before the encounter", "an acknowledgement before the claim".
_SWAPS = (("ClaimSubmitted", ("PaymentPosted", "DenialReceived")),
          ("EncounterCompleted", ("ChargePosted",)),
          ("EncounterStarted", ("ChargePosted",)),
          ("ClaimSubmitted", ("ClaimAcknowledged", "ClaimRejected")))


def _swap_arrival(events: list[list[Any]], arrivals: list[int], noise: random.Random) -> None:
    late_schema, after = _SWAPS[noise.randrange(len(_SWAPS))]
    first = {}
    for i, (_, schema, _) in enumerate(events):
        first.setdefault(schema, i)
    targets = [first[s] for s in after if s in first]
    if late_schema in first and targets:
        target = min(targets)
        arrivals[first[late_schema]] = events[target][0] + noise.randint(1, 30) * MINUTE
