"""The correlated schedule-to-cash history as an OCEL 2.0 object-centric event log (JSON format).

Built from a replay's input stream and its output folder (`s2c export-ocel`): the final process
states say which instance each event was applied to (or waits on), the commands which instance
they were issued for. Only events the pipeline placed on an instance are exported; a refused,
duplicate or still unlinked one is left out, as the pipeline kept it out of the history.

Objects (type: id): `appointment` and `case` (the scheduling ids the process ids are built from),
`encounter`, `claim` and `remittance` (pseudonyms: in real feeds these ids may carry the account
number, as X12 CLM01 does), `account` (the account's pseudonym, `IdKey.account_ref`: never the
number in clear) and `command` (the ERP command id). Events: each canonical event (its type and
business time) and each command issued (type `issue <CommandType>`, at its `issued_at`). Every
event of an instance is linked to the instance's appointment or case (qualifier `episode`), so the
log flattened on either type is the path of each visit or surgical case. The event that revealed a
deviation from the reference path carries it as the attribute `deviation`. Money stays exact: it
is written as a decimal string attribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from s2c.tables.codec import iso
from s2c.tables.events import Event, money_of
from s2c.tables.ids import IdKey

EPOCH = "1970-01-01T00:00:00Z"  # OCEL 2.0: the time of an object attribute's initial value
OBJECT_TYPES = ("appointment", "case", "encounter", "account", "claim", "remittance", "command")
_OBJECT_ATTRIBUTES = {
    "appointment": ("site_id", "service_line_id", "stage"),
    "case": ("site_id", "service_line_id", "stage"),
    "command": ("command_type",),
}
_EVENT_ATTRIBUTES = ("source_system", "amount", "deviation", "process_id")
_COMMAND_ATTRIBUTES = ("journal_kind", "amount", "caused_by_event_id", "process_id")
# remittance-family events: the field naming the remittance line
_REMITTANCE_IDS = {
    "PaymentPosted": "remittance_id",
    "AdjustmentPosted": "adjustment_id",
    "DenialReceived": "denial_id",
    "PaymentReversed": "reversal_id",
}


class OcelBuilder:
    def __init__(self, ids: IdKey, processes: Iterable[dict[str, Any]]) -> None:
        self.ids = ids
        self.instances: dict[str, dict[str, Any]] = {}
        self.instance_of: dict[str, str] = {}  # event id -> process id
        self.blamed: dict[str, str] = {}  # event id -> deviation kind
        for state in processes:
            pid = state["process_id"]
            self.instances[pid] = state
            for event_id in state.get("applied", ()):
                self.instance_of[event_id] = pid
            for row in state.get("parked", ()):
                self.instance_of[row[0]] = pid
            for deviation in state.get("deviations", ()):
                self.blamed[deviation["event_id"]] = deviation["kind"]
        self.objects: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def add_event(self, event: Event) -> str:
        """Add a canonical event once: "events", or why not: "duplicates" (its id was added),
        "outside" (no instance's history holds it: refused, or still waiting for its link)."""
        pid = self.instance_of.get(event.event_id)
        if pid is None:
            return "outside"
        if event.event_id in self._seen:
            return "duplicates"
        self._seen.add(event.event_id)
        links: list[tuple[str, str]] = []
        episode = self._episode(pid)
        if episode is not None:
            links.append((episode, "episode"))
        links.extend(self._own_links(event, pid))
        amount = money_of(event)
        attributes = {
            "source_system": event.envelope.source_system,
            "amount": None if amount is None else str(amount),
            "deviation": self.blamed.get(event.event_id),
            "process_id": pid,
        }
        self._event(event.event_id, event.schema, iso(event.occurred_at), attributes, links)
        return "events"

    def add_command(self, record: dict[str, Any], schema: str) -> None:
        header = record["header"]
        pid = header["process_id"]
        command = self._object("command", header["command_id"], command_type=schema)
        links = [(command, "issues")]
        episode = self._episode(pid)
        if episode is not None:
            links.append((episode, "episode"))
        account = self._account_of(pid)
        if account is not None:
            links.append((account, "account"))
        if header.get("reverses_command_id"):
            links.append((self._object("command", header["reverses_command_id"]), "reverses"))
        attributes = {
            "journal_kind": record.get("journal_kind"),
            "amount": None if record.get("amount") is None else str(record["amount"]),
            "caused_by_event_id": header["caused_by_event_id"],
            "process_id": pid,
        }
        when = header["issued_at"]
        self._event(f"cmd:{header['command_id']}", f"issue {schema}", when, attributes, links)

    def deviated_episodes(self) -> dict[str, list[str]]:
        """Appointment or case object id -> the kinds of deviation its instance holds."""
        found: dict[str, list[str]] = {}
        for pid, state in self.instances.items():
            kinds = sorted({d["kind"] for d in state.get("deviations", ())})
            episode = self._episode(pid) if kinds else None
            if episode is not None:
                found[episode] = kinds
        return found

    def document(self) -> dict[str, Any]:
        """The OCEL 2.0 JSON document (events in time order, then by id)."""
        event_types = sorted({e["type"] for e in self.events})
        return {
            "objectTypes": [
                {
                    "name": name,
                    "attributes": [
                        {"name": a, "type": "string"} for a in _OBJECT_ATTRIBUTES.get(name, ())
                    ],
                }
                for name in OBJECT_TYPES
            ],
            "eventTypes": [
                {
                    "name": name,
                    "attributes": [
                        {"name": a, "type": "string"}
                        for a in (
                            _COMMAND_ATTRIBUTES if name.startswith("issue ") else _EVENT_ATTRIBUTES
                        )
                    ],
                }
                for name in event_types
            ],
            "objects": [self.objects[k] for k in sorted(self.objects)],
            "events": sorted(self.events, key=lambda e: (e["time"], e["id"])),
        }

    def _event(
        self,
        event_id: str,
        kind: str,
        time: str,
        attributes: dict[str, Any],
        links: list[tuple[str, str]],
    ) -> None:
        unique = list(dict.fromkeys(links))
        self.events.append(
            {
                "id": event_id,
                "type": kind,
                "time": time,
                "attributes": [
                    {"name": n, "value": v} for n, v in attributes.items() if v is not None
                ],
                "relationships": [{"objectId": o, "qualifier": q} for o, q in unique],
            }
        )

    def _object(self, kind: str, ident: str, **attributes: Any) -> str:
        object_id = f"{kind}:{ident}"
        if object_id not in self.objects:
            self.objects[object_id] = {
                "id": object_id,
                "type": kind,
                "attributes": [],
                "relationships": [],
            }
        obj = self.objects[object_id]
        for name, value in attributes.items():
            if value is not None and not any(a["name"] == name for a in obj["attributes"]):
                obj["attributes"].append({"name": name, "value": value, "time": EPOCH})
        return object_id

    def _relate(self, source: str, target: str, qualifier: str) -> None:
        relation = {"objectId": target, "qualifier": qualifier}
        if relation not in self.objects[source]["relationships"]:
            self.objects[source]["relationships"].append(relation)

    def _episode(self, pid: str) -> str | None:
        """The instance's appointment or case object (None for a walk-in)."""
        state = self.instances.get(pid, {})
        kind = {"APPT-": "appointment", "CASE-": "case"}.get(pid[:5])
        if kind is None or not state.get("reference_id"):
            return None
        stage = state.get("stage")
        episode = self._object(
            kind,
            state["reference_id"],
            site_id=state.get("site_id"),
            service_line_id=state.get("service_line_id"),
            stage=stage,
        )
        account = self._account_of(pid)
        if account is not None:
            self._relate(episode, account, "billed to")
        return episode

    def _account_of(self, pid: str) -> str | None:
        number = self.instances.get(pid, {}).get("account_number")
        return None if not number else self._object("account", self.ids.account_ref(number))

    def _pseudo(self, kind: str, source_id: str) -> str:
        return self._object(kind, self.ids.pseudonym(kind, source_id))

    def _own_links(self, event: Event, pid: str) -> list[tuple[str, str]]:
        """The objects the event itself names (ids pseudonymized where they may carry the
        account number), with the instance's encounter for its charges."""
        links: list[tuple[str, str]] = []
        for field, kind in (("appointment_id", "appointment"), ("case_id", "case")):
            value = getattr(event, field, None)
            if value:
                links.append((self._object(kind, value), "scheduled as"))
        number = getattr(event, "account_number", None)
        if number:
            links.append((self._object("account", self.ids.account_ref(number)), "account"))
        encounter_id = getattr(event, "encounter_id", None) or (
            self.instances.get(pid, {}).get("encounter_id")
            if event.schema.startswith("Charge")
            else None
        )
        if encounter_id:
            encounter = self._pseudo("encounter", encounter_id)
            links.append((encounter, "encounter"))
            episode = self._episode(pid)
            if episode is not None:
                self._relate(encounter, episode, "fulfils")
        claim_id = getattr(event, "claim_id", None)
        if claim_id:
            claim = self._pseudo("claim", claim_id)
            links.append((claim, "claim"))
            if number:
                self._relate(claim, self._object("account", self.ids.account_ref(number)), "bills")
        if event.schema in _REMITTANCE_IDS:
            remittance = self._pseudo("remittance", getattr(event, _REMITTANCE_IDS[event.schema]))
            links.append((remittance, "remittance"))
            if claim_id:
                self._relate(remittance, self._pseudo("claim", claim_id), "settles")
            if event.schema == "PaymentReversed":
                reversed_id = event.reverses_remittance_id  # type: ignore[attr-defined]
                links.append((self._pseudo("remittance", reversed_id), "reverses"))
        return links
