"""Suite-wide hooks. Integration fixtures live in tests/integration/conftest.py.

The conformance run over the public sample corpus (tests/conformance/) is collected only when that
folder exists; the terminal summary says in one line whether it ran. CI has the folder, so there
(CI set) a missing corpus is an error rather than a quiet skip.
"""

from __future__ import annotations

import os

import pytest
from samples import SAMPLES_ENV, samples_dir

_SAMPLES = samples_dir()
_HAVE_SAMPLES = _SAMPLES.is_dir()

collect_ignore = [] if _HAVE_SAMPLES else ["conformance"]


def pytest_configure(config: pytest.Config) -> None:
    if not _HAVE_SAMPLES and os.environ.get("CI"):
        raise pytest.UsageError(
            f"CI runs the public-sample conformance run, but {_SAMPLES} does not exist "
            f"(set {SAMPLES_ENV} to the corpus folder)"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ needs the stack, marked or not: `-m "not integration"`
    (make test-unit) must never start Kafka because one module forgot its pytestmark."""
    for item in items:
        if "integration" in item.path.relative_to(config.rootpath).parts[:2]:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _HAVE_SAMPLES:
        terminalreporter.write_line(
            f"public-sample conformance run: not run, no corpus at {_SAMPLES} "
            f"(set {SAMPLES_ENV} to run it)"
        )
        return
    ran = [
        r
        for key in ("passed", "failed", "error")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "call") == "call" and "tests/conformance/" in r.nodeid
    ]
    if not ran:
        terminalreporter.write_line(
            f"public-sample conformance run: corpus at {_SAMPLES}, none of its tests selected"
        )
        return
    failed = sum(1 for r in ran if r.outcome != "passed")
    terminalreporter.write_line(
        f"public-sample conformance run: {len(ran)} tests on {_SAMPLES}, {failed} failed"
    )
