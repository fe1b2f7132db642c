"""The worker's web server as an operator meets it: Faust's raw table pages are gone, the experience
API asks for the bearer token, `/health/` and `/metrics` stay open, an account number finds its
instance only for a caller with the token, and the work queue comes a bounded page at a time.

Riverside's knee arthroscopy (case C-1001, account ACCT-7001) and a walk-in on ACCT-ED-1 are in
the tables as a worker would have left them; the requests go through aiohttp's test client.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agentkit import World
from aiohttp.test_utils import TestClient, TestServer
from core_world import IDS, T0, Feed, encounter_started, knee_case_scheduled
from yarl import URL

from s2c.streams.settings import SecretStr
from s2c.tables.codec import dumps
from s2c.tables.core import transition
from s2c.tables.link import WALK_IN_WAIT, link_on_deadline, link_transition

TOKEN = "riverside-ops-token-not-a-secret"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WALK_IN = "ACCT-ED-1"


@asynccontextmanager
async def served(w: World) -> Any:
    """The worker's web app, with every key owned by this worker (one worker, no broker)."""
    me = URL(str(w.app.conf.canonical_url))
    w.app.router.key_store = lambda table, key: me  # type: ignore[method-assign]
    web = w.app.web
    web.init_server()
    async with TestClient(TestServer(web.web_app)) as client:
        yield client


def store(w: World, table: str, key: str, value: Any) -> None:
    w.t.tables[table].data[key.encode()] = dumps(value).encode()


def walk_in_instance(w: World) -> str:
    """A walk-in emergency visit, linked and started, as the link and process agents store it."""
    master, feed = w.replica.store, Feed("http")
    arrival = encounter_started(feed, account=WALK_IN, case_id=None, department="RIV-ED")
    link, _ = link_transition(None, arrival, T0, IDS)
    link, _ = link_on_deadline(link, arrival.occurred_at + WALK_IN_WAIT)  # no booking came
    process_id = IDS.encounter_process_id(WALK_IN)
    state, _ = transition(None, arrival, master, T0, process_id)
    store(w, "links", link.account_ref, link.to_dict())
    store(w, "processes", process_id, state.to_dict())
    case, _ = transition(None, knee_case_scheduled(feed), master, T0)
    store(w, "processes", case.process_id, case.to_dict())
    return process_id


async def test_faust_table_pages_answer_404(tmp_path: Path) -> None:
    w = World(tmp_path, api_token=SecretStr(TOKEN))
    walk_in_instance(w)
    async with served(w) as client:
        for path in ("/table/", "/table/links/", f"/table/links/{IDS.account_ref(WALK_IN)}/"):
            response = await client.get(path, headers=BEARER)
            assert response.status == 404, path
            assert WALK_IN not in await response.text()
        assert (await client.get("/router/", headers=BEARER)).status == 404


async def test_the_api_needs_the_token_health_and_metrics_do_not(tmp_path: Path) -> None:
    w = World(tmp_path, api_token=SecretStr(TOKEN))
    process_id = walk_in_instance(w)
    async with served(w) as client:
        for path in (f"/process/{process_id}/", "/exceptions/", "/process/by-account/x/"):
            assert (await client.get(path)).status == 401, path
            wrong = {"Authorization": "Bearer riverside-ops-token-not-a-secreT"}
            assert (await client.get(path, headers=wrong)).status == 401, path
        answer = await client.get(f"/process/{process_id}/", headers=BEARER)
        assert answer.status == 200
        assert (await answer.json())["process_id"] == process_id

        health = await client.get("/health/")
        assert health.status == 200
        metrics = await client.get("/metrics")
        assert metrics.status == 200
        assert WALK_IN not in await metrics.text() and process_id not in await metrics.text()


async def test_an_account_number_finds_its_instance_only_with_the_token(tmp_path: Path) -> None:
    w = World(tmp_path, api_token=SecretStr(TOKEN))
    process_id = walk_in_instance(w)
    body = {"account_number": WALK_IN}
    async with served(w) as client:
        assert (await client.post("/process/by-account/", json=body)).status == 401
        found = await client.post("/process/by-account/", json=body, headers=BEARER)
        assert found.status == 200
        assert (await found.json())["process_id"] == process_id
        by_ref = await client.get(
            f"/process/by-account/{IDS.account_ref(WALK_IN)}/", headers=BEARER
        )
        assert (await by_ref.json())["process_id"] == process_id
        unknown = {"account_number": "ACCT-NOBODY"}
        missing = await client.post("/process/by-account/", json=unknown, headers=BEARER)
        assert missing.status == 404 and "ACCT-NOBODY" not in await missing.text()

    open_api = World(tmp_path / "open")  # no S2C_API_TOKEN: the API is open, this search is not
    walk_in_instance(open_api)
    async with served(open_api) as client:
        refused = await client.post("/process/by-account/", json=body)
        assert refused.status == 403
        assert (await client.get(f"/process/{process_id}/")).status == 200


def kept(key: str, cases: list[str]) -> list[dict[str, Any]]:
    return raised(key, 3 if key in cases else 2)


def raised(process_id: str, n: int) -> list[dict[str, Any]]:
    return [{"exception_id": f"{process_id}-{i}", "process_id": process_id} for i in range(n)]


async def test_the_work_queue_comes_in_bounded_pages_in_key_order(tmp_path: Path) -> None:
    w = World(tmp_path, api_token=SecretStr(TOKEN))
    cases = [f"CASE-C-{n}" for n in range(1001, 1008)]
    for case in cases:
        store(w, "process_exceptions", case, raised(case, 3))
    unlinked = IDS.account_ref("ACCT-7999")
    store(w, "link_exceptions", unlinked, raised(unlinked, 2))
    # Page order: by key, bytewise (the process ids and the LINK stage's account pseudonym
    # sorted together), then in the order raised; each item says its state, key and stage.
    everything = [
        {**e, "state": "open", "key": key, "stage": "link" if key == unlinked else "process"}
        for key in sorted([*cases, unlinked])
        for e in kept(key, cases)
    ]

    async with served(w) as client:
        pages, after = [], None
        while True:
            query = "?limit=4" + (f"&after={after}" if after else "")
            answer = await (await client.get(f"/exceptions/{query}", headers=BEARER)).json()
            assert answer["count"] == len(answer["exceptions"]) <= 4
            pages.append(answer["exceptions"])
            after = answer["next"]
            if after is None:
                break
        assert [e for p in pages for e in p] == everything
        assert len(pages) == 6  # 23 items, 4 a page

        first = await (await client.get("/exceptions/", headers=BEARER)).json()
        assert first["count"] == 23 and first["next"] is None  # default limit 100
        for bad in ("limit=0", "limit=1001", "limit=many", "after=not-a-cursor"):
            assert (await client.get(f"/exceptions/?{bad}", headers=BEARER)).status == 400, bad
