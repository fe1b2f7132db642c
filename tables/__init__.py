"""The pure schedule-to-cash core: state models and transitions, no Faust, no I/O, no clock.

Two keyed stages, each a pair of pure functions the Faust agents wrap as thin adapters:
- LINK (key: the account's pseudonym, `ids.IdKey.account_ref`): `link.link_transition`, `link.link_on_deadline` over `LinkState`;
- PROCESS (key: process id): `core.transition`, `core.on_deadline`, `core.retry_parked` over
  `ProcessState`, posting ERP commands with master data read through `master.MasterData`.
`routing` says which stage an event goes to; `replay.Pipeline` runs both in memory.
"""

from s2c.tables.core import next_deadline, on_deadline, retry_parked, transition, waiting_for_master
from s2c.tables.events import Event, event_from_record
from s2c.tables.link import LinkState, link_on_deadline, link_transition
from s2c.tables.master import DictMasterData, MasterData, lookup_keys
from s2c.tables.process import ProcessState
from s2c.tables.routing import Route, process_id_of, route, unroutable
from s2c.tables.vocabulary import ProcessStage

__all__ = [
    "DictMasterData",
    "Event",
    "LinkState",
    "MasterData",
    "ProcessStage",
    "ProcessState",
    "Route",
    "event_from_record",
    "link_on_deadline",
    "link_transition",
    "lookup_keys",
    "next_deadline",
    "on_deadline",
    "process_id_of",
    "retry_parked",
    "route",
    "transition",
    "unroutable",
    "waiting_for_master",
]
