"""Poison for `s2c generate --poison FRACTION`: bad records mixed into the good event stream.

After each good event, with probability FRACTION (an RNG of its own, so the good events are the
same with or without poison, and the same seed gives the same poison), one bad record follows it,
keyed like it (same partition). Kinds come in shuffled rounds, so every kind appears once there are
as many poison records as kinds. Each is built from the good event before it, with its ids marked
(`~P`), so a bad record let through would open an instance of its own rather than corrupt a real
one. What the pipeline must do with each kind (`EXPECTED`): dead-letter it with that reason, or,
for a resent event id, drop it as a duplicate.

Tags: on Kafka the header `s2c.synth.poison: <kind>` (a dead letter names its source topic,
partition and offset, where the header is); in files, `poison.jsonl` beside `events.jsonl`, one
`{"line": N, "kind": ...}` per bad line (replay's `dead_letters.jsonl` names the same line).
At most `MAX_OVERSIZE` records of 5 MB per run: 1% of a large run would be gigabytes.
"""

from __future__ import annotations

import copy
import random
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from s2c.tables.plausible import BUSINESS_KEYS

Record = dict[str, Any]
POISON_HEADER = "s2c.synth.poison"
OVERSIZE_BYTES = 5 * 1024 * 1024
MAX_OVERSIZE = 2
UNKNOWN_EVENT = "AppointmentTeleported"  # a record name no s2c catalogue has
# A schema for it, registered by `--kafka` under its own subject so the record decodes and is then
# refused as an unknown event type (not as undecodable bytes).
UNKNOWN_EVENT_SCHEMA = (
    '{"type": "record", "name": "AppointmentTeleported", "namespace": "s2c.events", '
    '"fields": [{"name": "event_id", "type": "string"}, {"name": "appointment_id", '
    '"type": "string"}]}'
)

# kind -> what the pipeline does with it (the dead-letter reason, or `duplicate`)
EXPECTED = {
    "undecodable-bytes": "undecodable",
    "unknown-schema-id": "undecodable",
    "json-garbage": "undecodable",
    "dated-2999": "implausible-time",
    "dated-1970": "implausible-time",
    "empty-business-key": "bad-business-key",
    "malformed-business-key": "bad-business-key",
    "negative-charge": "bad-amount",
    "amount-out-of-range": "bad-amount",
    "oversize-5mb": "undecodable",
    "master-record-on-events": "invalid-event",
    "unknown-event-type": "invalid-event",
    "duplicate-event-id": "duplicate",
}
# In files, where there is no Avro framing, the three framing kinds are lines that are not JSON or
# not an event record.
EXPECTED_IN_FILES = {**EXPECTED, "unknown-schema-id": "invalid-event"}
KINDS = tuple(EXPECTED)


@dataclass(frozen=True)
class Poison:
    """One bad record: a record to encode (`schema` in `namespace`), or bytes sent as they are
    (`raw`); `line` is its events.jsonl line when that is not the record's event line."""

    kind: str
    key: str
    schema: str | None = None
    record: Record | None = None
    namespace: str = "s2c.events"
    raw: bytes | None = None
    line: str | None = None


class Poisoner:
    def __init__(self, fraction: float, seed: int) -> None:
        if not 0 <= fraction < 1:
            raise ValueError(f"--poison must be a fraction in [0, 1), not {fraction}")
        self.fraction = fraction
        self._rng = random.Random(f"s2c-poison-{seed}")
        self._round: list[str] = []
        self.counts: Counter[str] = Counter()

    def mix(
        self, events: Iterable[tuple[str, str, Record]]
    ) -> Iterator[tuple[str, str, Record] | Poison]:
        for schema, key, record in events:
            yield schema, key, record
            if self.fraction and self._rng.random() < self.fraction:
                kind = self._next_kind()
                self.counts[kind] += 1
                yield _BUILDERS[kind](schema, key, record, self._rng)

    def _next_kind(self) -> str:
        while True:
            if not self._round:
                self._round = list(KINDS)
                self._rng.shuffle(self._round)
            kind = self._round.pop()
            if kind != "oversize-5mb" or self.counts[kind] < MAX_OVERSIZE:
                return kind


def _marked(schema: str, record: Record, kind: str) -> Record:
    """A copy of a good record with a new event id and its business keys marked `~P`."""
    bad = copy.deepcopy(record)
    envelope = bad["envelope"]
    envelope["event_id"] = f"{envelope['event_id']}~P-{kind}"
    for name in BUSINESS_KEYS:
        if bad.get(name):
            bad[name] = f"{bad[name]}~P"
    return bad


def _first_key(record: Record) -> str:
    return next(name for name in BUSINESS_KEYS if record.get(name))


