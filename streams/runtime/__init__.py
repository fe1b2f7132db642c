"""s2c's stream runtime inside Faust: how a stage's records become durable outputs and state.

Generic: nothing here knows appointments, claims or the link and process stages (those are
s2c.streams.topology, over the stage interface of s2c.tables.stage).

- `loop`: the stage loop, `run_stage`: records in batches (never one asyncio hand-over per
  record), each applied on its own and undone if it fails, the batch checkpointed at once;
- `batches`: natural batches taken from a Faust stream;
- `checkpoint`: the one object that owns "outputs acknowledged, then states and changelogs,
  then progress, then offsets";
- `store`, `states`: the state store (batched write-back views of Faust tables, decoded states
  kept across batches);
- `timers`: the event-time timer index kept in a table;
- `watermarks`: how far each upstream partition has got, and when a partition is idle;
- `clock`: stream time per stage and partition;
- `outbox`: one idempotent producer for every output, changelog record and dead letter;
- `overrides`: every subclass of Faust, mode or aiokafka and every private name of theirs the
  runtime uses, in one package, with the versions they were written against.
"""
