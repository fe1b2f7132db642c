"""Experience API on the worker's web server (Faust's aiohttp), for operators and work queues.

- `GET /health/`: readiness. 200 with status "ok" once the tables are recovered and master data
  is loaded, 503 with "recovering" or "loading master data" before (a readiness probe's answer);
  also the assigned partitions, any stalled ones, and per link and process partition its
  watermark, the upstream partitions holding it behind (why a deadline has not fired yet) and
  the events it holds until its watermark passes them (`events_waiting`, also summed for the
  worker); and the worker's `pid` and `app_id`, so a caller can tell its worker from another on the port.
  Never asks for the token: it names partitions, topics and times, no key of any instance.
- `GET /process/{process_id}/`: one instance with its stage, milestones as a timeline, claims,
  money, open ERP items, parked events, deviations from the reference path
  (tables/conformance.py), raised exceptions (the ERP keeper's too) and its commands' ERP
  status (`erp`: counts by status, the rejected and the pending commands). The request is routed to the worker
  that owns the key (Faust's router, same partitioner that placed the key).
- `GET /process/by-account/{account_ref}/`: the instance an account is linked to, by the
  account's pseudonym (the LINK stage's key), routed to the worker that holds the link.
- `POST /process/by-account/` with `{"account_number": "..."}`: the same, by the real account
  number, which the API pseudonymizes with the pipeline's key. Only when `S2C_API_TOKEN` is set
  (403 otherwise). The number goes in the body, not the URL, so no access log or proxy keeps it.
- `GET /exceptions/?limit=&after=&state=&kind=&site=&min_age=`: the kept work items of every
  worker, a page at a time, filtered (see worklist.py for the order, the cursor, the filters and
  the bound); each worker answers `?scope=local`.
- `POST /exceptions/{exception_id}/acknowledge` and `/resolve`: a named user's action on a work
  item (api_actions.py).

With `S2C_API_TOKEN` set, every route but `/health/` (and `/metrics`, app.py) answers 401 without
`Authorization: Bearer <token>` (the shared token, or a named user's from
`S2C_API_USERS_FILE`); tokens are compared in constant time. Requests one worker
makes to another carry the caller's header.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Any

import aiohttp
import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable
from yarl import URL

from s2c.streams.runtime.reorder import Reorder
from s2c.streams.runtime.watermarks import held_by
from s2c.streams.topology.announce import stage_upstreams
from s2c.streams.topology.api_actions import attach_actions
from s2c.streams.topology.context import Topology
from s2c.streams.topology.workitems import load_users, user_of
from s2c.streams.topology.worklist import (
    BadPage,
    decode_cursor,
    local_matching,
    page,
    page_filter,
    page_limit,
    rows_from,
)
from s2c.tables.codec import iso, json_default
from s2c.tables.erp_status import ErpState, summary
from s2c.tables.link import LinkState
from s2c.tables.process import ProcessState

PEER_TIMEOUT = aiohttp.ClientTimeout(total=10)  # one worker asking another

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


def describe(
    state: ProcessState, exceptions: list[dict[str, Any]], erp: ErpState | None = None
) -> dict[str, Any]:
    """The operator's view of an instance (no patient reference is kept in the state); `erp`:
    what the ERP did with its commands (s2c.tables.erp_status), None before any was read."""
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
        "deviations": [
            {"kind": d.kind, "event_id": d.event_id, "at": d.at} for d in state.deviations
        ],
        "exceptions": exceptions,
        "erp": summary(erp),
    }


def _json(
    view: View, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return view.bytes(
        json.dumps(body, default=json_default, indent=1).encode(),
        content_type="application/json",
        status=status,
        headers=headers,
    )


def token_check(token: str, users: dict[str, str] | None = None) -> Any:
    """`refused(view, request)`: None when the request may pass, else the 401 to answer. The
    shared token passes, and so does a named user's (workitems.load_users)."""
    expected = f"Bearer {token}".encode()

    def refused(view: View, request: Request) -> Response | None:
        if not token:
            return None
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), expected):
            return None
        if users and user_of(given, users) is not None:
            return None
        challenge = {"WWW-Authenticate": 'Bearer realm="s2c"'}
        return _json(view, {"error": "a bearer token is needed"}, 401, challenge)

    return refused


