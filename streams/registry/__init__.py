"""s2c's schema registry: the Confluent Schema Registry REST API over a compacted Kafka topic.

`state` folds the log, `rules` decides answers and writes, `kafkalog` reads and writes Kafka off
the event loop, `service` ties them, `api` is the aiohttp layer, `cli` is `s2c registry serve`.
"""
