"""The Avro schema catalogue: loads `schemas/` (the `s2c.schemas` package) and resolves named types.

Each `.avsc` file defines one named type; records reference shared types in `schemas/common` by
full name. `resolved_json(name)` inlines every referenced type once (first use, depth first) and
serialises with sorted keys, so the text is self-contained and stable: it is what the schema
registry stores under subject = full record name (RecordNameStrategy) and what
`schemas/history/<full.name>/v<N>.avsc` records. Subjects are the records outside `s2c.common`.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro

from s2c.streams.compat import SchemaParseError, parse
from s2c.streams.schema_resolve import NAMED, UnresolvedType, expand, full_name, walk

SUBJECT_DIRS = ("events", "master", "commands", "ops", "erp")
COMMON_DIR = "common"
HISTORY_DIR = "history"
SENSITIVE = "s2c.sensitive"
# Compacted master data and replayable events/commands/dead letters are all read back from the
# beginning by the newest consumer, hence transitive everywhere (see schemas/GOVERNANCE.md).
COMPATIBILITY = {ns: "BACKWARD_TRANSITIVE" for ns in SUBJECT_DIRS}


class CatalogError(ValueError):
    """The catalogue cannot be loaded; `problems` names every file and type at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Catalog:
    """All schemas of one `schemas/` tree, by full name, with their recorded history."""

    def __init__(self, root: Path, raw: dict[str, dict[str, Any]], files: dict[str, Path]) -> None:
        self.root = root
        self.raw = raw  # full name -> the file's JSON, as written
        self.files = files
        self._resolved: dict[str, str] = {}
        self._parsed: dict[str, Any] = {}
        self._short = {n.rsplit(".", 1)[-1]: n for n in raw}

    @classmethod
    def from_dir(cls, root: Path) -> Catalog:
        raw: dict[str, dict[str, Any]] = {}
        files: dict[str, Path] = {}
        problems: list[str] = []
        for path in sorted(root.glob("*/*.avsc")):
            if path.parent.name == HISTORY_DIR:
                continue
            where = path.relative_to(root)
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not valid JSON: {exc}")
                continue
            if not isinstance(schema, dict) or str(schema.get("type")) not in NAMED:
                problems.append(f"{where}: must define one named type (record, enum or fixed)")
                continue
            name = full_name(schema, "")
            if name in raw:
                problems.append(f"{where}: {name} is already defined in {files[name]}")
            raw[name], files[name] = schema, where
        if not raw and not problems:
            problems.append(f"{root}: no schemas found (expected <folder>/<Name>.avsc files)")
        shorts: dict[str, str] = {}
        for name in raw:  # short names are the lookup key of `short()`, so they must be unique
            other = shorts.setdefault(name.rsplit(".", 1)[-1], name)
            if other != name:
                problems.append(f"{files[name]}: {name} has the same short name as {other}")
        if problems:
            raise CatalogError(problems)
        catalog = cls(root, raw, files)
        for name in catalog.names(include_common=True):
            try:
                parse(catalog.resolved_json(name))
                catalog.parsed(name)
            except UnresolvedType as exc:
                problems.append(f"{files[name]}: {name}: {exc.args[0]}")
            except (SchemaParseError, fastavro.schema.SchemaParseException, ValueError) as exc:
                problems.append(f"{files[name]}: {name} does not parse: {exc}")
        if problems:
            raise CatalogError(problems)
        return catalog

    def names(self, include_common: bool = False) -> list[str]:
        """Full names of the registered records (subjects); shared types only on request."""
        return sorted(n for n in self.raw if include_common or self.files[n].parts[0] != COMMON_DIR)

    def short(self, name_or_short: str) -> str:
        """Full name for "CaseScheduled" or "s2c.events.CaseScheduled"; KeyError if unknown."""
        if name_or_short in self.raw:
            return name_or_short
        if name_or_short in self._short:
            return self._short[name_or_short]
        raise KeyError(f"no schema named {name_or_short!r} in {self.root}")

    def resolved_json(self, name: str) -> str:
        """Self-contained schema JSON, named types inlined once, keys sorted: the registry text."""
        full = self.short(name)
        if full not in self._resolved:
            self._resolved[full] = _dumps(expand(full, "", self.raw, set()))
        return self._resolved[full]

    def parsed(self, name: str) -> Any:
        """fastavro parsed schema, for `schemaless_writer` / `schemaless_reader`."""
        full = self.short(name)
        if full not in self._parsed:
            self._parsed[full] = fastavro.parse_schema(json.loads(self.resolved_json(full)))
        return self._parsed[full]

    def compatibility(self, name: str) -> str:
        """The subject's compatibility level (its folder's policy), as set in the registry."""
        return COMPATIBILITY.get(self.files[self.short(name)].parts[0], "BACKWARD_TRANSITIVE")

    def history(self, name: str) -> list[str]:
        """Recorded versions of a subject, oldest first (v1, v2, ...), as schema JSON text."""
        folder = self.root / HISTORY_DIR / self.short(name)
        versions = sorted(folder.glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
        return [p.read_text(encoding="utf-8") for p in versions]

    def sensitive_fields(self, name: str) -> frozenset[str]:
        """Dotted paths of fields marked `"s2c.sensitive": true`, through named types."""
        return frozenset(path for path, field in self.fields(name) if field.get(SENSITIVE))

    @property
    def sensitive(self) -> frozenset[str]:
        """Every sensitive field of every subject, as "<full record name>.<field path>"."""
        return frozenset(f"{n}.{p}" for n in self.names() for p in self.sensitive_fields(n))

    def fields(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(dotted path, field JSON) for every field reachable from `name`, named types expanded."""
        full = self.short(name)
        yield from walk(self.raw[full], full.rsplit(".", 1)[0], self.raw, "", (full,))


def _dumps(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def default_root() -> Path:
    return Path(str(importlib.resources.files("s2c.schemas")))


@functools.lru_cache(maxsize=None)
def load_catalog(root: Path | None = None) -> Catalog:
    """The catalogue of `root` (default: the installed `s2c.schemas` package), loaded once."""
    return Catalog.from_dir(root or default_root())
