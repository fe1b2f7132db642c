"""The reference ERP: a general ledger that takes s2c's posting commands and answers each one.

`rules` decides (pure: a command, the chart of accounts, the open periods -> posted or refused),
`ledger` keeps the decisions and postings in a database (one transaction per command, a unique
command id; its tables in `ddl`), `sink` moves commands from Kafka into the ledger and
acknowledgements back, and `sink_cli` is `s2c erp-sink`.
"""
