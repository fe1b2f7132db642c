"""Inline SVG charts for `s2c report`, written here: no chart library, no script, no network.

Each mark (a bar, a bar's segment, a duration's box) carries what it draws as data attributes
(`data-chart`, `data-row`, `data-segment`, `data-value`), so a test reads the figures back from
the page, and a `<title>` a reader sees on hover. Text is escaped; values are exact (Decimal
money is written as its decimal string, never through a float) and only the bar lengths are
rounded to pixels.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from html import escape

from s2c.streams.report_figures import Duration, Money

# Distinct on screen and for the common colour-vision deficiencies (Okabe-Ito, then two greys).
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
    "#999999",
    "#666666",
)
WIDTH, LABEL, ROW, BAR = 820, 240, 24, 16
PLOT = WIDTH - LABEL - 150  # room on the right for the totals and variances


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_step(top: float, ticks: int = 4) -> float:
    """A round gridline step (1, 2 or 5 times a power of ten) giving about `ticks` lines."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


def _axis(top: float, y0: int, height: int, unit: str = "") -> list[str]:
    step = nice_step(top)
    out, tick = [], 0.0
    while tick <= top + step / 2:
        x = LABEL + PLOT * tick / max(top, step)
        out.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + height}" class="grid"/>'
            f'<text x="{x:.1f}" y="{y0 + height + 14}" class="tick">{_number(tick)}{unit}</text>'
        )
        tick += step
    return out


def _svg(chart: str, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(chart)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">'
        + "".join(body)
        + "</svg>"
    )


def _legend_places(segments: list[str]) -> list[tuple[int, int]]:
    """Where each legend entry goes, (x, line), wrapping before an entry that would overflow."""
    places, x, line = [], LABEL, 0
    for name in segments:
        width = 28 + 7 * len(name)  # about 7 px a character at the legend's 11 px
        if x > LABEL and x + width > WIDTH:
            x, line = LABEL, line + 1
        places.append((x, line))
        x += width
    return places


def _legend(segments: list[str], top: int) -> list[str]:
    out = []
    for index, (name, (x, line)) in enumerate(zip(segments, _legend_places(segments))):
        y = top + 18 * line
        out.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{_colour(index)}"/>'
            f'<text x="{x + 16}" y="{y + 10}" class="legend">{escape(name)}</text>'
        )
    return out


def stacked_bars(chart: str, rows: dict[str, Counter[str]], title: str) -> str:
    """One horizontal bar per row (sorted), split into its segments (one colour per segment
    name across the chart), its total written at its end; a legend when there are several
    segment names."""
    segments = sorted({name for counts in rows.values() for name in counts})
    top = max((sum(c.values()) for c in rows.values()), default=0)
    ordered = sorted(rows)
    plot_height = ROW * len(ordered)
    legend = len(segments) > 1
    lines = _legend_places(segments)[-1][1] + 1 if legend else 0
    y0 = 8 + (18 * lines + 8 if legend else 0)
    body = _legend(segments, 8) if legend else []
    body += _axis(top, y0, plot_height)
    scale = PLOT / max(top, nice_step(top))
    for index, row in enumerate(ordered):
        y = y0 + index * ROW + (ROW - BAR) // 2
        body.append(f'<text x="{LABEL - 8}" y="{y + BAR - 4}" class="label">{escape(row)}</text>')
        x = float(LABEL)
        for number, segment in enumerate(segments):
            n = rows[row].get(segment, 0)
            if not n:
                continue
            width = n * scale
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{_colour(number)}" data-chart="{escape(chart)}" data-row="{escape(row)}" '
                f'data-segment="{escape(segment)}" data-value="{n}">'
                f"<title>{escape(row)} · {escape(segment)}: {n}</title></rect>"
            )
            x += width
        total = sum(rows[row].values())
        body.append(f'<text x="{x + 6:.1f}" y="{y + BAR - 4}" class="total">{total:,}</text>')
    return _svg(chart, y0 + plot_height + 24, body, title)


