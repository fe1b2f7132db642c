"""FHIR R4 resources (fhir.resources' R4B models) to the same canonical events as HL7 and X12.

The models check structure and data types but not value sets, so every `status`/`outcome` is
checked here against the codes we map; anything else is rejected naming `Resource.element`.
References are used by id (`Patient/p1` -> keyed patient_ref; `Organization/payer` -> payer_id).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from s2c.streams.connectors.events import (
    Event,
    MappingError,
    PatientRefs,
    Source,
    as_utc,
    digest,
    event,
    money,
    whole_units,
)
from s2c.streams.connectors.fhir_input import FhirUnit, split_resources

__all__ = ["FhirUnit", "map_resource", "map_unit", "split_resources"]
UNSPECIFIED = "UNSPECIFIED"
ENCOUNTER_CLASS = {
    "AMB": "OUTPATIENT",
    "OBSENC": "OUTPATIENT",
    "EMER": "EMERGENCY",
    "IMP": "INPATIENT",
    "ACUTE": "INPATIENT",
    "NONAC": "INPATIENT",
    "SS": "SURGERY",
}
CLAIM_TYPES = {"professional": "PROFESSIONAL", "institutional": "INSTITUTIONAL"}
MAPPED = (
    "Appointment",
    "Encounter",
    "ChargeItem",
    "Claim",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "PaymentReconciliation",
    "Procedure",
)


def ref_id(reference: Any) -> str:
    return (getattr(reference, "reference", None) or "").split("/")[-1]


ACCOUNT_NUMBER_TYPE = ("http://terminology.hl7.org/CodeSystem/v2-0203", "AN")


def is_account_number(identifier: Any) -> bool:
    """An identifier typed v2-0203 `AN` (account number), the FHIR peer of 837 CLM01 / 835 CLP01."""
    codings = getattr(getattr(identifier, "type", None), "coding", None) or []
    return any((c.system, c.code) == ACCOUNT_NUMBER_TYPE for c in codings)


def claim_identifier(res: Any) -> str | None:
    """A Claim's business id: its first identifier that is not the account number."""
    ids = [i.value for i in res.identifier or [] if i.value and not is_account_number(i)]
    return ids[0] if ids else None


def contained(res: Any, reference: Any, kind: str) -> Any:
    """The resource of `kind` that `reference` ("#id") names among `res.contained`, else None."""
    ref = getattr(reference, "reference", None) or ""
    if not ref.startswith("#"):
        return None
    for inner in getattr(res, "contained", None) or []:
        if inner.__resource_type__ == kind and inner.id == ref[1:]:
            return inner
    return None


def claim_account(res: Any, claim_ref: Any = None) -> str | None:
    """The account a Claim, ClaimResponse or ExplanationOfBenefit belongs to, where it says so:
    an identifier typed `AN`; else the account of an Encounter its items name (`item.encounter`,
    contained); else, through `claim_ref` (ClaimResponse.request, ExplanationOfBenefit.claim), the
    account of the contained Claim. None when the resource does not say."""
    for identifier in res.identifier or []:
        if identifier.value and is_account_number(identifier):
            return identifier.value
    for item in getattr(res, "item", None) or []:
        for reference in getattr(item, "encounter", None) or []:
            encounter = contained(res, reference, "Encounter")
            if encounter is not None and encounter.account:
                return ref_id(encounter.account[0]) or None
    claim = contained(res, claim_ref, "Claim")
    return claim_account(claim) if claim is not None else None


Claims = dict[str, tuple[str, str]]  # a Claim's logical id -> (claim id, account)


def remember_claims(units: list[FhirUnit], claims: Claims) -> None:
    """Note each Claim among `units` by logical id, so a ClaimResponse, ExplanationOfBenefit or
    PaymentReconciliation of the same ingest run that names it only as `Claim/<id>` finds its
    claim id and account (a bulk export or Bundle carries the Claims beside their answers)."""
    for unit in units:
        doc = unit.doc
        if (
            unit.error is not None
            or not isinstance(doc, dict)
            or doc.get("resourceType") != "Claim"
        ):
            continue
        try:
            res = parsed("Claim", doc)
        except MappingError:
            continue  # mapping it will dead-letter it, with the reason
        if res.id:
            claim_id = claim_identifier(res) or res.id
            claims[res.id] = (claim_id, claim_account(res) or claim_id)


