"""Finance faults: `s2c generate --finance-faults N` breaks N clinic visits per mismatch kind of
reconciliation (tables/reconcile.py) on purpose, and says which, so a test can check that
`s2c reconcile` reports exactly these.

Applied to the planned timeline after planning (entries removed or moved, record fields
overridden when built), so the RNG draws, and every other episode, stay as without faults. Each
fault breaks one scheduled clinic visit (process id `APPT-<appointment_id>`):

| kind | what the generator does |
|---|---|
| SCHEDULED_NOT_RESERVED | booked in a department the ERP does not know; nothing after the booking |
| CANCELLED_STILL_HELD | booked and cancelled in a month the ERP has closed (the release is refused) |
| COMPLETED_WITHOUT_CHARGE | seen and discharged; no charge, claim or remittance ever comes |
| CHARGED_WITHOUT_CLAIM | charged; no claim or remittance ever comes |
| CLAIMED_WITHOUT_AR | charged to a department the ERP does not know (charges refused), claimed |
| PAID_WITHOUT_CASH | paid with a payment date in the ERP's closed month (refused) |
| PAID_BELOW_EXPECTED | paid half the contract amount, no patient share |
| ERP_REJECTED | a self-pay visit (no claim due) charged to the department the ERP does not know |
| ERP_UNACKNOWLEDGED | the ERP side: `erp-sink --silent-fraction` withholds whole instances |

The ERP side of the faults: the new department's cost center is in s2c's master data but not in
the ERP's chart (`DIR/erp_master/`, the chart for `erp-sink --master-data`), the month of
`closed_periods` is closed, and the silent fraction and seed select the silent instances (the
faulted visits are chosen among the others). `DIR/finance_faults.json` holds all of it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from s2c.streams.erp.rules import is_silent
from s2c.streams.synth.ids import DAY
from s2c.streams.synth.master import CENT
from s2c.streams.synth.planner import Entry, Episode
from s2c.streams.synth.revenue import FINANCIAL_CLASS

FAULTS_FILE = "finance_faults.json"
ERP_MASTER_DIR = "erp_master"
SILENT_FRACTION = 0.02
NEW_DEPARTMENT = "NEWCL"  # a clinic opened in scheduling, not yet set up in the ERP
_REMITS = ("PaymentPosted", "AdjustmentPosted", "DenialReceived", "PaymentReversed")
_CLAIMS = ("ClaimSubmitted", "ClaimAcknowledged", "ClaimRejected", "ClaimVoided", *_REMITS)
_REVENUE = ("ChargePosted", "ChargeReversed", *_CLAIMS)


@dataclass
class FinanceFaults:
    closed_period: str
    silent_seed: str
    faults: list[tuple[str, str, str]] = field(default_factory=list)  # (process id, site, kind)

    def truth(self) -> dict[str, Any]:
        return {
            "closed_periods": [self.closed_period],
            "erp_master": ERP_MASTER_DIR,
            "silent_fraction": SILENT_FRACTION,
            "silent_seed": self.silent_seed,
            "faults": [
                {"process_id": p, "site_id": s, "kind": k} for p, s, k in sorted(self.faults)
            ],
        }


class _Visit:
    """A planned clinic visit: its episode and timeline entries."""

    def __init__(self, ep: Episode) -> None:
        self.ep = ep
        self.entries: list[Entry] = []

    def schemas(self) -> list[str]:
        return [s for _, s in sorted({(e[5], e[3]) for e in self.entries})]

    def first(self, schema: str) -> Entry:
        return min((e for e in self.entries if e[3] == schema), key=lambda e: e[5])

    @property
    def self_pay(self) -> bool:
        return FINANCIAL_CLASS[self.ep.payer_id] == "SELF_PAY"

    @property
    def completed(self) -> bool:
        return "EncounterCompleted" in self.schemas()

    @property
    def billed(self) -> bool:
        """Completed, billed to a payer, claimed."""
        return self.completed and not self.self_pay and "ClaimSubmitted" in self.schemas()

    def patient_share(self) -> bool:
        return any(e[3] == "AdjustmentPosted" and e[6][3] == "PR" for e in self.entries)

    def paid(self) -> Decimal:
        return (
            self.first("PaymentPosted")[6][3] if "PaymentPosted" in self.schemas() else Decimal(0)
        )


def inject(
    timeline: list[Entry],
    overrides: dict[tuple[str, int], dict[str, Any]],
    system: Any,
    per_kind: int,
    seed: int,
    start: date,
    avoid: Collection[str] = (),
) -> FinanceFaults:
    """Break `per_kind` clinic visits per kind in `timeline` (in place, re-sorted), adding the
    record overrides and the new department's master records; returns what was done. Episodes
    whose trace is in `avoid` (those with a deviation) are never chosen."""
    closed = (start - timedelta(days=60)).replace(day=5)
    faults = FinanceFaults(f"{closed:%Y-%m}", str(seed))
    visits: dict[str, _Visit] = {}
    for entry in timeline:
        ep = entry[4]
        if ep.kind == "CLINIC" and ep.appointment_id:
            visits.setdefault(ep.trace, _Visit(ep)).entries.append(entry)
    rng = random.Random(f"{seed}:finance-faults")
    order = [v for v in visits.values() if not is_silent(_pid(v), SILENT_FRACTION, str(seed))]
    rng.shuffle(order)
    if avoid:  # after the shuffle: without deviations the draws and the order are unchanged
        order = [v for v in order if v.ep.trace not in avoid]
    taken: set[str] = set()
    drop: set[tuple[str, int]] = set()
    moved: dict[tuple[str, int], int] = {}
    departments: set[str] = set()
    closed_ms = int(datetime(closed.year, closed.month, closed.day, 10, tzinfo=UTC).timestamp())
    closed_ms *= 1000

    def new_department(v: _Visit) -> str:
        departments.add(v.ep.site.site_id)
        return f"{v.ep.site.site_id}-{NEW_DEPARTMENT}"

    def set_field(v: _Visit, schema: str, name: str, value: Any) -> None:
        for e in v.entries:
            if e[3] == schema:
                overrides.setdefault((v.ep.trace, e[5]), {})[name] = value

    def not_reserved(v: _Visit) -> None:
        drop.update((v.ep.trace, e[5]) for e in v.entries if e[5] > 0)
        set_field(v, "AppointmentScheduled", "department_id", new_department(v))

    def still_held(v: _Visit) -> None:
        for e in v.entries:
            days = 0 if e[3] == "AppointmentScheduled" else 10
            moved[(v.ep.trace, e[5])] = closed_ms + days * DAY

    def no_charge(v: _Visit) -> None:
        drop.update((v.ep.trace, e[5]) for e in v.entries if e[3] in _REVENUE)

    def no_claim(v: _Visit) -> None:
        drop.update((v.ep.trace, e[5]) for e in v.entries if e[3] in _CLAIMS)

    def charge_elsewhere(v: _Visit) -> None:
        set_field(v, "ChargePosted", "department_id", new_department(v))

    def paid_in_closed_month(v: _Visit) -> None:
        set_field(v, "PaymentPosted", "payment_date", closed + timedelta(days=10))

    def underpaid(v: _Visit) -> None:
        expected = sum((system.rates[(v.ep.payer_id, c)] for c in v.ep.procedure_codes), CENT * 0)
        set_field(v, "PaymentPosted", "paid_amount", (expected / 2).quantize(CENT))

    kinds: list[tuple[str, Callable[[_Visit], bool], Callable[[_Visit], None]]] = [
        (
            "SCHEDULED_NOT_RESERVED",
            lambda v: (
                v.completed
                and not v.self_pay
                and v.schemas()[:2] == ["AppointmentScheduled", "EncounterStarted"]
            ),
            not_reserved,
        ),
        (
            "CANCELLED_STILL_HELD",
            lambda v: (
                not v.self_pay and v.schemas() == ["AppointmentScheduled", "AppointmentCancelled"]
            ),
            still_held,
        ),
        ("COMPLETED_WITHOUT_CHARGE", lambda v: v.completed, no_charge),
        ("CHARGED_WITHOUT_CLAIM", lambda v: v.billed, no_claim),
        (
            "CLAIMED_WITHOUT_AR",
            lambda v: v.billed and "ChargeReversed" not in v.schemas(),
            charge_elsewhere,
        ),
        (
            "PAID_WITHOUT_CASH",
            lambda v: v.billed and v.paid() > 0 and "PaymentReversed" not in v.schemas(),
            paid_in_closed_month,
        ),
        (
            "PAID_BELOW_EXPECTED",
            lambda v: (
                v.billed
                and v.paid() > 0
                and not v.patient_share()
                and not {"PaymentReversed", "DenialReceived"} & set(v.schemas())
            ),
            underpaid,
        ),
        (
            "ERP_REJECTED",
            lambda v: v.completed and v.self_pay and "ChargeReversed" not in v.schemas(),
            charge_elsewhere,
        ),
    ]
    for kind, fits, apply in kinds:
        chosen = [v for v in order if v.ep.trace not in taken and fits(v)][:per_kind]
        for v in chosen:
            taken.add(v.ep.trace)
            apply(v)
            faults.faults.append((_pid(v), v.ep.site.site_id, kind))
    kept = [e for e in timeline if (e[4].trace, e[5]) not in drop]
    timeline[:] = [
        (moved[(e[4].trace, e[5])], e[1], moved[(e[4].trace, e[5])], *e[3:])
        if (e[4].trace, e[5]) in moved
        else e
        for e in kept
    ]
    timeline.sort(key=lambda e: (e[0], e[1]))
    for site_id in sorted(departments):
        _add_department(system, site_id)
    return faults


def _pid(v: _Visit) -> str:
    return f"APPT-{v.ep.appointment_id}"


def _add_department(system: Any, site_id: str) -> None:
    dept = f"{site_id}-{NEW_DEPARTMENT}"
    name = f"{site_id} new clinic (not yet in the ERP)"
    system.add(
        "CostCenter",
        {
            "cost_center_id": f"CC-{dept}",
            "display_name": name,
            "site_id": site_id,
            "service_line_id": "SL-PRIM",
        },
    )
    system.add(
        "Location",
        {
            "location_id": dept,
            "kind": "DEPARTMENT",
            "site_id": site_id,
            "parent_id": site_id,
            "display_name": name,
            "cost_center_id": f"CC-{dept}",
            "inventory_location_id": None,
        },
    )


def write_truth(out_dir: Path, faults: FinanceFaults, master: list[tuple[str, str, Any]]) -> None:
    """`finance_faults.json` and the ERP's chart (`erp_master/`: GL accounts and cost centers,
    without the new clinic's)."""
    from s2c.streams.synth.writer import record_line

    (out_dir / FAULTS_FILE).write_text(json.dumps(faults.truth(), indent=1) + "\n")
    folder = out_dir / ERP_MASTER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("GlAccountMap", "CostCenter"):
        rows = [
            record_line(r)
            for n, _, r in master
            if n == name and not str(r.get("cost_center_id", "")).endswith(NEW_DEPARTMENT)
        ]
        (folder / f"{name}.jsonl").write_text("".join(f"{line}\n" for line in rows))
