"""Work items with a life on the real stack: fixed by the business, or closed by a named person.

Three knee arthroscopies at Riverside for Aetna go through one `s2c worker`:
- C-1001: Aetna denies the claim, then pays it on a later remittance: the DENIAL closes itself;
- C-3001: a suture anchor not on Dr Okafor's preference card is used (TIE_OUT), then the account
  is paid and adjusted to a zero balance: the item closes when the account ties out;
- C-3002: the clearinghouse rejects the claim; Maria Hernandez (billing lead, her own token in
  the users file) acknowledges it, then resolves it with a reason, through the API.
`/exceptions/` filtered by state, kind, site and age shows each in the right state with who and
why, the gauge of open items follows the CLAIM_REJECTED item from open to acknowledged to gone,
and an action without a named user's token is refused. A second worker joins before the
actions, so one of them is answered by forwarding to the worker that owns the item.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))  # the core tests' small world

from core_world import (  # noqa: E402
    DAY,
    SURGERY_DAY,
    Feed,
    denial,
    knee_case_through_claim,
    paid_knee_case,
    payment,
)
from stackkit import PipelineEnv, WorkerProcess, wait_for  # noqa: E402
from test_topology import publish  # noqa: E402

pytestmark = pytest.mark.integration

SHARED = "riverside-ops-shared-token"
MARIA = "maria-hernandez-token"
REMIT = SURGERY_DAY + 20 * DAY


def call(base: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


def items(base: str, query: str) -> list[dict[str, Any]]:
    status, page = call(base, f"/exceptions/?{query}", SHARED)
    assert status == 200, page
    return page["exceptions"]


def open_gauge(*workers: WorkerProcess) -> dict[tuple[str, str, str], float]:
    """`s2c_open_work_items` at Riverside, summed over the workers' /metrics pages."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[tuple[str, str, str], float] = {}
    for worker in workers:
        with urllib.request.urlopen(worker.metrics_url, timeout=5) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "s2c_open_work_items" and s.labels.get("site") == "RIVERSIDE":
                    labels = (s.labels["kind"], s.labels["state"], s.labels["age"])
                    found[labels] = found.get(labels, 0) + s.value
    return found


def shared_out(*workers: WorkerProcess) -> bool:
    """Every worker ready and owning some partitions (the rebalance is over)."""
    for worker in workers:
        url = worker.metrics_url.replace("/metrics", "/health/")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                health = json.load(answer)
        except OSError:
            return False
        if health["status"] != "ok" or not health["assigned"]:
            return False
    return True


def acted(base: str, path: str, body: dict[str, Any]) -> bool:
    """Maria's call answered (202, or 200 once applied); a 503 while partitions move is retried."""
    status, answer = call(base, path, MARIA, body)
    assert status in (200, 202, 503), (status, answer)
    return status != 503


def closed_item(listed: dict[str, Any]) -> dict[str, Any]:
    """An item as its table keeps it: the listing adds where it is kept."""
    return {k: v for k, v in listed.items() if k not in ("key", "stage")}


def histories() -> list:
    feed = Feed("workitems")
    denied_then_paid = [
        *knee_case_through_claim(feed),
        denial(feed, REMIT, "6800.00"),
        payment(feed, REMIT + 30 * DAY, "4200.00", remittance_id="ERA-2"),
    ]
    off_card = paid_knee_case(feed, 1, "4200.00")
    off_card.insert(
        4,
        feed(
            "CaseCompleted",
            SURGERY_DAY + 3,
            case_id="C-3001",
            actual_minutes=80,
            supplies_used=[{"item_id": "SUTURE-ANCHOR", "quantity": 2}],
        ),
    )
    off_card.append(  # the contractual write-off: the account ties out
        feed(
            "AdjustmentPosted",
            SURGERY_DAY + 21 * DAY,
            adjustment_id="ADJ-3001",
            account_number="ACCT-8001",
            claim_id="CLM-3001",
            payer_id="AETNA-COMM",
            group_code="CO",
            carc="45",
            rarc=None,
            amount="2600.00",
        )
    )
    rejected = paid_knee_case(feed, 2, "4200.00")[:-1]  # billed, not paid
    rejected.append(
        feed(
            "ClaimRejected",
            SURGERY_DAY + 3 * DAY,
            claim_id="CLM-3002",
            account_number="ACCT-8002",
            status_category="A7",
            status_code="21",
            reason="Missing or invalid information",
        )
    )
    return [*denied_then_paid, *off_card, *rejected]


