"""Dead letters of a poisoned verify run against the records published: plain functions, no Kafka.

Every record of the events topic was published by verify itself, so its (partition, offset) names
it: a poison record of a known kind (`s2c generate --poison`, streams/synth/poison.py) or a good
event. A dead letter names its source topic, partition and offset (`__connect.errors.*`), so each
letter on the events topic is matched to the record it stands for:

- a poison record is *as expected* when every letter for it carries `EXPECTED[kind]`, or, for a
  resent event id (`duplicate`), when it has no letter at all (the process stage drops it by id;
  that it changed no output is the comparison with replay of the good events);
- a letter for a good event is a failure, whatever its reason: the generator's good events are
  all plausible, and replay of the good events refuses none of them;
- a letter for a record the topic does not hold (another topic, an offset nobody published) is
  left to the comparison by reason with replay's refusals, as without poison.

The same record dead-lettered twice (a worker killed before it committed) is one record: its
letters are counted, not failed, as commands delivered twice are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from s2c.streams.synth.poison import EXPECTED, KINDS

DUPLICATE = "duplicate"  # EXPECTED's word for "dropped by its id, no dead letter"
SHOWN = 5


@dataclass(frozen=True)
class Letter:
    """What verify reads of a dead letter: its reason and the record it came from."""

    reason: str
    topic: str
    partition: int
    offset: int


@dataclass
class KindRow:
    kind: str
    expected: str
    published: int = 0
    refused: int = 0  # the events topic did not take it (its size): never reached a worker
    as_expected: int = 0  # dead-lettered with the expected reason (duplicates: no letter)
    other: Counter[str] = field(default_factory=Counter)  # reason -> records
    missing: int = 0  # published, no letter (a duplicate is never missing)

    @property
    def failures(self) -> int:
        return sum(self.other.values()) + self.missing


@dataclass
class PoisonCheck:
    rows: dict[str, KindRow]
    good_dead_lettered: Counter[str] = field(default_factory=Counter)  # reason -> good events
    good_examples: list[str] = field(default_factory=list)  # `partition@offset` of the first few
    letters_twice: int = 0  # records with more than one letter (redelivered)
    unmatched: list[Letter] = field(default_factory=list)  # not on a published record

    @property
    def failures(self) -> int:
        return sum(row.failures for row in self.rows.values()) + sum(
            self.good_dead_lettered.values()
        )

    @property
    def kinds_dead_lettered(self) -> int:
        """Kinds with at least one record handled as expected (a duplicate counts when dropped)."""
        return sum(1 for row in self.rows.values() if row.as_expected)


def check(
    events_topic: str,
    published: Mapping[tuple[int, int], str | None],
    refused: Iterable[str],
    letters: Iterable[Letter],
) -> PoisonCheck:
    """`published`: (partition, offset) -> poison kind, or None for a good event; `refused`: the
    kinds of poison records the topic did not take; `letters`: every dead letter read back."""
    rows = {kind: KindRow(kind, EXPECTED[kind]) for kind in KINDS}
    for kind in published.values():
        if kind is not None:
            rows[kind].published += 1
    for kind in refused:
        rows[kind].refused += 1
    result = PoisonCheck(rows)
    reasons: dict[tuple[int, int], list[str]] = defaultdict(list)
    for letter in letters:
        where = (letter.partition, letter.offset)
        if letter.topic != events_topic or where not in published:
            result.unmatched.append(letter)
        else:
            reasons[where].append(letter.reason)
    for where, said in sorted(reasons.items()):
        result.letters_twice += len(said) > 1
        kind = published[where]
        if kind is None:
            for reason in set(said):
                result.good_dead_lettered[reason] += 1
            if len(result.good_examples) < SHOWN:
                result.good_examples.append(f"{where[0]}@{where[1]}")
            continue
        row = rows[kind]
        if row.expected != DUPLICATE and set(said) == {row.expected}:
            row.as_expected += 1
        else:
            for reason in set(said):
                row.other[reason] += 1
    for where, kind in published.items():
        if kind is None or where in reasons:
            continue
        if rows[kind].expected == DUPLICATE:
            rows[kind].as_expected += 1
        else:
            rows[kind].missing += 1
    return result


def render_lines(result: PoisonCheck) -> list[str]:
    lines = [
        f"{'poison by kind':26} {'expected':>17} {'published':>9} {'as expected':>11} "
        f"{'other reason':>12} {'missing':>7}"
    ]
    for row in result.rows.values():
        refused = f"  ({row.refused} refused by the topic)" if row.refused else ""
        other = ", ".join(f"{reason} {n}" for reason, n in sorted(row.other.items()))
        lines.append(
            f"  {row.kind:24} {row.expected:>17} {row.published:>9} {row.as_expected:>11} "
            f"{sum(row.other.values()):>12} {row.missing:>7}"
            + (f"  [{other}]" if other else "")
            + refused
            + ("   <-" if row.failures else "")
        )
    published = sum(row.published for row in result.rows.values())
    good = sum(result.good_dead_lettered.values())
    shown = ", ".join(result.good_examples)
    lines += [
        f"  {'all kinds':24} {'':>17} {published:>9} "
        f"{sum(row.as_expected for row in result.rows.values()):>11} "
        f"{sum(sum(row.other.values()) for row in result.rows.values()):>12} "
        f"{sum(row.missing for row in result.rows.values()):>7}",
        f"  {'good events dead-lettered (FAILS)':52} {good:>8}"
        + (f"  {dict(sorted(result.good_dead_lettered.items()))} ({shown})" if good else ""),
        f"  {'records dead-lettered twice (allowed)':52} {result.letters_twice:>8}",
    ]
    return lines


def figures(result: PoisonCheck) -> dict[str, Any]:
    return {
        "failures": result.failures,
        "kinds_published": sum(1 for row in result.rows.values() if row.published),
        "kinds_as_expected": result.kinds_dead_lettered,
        "by_kind": {
            row.kind: {
                "expected": row.expected,
                "published": row.published,
                "refused_by_topic": row.refused,
                "as_expected": row.as_expected,
                "other_reason": dict(row.other),
                "missing": row.missing,
            }
            for row in result.rows.values()
        },
        "good_dead_lettered": dict(result.good_dead_lettered),
        "good_dead_lettered_at": result.good_examples,
        "records_dead_lettered_twice": result.letters_twice,
        "letters_not_on_a_published_record": len(result.unmatched),
    }
