"""AGENT tier fixtures and hooks: `async def` tests run in a fresh event loop each (no asyncio
plugin is installed), and every test here carries the `agent` marker. The stand-ins for the
outside world live in agentkit.py, which tests import.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # agentkit
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))  # the core tests' small world

TEST_TIMEOUT_SECONDS = 20.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests of this tier in a fresh loop (no asyncio plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), TEST_TIMEOUT_SECONDS))
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.agent)
