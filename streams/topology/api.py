"""Experience API on the worker's web server (Faust's aiohttp), for operators and work queues.

- `GET /health/`: readiness. 200 with status "ok" once the tables are recovered and master data
  is loaded, 503 with "recovering" or "loading master data" before (a readiness probe's answer);
  also the assigned partitions, any stalled ones, and per link and process partition its
  watermark and the upstream partitions holding it behind (why a deadline has not fired yet);
  and the worker's `pid` and `app_id`, so a caller can tell its worker from another on the port.
- `GET /process/{process_id}/`: one instance with its stage, milestones as a timeline, claims,
  money, open ERP items, parked events and raised exceptions. The request is routed to the worker
  that owns the key (Faust's router, same partitioner that placed the key).
- `GET /exceptions/`: the work-queue exceptions raised on every instance and on events no
  instance claims, across all workers (each worker answers `?scope=local` for its partitions).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View

from s2c.streams.topology.context import Topology
from s2c.streams.topology.watermarks import held_by, stage_upstreams
from s2c.tables.codec import iso, json_default
from s2c.tables.process import ProcessState

MILESTONES = (
    "scheduled_at",
    "authorized_at",
    "auth_denied_at",
    "arrived_at",
    "discharged_at",
    "completed_at",
    "first_charge_at",
    "first_claim_at",
    "first_remit_at",
    "first_payment_at",
    "first_denial_at",
    "cancelled_at",
)


def describe(state: ProcessState, exceptions: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's view of an instance (no patient reference is kept in the state)."""
    timeline = sorted(
        (getattr(state, name), name.removesuffix("_at"))
        for name in MILESTONES
        if getattr(state, name) is not None
    )
    return {
        "process_id": state.process_id,
        "stage": state.stage.value,
        "reference_id": state.reference_id,
        "site_id": state.site_id,
        "service_line_id": state.service_line_id,
        "payer_id": state.payer_id,
        "timeline": [{"at": at, "milestone": name} for at, name in timeline],
        "claims": state.claims,
        "money": {
            "charged": state.charged,
            "paid": state.paid,
            "adjusted": state.adjusted,
            "denied": state.denied,
            "ar_balance": state.ar_balance,
            "expected": state.expected_amount,
        },
        "open_items": [
            {"command_id": cid, "command_type": c.schema}
            for cid, c in sorted(state.open_items.items())
        ],
        "parked": [
            {
                "event_id": eid,
                "event_type": p.event.schema,
                "waits_for": p.waits_for,
                "deadline": p.deadline,
            }
            for eid, p in sorted(state.parked.items())
        ],
        "exceptions": exceptions,
    }


def _json(view: View, body: Any, status: int = 200) -> Response:
    return view.bytes(
        json.dumps(body, default=json_default, indent=1).encode(),
        content_type="application/json",
        status=status,
    )


def attach_api(t: Topology) -> None:
    app: faust.App = t.app
    processes, exceptions = t.tables["processes"], t.tables["process_exceptions"]
    unlinked = t.tables["link_exceptions"]
    upstreams = stage_upstreams(t)

    def watermarks(owned: list[Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for tp in owned:
            if tp.topic in upstreams:
                _, upstream = upstreams[tp.topic]
                marks, at = upstream.marks(tp.partition), upstream.watermark(tp.partition)
                found[f"{tp.topic}[{tp.partition}]"] = {
                    "watermark": None if at is None else iso(at),
                    "held_by": held_by(marks, upstream.sources),
                }
        return found

    @app.page("/health/")
    class Health(View):
        async def get(self, request: Request) -> Response:
            owned = sorted(app.assignor.assigned_actives())
            assigned = [f"{tp.topic}[{tp.partition}]" for tp in owned]
            stalled = sorted(
                f"{tp.topic}[{tp.partition}]" for tp in t.stalls.stalled(time.monotonic())
            )
            if not app.tables.recovery.completed.is_set():
                status = "recovering"
            elif not t.replica.ready.is_set():
                status = "loading master data"
            else:
                status = "ok"
            return _json(
                self,
                {
                    "status": status,
                    "pid": os.getpid(),
                    "app_id": app.conf.id,
                    "master_records": t.replica.records,
                    "assigned": assigned,
                    "stalled": stalled,
                    "watermarks": watermarks(owned),
                },
                status=200 if status == "ok" else 503,
            )

    @app.page("/process/{process_id}/")
    class Process(View):
        async def get(self, request: Request, process_id: str) -> Response:
            key = process_id.encode()
            try:
                return await app.router.route_req("processes", key, self.web, request)
            except SameNode:
                pass
            stored = processes.get(key)
            if stored is None:
                return _json(self, {"error": f"no process instance {process_id}"}, status=404)
            state = ProcessState.from_dict(json.loads(stored))
            return _json(self, describe(state, json.loads(exceptions.get(key) or b"[]")))

    @app.page("/exceptions/")
    class Exceptions(View):
        async def get(self, request: Request) -> Response:
            local = [
                item
                for table in (exceptions, unlinked)
                for _, items in table.items()
                for item in json.loads(items)
            ]
            if request.query.get("scope") == "local":
                return _json(self, local)
            everyone = list(local)
            me = str(app.conf.canonical_url).rstrip("/")
            for url in app.router.tables_metadata():
                if str(url).rstrip("/") == me:
                    continue
                async with app.http_client.get(f"{url}/exceptions/?scope=local") as response:
                    everyone.extend(json.loads(await response.text()))
            everyone.sort(key=lambda e: (e.get("raised_at") or "", e.get("exception_id") or ""))
            return _json(self, {"count": len(everyone), "exceptions": everyone})
