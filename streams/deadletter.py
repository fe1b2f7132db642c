"""Dead letters in the style of Kafka Connect: the original key and bytes, context in headers.

A message s2c cannot decode, validate or place keeps its exact bytes on the dead-letter topic, so
`s2c dlq replay` can put it back on its source topic after a fix (a schema registered, master data
loaded, an adapter corrected). Headers name where it came from and why it failed.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "__connect.errors."
REASON = "s2c.errors.reason"
REPLAYED_FROM = "s2c.replayed.from"


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

    def headers(self) -> list[tuple[str, bytes]]:
        return [
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
        )


def of_exception(
    reason: str,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    exc: BaseException,
    key: bytes | None,
    value: bytes,
) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        stage=stage,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        exception_class=type(exc).__qualname__,
        exception_message=str(exc),
        key=key,
        value=value,
    )
