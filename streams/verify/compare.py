"""Live outputs against replay's, by id: plain functions over records, no Kafka.

Records are the outputs' native records (Avro-decoded from the topics, `to_record()` from replay):
nested dicts with Decimal, datetime, date and enum symbols. Two are the same when their canonical
text is, with money compared as numbers (`4200.00` = `4200.0`) and instants to the millisecond.
Fields that say *when* a stage noticed, not what happened, are left out (`IGNORED`): they are the
stage's stream time at that moment, which live trails by design.

A difference is *allowed by rule* when the record belongs to an instance a late event touched
(`allowed(record)`, see lateness.py); it is reported on its own line and is no failure. A command
delivered twice with the same id is counted, not failed (the ERP keys on `command_id`); the same
business content under a second id is a double posting, and always a failure.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from s2c.streams.demo_summary import journal_rows
from s2c.streams.verify.poisoncheck import PoisonCheck

Record = Mapping[str, Any]
Allowed = Callable[[Record], bool]
IGNORED = {
    "commands": frozenset(),
    "exceptions": frozenset({"raised_at"}),
    "breaches": frozenset({"detected_at"}),
}
# Work items raised from the ERP's acknowledgements, not from the events (s2c.tables.erp_status):
# replay runs no ERP, so it never raises them. ERP items are compared with the ledger, not with
# replay; here they are set aside, counted (`Verdict.erp_items`), and never a difference.
ERP_KINDS = frozenset({"ERP_REJECTED", "ERP_UNSYNCHRONIZED"})
SHOWN = 5  # ids listed per kind of difference
EXAMPLES = 50  # failing records kept whole per family, for the JSON figures


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot compare a {type(value).__name__}")


def canonical(record: Record, ignore: Iterable[str] = ()) -> str:
    """The record's text for comparison: sorted keys, normalized money and instants, without the
    top-level fields in `ignore`."""
    skip = set(ignore)
    kept = {k: v for k, v in record.items() if k not in skip}
    return json.dumps(kept, default=_plain, sort_keys=True, separators=(",", ":"))


def command_id(record: Record) -> str:
    return str(record["header"]["command_id"])


def business_content(command: Record) -> str:
    """A command's text without its id: two ids with this text are one posting made twice."""
    header = {k: v for k, v in command["header"].items() if k != "command_id"}
    return canonical({**command, "header": header})


@dataclass
class Family:
    """One output family (commands, exceptions or breaches) compared by id."""

    name: str
    live: int = 0  # distinct ids
    replay: int = 0
    lost: list[str] = field(default_factory=list)  # in replay, not live: failures
    extra: list[str] = field(default_factory=list)  # live, not in replay: failures
    changed: list[str] = field(default_factory=list)  # same id, other content: failures
    allowed: Counter[str] = field(default_factory=Counter)  # lost/extra/changed allowed by rule
    allowed_ids: list[str] = field(default_factory=list)
    delivered_twice: int = 0  # ids that came more than once (same id: not a failure)
    redeliveries: int = 0  # the surplus deliveries of those ids
    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (live, replay)
    # the first failing records, as plain JSON values: {"difference": ..., "record": ...}
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.lost) + len(self.extra) + len(self.changed)


def compare_family(
    name: str,
    live: Iterable[Record],
    replay: Iterable[Record],
    id_of: Callable[[Record], str],
    kind_of: Callable[[Record], str],
    allowed: Allowed,
) -> Family:
    ignore = IGNORED[name]
    live_by_id: dict[str, list[Record]] = defaultdict(list)
    for record in live:
        live_by_id[id_of(record)].append(record)
    replay_by_id = {id_of(record): record for record in replay}
    family = Family(name, live=len(live_by_id), replay=len(replay_by_id))
    for rid, copies in live_by_id.items():
        if len(copies) > 1:
            family.delivered_twice += 1
            family.redeliveries += len(copies) - 1
    differences: list[tuple[str, str, Record]] = []
    for rid, record in replay_by_id.items():
        copies = live_by_id.get(rid)
        if copies is None:
            differences.append(("lost", rid, record))
        elif any(canonical(c, ignore) != canonical(record, ignore) for c in copies):
            differences.append(("changed", rid, record))
    differences += [
        ("extra", rid, copies[0]) for rid, copies in live_by_id.items() if rid not in replay_by_id
    ]
    for what, rid, record in sorted(differences, key=lambda d: (d[0], d[1])):
        if allowed(record):
            family.allowed[what] += 1
            family.allowed_ids.append(rid)
        else:
            getattr(family, what).append(rid)
            if len(family.examples) < EXAMPLES:
                family.examples.append(
                    {"difference": what, "record": json.loads(canonical(record))}
                )
    live_kinds = Counter(kind_of(copies[0]) for copies in live_by_id.values())
    replay_kinds = Counter(kind_of(record) for record in replay_by_id.values())
    family.kinds = {
        kind: (live_kinds[kind], replay_kinds[kind]) for kind in sorted(live_kinds | replay_kinds)
    }
    return family


