"""The figures of `s2c report`, read from a folder in `s2c replay`'s output format.

Every figure is a count or a sum over the folder's files, nothing else: a file that is not there
gives a section that says so (`Absent`), never a made-up figure. Money stays Decimal until the page
formats it. No patient data leaves this module: instances are counted by site, service line and
payer; account numbers in processes.jsonl are never read.

Stage durations are the core's observations (metrics.jsonl). A folder without them (a live run
read back by `s2c demo`: the worker has them only as Prometheus histograms) gets them derived from
the instances' final milestones, and the page says so: the same measures of the same instances,
but where an earlier milestone arrived after the core had observed a measure, the final milestones
give the shorter time the core's observation could not see.

Optional inputs from other tools, in the folder or named on the command line:
- `reconciliation.json`: `{"as_of": ..., "counts": {kind: n}, "by_site": {site: {kind: n}}, ...}`
- `conformance.json`: `{"deviations": {kind: n}, "by_site": {site: {kind: n}}, "pm4py": {...}}`;
  without it, a `deviations` field of the instances in processes.jsonl when they have one.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from s2c.tables.codec import loads, to_datetime
from s2c.tables.sla import STAGE_METRICS

Breakdown = dict[str, Counter[str]]  # row (a kind, a site) -> segment -> count
RECONCILIATION, CONFORMANCE = "reconciliation.json", "conformance.json"


@dataclass(frozen=True)
class Absent:
    """A section without its input: the page prints `why` instead of a chart."""

    why: str


@dataclass(frozen=True)
class Duration:
    """One stage duration measure (seconds): how many observations and their spread."""

    count: int
    low: float
    median: float
    p90: float
    high: float


@dataclass(frozen=True)
class Money:
    """A payer's adjudicated instances: contract amount expected, paid by the payer (net of
    reversals), exact. `variance` = expected - paid, as s2c_expected_reimbursement_usd less
    s2c_paid_usd in the dashboards."""

    instances: int
    expected: Decimal
    paid: Decimal

    @property
    def variance(self) -> Decimal:
        return self.expected - self.paid


@dataclass(frozen=True)
class ByKind:
    """Counts by kind and the same by site and kind, from a tool's JSON (reconciliation,
    conformance) or from the instances; `note` says where they come from."""

    counts: Counter[str]
    by_site: Breakdown
    note: str
    # conformance.json's pm4py figures (s2c export-ocel --check): episode type -> traces
    # (clean, deviating) -> {"traces", "log_fitness", "perc_fit_traces", ...}
    pm4py: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass
class Figures:
    source: str  # what the page is about: the folder's name unless a title is given
    lines: dict[str, int] = field(default_factory=dict)  # lines per input file found
    commands: Breakdown | Absent = Absent("")  # command type -> journal kind -> commands
    volumes: Breakdown | Absent = Absent("")  # site -> service line -> instances
    stages: Counter[str] | Absent = Absent("")  # instance stage -> instances
    durations: dict[str, Duration] | Absent = Absent("")
    durations_note: str = ""  # where the durations come from when not from metrics.jsonl
    breaches: Breakdown | Absent = Absent("")  # SLA -> site -> breaches
    exceptions: Breakdown | Absent = Absent("")  # kind -> site -> work items
    money: dict[str, Money] | Absent = Absent("")  # payer -> money
    reconciliation: ByKind | Absent = Absent("")
    deviations: ByKind | Absent = Absent("")
    dead_letters: Breakdown | Absent = Absent("")  # reason -> stage -> letters


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Each line of a JSON Lines file: the `record` of `{"schema": ..., "record": ...}` lines,
    the line itself otherwise (processes.jsonl, dead_letters.jsonl)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    row = loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path}, line {number}: {exc}") from exc
                yield row["record"] if "schema" in row and "record" in row else row


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values: the smallest value with at least q of them at or
    below it."""
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _missing(name: str) -> Absent:
    return Absent(f"{name} is not in this folder, so this section has no figures.")


def read_figures(
    folder: Path,
    reconciliation: Path | None = None,
    conformance: Path | None = None,
    title: str | None = None,
) -> Figures:
    figures = Figures(source=title or folder.name or str(folder))

    def rows(name: str) -> Iterator[dict[str, Any]] | None:
        path = folder / name
        if not path.is_file():
            return None
        with path.open(encoding="utf-8") as text:
            figures.lines[name] = sum(1 for line in text if line.strip())
        return records(path)

    if (found := rows("processes.jsonl")) is None:
        for attr in ("volumes", "stages", "money"):
            setattr(figures, attr, _missing("processes.jsonl (the instances' final states)"))
        instance_deviations: ByKind | None = None
        from_milestones: dict[str, list[float]] | None = None
    else:
        figures.volumes, figures.stages, figures.money, instance_deviations, from_milestones = (
            _instances(found)
        )
    figures.commands = _commands(rows("commands.jsonl"))
    figures.durations = _durations(rows("metrics.jsonl"))
    if isinstance(figures.durations, Absent) and from_milestones is not None:
        figures.durations = _spread(from_milestones)
        figures.durations_note = (
            "No metrics.jsonl here (a live run has its observations only as Prometheus "
            "histograms): derived from the instances' final milestones in processes.jsonl, the "
            "same measures of the same instances."
        )
    figures.breaches = _breakdown(rows("sla_breaches.jsonl"), "sla", "site_id", "sla_breaches")
    figures.exceptions = _breakdown(rows("exceptions.jsonl"), "kind", "site_id", "exceptions")
    figures.dead_letters = _breakdown(rows("dead_letters.jsonl"), "reason", "stage", "dead_letters")
    figures.reconciliation = _tool_json(
        reconciliation or folder / RECONCILIATION, "counts", "s2c reconcile"
    )
    figures.deviations = _tool_json(
        conformance or folder / CONFORMANCE, "deviations", "conformance"
    )
    if isinstance(figures.deviations, Absent) and instance_deviations is not None:
        figures.deviations = instance_deviations
    return figures


