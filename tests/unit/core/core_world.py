"""A small health system for the core's tests: two sites, two payers, a knee arthroscopy card.

Riverside Medical Center (RIVERSIDE) runs an orthopaedic clinic and a surgery department with
OR 3 and OR 5; Lakeside Surgery Center (LAKESIDE) has OR 1 and its own stock room. Aetna
Commercial and Medicare pay for CPT 29881 (knee arthroscopy, meniscectomy) and 99213 (office
visit). `Feed` builds canonical events with envelopes the way producers send them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from s2c.tables.codec import dumps, to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.ids import IdKey
from s2c.tables.master import DictMasterData, master_record

# The key of the account pseudonyms in link keys and walk-in process ids: a fixed test key, so
# ids are stable across runs.
IDS = IdKey(b"core-test-id-key-not-a-secret")

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning

MASTER_RECORDS: dict[str, list[dict[str, Any]]] = {
    "Provider": [
        {
            "provider_id": "DR-OKAFOR",
            "npi": "1234567893",
            "display_name": "Dr. Okafor",
            "specialty": "Orthopaedic surgery",
            "site_id": "RIVERSIDE",
            "cost_center_id": "CC-RIV-OR",
        },
    ],
    "ServiceLine": [{"service_line_id": "ORTHO", "display_name": "Orthopaedics"}],
    "CostCenter": [
        {
            "cost_center_id": cc,
            "display_name": name,
            "site_id": site,
            "service_line_id": "ORTHO",
        }
        for cc, name, site in (
            ("CC-RIV-ADMIN", "Riverside administration", "RIVERSIDE"),
            ("CC-RIV-ORTHO", "Riverside orthopaedic clinic", "RIVERSIDE"),
            ("CC-RIV-OR", "Riverside surgical services", "RIVERSIDE"),
            ("CC-RIV-ED", "Riverside emergency department", "RIVERSIDE"),
            ("CC-LAK-ADMIN", "Lakeside administration", "LAKESIDE"),
            ("CC-LAK-OR", "Lakeside operating rooms", "LAKESIDE"),
        )
    ],
    "Payer": [
        {
            "payer_id": "AETNA-COMM",
            "display_name": "Aetna Commercial",
            "financial_class": "COMMERCIAL",
        },
        {
            "payer_id": "MEDICARE-A",
            "display_name": "Medicare Part A",
            "financial_class": "MEDICARE",
        },
        {
            "payer_id": "LAKESHORE-MUTUAL",
            "display_name": "Lakeshore Mutual",
            "financial_class": "COMMERCIAL",
        },
    ],
    # Lakeshore Mutual's 835s (tests/messages/x12) name it by its payer id 734100 (N1*PR*XV)
    "Crosswalk": [
        {
            "crosswalk_id": "PAYER|x12:LAKESHOREMUTUAL|734100",
            "kind": "PAYER",
            "source_system": "x12:LAKESHOREMUTUAL",
            "source_code": "734100",
            "master_id": "LAKESHORE-MUTUAL",
        },
    ],
    "Location": [
        {
            "location_id": "RIVERSIDE",
            "kind": "SITE",
            "site_id": "RIVERSIDE",
            "parent_id": None,
            "display_name": "Riverside Medical Center",
            "cost_center_id": "CC-RIV-ADMIN",
            "inventory_location_id": "INV-RIV-CENTRAL",
        },
        {
            "location_id": "RIV-ORTHO-CLINIC",
            "kind": "DEPARTMENT",
            "site_id": "RIVERSIDE",
            "parent_id": "RIVERSIDE",
            "display_name": "Orthopaedic Clinic",
            "cost_center_id": "CC-RIV-ORTHO",
            "inventory_location_id": None,
        },
        {
            "location_id": "RIV-SURGERY",
            "kind": "DEPARTMENT",
            "site_id": "RIVERSIDE",
            "parent_id": "RIVERSIDE",
            "display_name": "Surgical Services",
            "cost_center_id": "CC-RIV-OR",
            "inventory_location_id": "INV-RIV-OR",
        },
        {
            "location_id": "RIV-OR-3",
            "kind": "ROOM",
            "site_id": "RIVERSIDE",
            "parent_id": "RIV-SURGERY",
            "display_name": "OR 3",
            "cost_center_id": "CC-RIV-OR",
            "inventory_location_id": None,
        },
        {
            "location_id": "RIV-OR-5",
            "kind": "ROOM",
            "site_id": "RIVERSIDE",
            "parent_id": "RIV-SURGERY",
            "display_name": "OR 5",
            "cost_center_id": "CC-RIV-OR",
            "inventory_location_id": None,
        },
        {
            "location_id": "RIV-ED",
            "kind": "DEPARTMENT",
            "site_id": "RIVERSIDE",
            "parent_id": "RIVERSIDE",
            "display_name": "Emergency",
            "cost_center_id": "CC-RIV-ED",
            "inventory_location_id": None,
        },
        {
            "location_id": "LAKESIDE",
            "kind": "SITE",
            "site_id": "LAKESIDE",
            "parent_id": None,
            "display_name": "Lakeside Surgery Center",
            "cost_center_id": "CC-LAK-ADMIN",
            "inventory_location_id": None,
        },
        {
            "location_id": "LAK-OR-1",
            "kind": "ROOM",
            "site_id": "LAKESIDE",
            "parent_id": "LAKESIDE",
            "display_name": "OR 1",
            "cost_center_id": "CC-LAK-OR",
            "inventory_location_id": "INV-LAK-OR",
        },
    ],
    "ContractRate": [
        {
            "rate_id": "R-AET-29881-2025",
            "payer_id": "AETNA-COMM",
            "procedure_code": "29881",
            "expected_amount": "3900.00",
            "effective_from": "2025-01-01",
        },
        {
            "rate_id": "R-AET-29881-2026",
            "payer_id": "AETNA-COMM",
            "procedure_code": "29881",
            "expected_amount": "4200.00",
            "effective_from": "2026-01-01",
        },
        {
            "rate_id": "R-MCR-29881",
            "payer_id": "MEDICARE-A",
            "procedure_code": "29881",
            "expected_amount": "2850.00",
            "effective_from": "2025-01-01",
        },
        {
            "rate_id": "R-AET-99213",
            "payer_id": "AETNA-COMM",
            "procedure_code": "99213",
            "expected_amount": "145.00",
            "effective_from": "2025-01-01",
        },
    ],
    "PreferenceCard": [
        {
            "preference_card_id": "PC-29881-OKAFOR",
            "procedure_code": "29881",
            "surgeon_id": "DR-OKAFOR",
            "items": [
                {
                    "item_id": "SHAVER-BLADE-4.5",
                    "quantity": 1,
                    "unit_cost": "185.00",
                    "extended_cost": "185.00",
                },
                {
                    "item_id": "SALINE-3L",
                    "quantity": 4,
                    "unit_cost": "12.50",
                    "extended_cost": "50.00",
                },
                {
                    "item_id": "DRAPE-KNEE",
                    "quantity": 1,
                    "unit_cost": "28.00",
                    "extended_cost": "28.00",
                },
            ],
            "labor": [
                {"role": "SURGEON", "hours": "1.50"},
                {"role": "ANESTHESIA", "hours": "1.75"},
                {"role": "CIRCULATOR", "hours": "2.00"},
                {"role": "SCRUB", "hours": "2.00"},
            ],
        },
    ],
    "GlAccountMap": [
        *(
            {
                "map_id": f"SYS-{p}",
                "purpose": p,
                "site_id": None,
                "carc_group": None,
                "gl_account": f"{n}",
            }
            for p, n in (
                ("PATIENT_AR", "1200"),
                ("GROSS_PATIENT_REVENUE", "4000"),
                ("CASH_CLEARING", "1010"),
                ("CONTRACTUAL_ALLOWANCE", "4800"),
                ("DENIAL_RESERVE", "4850"),
                ("PATIENT_RESPONSIBILITY", "1210"),
                ("BAD_DEBT_WRITE_OFF", "6900"),
                ("SUPPLY_INVENTORY", "1400"),
                ("SUPPLY_EXPENSE", "6100"),
                ("LABOR_EXPENSE", "6000"),
                ("EXPECTED_REVENUE", "1290"),
                ("EXPECTED_REVENUE_OFFSET", "4990"),
            )
        ),
        {
            "map_id": "RIV-AR",
            "purpose": "PATIENT_AR",
            "site_id": "RIVERSIDE",
            "carc_group": None,
            "gl_account": "1200-RIV",
        },
        {
            "map_id": "RIV-DENIAL-CO",
            "purpose": "DENIAL_RESERVE",
            "site_id": "RIVERSIDE",
            "carc_group": "CO",
            "gl_account": "4851-RIV-CO",
        },
    ],
}


# Regional General Hospital (RGH-MAIN), the hospital of the shipped visit messages (SIU-S12-booking,
# ADT-A04-registration, ...), and Lone Star Health Plan, their payer: kept apart from the world
# above so its tests see only Riverside and Lakeside.
REGIONAL_GENERAL_RECORDS: dict[str, list[dict[str, Any]]] = {
    "Location": [
        {
            "location_id": location_id,
            "kind": kind,
            "site_id": "RGH-MAIN",
            "parent_id": parent,
            "display_name": location_id,
            "cost_center_id": cost_center,
            "inventory_location_id": None,
        }
        for location_id, kind, parent, cost_center in (
            ("RGH-MAIN", "SITE", None, "CC-RGH-ADMIN"),
            ("MAINOR", "DEPARTMENT", "RGH-MAIN", "CC-RGH-OR"),
            ("SDS", "DEPARTMENT", "RGH-MAIN", "CC-RGH-SDS"),
            ("ANES", "DEPARTMENT", "RGH-MAIN", "CC-RGH-ANES"),
            ("CSR", "DEPARTMENT", "RGH-MAIN", "CC-RGH-CSR"),
        )
    ],
    # every record the messages name, as the core checks every reference an event carries
    "CostCenter": [
        {
            "cost_center_id": cost_center,
            "display_name": location_id,
            "site_id": "RGH-MAIN",
            "service_line_id": "SUR",
        }
        for location_id, cost_center in (
            ("RGH-MAIN", "CC-RGH-ADMIN"),
            ("MAINOR", "CC-RGH-OR"),
            ("SDS", "CC-RGH-SDS"),
            ("ANES", "CC-RGH-ANES"),
            ("CSR", "CC-RGH-CSR"),
        )
    ],
    # what the booking names besides places: its surgeon (AIP-3) and service line (PV1-10);
    # the hospital itself bills the 837I (NM1*85 NPI)
    "Provider": [
        {
            "provider_id": "40117",
            "npi": "1245319599",
            "display_name": "Surgeon 40117",
            "specialty": "General surgery",
            "site_id": "RGH-MAIN",
            "cost_center_id": "CC-RGH-OR",
        },
        {
            "provider_id": "RGH-HOSPITAL",
            "npi": "1999997777",
            "display_name": "Regional General Hospital",
            "specialty": "General acute care hospital",
            "site_id": "RGH-MAIN",
            "cost_center_id": "CC-RGH-ADMIN",
        },
    ],
    "ServiceLine": [{"service_line_id": "SUR", "display_name": "Surgery"}],
    "Payer": [
        {
            "payer_id": "LSHP01",
            "display_name": "Lone Star Health Plan",
            "financial_class": "COMMERCIAL",
        },
    ],
    "ContractRate": [
        {
            "rate_id": f"R-LSHP-{code}",
            "payer_id": "LSHP01",
            "procedure_code": code,
            "expected_amount": expected,
            "effective_from": "2026-01-01",
        }
        for code, expected in (("47562", "7100.00"), ("74300", "380.00"))  # AIS-3 of the booking
    ],
}


# Riverside General Hospital (`riverside`), the hospital of the shipped FHIR resources
# (tests/messages/fhir: its colonoscopies, booked, seen, charged, claimed and paid by Blue Bonnet
# Mutual of Texas, `bcbs-tx`). Its ids are the FHIR references' ids as the resources send them
# (`Location/riverside`, `Organization/endoscopy`, `Practitioner/dr-1210`); kept apart from the
# worlds above so their tests see only their own.
RIVERSIDE_GENERAL_RECORDS: dict[str, list[dict[str, Any]]] = {
    "Location": [
        {
            "location_id": location_id,
            "kind": kind,
            "site_id": "riverside",
            "parent_id": parent,
            "display_name": name,
            "cost_center_id": cost_center,
            "inventory_location_id": None,
        }
        for location_id, kind, parent, name, cost_center in (
            ("riverside", "SITE", None, "Riverside General Hospital", "CC-RVG-ADMIN"),
            ("endoscopy", "DEPARTMENT", "riverside", "Endoscopy suite", "CC-RVG-ENDO"),
            ("pathology", "DEPARTMENT", "riverside", "Anatomic pathology", "CC-RVG-PATH"),
        )
    ],
    "CostCenter": [
        {
            "cost_center_id": cost_center,
            "display_name": name,
            "site_id": "riverside",
            "service_line_id": "GASTRO",
        }
        for cost_center, name in (
            ("CC-RVG-ADMIN", "Riverside General administration"),
            ("CC-RVG-ENDO", "Riverside General endoscopy"),
            ("CC-RVG-PATH", "Riverside General pathology"),
        )
    ],
    "ServiceLine": [{"service_line_id": "GASTRO", "display_name": "Gastroenterology"}],
    # the booking's practitioner, and the group that bills its professional claims (the
    # Claim's provider identifier, an NPI)
    "Provider": [
        {
            "provider_id": "dr-1210",
            "npi": "1548213097",
            "display_name": "Dr. Raman",
            "specialty": "Gastroenterology",
            "site_id": "riverside",
            "cost_center_id": "CC-RVG-ENDO",
        },
        {
            "provider_id": "riverside-physicians",
            "npi": "1912301953",
            "display_name": "Riverside General Physicians Group",
            "specialty": "Multispecialty group",
            "site_id": "riverside",
            "cost_center_id": "CC-RVG-ADMIN",
        },
    ],
    "Payer": [
        {
            "payer_id": "bcbs-tx",
            "display_name": "Blue Bonnet Mutual of Texas",
            "financial_class": "COMMERCIAL",
        },
    ],
    # A FHIR Appointment names no coverage, so its booking accrues nothing; these are the
    # rates a booking that names Blue Bonnet would accrue.
    "ContractRate": [
        {
            "rate_id": f"R-BCBSTX-{code}",
            "payer_id": "bcbs-tx",
            "procedure_code": code,
            "expected_amount": expected,
            "effective_from": "2026-01-01",
        }
        for code, expected in (("45378", "1000.00"), ("88305", "130.00"))
    ],
    # Riverside General keeps its own patient A/R; the other purposes use the system's map
    "GlAccountMap": [
        {
            "map_id": "RVG-AR",
            "purpose": "PATIENT_AR",
            "site_id": "riverside",
            "carc_group": None,
            "gl_account": "1200-RVG",
        },
    ],
}


def master_data(without: tuple[str, ...] = ()) -> DictMasterData:
    """The world's master data; `without` drops records by id (e.g. "R-MCR-29881")."""
    store = DictMasterData()
    for name, rows in MASTER_RECORDS.items():
        for row in rows:
            if next(iter(row.values())) not in without:
                store.put(master_record(name, row))
    return store


