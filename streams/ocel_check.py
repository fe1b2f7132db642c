"""`s2c export-ocel --check`: read the exported OCEL back with pm4py and measure conformance.

Round trip: the event and object counts, in total and per type, that pm4py reads must be those
written. Conformance: the log is flattened on `appointment` and on `case` (each visit or surgical
case one trace of its canonical events, commands left out), a Petri net is discovered with the
inductive miner from the traces of the instances without deviations (the reference as practised),
and every trace is replayed on it with token-based replay. Figures: for the clean traces, for
the deviating ones, and per deviation kind (`perc_fit_traces`, `average_trace_fitness`,
`log_fitness`). pm4py is imported here only: it is a test-extra dependency, not the pipeline's.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

FITNESS_KEYS = ("perc_fit_traces", "average_trace_fitness", "log_fitness")


def check(path: Path, document: dict[str, Any], deviated: dict[str, list[str]]) -> dict[str, Any]:
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")  # read when pm4py is imported
    import pm4py

    ocel = pm4py.read_ocel2_json(str(path))
    written = {
        "events": len(document["events"]),
        "objects": len(document["objects"]),
        "event_types": dict(Counter(e["type"] for e in document["events"])),
        "object_types": dict(Counter(o["type"] for o in document["objects"])),
    }
    read = {
        "events": len(ocel.events),
        "objects": len(ocel.objects),
        "event_types": {k: int(v) for k, v in ocel.events["ocel:activity"].value_counts().items()},
        "object_types": {k: int(v) for k, v in ocel.objects["ocel:type"].value_counts().items()},
    }
    report: dict[str, Any] = {
        "round_trip": {"ok": read == written, "events": read["events"], "objects": read["objects"]}
    }
    for object_type in ("appointment", "case"):
        report[object_type] = _fitness(pm4py, ocel, object_type, deviated)
    return report


def _fitness(pm4py: Any, ocel: Any, object_type: str, deviated: dict[str, list[str]]) -> Any:
    flat = pm4py.ocel_flattening(ocel, object_type)
    if flat.empty:
        return {"traces": 0}
    flat = flat[~flat["concept:name"].str.startswith("issue ")]
    case = flat["case:concept:name"]
    bad = case.isin(deviated)
    clean = flat[~bad]
    if clean.empty:
        return {"traces": int(case.nunique()), "clean_traces": 0}
    net, initial, final = pm4py.discover_petri_net_inductive(clean)
    out: dict[str, Any] = {
        "traces": int(case.nunique()),
        "clean": _replay(pm4py, clean, net, initial, final),
        "deviating": _replay(pm4py, flat[bad], net, initial, final),
        "by_kind": {},
    }
    kinds = sorted({k for objects in deviated.values() for k in objects})
    for kind in kinds:
        ids = [o for o, found in deviated.items() if kind in found]
        sub = flat[case.isin(ids)]
        if not sub.empty:
            out["by_kind"][kind] = _replay(pm4py, sub, net, initial, final)
    return out


def _replay(pm4py: Any, log: Any, net: Any, initial: Any, final: Any) -> dict[str, Any]:
    if log.empty:
        return {"traces": 0}
    fitness = pm4py.fitness_token_based_replay(log, net, initial, final)
    figures = {k: round(float(fitness[k]), 4) for k in FITNESS_KEYS if k in fitness}
    return {"traces": int(log["case:concept:name"].nunique()), **figures}
