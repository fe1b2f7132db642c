"""The page of `s2c report`: one self-contained HTML file (inline CSS and SVG, no script, nothing
fetched), one section per question a revenue-cycle or finance reader asks, each with its chart or
a plain sentence saying which input it lacks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from html import escape
from typing import Any

from s2c.streams.report_charts import (
    bars,
    durations_chart,
    money_chart,
    money_text,
    stacked_bars,
)
from s2c.streams.report_figures import Absent, ByKind, Figures

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:24px auto;max-width:880px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
p.what{margin:0 0 8px;color:#444}p.absent{padding:8px 12px;background:#f4f4f4;border-left:4px solid #999}
.chart text{font-size:11px;fill:#222}.chart .label{text-anchor:end}.chart .tick{text-anchor:middle;fill:#666}
.chart .grid{stroke:#ddd;stroke-width:1}.chart .whisker{stroke:#555;stroke-width:1.5}
.chart .median{stroke:#000;stroke-width:2}table.inputs{border-collapse:collapse;font-size:12px}
table.inputs td{padding:1px 10px 1px 0}table.money{border-collapse:collapse;font-size:12px;margin-top:6px}
table.money td,table.money th{padding:2px 10px 2px 0;text-align:right}table.money td:first-child{text-align:left}
"""


def _section(key: str, title: str, what: str, body: str) -> str:
    return (
        f'<section id="{key}"><h2>{escape(title)}</h2>'
        f'<p class="what">{escape(what)}</p>{body}</section>'
    )


def _absent(absent: Absent) -> str:
    return f'<p class="absent">{escape(absent.why)}</p>'


def _empty(what: str) -> str:
    return f'<p class="absent">None: the input has no {escape(what)}.</p>'


def _chart_or(figure: Any, draw: Callable[[Any], str], nothing: str) -> str:
    """The chart `draw` makes of the figure; what is missing instead when it is Absent or empty."""
    if isinstance(figure, Absent):
        return _absent(figure)
    return draw(figure) if figure else _empty(nothing)


def _by_kind(chart: str, figure: ByKind | Absent, what: str) -> str:
    if isinstance(figure, Absent):
        return _absent(figure)
    note = f'<p class="what">{escape(figure.note)}; total {sum(figure.counts.values()):,}.</p>'
    if not figure.counts:
        return note + _empty(what)
    out = note + bars(f"{chart}-by-kind", figure.counts, f"{what} by kind")
    if figure.by_site:
        out += stacked_bars(f"{chart}-by-site", figure.by_site, f"{what} by site and kind")
    return out + _pm4py(chart, figure)


def _pm4py(chart: str, figure: ByKind) -> str:
    """pm4py's token-based replay of the exported OCEL log (s2c export-ocel --check): per episode
    type, the share of clean and of deviating traces that fit the net of the reference path."""
    rows = {
        f"{episode} · {group}": figures
        for episode, groups in sorted(figure.pm4py.items())
        for group, figures in groups.items()
        if figures.get("traces")
    }
    if not rows:
        return ""
    fit = Counter({row: round(f.get("perc_fit_traces", 0.0)) for row, f in rows.items()})
    table = "".join(
        f"<tr><td>{escape(row)}</td><td>{int(f['traces']):,}</td>"
        f"<td>{f.get('log_fitness', 0.0):.4f}</td><td>{f.get('perc_fit_traces', 0.0):.1f}%</td></tr>"
        for row, f in rows.items()
    )
    return (
        '<p class="what">pm4py, token-based replay of the exported OCEL 2.0 log against a net '
        "discovered from the instances without deviations (s2c export-ocel --check):</p>"
        + bars(f"{chart}-pm4py", fit, "% of traces that fit the reference net", "% fit")
        + '<table class="money"><tr><th>episode · traces</th><th>traces</th>'
        "<th>log fitness</th><th>fit</th></tr>" + table + "</table>"
    )