def regional_general() -> DictMasterData:
    """The world's master data and Regional General Hospital's."""
    store = master_data()
    for name, rows in REGIONAL_GENERAL_RECORDS.items():
        for row in rows:
            store.put(master_record(name, row))
    return store


def riverside_general() -> DictMasterData:
    """The world's master data and Riverside General Hospital's (the FHIR resources')."""
    store = master_data()
    for name, rows in RIVERSIDE_GENERAL_RECORDS.items():
        for row in rows:
            store.put(master_record(name, row))
    return store


class Feed:
    """Builds events with unique ids and business times; `at` is hours after T0 unless given."""

    def __init__(self, prefix: str = "evt") -> None:
        self.prefix, self.count = prefix, 0

    def __call__(
        self, schema: str, hours: float, event_id: str | None = None, **fields: Any
    ) -> Event:
        self.count += 1
        at = T0 + timedelta(hours=hours)
        envelope = {
            "event_id": event_id or f"{self.prefix}-{self.count:04d}",
            "event_type": schema,
            "occurred_at": at,
            "source_system": "test-feed",
            "correlation_id": f"trace-{self.count}",
            "produced_at": at,
        }
        return event_from_record(schema, {"envelope": envelope, **fields})


def knee_case_scheduled(
    feed: Feed,
    hours: float = 0,
    case_id: str = "C-1001",
    account: str | None = "ACCT-7001",
    payer: str | None = "AETNA-COMM",
    room: str = "RIV-OR-3",
    start_days: float = 14,
) -> Event:
    return feed(
        "CaseScheduled",
        hours,
        case_id=case_id,
        patient_ref="pt-9f3a",
        account_number=account,
        site_id="RIVERSIDE",
        or_room_id=room,
        surgeon_id="DR-OKAFOR",
        service_line_id="ORTHO",
        payer_id=payer,
        procedure_codes=["29881"],
        preference_card_id="PC-29881-OKAFOR",
        scheduled_start=T0 + timedelta(days=start_days),
        planned_minutes=90,
    )


