"""Conformance run on the public sample corpus; tests/conftest.py collects it only when that
folder exists. Named explicitly on the command line without the corpus, its tests skip."""

from __future__ import annotations

import pytest
from public_samples import FIXTURES

from s2c.streams.connectors.events import PatientRefs


@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"no public sample corpus at {FIXTURES}")


@pytest.fixture
def refs() -> PatientRefs:
    return PatientRefs(b"unit-test-key-not-a-secret-0123")
