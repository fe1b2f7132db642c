"""Master data (`s2c.master`): the records, the read interface the core uses, a dict-backed store.

The core never hard-codes an account, cost center, rate or supply kit: it asks a `MasterData`.
`DictMasterData` serves tests, `s2c replay` and the workers' replica of the master topic. Lookups
return None when a record is missing (never put, or retired by a delete); the core then parks the
event and names the `(record, key)` it waits for. `arrivals` maps an arriving master record to
the `(record, key)` waits it satisfies, so an adapter retries exactly the processes waiting for it.

A record is identified by its first field (the master topic's key is `<Record>:<first field>`);
`DictMasterData.delete(record_name, key)` retires one, as a tombstone on the topic does. A
`Crosswalk` maps a source system's code to a master id (`crosswalk(kind, source_system, code)`,
an entry for source `*` serving every source).

Master data directory (replay): one `<RecordName>.jsonl` per record type (`Payer.jsonl`,
`ContractRate.jsonl`, ...), one JSON record per line, field names as in the catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from s2c.tables.codec import decode
from s2c.tables.outputs import LaborLine, SupplyLine
from s2c.tables.vocabulary import (
    CasGroup,
    CrosswalkKind,
    FinancialClass,
    GlPurpose,
    LocationKind,
)


@dataclass(frozen=True, slots=True)
class Provider:
    provider_id: str
    npi: str
    display_name: str
    specialty: str
    site_id: str
    cost_center_id: str


@dataclass(frozen=True, slots=True)
class Location:
    location_id: str
    kind: LocationKind
    site_id: str
    parent_id: str | None
    display_name: str
    cost_center_id: str
    inventory_location_id: str | None = None


@dataclass(frozen=True, slots=True)
class CostCenter:
    cost_center_id: str
    display_name: str
    site_id: str
    service_line_id: str


@dataclass(frozen=True, slots=True)
class Payer:
    payer_id: str
    display_name: str
    financial_class: FinancialClass


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service_line_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ContractRate:
    rate_id: str
    payer_id: str
    procedure_code: str
    expected_amount: Decimal
    effective_from: date


@dataclass(frozen=True, slots=True)
class PreferenceCard:
    preference_card_id: str
    procedure_code: str
    surgeon_id: str | None
    items: tuple[SupplyLine, ...]
    labor: tuple[LaborLine, ...]


@dataclass(frozen=True, slots=True)
class GlAccountMap:
    map_id: str
    purpose: GlPurpose
    site_id: str | None
    carc_group: CasGroup | None
    gl_account: str


@dataclass(frozen=True, slots=True)
class Crosswalk:
    crosswalk_id: str
    kind: CrosswalkKind
    source_system: str
    source_code: str
    master_id: str


PROVIDER_NPI = "Provider.npi"  # a wait for a provider named by its NPI (`references.REFERENCES`)
ANY_SOURCE = "*"
# The master record a crosswalk kind maps to.
CROSSWALK_TARGET: dict[CrosswalkKind, str] = {
    CrosswalkKind.PAYER: "Payer",
    CrosswalkKind.PLAN: "Payer",
    CrosswalkKind.LOCATION: "Location",
    CrosswalkKind.PROVIDER: "Provider",
    CrosswalkKind.SERVICE_LINE: "ServiceLine",
}

MASTER_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Provider,
        Location,
        CostCenter,
        Payer,
        ServiceLine,
        ContractRate,
        PreferenceCard,
        GlAccountMap,
        Crosswalk,
    )
}


class MasterData(Protocol):
    """Read-only master data as the core sees it. Every lookup returns None when unknown."""

    def payer(self, payer_id: str) -> Payer | None: ...
    def contract_rate(
        self, payer_id: str, procedure_code: str, on: date
    ) -> ContractRate | None: ...
    def preference_card(self, preference_card_id: str) -> PreferenceCard | None: ...
    def location(self, location_id: str) -> Location | None: ...
    def provider(self, provider_id: str) -> Provider | None: ...
    def provider_by_npi(self, npi: str) -> Provider | None: ...
    def cost_center(self, cost_center_id: str) -> CostCenter | None: ...
    def service_line(self, service_line_id: str) -> ServiceLine | None: ...
    def gl_account(
        self, purpose: GlPurpose, site_id: str | None, carc_group: CasGroup | None = None
    ) -> str | None: ...
    def crosswalk(self, kind: CrosswalkKind, source_system: str, code: str) -> str | None: ...


def pick_contract_rate(rates: Iterable[ContractRate], on: date) -> ContractRate | None:
    """The rate in force on `on`: the latest `effective_from` not after it."""
    live = [r for r in rates if r.effective_from <= on]
    return max(live, key=lambda r: (r.effective_from, r.rate_id)) if live else None


def resolve_gl_account(
    rows: Iterable[GlAccountMap], site_id: str | None, carc_group: CasGroup | None
) -> str | None:
    """Catalogue order: exact site + CARC group, then site, then the system-wide row."""
    best: tuple[int, str] | None = None
    account: str | None = None
    for row in rows:
        if row.site_id is not None and row.site_id != site_id:
            continue
        if row.carc_group is not None and row.carc_group != carc_group:
            continue
        rank = (2 if row.site_id is not None else 0) + (1 if row.carc_group is not None else 0)
        if best is None or (rank, row.map_id) > best:  # map_id breaks ties deterministically
            best, account = (rank, row.map_id), row.gl_account
    return account


def lookup_keys(record_name: str, record: Any) -> list[str]:
    """The wait keys (see `AwaitMasterData.key`) that an arriving master record satisfies."""
    if record_name == "ContractRate":
        return [f"{record.payer_id}|{record.procedure_code}"]
    if record_name == "GlAccountMap":
        return [record.purpose.value]
    if record_name == "Crosswalk":
        return [record.source_code]
    return [record_id(record)]


def record_id(record: Any) -> str:
    """A record's identity: its first field, the id part of its topic key `<Record>:<id>`."""
    value: str = getattr(record, next(iter(type(record).__dataclass_fields__)))
    return value


