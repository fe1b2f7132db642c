"""`s2c report` in a real browser: Debian's headless Chromium lays the page out and paints it,
and every chart is seen drawn: each mark has a size on the laid-out page, and the screenshot
holds the mark's own colour where the layout puts it.

Chromium comes from deploy/local/chromium (apt-get on first use, as the stack installs
Prometheus). The stack is not needed. The layout is read from a copy of the page with a small
script appended (the report itself has none), through `--dump-dom`; the screenshot is of the
report itself, decoded here (tests/integration/pngread.py), not by an image library.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from pngread import read_png  # tests/integration is on sys.path (its conftest)

from s2c.streams.cli import main

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 900
CHARTS = {"commands", "volumes", "durations", "sla", "money", "exceptions", "dead-letters"}
# Appended to a copy only: where each chart and each mark landed, as JSON in the DOM.
LAYOUT = """<script>
const box = e => { const r = e.getBoundingClientRect();
  return {x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height}; };
const out = {height: document.documentElement.scrollHeight, charts: [], marks: []};
for (const svg of document.querySelectorAll("svg.chart"))
  out.charts.push({chart: svg.dataset.chart, ...box(svg)});
for (const m of document.querySelectorAll("rect.mark"))
  out.marks.push({chart: m.dataset.chart, fill: m.getAttribute("fill"), ...box(m)});
const pre = document.createElement("pre"); pre.id = "layout";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = subprocess.run(
        [str(ROOT / "deploy/local/chromium")], capture_output=True, text=True, timeout=900
    )
    assert found.returncode == 0, found.stderr
    return found.stdout.strip().splitlines()[-1]


def browse(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # the test may run as root, where Chromium refuses its sandbox
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def colour(hex_fill: str) -> tuple[int, int, int]:
    return tuple(int(hex_fill[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_the_report_renders_its_charts_in_chromium(chromium: str, tmp_path: Path) -> None:
    day = tmp_path / "day"
    assert main(["generate", "--out", str(day), "--episodes", "80", "--poison", "0.03"]) == 0
    out = tmp_path / "out"
    replay = ["replay", str(day / "events.jsonl"), "--master-data", str(day / "master")]
    assert main([*replay, "--out", str(out), "--quiet"]) == 0
    report = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(report)]) == 0

    measured = tmp_path / "measured.html"
    measured.write_text(report.read_text().replace("</body>", LAYOUT + "</body>"))
    dom = browse(chromium, f"--window-size={WIDTH},1000", "--dump-dom", measured.as_uri())
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"chromium gave no layout: {dom.stderr[-2000:]}"
    layout = json.loads(found.group(1).replace("&amp;", "&").replace("&quot;", '"'))
    assert {c["chart"] for c in layout["charts"]} >= CHARTS
    assert all(c["w"] > 100 and c["h"] > 30 for c in layout["charts"])

    shot = tmp_path / "report.png"
    size = f"--window-size={WIDTH},{layout['height']}"
    painted = browse(chromium, size, f"--screenshot={shot}", report.as_uri())
    assert shot.is_file(), painted.stderr[-2000:]
    image = read_png(shot)
    assert (image.width, image.height) == (WIDTH, layout["height"])

    seen: dict[str, int] = {}
    for mark in layout["marks"]:
        assert mark["h"] > 0 and mark["w"] > 0, mark
        if mark["w"] < 4 or mark["h"] < 4:
            continue  # a sliver: sized, but too thin to sample without its anti-aliased edge
        x, y = int(mark["x"] + mark["w"] / 2), int(mark["y"] + mark["h"] / 2)
        want, got = colour(mark["fill"]), image.pixel(x, y)
        assert all(abs(a - b) <= 8 for a, b in zip(want, got)), (mark, got)
        seen[mark["chart"]] = seen.get(mark["chart"], 0) + 1
    assert set(seen) >= CHARTS, f"charts with no mark painted: {CHARTS - set(seen)}"
