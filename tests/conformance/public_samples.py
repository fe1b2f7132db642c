"""Reads the public corpus for the conformance run (tests/conftest.py decides whether it runs)."""

from __future__ import annotations

from samples import PRODUCED_AT, samples_dir

FIXTURES = samples_dir()

__all__ = ["FIXTURES", "PRODUCED_AT", "sample"]


def sample(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()
