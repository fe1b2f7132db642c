"""`--deviation-rate`: deviations injected at known episodes leave every other episode alone.

The injected day's events, less those of the episodes the truth names as injected, are exactly the
clean day's (same ids, same times, same fields); each injected episode is a scheduled visit or
surgical case named by its process id; every kind the core judges can be injected.
"""

from __future__ import annotations

from dataclasses import replace

from s2c.streams.synth import SynthParams, generate
from s2c.streams.synth.deviations import _INJECT
from s2c.tables.conformance import KINDS

DAY = SynthParams(seed=5, sites=2, clinic_visits=120, walk_ins=10, ed_visits=20, cases=20)


def _by_trace(params: SynthParams) -> tuple[dict[str, list], list[dict]]:
    synthesis = generate(params)
    events: dict[str, list] = {}
    for schema, _key, record in synthesis.events():
        events.setdefault(record["envelope"]["correlation_id"], []).append((schema, record))
    return events, synthesis.deviations


def test_only_the_picked_episodes_change() -> None:
    clean, no_truth = _by_trace(DAY)
    injected, truth = _by_trace(replace(DAY, deviation_rate=0.3))
    assert no_truth == []  # without the option nothing is collected
    picked = {t["trace"] for t in truth if t["injected"]}
    assert len(picked) > 20
    for trace, events in clean.items():
        if trace not in picked:
            assert injected[trace] == events, trace
    for trace in picked:
        assert injected[trace] != clean[trace]
    assert all(t["process_id"].startswith(("APPT-", "CASE-")) for t in truth if t["injected"])


def test_every_kind_the_core_judges_can_be_injected() -> None:
    assert set(_INJECT) == set(KINDS)
