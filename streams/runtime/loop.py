"""The stage loop: records in batches, each applied on its own, the batch made durable at once.

`run_stage` is the one loop of the stateful agents. It takes records in batches from the stream
(`take_batches`, batches.py; the records still reach the stream one at a time through Faust's
channel, one queue hand-over each), applies each through the stage's handler against the
checkpoint's write-back views, and checkpoints the batch (checkpoint.py): one broker round trip per
batch for outputs, one for states, one for progress.

A record whose handling raises does not stop the batch: the writes it made are undone, the
record goes to `on_failure` (the dead-letter topic), and the batch goes on, so the partition
keeps committing. What the record had already queued in the outbox before it raised stays
queued: outputs carry ids the ERP drops repeats by. A refused or unacknowledged send
(`OutboxError`) or a registry that does not answer (`RegistryUnavailable`) is not the record's
fault and still stops the worker: a readable record is never dead-lettered because something
around it was away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from s2c.streams.codec import RegistryUnavailable
from s2c.streams.runtime.batches import take_batches
from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.outbox import OutboxError

INFRASTRUCTURE = (OutboxError, RegistryUnavailable)
BATCH_MAX = 500
# A batch closes when nothing more is queued; events trickling in one by one close it after this.
BATCH_WITHIN_SECONDS = 0.005
_NO_LOCK = contextlib.nullcontext()  # `async with` that holds nothing


async def run_stage(
    stream: Any,
    checkpoint: Checkpoint,
    handle: Callable[[Any], Awaitable[None]],
    on_failure: Callable[[Any, Exception], Awaitable[None]],
    lock: asyncio.Lock | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """`lock`: held from a batch's first record to its checkpoint, for agents that share a
    checkpoint (their batches then take turns). `ready`: awaited before each batch, without
    the lock."""
    async for batch in take_batches(stream, BATCH_MAX, BATCH_WITHIN_SECONDS):
        if ready is not None:
            await ready()
        async with lock or _NO_LOCK:
            for event in batch:
                checkpoint.current(event)
                try:
                    await handle(event.message)
                except INFRASTRUCTURE:
                    raise
                except Exception as exc:  # any other failure is this record's: dead-letter it
                    checkpoint.rollback()
                    await on_failure(event.message, exc)
            await checkpoint.commit(stream, batch)


def isolated(
    checkpoint: Checkpoint, fire: Callable[[], Any], failed: Callable[[Exception], None]
) -> Any:
    """Run one key's deadline so that its failure stays its own: the writes it made are undone,
    `failed` is told, and the record being handled goes on (None is returned). Its timer entry,
    taken out before, stays out: the instance's next event files its deadline again. Were the
    failure the record's, the record would be dead-lettered, the timer put back by the rollback,
    and every later record of the partition would meet the same failing deadline."""
    mark = checkpoint.savepoint()
    try:
        return fire()
    except INFRASTRUCTURE:
        raise
    except Exception as exc:  # a state the core cannot advance: logged, the partition goes on
        checkpoint.rollback_to(mark)
        failed(exc)
        return None
