"""Account pseudonyms: the pipeline names a walk-in's instance and an account's link by a keyed
HMAC of the account number, never by the number itself."""

from __future__ import annotations

import pytest
from core_world import IDS, Feed, claim, encounter_started
from hypothesis import given
from hypothesis import strategies as st

from s2c.tables.ids import REF_HEX_DIGITS, IdKey
from s2c.tables.link import link_on_deadline, link_transition
from s2c.tables.routing import process_id_of, route

ACCOUNTS = st.text(alphabet="ACDEGHINTVW0123456789-", min_size=4, max_size=20)


@given(ACCOUNTS)
def test_a_walk_in_id_is_stable_and_never_quotes_the_account(account: str) -> None:
    walk_in = IDS.encounter_process_id(account)
    assert walk_in == IdKey(IDS.secret).encounter_process_id(account)  # a restart, a replay
    assert walk_in.startswith("ENC-") and len(walk_in) == 4 + REF_HEX_DIGITS
    assert account not in walk_in


@given(ACCOUNTS)
def test_another_key_gives_unrelated_ids(account: str) -> None:
    other = IdKey(b"another-hospital-system-key")
    assert other.account_ref(account) != IDS.account_ref(account)


def test_two_accounts_never_share_a_pseudonym() -> None:
    accounts = [f"V01250303{n:06d}" for n in range(20_000)]
    assert len({IDS.account_ref(a) for a in accounts}) == len(accounts)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        IdKey(b"secret")


def test_the_key_does_not_show_in_repr() -> None:
    assert IDS.secret.decode() not in repr(IDS)


def test_an_emergency_arrival_routes_by_pseudonym_only() -> None:
    arrival = encounter_started(
        Feed(), account="V02250303000062", case_id=None, department="RIV-ED"
    )
    where = route(arrival, IDS)
    assert where.process_id == IDS.encounter_process_id("V02250303000062")
    assert where.link_key == IDS.account_ref("V02250303000062")
    assert "V02250303000062" not in f"{where.process_id} {where.link_key}"
    assert process_id_of(arrival, None) is None  # without the key there is no walk-in id


def test_link_work_items_name_the_account_by_its_pseudonym() -> None:
    bill = claim(Feed(), 100, account="V02250303000062")
    link, _ = link_transition(None, bill, bill.occurred_at, IDS)
    assert link.account_ref == IDS.account_ref("V02250303000062")
    _, reported = link_on_deadline(link, bill.occurred_at.replace(year=2027))
    assert reported and all("V02250303000062" not in repr(item) for item in reported)
    assert "V02250303000062" not in repr(link.to_dict()["account_ref"])
