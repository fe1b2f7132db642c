"""Post a `commands.jsonl` file (what `s2c replay` writes) into the reference ERP's ledger, no
Kafka: `s2c erp-sink --from-file`. The same `Ledger.apply` and rules as the Kafka sink, so the
ledger it leaves is the one the sink would leave for the same commands (document numbers aside:
they follow the order of posting). Used to reconcile a replay against a ledger offline.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from s2c.streams.erp.ledger import REJECTED, Ledger
from s2c.streams.erp.rules import Chart
from s2c.tables.codec import decode
from s2c.tables.outputs import COMMAND_TYPES


def read_commands(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(record name, Avro-native record) per line of a replay's `commands.jsonl`."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            name = row["schema"]
            # through the core's dataclass: JSON strings become Decimal, date, datetime
            yield name, decode(COMMAND_TYPES[name], row["record"]).to_record()


def post_file(
    ledger: Ledger,
    chart: Chart,
    path: Path,
    now: Callable[[], datetime],
    silent: Callable[[str], bool] = lambda process_id: False,
) -> Counter[str]:
    """Apply every command of `path` in file order; `silent(process_id)` withholds a command
    (no posting, no answer). Returns counts: applied, rejected, resent (answered before),
    withheld."""
    counts: Counter[str] = Counter()
    for name, command in read_commands(path):
        if silent(command["header"]["process_id"]):
            counts["withheld"] += 1
            continue
        ack, fresh = ledger.apply(name, command, chart, now())
        counts["resent" if not fresh else "rejected" if ack.status == REJECTED else "applied"] += 1
    return counts
