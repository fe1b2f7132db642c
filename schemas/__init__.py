"""The Avro schema catalogue as package data: `.avsc` files only; `s2c.streams.catalog` loads them."""
