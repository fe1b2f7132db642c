"""Grafana 10 dashboard building blocks for the s2c dashboards (stdlib only).

Every panel and query names the Prometheus datasource as `${DS_PROMETHEUS}`: a datasource
template variable when the JSON is provisioned from files, and the import input when it is
uploaded through the UI. `build.py` assembles the dashboards from these pieces.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

DATASOURCE: Json = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SCHEMA_VERSION = 39  # Grafana 10.4


def target(
    expr: str,
    legend: str = "__auto",
    ref: str = "A",
    *,
    instant: bool = False,
    fmt: str = "time_series",
) -> Json:
    return {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "format": fmt,
        "editorMode": "code",
    }


def _targets(queries: list[tuple[str, str]], *, instant: bool = False) -> list[Json]:
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant)
        for i, (expr, legend) in enumerate(queries)
    ]


def _thresholds(steps: list[tuple[float | None, str]]) -> Json:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def timeseries(
    title: str,
    description: str,
    queries: list[tuple[str, str]],
    unit: str,
    *,
    width: int = 12,
    stack: bool = False,
) -> Json:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none"},
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "gridPos": {"w": width, "h": 8},
    }


def stat(
    title: str,
    description: str,
    expr: str,
    unit: str,
    steps: list[tuple[float | None, str]] | None = None,
    *,
    width: int = 4,
) -> Json:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([(expr, "")], instant=True),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": _thresholds(steps or [(None, "green")])},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
            "justifyMode": "center",
            "orientation": "auto",
        },
        "gridPos": {"w": width, "h": 4},
    }


def bars(
    title: str, description: str, expr: str, legend: str, unit: str, *, width: int = 8
) -> Json:
    """Horizontal bar gauge of one instant query over the selected time range."""
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets([(expr, legend)], instant=True),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": _thresholds([(None, "blue")])},
            "overrides": [],
        },
        "options": {
            "orientation": "horizontal",
            "displayMode": "basic",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "left",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        "gridPos": {"w": width, "h": 8},
    }


def heatmap(title: str, description: str, expr: str, unit: str, *, width: int = 12) -> Json:
    """Latency heatmap from Prometheus histogram buckets (already bucketed: no calculation)."""
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, "{{le}}", fmt="heatmap")],
        "options": {
            "calculate": False,
            "cellGap": 1,
            "yAxis": {"unit": unit},
            "color": {
                "mode": "scheme",
                "scheme": "Oranges",
                "exponent": 0.5,
                "steps": 64,
                "fill": "dark-orange",
                "reverse": False,
            },
            "rowsFrame": {"layout": "auto"},
            "tooltip": {"show": True},
            "legend": {"show": True},
        },
        "fieldConfig": {"defaults": {}, "overrides": []},
        "gridPos": {"w": width, "h": 8},
    }


def row(title: str) -> Json:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": 24, "h": 1},
    }


def datasource_variable() -> Json:
    return {
        "type": "datasource",
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "query": "prometheus",
        "regex": "",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "options": [],
        "skipUrlSync": False,
    }


def query_variable(name: str, label: str, query: str) -> Json:
    """Multi-select label variable; "All" becomes `.*` so `label=~"$name"` matches everything."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "hide": 0,
        "skipUrlSync": False,
    }


def layout(panels: list[Json]) -> list[Json]:
    """Assign ids and grid positions left to right, wrapping at 24 columns; rows start a line."""
    x = y = line_height = 0
    placed = []
    for panel_id, panel in enumerate(panels, start=1):
        pos = panel["gridPos"]
        if panel["type"] == "row" or x + pos["w"] > 24:
            x, y, line_height = 0, y + line_height, 0
        placed.append({"id": panel_id, **panel, "gridPos": {**pos, "x": x, "y": y}})
        x += pos["w"]
        line_height = max(line_height, pos["h"])
        if panel["type"] == "row":
            x, y, line_height = 0, y + pos["h"], 0
    return placed


def dashboard(
    uid: str, title: str, description: str, variables: list[Json], panels: list[Json]
) -> Json:
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "Prometheus scraping the s2c workers with deploy/prometheus/rules.yml",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *(
                {"type": "panel", "id": kind, "name": kind, "version": ""}
                for kind in sorted({p["type"] for p in panels if p["type"] != "row"})
            ),
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["s2c"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "tags": ["s2c"],
                "asDropdown": False,
                "title": "s2c",
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }
