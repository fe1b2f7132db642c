"""Writes into Faust's RocksDB table store, batched: what `BatchedTable.flush` uses when the
store is RocksDB on rocksdict (any other store, e.g. `memory://`, is written key by key).

Faust keeps one RocksDB database per table partition and writes each key with its own put (one
write-ahead-log append per key). Recovery from the changelog writes `WriteBatch`es of raw bytes;
this writes a batch's states the same way.
"""

from __future__ import annotations

from typing import Any


class RocksBatches:
    """A batch's puts into Faust's RocksDB store as one write per partition (one write-ahead-log
    append instead of one per key), with the bytes Faust's own put stores: the same encoded key
    and value in the same partition's database, as Faust's changelog recovery writes them.
    Deletes go through the store (it removes a key from whichever partition holds it)."""

    def __init__(self, store: Any) -> None:
        import rocksdict

        self._store, self._new = store, lambda: rocksdict.WriteBatch(raw_mode=True)
        self._batches: dict[int, Any] = {}

    @classmethod
    def of(cls, store: Any) -> RocksBatches | None:
        """Batches for a RocksDB store on rocksdict; None for any other (e.g. `memory://`)."""
        if getattr(store, "use_rocksdict", False):  # only Faust's RocksDB store has it
            return cls(store)
        return None

    def put(self, partition: int, key: Any, value: Any) -> None:
        batch = self._batches.get(partition)
        if batch is None:
            batch = self._batches[partition] = self._new()
        batch.put(self._store._encode_key(key), self._store._encode_value(value))

    def write(self) -> None:
        for partition, batch in self._batches.items():
            self._store._db_for_partition(partition).write(batch)
