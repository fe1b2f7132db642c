"""Fixtures for the synthetic health system tests: one small planned system per session."""

from __future__ import annotations

import pytest

from s2c.streams.synth import Synthesis, SynthParams, generate

SMALL = SynthParams(seed=7, sites=3, clinic_visits=300, walk_ins=20, ed_visits=60, cases=40)


@pytest.fixture(scope="session")
def small_params() -> SynthParams:
    return SMALL


@pytest.fixture(scope="session")
def small() -> Synthesis:
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_events(small: Synthesis) -> list:
    return list(small.events())
