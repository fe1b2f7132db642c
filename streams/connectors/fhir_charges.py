"""FHIR R4 ChargeItem to ChargePosted / ChargeReversed, the FHIR peer of a DFT's FT1.

A `billable` ChargeItem posts a charge; the same ChargeItem set to `entered-in-error` takes it
back in full. Every other status (planned, not-billable, aborted, billed, unknown) is rejected
by name: none of them is a charge the ledger should gain or lose.

- charge id: the first identifier, else the logical id (FT1-2 in the FHIR mapping). The two
  versions of one ChargeItem must carry the same, so the reversal names the charge it undoes.
- account: `account[0]`, the patient account (the Encounter's), by reference id or identifier.
- procedure code: the CPT or HCPCS coding of `code`, else its first coding (FT1-25, else FT1-7).
- units: `quantity` in whole units (1 when absent); amount: `priceOverride`, the total price of
  the charge (FT1-11). We keep no price list, so without it there is no amount to post: it is
  required, in USD, in whole cents (never rounded) and not negative.
- service date: `occurrenceDateTime`, else `occurrencePeriod.start`, as the date written (the
  local day of service, not shifted to UTC); a bare year or month is not a day of service.
- department: `performingOrganization`, the organization providing the charged service, which
  names the revenue department by its Location master id (FT1-13). `costCenter` is not used:
  it names who owns the revenue, and the core finds the cost center from the department.
- business time: `enteredDate` (the posting, FT1-5) for a charge; for a reversal the version's
  `meta.lastUpdated` (when it was marked in error), else `enteredDate`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from s2c.streams.connectors.events import (
    Event,
    MappingError,
    PatientRefs,
    Source,
    as_utc,
    event,
    money,
    whole_units,
)
from s2c.streams.connectors.fhir import ref_id, required, status_of

# Code systems that carry a billable procedure code, preferred over a chargemaster code
PROCEDURE_SYSTEMS = (
    "http://www.ama-assn.org/go/cpt",
    "urn:oid:2.16.840.1.113883.6.12",  # CPT
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "urn:oid:2.16.840.1.113883.6.285",  # HCPCS
)
WHERE = "ChargeItem"


def charge_item(res: Any, src: Source, refs: PatientRefs, now: datetime) -> list[Event]:
    status = status_of(res, ("billable", "entered-in-error"))
    charge = _charge_id(res)
    account = _account(res)
    amount = _amount(res)
    if status == "entered-in-error":
        meta = res.meta
        when = (meta.lastUpdated if meta and meta.lastUpdated else None) or required(
            res.enteredDate, f"{WHERE}.meta.lastUpdated"
        )
        return [
            event(
                src,
                "ChargeReversed",
                WHERE,
                as_utc(when),
                now,
                charge_id=f"{charge}:entered-in-error",
                account_number=account,
                reverses_charge_id=charge,
                amount=amount,
            )
        ]
    return [
        event(
            src,
            "ChargePosted",
            WHERE,
            as_utc(required(res.enteredDate, f"{WHERE}.enteredDate")),
            now,
            charge_id=charge,
            account_number=account,
            procedure_code=_procedure_code(res),
            units=whole_units(
                res.quantity.value if res.quantity and res.quantity.value is not None else 1,
                f"{WHERE}.quantity",
            ),
            amount=amount,
            service_date=_service_date(res),
            department_id=_reference(res.performingOrganization, f"{WHERE}.performingOrganization"),
        )
    ]


def _reference(reference: Any, where: str) -> str:
    """A reference's id, else its logical identifier's value."""
    named = ref_id(reference) or getattr(getattr(reference, "identifier", None), "value", None)
    return str(required(named, where))


def _charge_id(res: Any) -> str:
    ids = [i.value for i in res.identifier or [] if i.value]
    return str(ids[0] if ids else res.id)


def _account(res: Any) -> str:
    accounts = required(res.account, f"{WHERE}.account")
    return _reference(accounts[0], f"{WHERE}.account[0]")


def _procedure_code(res: Any) -> str:
    codings = [c for c in getattr(res.code, "coding", None) or [] if c.code]  # code may be null
    preferred = [c for c in codings if c.system in PROCEDURE_SYSTEMS]
    chosen = (preferred or codings or [None])[0]
    return str(required(chosen and chosen.code, f"{WHERE}.code"))


def _amount(res: Any) -> Decimal:
    price = required(res.priceOverride, f"{WHERE}.priceOverride")
    if price.currency not in (None, "USD"):
        raise MappingError(
            f"{WHERE}.priceOverride.currency",
            f"currency {price.currency} is not USD (not converted)",
            code="103",
        )
    where = f"{WHERE}.priceOverride.value"
    amount = money(required(price.value, where), where)
    if amount < 0:
        raise MappingError(
            where, "price is negative (a charge is taken back by entered-in-error)", code="102"
        )
    return amount


def _service_date(res: Any) -> date:
    if res.occurrenceDateTime is not None:
        value, where = res.occurrenceDateTime, f"{WHERE}.occurrenceDateTime"
    elif res.occurrencePeriod is not None:
        where = f"{WHERE}.occurrencePeriod.start"
        value = required(res.occurrencePeriod.start, where)
    else:
        raise MappingError(
            f"{WHERE}.occurrence[x]",
            "no date of service (occurrenceDateTime or occurrencePeriod.start)",
            code="101",
        )
    if isinstance(value, datetime):
        return value.date()  # the day as written, in the sender's offset
    if isinstance(value, date):
        return value
    raise MappingError(where, f"{value} is not a full date of service", code="102")
