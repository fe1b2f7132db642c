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

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
SUBJECT_DIRS = ("events", "master", "commands", "ops")
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


class _UnresolvedType(KeyError):
    """A type reference that names no file of the catalogue."""


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
            name = _full_name(schema, "")
            if name in raw:
                problems.append(f"{where}: {name} is already defined in {files[name]}")
            raw[name], files[name] = schema, where
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
            except _UnresolvedType as exc:
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
            self._resolved[full] = _dumps(_expand(full, "", self.raw, set()))
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
        yield from _walk(self.raw[full], full.rsplit(".", 1)[0], self.raw, "", (full,))


def _full_name(schema: dict[str, Any], enclosing: str) -> str:
    name = str(schema.get("name", ""))
    if "." in name:
        return name
    namespace = schema.get("namespace", enclosing)
    return f"{namespace}.{name}" if namespace else name


def _reference(ref: str, namespace: str, raw: dict[str, Any]) -> str:
    if ref in raw or "." in ref:
        return ref
    return f"{namespace}.{ref}" if namespace else ref


def _expand(node: Any, namespace: str, raw: dict[str, Any], done: set[str]) -> Any:
    """Inline named references: first use gets the definition, later uses the full name."""
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node
        full = _reference(node, namespace, raw)
        if full in done:
            return full
        if full not in raw:
            raise _UnresolvedType(f"unknown type {node!r} (used in namespace {namespace or '-'}; "
                           f"named types must be in their own file and referenced by full name)")
        return _expand(raw[full], namespace, raw, done)
    if isinstance(node, list):
        return [_expand(branch, namespace, raw, done) for branch in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if not isinstance(kind, str):  # a union or a nested definition under "type"
        return _expand(kind, namespace, raw, done)
    if kind in NAMED:
        full = _full_name(node, namespace)
        done.add(full)
        ns, short = full.rsplit(".", 1) if "." in full else ("", full)
        out = {**node, "name": short, "namespace": ns}
        if kind in ("record", "error"):
            out["fields"] = [{**f, "type": _expand(f.get("type"), ns, raw, done)}
                             for f in node.get("fields", [])]
        return out
    if kind == "array":
        return {**node, "items": _expand(node.get("items"), namespace, raw, done)}
    if kind == "map":
        return {**node, "values": _expand(node.get("values"), namespace, raw, done)}
    return node if kind in PRIMITIVES else _expand(kind, namespace, raw, done)


def _walk(node: Any, namespace: str, raw: dict[str, Any], prefix: str,
          stack: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, str):
        full = _reference(node, namespace, raw)
        if node not in PRIMITIVES and full in raw and full not in stack:
            yield from _walk(raw[full], full.rsplit(".", 1)[0], raw, prefix, (*stack, full))
    elif isinstance(node, list):
        for branch in node:
            yield from _walk(branch, namespace, raw, prefix, stack)
    elif isinstance(node, dict):
        kind = node.get("type")
        if not isinstance(kind, str):
            yield from _walk(kind, namespace, raw, prefix, stack)
        elif kind in ("record", "error"):
            ns = _full_name(node, namespace).rsplit(".", 1)[0]
            for field in node.get("fields", []):
                path = f"{prefix}{field.get('name')}"
                yield path, field
                yield from _walk(field.get("type"), ns, raw, f"{path}.", stack)
        elif kind == "array":
            yield from _walk(node.get("items"), namespace, raw, prefix.rstrip(".") + "[].", stack)
        elif kind == "map":
            yield from _walk(node.get("values"), namespace, raw, prefix.rstrip(".") + "{}.", stack)
        elif kind not in PRIMITIVES:
            yield from _walk(kind, namespace, raw, prefix, stack)


def _dumps(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def default_root() -> Path:
    return Path(str(importlib.resources.files("s2c.schemas")))


@functools.lru_cache(maxsize=None)
def load_catalog(root: Path | None = None) -> Catalog:
    """The catalogue of `root` (default: the installed `s2c.schemas` package), loaded once."""
    return Catalog.from_dir(root or default_root())