def test_items_close_by_their_fix_or_by_a_named_user(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    users = tmp_path / "api-users"
    users.write_text(f"mhernandez:{hashlib.sha256(MARIA.encode()).hexdigest()}\n")
    worker = pipeline_env.worker(S2C_API_TOKEN=SHARED, S2C_API_USERS_FILE=str(users))
    worker.start().wait_ready()
    base = worker.metrics_url.removesuffix("/metrics")
    publish(pipeline_env, histories())

    def kind(name: str, state: str) -> list[dict[str, Any]]:
        return items(base, f"kind={name}&state={state}&site=RIVERSIDE")

    try:
        fixed = wait_for(
            lambda: (
                (kind("DENIAL", "resolved"), kind("TIE_OUT", "resolved"))
                if len(kind("DENIAL", "resolved")) == 2 and len(kind("TIE_OUT", "resolved")) == 2
                else None
            ),
            120,
            "the DENIAL and the TIE_OUT to be resolved by their fixing events",
        )
    except AssertionError as late:
        kept = [(i["kind"], i["state"], i["reason"]) for i in items(base, "")]
        raise AssertionError(f"{late}; kept: {kept}\n{worker.log_tail()}") from None
    for resolved in fixed:  # the item and the notice that closed it
        item, notice = sorted(resolved, key=lambda i: i["resolves_exception_id"] is not None)
        assert notice["resolves_exception_id"] == item["exception_id"]
        assert item["resolved"]["by_exception_id"] == notice["exception_id"]
    assert {i["event_type"] for i in fixed[0]} == {"DenialReceived", "PaymentPosted"}
    assert "ties out" in fixed[1][1]["reason"]

    (rejection,) = wait_for(
        lambda: kind("CLAIM_REJECTED", "open"), 60, "the CLAIM_REJECTED item to be kept"
    )
    wait_for(
        lambda: open_gauge(worker).get(("CLAIM_REJECTED", "open", ">=7d")) == 1,
        30,
        "the open-items gauge to count the rejection",
    )
    assert ("DENIAL", "open", ">=7d") not in open_gauge(worker)

    # A second worker shares the partitions: one of the two calls below reaches a worker that
    # does not own the item's key and goes on to the one that does.
    second = pipeline_env.worker("w2", S2C_API_TOKEN=SHARED, S2C_API_USERS_FILE=str(users))
    other = second.start().wait_ready().metrics_url.removesuffix("/metrics")
    wait_for(lambda: shared_out(worker, second), 120, "both workers to own partitions")
    action = f"/exceptions/{rejection['exception_id']}"
    body = {"key": rejection["key"], "stage": rejection["stage"], "reason": "fixing the NPI"}
    assert call(other, f"{action}/acknowledge", SHARED, body)[0] == 401  # not a named user
    wait_for(lambda: acted(other, f"{action}/acknowledge", body), 60, "the acknowledgement")
    wait_for(
        lambda: kind("CLAIM_REJECTED", "acknowledged"), 30, "the acknowledgement to be applied"
    )
    wait_for(
        lambda: open_gauge(worker, second).get(("CLAIM_REJECTED", "acknowledged", ">=7d")) == 1,
        30,
        "the gauge to count the rejection as acknowledged",
    )
    body["reason"] = "resubmitted on paper, payer confirmed receipt"
    wait_for(lambda: acted(base, f"{action}/resolve", body), 60, "the resolution")
    (closed,) = wait_for(
        lambda: kind("CLAIM_REJECTED", "resolved"), 30, "the resolution to be applied"
    )
    assert closed["acknowledged"]["by"] == closed["resolved"]["by"] == "mhernandez"
    assert closed["resolved"]["reason"] == "resubmitted on paper, payer confirmed receipt"
    for again in (base, other):  # again, through either worker: nothing changes
        assert call(again, f"{action}/resolve", MARIA, body) == (
            200,
            {"changed": False, "item": closed_item(closed)},
        )

    assert items(base, "state=open") == []
    assert len(items(base, "state=resolved&min_age=7d")) == 5  # raised in March 2026
    assert items(base, "state=resolved&site=NORTH") == []
    wait_for(
        lambda: not any(k[0] == "CLAIM_REJECTED" for k in open_gauge(worker, second)),
        30,
        "the gauge to drop the resolved rejection",
    )
    for running in (worker, second):
        assert running.proc is not None and running.proc.poll() is None, running.log_tail()
