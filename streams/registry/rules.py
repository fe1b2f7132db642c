"""What each registry operation answers or writes, decided over `RegistryState`: no Kafka, no HTTP.

Read rules return the response body or raise `RegistryError`. Write rules ("decisions") return the
log records to append and the response body; the service appends them atomically and only then
answers, so a decision is always taken over a state that includes every earlier write.
"""

from __future__ import annotations

import json
from typing import Any

from s2c.streams.compat import LEVELS, SchemaParseError, check_compatibility, parse
from s2c.streams.registry import errors
from s2c.streams.registry.state import (
    Record,
    RegistryState,
    Version,
    config_record,
    max_id_record,
    mode_record,
    schema_record,
)

MODES = ("READWRITE", "READONLY")
Body = Any
Decision = tuple[list[Record], Body]


def normalize(request: Body) -> str:
    """The request's schema as canonical JSON text (parsed by apache avro), or 42201."""
    if not isinstance(request, dict) or not isinstance(request.get("schema"), str):
        raise errors.invalid_schema("the request needs a \"schema\" string")
    schema_type = request.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise errors.invalid_schema(f"schema type {schema_type} is not supported; "
                                    "this registry stores AVRO schemas only")
    if request.get("references"):
        raise errors.invalid_schema("schema references are not supported by the s2c registry; "
                                    "inline the referenced named types instead")
    try:
        return json.dumps(parse(request["schema"]).to_json(), separators=(",", ":"))
    except SchemaParseError as exc:
        raise errors.invalid_schema(str(exc)) from exc


def version_number(text: str) -> int | None:
    """None for "latest" (or -1), the number for 1..2^31-1, 42202 otherwise."""
    if text in ("latest", "-1"):
        return None
    if text.isdigit() and 1 <= int(text) <= 2**31 - 1:
        return int(text)
    raise errors.invalid_version(text)


