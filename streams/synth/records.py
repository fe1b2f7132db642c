"""Turns a planned event into its record: Avro-native dict in catalogue field order, envelope first.

Native means what fastavro reads and writes: aware UTC `datetime` for timestamp-millis, `date` for
date, `Decimal` for money, enum symbols as strings. `s2c.tables.events.event_from_record` accepts it
as is. The Kafka key of each event is its business key (see `key_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s2c.streams.synth.ids import to_datetime
from s2c.streams.synth.planner import Episode

Record = dict[str, Any]
Builder = Callable[[Record, Episode, Any, int], Record]
SOURCES = {
    "Appointment": "sched-clinic",
    "Case": "sched-or",
    "Authorization": "payer-portal-278",
    "Encounter": "adt",
    "Charge": "charge-dft",
    "ClaimSubmitted": "x12-837-gateway",
    "ClaimAcknowledged": "x12-277ca-gateway",
    "ClaimRejected": "x12-277ca-gateway",
    "Payment": "x12-835-gateway",
    "Adjustment": "x12-835-gateway",
    "Denial": "x12-835-gateway",
}


def _source(schema: str) -> str:
    return next(v for k, v in SOURCES.items() if schema.startswith(k))


def _appt_scheduled(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    start, minutes, payer = x
    return {
        "envelope": env,
        "appointment_id": ep.appointment_id,
        "patient_ref": ep.patient_ref,
        "account_number": ep.account if ep.pre_registered else None,
        "site_id": ep.site.site_id,
        "department_id": ep.department_id,
        "provider_id": ep.provider_id,
        "service_line_id": ep.service_line_id,
        "payer_id": payer,
        "procedure_codes": ep.procedure_codes,
        "scheduled_start": to_datetime(start),
        "duration_minutes": minutes,
    }


def _appt_rescheduled(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    return {
        "envelope": env,
        "appointment_id": ep.appointment_id,
        "scheduled_start": to_datetime(x[0]),
        "duration_minutes": x[1],
        "site_id": ep.site.site_id,
        "department_id": ep.department_id,
        "provider_id": ep.provider_id,
    }


def _appt_modified(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    return {
        "envelope": env,
        "appointment_id": ep.appointment_id,
        "provider_id": x.get("provider_id"),
        "payer_id": x.get("payer_id"),
        "procedure_codes": x.get("procedure_codes"),
        "account_number": x.get("account_number"),
    }


def _case_scheduled(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    start, room, minutes, card, payer = x
    return {
        "envelope": env,
        "case_id": ep.case_id,
        "patient_ref": ep.patient_ref,
        "account_number": ep.account if ep.pre_registered else None,
        "site_id": ep.site.site_id,
        "or_room_id": room,
        "surgeon_id": ep.provider_id,
        "service_line_id": ep.service_line_id,
        "payer_id": payer,
        "procedure_codes": ep.procedure_codes,
        "preference_card_id": card,
        "scheduled_start": to_datetime(start),
        "planned_minutes": minutes,
    }


def _auth(env: Record, ep: Episode) -> Record:
    return {
        "envelope": env,
        "authorization_id": f"AU{ep.account}",
        "appointment_id": ep.appointment_id,
        "case_id": ep.case_id,
        "payer_id": ep.payer_id,
    }


def _auth_approved(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    return {**_auth(env, ep), "auth_number": x[0], "valid_until": to_datetime(x[1])}


def _encounter_started(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    return {
        "envelope": env,
        "encounter_id": f"ENC{ep.account}",
        "account_number": ep.account,
        "patient_ref": ep.patient_ref,
        "appointment_id": ep.appointment_id,
        "case_id": ep.case_id,
        "site_id": ep.site.site_id,
        "department_id": ep.department_id,
        "service_line_id": ep.service_line_id,
        "payer_id": ep.payer_id,
        "encounter_class": x,
        "arrived_at": env["occurred_at"],
    }


def _claim_submitted(env: Record, ep: Episode, x: Any, ms: int) -> Record:
    claim_id, payer, claim_type, npi, total, lines = x
    return {
        "envelope": env,
        "claim_id": claim_id,
        "account_number": ep.account,
        "payer_id": payer,
        "claim_type": claim_type,
        "billing_npi": npi,
        "total_charge": total,
        "lines": lines,
    }


def _fields(*names: str) -> Builder:
    """Builder for events whose payload is the account number plus `extra`, in field order."""

    def build(env: Record, ep: Episode, x: Any, ms: int) -> Record:
        record = {"envelope": env, names[0]: x[0], "account_number": ep.account}
        record.update(zip(names[1:], x[1:]))
        return record

    return build


BUILDERS: dict[str, Builder] = {
    "AppointmentScheduled": _appt_scheduled,
    "AppointmentRescheduled": _appt_rescheduled,
    "AppointmentModified": _appt_modified,
    "AppointmentCancelled": lambda env, ep, x, ms: {
        "envelope": env,
        "appointment_id": ep.appointment_id,
        "reason": x,
    },
    "AppointmentNoShow": lambda env, ep, x, ms: {
        "envelope": env,
        "appointment_id": ep.appointment_id,
    },
    "CaseScheduled": _case_scheduled,
    "CaseRescheduled": lambda env, ep, x, ms: {
        "envelope": env,
        "case_id": ep.case_id,
        "scheduled_start": to_datetime(x[0]),
        "planned_minutes": x[1],
        "site_id": ep.site.site_id,
        "or_room_id": x[2],
    },
    "CaseCancelled": lambda env, ep, x, ms: {"envelope": env, "case_id": ep.case_id, "reason": x},
    "CaseCompleted": lambda env, ep, x, ms: {
        "envelope": env,
        "case_id": ep.case_id,
        "actual_minutes": x[0],
        "supplies_used": x[1],
    },
    "AuthorizationRequested": lambda env, ep, x, ms: {
        **_auth(env, ep),
        "procedure_codes": ep.procedure_codes,
    },
    "AuthorizationApproved": _auth_approved,
    "AuthorizationDenied": lambda env, ep, x, ms: {**_auth(env, ep), "reason": x},
    "EncounterStarted": _encounter_started,
    "EncounterCompleted": lambda env, ep, x, ms: {
        "envelope": env,
        "encounter_id": f"ENC{ep.account}",
        "account_number": ep.account,
        "discharged_at": env["occurred_at"],
    },
    "ChargePosted": lambda env, ep, x, ms: {
        "envelope": env,
        "charge_id": x[0],
        "account_number": ep.account,
        "procedure_code": x[1],
        "units": x[2],
        "amount": x[3],
        "service_date": x[4],
        "department_id": ep.department_id,
    },
    "ChargeReversed": _fields("charge_id", "reverses_charge_id", "amount"),
    "ClaimSubmitted": _claim_submitted,
    "ClaimAcknowledged": _fields("claim_id", "status_category", "payer_claim_control_number"),
    "ClaimRejected": _fields("claim_id", "status_category", "status_code", "reason"),
    "PaymentPosted": _fields(
        "remittance_id", "claim_id", "payer_id", "paid_amount", "payment_trace", "payment_date"
    ),
    "AdjustmentPosted": _fields(
        "adjustment_id", "claim_id", "payer_id", "group_code", "carc", "rarc", "amount"
    ),
    "DenialReceived": _fields(
        "denial_id",
        "claim_id",
        "payer_id",
        "group_code",
        "carc",
        "rarc",
        "denied_amount",
        "procedure_code",
    ),
    "PaymentReversed": _fields(
        "reversal_id", "claim_id", "payer_id", "reverses_remittance_id", "amount"
    ),
}
SOURCE_OF = {name: _source(name) for name in BUILDERS}


def key_of(schema: str, record: Record) -> str:
    """Business key: appointment or case id for scheduling and authorizations, else the account."""
    if schema.startswith("Appointment"):
        return record["appointment_id"]  # type: ignore[no-any-return]
    if schema.startswith("Case"):
        return record["case_id"]  # type: ignore[no-any-return]
    if schema.startswith("Authorization"):
        return record["case_id"] or record["appointment_id"]  # type: ignore[no-any-return]
    return record["account_number"]  # type: ignore[no-any-return]


def build(
    schema: str, ep: Episode, k: int, occurred_ms: int, extra: Any, produced_ms: int | None = None
) -> Record:
    occurred = to_datetime(occurred_ms)
    env = {
        "event_id": f"EV-{ep.trace[3:]}.{k:02d}",
        "event_type": schema,
        "occurred_at": occurred,
        "source_system": SOURCE_OF[schema],
        "correlation_id": ep.trace,
        "produced_at": occurred if produced_ms is None else to_datetime(produced_ms),
    }
    return BUILDERS[schema](env, ep, extra, occurred_ms)
