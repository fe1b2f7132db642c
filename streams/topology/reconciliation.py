"""Live reconciliation: each instance's mismatches between what s2c sent and what the ERP did.

The ERP keeper (erp.py) keeps, beside each instance's ERP statuses, its reconciliation facts
(`tables.reconcile_facts.Facts`: every command sent and the ERP's answer to it) in the
changelog-backed `erp_facts` table. The mismatches are the pure core's (`tables.reconcile`), over
those facts and the milestones of the instance's process state, read from the `processes` table
of the same worker (the commands, acks and process topics are co-partitioned).

Live differs from `s2c reconcile` over a replay in two ways, both on purpose:

- **"Now" is business time**: the latest `issued_at` of the commands this worker has seen (a
  replay's is the latest of the whole run). Windows such as the DNFB window run on it.
- **Unanswered is not unacknowledged until the ack wait has passed.** A command the ERP has not
  answered counts (`ERP_UNACKNOWLEDGED`) only once the keeper reported it `ERP_UNSYNCHRONIZED`,
  after `S2C_ERP_ACK_WAIT`; without an ERP connected (the wait unset) never.

Metrics: `s2c_reconciliation_mismatches{kind,site}` counts the instances of this worker's
partitions with each kind. A sweep re-judges `SWEEP_PER_TICK` instances per tick in key order
and wraps around, so a tick costs the same at any table size and every instance is re-judged
within (instances / SWEEP_PER_TICK) ticks; instances a command or ack just changed are re-judged
at once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from s2c.streams.topology.worklist import rows_from
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.erp_status import ErpState
from s2c.tables.process import ProcessState
from s2c.tables.reconcile import mismatches, unacknowledged_only_if_late
from s2c.tables.reconcile_facts import Facts, Mismatch

SWEEP_PER_TICK = 200
FACTS_TABLE = "erp_facts"


class LiveReconciliation:
    """The facts of one worker's instances, their mismatches, and the gauge they feed."""

    def __init__(self, tables: dict[str, Any], acks_connected: bool) -> None:
        self.facts, self.processes = tables[FACTS_TABLE], tables["processes"]
        self.erp_states = tables["erp_commands"]
        self.rows = rows_from(self.facts)
        self.acks_connected = acks_connected
        self.latest: datetime | None = None  # business "now": latest issued_at seen
        self.judged: dict[str, tuple[str | None, tuple[str, ...]]] = {}  # key -> (site, kinds)
        self.cursor = b""

    # -- the keeper's updates (inside its batch, through its checkpointed table) -------------
    def command(self, held: Any, key: str, record: dict[str, Any]) -> None:
        facts = self._load(held, key)
        command_id = facts.add_command(record)
        self._note_time(facts.commands[command_id].issued_at)
        self._keep(held, key, facts)

    def answer(self, held: Any, key: str, command_id: str, status: str, reason: str | None) -> None:
        facts = self._load(held, key)
        facts.set_status(command_id, status, reason)
        self._keep(held, key, facts)

    def _keep(self, held: Any, key: str, facts: Facts) -> None:
        raw = dumps_bytes(facts.to_dict())
        held[key.encode()] = raw
        if self.latest is not None:  # re-judged at once, with the process state as last saved
            judged = self.facts_of(key.encode(), raw)
            found = self.judge(key.encode(), judged, self.latest)
            self.judged[key] = (judged.site_id, tuple(m.kind.value for m in found))

    def _load(self, held: Any, key: str) -> Facts:
        stored = held.get(key.encode())
        return Facts(key) if stored is None else Facts.from_dict(loads(stored))

    def _note_time(self, issued_at: datetime) -> None:
        if self.latest is None or issued_at > self.latest:
            self.latest = issued_at

    # -- judging --------------------------------------------------------------------------------
    def facts_of(self, key: bytes, stored: bytes) -> Facts:
        """The instance's facts with the milestones of its process state, as last saved."""
        facts = Facts.from_dict(loads(stored))
        process = self.processes.get(key)
        if process is not None:
            facts.note_process(ProcessState.from_dict(json.loads(process)))
        return facts

    def judge(self, key: bytes, facts: Facts, as_of: datetime) -> list[Mismatch]:
        """The instance's mismatches as the live pipeline reports them (see the module doc)."""
        return unacknowledged_only_if_late(mismatches(facts, as_of), self._unsynchronized(key))

    def _unsynchronized(self, key: bytes) -> set[str]:
        if not self.acks_connected:
            return set()
        stored = self.erp_states.get(key)
        if stored is None:
            return set()
        state = ErpState.from_dict(loads(stored))
        return {
            cid
            for cid, command in state.commands.items()
            if command.status == "PENDING" and command.reported_unsynchronized
        }

    def sweep(self, limit: int = SWEEP_PER_TICK) -> None:
        """Re-judge the next `limit` instances after the cursor (wrapping around)."""
        rows = list(_take(self.rows(self.cursor), limit, self.cursor))
        if len(rows) < limit and self.cursor:
            self.cursor = b""
            rows += list(_take(self.rows(b""), limit - len(rows), b""))
        for key, stored in rows:
            facts = self.facts_of(key, stored)
            for fact in facts.commands.values():
                self._note_time(fact.issued_at)
            if self.latest is not None:
                found = self.judge(key, facts, self.latest)
                self.judged[key.decode()] = (facts.site_id, tuple(m.kind.value for m in found))
        self.cursor = rows[-1][0] if rows else b""

    def forget(self, owned: set[int], partition_of: Any) -> None:
        """Drop what was judged for partitions this worker no longer owns."""
        for key in [k for k in self.judged if partition_of(k) not in owned]:
            del self.judged[key]

    def counts(self) -> Counter[tuple[str, str]]:
        """Instances per (kind, site) among those judged."""
        tally: Counter[tuple[str, str]] = Counter()
        for site, kinds in self.judged.values():
            for kind in set(kinds):
                tally[kind, site or "unknown"] += 1
        return tally

    def show(self, gauge: Any, shown: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Set `gauge` to `counts()`, removing the label sets no instance has any more."""
        tally = self.counts()
        for kind, site in shown - tally.keys():
            gauge.remove(kind, site)
        for (kind, site), n in tally.items():
            gauge.labels(kind, site).set(n)
        return set(tally)

    def local_facts(self) -> Iterator[dict[str, Any]]:
        """Every instance of this worker's partitions: its facts (with milestones) and the
        commands the keeper reported unsynchronized, for `s2c reconcile --live`."""
        for key, stored in self.rows(b""):
            facts = self.facts_of(key, stored)
            yield {
                "facts": loads(dumps_bytes(facts.to_dict())),
                "unsynchronized": sorted(self._unsynchronized(key)),
            }


def _take(
    rows: Iterator[tuple[bytes, bytes]], limit: int, after: bytes
) -> Iterator[tuple[bytes, bytes]]:
    taken = 0
    for key, value in rows:
        if taken >= limit:
            return
        if after and key <= after:
            continue
        taken += 1
        yield key, value
