"""Lint rules for the schema catalogue: the conventions of schemas/README.md, checked by machine.

Each rule returns messages of the form "<file>: <full record name>.<field path>: <what is wrong>",
so a failing `s2c schemas check` names the schema and the field. Rules that protect the ERP
contract (no float, no sensitive field) look through named types, because a float or a patient
identifier hidden in a shared line record would reach the ERP just the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from s2c.streams.catalog import COMMON_DIR, SENSITIVE, SUBJECT_DIRS, Catalog
from s2c.streams.schema_resolve import NAMED

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SYMBOL = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
MONEY_WORDS = frozenset(
    {
        "amount",
        "charge",
        "cost",
        "price",
        "paid",
        "rate",
        "fee",
        "balance",
        "payment",
        "debit",
        "credit",
        "total",
        "allowance",
        "reimbursement",
    }
)
TIMESTAMP_LOGICAL = frozenset({"timestamp-millis", "timestamp-micros"})
FIRST_FIELD = {
    "events": ("envelope", "s2c.common.Envelope"),
    "commands": ("header", "s2c.common.CommandHeader"),
}
# The dead-letter envelope keeps the raw bytes of whatever failed, patient fields included; its
# topic is access-restricted instead. Every other command / ops record must carry none.
SENSITIVE_ALLOWED = frozenset({"s2c.ops.DeadLetter"})


def lint(catalog: Catalog) -> list[str]:
    problems: list[str] = []
    for name in catalog.names(include_common=True):
        schema, where = catalog.raw[name], catalog.files[name]
        found = [*_layout(name, schema, str(where)), *_own_fields(name, schema)]
        folder = where.parts[0]
        # What an ERP sends back (erp) is held to the commands' rules: it crosses the same border.
        if folder in ("commands", "erp") or (folder == "ops" and name not in SENSITIVE_ALLOWED):
            found += _contract(catalog, name, forbid_float=folder in ("commands", "erp"))
        problems += [f"{where}: {message}" for message in found]
    return problems


def _layout(name: str, schema: dict[str, Any], where: str) -> Iterator[str]:
    folder, stem = where.split("/")[0], where.rsplit("/", 1)[-1].removesuffix(".avsc")
    namespace, short = name.rsplit(".", 1) if "." in name else ("", name)
    if folder not in (*SUBJECT_DIRS, COMMON_DIR):
        yield f"{name}: unknown folder {folder!r}; use one of {(*SUBJECT_DIRS, COMMON_DIR)}"
    elif namespace != f"s2c.{folder}":
        yield f"{name}: namespace must be 's2c.{folder}' to match its folder"
    if stem != short:
        yield f"{name}: file must be named {short}.avsc (one file per named type)"
    if not TYPE_NAME.match(short):
        yield f"{name}: type names are PascalCase"
    if not str(schema.get("doc", "")).strip():
        yield f"{name}: missing 'doc' on the {schema.get('type')}"
    for symbol in schema.get("symbols", []) if schema.get("type") == "enum" else []:
        if not SYMBOL.match(str(symbol)):
            yield f"{name}: enum symbol {symbol!r} must be UPPER_SNAKE_CASE"
    wanted = FIRST_FIELD.get(folder)
    fields = schema.get("fields", [])
    if wanted and (not fields or (fields[0].get("name"), fields[0].get("type")) != wanted):
        yield f"{name}: first field must be {wanted[0]!r} of type {wanted[1]}"


def _own_fields(name: str, schema: dict[str, Any]) -> Iterator[str]:
    for field in schema.get("fields", []) if schema.get("type") in ("record", "error") else []:
        field_name = str(field.get("name"))
        at = f"{name}.{field_name}"
        if not FIELD_NAME.match(field_name):
            yield f"{at}: field names are snake_case"
        if not str(field.get("doc", "")).strip():
            yield f"{at}: missing 'doc'"
        leaves = list(_leaves(field.get("type")))
        for leaf in leaves:
            if isinstance(leaf, dict) and leaf.get("type") in NAMED:
                yield (
                    f"{at}: defines {leaf.get('type')} {leaf.get('name')!r} inline; put it in "
                    f"schemas/common/{leaf.get('name')}.avsc and reference it by full name"
                )
        yield from (f"{at}: {m}" for m in _field_types(field_name, field, leaves))


def _field_types(field_name: str, field: dict[str, Any], leaves: list[Any]) -> Iterator[str]:
    words = set(field_name.split("_"))
    kinds = {_base(leaf) for leaf in leaves}
    logical = {leaf.get("logicalType") for leaf in leaves if isinstance(leaf, dict)}
    if words & MONEY_WORDS and kinds & {"float", "double"}:
        yield "money-like field uses float/double; use Money (bytes, decimal(18,2))"
    elif words & MONEY_WORDS and kinds & {"int", "long", "bytes"} and not logical - {None}:
        yield "money-like field is a plain number; use Money (bytes, decimal(18,2))"
    if words & {"at", "start", "deadline", "until", "time", "timestamp"} and not (
        kinds == {"long"} and logical <= TIMESTAMP_LOGICAL and logical
    ):
        yield "timestamp field must be long with logicalType timestamp-millis"
    if (words & {"date", "on", "from"}) and not (kinds == {"int"} and logical == {"date"}):
        yield "calendar-day field must be int with logicalType date"
    union = field.get("type")
    if isinstance(union, list) and "null" in union:
        if union[0] != "null" or "default" not in field or field["default"] is not None:
            yield 'optional field must be ["null", T] with "default": null'


def _contract(catalog: Catalog, name: str, forbid_float: bool) -> Iterator[str]:
    for path, field in catalog.fields(name):
        if field.get(SENSITIVE):
            yield (
                f"{name}.{path}: sensitive field (s2c.sensitive) in an ERP command or "
                f"exception record; patient identifiers must not leave the pipeline"
            )
        if forbid_float and {_base(leaf) for leaf in _leaves(field.get("type"))} & {
            "float",
            "double",
        }:
            yield f"{name}.{path}: float/double in an ERP command; use decimal or int"


def _leaves(node: Any) -> Iterator[Any]:
    """Leaf types of a field type: through unions, arrays and maps; named references as names."""
    if isinstance(node, list):
        for branch in node:
            yield from _leaves(branch)
    elif isinstance(node, dict) and node.get("type") == "array":
        yield from _leaves(node.get("items"))
    elif isinstance(node, dict) and node.get("type") == "map":
        yield from _leaves(node.get("values"))
    elif isinstance(node, dict) and not isinstance(node.get("type"), str):
        yield from _leaves(node.get("type"))
    elif node != "null":
        yield node


def _base(leaf: Any) -> str:
    return str(leaf.get("type") if isinstance(leaf, dict) else leaf)
