"""System connectors: HL7 v2 (files and MLLP), X12 837/277CA/835 and FHIR R4 into canonical events.

Each format has a pure mapper (text in, canonical event dicts or a MappingError out); `ingest`
publishes what they return and dead-letters what they reject. See README.md for the mapping tables.
"""
