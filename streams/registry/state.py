"""The registry's state and the pure function that folds `_schemas`-style log records into it.

The log is the truth; this state is what every instance rebuilds by reading it from the start.
Records have Confluent's shape so the topic reads like Confluent's `_schemas`:

    key {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
        value {"subject","version","id","schema","deleted"} (null = permanently deleted)
    key {"keytype":"CONFIG","subject":S|null,"magic":0}  value {"compatibilityLevel": L} | null
    key {"keytype":"MODE","subject":S|null,"magic":0}    value {"mode": M} | null  (READWRITE,
        READONLY, IMPORT)
    key {"keytype":"S2C_MAX_ID","magic":0} value {"id": N}  (s2c's own: the highest id ever given,
        so an id freed by a permanent delete is never handed out again after compaction)
    key {"keytype":"DELETE_SUBJECT","subject":S,"magic":0} value {"subject","version"} (Confluent's
        soft delete of every version up to `version`; s2c writes per-version SCHEMA records instead)

Keys are encoded byte-for-byte the same way every time, so compaction keeps the newest per key.
An imported schema (IMPORT mode) is an ordinary SCHEMA record carrying the id it had elsewhere, so
one schema may be known under several ids; an id still names exactly one schema.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_COMPATIBILITY = "BACKWARD"  # Confluent's default; s2c's tooling sets its own policy
DEFAULT_MODE = "READWRITE"


@dataclass(frozen=True)
class Version:
    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False


Record = tuple[bytes, bytes | None]


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def identity(schema_text: str) -> str:
    """What makes two (already normalized) schema texts the same schema."""
    return json.dumps(json.loads(schema_text), sort_keys=True, separators=(",", ":"))


def schema_record(v: Version | None, subject: str, version: int) -> Record:
    key = _encode({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})
    if v is None:
        return key, None
    return key, _encode(
        {
            "subject": v.subject,
            "version": v.version,
            "id": v.id,
            "schema": v.schema,
            "deleted": v.deleted,
        }
    )


def max_id_record(schema_id: int) -> Record:
    return _encode({"keytype": "S2C_MAX_ID", "magic": 0}), _encode({"id": schema_id})


def config_record(subject: str | None, level: str | None) -> Record:
    key = _encode({"keytype": "CONFIG", "subject": subject, "magic": 0})
    return key, None if level is None else _encode({"compatibilityLevel": level})


def mode_record(subject: str | None, mode: str | None) -> Record:
    key = _encode({"keytype": "MODE", "subject": subject, "magic": 0})
    return key, None if mode is None else _encode({"mode": mode})


@dataclass
class RegistryState:
    subjects: dict[str, dict[int, Version]] = field(default_factory=dict)
    schemas: dict[int, str] = field(default_factory=dict)  # id -> schema text
    ids: dict[str, set[int]] = field(default_factory=dict)  # identity -> ids (several: imports)
    users: dict[int, set[tuple[str, int]]] = field(default_factory=dict)  # id -> (subject, version)
    configs: dict[str | None, str] = field(default_factory=dict)  # None = global
    modes: dict[str | None, str] = field(default_factory=dict)
    max_id: int = 0

    # ------------------------------------------------------------------ fold
    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one log record in. Unknown or malformed records are logged and skipped."""
        try:
            k = json.loads(key or b"null")
            v = None if value is None else json.loads(value)
            keytype = k["keytype"]
            if keytype == "SCHEMA":
                self._apply_schema(k["subject"], int(k["version"]), v)
            elif keytype == "CONFIG":
                self._set(self.configs, k.get("subject"), v and v["compatibilityLevel"])
            elif keytype == "MODE":
                self._set(self.modes, k.get("subject"), v and v["mode"])
            elif keytype == "S2C_MAX_ID" and v is not None:
                self.max_id = max(self.max_id, int(v["id"]))
            elif keytype == "DELETE_SUBJECT" and v is not None:
                for old in list(self.subjects.get(k["subject"], {}).values()):
                    if old.version <= int(v["version"]):
                        self._put(Version(old.subject, old.version, old.id, old.schema, True))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping malformed registry record %r: %s", key, exc)

    @staticmethod
    def _set(table: dict[str | None, str], subject: str | None, value: str | None) -> None:
        if value is None:
            table.pop(subject, None)
        else:
            table[subject] = value

    def _apply_schema(self, subject: str, version: int, v: dict[str, Any] | None) -> None:
        if v is None:
            self._remove(subject, version)
            return
        self._put(
            Version(subject, version, int(v["id"]), str(v["schema"]), bool(v.get("deleted", False)))
        )

    def _put(self, v: Version) -> None:
        old = self.subjects.get(v.subject, {}).get(v.version)
        if old is not None and old.id != v.id:
            self._remove(v.subject, v.version)
        self.subjects.setdefault(v.subject, {})[v.version] = v
        self.schemas[v.id] = v.schema
        self.ids.setdefault(identity(v.schema), set()).add(v.id)
        self.users.setdefault(v.id, set()).add((v.subject, v.version))
        self.max_id = max(self.max_id, v.id)

    def _remove(self, subject: str, version: int) -> None:
        old = self.subjects.get(subject, {}).pop(version, None)
        if old is None:
            return
        if not self.subjects[subject]:
            del self.subjects[subject]
        users = self.users.get(old.id, set())
        users.discard((subject, version))
        if not users:  # the last registration of this schema is gone for good
            self.users.pop(old.id, None)
            self.schemas.pop(old.id, None)
            known = self.ids.get(identity(old.schema), set())
            known.discard(old.id)
            if not known:
                self.ids.pop(identity(old.schema), None)

    # ------------------------------------------------------------------ queries
    def versions(self, subject: str, deleted: bool = False) -> list[Version]:
        """The subject's versions, oldest first; soft-deleted ones only when `deleted`."""
        found = self.subjects.get(subject, {})
        return [found[n] for n in sorted(found) if deleted or not found[n].deleted]

    def subject_names(self, deleted: bool = False) -> list[str]:
        return sorted(s for s in self.subjects if self.versions(s, deleted))

    def find(self, subject: str, schema_text: str, deleted: bool = False) -> Version | None:
        wanted = identity(schema_text)
        for v in self.versions(subject, deleted):
            if identity(v.schema) == wanted:
                return v
        return None

    def next_version(self, subject: str) -> int:
        return max(self.subjects.get(subject, {}), default=0) + 1

    def id_for(self, schema_text: str) -> int:
        """The schema's global id: the existing one, else the next unused one. A schema imported
        under several ids gets the lowest: a choice that depends only on which versions exist, so
        an instance that rebuilt its state from the compacted log chooses the same."""
        known = self.ids.get(identity(schema_text))
        return min(known) if known else self.max_id + 1

    def compatibility(self, subject: str | None) -> str:
        return self.configs.get(subject) or self.configs.get(None) or DEFAULT_COMPATIBILITY

    def mode(self, subject: str | None) -> str:
        return self.modes.get(subject) or self.modes.get(None) or DEFAULT_MODE
