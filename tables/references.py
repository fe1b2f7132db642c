"""Master data with teeth: every reference an event carries is resolved and checked before it acts.

`REFERENCES` lists, per event type, the fields that name a master record (provider or surgeon,
site, department or room, service line, payer, a claim's billing provider by NPI) and the record
each names. Before a handler runs,
the core calls `resolve_and_check(event, master)`:

1. **Crosswalk.** Each reference is looked up in the `Crosswalk` entries for its kind and the
   event's `envelope.source_system` (then for source `*`): an 835's `N1*PR` payer code becomes the
   payer's master id. A code with no entry is taken as the master id itself, so sources that
   already send master ids need no crosswalk. The event handed to the handler carries the master
   ids; the parked event keeps the source's codes, so a crosswalk entry that arrives later is
   used when the event is retried.
2. **Check.** Each (resolved) reference must be a known record, and so must the cost center of
   every location it names (the cost center commands are booked to). The first unknown one, in
   the table's order, raises `MissingMasterData(record, key)`: the core parks the event exactly as
   it parks one missing a contract rate or preference card (`AwaitMasterData`, retried when the
   record arrives, an `UNKNOWN_MASTER_DATA` work item at business time + `PROCESS_PARK_TTL`), and
   nothing is posted for it until then. Contract rates, preference cards and GL maps are still
   checked where the posting rules use them.

Keys in a wait and in a work item are master ids or source codes, never patient data.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from s2c.tables.events import Event
from s2c.tables.master import PROVIDER_NPI, MasterData
from s2c.tables.posting import MissingMasterData
from s2c.tables.vocabulary import CrosswalkKind

# (field, record it names), in the order they are checked. `Provider.npi` names a Provider by
# its NPI (an 837's billing provider NM1*85, a FHIR Claim's provider identifier): a national
# number, taken as it comes (no crosswalk), waited for as `Provider.npi <npi>`.
_PAYER = ("payer_id", "Payer")
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "AppointmentScheduled": (
        ("site_id", "Location"),
        ("department_id", "Location"),
        ("provider_id", "Provider"),
        ("service_line_id", "ServiceLine"),
        _PAYER,
    ),
    "AppointmentRescheduled": (
        ("site_id", "Location"),
        ("department_id", "Location"),
        ("provider_id", "Provider"),
    ),
    "AppointmentModified": (("provider_id", "Provider"), _PAYER),
    "CaseScheduled": (
        ("site_id", "Location"),
        ("or_room_id", "Location"),
        ("surgeon_id", "Provider"),
        ("service_line_id", "ServiceLine"),
        _PAYER,
    ),
    "CaseRescheduled": (("site_id", "Location"), ("or_room_id", "Location")),
    "AuthorizationRequested": (_PAYER,),
    "AuthorizationApproved": (_PAYER,),
    "AuthorizationDenied": (_PAYER,),
    "EncounterStarted": (
        ("site_id", "Location"),
        ("department_id", "Location"),
        ("service_line_id", "ServiceLine"),
        _PAYER,
    ),
    "ChargePosted": (("department_id", "Location"),),
    "ClaimSubmitted": (_PAYER, ("billing_npi", PROVIDER_NPI)),
    "PaymentPosted": (_PAYER,),
    "AdjustmentPosted": (_PAYER,),
    "DenialReceived": (_PAYER,),
    "PaymentReversed": (_PAYER,),
}

# The crosswalk kinds that may map a reference to each record, tried in this order.
_KINDS: dict[str, tuple[CrosswalkKind, ...]] = {
    "Payer": (CrosswalkKind.PAYER, CrosswalkKind.PLAN),
    "Location": (CrosswalkKind.LOCATION,),
    "Provider": (CrosswalkKind.PROVIDER,),
    "ServiceLine": (CrosswalkKind.SERVICE_LINE,),
}


def resolve(event: Event, master: MasterData) -> Event:
    """The event with every reference it carries mapped through the crosswalk (itself when
    nothing maps)."""
    changes: dict[str, str] = {}
    source = event.envelope.source_system
    for name, record in REFERENCES.get(event.schema, ()):
        code = getattr(event, name)
        if code is None:
            continue  # optional and absent (self-pay, unchanged on a modification)
        for kind in _KINDS.get(record, ()):
            mapped = master.crosswalk(kind, source, code)
            if mapped is not None:
                if mapped != code:
                    changes[name] = mapped
                break
    if not changes:
        return event
    resolved: Event = dataclasses.replace(cast(Any, event), **changes)
    return resolved


def check(event: Event, master: MasterData) -> None:
    """Raise `MissingMasterData` for the first reference of `event` master data does not know."""
    for name, record in REFERENCES.get(event.schema, ()):
        key = getattr(event, name)
        if key is None:
            continue
        if record == "Location":
            place = master.location(key)
            if place is None:
                raise MissingMasterData(record, key)
            if master.cost_center(place.cost_center_id) is None:
                raise MissingMasterData("CostCenter", place.cost_center_id)
        elif _LOOKUP[record](master, key) is None:
            raise MissingMasterData(record, key)


def resolve_and_check(event: Event, master: MasterData) -> Event:
    """The event as its handler should see it (references in master ids), once every reference
    is known; raises `MissingMasterData` otherwise."""
    resolved = resolve(event, master)
    check(resolved, master)
    return resolved


_LOOKUP = {
    "Payer": lambda m, k: m.payer(k),
    "Provider": lambda m, k: m.provider(k),
    PROVIDER_NPI: lambda m, k: m.provider_by_npi(k),
    "ServiceLine": lambda m, k: m.service_line(k),
}
