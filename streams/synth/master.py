"""Master data of the synthetic health system, built first: the records and the indexes episodes use.

`build_health_system(params)` returns a `HealthSystem`: `records` maps each master record name to
its records (Avro-native dicts, catalogue field order), and the indexes (sites with departments,
rooms and providers; contract rates; preference cards) are what the episode planners draw from, so
every id an event carries exists in the master data. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from s2c.streams.synth import reference as ref
from s2c.streams.synth.ids import npi_from_number
from s2c.streams.synth.params import SynthParams

Record = dict[str, Any]
CENT = Decimal("0.01")
UTC_OFFSETS = (-5, -6, -7, -8)  # Eastern, Central, Mountain, Pacific standard time
MASTER_ORDER = (
    "ServiceLine",
    "Payer",
    "CostCenter",
    "Location",
    "Provider",
    "ContractRate",
    "PreferenceCard",
    "GlAccountMap",
)


@dataclass
class Site:
    site_id: str
    number: int
    utc_offset: int
    size: float
    departments: dict[str, str] = field(default_factory=dict)  # dept code -> location id
    providers: dict[str, list[str]] = field(default_factory=dict)  # dept code / SL -> provider ids
    rooms: list[str] = field(default_factory=list)
    facility_provider_id: str = ""


@dataclass
class HealthSystem:
    params: SynthParams
    sites: list[Site] = field(default_factory=list)
    records: dict[str, list[Record]] = field(default_factory=lambda: {n: [] for n in MASTER_ORDER})
    npi: dict[str, str] = field(default_factory=dict)  # provider id -> NPI
    rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (payer, code) -> expected
    cards: dict[str, Record] = field(default_factory=dict)  # preference card id -> card
    surgeon_cards: dict[tuple[str, str], str] = field(default_factory=dict)  # (surgeon, code) -> id

    def add(self, name: str, record: Record) -> None:
        self.records[name].append(record)

    def master_records(self) -> list[tuple[str, str, Record]]:
        """(record name, Kafka key `<RecordName>:<id>`, record), in dependency order."""
        out = []
        for name in MASTER_ORDER:
            for record in self.records[name]:
                out.append((name, f"{name}:{next(iter(record.values()))}", record))
        return out

    def card_for(self, surgeon_id: str, code: str) -> str:
        return self.surgeon_cards.get((surgeon_id, code), f"PC-{code}")


def build_health_system(params: SynthParams) -> HealthSystem:
    system = HealthSystem(params)
    for sl_id, name in ref.SERVICE_LINES.items():
        system.add("ServiceLine", {"service_line_id": sl_id, "display_name": name})
    for p in ref.PAYERS:
        system.add(
            "Payer",
            {
                "payer_id": p.payer_id,
                "display_name": p.display_name,
                "financial_class": p.financial_class,
            },
        )
    npi_counter = iter(range(1, 10**8))
    for number in range(1, params.sites + 1):
        rng = random.Random(f"{params.seed}:site:{number}")
        site = Site(
            f"S{number:02d}", number, UTC_OFFSETS[(number - 1) % 4], round(rng.uniform(0.6, 1.4), 2)
        )
        _add_site(system, site, rng, npi_counter)
        system.sites.append(site)
    _add_contract_rates(system)
    _add_preference_cards(system)
    _add_gl_accounts(system)
    return system


def _location(
    system: HealthSystem,
    location_id: str,
    kind: str,
    site: Site,
    parent: str | None,
    name: str,
    sl_id: str,
    inventory: str | None = None,
) -> None:
    cost_center_id = f"CC-{location_id}"
    if kind != "ROOM":
        system.add(
            "CostCenter",
            {
                "cost_center_id": cost_center_id,
                "display_name": name,
                "site_id": site.site_id,
                "service_line_id": sl_id,
            },
        )
    else:
        cost_center_id = f"CC-{parent}"
    system.add(
        "Location",
        {
            "location_id": location_id,
            "kind": kind,
            "site_id": site.site_id,
            "parent_id": parent,
            "display_name": name,
            "cost_center_id": cost_center_id,
            "inventory_location_id": inventory,
        },
    )


def _add_site(system: HealthSystem, site: Site, rng: random.Random, npis: Any) -> None:
    sid, label = site.site_id, f"Hospital {site.number:02d}"
    _location(system, sid, "SITE", site, None, label, "SL-ADMN")
    depts = [
        (code, sl, f"{label} {ref.SERVICE_LINES[sl]} Clinic") for code, sl in ref.CLINICS.items()
    ]
    depts += [
        (ref.ED_DEPT, "SL-EMER", f"{label} Emergency Department"),
        (ref.OR_DEPT, "SL-PERI", f"{label} Surgical Suite"),
    ]
    for code, sl, name in depts:
        dept_id = f"{sid}-{code}"
        inventory = f"{sid}-INV-OR" if code == ref.OR_DEPT else None
        _location(system, dept_id, "DEPARTMENT", site, sid, name, sl, inventory)
        site.departments[code] = dept_id
    for i in range(1, max(4, round(10 * site.size)) + 1):
        room = f"{sid}-OR{i:02d}"
        _location(
            system,
            room,
            "ROOM",
            site,
            site.departments[ref.OR_DEPT],
            f"{label} OR {i}",
            "SL-PERI",
            f"{sid}-INV-OR",
        )
        site.rooms.append(room)
    site.facility_provider_id = f"P-{sid}-FAC"
    _provider(
        system,
        site,
        site.facility_provider_id,
        2,
        next(npis),
        f"{label} billing entity",
        "FACILITY",
        f"CC-{sid}",
    )
    seq = 0
    staffing = [(code, ref.SERVICE_LINES[sl], 4) for code, sl in ref.CLINICS.items()]
    staffing += [(ref.ED_DEPT, "Emergency Medicine", 8)]
    for code, specialty, base in staffing:
        for _ in range(max(2, round(base * site.size * rng.uniform(0.8, 1.2)))):
            seq += 1
            pid = f"P-{sid}-{seq:04d}"
            _provider(
                system,
                site,
                pid,
                1,
                next(npis),
                f"{specialty} provider {sid}-{seq:04d}",
                specialty,
                f"CC-{site.departments[code]}",
            )
            site.providers.setdefault(code, []).append(pid)
            if code != ref.ED_DEPT and ref.CLINICS[code] in ref.SURGERY:
                site.providers.setdefault(ref.CLINICS[code], []).append(pid)  # also operates


def _provider(
    system: HealthSystem,
    site: Site,
    pid: str,
    entity: int,
    number: int,
    name: str,
    specialty: str,
    cost_center_id: str,
) -> None:
    npi = npi_from_number(number, entity)
    system.npi[pid] = npi
    system.add(
        "Provider",
        {
            "provider_id": pid,
            "npi": npi,
            "display_name": name,
            "specialty": specialty,
            "site_id": site.site_id,
            "cost_center_id": cost_center_id,
        },
    )


def all_procedures() -> dict[str, ref.Procedure]:
    procs: dict[str, ref.Procedure] = {}
    for group in (ref.CLINIC_EM, ref.ED_EM, *ref.ANCILLARY.values(), *ref.SURGERY.values()):
        for proc in group:
            procs.setdefault(proc.code, proc)
    return procs


def _add_contract_rates(system: HealthSystem) -> None:
    start = system.params.start_date
    current, previous = date(start.year, 1, 1), date(start.year - 2, 1, 1)
    for payer in ref.PAYERS:
        factor = Decimal(payer.rate_factor)
        for code, proc in sorted(all_procedures().items()):
            amount = (proc.charge * factor).quantize(CENT)
            system.rates[(payer.payer_id, code)] = amount
            if (
                payer.financial_class == "COMMERCIAL"
            ):  # a superseded rate, to exercise effective dates
                system.add(
                    "ContractRate",
                    {
                        "rate_id": f"CR-{payer.payer_id}-{code}-{previous.year}",
                        "payer_id": payer.payer_id,
                        "procedure_code": code,
                        "expected_amount": (amount * Decimal("0.95")).quantize(CENT),
                        "effective_from": previous,
                    },
                )
            system.add(
                "ContractRate",
                {
                    "rate_id": f"CR-{payer.payer_id}-{code}-{current.year}",
                    "payer_id": payer.payer_id,
                    "procedure_code": code,
                    "expected_amount": amount,
                    "effective_from": current,
                },
            )


def _card(card_id: str, proc: ref.Procedure, surgeon_id: str | None, extra_gloves: int) -> Record:
    kit = dict(ref.COMMON_KIT)
    kit["SUP-GLOVE-STERILE"] += extra_gloves
    for item, qty in proc.kit:
        kit[item] = kit.get(item, 0) + qty
    items = [
        {
            "item_id": item,
            "quantity": qty,
            "unit_cost": ref.SUPPLY_COSTS[item],
            "extended_cost": (ref.SUPPLY_COSTS[item] * qty).quantize(CENT),
        }
        for item, qty in kit.items()
    ]
    hours = Decimal(proc.minutes) / 60
    labor = [
        {"role": role, "hours": (hours + Decimal(extra)).quantize(CENT)}
        for role, extra in ref.LABOR_ROLES
    ]
    return {
        "preference_card_id": card_id,
        "procedure_code": proc.code,
        "surgeon_id": surgeon_id,
        "items": items,
        "labor": labor,
    }


def _add_preference_cards(system: HealthSystem) -> None:
    for sl_id, procs in ref.SURGERY.items():
        for proc in procs:
            card = _card(f"PC-{proc.code}", proc, None, 0)
            system.cards[card["preference_card_id"]] = card
            system.add("PreferenceCard", card)
        for site in system.sites:
            rng = random.Random(f"{system.params.seed}:cards:{site.site_id}:{sl_id}")
            for surgeon in site.providers.get(sl_id, []):
                for proc in procs:
                    if rng.random() < 0.5:  # about half the surgeons keep their own card
                        card = _card(
                            f"PC-{proc.code}-{surgeon}", proc, surgeon, rng.choice((-2, 2, 4))
                        )
                        system.cards[card["preference_card_id"]] = card
                        system.surgeon_cards[(surgeon, proc.code)] = card["preference_card_id"]
                        system.add("PreferenceCard", card)


def _add_gl_accounts(system: HealthSystem) -> None:
    def row(
        map_id: str, purpose: str, site_id: str | None, group: str | None, account: str
    ) -> None:
        system.add(
            "GlAccountMap",
            {
                "map_id": map_id,
                "purpose": purpose,
                "site_id": site_id,
                "carc_group": group,
                "gl_account": account,
            },
        )

    for purpose, account in ref.GL_ACCOUNTS.items():
        row(f"GL-{purpose}", purpose, None, None, account)
    for (purpose, group), account in ref.GL_BY_GROUP.items():
        row(f"GL-{purpose}-{group}", purpose, None, group, account)
    for site in system.sites:
        if site.number % 3 != 1:  # every third site keeps its own ledger segment
            continue
        sid = site.site_id
        for purpose in ("GROSS_PATIENT_REVENUE", "CASH_CLEARING", "SUPPLY_INVENTORY"):
            row(f"GL-{purpose}-{sid}", purpose, sid, None, f"{ref.GL_ACCOUNTS[purpose]}-{sid}")
        row(
            f"GL-DENIAL_RESERVE-{sid}-CO",
            "DENIAL_RESERVE",
            sid,
            "CO",
            f"{ref.GL_BY_GROUP[('DENIAL_RESERVE', 'CO')]}-{sid}",
        )
