"""Revenue-cycle events (`s2c.events`): charges (DFT P03), claims (837, 277CA), remittances (835).

All of them carry the `account_number` (837 CLM01, echoed in 835 CLP01) and none carries an
appointment or case id, so they reach their process instance only through the account link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from s2c.tables.events import Event, register
from s2c.tables.vocabulary import CasGroup


@dataclass(frozen=True, slots=True)
class ChargePosted(Event):
    charge_id: str
    account_number: str
    procedure_code: str
    units: int
    amount: Decimal
    service_date: date
    department_id: str


@dataclass(frozen=True, slots=True)
class ChargeReversed(Event):
    charge_id: str
    account_number: str
    reverses_charge_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ClaimLine:
    line_number: int
    procedure_code: str
    units: int
    charge: Decimal


@dataclass(frozen=True, slots=True)
class ClaimSubmitted(Event):
    claim_id: str
    account_number: str
    payer_id: str
    claim_type: str
    billing_npi: str
    total_charge: Decimal
    lines: tuple[ClaimLine, ...]


@dataclass(frozen=True, slots=True)
class ClaimAcknowledged(Event):
    claim_id: str
    account_number: str
    status_category: str
    payer_claim_control_number: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimRejected(Event):
    claim_id: str
    account_number: str
    status_category: str
    status_code: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ClaimVoided(Event):
    claim_id: str
    account_number: str


@dataclass(frozen=True, slots=True)
class PaymentPosted(Event):
    remittance_id: str
    account_number: str
    claim_id: str | None
    payer_id: str
    paid_amount: Decimal
    payment_trace: str
    payment_date: date


@dataclass(frozen=True, slots=True)
class AdjustmentPosted(Event):
    adjustment_id: str
    account_number: str
    claim_id: str | None
    payer_id: str
    group_code: CasGroup
    carc: str
    rarc: str | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DenialReceived(Event):
    denial_id: str
    account_number: str
    claim_id: str | None
    payer_id: str
    group_code: CasGroup
    carc: str
    rarc: str | None
    denied_amount: Decimal
    procedure_code: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentReversed(Event):
    reversal_id: str
    account_number: str
    claim_id: str | None
    payer_id: str
    reverses_remittance_id: str
    amount: Decimal


REMITTANCES = (PaymentPosted, AdjustmentPosted, DenialReceived, PaymentReversed)
CLAIM_STATUS = (ClaimAcknowledged, ClaimRejected, ClaimVoided)

register(
    ChargePosted,
    ChargeReversed,
    ClaimSubmitted,
    ClaimAcknowledged,
    ClaimRejected,
    ClaimVoided,
    PaymentPosted,
    AdjustmentPosted,
    DenialReceived,
    PaymentReversed,
)
