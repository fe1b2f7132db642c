"""The runtime's boundary with Faust, mode and aiokafka (streams/runtime/overrides).

Every private name of those libraries that s2c uses is used inside the overrides package, and
the versions those overrides were written against are the ones pyproject.toml pins and this
environment runs. So an upgrade of Faust is reviewed in one package, and a module that starts
to lean on one more private attribute elsewhere fails here.
"""

from __future__ import annotations

import ast
import tomllib
from importlib.metadata import version
from pathlib import Path

from s2c.streams.runtime.overrides import WRITTEN_AGAINST, check_versions

ROOT = Path(__file__).resolve().parents[3]
OVERRIDES = ROOT / "streams" / "runtime" / "overrides"
LIBRARIES = ("faust", "mode", "aiokafka")
# confluent-kafka's error codes for the client's own errors are public constants spelled with a
# leading underscore (librdkafka's RD_KAFKA_RESP_ERR__*), not private names.
PUBLIC_UNDERSCORED = {"KafkaError"}
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}  # public, underscored by design


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _names_s2c_defines() -> set[str]:
    """Every name s2c's own code binds: functions, classes, attributes it assigns, arguments,
    keyword arguments it passes (argparse's `set_defaults(_module=...)`)."""
    names: set[str] = set()
    for path in _sources("streams", "tables"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__slots__" for target in node.targets
            ):
                names.update(e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant))
    return names


def _private_uses(path: Path, ours: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        name = None
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name[0] == "_"]
        elif isinstance(node, ast.Attribute) and node.attr[:1] == "_" and node.attr[:2] != "__":
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls", *PUBLIC_UNDERSCORED):
                continue
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value)[:1] == "_"
        ):
            name = str(node.args[1].value)
        if name is not None and name not in ours and name not in NAMEDTUPLE_API:
            found.append(f"{node.lineno}: {name}")
    return found


def test_no_private_name_of_faust_mode_or_aiokafka_outside_the_overrides() -> None:
    ours = _names_s2c_defines() - _names_the_overrides_use()
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path in _sources("streams", "tables")
        if OVERRIDES not in path.parents
        if (uses := _private_uses(path, ours))
    }
    assert offenders == {}


def _names_the_overrides_use() -> set[str]:
    """Private names read inside the overrides that s2c also happens to bind elsewhere
    (`_processors` is both a Faust attribute and, say, a local): those still count as Faust's."""
    used: set[str] = set()
    for path in OVERRIDES.glob("*.py"):
        used.update(use.split(": ")[1] for use in _private_uses(path, set()))
    return used


def test_the_check_finds_a_private_name_used_outside() -> None:
    sample = ROOT / "tests" / "unit" / "streams" / "_boundary_sample.txt"
    sample.write_text("def f(consumer):\n    return consumer._committed_offset\n")
    try:
        ours = _names_s2c_defines() - _names_the_overrides_use()
        assert _private_uses(sample, ours) == ["2: _committed_offset"]
    finally:
        sample.unlink()


def test_the_pins_are_the_versions_the_overrides_were_written_against() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        spec.split("==")[0]: spec.split("==")[1] for spec in project["dependencies"] if "==" in spec
    }
    assert {name: pins.get(name) for name in WRITTEN_AGAINST} == WRITTEN_AGAINST
    assert {name: version(name) for name in WRITTEN_AGAINST} == WRITTEN_AGAINST
    assert check_versions() == []
