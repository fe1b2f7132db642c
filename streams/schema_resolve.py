"""Named-type resolution over raw `.avsc` JSON: inline references, walk fields through them.

Pure functions on parsed JSON, no files: `catalog.py` owns loading. References are resolved the
Avro way (full name, else relative to the enclosing namespace); each named type is inlined at its
first use, depth first, and referenced by full name afterwards, which is valid Avro.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})


class UnresolvedType(KeyError):
    """A type reference that names no file of the catalogue."""


def full_name(schema: dict[str, Any], enclosing: str) -> str:
    name = str(schema.get("name", ""))
    if "." in name:
        return name
    namespace = schema.get("namespace", enclosing)
    return f"{namespace}.{name}" if namespace else name


def reference(ref: str, namespace: str, raw: dict[str, Any]) -> str:
    if ref in raw or "." in ref:
        return ref
    return f"{namespace}.{ref}" if namespace else ref


def expand(node: Any, namespace: str, raw: dict[str, Any], done: set[str]) -> Any:
    """Inline named references: first use gets the definition, later uses the full name."""
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node
        full = reference(node, namespace, raw)
        if full in done:
            return full
        if full not in raw:
            raise UnresolvedType(
                f"unknown type {node!r} (used in namespace {namespace or '-'}; "
                f"named types must be in their own file and referenced by full name)"
            )
        return expand(raw[full], namespace, raw, done)
    if isinstance(node, list):
        return [expand(branch, namespace, raw, done) for branch in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if not isinstance(kind, str):  # a union or a nested definition under "type"
        return expand(kind, namespace, raw, done)
    if kind in NAMED:
        full = full_name(node, namespace)
        done.add(full)
        ns, short = full.rsplit(".", 1) if "." in full else ("", full)
        out = {**node, "name": short, "namespace": ns}
        if kind in ("record", "error"):
            out["fields"] = [
                {**f, "type": expand(f.get("type"), ns, raw, done)} for f in node.get("fields", [])
            ]
        return out
    if kind == "array":
        return {**node, "items": expand(node.get("items"), namespace, raw, done)}
    if kind == "map":
        return {**node, "values": expand(node.get("values"), namespace, raw, done)}
    return node if kind in PRIMITIVES else expand(kind, namespace, raw, done)


def walk(
    node: Any, namespace: str, raw: dict[str, Any], prefix: str, stack: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, str):
        full = reference(node, namespace, raw)
        if node not in PRIMITIVES and full in raw and full not in stack:
            yield from walk(raw[full], full.rsplit(".", 1)[0], raw, prefix, (*stack, full))
    elif isinstance(node, list):
        for branch in node:
            yield from walk(branch, namespace, raw, prefix, stack)
    elif isinstance(node, dict):
        kind = node.get("type")
        if not isinstance(kind, str):
            yield from walk(kind, namespace, raw, prefix, stack)
        elif kind in ("record", "error"):
            ns = full_name(node, namespace).rsplit(".", 1)[0]
            for field in node.get("fields", []):
                path = f"{prefix}{field.get('name')}"
                yield path, field
                yield from walk(field.get("type"), ns, raw, f"{path}.", stack)
        elif kind == "array":
            yield from walk(node.get("items"), namespace, raw, prefix.rstrip(".") + "[].", stack)
        elif kind == "map":
            yield from walk(node.get("values"), namespace, raw, prefix.rstrip(".") + "{}.", stack)
        elif kind not in PRIMITIVES:
            yield from walk(kind, namespace, raw, prefix, stack)
