"""Dead letters in the style of Kafka Connect: the original key and bytes, context in headers.

A message s2c cannot decode, validate or place keeps its exact bytes on the dead-letter topic, so
`s2c dlq replay` can put it back on its source topic after a fix (a schema registered, master data
loaded, an adapter corrected). Headers name where it came from and why it failed.

A record too large for the dead-letter topic (`S2C_DLQ_MAX_BYTES`) cannot keep its bytes there:
its dead letter carries a reference instead (the value's size and sha256, headers
`s2c.errors.value.size` / `s2c.errors.value.sha256` / `s2c.errors.value.omitted`, and the same as a
small JSON value), so the record still leaves its partition with a trace that names it.

Reasons name no patient data: a failure nobody foresaw (an exception out of the core) is told by
its class and where it was raised (`failure_message`), never by its message, which may quote the
record.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from dataclasses import dataclass
from pathlib import Path

PREFIX = "__connect.errors."
REASON = "s2c.errors.reason"
REPLAYED_FROM = "s2c.replayed.from"
VALUE_SIZE = "s2c.errors.value.size"
VALUE_SHA256 = "s2c.errors.value.sha256"
VALUE_OMITTED = "s2c.errors.value.omitted"
# Room left for Kafka's record and batch overhead when a dead letter's size is judged.
RECORD_OVERHEAD_BYTES = 512


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    exception_class: str
    exception_message: str
    key: bytes | None
    value: bytes
    value_size: int | None = None  # set when the original bytes were too large to carry
    value_sha256: str | None = None

    @property
    def omitted(self) -> bool:
        """True when `value` is a reference to the original bytes, not the bytes."""
        return self.value_sha256 is not None

    def headers(self) -> list[tuple[str, bytes]]:
        reference = (
            [
                (VALUE_SIZE, str(self.value_size).encode()),
                (VALUE_SHA256, self.value_sha256.encode()),
                (VALUE_OMITTED, b"true"),
            ]
            if self.value_sha256 is not None
            else []
        )
        return reference + [
            (PREFIX + "topic", self.source_topic.encode()),
            (PREFIX + "partition", str(self.source_partition).encode()),
            (PREFIX + "offset", str(self.source_offset).encode()),
            (PREFIX + "stage", self.stage.encode()),
            (PREFIX + "exception.class.name", self.exception_class.encode()),
            (PREFIX + "exception.message", self.exception_message.encode()[:2000]),
            (REASON, self.reason.encode()),
        ]

    @classmethod
    def from_message(
        cls, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None
    ) -> "DeadLetter":
        h = {name: (data or b"").decode(errors="replace") for name, data in headers or []}
        return cls(
            reason=h.get(REASON, "unknown"),
            stage=h.get(PREFIX + "stage", "unknown"),
            source_topic=h.get(PREFIX + "topic", ""),
            source_partition=int(h.get(PREFIX + "partition", "-1")),
            source_offset=int(h.get(PREFIX + "offset", "-1")),
            exception_class=h.get(PREFIX + "exception.class.name", ""),
            exception_message=h.get(PREFIX + "exception.message", ""),
            key=key,
            value=value,
            value_size=int(h[VALUE_SIZE]) if VALUE_SIZE in h else None,
            value_sha256=h.get(VALUE_SHA256),
        )

    def fitted(self, max_bytes: int) -> "DeadLetter":
        """This letter, or when key, value and headers exceed `max_bytes` the same letter with a
        reference (size, sha256) in place of the value."""
        size = len(self.key or b"") + len(self.value) + RECORD_OVERHEAD_BYTES
        size += sum(len(name) + len(data) for name, data in self.headers())
        if size <= max_bytes or self.omitted:
            return self
        digest = hashlib.sha256(self.value).hexdigest()
        reference = {"omitted": True, "size": len(self.value), "sha256": digest}
        return DeadLetter(
            reason=self.reason,
            stage=self.stage,
            source_topic=self.source_topic,
            source_partition=self.source_partition,
            source_offset=self.source_offset,
            exception_class=self.exception_class,
            exception_message=self.exception_message,
            key=self.key if len(self.key or b"") <= max_bytes // 2 else None,
            value=json.dumps(reference, sort_keys=True).encode(),
            value_size=len(self.value),
            value_sha256=digest,
        )


def failure_message(exc: BaseException) -> str:
    """An unforeseen exception told without its message: its class and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__qualname__
    last = frames[-1]
    return f"{type(exc).__qualname__} raised at {Path(last.filename).name}:{last.lineno}"


def of_exception(
    reason: str,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    exc: BaseException,
    key: bytes | None,
    value: bytes,
    message: str | None = None,
) -> DeadLetter:
    """`message` stands in for the exception's own (`failure_message` for an unforeseen one)."""
    return DeadLetter(
        reason=reason,
        stage=stage,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        exception_class=type(exc).__qualname__,
        exception_message=str(exc) if message is None else message,
        key=key,
        value=value,
    )