def parsed(kind: str, doc: dict[str, Any]) -> Any:
    """`doc` as the fhir.resources model of `kind`, or a parse rejection naming the path.

    A contained resource's type is checked first: the models look it up by name and fail with
    a KeyError or TypeError, not a validation error, when it is empty, unknown or not a string."""
    contained = doc.get("contained")
    for i, inner in enumerate(contained if isinstance(contained, list) else []):
        name = inner.get("resourceType") if isinstance(inner, dict) else None
        try:
            known = isinstance(name, str) and get_fhir_model_class(name) is not None
        except ValueError:
            known = False
        if not known:
            raise MappingError(
                f"{kind}.contained[{i}].resourceType",
                "not a FHIR resource type",
                stage="parse",
                code="102",
            )
    try:
        return get_fhir_model_class(kind).model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{kind}.{where}", first["msg"], stage="parse", code="102") from None


def code_of(concept: Any) -> str:
    codings = getattr(concept, "coding", None) or []
    return (codings[0].code or "") if codings else ""


def required(value: Any, location: str) -> Any:
    if value in (None, "", []):
        raise MappingError(location, "required element is missing", code="101")
    return value


def map_unit(
    unit: FhirUnit, refs: PatientRefs, produced_at: datetime, claims: Claims | None = None
) -> list[Event]:
    """A unit of a file: its rejection, or its resource's events."""
    if unit.error is not None:
        raise unit.error
    return map_resource(unit.doc, refs, produced_at, claims)


def map_resource(
    doc: dict[str, Any], refs: PatientRefs, produced_at: datetime, claims: Claims | None = None
) -> list[Event]:
    """`claims`: Claims seen earlier in the run (`remember_claims`), for answers that name theirs
    by logical id only."""
    if not isinstance(doc, dict):
        raise MappingError("$", "JSON value is not a FHIR resource object", stage="parse")
    kind = doc.get("resourceType", "")
    if kind not in MAPPED:
        raise MappingError(
            "resourceType", f"{kind or '(none)'} is not mapped", code="200", reject=True
        )
    res = parsed(kind, doc)
    required(res.id, f"{kind}.id")  # every mapped resource names its events by it
    version = res.meta.versionId if res.meta and res.meta.versionId else ""
    source = Source(
        system=f"fhir:{(res.meta.source if res.meta else None) or 'unknown'}",
        id_prefix=f"fhir:{kind}/{res.id}:{version}:{digest(json.dumps(doc, sort_keys=True))}",
        correlation_id=f"{kind}/{res.id}",
    )
    from s2c.streams.connectors import fhir_charges, fhir_finance, fhir_surgery

    mappers = {
        "Appointment": _appointment,
        "Encounter": _encounter,
        "ChargeItem": fhir_charges.charge_item,
        "Claim": _claim,
        "ClaimResponse": fhir_finance.claim_response,
        "ExplanationOfBenefit": fhir_finance.explanation_of_benefit,
        "PaymentReconciliation": fhir_finance.payment_reconciliation,
        "Procedure": fhir_surgery.procedure,
    }
    if kind in fhir_finance.NAMING_CLAIMS:
        return mappers[kind](res, source, refs, produced_at, claims or {})
    return mappers[kind](res, source, refs, produced_at)


def status_of(res: Any, allowed: tuple[str, ...]) -> str:
    status = getattr(res, "status", None) or ""
    if status not in allowed:
        raise MappingError(
            f"{res.__resource_type__}.status",
            f"status {status or '(empty)'} is not mapped (expected one of {', '.join(allowed)})",
            code="103",
        )
    return status


