"""ERP posting rules: how a business fact becomes commands, everything looked up in master data.

`Posting` numbers the commands one event causes, so a command id is
`stable_id(process_id, command_type, event_id, sequence)`. Builders here resolve master data first
and raise `MissingMasterData` before anything is built, so a handler that calls them before touching
the state can park the event without having half-applied it. `reverse` builds the compensating
command of any open item (release, cancel plan, reverse accrual), always pointing at what it undoes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from s2c.tables.events import Event
from s2c.tables.master import Location, MasterData
from s2c.tables.outputs import (
    AccrueExpectedRevenue,
    CancelLaborPlan,
    Command,
    CommandHeader,
    JournalLine,
    PlanLabor,
    PostJournal,
    ReleaseRoom,
    ReleaseSupplies,
    ReserveRoom,
    ReserveSupplies,
    ReverseRevenueAccrual,
    stable_id,
)
from s2c.tables.vocabulary import CasGroup, GlPurpose, JournalKind

T = TypeVar("T")
C = TypeVar("C", bound=Command)
ZERO = Decimal("0.00")


class MissingMasterData(Exception):
    """A lookup found nothing: the event waits for master record `record` with wait key `key`."""

    def __init__(self, record: str, key: str) -> None:
        super().__init__(f"{record} {key} is not in master data")
        self.record, self.key = record, key


def need(value: T | None, record: str, key: str) -> T:
    if value is None:
        raise MissingMasterData(record, key)
    return value


def gl_account(
    master: MasterData, purpose: GlPurpose, site_id: str | None, carc_group: CasGroup | None = None
) -> str:
    return need(master.gl_account(purpose, site_id, carc_group), "GlAccountMap", purpose.value)


def location(master: MasterData, location_id: str) -> Location:
    return need(master.location(location_id), "Location", location_id)


def inventory_location(master: MasterData, room: Location) -> str:
    """The room's stock point, else its department's, else its site's."""
    place: Location | None = room
    for _ in range(3):
        if place is None:
            break
        if place.inventory_location_id:
            return place.inventory_location_id
        place = master.location(place.parent_id) if place.parent_id else None
    raise MissingMasterData("Location", room.location_id)


def expected_amount(master: MasterData, payer_id: str, codes: tuple[str, ...], on: date) -> Decimal:
    """Contract rate for payer x procedure, summed over the procedures of the episode."""
    total = ZERO
    for code in codes:
        rate = need(master.contract_rate(payer_id, code, on), "ContractRate", f"{payer_id}|{code}")
        total += rate.expected_amount
    return total


def two_lines(
    debit_account: str, credit_account: str, amount: Decimal, memo: str
) -> tuple[JournalLine, ...]:
    """A balanced pair; a negative amount (CAS reversal) swaps the sides."""
    if amount < 0:
        debit_account, credit_account, amount = credit_account, debit_account, -amount
    return (
        JournalLine(debit_account, amount, ZERO, memo),
        JournalLine(credit_account, ZERO, amount, memo),
    )


def opposite(lines: tuple[JournalLine, ...], memo: str | None = None) -> tuple[JournalLine, ...]:
    return tuple(JournalLine(ln.gl_account, ln.credit, ln.debit, memo or ln.memo) for ln in lines)


class Posting:
    """The commands one event causes, with deterministic ids in the order they are built."""

    def __init__(self, process_id: str, event: Event) -> None:
        self.process_id, self.event, self.sequence = process_id, event, 0
        self.commands: list[Command] = []

    def header(
        self, command_type: str, cost_center_id: str, effective: date, reverses: str | None = None
    ) -> CommandHeader:
        self.sequence += 1
        event = self.event
        return CommandHeader(
            command_id=stable_id(self.process_id, command_type, event.event_id, self.sequence),
            command_type=command_type,
            process_id=self.process_id,
            caused_by_event_id=event.event_id,
            effective_date=effective,
            cost_center_id=cost_center_id,
            issued_at=event.occurred_at,
            correlation_id=event.envelope.correlation_id,
            reverses_command_id=reverses,
        )

    def add(
        self,
        command_type: type[C],
        cost_center_id: str,
        effective: date,
        *args: Any,
        reverses: str | None = None,
    ) -> C:
        command = command_type(
            self.header(command_type.__name__, cost_center_id, effective, reverses), *args
        )
        self.commands.append(command)
        return command

    def journal(
        self,
        kind: JournalKind,
        cost_center_id: str,
        effective: date,
        lines: tuple[JournalLine, ...],
        reverses: str | None = None,
    ) -> PostJournal:
        amount = sum((ln.debit for ln in lines), ZERO)
        journal = self.add(
            PostJournal, cost_center_id, effective, kind, lines, amount, reverses=reverses
        )
        if not journal.moves_money:  # not sent; its id is spent, so later ids do not change
            self.commands.remove(journal)
        return journal

    def accrual(
        self,
        master: MasterData,
        site_id: str,
        cost_center_id: str,
        payer_id: str | None,
        codes: tuple[str, ...],
        start: datetime,
    ) -> None:
        if payer_id is None or not codes:
            return  # self-pay or nothing billable scheduled: no forecast to book
        amount = expected_amount(master, payer_id, codes, start.date())
        lines = two_lines(
            gl_account(master, GlPurpose.EXPECTED_REVENUE, site_id),
            gl_account(master, GlPurpose.EXPECTED_REVENUE_OFFSET, site_id),
            amount,
            f"expected revenue {' '.join(codes)}",
        )
        self.add(
            AccrueExpectedRevenue, cost_center_id, start.date(), payer_id, codes, amount, lines
        )

    def case_plan(
        self,
        master: MasterData,
        case_id: str,
        room_id: str,
        card_id: str,
        start: datetime,
        minutes: int,
    ) -> tuple[Location, str]:
        """ReserveSupplies, PlanLabor and ReserveRoom for a case in `room_id`."""
        room = location(master, room_id)
        stock = inventory_location(master, room)
        card = need(master.preference_card(card_id), "PreferenceCard", card_id)
        day, cc = start.date(), room.cost_center_id
        if card.items:
            self.add(ReserveSupplies, cc, day, case_id, stock, day, card.items)
        if card.labor:
            self.add(PlanLabor, cc, day, case_id, day, card.labor)
        self.add(ReserveRoom, cc, day, room_id, case_id, start, minutes)
        return room, stock

    def reverse(self, item: Command) -> Command:
        """The compensating command of an open item, pointing at it."""
        cc, day, rid = item.header.cost_center_id, self.event.occurred_at.date(), item.command_id
        if isinstance(item, ReserveSupplies):
            return self.add(
                ReleaseSupplies,
                cc,
                day,
                item.case_id,
                item.inventory_location_id,
                item.items,
                reverses=rid,
            )
        if isinstance(item, PlanLabor):
            return self.add(CancelLaborPlan, cc, day, item.case_id, item.lines, reverses=rid)
        if isinstance(item, ReserveRoom):
            return self.add(
                ReleaseRoom,
                cc,
                day,
                item.room_id,
                item.reference_id,
                item.start,
                item.minutes,
                reverses=rid,
            )
        if isinstance(item, AccrueExpectedRevenue):
            return self.add(
                ReverseRevenueAccrual,
                cc,
                day,
                item.payer_id,
                item.amount,
                opposite(item.lines),
                reverses=rid,
            )
        raise TypeError(f"{item.schema} is not a reversible open item")
