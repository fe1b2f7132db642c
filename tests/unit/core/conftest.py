"""Fixtures for the pure-core tests: the small health system of `core_world`."""

from __future__ import annotations

import pytest
from core_world import IDS, Feed, master_data

from s2c.tables.master import DictMasterData
from s2c.tables.replay import Pipeline


@pytest.fixture
def master() -> DictMasterData:
    return master_data()


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def pipeline(master: DictMasterData) -> Pipeline:
    return Pipeline(master, IDS)