def _money_table(figures: Figures) -> str:
    money = figures.money
    if isinstance(money, Absent) or not money:
        return ""
    rows = "".join(
        f"<tr><td>{escape(payer)}</td><td>{m.instances:,}</td><td>{money_text(m.expected)}</td>"
        f"<td>{money_text(m.paid)}</td><td>{money_text(m.variance)}</td></tr>"
        for payer, m in money.items()
    )
    total = [sum((getattr(m, a) for m in money.values()), Decimal(0)) for a in ("expected", "paid")]
    return (
        '<table class="money"><tr><th>payer</th><th>instances</th><th>expected</th><th>paid</th>'
        f"<th>variance</th></tr>{rows}<tr><th>all payers</th><th>"
        f"{sum(m.instances for m in money.values()):,}</th><th>{money_text(total[0])}</th>"
        f"<th>{money_text(total[1])}</th><th>{money_text(total[0] - total[1])}</th></tr></table>"
    )


def render(figures: Figures) -> str:
    inputs = "".join(
        f"<tr><td>{escape(name)}</td><td>{n:,} lines</td></tr>"
        for name, n in sorted(figures.lines.items())
    )
    stages = figures.stages
    stage_line = (
        ""
        if isinstance(stages, Absent)
        else '<p class="what">Instances by stage: '
        + escape(", ".join(f"{s} {n:,}" for s, n in sorted(stages.items())))
        + "</p>"
    )
    sections = [
        _section(
            "volumes",
            "Volumes by site and service line",
            "Process instances (one per episode of care) by site, split by service line.",
            _chart_or(
                figures.volumes,
                lambda f: stacked_bars("volumes", f, "instances by site"),
                "instances",
            )
            + stage_line,
        ),
        _section(
            "durations",
            "Stage durations",
            "The core's duration observations, in days: line from shortest to longest, box from "
            "the median (black tick) to the 90th percentile."
            + (f" {figures.durations_note}" if figures.durations_note else ""),
            _chart_or(
                figures.durations,
                lambda f: durations_chart("durations", f, "stage durations"),
                "duration observations",
            ),
        ),
        _section(
            "sla",
            "SLA breaches",
            "Breaches detected on event time, by SLA, split by site.",
            _chart_or(
                figures.breaches,
                lambda f: stacked_bars("sla", f, "SLA breaches by kind and site"),
                "SLA breaches",
            ),
        ),
        _section(
            "reconciliation",
            "Reconciliation mismatches",
            "What was scheduled, reserved, charged, claimed and paid that does not agree, by kind "
            "and by site.",
            _by_kind("reconciliation", figures.reconciliation, "mismatches"),
        ),
        _section(
            "money",
            "Expected vs paid by payer",
            "Instances the payer has adjudicated: the contract amount expected and what the payer "
            "paid (net of reversals); variance = expected - paid.",
            _chart_or(
                figures.money,
                lambda f: money_chart("money", f, "expected vs paid by payer"),
                "adjudicated instances with a contract amount",
            )
            + _money_table(figures),
        ),
        _section(
            "deviations",
            "Deviations from the reference path",
            "Instances whose path left the reference schedule-to-cash path, by kind of deviation.",
            _by_kind("deviations", figures.deviations, "deviations"),
        ),
        _section(
            "exceptions",
            "Work-queue exceptions",
            "Work items raised for people, by kind, split by site.",
            _chart_or(
                figures.exceptions,
                lambda f: stacked_bars("exceptions", f, "work items"),
                "work-queue exceptions",
            ),
        ),
        _section(
            "commands",
            "ERP commands",
            "Posting commands sent to the ERP by type; journals split by their kind.",
            _chart_or(
                figures.commands,
                lambda f: stacked_bars("commands", f, "ERP commands by type"),
                "ERP commands",
            ),
        ),
        _section(
            "dead-letters",
            "Dead letters",
            "Input refused by the pipeline, by reason, split by the stage that refused it.",
            _chart_or(
                figures.dead_letters,
                lambda f: stacked_bars("dead-letters", f, "dead letters"),
                "dead letters",
            ),
        ),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>s2c report: {escape(figures.source)}</title><style>{STYLE}</style></head><body>"
        f"<h1>s2c report: {escape(figures.source)}</h1>"
        '<p class="what">Every figure below is counted from these files of the folder:</p>'
        f'<table class="inputs">{inputs or "<tr><td>none</td></tr>"}</table>'
        + "".join(sections)
        + "</body></html>\n"
    )
