"""The summary `s2c generate` prints: episodes by kind, claim outcomes, events by type, master
records, throughput and where the output went. CLI output for a person, on stdout."""

from __future__ import annotations

from collections import Counter

from s2c.streams.synth.stream import Synthesis


def _table(title: str, counts: Counter[str]) -> list[str]:
    lines = [f"{title} ({sum(counts.values()):,}):"]
    width = max((len(k) for k in counts), default=0)
    lines += [f"  {name:<{width}}  {n:>10,}" for name, n in sorted(counts.items())]
    return lines


def summary_lines(synthesis: Synthesis, plan_seconds: float, output_seconds: float,
                  outputs: list[str]) -> list[str]:
    p = synthesis.params
    episodes = Counter({k: v for k, v in synthesis.episodes.items()
                        if not k.startswith(("claim.", "auth.", "charge.", "payment."))})
    revenue = Counter({k: v for k, v in synthesis.episodes.items() if k not in episodes})
    events = Counter(entry[3] for entry in synthesis.timeline)
    master = Counter({name: len(rows) for name, rows in synthesis.system.records.items()})
    total = len(synthesis)
    rate = total / output_seconds if output_seconds > 0 else float("inf")
    header = (f"s2c generate: seed {p.seed}, {p.sites} sites, {p.days} day(s) from "
              f"{p.start_date}, scale {p.scale:.3g}")
    lines = [header]
    lines += _table("episodes", episodes) + _table("revenue cycle", revenue)
    lines += _table("events (incl. duplicates)", events) + _table("master records", master)
    lines.append(f"planned in {plan_seconds:.2f}s; wrote {total:,} events in {output_seconds:.2f}s "
                 f"({rate:,.0f} events/s)")
    lines += [f"output: {where}" for where in outputs]
    return lines


def print_summary(synthesis: Synthesis, plan_seconds: float, output_seconds: float,
                  outputs: list[str]) -> None:
    print("\n".join(summary_lines(synthesis, plan_seconds, output_seconds, outputs)))
