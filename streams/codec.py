"""Avro in the Confluent wire format, through a schema registry, with fastavro on the hot path.

Wire format: magic byte 0, the 4-byte big-endian schema id, the Avro binary body. Subjects are
full record names (RecordNameStrategy, see schemas/GOVERNANCE.md). The registry is reached only
on the first use of a record or an unknown schema id; afterwards encoding and decoding touch
nothing but in-process caches, so agents call `encode`/`decode` without blocking I/O once
`prepare`/`resolve_ids` (run off the event loop) have warmed the caches.

`prepare` registers a record's schema, or only looks it up (by subject and schema) when told
not to register (S2C_REGISTER_SCHEMAS=0) or once the registry refuses a registration (401, 403,
or 42205 read-only): the schemas must then be registered beforehand (`s2c schemas register` as a
registry user with role write), and a missing one is raised as `SchemaUnavailable`, naming it.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastavro

log = logging.getLogger(__name__)
MAGIC = 0
_HEADER = struct.Struct(">bI")


class DecodeError(ValueError):
    """The bytes are not a record s2c can read (bad framing, unknown id, corrupt body)."""


class RegistryUnavailable(RuntimeError):
    """The registry did not answer about a schema id (down, timing out, a 5xx): nothing is known
    about the bytes yet, so callers retry instead of dead-lettering a readable record."""


class SchemaUnavailable(LookupError):
    """The registry answered, and will not give this process a schema it needs: the schema is
    not registered and this process may not register it, or the registry refused the
    credentials. Retrying does not help: someone must register the schema or fix the user."""


def refuses_registration(exc: Any) -> bool:
    """A registry answer meaning "you may not register here", not "this schema is wrong": no or
    wrong credentials, a read-only user, a READONLY subject or registry."""
    status = getattr(exc, "http_status_code", None)
    return status in (401, 403) or (status == 422 and getattr(exc, "error_code", None) == 42205)


def _ask_registry(what: str, call: Callable[[], Any]) -> Any:
    """`call()`, with the registry's failures split in two: an answer (a 4xx, raised as the
    client's SchemaRegistryError) and no answer (a 5xx, a refused connection, a timeout: raised
    as RegistryUnavailable)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return call()
    except SchemaRegistryError as exc:
        if 400 <= exc.http_status_code < 500:
            raise
        raise RegistryUnavailable(f"registry error {what}: {exc}") from exc
    except Exception as exc:  # the client's transport errors
        raise RegistryUnavailable(f"registry unreachable {what}: {exc!r}") from exc


