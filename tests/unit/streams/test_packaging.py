"""The install declares every package: pyproject's explicit `packages` list must name each folder
under streams/, tables/ and schemas/ that Python can import, or a wheel silently ships without it
(s2c.streams.topology was once missing) and setuptools prints a page of warnings per folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TOP_LEVEL = ("streams", "tables", "schemas")
SHIPPED = {".py", ".avsc"}  # code, and the schema catalogue shipped as package data


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _importable_folders() -> set[str]:
    """`s2c.<dotted path>` of every folder holding shipped files whose path parts are all
    identifiers (schemas/history/s2c.events.X is not: those ship as s2c.schemas' data)."""
    found = set()
    for top in TOP_LEVEL:
        for folder in [ROOT / top, *sorted(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            parts = folder.relative_to(ROOT).parts
            if "__pycache__" in parts or not all(part.isidentifier() for part in parts):
                continue
            if any(f.suffix in SHIPPED for f in folder.iterdir() if f.is_file()):
                found.add(".".join(("s2c", *parts)))
    return found


def test_every_importable_folder_is_a_declared_package() -> None:
    missing = _importable_folders() - set(_setuptools()["packages"])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_declared_package_is_a_folder_under_its_mapped_top_level() -> None:
    setuptools = _setuptools()
    assert setuptools["package-dir"] == {f"s2c.{top}": top for top in TOP_LEVEL}
    for package in setuptools["packages"]:
        root, top, *rest = package.split(".")
        assert root == "s2c", f"{package} would install a top-level module"
        assert (ROOT / top / Path(*rest)).is_dir(), f"{package} names no folder"


def test_the_finder_would_catch_a_forgotten_subpackage() -> None:
    assert "s2c.streams.topology" in _importable_folders()
    assert "s2c.schemas.events" in _importable_folders()
    assert not any("history." in name for name in _importable_folders())