def arrivals(record_name: str, record: Any) -> list[tuple[str, str]]:
    """The `(record, key)` waits an arriving master record may satisfy. A crosswalk entry
    satisfies a wait for its source code as its target record: an event waiting for
    `Payer <code>` is retried when `<code>` gets a crosswalk entry (and, if the payer it maps to
    is unknown too, parks again for that one). A provider satisfies a wait for its NPI too."""
    if isinstance(record, Crosswalk):
        return [(CROSSWALK_TARGET[record.kind], record.source_code)]
    if isinstance(record, Provider):
        return [(record_name, record.provider_id), (PROVIDER_NPI, record.npi)]
    return [(record_name, key) for key in lookup_keys(record_name, record)]


class DictMasterData:
    """`MasterData` over in-memory dicts, indexed on load."""

    def __init__(self, records: Iterable[Any] = ()) -> None:
        self._by_id: dict[tuple[str, str], Any] = {}  # (record name, first field) -> record
        self._rates: dict[tuple[str, str], list[ContractRate]] = {}
        self._gl: dict[GlPurpose, list[GlAccountMap]] = {}
        self._crosswalk: dict[tuple[CrosswalkKind, str, str], Crosswalk] = {}
        self._npi: dict[str, Provider] = {}
        for record in records:
            self.put(record)

    def put(self, record: Any) -> None:
        """Store a record, replacing the one with the same id (first field)."""
        name = type(record).__name__
        self.delete(name, record_id(record))
        self._by_id[(name, record_id(record))] = record
        if isinstance(record, ContractRate):
            self._rates.setdefault((record.payer_id, record.procedure_code), []).append(record)
        elif isinstance(record, GlAccountMap):
            self._gl.setdefault(record.purpose, []).append(record)
        elif isinstance(record, Crosswalk):
            self._crosswalk[(record.kind, record.source_system, record.source_code)] = record
        elif isinstance(record, Provider):
            self._npi[record.npi] = record

    def delete(self, record_name: str, key: str) -> bool:
        """Retire the record `<record_name>:<key>` (a tombstone); False when it was not there."""
        old = self._by_id.pop((record_name, key), None)
        if isinstance(old, ContractRate):
            self._rates[(old.payer_id, old.procedure_code)].remove(old)
        elif isinstance(old, GlAccountMap):
            self._gl[old.purpose].remove(old)
        elif isinstance(old, Crosswalk):
            slot = (old.kind, old.source_system, old.source_code)
            if self._crosswalk.get(slot) is old:
                del self._crosswalk[slot]
        elif isinstance(old, Provider) and self._npi.get(old.npi) is old:
            del self._npi[old.npi]
        return old is not None

    def payer(self, payer_id: str) -> Payer | None:
        return self._by_id.get(("Payer", payer_id))

    def contract_rate(self, payer_id: str, procedure_code: str, on: date) -> ContractRate | None:
        return pick_contract_rate(self._rates.get((payer_id, procedure_code), ()), on)

    def preference_card(self, preference_card_id: str) -> PreferenceCard | None:
        return self._by_id.get(("PreferenceCard", preference_card_id))

    def location(self, location_id: str) -> Location | None:
        return self._by_id.get(("Location", location_id))

    def provider(self, provider_id: str) -> Provider | None:
        return self._by_id.get(("Provider", provider_id))

    def provider_by_npi(self, npi: str) -> Provider | None:
        return self._npi.get(npi)

    def cost_center(self, cost_center_id: str) -> CostCenter | None:
        return self._by_id.get(("CostCenter", cost_center_id))

    def service_line(self, service_line_id: str) -> ServiceLine | None:
        return self._by_id.get(("ServiceLine", service_line_id))

    def gl_account(
        self, purpose: GlPurpose, site_id: str | None, carc_group: CasGroup | None = None
    ) -> str | None:
        return resolve_gl_account(self._gl.get(purpose, ()), site_id, carc_group)

    def crosswalk(self, kind: CrosswalkKind, source_system: str, code: str) -> str | None:
        entry = self._crosswalk.get((kind, source_system, code)) or self._crosswalk.get(
            (kind, ANY_SOURCE, code)
        )
        return entry.master_id if entry is not None else None


def master_record(record_name: str, record: dict[str, Any]) -> Any:
    return decode(MASTER_TYPES[record_name], record)


def master_rows(directory: Path) -> Iterator[tuple[Path, int, str, str]]:
    """(file, line number, line, record name) for every non-blank line of every
    `<RecordName>.jsonl` in `directory`, files in name order. Any other `.jsonl` name is an
    error, raised before the first row: a wrong folder, not a bad line."""
    paths = sorted(directory.glob("*.jsonl"))
    for path in paths:
        if path.stem not in MASTER_TYPES:
            raise ValueError(f"{path.name}: not a master record name ({', '.join(MASTER_TYPES)})")
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield path, number, line.rstrip("\n"), path.stem


def load_master_dir(directory: Path) -> DictMasterData:
    """Read every `<RecordName>.jsonl` in `directory` (unknown file names and unreadable lines
    are an error)."""
    store = DictMasterData()
    for _, _, line, name in master_rows(directory):
        store.put(master_record(name, json.loads(line)))
    return store
