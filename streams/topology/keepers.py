"""The keepers of the link and process stages: what a stage runner's `keep` does besides saving
the state (s2c.tables.stage). Outputs are sent (or, for forwards to a process partition this
worker owns, applied there in memory: `forward`), work items kept for the experience API, and
the per-partition tallies behind the telemetry gauges updated; the process keeper also indexes
what an instance waits for in master data, so the data's arrival retries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.states import StateView, sorted_json
from s2c.streams.topology.context import Topology
from s2c.streams.topology.workitems import SLOT
from s2c.streams.topology.worklist import keep_raised
from s2c.tables import core
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.link import LinkState
from s2c.tables.outputs import Command
from s2c.tables.process import ProcessState

WORK_SLOT = SLOT + "|"
PARKED_LINK = "PARKED|link"
PARKED_PROCESS = "PARKED|process"
Send = Callable[[list[Any], Any], None]  # (outputs, the event that arrived and its bytes)


class LinkKeeper:
    """A link partition's states: saved in the batch, their parked events counted for the gauge,
    their outputs sent (forwards with the bytes of the event that arrived)."""

    def __init__(self, send: Send, checkpoint: Checkpoint, states: StateView, partition: int):
        self.send, self.states, self.partition = send, states, partition
        self.counts, self.raised = checkpoint["link_counts"], checkpoint["link_exceptions"]
        self._parked_before: dict[str, int] = {}

    def load(self, key: str) -> LinkState | None:
        state = self.states.load(key.encode())
        self._parked_before[key] = len(state.parked) if state is not None else 0
        return state

    def keep(self, key: str, state: LinkState, outputs: list[Any], cause: Any) -> None:
        self.send(outputs, cause)
        add_to_tally(self.counts, self.partition, keep_raised(self.raised, key.encode(), outputs))
        self.states.save(key.encode(), state)
        parked_before = self._parked_before.pop(key, 0)
        if len(state.parked) != parked_before:  # feeds the parked-events gauge
            slot = str(self.partition).encode()
            tally = self.counts.decoded(slot, loads) or {}
            tally[PARKED_LINK] = max(
                tally.get(PARKED_LINK, 0) + len(state.parked) - parked_before, 0
            )
            self.counts.hold(slot, tally, dumps_bytes)


class ProcessKeeper:
    """A process partition's states: saved in the batch, with the open-instance counts by stage
    and site, the master-data wait index and the kept work items beside them; outputs sent."""

    def __init__(self, t: Topology, checkpoint: Checkpoint, states: StateView, partition: int):
        self.t, self.states, self.partition = t, states, partition
        self.awaiting, self.counts = checkpoint["awaiting"], checkpoint["stage_counts"]
        self.raised = checkpoint["process_exceptions"]
        self._before: dict[str, tuple[str | None, int]] = {}  # key -> (label, parked) loaded

    def load(self, key: str) -> ProcessState | None:
        state = self.states.load(key.encode())
        # Noted now: the core may update the state it is given in place.
        self._before[key] = (_label(state), len(state.parked)) if state else (None, 0)
        return state

    def keep(self, key: str, state: ProcessState, outputs: list[Any], cause: Any) -> None:
        self.t.sink.emit(outputs)  # acked before states are written (the checkpoint)
        if cause is not None and any(isinstance(o, Command) for o in outputs):
            self.t.sink.observe_latency(cause)
        raw = key.encode()
        self.states.save(raw, state)
        label_before, parked_before = self._before.pop(key, (None, 0))
        label = _label(state)
        moves = {PARKED_PROCESS: len(state.parked) - parked_before}
        if label != label_before:
            moves[label] = 1
            if label_before is not None:
                moves[label_before] = moves.get(label_before, 0) - 1
        self.tally(moves)
        for record, wait_key in core.waiting_for_master(state):
            slot = f"{record}|{wait_key}@{self.partition}".encode()
            waiting = self.awaiting.decoded(slot, loads) or []
            if key not in waiting:
                self.awaiting.hold(slot, waiting + [key], dumps_bytes)
        self.tally(keep_raised(self.raised, raw, outputs))

    def tally(self, moves: dict[str, int]) -> None:
        """Per-partition counts (open instances by stage and site, parked events, open work
        items) for the telemetry gauges; written in the partition's own stream context like
        every table."""
        add_to_tally(self.counts, self.partition, moves)


def add_to_tally(counts: Any, partition: int, moves: dict[str, int]) -> None:
    """Move a partition's tally (`stage_counts` / `link_counts`) by `moves`; a work-item slot
    that falls to zero goes, so slots of items raised long ago do not pile up."""
    moves = {label: n for label, n in moves.items() if n}
    if not moves:
        return
    slot = str(partition).encode()
    counts_now: dict[str, int] = counts.decoded(slot, loads) or {}
    for label, n in moves.items():
        counts_now[label] = max(counts_now.get(label, 0) + n, 0)
        if counts_now[label] == 0 and label.startswith(WORK_SLOT):
            del counts_now[label]
    counts.hold(slot, counts_now, sorted_json)


def _label(state: ProcessState | None) -> str | None:
    return None if state is None else f"{state.stage.value}|{state.site_id or 'unknown'}"
