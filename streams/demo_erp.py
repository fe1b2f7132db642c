"""The demo's ERP: the reference sink answers the run's commands, and the run's live
reconciliation (what `s2c reconcile --live URL --db LEDGER` writes) goes into the report.

The sink (`s2c erp-sink`, a subprocess logging to `<run>/erp-sink.log`) posts into
`<run>/erp.sqlite` with every month from a year before the synthetic day to a year after it
open, and sends its acks to the run's acks topic, which the workers' ERP keeper reads. The
workers run without an ack wait (`S2C_ERP_ACK_WAIT` unset), so the demo's work items stay the
ones replay gives. When the ERP does not answer (a stack whose ACLs do not let the sink read, a
sink that failed to start), the demo says so and writes the report without the reconciliation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from datetime import date
from pathlib import Path
from typing import Any

from s2c.streams.settings import Settings

SETTLE_SECONDS = 60.0  # for the sink to answer every command and the keeper to read them


class DemoErp:
    def __init__(self, settings: Settings, run_dir: Path, day: date) -> None:
        self.settings, self.db, self.log = (
            settings,
            run_dir / "erp.sqlite",
            run_dir / "erp-sink.log",
        )
        self.report_path = run_dir / "reconciliation.json"
        self.periods = f"{day.year - 1}-{day.month:02d}..{day.year + 1}-{day.month:02d}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, S2C_TOPIC_PREFIX=self.settings.topic_prefix)
        argv = ["erp-sink", "--db", str(self.db), "--open-periods", self.periods]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "s2c.streams.cli", *argv],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def answered(self) -> dict[str, int]:
        """Commands the ledger answered, by status ({} before the sink made its tables)."""
        import sqlite3

        if not self.db.exists():
            return {}
        try:
            with sqlite3.connect(self.db, timeout=30) as connection:
                rows = connection.execute("SELECT status, count(*) FROM erp_commands GROUP BY 1")
                return {status: int(n) for status, n in rows}
        except sqlite3.OperationalError:
            return {}

    def reconcile(self, worker_url: str, commands: int) -> dict[str, Any] | None:
        """Once the ledger answered `commands` commands and the workers' keepers hold them all,
        the reconciliation report (also written to `<run>/reconciliation.json`); None when the
        ERP did not answer within `SETTLE_SECONDS`."""
        from s2c.streams.reconcile_cli import ledger_answers, live_facts
        from s2c.tables.reconcile import mismatches, summarize

        deadline = time.monotonic() + SETTLE_SECONDS
        facts: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return None
            if sum(self.answered().values()) >= commands:
                try:
                    facts, _ = live_facts(worker_url, ledger_answers(str(self.db)))
                except (OSError, urllib.error.URLError, ValueError):
                    facts = {}
                if sum(len(f.commands) for f in facts.values()) >= commands:
                    break
            time.sleep(0.5)
        else:
            return None
        issued = [c.issued_at for f in facts.values() for c in f.commands.values()]
        if not issued:
            return None
        as_of = max(issued)
        found = [m for pid in sorted(facts) for m in mismatches(facts[pid], as_of)]
        report = summarize(found, as_of)
        self.report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return report

    def lines(self, report: dict[str, Any] | None) -> list[str]:
        """What the demo prints of its ERP."""
        answered = self.answered()
        if report is None:
            return [
                f"s2c demo: the reference ERP did not answer every command within "
                f"{SETTLE_SECONDS:.0f} s; the report has no reconciliation (log: {self.log})"
            ]
        counts: dict[str, int] = report["counts"]
        listed = ", ".join(f"{kind} {n}" for kind, n in counts.items() if n) or "none"
        return [
            f"s2c demo: ERP (s2c erp-sink, ledger {self.db}): "
            f"{answered.get('APPLIED', 0)} applied, {answered.get('REJECTED', 0)} rejected",
            f"          reconciliation as of {report['as_of']}: {sum(counts.values())} "
            f"mismatch(es): {listed} ({self.report_path})",
        ]
