"""Every place s2c reaches into Faust, mode or aiokafka beyond their public API, in one package.

Written against the versions in `WRITTEN_AGAINST`, which pyproject.toml pins exactly: an upgrade
is a change of this package, reviewed against the new sources, and of those pins together. A
worker started on other versions logs it (`check_versions`); tests/unit/streams/test_runtime_
boundary.py fails when a module outside this package uses a private name of these libraries.

- app.py: the app, which builds each record's event without a settings lookup, and the raw
  bytes schema (keys and values as they came, without the serializer registry's lookups).
- transport.py: the `s2ckafka://` transport. An idempotent producer; a consumer that rewinds
  partitions with no committed offset, stops the flow before seeking, hands records on with one
  await each (Faust's fetch loop, `Consumer._drain_messages`) and reads every committed offset
  in one request (aiokafka's `_coordinator`, `_fetcher`).
- recovery.py: table recovery that applies changelog records in batches (Faust's `Recovery`
  internals: its buffers, offsets, spans, `_slurp_changelogs`).
- store.py: RocksDB writes in one batch per partition (the store's `_encode_key`,
  `_encode_value`, `_db_for_partition`, `_dbs_for_actives`), a store that skips a needless
  garbage collection per rebalance, and the app's `Table` class that picks it.
- stream.py: the current-event context variable, the stream's processors and passive drain
  (for natural batches), the consumer's committed offsets and its diagnostics.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

WRITTEN_AGAINST = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


def check_versions() -> list[str]:
    """One line per library whose installed version is not the one these overrides were
    written against (empty when all match)."""
    found = []
    for name, wanted in WRITTEN_AGAINST.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != wanted:
            found.append(
                f"{name} {installed} (s2c's Faust overrides were written against {wanted})"
            )
    return found
