"""Hypothesis strategies for schedule-to-cash histories with the dependencies between their events.

A history is a list of `Step(event, needs, waits)`. `needs` are indices of the events it must come
after in any arrival order that keeps its business meaning (a reschedule after the previous
reschedule, a cancellation after the last reschedule, an encounter after the final booking, a claim
after the encounter). `waits` are the events it is normally sent after but may overtake, because
the core parks it until exactly that anchor arrives: a reschedule, change or cancellation before
its booking, a charge or discharge before the arrival, a payment, adjustment or denial before its
claim, a reversal before what it reverses (an authorization, a bare milestone, may simply come
first). Episodes are surgeries at Riverside or Lakeside, office visits and emergency walk-ins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core_world import T0, Feed
from hypothesis import strategies as st

from s2c.tables.events import Event


@dataclass(frozen=True)
class Step:
    event: Event
    needs: frozenset[int]
    waits: frozenset[int] = frozenset()


class _Builder:
    def __init__(self, draw: Any) -> None:
        self.draw, self.feed, self.steps, self.hours = draw, Feed("h"), [], 0
        self.amounts = st.integers(1, 900_000).map(
            lambda cents: f"{cents // 100}.{cents % 100:02d}"
        )

    def add(
        self, schema: str, needs: Sequence[int], waits: Sequence[int] = (), **fields: Any
    ) -> int:
        self.hours += self.draw(st.integers(1, 72))
        self.steps.append(
            Step(self.feed(schema, self.hours, **fields), frozenset(needs), frozenset(waits))
        )
        return len(self.steps) - 1

    def after(self, schema: str, chain: int, booking: int, **fields: Any) -> int:
        """A scheduling event following `chain`: it may overtake the booking itself (it parks
        until the booking comes), not a later reschedule (that would change what it means)."""
        if chain == booking:
            return self.add(schema, [], [booking], **fields)
        return self.add(schema, [chain], **fields)

    def start(self, days: int = 0) -> Any:
        return T0 + timedelta(hours=self.hours, days=days + self.draw(st.integers(2, 20)))

    def case(self, n: int, account: str) -> int | None:
        case_id, draw = f"C-{n}", self.draw
        chain = sched = self.add(
            "CaseScheduled",
            [],
            case_id=case_id,
            patient_ref=f"pt-{n}",
            account_number=account if draw(st.booleans()) else None,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-3",
            surgeon_id="DR-OKAFOR",
            service_line_id="ORTHO",
            payer_id=draw(st.sampled_from(["AETNA-COMM", "MEDICARE-A", None])),
            procedure_codes=["29881"],
            preference_card_id="PC-29881-OKAFOR",
            scheduled_start=self.start(),
            planned_minutes=90,
        )
        for _ in range(draw(st.integers(0, 2))):
            site, room = draw(
                st.sampled_from([("RIVERSIDE", "RIV-OR-5"), ("LAKESIDE", "LAK-OR-1")])
            )
            chain = self.after(
                "CaseRescheduled",
                chain,
                sched,
                case_id=case_id,
                scheduled_start=self.start(),
                planned_minutes=draw(st.integers(45, 240)),
                site_id=site,
                or_room_id=room,
            )
        if draw(st.booleans()):
            self.add(
                "AuthorizationApproved",
                [],
                [sched],
                authorization_id=f"AUTH-{n}",
                appointment_id=None,
                case_id=case_id,
                payer_id="AETNA-COMM",
                auth_number="X",
            )
        if draw(st.integers(0, 3)) == 0:
            self.after("CaseCancelled", chain, sched, case_id=case_id, reason="patient request")
            return None
        enc = self.encounter(n, account, [chain], case_id=case_id)
        if draw(st.booleans()):
            items = draw(
                st.lists(
                    st.sampled_from(["SHAVER-BLADE-4.5", "SALINE-3L", "SUTURE-ANCHOR"]),
                    max_size=3,
                    unique=True,
                )
            )
            self.add(
                "CaseCompleted",
                [chain, enc],
                case_id=case_id,
                actual_minutes=100,
                supplies_used=[{"item_id": i, "quantity": draw(st.integers(1, 5))} for i in items],
            )
        return enc

    def visit(self, n: int, account: str) -> int | None:
        appointment_id, draw = f"A-{n}", self.draw
        chain = booking = self.add(
            "AppointmentScheduled",
            [],
            appointment_id=appointment_id,
            patient_ref=f"pt-{n}",
            account_number=None,
            site_id="RIVERSIDE",
            department_id="RIV-ORTHO-CLINIC",
            provider_id="DR-OKAFOR",
            service_line_id="ORTHO",
            payer_id=draw(st.sampled_from(["AETNA-COMM", None])),
            procedure_codes=["99213"],
            scheduled_start=self.start(),
            duration_minutes=20,
        )
        if draw(st.booleans()):
            chain = self.after(
                "AppointmentModified",
                chain,
                booking,
                appointment_id=appointment_id,
                payer_id="MEDICARE-A",
                procedure_codes=["29881"],
            )
        if draw(st.booleans()):
            chain = self.after(
                "AppointmentRescheduled",
                chain,
                booking,
                appointment_id=appointment_id,
                scheduled_start=self.start(),
                duration_minutes=30,
                site_id="RIVERSIDE",
                department_id="RIV-ORTHO-CLINIC",
                provider_id="DR-OKAFOR",
            )
        if draw(st.integers(0, 3)) == 0:
            name = draw(st.sampled_from(["AppointmentCancelled", "AppointmentNoShow"]))
            extra = {"reason": "conflict"} if name == "AppointmentCancelled" else {}
            self.after(name, chain, booking, appointment_id=appointment_id, **extra)
            return None
        return self.encounter(n, account, [chain], appointment_id=appointment_id)

    def encounter(
        self,
        n: int,
        account: str,
        needs: list[int],
        case_id: str | None = None,
        appointment_id: str | None = None,
    ) -> int:
        walk_in = case_id is None and appointment_id is None
        return self.add(
            "EncounterStarted",
            needs,
            encounter_id=f"ENC-{n}",
            account_number=account,
            patient_ref=f"pt-{n}",
            appointment_id=appointment_id,
            case_id=case_id,
            site_id="RIVERSIDE",
            department_id="RIV-ED" if walk_in else "RIV-SURGERY",
            service_line_id="ORTHO",
            payer_id="AETNA-COMM",
            encounter_class="EMERGENCY" if walk_in else "SURGERY",
            arrived_at=T0 + timedelta(hours=self.hours),
        )

    def revenue(self, n: int, account: str, enc: int) -> None:
        draw, common = self.draw, {"account_number": account}
        if draw(st.booleans()):
            self.add(
                "EncounterCompleted",
                [],
                [enc],
                encounter_id=f"ENC-{n}",
                **common,
                discharged_at=T0 + timedelta(hours=self.hours),
            )
        charges = [
            (
                self.add(
                    "ChargePosted",
                    [],
                    [enc],
                    charge_id=f"CHG-{n}-{i}",
                    procedure_code="29881",
                    units=1,
                    amount=(amount := draw(self.amounts)),
                    service_date="2026-03-20",
                    department_id="RIV-SURGERY",
                    **common,
                ),
                amount,
            )
            for i in range(draw(st.integers(1, 3)))
        ]
        if draw(st.booleans()):
            self.add(
                "ChargeReversed",
                [],
                [charges[0][0]],
                charge_id=f"CHG-{n}-R",
                reverses_charge_id=f"CHG-{n}-0",
                amount=charges[0][1],
                **common,
            )
        if draw(st.booleans()):
            return
        claim_id = f"CLM-{n}"
        claim = self.add(
            "ClaimSubmitted",
            [enc],
            claim_id=claim_id,
            payer_id="AETNA-COMM",
            claim_type="INSTITUTIONAL",
            billing_npi="1234567893",
            total_charge="100.00",
            lines=[],
            **common,
        )
        remit = {"claim_id": claim_id, "payer_id": "AETNA-COMM", **common}
        payments = [
            (
                self.add(
                    "PaymentPosted",
                    [],
                    [claim],
                    remittance_id=f"ERA-{n}-{i}",
                    paid_amount=(amount := draw(self.amounts)),
                    payment_trace="T",
                    payment_date="2026-04-20",
                    **remit,
                ),
                i,
                amount,
            )
            for i in range(draw(st.integers(0, 2)))
        ]
        for i in range(draw(st.integers(0, 2))):
            sign = draw(st.sampled_from(["", "", "-"]))
            self.add(
                "AdjustmentPosted",
                [],
                [claim],
                adjustment_id=f"ADJ-{n}-{i}",
                carc="45",
                rarc=None,
                group_code=draw(st.sampled_from(["CO", "PR", "OA"])),
                amount=sign + draw(self.amounts),
                **remit,
            )
        if draw(st.booleans()):
            self.add(
                "DenialReceived",
                [],
                [claim],
                denial_id=f"DEN-{n}",
                carc="50",
                rarc=None,
                group_code=draw(st.sampled_from(["CO", "PI"])),
                denied_amount=draw(self.amounts),
                **remit,
            )
        if payments and draw(st.booleans()):
            step, i, amount = payments[0]
            self.add(
                "PaymentReversed",
                [],
                [step],
                reversal_id=f"REV-{n}",
                reverses_remittance_id=f"ERA-{n}-{i}",
                amount=amount,
                **remit,
            )


@st.composite
def histories(draw: Any) -> list[Step]:
    builder = _Builder(draw)
    for n in range(draw(st.integers(1, 3))):
        account = f"ACCT-{n}"
        kind = draw(st.sampled_from(["case", "visit", "walk-in"]))
        enc = (
            builder.case(n, account)
            if kind == "case"
            else builder.visit(n, account)
            if kind == "visit"
            else builder.encounter(n, account, [])
        )
        if enc is not None:
            builder.revenue(n, account, enc)
    return builder.steps


def arrival_order(draw: Any, steps: list[Step], overtake: bool = False) -> list[Event]:
    """Any order that keeps each event after the ones it needs and (unless `overtake`) after the
    anchors it waits for. An event that overtook its anchor is only in place once the anchor is:
    what needs it comes after both."""
    done: set[int] = set()
    order: list[Event] = []

    def in_place(i: int) -> bool:
        return i in done and all(in_place(w) for w in steps[i].waits)

    while len(done) < len(steps):
        ready = [
            i
            for i, s in enumerate(steps)
            if i not in done and all(in_place(n) for n in s.needs) and (overtake or s.waits <= done)
        ]
        pick = ready[draw(st.integers(0, len(ready) - 1))]
        done.add(pick)
        order.append(steps[pick].event)
    return order