def bars(chart: str, counts: Counter[str], title: str, segment: str = "count") -> str:
    return stacked_bars(chart, {row: Counter({segment: n}) for row, n in counts.items()}, title)


DAY = 86400.0


def durations_chart(chart: str, durations: dict[str, Duration], title: str) -> str:
    """Per measure, in days: a line from the shortest to the longest observation, a box from the
    median to the 90th percentile and a tick at the median."""
    top = max((d.high for d in durations.values()), default=0.0) / DAY
    y0, plot_height = 8, ROW * len(durations)
    body = _axis(top, y0, plot_height, " d")
    scale = PLOT / max(top, nice_step(top))
    for index, (measure, d) in enumerate(durations.items()):
        y = y0 + index * ROW + (ROW - BAR) // 2
        mid = y + BAR / 2
        low, median, p90, high = (LABEL + v / DAY * scale for v in (d.low, d.median, d.p90, d.high))
        body.append(
            f'<text x="{LABEL - 8}" y="{y + BAR - 4}" class="label">{escape(measure)}</text>'
            f'<line x1="{low:.1f}" y1="{mid}" x2="{high:.1f}" y2="{mid}" class="whisker"/>'
            f'<rect class="mark" x="{median:.1f}" y="{y}" width="{max(p90 - median, 2):.1f}" '
            f'height="{BAR}" fill="{_colour(0)}" data-chart="{escape(chart)}" '
            f'data-row="{escape(measure)}" data-segment="median-p90" data-count="{d.count}" '
            f'data-value="{d.median!r}" data-p90="{d.p90!r}">'
            f"<title>{escape(measure)}: {d.count} observations, median {d.median / DAY:.2f} d, "
            f"90th percentile {d.p90 / DAY:.2f} d, range {d.low / DAY:.2f} to "
            f"{d.high / DAY:.2f} d</title></rect>"
            f'<line x1="{median:.1f}" y1="{y}" x2="{median:.1f}" y2="{y + BAR}" class="median"/>'
            f'<text x="{high + 6:.1f}" y="{y + BAR - 4}" class="total">n={d.count:,}</text>'
        )
    return _svg(chart, y0 + plot_height + 24, body, title)


def money_chart(chart: str, money: dict[str, Money], title: str) -> str:
    """Per payer two bars, expected (contract) and paid, with the variance written beside."""
    top = float(max((max(m.expected, m.paid) for m in money.values()), default=Decimal(0)))
    pair = 2 * BAR + 10
    y0 = 34
    body = _legend(["expected (contract)", "paid by the payer"], 8)
    body += _axis(top, y0, pair * len(money), " $")
    scale = PLOT / max(top, nice_step(top))
    for index, (payer, m) in enumerate(money.items()):
        y = y0 + index * pair + 4
        body.append(f'<text x="{LABEL - 8}" y="{y + BAR + 2}" class="label">{escape(payer)}</text>')
        for offset, (segment, amount) in enumerate((("expected", m.expected), ("paid", m.paid))):
            body.append(
                f'<rect class="mark" x="{LABEL}" y="{y + offset * BAR}" '
                f'width="{max(float(amount) * scale, 0.0):.1f}" height="{BAR - 1}" '
                f'fill="{_colour(offset)}" data-chart="{escape(chart)}" '
                f'data-row="{escape(payer)}" data-segment="{segment}" data-value="{amount}">'
                f"<title>{escape(payer)} {segment}: {money_text(amount)}</title></rect>"
            )
        right = LABEL + float(max(m.expected, m.paid)) * scale + 6
        body.append(
            f'<text x="{right:.1f}" y="{y + BAR + 2}" class="total" data-row="{escape(payer)}" '
            f'data-variance="{m.variance}">variance {money_text(m.variance)}</text>'
        )
    return _svg(chart, y0 + pair * len(money) + 24, body, title)


def money_text(amount: Decimal) -> str:
    return f"{amount:,.2f}"
