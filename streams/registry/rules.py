"""What each registry operation answers or writes, decided over `RegistryState`: no Kafka, no HTTP.

Read rules return the response body or raise `RegistryError`. Write rules ("decisions") return the
log records to append and the response body; the service appends them atomically and only then
answers, so a decision is always taken over a state that includes every earlier write.

IMPORT mode is Confluent's: a subject (or the registry) in IMPORT takes schemas with the `id` and
`version` they had in another registry, without a compatibility check, so records framed with
those ids become readable here. Entering it needs a subject with no live versions (or `force`).
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
    identity,
    max_id_record,
    mode_record,
    schema_record,
)

MODES = ("READWRITE", "READONLY", "IMPORT")
MAX_INT = 2**31 - 1
Body = Any
Decision = tuple[list[Record], Body]


def normalize(request: Body) -> str:
    """The request's schema as canonical JSON text (parsed by apache avro), or 42201."""
    if not isinstance(request, dict) or not isinstance(request.get("schema"), str):
        raise errors.invalid_schema('the request needs a "schema" string')
    schema_type = request.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise errors.invalid_schema(
            f"schema type {schema_type} is not supported; this registry stores AVRO schemas only"
        )
    if request.get("references"):
        raise errors.invalid_schema(
            "schema references are not supported by the s2c registry; "
            "inline the referenced named types instead"
        )
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


def requested_slot(request: Body) -> tuple[int | None, int | None]:
    """The `id` and `version` a registration asks for; None where it leaves them to the registry
    (absent, null, or Confluent's "unset" values: a negative id, a version of 0 or below)."""
    found: list[int | None] = []
    for name in ("id", "version"):
        value = request.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise errors.bad_request(f'"{name}" must be an integer, got {value!r}')
        found.append(None if value is None or value < (0 if name == "id" else 1) else value)
    schema_id, version = found
    if schema_id is not None and schema_id > MAX_INT:
        raise errors.bad_request(f'"id" must be at most {MAX_INT}, got {schema_id}')
    if version is not None and version > MAX_INT:
        raise errors.invalid_version(str(version))
    return schema_id, version


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


def compatibility_report(
    state: RegistryState, subject: str, version: str | None, request: Body, verbose: bool
) -> Body:
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


def register(
    state: RegistryState,
    subject: str,
    schema: str,
    schema_id: int | None = None,
    version: int | None = None,
) -> Decision:
    """Same schema again -> its version's id, nothing written; else a compatible new version.
    An explicit `schema_id` needs IMPORT mode, and IMPORT mode needs one (Confluent's rules),
    except that asking for a schema the subject already has answers its id in any writable mode,
    so auto-registering clients keep working while a subject is being imported."""
    _writable(state, subject)
    existing = state.find(subject, schema)
    if existing is not None and version is None and schema_id in (None, existing.id):
        return [], {"id": existing.id}
    importing = state.mode(subject) == "IMPORT"
    if schema_id is not None and not importing:
        raise errors.not_import_mode(subject)
    if schema_id is None and importing:
        raise errors.not_read_write_mode(subject)
    if schema_id is not None:
        return _import(state, subject, schema, schema_id, version)
    number = state.next_version(subject)
    if version is not None and version != number:
        raise errors.invalid_schema("Version is not one more than previous version")
    previous = [v.schema for v in state.versions(subject)]
    messages = check_compatibility(schema, previous, state.compatibility(subject))
    if messages:
        raise errors.incompatible(subject, messages)
    return _append(state, Version(subject, number, state.id_for(schema), schema))


def _import(
    state: RegistryState, subject: str, schema: str, schema_id: int, version: int | None
) -> Decision:
    """The schema under exactly `schema_id` and `version` (default: the next one), unchecked for
    compatibility. The same schema may come in under another id (Confluent allows it); an id that
    names another schema, or a version that holds another one, is refused rather than rewritten:
    consumers may already have read what they name."""
    named = state.schemas.get(schema_id)
    if named is not None and identity(named) != identity(schema):
        raise errors.id_taken(schema_id)
    number = state.next_version(subject) if version is None else version
    held = state.subjects.get(subject, {}).get(number)
    if held is not None:
        if held.id != schema_id or identity(held.schema) != identity(schema):
            raise errors.version_taken(subject, number, held.id)
        if not held.deleted:
            return [], {"id": schema_id}  # the same import again
    return _append(
        state, Version(subject, number, schema_id, schema)
    )  # new, or revives a soft delete


def _append(state: RegistryState, new: Version) -> Decision:
    records = [schema_record(new, new.subject, new.version)]
    if new.id > state.max_id:  # kept after compaction: no later ordinary id collides with it
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
    records = [
        schema_record(Version(v.subject, v.version, v.id, v.schema, True), subject, v.version)
        for v in live
    ]
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


def set_mode(
    state: RegistryState, subject: str | None, request: Body, force: bool = False
) -> Decision:
    """Entering IMPORT needs the subject (or, globally, the registry) without live versions,
    unless forced: Confluent's guard against importing ids over schemas already in use. Unlike
    Confluent, soft-deleted versions are not purged on the way in: their ids stay readable."""
    value = request.get("mode") if isinstance(request, dict) else None
    if not isinstance(value, str) or value.upper() not in MODES:
        raise errors.invalid_mode(value)
    mode = value.upper()
    if mode == "IMPORT" and state.mode(subject) != "IMPORT" and not force:
        scope = state.subject_names() if subject is None else [subject]
        if any(state.versions(name) for name in scope):
            raise errors.import_needs_empty_subjects()
    return [mode_record(subject, mode)], {"mode": mode}


def delete_mode(state: RegistryState, subject: str) -> Decision:
    if subject not in state.modes:
        raise errors.subject_mode_not_found(subject)
    return [mode_record(subject, None)], {"mode": state.mode(subject)}
