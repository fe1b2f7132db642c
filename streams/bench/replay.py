"""`s2c replay` throughput: the pure core (`s2c.tables.replay.replay_file`) on the same events.

The events are written with the generator's file writer (`produced_at = occurred_at`) to a
temporary JSON Lines file with their master data; only `replay_file` is timed: reading and
parsing the lines, both stages, deadlines, and writing every output file. One process, no Kafka.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from s2c.streams.synth import Synthesis


@dataclass(frozen=True)
class ReplayRate:
    events: int
    seconds: float
    commands: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def measure(synthesis: Synthesis) -> ReplayRate:
    from s2c.streams.idkey import id_key_of
    from s2c.streams.settings import Settings
    from s2c.streams.synth.writer import EVENTS_FILE, MASTER_DIR, write_events, write_master
    from s2c.tables.replay import replay_file

    with tempfile.TemporaryDirectory(prefix="s2c-bench-replay-") as tmp:
        folder = Path(tmp)
        write_master(folder, synthesis.master())
        write_events(folder, synthesis.events())
        started = time.perf_counter()
        counts = replay_file(
            folder / EVENTS_FILE,
            folder / MASTER_DIR,
            folder / "out",
            id_key_of(Settings.from_env()),
        )
        seconds = time.perf_counter() - started
    return ReplayRate(counts["events"], seconds, counts["commands"])
