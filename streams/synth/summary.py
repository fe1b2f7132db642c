"""The summary `s2c generate` prints: episodes by kind, claim outcomes, events by type, master
records, throughput and where the output went. CLI output for a person, on stdout."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from s2c.streams.synth.params import SynthParams

_REVENUE_PREFIXES = ("claim.", "auth.", "charge.", "payment.")


@dataclass
class Totals:
    """What a run produced, summed over worker processes when there are several."""

    episodes: Counter[str] = field(default_factory=Counter)  # outcomes, incl. revenue-cycle ones
    events: Counter[str] = field(default_factory=Counter)  # by schema, incl. resends
    master: Counter[str] = field(default_factory=Counter)
    poison: Counter[str] = field(default_factory=Counter)  # bad records mixed in, by kind

    def add(self, other: Totals) -> None:
        self.episodes.update(other.episodes)
        self.events.update(other.events)
        self.master.update(other.master)
        self.poison.update(other.poison)


def _table(title: str, counts: Counter[str]) -> list[str]:
    lines = [f"{title} ({sum(counts.values()):,}):"]
    width = max((len(k) for k in counts), default=0)
    lines += [f"  {name:<{width}}  {n:>10,}" for name, n in sorted(counts.items())]
    return lines


def summary_lines(
    params: SynthParams,
    totals: Totals,
    plan_seconds: float,
    output_seconds: float,
    outputs: list[str],
) -> list[str]:
    episodes = Counter(
        {k: v for k, v in totals.episodes.items() if not k.startswith(_REVENUE_PREFIXES)}
    )
    revenue = Counter({k: v for k, v in totals.episodes.items() if k not in episodes})
    total = sum(totals.events.values())
    elapsed = plan_seconds + output_seconds
    header = (
        f"s2c generate: seed {params.seed}, {params.sites} sites, {params.days} day(s) from "
        f"{params.start_date}, scale {params.scale:.3g}"
    )
    lines = [header]
    lines += _table("episodes", episodes) + _table("revenue cycle", revenue)
    lines += _table("events (incl. resends)", totals.events) + _table(
        "master records", totals.master
    )
    if totals.poison:
        lines += _table(
            "poison records (not events; kinds in streams/synth/poison.py)", totals.poison
        )
    lines.append(
        f"{total:,} events in {elapsed:.1f}s: planning {plan_seconds:.1f}s, output "
        f"{output_seconds:.1f}s; {total / elapsed if elapsed else 0:,.0f} events/s overall"
    )
    lines += [f"output: {where}" for where in outputs]
    return lines


def print_summary(
    params: SynthParams,
    totals: Totals,
    plan_seconds: float,
    output_seconds: float,
    outputs: list[str],
) -> None:
    print("\n".join(summary_lines(params, totals, plan_seconds, output_seconds, outputs)))
