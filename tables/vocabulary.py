"""The enums of the schema catalogue (`schemas/README.md`), mirrored one-to-one as Python enums.

Members carry the Avro symbol as their value so `to_native` writes exactly what the `.avsc` enum
declares. `ProcessStage` is the single list of stages a schedule-to-cash instance goes through.
"""

from __future__ import annotations

from enum import Enum


class ProcessStage(str, Enum):
    SCHEDULED = "SCHEDULED"
    AUTHORIZED = "AUTHORIZED"
    IN_ENCOUNTER = "IN_ENCOUNTER"
    DISCHARGED = "DISCHARGED"
    CHARGED = "CHARGED"
    CLAIM_SUBMITTED = "CLAIM_SUBMITTED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    DENIED = "DENIED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class CasGroup(str, Enum):
    CO = "CO"  # contractual obligation
    PR = "PR"  # patient responsibility
    OA = "OA"  # other adjustment
    PI = "PI"  # payer initiated
    CR = "CR"  # correction / reversal


class FinancialClass(str, Enum):
    COMMERCIAL = "COMMERCIAL"
    MEDICARE = "MEDICARE"
    MEDICAID = "MEDICAID"
    SELF_PAY = "SELF_PAY"
    WORKERS_COMP = "WORKERS_COMP"
    OTHER = "OTHER"


class LocationKind(str, Enum):
    SITE = "SITE"
    DEPARTMENT = "DEPARTMENT"
    ROOM = "ROOM"


class GlPurpose(str, Enum):
    PATIENT_AR = "PATIENT_AR"
    GROSS_PATIENT_REVENUE = "GROSS_PATIENT_REVENUE"
    CASH_CLEARING = "CASH_CLEARING"
    CONTRACTUAL_ALLOWANCE = "CONTRACTUAL_ALLOWANCE"
    DENIAL_RESERVE = "DENIAL_RESERVE"
    PATIENT_RESPONSIBILITY = "PATIENT_RESPONSIBILITY"
    BAD_DEBT_WRITE_OFF = "BAD_DEBT_WRITE_OFF"
    SUPPLY_INVENTORY = "SUPPLY_INVENTORY"
    SUPPLY_EXPENSE = "SUPPLY_EXPENSE"
    LABOR_EXPENSE = "LABOR_EXPENSE"
    EXPECTED_REVENUE = "EXPECTED_REVENUE"
    EXPECTED_REVENUE_OFFSET = "EXPECTED_REVENUE_OFFSET"


class JournalKind(str, Enum):
    CHARGE = "CHARGE"
    CHARGE_REVERSAL = "CHARGE_REVERSAL"
    PAYMENT = "PAYMENT"
    PAYMENT_REVERSAL = "PAYMENT_REVERSAL"
    CONTRACTUAL_ADJUSTMENT = "CONTRACTUAL_ADJUSTMENT"
    PATIENT_RESPONSIBILITY = "PATIENT_RESPONSIBILITY"
    OTHER_ADJUSTMENT = "OTHER_ADJUSTMENT"
    DENIAL = "DENIAL"


class SlaKind(str, Enum):
    AUTH_MISSING_48H_BEFORE_SURGERY = "AUTH_MISSING_48H_BEFORE_SURGERY"
    CHARGE_LAG_3D = "CHARGE_LAG_3D"
    CLAIM_NOT_SUBMITTED_7D = "CLAIM_NOT_SUBMITTED_7D"
    NO_REMITTANCE_30D = "NO_REMITTANCE_30D"


class ExceptionKind(str, Enum):
    UNLINKED_EVENT = "UNLINKED_EVENT"
    UNKNOWN_MASTER_DATA = "UNKNOWN_MASTER_DATA"
    DENIAL = "DENIAL"
    CLAIM_REJECTED = "CLAIM_REJECTED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    AUTHORIZATION_DENIED = "AUTHORIZATION_DENIED"
    TIE_OUT = "TIE_OUT"
    ERP_REJECTED = "ERP_REJECTED"  # the ERP refused a command (s2c.tables.erp_status)
    ERP_UNSYNCHRONIZED = "ERP_UNSYNCHRONIZED"  # no ERP acknowledgement within the ack wait


class CrosswalkKind(str, Enum):
    """What a source code in a `Crosswalk` names, hence the master record it maps to."""

    PAYER = "PAYER"  # payer id as a source sends it (X12 835 N1*PR, 837 NM1*PR): Payer
    PLAN = "PLAN"  # health plan id (FHIR Coverage, 270/271): Payer
    LOCATION = "LOCATION"  # site, department or room code (HL7 PV1-3, AIL): Location
    PROVIDER = "PROVIDER"  # provider or surgeon code (HL7 XCN, AIP/AIG): Provider
    SERVICE_LINE = "SERVICE_LINE"  # service line code: ServiceLine
