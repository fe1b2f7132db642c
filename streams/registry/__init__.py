"""s2c's schema registry: the Confluent Schema Registry REST API over a compacted Kafka topic.

`state` folds the log, `rules` decides answers and writes, `kafkalog` reads and writes Kafka off
the event loop (each change with its audit record), `service` ties them, `api` is the aiohttp
layer, `auth` and `users` say who may read and who may write, `cli` is `s2c registry serve` and
`s2c registry add-user`.
"""
