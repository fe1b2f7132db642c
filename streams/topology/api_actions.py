"""A person's action on a work item: `POST /exceptions/{exception_id}/acknowledge` and `/resolve`.

Body: `{"key": "<the item's key>", "stage": "process" | "link", "reason": "..."}`, with `key`
and `stage` as `/exceptions/` lists them (`stage` defaults to `process`) and `reason` required
to resolve (at most `MAX_REASON` characters; it is an operator's note: no patient data). Only a
named user may act (`S2C_API_USERS_FILE`, workitems.load_users): 403 when no users are
configured, 401 for no token, the shared token or an unknown one.

The request goes to the worker that owns the key in the item's table (as `/process/` does); that
worker checks the item is kept, then publishes the action as a control record on the stage's
topic, keyed like the item, for the agent that writes the table to apply (workitems.py): 202
with the item as it will be. An item already where the action would take it (or resolved)
answers 200, unchanged and nothing published, so repeating a call is harmless; the agent also
ignores an action that arrives twice. The action is not published on `s2c.ops`: it changes the
work queue's view of an item, not a business fact the ERP or the reports count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from faust.web import Request, Response, View

from s2c.streams.topology.context import CONTROL_HEADER, Topology
from s2c.streams.topology.workitems import (
    ACTIONS,
    WORK_ITEM_CONTROL,
    act,
    state_of,
    user_of,
)
from s2c.tables.codec import dumps_bytes, iso

MAX_REASON = 500
TABLES = {"process": "process_exceptions", "link": "link_exceptions", "erp": "erp_exceptions"}
PEER_TIMEOUT = aiohttp.ClientTimeout(total=10)  # one worker asking another


def action_of(body: Any, action: str) -> tuple[str, str, str] | str:
    """`(key, stage, reason)` from a request body, or what is wrong with it."""
    if not isinstance(body, dict):
        return 'the body must be {"key": "...", "stage": "process", "reason": "..."}'
    key, stage, reason = body.get("key"), body.get("stage", "process"), body.get("reason", "")
    if not isinstance(key, str) or not key:
        return "key (the item's key, as /exceptions/ lists it) is required"
    if stage not in TABLES:
        return "stage must be process, link or erp"
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        return f"reason must be text of at most {MAX_REASON} characters"
    if action == "resolve" and not reason.strip():
        return "reason is required to resolve a work item"
    return key, stage, reason.strip()


def attach_actions(
    t: Topology,
    users: dict[str, str],
    answer: Callable[..., Response],
    owner_url: Callable[[str, bytes], str | None],
) -> None:
    app = t.app
    topics = {"process": t.topics.process.name, "link": t.topics.link.name}

    async def forward(url: str, request: Request, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": request.headers.get("Authorization", "")}
        async with app.http_client.post(
            url, json=body, headers=headers, timeout=PEER_TIMEOUT
        ) as response:
            return response.status, json.loads(await response.text())

    @app.page("/exceptions/{exception_id}/{action}")
    class WorkItemAction(View):
        async def post(self, request: Request, exception_id: str, action: str) -> Response:
            if action not in ACTIONS:
                return answer(self, {"error": "the actions are acknowledge and resolve"}, 404)
            if not users:
                error = "acting on work items needs named users (S2C_API_USERS_FILE)"
                return answer(self, {"error": error}, 403)
            user = user_of(request.headers.get("Authorization", ""), users)
            if user is None:
                challenge = {"WWW-Authenticate": 'Bearer realm="s2c"'}
                return answer(self, {"error": "a named user's token is needed"}, 401, challenge)
            try:
                body = await request.json()
            except ValueError:
                body = None
            parsed = action_of(body, action)
            if isinstance(parsed, str):
                return answer(self, {"error": parsed}, 400)
            key, stage, reason = parsed
            owner = owner_url(TABLES[stage], key.encode())
            if owner is not None:
                status, found = await forward(
                    f"{owner}/exceptions/{exception_id}/{action}", request, body
                )
                return answer(self, found, status)
            kept = json.loads(t.tables[TABLES[stage]].get(key.encode()) or b"[]")
            item = next((i for i in kept if i.get("exception_id") == exception_id), None)
            if item is None:
                return answer(self, {"error": f"no work item {exception_id} kept for {key}"}, 404)
            if state_of(item) in ("resolved", ACTIONS[action]):
                return answer(self, {"changed": False, "item": item}, 200)
            record = {
                "exception_id": exception_id,
                "action": action,
                "by": user,
                "at": iso(datetime.now(UTC)),
                "reason": reason,
            }
            if stage == "erp":
                # The ERP keeper reads only the ERP's topics: it applies the action here, under
                # its lock, and commits it to its changelog before answering (erp.py `act`).
                await t.erp.act(key, record)
            else:
                t.outbox.send(
                    topics[stage],
                    key.encode(),
                    dumps_bytes(record),
                    headers=[(CONTROL_HEADER, WORK_ITEM_CONTROL)],
                )
                await t.outbox.drain()
            act([item], record)
            return answer(self, {"changed": True, "item": item}, 202)
