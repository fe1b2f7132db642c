"""A generated day through the core: no ERP command, breach, work item or metric observation
quotes an account number, not in an id, a key, a memo or a reason. The generator's own ids
(charges, claims, remittances) embed the account number, as CLM01 does in real claims, so this is
the core's doing, not the data's."""

from __future__ import annotations

import re

from s2c.streams.synth import Synthesis
from s2c.tables.codec import dumps, to_native
from s2c.tables.events import event_from_record
from s2c.tables.ids import IdKey
from s2c.tables.master import DictMasterData, master_record
from s2c.tables.replay import Pipeline

IDS = IdKey(b"synth-test-id-key-not-a-secret")


def test_no_output_of_a_generated_day_quotes_an_account_number(small: Synthesis) -> None:
    master = DictMasterData(master_record(name, record) for name, _, record in small.master())
    pipeline, accounts, texts = Pipeline(master, IDS), set(), []
    for schema, _key, record in small.events():
        if record.get("account_number"):
            accounts.add(record["account_number"])
        for item in pipeline.feed(event_from_record(schema, record)):
            texts.append(dumps(item.to_record() if hasattr(item, "to_record") else to_native(item)))
    texts += [dumps(state.to_dict()["account_ref"]) for state in pipeline.links.values()]
    texts += list(pipeline.processes)  # the process ids, the keys of the process stage
    texts += list(pipeline.links)  # the link stage's keys
    assert len(accounts) > 300 and len(texts) > 2000
    quoted = re.compile("|".join(map(re.escape, sorted(accounts))))
    leaks = [text for text in texts if quoted.search(text)]
    assert leaks == []
    walk_ins = [pid for pid in pipeline.processes if pid.startswith("ENC-")]
    assert walk_ins  # the day has walk-ins and ED visits, and their ids say nothing of the account
