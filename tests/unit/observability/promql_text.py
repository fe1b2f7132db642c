"""Reading PromQL and Grafana dashboards as text: queries, template variables, series names.

Prometheus 2.42 has no parse endpoint, so which series a query names is read lexically: drop
strings, label matchers, ranges and grouping clauses, and keep identifiers that are not called
like functions. Parsing itself is left to a real Prometheus (`/api/v1/query`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Grafana's built-in interval variables, given values a test Prometheus accepts.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.*),)?\s*(?P<label>\w+)\s*\)\s*$")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL with Grafana variables) for every panel target."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def variable_selectors(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(variable, series selector, label) of every `label_values(selector, label)` variable."""
    for name, var in variables(dashboard).items():
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = _LABEL_VALUES.match(query)
        assert match and match["selector"], f"variable {name}: want label_values(selector, label)"
        yield name, match["selector"], match["label"]


def as_promql(expr: str, defined: set[str]) -> str:
    """Replace Grafana variables: built-in intervals by durations, template variables by `.*`."""

    def value(m: re.Match[str]) -> str:
        name = m[1] or m[2]
        if name in BUILTINS:
            return BUILTINS[name]
        if name in defined:
            return ".*"
        raise ValueError(f"undefined Grafana variable ${name} in: {expr}")

    return _VARIABLE.sub(value, expr)


def series_names(expr: str) -> set[str]:
    """Metric and recording-rule names a PromQL expression selects."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b(?:group_left|group_right)\b", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == "." or m[0].lower() in _KEYWORDS:
            continue  # part of a number (1e3), or an operator
        if text[m.end() :].lstrip().startswith("("):
            continue  # function or aggregation
        names.add(m[0])
    return names
