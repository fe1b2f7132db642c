"""The app's RocksDB tables skip Faust's full garbage collection when a rebalance closes nothing.

`QuietRevokeStore` (streams/runtime/overrides/store.py) must still close (drop) the database of every
revoked partition it holds, with Faust's collection then, so the database's lock is released.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from s2c.streams.app import create_app
from s2c.streams.runtime.overrides.store import QuietRevokeStore
from s2c.streams.settings import Settings


def table_on_rocksdb(tmp_path: Path) -> Any:
    settings = Settings(
        app_id=f"s2c-revoke-{tmp_path.name}", data_dir=tmp_path, worker_dir=tmp_path / "worker"
    )
    app, _ = create_app(settings)
    return app.Table("processes", key_type=bytes, value_type=bytes, partitions=2)


def test_revoking_an_unopened_partition_collects_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_on_rocksdb(tmp_path)
    store = table.data
    assert isinstance(store, QuietRevokeStore)
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or 0)
    changelog = table.changelog_topic.get_topic_name()
    store.revoke_partitions(table, {TP(changelog, 0), TP("other-topic", 1)})
    assert collections == []

    store._db_for_partition(1)  # opened, as an assignment opens it
    store.revoke_partitions(table, {TP(changelog, 1)})
    assert 1 not in store._dbs and collections == [1]  # dropped, then Faust's collection