def backoff_delays(first: float = 1.0, cap: float = 60.0) -> Iterator[float]:
    """Seconds to wait before each retry while the registry is away: doubling, capped."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


class AvroCodec:
    """Encodes records of the catalogue and decodes any record the registry knows."""

    def __init__(
        self, registry: Any, schema_json: Callable[[str], str], register: bool = True
    ) -> None:
        self._registry = registry
        self._schema_json = schema_json
        self._register = register
        self._writers: dict[str, tuple[bytes, Any]] = {}  # record name -> (header, parsed schema)
        # schema id -> (record name, writer schema, reader schema or None when they are the same)
        self._readers: dict[int, tuple[str, Any, Any]] = {}

    def prepare(self, name: str) -> int:
        """Register (or look up) `name`'s current schema; returns its global id. Blocking."""
        cached = self._writers.get(name)
        if cached is not None:
            return _HEADER.unpack(cached[0])[1]
        text = self._schema_json(name)
        schema_id = self._register_or_look_up(name, text)
        parsed = fastavro.parse_schema(json.loads(text))
        self._writers[name] = (_HEADER.pack(MAGIC, schema_id), parsed)
        self._readers[schema_id] = (name, parsed, None)
        return schema_id

    def _register_or_look_up(self, name: str, text: str) -> int:
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        schema = Schema(text, "AVRO")
        if self._register:
            try:
                # Any other refusal (incompatible, invalid) is raised as the registry's own error.
                return int(
                    _ask_registry(
                        f"registering {name}", lambda: self._registry.register_schema(name, schema)
                    )
                )
            except SchemaRegistryError as exc:
                if not refuses_registration(exc):
                    raise
                # A user that may only read (a worker or ingest on the secured stack), or a
                # read-only registry: look the schemas up, someone with role write registered them.
                log.warning(
                    "the schema registry refuses registrations (%s: %s): looking schemas up "
                    "instead",
                    exc.http_status_code,
                    exc.error_message,
                )
                self._register = False
        try:
            found = _ask_registry(
                f"looking up {name}", lambda: self._registry.lookup_schema(name, schema)
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaUnavailable(
                    f"subject {name}: the registry does not have its current schema, and this "
                    "process does not register schemas; register them first "
                    "(`s2c schemas register` as a registry user with role write)"
                ) from exc
            if exc.http_status_code in (401, 403):
                raise SchemaUnavailable(
                    f"subject {name}: the registry refused to look it up "
                    f"({exc.http_status_code}: {exc.error_message}); "
                    "check S2C_REGISTRY_USER_INFO"
                ) from exc
            raise
        return int(found.schema_id)

    def resolve_id(self, schema_id: int) -> str:
        """Fetch a writer schema by id from the registry (blocking) and cache it."""
        cached = self._readers.get(schema_id)
        if cached is not None:
            return cached[0]
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = _ask_registry(
                f"for schema id {schema_id}", lambda: self._registry.get_schema(schema_id)
            )
        except SchemaRegistryError as exc:  # the registry answered: no such id
            raise DecodeError(f"schema id {schema_id} unknown to the registry: {exc}") from exc
        try:
            raw = json.loads(schema.schema_str)
            parsed = fastavro.parse_schema(raw)
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} is not a usable Avro schema: {exc}") from exc
        name = raw["name"] if "." in raw["name"] else f"{raw.get('namespace', '')}.{raw['name']}"
        # Another version of a record we know (a producer ahead of or behind us): read it through
        # Avro schema resolution into our version, so added fields take their defaults.
        own = self._writers.get(name)
        self._readers[schema_id] = (name, parsed, own[1] if own is not None else None)
        return name

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        cached = self._writers.get(name)
        if cached is None:
            self.prepare(name)
            cached = self._writers[name]
        header, parsed = cached
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, parsed, record)
        return buf.getvalue()

    @staticmethod
    def schema_id_of(data: bytes) -> int:
        if data is None or len(data) < 5:
            raise DecodeError("message shorter than the 5-byte Confluent wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"unknown magic byte {magic}: not Confluent wire-format Avro")
        return schema_id

    def is_known(self, data: bytes) -> bool:
        try:
            return self.schema_id_of(data) in self._readers
        except DecodeError:
            return True  # decode() will report the framing error itself

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Returns (record full name, record). Unknown ids are fetched (blocking) on first sight."""
        schema_id = self.schema_id_of(data)
        cached = self._readers.get(schema_id)
        if cached is None:
            self.resolve_id(schema_id)
            cached = self._readers[schema_id]
        name, writer, reader = cached
        try:
            record = fastavro.schemaless_reader(io.BytesIO(memoryview(data)[5:]), writer, reader)
        except (
            Exception
        ) as exc:  # fastavro raises EOFError, ValueError, IndexError... on corrupt bodies
            raise DecodeError(
                f"corrupt Avro body for {name} (schema id {schema_id}): {exc!r}"
            ) from exc
        return name, record  # type: ignore[return-value]


def registry_client(url: str, user_info: Any = None, ca_file: Path | None = None) -> Any:
    """A registry client; `user_info` (`user:password`, a SecretStr or str, e.g.
    `Settings.registry_user_info`) is sent as HTTP basic auth when set, and an https registry is
    verified against `ca_file` (else the system's CAs)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf = {"url": url}
    secret = user_info.get_secret_value() if hasattr(user_info, "get_secret_value") else user_info
    if secret:
        conf["basic.auth.user.info"] = secret
    if ca_file is not None:
        conf["ssl.ca.location"] = str(ca_file)
    return SchemaRegistryClient(conf)


def registry_client_for(settings: Any) -> Any:
    """The registry client of `settings` (a `Settings`): its URL, user and CA file."""
    return registry_client(
        settings.registry_url, settings.registry_user_info, settings.registry_ca_file
    )
