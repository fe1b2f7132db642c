"""The work queue's pages (streams/topology/worklist.py): bounded by `limit`, read from the cursor
on, and a cursor that walks every item exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import rocksdict

from s2c.streams.topology.worklist import (
    MAX_LIMIT,
    BadPage,
    decode_cursor,
    local_items,
    page,
    page_limit,
    rows_from,
)

OFFSET_KEY = b"__faust\0offset__"


class RocksStore:
    """What `rows_from` needs of Faust's RocksDB store: one database per active partition."""

    use_rocksdict = True
    offset_key = OFFSET_KEY

    def __init__(self, folder: Path, partitions: int) -> None:
        self.dbs = [
            rocksdict.Rdict(str(folder / f"p{p}"), rocksdict.Options(raw_mode=True))
            for p in range(partitions)
        ]

    def _dbs_for_actives(self) -> list[rocksdict.Rdict]:
        return self.dbs


class Table:
    def __init__(self, store: RocksStore) -> None:
        self.data = store


def items_of(key: str, n: int) -> bytes:
    return json.dumps([{"exception_id": f"{key}/{i}"} for i in range(n)]).encode()


@pytest.fixture
def work_queue(tmp_path: Path) -> Iterator[Table]:
    """2,000 instances with 2 kept work items each, over 4 partitions, and each partition's
    changelog offset key, which is not a work item."""
    store = RocksStore(tmp_path, 4)
    for n in range(2000):
        key = f"CASE-C-{n:05d}"
        store.dbs[n % 4][key.encode()] = items_of(key, 2)
    for db in store.dbs:
        db[OFFSET_KEY] = b"1234"
    yield Table(store)
    for db in store.dbs:
        db.close()


def test_a_page_reads_only_from_the_cursor_on(work_queue: Table) -> None:
    read: list[bytes] = []
    rows = rows_from(work_queue)

    def counted(start: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in rows(start):
            read.append(key)
            yield key, value

    first = local_items([counted], None, 5)
    assert [item["exception_id"] for _, item in first] == [
        "CASE-C-00000/0",
        "CASE-C-00000/1",
        "CASE-C-00001/0",
        "CASE-C-00001/1",
        "CASE-C-00002/0",
    ]
    assert len(read) <= 4  # keys of 5 items, and at most one partition's next key ahead per db
    read.clear()
    later = local_items([counted], ("CASE-C-01500", 0, 1), 3)
    assert [item["exception_id"] for _, item in later] == [
        "CASE-C-01501/0",
        "CASE-C-01501/1",
        "CASE-C-01502/0",
    ]
    assert read[0] == b"CASE-C-01500" and len(read) <= 7  # a seek, not a walk from the start


def test_the_cursor_walks_every_item_once_in_order(work_queue: Table) -> None:
    seen, after = [], None
    for _ in range(1000):
        items, cursor = page(local_items([rows_from(work_queue)], decode_cursor(after), 301), 300)
        assert len(items) <= 300
        seen.extend(item["exception_id"] for item in items)
        if cursor is None:
            break
        after = cursor
    assert seen == [f"CASE-C-{n:05d}/{i}" for n in range(2000) for i in range(2)]


def test_an_item_two_workers_answer_with_is_listed_once(work_queue: Table) -> None:
    """While a partition moves, its old and new owner may both list it; the page and the cursor
    must not repeat an item (seen on 2026-12-06: 9 resolved items listed where 5 were kept)."""
    mine = local_items([rows_from(work_queue)], None, 11)
    theirs = mine[:4]  # the other worker still lists a part of the same partition
    items, cursor = page([*mine, *theirs], 10)
    ids = [item["exception_id"] for item in items]
    assert len(ids) == len(set(ids)) == 10
    assert ids == [item["exception_id"] for _, item in mine[:10]]
    assert cursor is not None


def test_limits_and_cursors_from_outside_are_checked() -> None:
    assert page_limit(None) == 100 and page_limit("1000") == MAX_LIMIT
    for bad in ("0", "1001", "-3", "ten"):
        with pytest.raises(BadPage):
            page_limit(bad)
    for bad in ("abc", "W10", "WyJ4Il0"):  # not base64 JSON, not a list, a list of one
        with pytest.raises(BadPage):
            decode_cursor(bad)
