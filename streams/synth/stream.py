"""`generate(params)`: master data first, then every planned event in arrival order, lazily.

Planning (cheap tuples, see `planner.py`) runs once per call; records are built only as the
iterator reaches them, so a consumer that encodes and sends as it goes never holds 3M dicts.
Arrival order = business time, then the noise: late events, out-of-order pairs, resends.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from s2c.streams.synth.episodes import plan_clinic_visit, plan_emergency, plan_walk_in
from s2c.streams.synth.ids import day_start_ms
from s2c.streams.synth.master import HealthSystem, build_health_system
from s2c.streams.synth.params import SynthParams
from s2c.streams.synth.planner import Entry, Planner
from s2c.streams.synth.poison import Poison, Poisoner
from s2c.streams.synth.records import build, key_of
from s2c.streams.synth.surgery import plan_case

Record = dict[str, Any]


@dataclass
class Synthesis:
    """A planned synthetic health system: master data, episode counts, the event timeline."""

    system: HealthSystem
    timeline: list[Entry]
    episodes: Counter[str] = field(default_factory=Counter)
    poisoned: Counter[str] = field(default_factory=Counter)  # bad records mixed in, by kind
    # (episode trace, k) -> fields a fault sets on that event's record (faults_finance.py)
    overrides: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    finance: Any = None  # faults_finance.FinanceFaults when --finance-faults
    deviations: list[dict[str, Any]] = field(default_factory=list)  # truth, deviations.py

    @property
    def params(self) -> SynthParams:
        return self.system.params

    def master(self) -> list[tuple[str, str, Record]]:
        """(record name, key `<RecordName>:<id>`, record) for every master record."""
        return self.system.master_records()

    def events(
        self, clock: Callable[[], int] | None = None
    ) -> Iterator[tuple[str, str, Record] | Poison]:
        """(schema name, business key, record) in arrival order. `clock` (epoch ms) stamps
        `produced_at`; without it `produced_at = occurred_at`, so files are reproducible. With
        `params.poison`, bad records (`Poison`, counted in `poisoned`) follow some events."""
        good = self._good_events(clock)
        if not self.params.poison:
            yield from good
            return
        poisoner = Poisoner(self.params.poison, self.params.seed)
        self.poisoned.clear()
        poisoner.counts = self.poisoned
        yield from poisoner.mix(good)

    def _good_events(self, clock: Callable[[], int] | None) -> Iterator[tuple[str, str, Record]]:
        for _arrival, _seq, occurred, schema, ep, k, extra in self.timeline:
            record = build(schema, ep, k, occurred, extra, clock() if clock else None)
            if self.overrides and (fields := self.overrides.get((ep.trace, k))):
                record.update(fields)
            yield schema, key_of(schema, record), record

    def __len__(self) -> int:
        return len(self.timeline)

    def event_counts(self) -> Counter[str]:
        return Counter(entry[3] for entry in self.timeline)


def plan(
    params: SynthParams,
    system: HealthSystem | None = None,
    site_numbers: Collection[int] | None = None,
) -> Synthesis:
    """Plans every site (or only `site_numbers`: each site-day has its own RNG, so a site's events
    are the same whether it is planned alone or with the others)."""
    system = system or build_health_system(params)
    synthesis = Synthesis(system, [])
    planner = Planner(system, synthesis.timeline, synthesis.episodes)
    if params.deviation_rate:
        planner.truth = synthesis.deviations
    # Millions of long-lived tuples and no cycles: cyclic GC passes over them are pure overhead.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _plan_days(params, system, planner, site_numbers)
        synthesis.timeline.sort()
        if params.finance_faults:
            from s2c.streams.synth.faults_finance import inject

            synthesis.finance = inject(
                synthesis.timeline,
                synthesis.overrides,
                system,
                params.finance_faults,
                params.seed,
                params.start_date,
                avoid={t["trace"] for t in synthesis.deviations},
            )
    finally:
        if gc_was_enabled:
            gc.enable()
    return synthesis


def _plan_days(
    params: SynthParams,
    system: HealthSystem,
    planner: Planner,
    site_numbers: Collection[int] | None,
) -> None:
    for offset in range(params.days):
        day = params.start_date + timedelta(days=offset)
        weekday = day.weekday()
        for site in system.sites:
            if site_numbers is not None and site.number not in site_numbers:
                continue
            planner.start_site_day(site, day_start_ms(day, site.utc_offset), f"{day:%Y%m%d}")
            n = 0
            for planner_fn, base, elective in (
                (plan_clinic_visit, params.clinic_visits, True),
                (plan_walk_in, params.walk_ins, True),
                (plan_emergency, params.ed_visits, False),
                (plan_case, params.cases, True),
            ):
                for _ in range(params.volume(base, site.size, weekday, elective)):
                    n += 1
                    planner_fn(planner, n)


def generate(params: SynthParams) -> Synthesis:
    """Plan a synthetic health system; iterate `.master()` then `.events()` to get the records."""
    return plan(params)


def scaled_for_episodes(params: SynthParams, episodes_per_day: int) -> SynthParams:
    """`params` with `scale` set so a weekday has about `episodes_per_day` episodes in total."""
    system = build_health_system(params)
    per_site = params.clinic_visits + params.walk_ins + params.ed_visits + params.cases
    base = sum(site.size for site in system.sites) * per_site
    return replace(params, scale=episodes_per_day / base if base else 0.0)
