"""The registry service: state folded from the log, reads answered from it, writes appended to it.

`Registry.read` answers from the local state; when that answer is "not found" it first catches up
with the log and asks again, so a client that registered through another instance a moment ago
is not told its schema does not exist. `Registry.write` runs a decision from `rules` through the
log (see `kafkalog`), which makes writes from several instances consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from s2c.streams.registry import errors
from s2c.streams.registry.state import Record, RegistryState

T = TypeVar("T")


class Log(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def sync(self) -> None: ...
    async def write(
        self,
        decide: Callable[[], tuple[list[Record], T]],
        audit: Callable[[T], bytes] | None = None,
    ) -> T: ...


class MemoryLog:
    """A log that applies writes at once: for tests and for trying the API without Kafka."""

    def __init__(self, on_record: Callable[[bytes | None, bytes | None], None]) -> None:
        self._on_record = on_record
        self.records: list[Record] = []
        self.audit: list[bytes] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def sync(self) -> None:
        return None

    async def write(
        self,
        decide: Callable[[], tuple[list[Record], T]],
        audit: Callable[[T], bytes] | None = None,
    ) -> T:
        records, answer = decide()
        if records and audit is not None:
            self.audit.append(audit(answer))
        for key, value in records:
            self.records.append((key, value))
            self._on_record(key, value)
        return answer


class Registry:
    def __init__(
        self, make_log: Callable[[Callable[[bytes | None, bytes | None], None]], Log]
    ) -> None:
        self.state = RegistryState()
        self.log = make_log(self.state.apply)

    @classmethod
    def in_memory(cls) -> "Registry":
        return cls(MemoryLog)

    async def start(self) -> None:
        await self.log.start()

    async def stop(self) -> None:
        await self.log.stop()

    async def read(self, rule: Callable[..., T], *args: Any) -> T:
        try:
            return rule(self.state, *args)
        except errors.RegistryError as exc:
            if exc.status != 404:
                raise
        await self.log.sync()
        return rule(self.state, *args)

    async def write(
        self,
        rule: Callable[..., tuple[list[Record], T]],
        *args: Any,
        audit: Callable[[T], bytes] | None = None,
    ) -> T:
        """Run `rule` through the log; `audit(answer)` is the audit record of a write that
        changes something, committed with it (see `kafkalog`)."""
        return await self.log.write(lambda: rule(self.state, *args), audit)
