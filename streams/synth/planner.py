"""The planner: episodes, their events on a timeline, and the feed noise applied to each episode.

Planning keeps events compact: one `Episode` (shared ids) plus, per event, a tuple
`(arrival_ms, seq, occurred_ms, schema, episode, k, extra)` that `records.py` turns into a record
only when it is emitted. `k` is the event's index within its episode, so `event_id` is stable and a
duplicate (same tuple, later arrival) carries the same id. Arrival = business time unless the noise
made the event late, out of order or a resend. Deterministic: one RNG per site-day for the
business content and another for the noise, so changing a noise rate never changes the business.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, TypeVar

from s2c.streams.synth.ids import MINUTE, patient_ref
from s2c.streams.synth.master import HealthSystem, Site
from s2c.streams.synth.reference import PAYERS

Entry = tuple[int, int, int, str, "Episode", int, Any]
T = TypeVar("T")
_PATIENTS_PER_SITE = 200_000  # pool a site's patients are drawn from, so some patients recur


# Fast draws: `random.randint`/`choice`/`choices` cost about a microsecond each, and a 3M-event day
# makes tens of millions of draws; these use one `random()` call each and stay deterministic.
def between(rng: random.Random, low: int, high: int) -> int:
    """Uniform integer in [low, high]."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


class Weighted:
    """A population with weights, drawn by bisecting the cumulative weights."""

    def __init__(self, population: Sequence[T], weights: Sequence[float]) -> None:
        self.population = list(population)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random) -> Any:
        return self.population[bisect(self.cumulative, rng.random() * self.total)]


class Episode:
    """Ids and attributes shared by every event of one episode of care."""

    __slots__ = (
        "account",
        "appointment_id",
        "case_id",
        "department_id",
        "dept_code",
        "kind",
        "patient_ref",
        "payer_id",
        "pre_registered",
        "procedure_codes",
        "provider_id",
        "service_line_id",
        "site",
        "trace",
    )

    def __init__(
        self,
        kind: str,
        site: Site,
        account: str,
        patient: str,
        payer_id: str,
        dept_code: str,
        service_line_id: str,
        provider_id: str,
        tag: str,
    ) -> None:
        self.kind = kind
        self.site = site
        self.account = account
        # Event ids and the trace id quote a seeded digest of the account, not the account: they
        # travel into every ERP command (caused_by_event_id, correlation_id, journal memos), and
        # an account number identifies a patient's visit.
        self.trace = f"TR-{tag}"
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
    truth: list[dict[str, Any]] | None = None  # deviations.py: set when they are injected
    _injector: Any = None

    def start_site_day(self, site: Site, day_ms: int, day_tag: str) -> None:
        seed = self.system.params.seed
        self.rng = random.Random(f"{seed}:{site.site_id}:{day_tag}")
        self.noise = random.Random(f"{seed}:{site.site_id}:{day_tag}:noise")
        self.site, self.day_ms, self.day_tag = site, day_ms, day_tag

    def episode(
        self, kind: str, n: int, dept_code: str, service_line_id: str, provider_id: str
    ) -> Episode:
        site = self.site
        assert site is not None
        account = f"V{site.number:02d}{self.day_tag[2:]}{n:06d}"
        index = site.number * _PATIENTS_PER_SITE + int(self.rng.random() * _PATIENTS_PER_SITE)
        patient = patient_ref(self.system.params.seed, index)
        payer = _PAYER_MIX.draw(self.rng)
        self._events = []
        tag = hashlib.blake2b(f"{self.system.params.seed}:{account}".encode(), digest_size=8)
        return Episode(
            kind,
            site,
            account,
            patient,
            payer,
            dept_code,
            service_line_id,
            provider_id,
            tag.hexdigest(),
        )

    def emit(self, occurred_ms: int, schema: str, extra: Any = None) -> None:
        assert self._events is not None, "emit() outside an episode"
        self._events.append([occurred_ms, schema, extra])

    def finish(self, ep: Episode, outcome: str) -> None:
        """Count the episode and put its events, with noise, on the timeline."""
        self.episodes[outcome] += 1
        events = self._events or []
        self._events = None
        p, noise = self.system.params, self.noise
        added: list[list[Any]] = []
        if self.truth is not None:
            truth, added = self._inject(ep, events)
            self.truth.extend(truth)
        arrivals = [e[0] for e in events]
        if events and noise.random() < p.out_of_order_rate:
            _swap_arrival(events, arrivals, noise)
        for k, (occurred, schema, extra) in enumerate(events):
            arrival = arrivals[k]
            if p.late_rate and noise.random() < p.late_rate:
                arrival += between(noise, 1, max(1, p.max_late_minutes)) * MINUTE
            self._seq += 1
            self.timeline.append((arrival, self._seq, occurred, schema, ep, k, extra))
            if p.duplicate_rate and noise.random() < p.duplicate_rate:
                self._seq += 1
                resend = arrival + between(noise, 0, 120) * MINUTE
                self.timeline.append((resend, self._seq, occurred, schema, ep, k, extra))
        for k, (occurred, schema, extra) in enumerate(added, len(events)):  # no noise drawn
            self._seq += 1
            self.timeline.append((occurred, self._seq, occurred, schema, ep, k, extra))

    def _inject(
        self, ep: Episode, events: list[list[Any]]
    ) -> tuple[list[dict[str, Any]], list[list[Any]]]:
        from s2c.streams.synth.deviations import Injector

        if self._injector is None:
            p = self.system.params
            self._injector = Injector(p.deviation_rate, p.seed)
        found: tuple[list[dict[str, Any]], list[list[Any]]] = self._injector.apply(self, ep, events)
        return found


_PAYER_MIX = Weighted([p.payer_id for p in PAYERS], [p.mix for p in PAYERS])

# (event that arrives late, event it must arrive after): "a payment before its claim", "a charge
# before the encounter", "an acknowledgement before the claim".
_SWAPS = (
    ("ClaimSubmitted", ("PaymentPosted", "DenialReceived")),
    ("EncounterCompleted", ("ChargePosted",)),
    ("EncounterStarted", ("ChargePosted",)),
    ("ClaimSubmitted", ("ClaimAcknowledged", "ClaimRejected")),
)


def _swap_arrival(events: list[list[Any]], arrivals: list[int], noise: random.Random) -> None:
    late_schema, after = _SWAPS[between(noise, 0, len(_SWAPS) - 1)]
    first = {}
    for i, (_, schema, _) in enumerate(events):
        first.setdefault(schema, i)
    targets = [first[s] for s in after if s in first]
    if late_schema in first and targets:
        target = min(targets)
        arrivals[first[late_schema]] = events[target][0] + between(noise, 1, 30) * MINUTE
