"""`s2c verify`: the judge that the live pipeline equals `s2c replay` of the same input.

- `lateness`: which input events came later than the allowed lateness, and the instances they touch
  (the README's rule "When live equals replay" excuses differences on those instances only);
- `compare`: live outputs against replay's, by id: lost, extra, changed, delivered twice, double
  postings, ledgers, exceptions, breaches, dead letters (pure, no Kafka);
- `poisoncheck`: in a poisoned run, each dead letter matched to the published record it names, by
  poison kind against its expected reason (pure, no Kafka);
- `report`: the table a person reads and the JSON figures;
- `workload`, `live`, `faults`, `readback`: the input published to a fresh namespace, live workers
  under faults, the wait until the pipeline is drained, the outputs read back, the namespace removed;
- `run`: the main job, step by step.
"""