def to_jsonl(events: list[Event]) -> str:
    return "".join(dumps({"schema": e.schema, "event": to_native(e)}) + "\n" for e in events)


def money(text: str) -> Decimal:
    return Decimal(text)


DAY = 24.0
SURGERY_DAY = 14 * DAY  # knee_case_scheduled's default start


def encounter_started(
    feed: Feed,
    hours: float = SURGERY_DAY,
    account: str = "ACCT-7001",
    case_id: str | None = "C-1001",
    encounter_id: str = "ENC-1",
    department: str = "RIV-SURGERY",
    payer: str | None = "AETNA-COMM",
    **extra: Any,
) -> Event:
    return feed(
        "EncounterStarted",
        hours,
        encounter_id=encounter_id,
        account_number=account,
        patient_ref="pt-9f3a",
        appointment_id=None,
        case_id=case_id,
        site_id="RIVERSIDE",
        department_id=department,
        service_line_id="ORTHO",
        payer_id=payer,
        encounter_class="SURGERY" if case_id else "EMERGENCY",
        arrived_at=T0 + timedelta(hours=hours),
        **extra,
    )


def encounter_completed(
    feed: Feed,
    hours: float = SURGERY_DAY + 6,
    account: str = "ACCT-7001",
    encounter_id: str = "ENC-1",
) -> Event:
    return feed(
        "EncounterCompleted",
        hours,
        encounter_id=encounter_id,
        account_number=account,
        discharged_at=T0 + timedelta(hours=hours),
    )