def command_kind(command: Record) -> str:
    return str(command.get("journal_kind") or command["header"]["command_type"])


@dataclass
class Commands:
    family: Family
    double_postings: list[str]  # live ids whose business content another id already carries
    ledger: dict[str, tuple[Decimal, Decimal]]  # journal row -> (live, replay) debits
    balanced: tuple[bool, bool]  # debits = credits, live and replay


def compare_commands(live: list[Record], replay: list[Record], allowed: Allowed) -> Commands:
    family = compare_family("commands", live, replay, command_id, command_kind, allowed)
    first: dict[str, Record] = {}
    for record in live:  # the ERP books each id once: the first delivery
        first.setdefault(command_id(record), record)
    replay_content = Counter(business_content(r) for r in replay)
    live_ids: dict[str, list[str]] = defaultdict(list)
    for rid, record in first.items():
        live_ids[business_content(record)].append(rid)
    doubled: list[str] = []
    for content, ids in live_ids.items():
        surplus = len(ids) - max(replay_content[content], 1)
        if surplus > 0:
            doubled.extend(sorted(ids)[-surplus:])
    live_rows, live_debit, live_credit = journal_rows(first.values())
    replay_rows, replay_debit, replay_credit = journal_rows(replay)
    ledger = {
        row: (live_rows.get(row, Decimal(0)), replay_rows.get(row, Decimal(0)))
        for row in [*replay_rows, *(r for r in live_rows if r not in replay_rows)]
    }
    return Commands(
        family,
        sorted(doubled),
        ledger,
        (live_debit == live_credit, replay_debit == replay_credit),
    )


@dataclass
class Verdict:
    commands: Commands
    exceptions: Family
    breaches: Family
    dead_letters: dict[str, tuple[int, int]]  # reason -> (live, replay) dead letters
    poison: PoisonCheck | None = None  # a poisoned run: its letters matched to its bad records
    erp_items: int = 0  # live ERP work items set aside (ERP_KINDS): compared with the ledger

    @property
    def dead_letter_failures(self) -> int:
        """Dead letters one side has and the other has not, by reason."""
        return sum(abs(live - replay) for live, replay in self.dead_letters.values())

    @property
    def failures(self) -> int:
        return (
            self.commands.family.failures
            + len(self.commands.double_postings)
            + self.exceptions.failures
            + self.breaches.failures
            + self.dead_letter_failures
            + (self.poison.failures if self.poison else 0)
        )

    @property
    def allowed(self) -> int:
        return sum(
            sum(f.allowed.values()) for f in (self.commands.family, self.exceptions, self.breaches)
        )

    @property
    def equal(self) -> bool:
        return self.failures == 0


def judge(
    live: Mapping[str, list[Record]],
    replay: Mapping[str, list[Record]],
    dead_letter_reasons: Iterable[str],
    allowed: Allowed,
    replay_dead_letters: Iterable[str] = (),
    poison: PoisonCheck | None = None,
) -> Verdict:
    """Every family compared; `live` and `replay` map `commands`, `exceptions`, `breaches` to
    their records; dead letters are compared by reason (`dead_letter_reasons` live, and
    `replay_dead_letters`: the lines replay refused, as the ingest stage does). In a poisoned
    run, `poison` holds the letters matched to published records; pass the others (`unmatched`)
    as `dead_letter_reasons`."""
    live_letters, replay_letters = Counter(dead_letter_reasons), Counter(replay_dead_letters)
    live_items = [r for r in live["exceptions"] if not is_erp_item(r)]
    return Verdict(
        compare_commands(live["commands"], replay["commands"], allowed),
        compare_family(
            "exceptions",
            live_items,
            [r for r in replay["exceptions"] if not is_erp_item(r)],
            lambda r: str(r["exception_id"]),
            lambda r: str(r["kind"]),
            allowed,
        ),
        compare_family(
            "breaches",
            live["breaches"],
            replay["breaches"],
            lambda r: str(r["breach_id"]),
            lambda r: str(r["sla"]),
            allowed,
        ),
        {
            reason: (live_letters[reason], replay_letters[reason])
            for reason in sorted(live_letters | replay_letters)
        },
        poison,
        len(live["exceptions"]) - len(live_items),
    )


def is_erp_item(record: Record) -> bool:
    kind = record["kind"]
    return (kind.value if isinstance(kind, Enum) else str(kind)) in ERP_KINDS
