"""`s2c bench`: the pipeline measured against the raw consume+decode rate of the same broker.

One module per figure: `raw` (R), `pipeline` (worker throughput, one and two workers, the plain
Faust peer), `latency` (event -> command at a set load), `restore` (tables back from changelogs),
`replay` (the pure core over JSON Lines); `data` prepares namespaces and events, `procs` runs
subprocesses, `offsets` watches consumer-group commits, `report` prints and appends the results.
A benchmark prints figures; it never asserts and never fails on a slow one.
"""
