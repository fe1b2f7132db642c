"""Work items with a life: open, acknowledged, resolved; who acted; the tallies behind the gauges.

A kept work item (worklist.py) is its `WorkQueueException` record plus `state`:

- `open` when raised;
- `acknowledged` when a person says they are on it (`acknowledged`: by, at, reason);
- `resolved` when a resolution notice of the core arrives (`resolves_exception_id`: the fixing
  event, see s2c.tables.workitems) or a person resolves it (`resolved`: by, at, reason; a notice
  records `by_exception_id` instead of `by`). A notice is kept too, already `resolved`.

A person's action (`act`) travels as a control record on the stage topic of the item's key, so
the one agent that writes the item's table applies it (durable in the changelog, in step with
the items raised there); acting twice changes nothing. Items kept before this module have no
`state`: open, or resolved when they are notices.

Tallies: per partition, the unresolved items by kind, state, site and the minute they were
raised (`WORK|kind|state|site|minute`), moved by each change of a key's kept items, a slot gone
at zero (so never more slots than unresolved items kept); the telemetry turns the minute into
an age bucket at each sample. No process id, account or patient in any label.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from s2c.tables.codec import to_datetime

STATES = ("open", "acknowledged", "resolved")
ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved"}
WORK_ITEM_CONTROL = b"work-item"  # the control header's value of a person's action
SLOT = "WORK"
AGE_BUCKETS = ((3600, "<1h"), (86400, "<1d"), (7 * 86400, "<7d"))
OLDEST_BUCKET = ">=7d"
_AGE = re.compile(r"^(\d+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def state_of(item: dict[str, Any]) -> str:
    return item.get("state") or ("resolved" if item.get("resolves_exception_id") else "open")


def keep(kept: list[dict[str, Any]], raised: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`kept` with the newly `raised` records appended, each with its state; a notice closes the
    item it names (when it is still kept)."""
    for record in raised:
        record = {**record, "state": state_of(record)}
        target = record.get("resolves_exception_id")
        if target is not None:
            for item in kept:
                if item.get("exception_id") == target and state_of(item) != "resolved":
                    item["state"] = "resolved"
                    item["resolved"] = {
                        "by_exception_id": record["exception_id"],
                        "at": record["raised_at"],
                        "reason": record["reason"],
                    }
        kept.append(record)
    return kept


def act(kept: list[dict[str, Any]], action: dict[str, Any]) -> dict[str, Any] | None:
    """Apply a person's action (`exception_id`, `action`, `by`, `at`, `reason`) to the item in
    `kept`; the item, or None when it is not kept. Changes nothing when the item is already
    where the action would take it (or resolved, for an acknowledgement)."""
    for item in kept:
        if item.get("exception_id") != action["exception_id"]:
            continue
        target, now = ACTIONS[action["action"]], state_of(item)
        if now == "resolved" or now == target:
            return item
        item["state"] = target
        item[target] = {"by": action["by"], "at": action["at"], "reason": action["reason"]}
        return item
    return None


def tally(kept: list[dict[str, Any]]) -> Counter[str]:
    """The unresolved items of one key as tally slots (`WORK|kind|state|site|minute`)."""
    found: Counter[str] = Counter()
    for item in kept:
        state = state_of(item)
        if state == "resolved":
            continue
        minute = int(to_datetime(item["raised_at"]).timestamp()) // 60
        found[f"{SLOT}|{item['kind']}|{state}|{item.get('site_id') or 'unknown'}|{minute}"] += 1
    return found


def moves(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, int]:
    """How a key's change of kept items moves the partition's tally."""
    delta = tally(after)
    delta.subtract(tally(before))
    return {slot: n for slot, n in delta.items() if n}


def age_bucket(seconds: float) -> str:
    for bound, label in AGE_BUCKETS:
        if seconds < bound:
            return label
    return OLDEST_BUCKET


def open_by_age(slots: dict[str, int], now: datetime) -> Counter[tuple[str, str, str, str]]:
    """Sum the work-item slots of a tally into (kind, state, site, age bucket) at wall-clock
    `now`; other slots (stages, parked events) are left out."""
    found: Counter[tuple[str, str, str, str]] = Counter()
    for slot, n in slots.items():
        parts = slot.split("|")
        if parts[0] == SLOT and len(parts) == 5 and n > 0:
            _, kind, state, site, minute = parts
            found[(kind, state, site, age_bucket(now.timestamp() - int(minute) * 60))] += n
    return found


def parse_age(raw: str) -> int:
    """`min_age` as seconds: a whole number of seconds, or with a unit (`90m`, `1h`, `2d`)."""
    match = _AGE.match(raw.strip())
    if match is None:
        raise ValueError("min_age must be seconds or a number with s, m, h or d (1h, 2d)")
    return int(match[1]) * _UNIT[match[2]]


@dataclass(frozen=True)
class Filter:
    """What `/exceptions/?state=&kind=&site=&min_age=` asks for; every given one must hold."""

    state: str | None = None
    kind: str | None = None
    site: str | None = None
    min_age: int | None = None  # seconds since the item was raised (its business time)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.state, self.kind, self.site, self.min_age))

    def matches(self, item: dict[str, Any], now: datetime) -> bool:
        if self.state is not None and state_of(item) != self.state:
            return False
        if self.kind is not None and item.get("kind") != self.kind:
            return False
        if self.site is not None and item.get("site_id") != self.site:
            return False
        if self.min_age is not None:
            age = now.timestamp() - to_datetime(item["raised_at"]).timestamp()
            return age >= self.min_age
        return True

    def query(self) -> str:
        """The filter as query parameters, for the requests one worker makes to another."""
        pairs = [
            (name, value)
            for name, value in (
                ("state", self.state),
                ("kind", self.kind),
                ("site", self.site),
                ("min_age", self.min_age),
            )
            if value is not None
        ]
        return "".join(f"&{name}={value}" for name, value in pairs)


def load_users(path: str) -> dict[str, str]:
    """`name:sha256-hex-of-token` per line (blank lines and `#` comments skipped); no token in
    clear is ever stored. Raises ValueError naming the line of a malformed entry."""
    users: dict[str, str] = {}
    if not path:
        return users
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, digest = line.partition(":")
        digest = digest.strip().lower()
        if not _NAME.match(name) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"{path}:{number}: expected name:sha256-hex-of-token")
        users[name] = digest
    return users


def user_of(authorization: str, users: dict[str, str]) -> str | None:
    """The name of the user whose token is the bearer token of `authorization`, or None. Every
    user's digest is compared (in constant time), so the answer's timing does not tell which."""
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token:
        return None
    given = hashlib.sha256(token.encode()).hexdigest()
    found = None
    for name, digest in users.items():
        if hmac.compare_digest(given, digest):
            found = name
    return found
