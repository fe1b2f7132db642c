"""Synthetic health system for s2c: master data and a day (or days) of canonical events.

`generate(SynthParams(...))` plans everything deterministically for a seed and returns a
`Synthesis`: `.master()` yields the master records, `.events()` the events in arrival order as
`(schema name, business key, Avro-native record)`, with `poison.Poison` bad records among them
when `SynthParams.poison` is set. `writer` puts them in JSON Lines files for
`s2c replay`, `kafka_out` on the pipeline's topics. See README.md for parameters and sources.
"""

from s2c.streams.synth.params import SynthParams
from s2c.streams.synth.stream import Synthesis, generate

__all__ = ["SynthParams", "Synthesis", "generate"]