def version_body(v: Version) -> Body:
    return {"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema}


# ---------------------------------------------------------------------- reads
def resolve(state: RegistryState, subject: str, version: str, deleted: bool = False) -> Version:
    number = version_number(version)
    found = state.versions(subject, deleted)
    if not found:
        raise errors.subject_not_found(subject)
    if number is None:
        return found[-1]
    match = next((v for v in found if v.version == number), None)
    if match is None:
        raise errors.version_not_found(number)
    return match


def schema_by_id(state: RegistryState, schema_id: int) -> Body:
    if schema_id not in state.schemas:
        raise errors.schema_not_found(schema_id)
    return {"schema": state.schemas[schema_id]}


def schema_users(state: RegistryState, schema_id: int, deleted: bool = False) -> list[Version]:
    if schema_id not in state.schemas:
        raise errors.schema_not_found(schema_id)
    found = [state.subjects[s][n] for s, n in sorted(state.users.get(schema_id, set()))]
    return [v for v in found if deleted or not v.deleted]


def versions(state: RegistryState, subject: str, deleted: bool = False) -> list[int]:
    found = state.versions(subject, deleted)
    if not found:
        raise errors.subject_not_found(subject)
    return [v.version for v in found]


def lookup(state: RegistryState, subject: str, request: Body, deleted: bool = False) -> Body:
    schema = normalize(request)
    if not state.versions(subject, deleted):
        raise errors.subject_not_found(subject)
    found = state.find(subject, schema, deleted)
    if found is None:
        raise errors.schema_not_found()
    return version_body(found)


def compatibility_report(state: RegistryState, subject: str, version: str | None,
                         request: Body, verbose: bool) -> Body:
    """Would the candidate pass the subject's level against one version (or all versions)?"""
    schema = normalize(request)
    if version is None:
        previous = [v.schema for v in state.versions(subject)]
    else:
        previous = [resolve(state, subject, version).schema]
    messages = check_compatibility(schema, previous, state.compatibility(subject))
    body: dict[str, Any] = {"is_compatible": not messages}
    if verbose:
        body["messages"] = messages
    return body


def config(state: RegistryState, subject: str | None, default_to_global: bool) -> Body:
    if subject is not None and subject not in state.configs and not default_to_global:
        raise errors.subject_config_not_found(subject)
    return {"compatibilityLevel": state.compatibility(subject)}


def mode(state: RegistryState, subject: str | None, default_to_global: bool) -> Body:
    if subject is not None and subject not in state.modes and not default_to_global:
        raise errors.subject_mode_not_found(subject)
    return {"mode": state.mode(subject)}


# ---------------------------------------------------------------------- writes
def _writable(state: RegistryState, subject: str) -> None:
    if state.mode(subject) == "READONLY":
        raise errors.read_only(subject)


def register(state: RegistryState, subject: str, schema: str) -> Decision:
    """Same schema again -> its version's id, nothing written; else a compatible new version."""
    _writable(state, subject)
    existing = state.find(subject, schema)
    if existing is not None:
        return [], {"id": existing.id}
    previous = [v.schema for v in state.versions(subject)]
    messages = check_compatibility(schema, previous, state.compatibility(subject))
    if messages:
        raise errors.incompatible(subject, messages)
    new = Version(subject, state.next_version(subject), state.id_for(schema), schema)
    records = [schema_record(new, subject, new.version)]
    if new.id > state.max_id:
        records.append(max_id_record(new.id))
    return records, {"id": new.id}


def delete_subject(state: RegistryState, subject: str, permanent: bool) -> Decision:
    every = state.versions(subject, deleted=True)
    if not every:
        raise errors.subject_not_found(subject)
    _writable(state, subject)
    live = [v for v in every if not v.deleted]
    if permanent:
        if live:
            raise errors.subject_not_soft_deleted(subject)
        return [schema_record(None, subject, v.version) for v in every], [v.version for v in every]
    if not live:
        raise errors.subject_soft_deleted(subject)
    records = [schema_record(Version(v.subject, v.version, v.id, v.schema, True), subject,
                             v.version) for v in live]
    return records, [v.version for v in live]


def delete_version(state: RegistryState, subject: str, version: str, permanent: bool) -> Decision:
    number = version_number(version)
    every = state.versions(subject, deleted=True)
    if not every:
        raise errors.subject_not_found(subject)
    _writable(state, subject)
    live = [v for v in every if not v.deleted]
    pool = every if permanent else live
    if number is None and not pool:
        raise errors.subject_not_found(subject)
    target = pool[-1] if number is None else next((v for v in every if v.version == number), None)
    if target is None:
        raise errors.version_not_found(version)
    if permanent:
        if not target.deleted:
            raise errors.version_not_soft_deleted(subject, target.version)
        return [schema_record(None, subject, target.version)], target.version
    if target.deleted:
        raise errors.version_soft_deleted(subject, target.version)
    gone = Version(target.subject, target.version, target.id, target.schema, True)
    return [schema_record(gone, subject, target.version)], target.version


def set_config(state: RegistryState, subject: str | None, request: Body) -> Decision:
    level = request.get("compatibility") if isinstance(request, dict) else None
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise errors.invalid_compatibility(level)
    return [config_record(subject, level.upper())], {"compatibility": level.upper()}


def delete_config(state: RegistryState, subject: str | None) -> Decision:
    if subject is not None and subject not in state.configs:
        if not state.versions(subject, deleted=True):
            raise errors.subject_not_found(subject)
        raise errors.subject_config_not_found(subject)
    return [config_record(subject, None)], {"compatibilityLevel": state.compatibility(subject)}


def set_mode(state: RegistryState, subject: str | None, request: Body) -> Decision:
    value = request.get("mode") if isinstance(request, dict) else None
    if not isinstance(value, str) or value.upper() not in MODES:
        raise errors.invalid_mode(value)
    return [mode_record(subject, value.upper())], {"mode": value.upper()}


def delete_mode(state: RegistryState, subject: str) -> Decision:
    if subject not in state.modes:
        raise errors.subject_mode_not_found(subject)
    return [mode_record(subject, None)], {"mode": state.mode(subject)}
