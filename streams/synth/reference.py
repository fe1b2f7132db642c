"""Static reference data of the synthetic health system: service lines, procedures, supplies, payers.

Procedure codes are real CPT/HCPCS codes so the data reads like a real feed; the gross charges
(chargemaster list prices), planned minutes and supply unit costs are illustrative round figures,
not any hospital's prices. Payer names are generic on purpose ("Commercial Plan A"): no brand.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    service_line_id: str
    charge: Decimal  # chargemaster price per unit
    minutes: int = 0  # planned OR minutes (surgical procedures only)
    kit: tuple[tuple[str, int], ...] = ()  # procedure-specific supplies (item, quantity)


@dataclass(frozen=True, slots=True)
class PayerSpec:
    payer_id: str
    display_name: str
    financial_class: str
    mix: float  # share of episodes
    rate_factor: str  # contract rate as a share of gross charge
    needs_auth: bool  # asks for prior authorization of elective surgery


SERVICE_LINES: dict[str, str] = {
    "SL-PRIM": "Primary Care",
    "SL-CARD": "Cardiology",
    "SL-ORTH": "Orthopedics",
    "SL-GSUR": "General Surgery",
    "SL-GI": "Gastroenterology",
    "SL-OBGY": "Obstetrics & Gynecology",
    "SL-OPHT": "Ophthalmology",
    "SL-URO": "Urology",
    "SL-EMER": "Emergency Medicine",
    "SL-PERI": "Perioperative Services",
    "SL-ADMN": "Administration",
}

# Clinic departments (code -> service line); every site has all of them plus ED and the OR suite.
CLINICS: dict[str, str] = {
    "PRIM": "SL-PRIM",
    "CARD": "SL-CARD",
    "ORTH": "SL-ORTH",
    "GSUR": "SL-GSUR",
    "GI": "SL-GI",
    "OBGY": "SL-OBGY",
    "OPHT": "SL-OPHT",
    "URO": "SL-URO",
}
CLINIC_WEIGHTS: dict[str, int] = {
    "PRIM": 34,
    "CARD": 10,
    "ORTH": 14,
    "GSUR": 6,
    "GI": 8,
    "OBGY": 12,
    "OPHT": 9,
    "URO": 7,
}
ED_DEPT = "ED"
OR_DEPT = "ORSU"


def _p(code: str, sl: str, charge: str, minutes: int = 0, kit: tuple = ()) -> Procedure:
    return Procedure(code, sl, Decimal(charge), minutes, kit)


# Evaluation and management visits (new: 99203/99204, established: 99213-99215; ED: 99283-99285).
CLINIC_EM = (
    _p("99203", "SL-PRIM", "210.00"),
    _p("99204", "SL-PRIM", "320.00"),
    _p("99213", "SL-PRIM", "165.00"),
    _p("99214", "SL-PRIM", "245.00"),
    _p("99215", "SL-PRIM", "330.00"),
)
CLINIC_EM_WEIGHTS = (8, 6, 40, 36, 10)
ED_EM = (
    _p("99283", "SL-EMER", "680.00"),
    _p("99284", "SL-EMER", "1150.00"),
    _p("99285", "SL-EMER", "1900.00"),
)
ED_EM_WEIGHTS = (30, 45, 25)

ANCILLARY: dict[str, tuple[Procedure, ...]] = {
    "PRIM": (
        _p("36415", "SL-PRIM", "25.00"),
        _p("80053", "SL-PRIM", "95.00"),
        _p("85025", "SL-PRIM", "60.00"),
        _p("81002", "SL-PRIM", "22.00"),
    ),
    "CARD": (_p("93000", "SL-CARD", "120.00"), _p("93306", "SL-CARD", "1450.00")),
    "ORTH": (_p("73562", "SL-ORTH", "240.00"), _p("20610", "SL-ORTH", "310.00")),
    "GSUR": (_p("36415", "SL-GSUR", "25.00"),),
    "GI": (_p("36415", "SL-GI", "25.00"), _p("80053", "SL-GI", "95.00")),
    "OBGY": (_p("88175", "SL-OBGY", "110.00"), _p("81025", "SL-OBGY", "35.00")),
    "OPHT": (_p("92134", "SL-OPHT", "180.00"),),
    "URO": (_p("81002", "SL-URO", "22.00"), _p("51798", "SL-URO", "90.00")),
    "ED": (
        _p("36415", "SL-EMER", "25.00"),
        _p("80053", "SL-EMER", "95.00"),
        _p("85025", "SL-EMER", "60.00"),
        _p("71046", "SL-EMER", "390.00"),
        _p("70450", "SL-EMER", "2100.00"),
        _p("93000", "SL-EMER", "120.00"),
    ),
    "ORSU": (_p("36415", "SL-PERI", "25.00"), _p("85025", "SL-PERI", "60.00")),
}

# Surgical procedures by service line; the kit is added to the common OR kit on the preference card.
SURGERY: dict[str, tuple[Procedure, ...]] = {
    "SL-ORTH": (
        _p("27447", "SL-ORTH", "52000.00", 120, (("SUP-IMPLANT-KNEE", 1), ("SUP-CEMENT-BONE", 2))),
        _p("27130", "SL-ORTH", "55000.00", 120, (("SUP-IMPLANT-HIP", 1), ("SUP-CEMENT-BONE", 1))),
        _p("29881", "SL-ORTH", "12000.00", 60, (("SUP-SHAVER-BLADE", 1),)),
        _p("29827", "SL-ORTH", "18000.00", 90, (("SUP-ANCHOR-SUTURE", 2), ("SUP-SHAVER-BLADE", 1))),
    ),
    "SL-GSUR": (
        _p(
            "47562",
            "SL-GSUR",
            "22000.00",
            75,
            (("SUP-TROCAR-5MM", 3), ("SUP-TROCAR-12MM", 1), ("SUP-CLIP-APPLIER", 1)),
        ),
        _p("49505", "SL-GSUR", "11000.00", 60, (("SUP-MESH-HERNIA", 1),)),
        _p("44970", "SL-GSUR", "20000.00", 60, (("SUP-TROCAR-5MM", 2), ("SUP-TROCAR-12MM", 1))),
    ),
    "SL-GI": (
        _p("45378", "SL-GI", "3200.00", 30, (("SUP-SCOPE-KIT", 1),)),
        _p("45385", "SL-GI", "4100.00", 40, (("SUP-SCOPE-KIT", 1), ("SUP-SNARE-POLYP", 1))),
        _p("43239", "SL-GI", "2900.00", 25, (("SUP-SCOPE-KIT", 1), ("SUP-BIOPSY-FORCEPS", 1))),
    ),
    "SL-OBGY": (
        _p(
            "58571",
            "SL-OBGY",
            "28000.00",
            120,
            (("SUP-UTERINE-MANIP", 1), ("SUP-VESSEL-SEALER", 1)),
        ),
        _p("58558", "SL-OBGY", "7500.00", 40, (("SUP-SCOPE-KIT", 1),)),
    ),
    "SL-URO": (
        _p("52000", "SL-URO", "2400.00", 20, (("SUP-SCOPE-KIT", 1), ("SUP-FOLEY-KIT", 1))),
        _p("52601", "SL-URO", "16000.00", 75, (("SUP-TURP-LOOP", 2), ("SUP-FOLEY-KIT", 1))),
    ),
    "SL-OPHT": (_p("66984", "SL-OPHT", "6800.00", 25, (("SUP-IOL-LENS", 1),)),),
    "SL-CARD": (
        _p(
            "92928",
            "SL-CARD",
            "38000.00",
            90,
            (("SUP-STENT-DES", 1), ("SUP-GUIDEWIRE", 2), ("SUP-BALLOON-CATH", 1)),
        ),
    ),
}
SURGERY_WEIGHTS: dict[str, int] = {
    "SL-ORTH": 26,
    "SL-GSUR": 18,
    "SL-GI": 24,
    "SL-OBGY": 10,
    "SL-URO": 8,
    "SL-OPHT": 9,
    "SL-CARD": 5,
}

COMMON_KIT: tuple[tuple[str, int], ...] = (
    ("SUP-DRAPE-PACK", 1),
    ("SUP-GOWN-STERILE", 4),
    ("SUP-GLOVE-STERILE", 8),
    ("SUP-SUTURE-ABS", 3),
    ("SUP-IV-START-KIT", 1),
    ("SUP-ECG-ELECTRODES", 5),
)

SUPPLY_COSTS: dict[str, Decimal] = {
    k: Decimal(v)
    for k, v in {
        "SUP-DRAPE-PACK": "85.00",
        "SUP-GOWN-STERILE": "6.50",
        "SUP-GLOVE-STERILE": "2.10",
        "SUP-SUTURE-ABS": "12.40",
        "SUP-IV-START-KIT": "7.80",
        "SUP-ECG-ELECTRODES": "3.20",
        "SUP-TROCAR-5MM": "140.00",
        "SUP-TROCAR-12MM": "185.00",
        "SUP-CLIP-APPLIER": "260.00",
        "SUP-MESH-HERNIA": "420.00",
        "SUP-IMPLANT-KNEE": "4800.00",
        "SUP-IMPLANT-HIP": "5200.00",
        "SUP-CEMENT-BONE": "310.00",
        "SUP-SHAVER-BLADE": "190.00",
        "SUP-ANCHOR-SUTURE": "650.00",
        "SUP-IOL-LENS": "180.00",
        "SUP-SNARE-POLYP": "45.00",
        "SUP-BIOPSY-FORCEPS": "38.00",
        "SUP-SCOPE-KIT": "22.00",
        "SUP-STENT-DES": "1900.00",
        "SUP-GUIDEWIRE": "95.00",
        "SUP-BALLOON-CATH": "420.00",
        "SUP-TURP-LOOP": "160.00",
        "SUP-UTERINE-MANIP": "210.00",
        "SUP-VESSEL-SEALER": "690.00",
        "SUP-FOLEY-KIT": "18.00",
    }.items()
}

# Staff on a case: (role, extra hours beyond the case's planned time).
LABOR_ROLES: tuple[tuple[str, str], ...] = (
    ("SURGEON", "0.25"),
    ("ANESTHESIA", "0.50"),
    ("CIRCULATOR", "0.75"),
    ("SCRUB", "0.50"),
    ("PACU_RN", "1.50"),
)

PAYERS: tuple[PayerSpec, ...] = (
    PayerSpec("PAY-MCR", "Medicare Part A/B", "MEDICARE", 0.25, "0.28", False),
    PayerSpec("PAY-MCA", "Medicare Advantage Plan", "MEDICARE", 0.15, "0.31", True),
    PayerSpec("PAY-MCD", "State Medicaid", "MEDICAID", 0.10, "0.23", True),
    PayerSpec("PAY-MCO", "Medicaid Managed Care Plan", "MEDICAID", 0.08, "0.26", True),
    PayerSpec("PAY-COMA", "Commercial Plan A", "COMMERCIAL", 0.10, "0.52", True),
    PayerSpec("PAY-COMB", "Commercial Plan B", "COMMERCIAL", 0.09, "0.47", True),
    PayerSpec("PAY-COMC", "Commercial Plan C", "COMMERCIAL", 0.07, "0.58", True),
    PayerSpec("PAY-COMD", "Commercial Plan D", "COMMERCIAL", 0.04, "0.63", True),
    PayerSpec("PAY-WC", "Workers Compensation Carrier", "WORKERS_COMP", 0.02, "0.70", True),
    PayerSpec("PAY-OTH", "Other Government Program", "OTHER", 0.03, "0.33", True),
    PayerSpec("PAY-SELF", "Self-pay", "SELF_PAY", 0.07, "0.40", False),
)

# Denial reasons: (group, CARC, RARC or None, weight for clinic/ED claims, weight for surgery).
DENIALS: tuple[tuple[str, str, str | None, int, int], ...] = (
    ("CO", "197", "M62", 6, 30),  # precertification/authorization absent
    ("CO", "50", None, 14, 14),  # not deemed a medical necessity
    ("CO", "16", "MA130", 26, 16),  # claim lacks information needed for adjudication
    ("CO", "29", None, 5, 3),  # time limit for filing expired
    ("CO", "18", None, 8, 4),  # exact duplicate claim/service
    ("CO", "96", "N130", 10, 8),  # non-covered charge
    ("PR", "1", None, 15, 15),  # deductible: allowed amount is the patient's
    ("PR", "204", None, 8, 4),  # not covered under the patient's current benefit plan
    ("OA", "23", None, 8, 6),  # impact of prior payer adjudication
)
LINE_DENIAL = ("CO", "97", None)  # benefit included in another service (bundling)

CANCEL_REASONS = ("PATIENT_REQUEST", "PROVIDER_UNAVAILABLE", "INSURANCE_ISSUE", "CLINICAL_CHANGE")
CASE_CANCEL_REASONS = ("PATIENT_REQUEST", "MEDICALLY_UNFIT", "SURGEON_UNAVAILABLE", "EQUIPMENT")

# GL accounts by purpose (system-wide rows); site overrides append "-<site>".
GL_ACCOUNTS: dict[str, str] = {
    "PATIENT_AR": "1210",
    "GROSS_PATIENT_REVENUE": "4000",
    "CASH_CLEARING": "1015",
    "CONTRACTUAL_ALLOWANCE": "4810",
    "DENIAL_RESERVE": "1290",
    "PATIENT_RESPONSIBILITY": "1220",
    "BAD_DEBT_WRITE_OFF": "4850",
    "SUPPLY_INVENTORY": "1400",
    "SUPPLY_EXPENSE": "6300",
    "LABOR_EXPENSE": "6100",
    "EXPECTED_REVENUE": "1280",
    "EXPECTED_REVENUE_OFFSET": "4090",
}
# CAS-group-specific rows: denial reserve and write-off accounts differ by who bears the loss.
GL_BY_GROUP: dict[tuple[str, str], str] = {
    ("DENIAL_RESERVE", "CO"): "1291",
    ("DENIAL_RESERVE", "PR"): "1292",
    ("DENIAL_RESERVE", "OA"): "1293",
    ("DENIAL_RESERVE", "PI"): "1294",
    ("BAD_DEBT_WRITE_OFF", "PR"): "4851",
    ("BAD_DEBT_WRITE_OFF", "CO"): "4852",
}
