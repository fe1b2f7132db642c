"""Confluent Schema Registry error codes and messages, raised by the service, rendered by the API.

Clients (confluent-kafka's `SchemaRegistryClient`, Java serializers, Karapace's tests) branch on
`error_code`, so the codes and HTTP statuses here follow Confluent's `Errors` class exactly.
"""

from __future__ import annotations


class RegistryError(Exception):
    """An answer the registry gives as `{"error_code": ..., "message": ...}` with `status`."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, object]:
        return {"error_code": self.error_code, "message": self.message}


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(version: int | str) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found.")


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    text = "Schema not found" if schema_id is None else f"Schema {schema_id} not found"
    return RegistryError(404, 40403, text)


def subject_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        404, 40404, f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
    )


def subject_not_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        404, 40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
    )


def version_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        40406,
        f"Subject '{subject}' Version {version} was soft deleted."
        "Set permanent=true to delete permanently",
    )


def version_not_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        40407,
        f"Subject '{subject}' Version {version} was not deleted "
        "first before being permanently deleted",
    )


def subject_config_not_found(subject: str) -> RegistryError:
    return RegistryError(
        404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
    )


def subject_mode_not_found(subject: str) -> RegistryError:
    return RegistryError(
        404, 40409, f"Subject '{subject}' does not have subject-level mode configured"
    )


def incompatible(subject: str, messages: list[str]) -> RegistryError:
    return RegistryError(
        409,
        409,
        "Schema being registered is incompatible with an earlier "
        f'schema for subject "{subject}", details: [{"; ".join(messages)}]',
    )


def invalid_schema(reason: str) -> RegistryError:
    return RegistryError(422, 42201, f"Invalid schema: {reason}")


def invalid_version(version: str) -> RegistryError:
    return RegistryError(
        422,
        42202,
        f"The specified version '{version}' is not a valid version "
        'id. Allowed values are between [1, 2^31-1] and the string "latest"',
    )


def invalid_compatibility(level: object) -> RegistryError:
    return RegistryError(
        422,
        42203,
        f"Invalid compatibility level. Valid values are none, "
        f"backward, forward, full, backward_transitive, forward_transitive, "
        f"and full_transitive (got {level!r})",
    )


def invalid_mode(mode: object) -> RegistryError:
    return RegistryError(
        422, 42204, f"Invalid mode. Valid values are READWRITE, READONLY and IMPORT (got {mode!r})"
    )


def not_permitted(message: str) -> RegistryError:
    """Confluent's OperationNotPermittedException: every mode refusal shares code 42205."""
    return RegistryError(422, 42205, message)


def read_only(subject: str) -> RegistryError:
    return not_permitted(f"Subject {subject} is in read-only mode")


def not_import_mode(subject: str) -> RegistryError:
    return not_permitted(f"Subject {subject} is not in import mode")


def not_read_write_mode(subject: str) -> RegistryError:
    return not_permitted(f"Subject {subject} is not in read-write mode")


def id_taken(schema_id: int) -> RegistryError:
    return not_permitted(f"Overwrite new schema with id {schema_id} is not permitted.")


def version_taken(subject: str, version: int, schema_id: int) -> RegistryError:
    return not_permitted(
        f"Subject {subject} version {version} already holds schema id "
        f"{schema_id}; an import does not overwrite a version"
    )


def import_needs_empty_subjects() -> RegistryError:
    return not_permitted("Cannot import since found existing subjects")


def bad_request(message: str) -> RegistryError:
    return RegistryError(400, 400, message)


def store_error(message: str) -> RegistryError:
    return RegistryError(500, 50001, f"Error while storing the schema: {message}")


def store_timeout(message: str) -> RegistryError:
    return RegistryError(500, 50002, f"Operation timed out: {message}")
