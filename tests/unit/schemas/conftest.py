"""Fixtures for the schema tests: a scratch copy of the real catalogue to break on purpose."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from s2c.streams.catalog import default_root

Edit = Callable[[str, Callable[[dict[str, Any]], None]], None]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of schemas/ (avsc files and history only) in a tmp dir."""
    root = tmp_path / "schemas"
    skip = shutil.ignore_patterns("*.py", "*.md", "__pycache__")
    shutil.copytree(default_root(), root, ignore=skip)
    return root


@pytest.fixture
def edit(tree: Path) -> Edit:
    """edit("events/ChargePosted.avsc", mutate): load the file, let `mutate` change it, save."""

    def _edit(relative: str, mutate: Callable[[dict[str, Any]], None]) -> None:
        path = tree / relative
        schema = json.loads(path.read_text())
        mutate(schema)
        path.write_text(json.dumps(schema, indent=2))

    return _edit
