"""Avro schema compatibility under the Confluent levels: one function for CI and the registry.

`s2c schemas check` and the schema registry service both call `check_compatibility`, so a schema
that passes CI is never refused by the registry and vice versa. The verdict is apache avro's
`ReaderWriterCompatibilityChecker` (the reference implementation); this module only adds the
level semantics (which direction, which versions) and readable messages naming the field path,
because the checker's own report says "/fields/3/type" and loses the path inside unions.

Direction: BACKWARD means the candidate (new) schema reads data written with the previous one;
FORWARD means the previous schema reads data written with the candidate; FULL is both.
"""

from __future__ import annotations

import json

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    lookup_writer_field,
)

LEVELS: tuple[str, ...] = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

_NAMED = {"record", "enum", "fixed", "error"}


class SchemaParseError(ValueError):
    """The schema text is not valid JSON or not a valid Avro schema."""


def parse(schema_json: str) -> avro.schema.Schema:
    """Parse with apache avro, raising `SchemaParseError` with the parser's reason."""
    try:
        return avro.schema.parse(schema_json)
    except (json.JSONDecodeError, avro.errors.AvroException, TypeError, KeyError) as exc:
        raise SchemaParseError(f"invalid Avro schema: {exc}") from exc


def check_compatibility(candidate: str, previous: list[str], level: str) -> list[str]:
    """Messages explaining why `candidate` breaks `level` against `previous` (oldest -> newest).

    Empty list = compatible. Non-transitive levels look only at the newest previous version.
    Versions in messages are numbered from 1 = oldest of `previous`.
    """
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}; expected one of {LEVELS}")
    new = parse(candidate)
    olds = [parse(text) for text in previous]
    if level == "NONE" or not olds:
        return []
    numbered = list(enumerate(olds, start=1))
    if not level.endswith("_TRANSITIVE"):
        numbered = numbered[-1:]
    base = level.removesuffix("_TRANSITIVE")
    messages: list[str] = []
    for version, old in numbered:
        if base in ("BACKWARD", "FULL"):
            messages += _explain(
                reader=new,
                writer=old,
                what=f"candidate cannot read data written "
                f"with previous version {version} ({level})",
            )
        if base in ("FORWARD", "FULL"):
            messages += _explain(
                reader=old,
                writer=new,
                what=f"previous version {version} cannot "
                f"read data written with the candidate ({level})",
            )
    return messages


def _explain(reader: avro.schema.Schema, writer: avro.schema.Schema, what: str) -> list[str]:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    reasons = _diff(reader, writer, _name(reader), set())
    if not reasons:  # the checker saw something our walk did not: report its raw words
        reasons = [f"{', '.join(sorted(result.locations))}: {'; '.join(sorted(result.messages))}"]
    return [f"{what}: {reason}" for reason in reasons]


def _diff(
    reader: avro.schema.Schema, writer: avro.schema.Schema, path: str, seen: set[tuple[int, int]]
) -> list[str]:
    """Walk reader and writer together; name each incompatible leaf by its field path."""
    if (id(reader), id(writer)) in seen:
        return []
    seen.add((id(reader), id(writer)))
    if reader.type == "union" or writer.type == "union":
        return _diff_union(reader, writer, path, seen)
    if reader.type == writer.type == "record":
        if not _same_name(reader, writer):
            return [f"{path}: record name {_name(reader)} does not match {_name(writer)}"]
        out: list[str] = []
        for field in reader.fields:
            field_path = f"{path}.{field.name}"
            old = lookup_writer_field(writer_schema=writer, reader_field=field)
            if old is None and not field.has_default:
                out.append(
                    f"field '{field_path}' has no default and the writer's data lacks it "
                    f'(give it a "default", or do not add/remove it)'
                )
            elif old is not None:
                out += _diff(field.type, old.type, field_path, seen)
        return out
    if reader.type == writer.type == "array":
        return _diff(reader.items, writer.items, f"{path}[]", seen)
    if reader.type == writer.type == "map":
        return _diff(reader.values, writer.values, f"{path}{{}}", seen)
    if _compatible(reader, writer):
        return []
    if reader.type == writer.type == "enum":
        missing = sorted(set(writer.symbols) - set(reader.symbols))
        return [f"{path}: enum {_name(reader)} lacks writer symbols {missing} and has no default"]
    return [f"{path}: reader type {_describe(reader)} cannot read writer type {_describe(writer)}"]


def _diff_union(
    reader: avro.schema.Schema, writer: avro.schema.Schema, path: str, seen: set[tuple[int, int]]
) -> list[str]:
    writer_branches = writer.schemas if writer.type == "union" else [writer]
    reader_branches = reader.schemas if reader.type == "union" else [reader]
    out: list[str] = []
    for branch in writer_branches:
        if any(_compatible(r, branch) for r in reader_branches):
            continue
        twin = next((r for r in reader_branches if _twin(r, branch)), None)
        detail = _diff(twin, branch, path, seen) if twin is not None else []
        out += detail or [
            f"{path}: reader {_describe(reader)} cannot read writer branch {_describe(branch)}"
        ]
    return out


def _compatible(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    verdict = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return verdict.compatibility is not SchemaCompatibilityType.incompatible


def _twin(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    """Same kind of thing (same named type, or same container type): worth a detailed walk."""
    if reader.type != writer.type:
        return False
    return _same_name(reader, writer) if reader.type in _NAMED else reader.type in ("array", "map")


def _same_name(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    aliases = reader.props.get("aliases") or []
    return reader.name == writer.name or writer.fullname in aliases


def _name(schema: avro.schema.Schema) -> str:
    return getattr(schema, "fullname", None) or schema.type


def _describe(schema: avro.schema.Schema) -> str:
    if schema.type == "union":
        return "[" + ", ".join(_describe(s) for s in schema.schemas) + "]"
    return _name(schema) if schema.type in _NAMED else schema.type