def _breakdown(found: Iterator[dict[str, Any]] | None, row: str, segment: str, name: str) -> Any:
    if found is None:
        return _missing(f"{name}.jsonl")
    counts: Breakdown = {}
    for record in found:
        key = str(record.get(row) or "unknown")
        counts.setdefault(key, Counter())[str(record.get(segment) or "unknown")] += 1
    return counts


def _commands(found: Iterator[dict[str, Any]] | None) -> Breakdown | Absent:
    if found is None:
        return _missing("commands.jsonl")
    counts: Breakdown = {}
    for command in found:
        kind = command.get("journal_kind") or "other than a journal"
        counts.setdefault(command["header"]["command_type"], Counter())[kind] += 1
    return counts


def _durations(found: Iterator[dict[str, Any]] | None) -> dict[str, Duration] | Absent:
    if found is None:
        return Absent(
            "metrics.jsonl (the core's metric observations) is not in this folder, so this "
            "section has no figures. A live run has them only as Prometheus histograms "
            "(s2c_stage_duration_seconds), not one by one."
        )
    values: dict[str, list[float]] = {}
    for record in found:
        if str(record["metric"]).endswith("_seconds"):
            values.setdefault(record["metric"], []).append(float(record["value"]))
    return _spread(values)


def _spread(values: dict[str, list[float]]) -> dict[str, Duration]:
    out = {}
    for metric in sorted(values):
        ordered = sorted(values[metric])
        out[metric] = Duration(
            len(ordered), ordered[0], quantile(ordered, 0.5), quantile(ordered, 0.9), ordered[-1]
        )
    return out


def _instances(
    found: Iterator[dict[str, Any]],
) -> tuple[Breakdown, Counter[str], dict[str, Money], ByKind | None, dict[str, list[float]]]:
    """Volumes, stages, money by payer, deviations (None when no instance carries them) and the
    stage durations of the instances' final milestones (seconds, by measure)."""
    volumes: Breakdown = {}
    durations: dict[str, list[float]] = {}
    stages: Counter[str] = Counter()
    money: dict[str, list[Any]] = {}
    deviations: Counter[str] = Counter()
    deviations_by_site: Breakdown = {}
    any_deviations = False
    for state in found:
        site = state.get("site_id") or "unknown"
        volumes.setdefault(site, Counter())[state.get("service_line_id") or "unknown"] += 1
        stages[state.get("stage") or "unknown"] += 1
        # expected money counts once the payer adjudicated (first remittance), as the metrics do
        if state.get("expected_amount") is not None and state.get("first_remit_at") is not None:
            tally = money.setdefault(
                state.get("payer_id") or "unknown", [0, Decimal(0), Decimal(0)]
            )
            tally[0] += 1
            tally[1] += Decimal(state["expected_amount"])
            tally[2] += Decimal(state["paid"])
        for measure, start, end in STAGE_METRICS:
            if state.get(start) and state.get(end):
                seconds = to_datetime(state[end]) - to_datetime(state[start])
                durations.setdefault(measure, []).append(seconds.total_seconds())
        if "deviations" in state:
            any_deviations = True
            for kind, n in _deviation_counts(state["deviations"]).items():
                deviations[kind] += n
                deviations_by_site.setdefault(site, Counter())[kind] += n
    payers = {payer: Money(*money[payer]) for payer in sorted(money)}
    note = "from the instances' deviations in processes.jsonl"
    found_deviations = ByKind(deviations, deviations_by_site, note) if any_deviations else None
    return volumes, stages, payers, found_deviations, durations


def _deviation_counts(value: Any) -> Counter[str]:
    """An instance's deviations as counts by kind: a list of kinds, of `{"kind": ...}` records,
    or a mapping of kind to count."""
    if isinstance(value, dict):
        return Counter({str(kind): int(n) for kind, n in value.items()})
    return Counter(str(item["kind"] if isinstance(item, dict) else item) for item in value or ())


def _tool_json(path: Path, counts_key: str, tool: str) -> ByKind | Absent:
    if not path.is_file():
        return Absent(f"No {path.name} was given (the output of {tool}), so this section is empty.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    counts = Counter({str(k): int(n) for k, n in (data.get(counts_key) or {}).items()})
    by_site = {
        str(site): Counter({str(k): int(n) for k, n in kinds.items()})
        for site, kinds in (data.get("by_site") or {}).items()
    }
    note = f"from {path.name}" + (f", as of {data['as_of']}" if data.get("as_of") else "")
    pm4py = {
        str(episode): {
            group: {str(k): float(v) for k, v in figures[group].items()}
            for group in ("clean", "deviating")
            if isinstance(figures.get(group), dict)
        }
        for episode, figures in (data.get("pm4py") or {}).items()
        if isinstance(figures, dict) and episode != "round_trip"
    }
    return ByKind(counts, by_site, note, pm4py)
