"""Prometheus metrics of the connectors, declared once; tests pass a fresh registry.

Labels are bounded: the input format, the canonical event type, the dead-letter stage and the
place that failed (a segment/element such as `SVC01` or `PV1-2`), never a value from a message.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "s2c_connector_events",
            "Canonical events published by the connectors",
            ["format", "event_type"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "s2c_connector_dead_letters",
            "Inputs sent to the dead-letter topic, by stage and place",
            ["format", "stage", "reason"],
            registry=registry,
        )
        self.acks = Counter(
            "s2c_connector_mllp_acks",
            "MLLP acknowledgments sent, by acknowledgment code",
            ["code"],
            registry=registry,
        )
        self.mllp_refused = Counter(
            "s2c_connector_mllp_refused_connections",
            "MLLP connections closed before a message was read: `address` (peer not in "
            "S2C_MLLP_ALLOW) or `tls` (TLS handshake failed or timed out)",
            ["reason"],
            registry=registry,
        )
        self.mllp_oversized = Counter(
            "s2c_connector_mllp_oversized_messages",
            "MLLP messages over S2C_MLLP_MAX_BYTES: answered AR, neither published nor "
            "dead-lettered",
            registry=registry,
        )

    def published(self, fmt: str, event_type: str) -> None:
        self.events.labels(fmt, event_type).inc()

    def dead_lettered(self, fmt: str, stage: str, location: str) -> None:
        self.dead_letters.labels(fmt, stage, reason_label(location)).inc()


def reason_label(location: str) -> str:
    """`FT1[2]-13` and `CLP[3]02` become `FT1-13` and `CLP02`: repetitions would grow the label set."""
    return re.sub(r"\[[^\]]*\]", "", location).split(" ")[0][:32] or "unknown"
