"""Stalls: an assigned source partition with records past its committed offset and no commit
for `STALL_SECONDS`. The telemetry timer feeds `StallWatch`; /health/ and the
`s2c_stalled_partitions` gauge read it; the "stalled" warning carries `describe_consumer` (runtime.overrides.stream) and
`task_stacks` so that the log of a stuck worker says where it is stuck.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

STALL_SECONDS = 30.0


@dataclass
class _Progress:
    position: int
    since: float
    reported: bool = False


class StallWatch:
    """Remembers when each partition's committed offset last moved; says which ones are stuck."""

    def __init__(self, stall_seconds: float = STALL_SECONDS) -> None:
        self.stall_seconds = stall_seconds
        self._seen: dict[object, _Progress] = {}

    def observe(self, tp: object, position: int, highwater: int, now: float) -> bool:
        """True the first time `tp` counts as stalled in the current stall. `position` is how far
        the partition got (its committed offset), `highwater` its log end."""
        seen = self._seen.get(tp)
        if seen is None or seen.position != position or highwater <= position:
            self._seen[tp] = _Progress(position, now)
            return False
        if now - seen.since < self.stall_seconds or seen.reported:
            return False
        seen.reported = True
        return True

    def stalled(self, now: float) -> list[object]:
        return [
            tp
            for tp, seen in self._seen.items()
            if seen.reported and now - seen.since >= self.stall_seconds
        ]

    def forget_others(self, keep: set) -> None:
        for tp in set(self._seen) - keep:
            del self._seen[tp]


def task_stacks(depth: int = 16) -> str:
    """Where each of the loop's tasks waits, outermost call first: file:line function only,
    followed down the chain of awaits (a suspended task's own stack shows only its top frame)."""
    lines = []
    for task in asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None and len(chain) < depth:
            frame = (
                getattr(coro, "cr_frame", None)
                or getattr(coro, "gi_frame", None)
                or getattr(coro, "ag_frame", None)
            )
            if frame is not None:
                chain.append(
                    f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
                )
            coro = (
                getattr(coro, "cr_await", None)
                or getattr(coro, "gi_yieldfrom", None)
                or getattr(coro, "ag_await", None)
            )
        lines.append(f"  {task.get_name()}: {' > '.join(chain)}")
    return "\n".join(sorted(lines))
