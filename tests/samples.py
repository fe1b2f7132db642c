"""Where the test messages live: the ones s2c ships, and the optional public corpus.

`tests/messages/` holds HL7 v2, X12 and FHIR messages written for this project; the unit and
integration tiers read only those. The public samples (`../shared/fixtures` beside a checkout, or
the folder named by `S2C_SAMPLES_DIR`) feed the extra conformance run in `tests/conformance/`,
which the suite includes when that folder exists.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MESSAGES = TESTS / "messages"
SAMPLES_ENV = "S2C_SAMPLES_DIR"
PRODUCED_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def message(relative: str) -> bytes:
    """The bytes of a message the project ships under tests/messages/."""
    return (MESSAGES / relative).read_bytes()


def samples_dir() -> Path:
    """Where the public corpus is looked for (it may not exist)."""
    configured = os.environ.get(SAMPLES_ENV)
    if configured:
        return Path(configured).resolve()
    return TESTS.parent.parent / "shared" / "fixtures"
