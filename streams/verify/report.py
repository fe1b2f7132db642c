"""What `s2c verify` prints and writes: the comparison as a table a person reads, and as figures.

Every family gets its counts live and replay, then one line per kind of difference with the
first ids; differences allowed by the README's rule have their own line. The last line is the
verdict, which the exit status repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from s2c.streams.verify import poisoncheck
from s2c.streams.verify.compare import SHOWN, Family, Verdict


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN])
    return f"  ({shown}{', ...' if len(ids) > SHOWN else ''})" if ids else ""


def _family_lines(family: Family, what: str) -> list[str]:
    lines = [
        f"{what}: {family.live:,} live, {family.replay:,} replay (distinct ids)",
        f"  {'lost (in replay, not live)':34} {len(family.lost):>8}{_ids(family.lost)}",
        f"  {'extra (live, not in replay)':34} {len(family.extra):>8}{_ids(family.extra)}",
        f"  {'changed content, same id':34} {len(family.changed):>8}{_ids(family.changed)}",
        f"  {'delivered twice (same id; allowed)':34} {family.delivered_twice:>8}"
        + (f"  ({family.redeliveries} surplus deliveries)" if family.redeliveries else ""),
    ]
    allowed = ", ".join(f"{n} {kind}" for kind, n in sorted(family.allowed.items()))
    lines.append(
        f"  {'allowed by rule (late events)':34} {sum(family.allowed.values()):>8}"
        + (f"  [{allowed}]{_ids(family.allowed_ids)}" if allowed else "")
    )
    return lines


def _kinds(title: str, family: Family, width: int) -> list[str]:
    rows = [
        f"  {kind:{width}} {live:>8} {replay:>8}{'' if live == replay else '   <-'}"
        for kind, (live, replay) in family.kinds.items()
    ]
    return [f"{title:{width + 2}} {'live':>8} {'replay':>8}", *(rows or ["  none"])]


def render(verdict: Verdict, header: list[str] | None = None) -> str:
    commands = verdict.commands
    lines = [*(header or []), ""]
    lines += _family_lines(commands.family, "ERP commands")
    lines.append(
        f"  {'double postings (other id; FAILS)':34} {len(commands.double_postings):>8}"
        f"{_ids(commands.double_postings)}"
    )
    lines += ["", f"{'ledger (USD debits, each id once)':34} {'live':>16} {'replay':>16}"]
    for row, (live, replay) in commands.ledger.items():
        lines.append(
            f"  {row:32} {live:>16,.2f} {replay:>16,.2f}{'' if live == replay else '   <-'}"
        )
    live_total = sum((v[0] for v in commands.ledger.values()), Decimal(0))
    replay_total = sum((v[1] for v in commands.ledger.values()), Decimal(0))
    lines.append(f"  {'ledger':32} {live_total:>16,.2f} {replay_total:>16,.2f}")
    balanced = " / ".join("balanced" if b else "NOT BALANCED" for b in commands.balanced)
    lines.append(f"  debits = credits (live / replay): {balanced}")
    lines += ["", *_family_lines(verdict.exceptions, "work-queue exceptions")]
    lines += _kinds("  by kind", verdict.exceptions, 30)
    if verdict.erp_items:
        lines.append(
            f"  {'ERP items (ledger, not replay)':30} {verdict.erp_items:>8}  set aside: "
            "raised from the ERP's acks, compared with the ledger"
        )
    lines += ["", *_family_lines(verdict.breaches, "SLA breaches")]
    lines += _kinds("  by SLA", verdict.breaches, 36)
    title = "dead letters by reason" + (" (not on a bad record)" if verdict.poison else "")
    lines += ["", f"{title:34} {'live':>8} {'replay':>8}"]
    lines += [
        f"  {reason:32} {live:>8} {replay:>8}{'' if live == replay else '   <-'}"
        for reason, (live, replay) in verdict.dead_letters.items()
    ] or ["  none"]
    if verdict.poison is not None:
        lines += ["", *poisoncheck.render_lines(verdict.poison)]
    lines += [
        "",
        f"verdict: {'EQUAL' if verdict.equal else 'DIFFERENT'}: {verdict.failures} difference(s) "
        f"that fail, {verdict.allowed} allowed by the rule on late events",
    ]
    return "\n".join(lines)


def _family_figures(family: Family) -> dict[str, Any]:
    return {
        "compared": family.replay,
        "live": family.live,
        "lost": len(family.lost),
        "extra": len(family.extra),
        "changed": len(family.changed),
        "delivered_twice": family.delivered_twice,
        "redeliveries": family.redeliveries,
        "allowed_by_rule": dict(family.allowed),
        "lost_ids": family.lost,
        "extra_ids": family.extra,
        "changed_ids": family.changed,
        "allowed_ids": family.allowed_ids,
        "failing_records": family.examples,  # the first few, whole (replay's, or live's if extra)
        "by_kind": {k: {"live": lv, "replay": rp} for k, (lv, rp) in family.kinds.items()},
    }


def figures(verdict: Verdict, run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The verdict as JSON-ready data (money as decimal strings, never a float)."""
    commands = _family_figures(verdict.commands.family)
    commands["double_postings"] = len(verdict.commands.double_postings)
    commands["double_posting_ids"] = verdict.commands.double_postings
    poison = {"poison": poisoncheck.figures(verdict.poison)} if verdict.poison else {}
    return {
        "equal": verdict.equal,
        "failures": verdict.failures,
        "allowed_by_rule": verdict.allowed,
        "run": dict(run or {}),
        "commands": commands,
        "ledger": {
            row: {"live": f"{live:.2f}", "replay": f"{replay:.2f}"}
            for row, (live, replay) in verdict.commands.ledger.items()
        },
        "balanced": {"live": verdict.commands.balanced[0], "replay": verdict.commands.balanced[1]},
        "exceptions": _family_figures(verdict.exceptions),
        "breaches": _family_figures(verdict.breaches),
        "dead_letters": {
            reason: {"live": live, "replay": replay}
            for reason, (live, replay) in verdict.dead_letters.items()
        },
        **poison,
    }
