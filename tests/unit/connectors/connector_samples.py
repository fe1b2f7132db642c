"""Helpers for connector unit tests: where the public samples live and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures"
PRODUCED_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def sample(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()