def charge(
    feed: Feed,
    hours: float,
    charge_id: str = "CHG-1",
    amount: str = "6800.00",
    account: str = "ACCT-7001",
    code: str = "29881",
) -> Event:
    return feed(
        "ChargePosted",
        hours,
        charge_id=charge_id,
        account_number=account,
        procedure_code=code,
        units=1,
        amount=amount,
        service_date="2026-03-16",
        department_id="RIV-SURGERY",
    )


def claim(
    feed: Feed,
    hours: float,
    claim_id: str = "CLM-1",
    total: str = "6800.00",
    account: str = "ACCT-7001",
) -> Event:
    return feed(
        "ClaimSubmitted",
        hours,
        claim_id=claim_id,
        account_number=account,
        payer_id="AETNA-COMM",
        claim_type="INSTITUTIONAL",
        billing_npi="1234567893",
        total_charge=total,
        lines=[{"line_number": 1, "procedure_code": "29881", "units": 1, "charge": total}],
    )


def payment(
    feed: Feed,
    hours: float,
    amount: str,
    remittance_id: str = "ERA-1",
    claim_id: str | None = "CLM-1",
    account: str = "ACCT-7001",
) -> Event:
    return feed(
        "PaymentPosted",
        hours,
        remittance_id=remittance_id,
        account_number=account,
        claim_id=claim_id,
        payer_id="AETNA-COMM",
        paid_amount=amount,
        payment_trace=f"TRN-{remittance_id}",
        payment_date="2026-04-20",
    )