def _appointment(res: Any, src: Source, refs: PatientRefs, now: datetime) -> list[Event]:
    status = status_of(res, ("booked", "cancelled", "noshow", "entered-in-error"))
    appt = res.id or required(None, "Appointment.id")
    when = (
        as_utc(res.meta.lastUpdated)
        if res.meta and res.meta.lastUpdated
        else as_utc(required(res.start, "Appointment.start"))
    )
    if status == "noshow":
        return [event(src, "AppointmentNoShow", "Appointment", when, now, appointment_id=appt)]
    if status != "booked":
        reason = code_of(res.cancelationReason) or status
        return [
            event(
                src,
                "AppointmentCancelled",
                "Appointment",
                when,
                now,
                appointment_id=appt,
                reason=reason,
            )
        ]
    actors = {}
    for part in res.participant or []:
        reference = getattr(part.actor, "reference", None) or ""
        actors.setdefault(reference.split("/")[0], reference.split("/")[-1])
    start = as_utc(required(res.start, "Appointment.start"))
    minutes = res.minutesDuration or (
        int((as_utc(res.end) - start).total_seconds() // 60) if res.end else None
    )
    site = required(actors.get("Location"), "Appointment.participant.actor(Location)")
    return [
        event(
            src,
            "AppointmentScheduled",
            "Appointment",
            when,
            now,
            appointment_id=appt,
            patient_ref=refs.ref(
                required(actors.get("Patient"), "Appointment.participant.actor(Patient)"),
                "fhir",
                "Patient",
            ),
            account_number=None,
            site_id=site,
            department_id=actors.get("HealthcareService", site),
            provider_id=required(
                actors.get("Practitioner"), "Appointment.participant.actor(Practitioner)"
            ),
            service_line_id=code_of((res.specialty or [None])[0]) or UNSPECIFIED,
            payer_id=None,
            procedure_codes=[code_of(c) for c in res.serviceType or []],
            scheduled_start=start,
            duration_minutes=required(minutes, "Appointment.minutesDuration"),
        )
    ]


def _encounter(res: Any, src: Source, refs: PatientRefs, now: datetime) -> list[Event]:
    status = status_of(res, ("arrived", "triaged", "in-progress", "finished"))
    account = ref_id((res.account or [None])[0]) or required(
        res.identifier and res.identifier[0].value, "Encounter.account"
    )
    period = required(res.period, "Encounter.period")
    if status == "finished":
        ended = as_utc(required(period.end, "Encounter.period.end"))
        return [
            event(
                src,
                "EncounterCompleted",
                "Encounter",
                ended,
                now,
                encounter_id=res.id,
                account_number=account,
                discharged_at=ended,
            )
        ]
    started = as_utc(required(period.start, "Encounter.period.start"))
    klass = ENCOUNTER_CLASS.get(getattr(res.class_fhir, "code", None) or "")
    location = ref_id(res.location[0].location) if res.location else ""
    return [
        event(
            src,
            "EncounterStarted",
            "Encounter",
            started,
            now,
            encounter_id=res.id,
            account_number=account,
            patient_ref=refs.ref(
                required(ref_id(res.subject), "Encounter.subject"), "fhir", "Patient"
            ),
            appointment_id=ref_id((res.appointment or [None])[0]) or None,
            case_id=None,
            site_id=required(ref_id(res.serviceProvider), "Encounter.serviceProvider"),
            department_id=required(location, "Encounter.location"),
            service_line_id=code_of(res.serviceType) or UNSPECIFIED,
            payer_id=None,
            encounter_class=required(klass, "Encounter.class"),
            arrived_at=started,
        )
    ]


def _claim(res: Any, src: Source, refs: PatientRefs, now: datetime) -> list[Event]:
    status = status_of(res, ("active", "cancelled", "entered-in-error"))
    claim_id = claim_identifier(res) or res.id
    account = claim_account(res) or claim_id
    when = as_utc(required(res.created, "Claim.created"))
    if status != "active":
        return [
            event(src, "ClaimVoided", "Claim", when, now, claim_id=claim_id, account_number=account)
        ]
    claim_type = required(CLAIM_TYPES.get(code_of(res.type)), "Claim.type")
    npi = getattr(getattr(res.provider, "identifier", None), "value", None)
    lines = [
        {
            "line_number": item.sequence,
            "procedure_code": required(
                code_of(item.productOrService), f"Claim.item[{i}].productOrService"
            ),
            "units": whole_units(
                item.quantity.value if item.quantity else 1, f"Claim.item[{i}].quantity"
            ),
            "charge": money(
                required(item.net, f"Claim.item[{i}].net").value, f"Claim.item[{i}].net"
            ),
        }
        for i, item in enumerate(res.item or [])
    ]
    return [
        event(
            src,
            "ClaimSubmitted",
            "Claim",
            when,
            now,
            claim_id=claim_id,
            account_number=account,
            payer_id=required(ref_id(res.insurer), "Claim.insurer"),
            claim_type=claim_type,
            billing_npi=required(npi, "Claim.provider.identifier"),
            total_charge=money(required(res.total, "Claim.total").value, "Claim.total"),
            lines=lines,
        )
    ]
