"""Fixtures for connector unit tests."""

from __future__ import annotations

import pytest

from s2c.streams.connectors.events import PatientRefs


@pytest.fixture
def refs() -> PatientRefs:
    return PatientRefs(b"unit-test-key-not-a-secret-0123")