def attach_api(t: Topology) -> None:
    app: faust.App = t.app
    processes, exceptions = t.tables["processes"], t.tables["process_exceptions"]
    links, unlinked = t.tables["links"], t.tables["link_exceptions"]
    erp_states, erp_raised = t.tables["erp_commands"], t.tables["erp_exceptions"]
    facts_table = t.tables["erp_facts"]
    # page order: process items first, then link items, then the ERP keeper's
    kept = [rows_from(exceptions), rows_from(unlinked), rows_from(erp_raised)]
    upstreams = stage_upstreams(t)
    waiting = {  # the events each stage holds for its watermark (read-only, over the tables)
        t.topics.link.name: Reorder(t.tables["link_timers"]),
        t.topics.process.name: Reorder(t.tables["process_timers"]),
    }
    token = t.settings.api_token.get_secret_value()
    users = load_users(str(t.settings.api_users_file or ""))
    refused = token_check(token, users)
    here = URL(str(app.conf.canonical_url))

    def is_me(url: Any) -> bool:
        there = URL(str(url))
        return (there.host, there.port) == (here.host, here.port)

    def watermarks(owned: list[Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for tp in owned:
            if tp.topic in upstreams:
                _, upstream = upstreams[tp.topic]
                marks, at = upstream.marks(tp.partition), upstream.watermark(tp.partition)
                found[f"{tp.topic}[{tp.partition}]"] = {
                    "watermark": None if at is None else iso(at),
                    "held_by": held_by(marks, upstream.sources),
                    "events_waiting": waiting[tp.topic].count(tp.partition),
                }
        return found

    async def ask(url: str, request: Request) -> tuple[int, Any]:
        """GET `url` from another worker with the caller's credentials."""
        headers = {"Authorization": request.headers.get("Authorization", "")} if token else {}
        async with app.http_client.get(url, headers=headers, timeout=PEER_TIMEOUT) as response:
            return response.status, json.loads(await response.text())

    def from_owner_url(table: str, key: bytes) -> str | None:
        """None when this worker owns `key` in `table`, else the owner's base URL."""
        try:
            owner = app.router.key_store(table, key)
        except KeyError:
            raise ServiceUnavailable() from None
        return None if is_me(owner) else str(owner).rstrip("/")

    async def from_owner(table: str, key: bytes, path: str, request: Request) -> Any:
        """None when this worker owns `key` in `table`, else the owner's answer to `path`."""
        try:
            owner = app.router.key_store(table, key)
        except KeyError:
            raise ServiceUnavailable() from None
        if is_me(owner):
            return None
        return await ask(f"{str(owner).rstrip('/')}{path}", request)

    def instance(view: View, process_id: str) -> Response:
        stored = processes.get(process_id.encode())
        if stored is None:
            return _json(view, {"error": f"no process instance {process_id}"}, status=404)
        state = ProcessState.from_dict(json.loads(stored))
        raw = process_id.encode()
        raised = json.loads(exceptions.get(raw) or b"[]") + json.loads(erp_raised.get(raw) or b"[]")
        erp_stored = erp_states.get(raw)
        erp = None if erp_stored is None else ErpState.from_dict(json.loads(erp_stored))
        shown = describe(state, raised, erp)
        shown["reconciliation"] = reconciliation_of(raw)
        return _json(view, shown)

    def reconciliation_of(raw: bytes) -> list[dict[str, Any]]:
        """The instance's mismatches now (reconciliation.py), [] before any command or when
        this worker has not seen a command's business time yet."""
        live, stored = t.erp.live, facts_table.get(raw)
        if stored is None or live.latest is None:
            return []
        found = live.judge(raw, live.facts_of(raw, stored), live.latest)
        return [m.to_record() for m in found]

    async def linked_instance(view: View, request: Request, account_ref: str) -> Response:
        remote = await from_owner(
            "links", account_ref.encode(), f"/process/by-account/{account_ref}/", request
        )
        if remote is not None:
            return _json(view, remote[1], status=remote[0])
        stored = links.get(account_ref.encode())
        process_id = LinkState.from_dict(json.loads(stored)).process_id if stored else None
        if process_id is None:
            return _json(view, {"error": "no process instance is linked to that account"}, 404)
        remote = await from_owner(
            "processes", process_id.encode(), f"/process/{process_id}/", request
        )
        if remote is not None:
            return _json(view, remote[1], status=remote[0])
        return instance(view, process_id)

    @app.page("/health/")
    class Health(View):
        async def get(self, request: Request) -> Response:
            owned = sorted(app.assignor.assigned_actives())
            assigned = [f"{tp.topic}[{tp.partition}]" for tp in owned]
            stalled = sorted(
                f"{tp.topic}[{tp.partition}]" for tp in t.stalls.stalled(time.monotonic())
            )
            marks = watermarks(owned)
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
                    "watermarks": marks,
                    # events held until their watermark passes them: not consumer lag, so a
                    # pipeline is drained only once this is 0 too (s2c verify, s2c demo)
                    "events_waiting": sum(m["events_waiting"] for m in marks.values()),
                },
                status=200 if status == "ok" else 503,
            )

    @app.page("/process/{process_id}/")
    class Process(View):
        async def get(self, request: Request, process_id: str) -> Response:
            if (answer := refused(self, request)) is not None:
                return answer
            try:
                return await app.router.route_req(
                    "processes", process_id.encode(), self.web, request
                )
            except SameNode:
                return instance(self, process_id)

    @app.page("/process/by-account/{account_ref}/")
    class ByAccountRef(View):
        async def get(self, request: Request, account_ref: str) -> Response:
            if (answer := refused(self, request)) is not None:
                return answer
            return await linked_instance(self, request, account_ref)

    @app.page("/process/by-account/")
    class ByAccountNumber(View):
        async def post(self, request: Request) -> Response:
            if not token:
                error = "finding an instance by account number needs S2C_API_TOKEN set"
                return _json(self, {"error": error}, status=403)
            if (answer := refused(self, request)) is not None:
                return answer
            try:
                account = (await request.json())["account_number"]
            except (ValueError, KeyError, TypeError):
                account = None
            if not isinstance(account, str) or not account:
                error = 'the body must be {"account_number": "..."}'
                return _json(self, {"error": error}, status=400)
            return await linked_instance(self, request, t.ids.account_ref(account))

    @app.page("/reconciliation/")
    class Reconciliation(View):
        async def get(self, request: Request) -> Response:
            """Every instance's reconciliation facts, from every worker (`scope=local`: this
            worker's), for `s2c reconcile --live`; with `latest`, each worker's business now."""
            if (answer := refused(self, request)) is not None:
                return answer
            live = t.erp.live
            found = list(live.local_facts())
            latest = [iso(live.latest)] if live.latest is not None else []
            if request.query.get("scope") != "local":
                for url in app.router.tables_metadata():
                    if is_me(url):
                        continue
                    there = f"{str(url).rstrip('/')}/reconciliation/?scope=local"
                    status, body = await ask(there, request)
                    if status != 200:
                        return _json(self, {"error": f"a worker answered {status}"}, status=502)
                    found.extend(body["instances"])
                    latest.extend(body["latest"])
            return _json(self, {"count": len(found), "latest": latest, "instances": found})

    @app.page("/exceptions/")
    class Exceptions(View):
        async def get(self, request: Request) -> Response:
            if (answer := refused(self, request)) is not None:
                return answer
            query = request.query
            try:
                limit = page_limit(query.get("limit"))
                after = decode_cursor(query.get("after"))
                wanted = page_filter(query)
            except BadPage as exc:
                return _json(self, {"error": str(exc)}, status=400)
            # One more than a page from each worker tells whether there is a next page.
            found, upto = local_matching(kept, after, limit + 1, wanted)
            if query.get("scope") == "local":
                return _json(self, {"items": found, "upto": upto})
            stops = [upto]
            for url in app.router.tables_metadata():
                if is_me(url):
                    continue
                params = f"scope=local&limit={limit}{wanted.query()}" + (
                    f"&after={query['after']}" if after else ""
                )
                status, body = await ask(f"{str(url).rstrip('/')}/exceptions/?{params}", request)
                if status != 200:
                    return _json(self, {"error": f"a worker answered {status}"}, status=502)
                found.extend((tuple(position), item) for position, item in body["items"])
                stops.append(tuple(body["upto"]) if body.get("upto") else None)
            items, cursor = page(found, limit, stops)
            return _json(self, {"count": len(items), "exceptions": items, "next": cursor})

    attach_actions(t, users, _json, from_owner_url)
