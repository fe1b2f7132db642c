"""Writes into Faust's RocksDB table store, batched: what `BatchedTable.flush` uses when the
store is RocksDB on rocksdict (any other store, e.g. `memory://`, is written key by key), and
the app's table class, whose RocksDB store skips a needless garbage collection per rebalance.

Faust keeps one RocksDB database per table partition and writes each key with its own put (one
write-ahead-log append per key). Recovery from the changelog writes `WriteBatch`es of raw bytes;
this writes a batch's states the same way.
"""

from __future__ import annotations

from typing import Any

import faust
from faust import stores
from faust.stores.rocksdb import Store as RocksStore


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


class QuietRevokeStore(RocksStore):
    """Faust's RocksDB store, without a full garbage collection when a rebalance closes no
    database. Faust's `revoke_partitions` calls `gc.collect()` for every table on every rebalance
    (so that a closed database's lock is released); with nothing to close, as on a worker's
    first assignment, that is 9 full collections of a worker's heap: about 0.4 s of a restart's
    recovery phase, measured from its log."""

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        topics = table.changelog_topic.topics
        if any(tp.topic in topics and tp.partition in self._dbs for tp in tps):
            super().revoke_partitions(table, tps)


class Table(faust.Table):
    """The app's `Table` setting: Faust's table, on `QuietRevokeStore` wherever the store URL is
    `rocksdb://` (any other store, e.g. `memory://`, is Faust's own)."""

    def _new_store_by_url(self, url: Any) -> Any:
        if stores.by_url(url) is not RocksStore:
            return super()._new_store_by_url(url)
        return QuietRevokeStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )


def active_databases(store: Any) -> list[Any]:
    """The RocksDB databases of the partitions this worker serves actively (`_dbs_for_actives`)."""
    return list(store._dbs_for_actives())