def adjustment(
    feed: Feed,
    hours: float,
    amount: str,
    group: str = "CO",
    carc: str = "45",
    adjustment_id: str = "ADJ-1",
    account: str = "ACCT-7001",
) -> Event:
    return feed(
        "AdjustmentPosted",
        hours,
        adjustment_id=adjustment_id,
        account_number=account,
        claim_id="CLM-1",
        payer_id="AETNA-COMM",
        group_code=group,
        carc=carc,
        rarc=None,
        amount=amount,
    )


def denial(
    feed: Feed,
    hours: float,
    amount: str,
    group: str = "CO",
    carc: str = "50",
    denial_id: str = "DEN-1",
    account: str = "ACCT-7001",
) -> Event:
    return feed(
        "DenialReceived",
        hours,
        denial_id=denial_id,
        account_number=account,
        claim_id="CLM-1",
        payer_id="AETNA-COMM",
        group_code=group,
        carc=carc,
        rarc="N115",
        denied_amount=amount,
    )


def knee_case_through_claim(feed: Feed) -> list[Event]:
    """Booked, authorized, operated, discharged, charged and billed."""
    return [
        knee_case_scheduled(feed),
        feed(
            "AuthorizationApproved",
            30,
            authorization_id="AUTH-1",
            appointment_id=None,
            case_id="C-1001",
            payer_id="AETNA-COMM",
            auth_number="A123",
        ),
        encounter_started(feed),
        encounter_completed(feed),
        charge(feed, SURGERY_DAY + 30),
        claim(feed, SURGERY_DAY + 2 * DAY),
    ]


