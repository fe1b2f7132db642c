"""The telemetry round survives a rebalance (streams/topology/telemetry.py).

A restarted worker asked the consumer for the position of a partition the assignor still listed
but a rebalance had just revoked; aiokafka raised `IllegalStateError` and the worker crashed. The
round must report lag for what the worker still holds and leave the rest to the next round.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

from s2c.streams.topology.telemetry import positions

HELD = TP("s2c.process", 0)
REVOKED_BEFORE = TP("s2c.process", 1)  # gone from the consumer's assignment already
REVOKED_DURING = TP("s2c.link", 2)  # revoked while its position was awaited


class RebalancingConsumer:
    def __init__(self) -> None:
        self.asked: list[TP] = []

    def assignment(self) -> set[TP]:
        return {HELD, REVOKED_DURING}

    async def position(self, tp: TP) -> Any:
        self.asked.append(tp)
        if tp != HELD:
            raise IllegalStateError(f"Partition {tp} is not assigned")
        return 4211


async def test_positions_of_revoked_partitions_are_left_out_not_raised() -> None:
    consumer = RebalancingConsumer()
    found = await positions(consumer, {HELD, REVOKED_BEFORE, REVOKED_DURING})
    assert found == {HELD: 4211}
    assert REVOKED_BEFORE not in consumer.asked  # never asked: not in the assignment
