"""Work items with a life (streams/topology/workitems.py): states and who moved them, the tally
behind the open-items gauge and its age buckets, the named API users, and `/exceptions/`
filters walking the cursor pages (worklist.py) without losing or repeating an item."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from s2c.streams.demo_summary import work_items
from s2c.streams.topology import workitems
from s2c.streams.topology.worklist import (
    MAX_SCANNED,
    BadPage,
    decode_cursor,
    local_matching,
    page,
    page_filter,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def item(n: int, kind: str = "DENIAL", hours_ago: float = 2, site: str = "RIVERSIDE") -> dict:
    return {
        "exception_id": f"item-{n}",
        "process_id": "CASE-C-1001",
        "kind": kind,
        "reason": "CO-50 denied by payer AETNA-COMM",
        "raised_at": (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z"),
        "site_id": site,
        "resolves_exception_id": None,
    }


def notice(n: int, resolves: str) -> dict:
    return {
        **item(n),
        "reason": "the payer paid the denied claim",
        "resolves_exception_id": resolves,
    }


def action(name: str, by: str = "mhernandez", reason: str = "appeal filed") -> dict:
    return {"exception_id": "item-1", "action": name, "by": by, "at": "t", "reason": reason}


def test_an_item_goes_open_acknowledged_resolved_and_stays_resolved() -> None:
    kept = workitems.keep([], [item(1)])
    assert workitems.state_of(kept[0]) == "open"
    workitems.act(kept, action("acknowledge"))
    assert kept[0]["state"] == "acknowledged"
    assert kept[0]["acknowledged"] == {"by": "mhernandez", "at": "t", "reason": "appeal filed"}
    workitems.act(kept, action("resolve", by="jokafor", reason="paid on appeal"))
    assert kept[0]["state"] == "resolved" and kept[0]["resolved"]["by"] == "jokafor"
    before = json.dumps(kept)
    workitems.act(kept, action("acknowledge", by="someone-else"))  # too late: changes nothing
    workitems.act(kept, action("resolve", by="someone-else"))  # twice: changes nothing
    assert json.dumps(kept) == before


def test_an_unknown_item_is_not_acted_on() -> None:
    kept = workitems.keep([], [item(2)])
    assert workitems.act(kept, action("resolve")) is None
    assert workitems.state_of(kept[0]) == "open"


def test_a_notice_resolves_the_item_it_names_and_is_kept_resolved() -> None:
    kept = workitems.keep([], [item(1), item(2)])
    kept = workitems.keep(kept, [notice(3, "item-1")])
    assert [workitems.state_of(i) for i in kept] == ["resolved", "open", "resolved"]
    assert kept[0]["resolved"]["by_exception_id"] == "item-3"


def test_items_kept_before_states_existed_read_as_open_or_resolved_notices() -> None:
    assert workitems.state_of(item(1)) == "open"
    assert workitems.state_of(notice(2, "item-1")) == "resolved"


def test_the_tally_counts_unresolved_items_and_moves_back_to_nothing() -> None:
    kept = workitems.keep([], [item(1), item(2, kind="TIE_OUT")])
    moves = workitems.moves([], kept)
    assert sum(moves.values()) == 2
    assert all(slot.startswith("WORK|") and "CASE-C" not in slot for slot in moves)
    acked = json.loads(json.dumps(kept))
    workitems.act(acked, action("acknowledge"))
    moved = workitems.moves(kept, acked)
    assert sorted(moved.values()) == [-1, 1]  # from open to acknowledged, same kind and minute
    resolved = workitems.keep(json.loads(json.dumps(acked)), [notice(3, "item-1")])
    total = workitems.tally(resolved)
    assert list(total) == [next(s for s in moves if "TIE_OUT" in s)]


@pytest.mark.parametrize(
    ("hours_ago", "bucket"),
    [(0.5, "<1h"), (1, "<1d"), (23.9, "<1d"), (24, "<7d"), (24 * 7, ">=7d")],
)
def test_age_buckets(hours_ago: float, bucket: str) -> None:
    assert workitems.age_bucket(hours_ago * 3600) == bucket


def test_the_gauge_sums_by_kind_state_site_and_age() -> None:
    kept = workitems.keep(
        [], [item(1, hours_ago=0.2), item(2, hours_ago=30), item(3, hours_ago=31)]
    )
    found = workitems.open_by_age(workitems.tally(kept), NOW)
    assert found == {
        ("DENIAL", "open", "RIVERSIDE", "<1h"): 1,
        ("DENIAL", "open", "RIVERSIDE", "<7d"): 2,
    }


def test_users_file_holds_digests_and_finds_the_user_of_a_token(tmp_path: Path) -> None:
    token = "riverside-billing-lead-token"
    users = tmp_path / "users"
    digest = hashlib.sha256(token.encode()).hexdigest()
    users.write_text(f"# who may close work items\nmhernandez:{digest}\n\n")
    known = workitems.load_users(str(users))
    assert known == {"mhernandez": digest} and token not in users.read_text()
    assert workitems.user_of(f"Bearer {token}", known) == "mhernandez"
    assert workitems.user_of("Bearer another-token", known) is None
    assert workitems.user_of(token, known) is None  # not a bearer header
    users.write_text("mhernandez:plaintext-token\n")
    with pytest.raises(ValueError, match=":1:"):
        workitems.load_users(str(users))


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90", 90), ("15m", 900), ("1h", 3600), ("2d", 172800)]
)
def test_min_age_reads_seconds_or_units(raw: str, seconds: int) -> None:
    assert workitems.parse_age(raw) == seconds


@pytest.mark.parametrize(
    "query",
    [{"state": "closed"}, {"kind": "NOT_A_KIND"}, {"min_age": "a week"}, {"min_age": "-1h"}],
)
def test_a_wrong_filter_is_a_bad_page(query: dict) -> None:
    with pytest.raises(BadPage):
        page_filter(query)


def rows(store: dict[bytes, bytes]):
    def from_key(start: bytes) -> Iterator[tuple[bytes, bytes]]:
        yield from sorted((k, v) for k, v in store.items() if k >= start)

    return from_key


def test_filtered_pages_walk_every_match_once_in_page_order() -> None:
    """30 instances, every third with an old acknowledged denial at North Campus: the filter
    pages give exactly those, in key order, whatever the page size."""
    store: dict[bytes, bytes] = {}
    wanted = []
    for n in range(30):
        site, hours = ("NORTH", 50.0) if n % 3 == 0 else ("RIVERSIDE", 0.5)
        kept = workitems.keep([], [item(n, site=site, hours_ago=hours), item(100 + n)])
        if n % 3 == 0:
            kept[0]["state"] = "acknowledged"
            wanted.append(kept[0]["exception_id"])
        store[f"CASE-C-{n:03d}".encode()] = json.dumps(kept).encode()
    the_filter = page_filter({"state": "acknowledged", "site": "NORTH", "min_age": "1d"})
    for limit in (1, 3, 100):
        got, after = [], None
        while True:
            found, upto = local_matching([rows(store)], after, limit + 1, the_filter, NOW)
            items, cursor = page(found, limit, [upto])
            got += [i["exception_id"] for i in items]
            assert all(i["state"] == "acknowledged" and i["stage"] == "process" for i in items)
            if cursor is None:
                break
            after = decode_cursor(cursor)
        assert got == wanted, limit


def test_a_filtered_request_reads_a_bounded_slice_and_says_where_it_stopped() -> None:
    store = {
        f"CASE-C-{n:05d}".encode(): json.dumps([item(n)]).encode() for n in range(MAX_SCANNED + 5)
    }
    store[b"CASE-C-99999"] = json.dumps([item(99999, kind="TIE_OUT")]).encode()
    the_filter = page_filter({"kind": "TIE_OUT"})
    found, upto = local_matching([rows(store)], None, 11, the_filter, NOW)
    assert found == [] and upto == (f"CASE-C-{MAX_SCANNED - 1:05d}", 0, 0)
    items, cursor = page(found, 10, [upto])
    assert items == [] and decode_cursor(cursor) == upto
    found, upto = local_matching([rows(store)], decode_cursor(cursor), 11, the_filter, NOW)
    assert [i["exception_id"] for _, i in found] == ["item-99999"] and upto is None


def test_summaries_count_items_by_kind_and_notices_apart() -> None:
    records = [item(1), item(2, kind="TIE_OUT"), notice(3, "item-1")]
    assert work_items(records) == [
        "work-queue exceptions:",
        f"  {'DENIAL':24} {1:>7}",
        f"  {'TIE_OUT':24} {1:>7}",
        f"  {'resolved by an event':24} {1:>7}",
    ]