def _dated(year: int) -> Any:
    def build(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
        bad = _marked(schema, record, f"dated-{year}")
        bad["envelope"]["occurred_at"] = datetime(year, 1, 1, 9, 0, tzinfo=UTC)
        return Poison(f"dated-{year}", key, schema, bad)

    return build


def _empty_key(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    bad = _marked(schema, record, "empty-key")
    bad[_first_key(bad)] = ""
    return Poison("empty-business-key", key, schema, bad)


def _malformed_key(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    bad = _marked(schema, record, "malformed-key")
    name = _first_key(bad)
    bad[name] = f"{bad[name]}\r\nPID|||"  # an HL7 segment leaked into the key
    return Poison("malformed-business-key", key, schema, bad)


def _money_event(record: Record, kind: str) -> tuple[Record, str]:
    envelope = copy.deepcopy(record["envelope"])
    envelope["event_id"] = f"{envelope['event_id']}~P-{kind}"
    account = record.get("account_number") or "ACCOUNT"
    return envelope, f"{account}~P"


def _negative_charge(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    envelope, account = _money_event(record, "negative-charge")
    envelope["event_type"] = "ChargePosted"
    bad = {
        "envelope": envelope,
        "charge_id": envelope["event_id"],
        "account_number": account,
        "procedure_code": "99213",
        "units": 1,
        "amount": -Decimal(rng.randrange(100, 500000)) / 100,
        "service_date": envelope["occurred_at"].date(),
        "department_id": record.get("department_id") or "DEPT",
    }
    return Poison("negative-charge", key, "ChargePosted", bad)


def _amount_out_of_range(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    envelope, account = _money_event(record, "amount-out-of-range")
    envelope["event_type"] = "PaymentPosted"
    bad = {
        "envelope": envelope,
        "remittance_id": envelope["event_id"],
        "account_number": account,
        "claim_id": None,
        "payer_id": record.get("payer_id") or "PAYER",
        "paid_amount": Decimal("987654321.00"),
        "payment_trace": "TRN-POISON",
        "payment_date": envelope["occurred_at"].date(),
    }
    return Poison("amount-out-of-range", key, "PaymentPosted", bad)


def _undecodable(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    text = f"MSH|^~\\&|EPIC|POISON|||{rng.randrange(10**12):012d}||SIU^S12|P|2.5.1"
    return Poison("undecodable-bytes", key, raw=text.encode(), line=text)


def _unknown_schema_id(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    schema_id = 2_000_000_000 + rng.randrange(1000)
    raw = struct.pack(">bI", 0, schema_id) + b"\x02\x04junk"
    return Poison(
        "unknown-schema-id", key, raw=raw, line=f'{{"schema_id": {schema_id}, "body": "AgRqdW5r"}}'
    )


def _json_garbage(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    from s2c.streams.synth.writer import event_line

    text = event_line(schema, _marked(schema, record, "json"))
    return Poison("json-garbage", key, raw=text.encode(), line=text[: len(text) // 2])


def _oversize(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    segment = "OBX|1|TX|POISON||" + "X" * 200 + "|"
    text = "MSH|^~\\&|EPIC|POISON|||" + segment * (OVERSIZE_BYTES // len(segment) + 1)
    return Poison("oversize-5mb", key, raw=text.encode(), line=text)


def _master_record(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    payer = {
        "payer_id": f"PAY-P{rng.randrange(1000):03d}",
        "display_name": "Payer sent to the wrong topic",
        "financial_class": "COMMERCIAL",
    }
    return Poison("master-record-on-events", key, "Payer", payer, namespace="s2c.master")


def _unknown_event(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    event_id = f"{record['envelope']['event_id']}~P-unknown"
    bad = {"event_id": event_id, "appointment_id": f"{key}~P"}
    line_record = {**_marked(schema, record, "unknown"), "appointment_id": f"{key}~P"}
    from s2c.streams.synth.writer import event_line

    return Poison(
        "unknown-event-type",
        key,
        UNKNOWN_EVENT,
        bad,
        line=event_line(UNKNOWN_EVENT, line_record),
    )


def _duplicate(schema: str, key: str, record: Record, rng: random.Random) -> Poison:
    return Poison("duplicate-event-id", key, schema, copy.deepcopy(record))


_BUILDERS = {
    "undecodable-bytes": _undecodable,
    "unknown-schema-id": _unknown_schema_id,
    "json-garbage": _json_garbage,
    "dated-2999": _dated(2999),
    "dated-1970": _dated(1970),
    "empty-business-key": _empty_key,
    "malformed-business-key": _malformed_key,
    "negative-charge": _negative_charge,
    "amount-out-of-range": _amount_out_of_range,
    "oversize-5mb": _oversize,
    "master-record-on-events": _master_record,
    "unknown-event-type": _unknown_event,
    "duplicate-event-id": _duplicate,
}