def paid_knee_case(feed: Feed, n: int, paid: str, day: float = 0) -> list[Event]:
    """The `n`th knee arthroscopy for Aetna at Riverside, booked `day` days after T0, billed
    6,800 and paid `paid` against the contract's 4,200: its own case, account, claim and
    remittance ids, so several can share one stream."""
    case, account, claim_id = f"C-{3000 + n}", f"ACCT-{8000 + n}", f"CLM-{3000 + n}"
    start = day * DAY
    surgery = start + SURGERY_DAY
    return [
        knee_case_scheduled(feed, hours=start, case_id=case, account=account, start_days=14 + day),
        feed(
            "AuthorizationApproved",
            start + 30,
            authorization_id=f"AUTH-{3000 + n}",
            appointment_id=None,
            case_id=case,
            payer_id="AETNA-COMM",
            auth_number=f"A{3000 + n}",
        ),
        encounter_started(feed, surgery, account, case, encounter_id=f"ENC-{3000 + n}"),
        encounter_completed(feed, surgery + 6, account, encounter_id=f"ENC-{3000 + n}"),
        charge(feed, surgery + 30, charge_id=f"CHG-{3000 + n}", account=account),
        claim(feed, surgery + 2 * DAY, claim_id=claim_id, account=account),
        payment(feed, surgery + 20 * DAY, paid, f"ERA-{3000 + n}", claim_id, account),
    ]
