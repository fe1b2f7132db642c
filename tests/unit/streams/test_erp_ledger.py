"""The reference ERP's posting rules and ledger (streams/erp): what it refuses, and that a command
id is posted once however often it comes."""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2c.streams.catalog import load_catalog
from s2c.streams.erp.ledger import Ledger
from s2c.streams.erp.rules import Chart, parse_periods
from s2c.tables.outputs import (
    AccrueExpectedRevenue,
    Command,
    CommandHeader,
    JournalLine,
    PostJournal,
    ReserveRoom,
    ReverseRevenueAccrual,
)
from s2c.tables.vocabulary import JournalKind

CHART = Chart(
    gl_accounts=frozenset({"1210", "4000", "1280", "4090"}),
    cost_centers=frozenset({"CC-S01-ORTH", "CC-S01-PRIM"}),
)
NOW = datetime(2025, 3, 5, 8, 0, tzinfo=UTC)


def header(
    command_id: str, kind: str, on: date = date(2025, 3, 4), **changes: str
) -> CommandHeader:
    return replace(
        CommandHeader(
            command_id=command_id,
            command_type=kind,
            process_id="CASE-S01-250304-000042",
            caused_by_event_id="EV-0042.00",
            effective_date=on,
            cost_center_id="CC-S01-ORTH",
            issued_at=datetime(2025, 3, 4, 14, 0, tzinfo=UTC),
            correlation_id="TR-0042",
        ),
        **changes,
    )


def knee_charge(command_id: str = "cmd-charge-1", **changes: object) -> PostJournal:
    """The charge of a knee arthroscopy at Hospital 01: Dr patient A/R, Cr gross revenue."""
    journal = PostJournal(
        header=header(command_id, "PostJournal"),
        journal_kind=JournalKind.CHARGE,
        lines=(
            JournalLine("1210", Decimal("4180.00"), Decimal("0.00"), "charge 29881"),
            JournalLine("4000", Decimal("0.00"), Decimal("4180.00"), "charge 29881"),
        ),
        amount=Decimal("4180.00"),
    )
    return replace(journal, **changes)  # type: ignore[arg-type]


def decoded(command: Command) -> tuple[str, dict]:
    """The command as the sink receives it: through its Avro schema and back."""
    name = f"s2c.commands.{command.schema}"
    schema = load_catalog().parsed(name)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, command.to_record())
    buf.seek(0)
    return command.schema, fastavro.schemaless_reader(buf, schema)


# A PostgreSQL database these tests may empty, e.g. postgresql://erp@127.0.0.1:55432/ledger;
# without it (or without psycopg, which s2c does not depend on) they run on SQLite only.
POSTGRES_URL = os.environ.get("S2C_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        book = Ledger.open(str(tmp_path / "erp.sqlite"))
    else:
        if not POSTGRES_URL:
            pytest.skip("S2C_TEST_POSTGRES_URL not set")
        psycopg = pytest.importorskip("psycopg")
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for table in ("gl_journal_lines", "erp_documents", "erp_commands", "erp_periods"):
                connection.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        book = Ledger.open(POSTGRES_URL)
    book.set_periods(["2025-03", "2025-04"], "open")
    book.set_periods(["2025-02"], "closed")
    yield book
    book.close()


def apply(ledger: Ledger, command: Command):
    return ledger.apply(*decoded(command), CHART, NOW)


def test_a_balanced_charge_is_posted_with_a_journal_entry_number(ledger: Ledger) -> None:
    ack, fresh = apply(ledger, knee_charge())
    assert fresh and ack.status == "APPLIED" and ack.reason is None
    assert ack.erp_document_number is not None and ack.erp_document_number.startswith("JE-")
    assert ledger.totals() == (Decimal("4180.00"), Decimal("4180.00"))
    lines = list(ledger.rows("SELECT gl_account, debit_cents, credit_cents FROM gl_journal_lines"))
    assert lines == [("1210", 418000, 0), ("4000", 0, 418000)]


def test_an_unbalanced_journal_is_refused_and_posts_nothing(ledger: Ledger) -> None:
    lines = (
        JournalLine("1210", Decimal("4180.00"), Decimal("0.00"), "charge 29881"),
        JournalLine("4000", Decimal("0.00"), Decimal("4108.00"), "charge 29881"),
    )
    ack, _ = apply(ledger, knee_charge(lines=lines))
    assert ack.status == "REJECTED" and ack.erp_document_number is None
    assert ack.reason == "UNBALANCED_JOURNAL: debits 4180.00 differ from credits 4108.00"
    assert ledger.totals() == (Decimal(0), Decimal(0))
    assert list(ledger.rows("SELECT COUNT(*) FROM erp_documents")) == [(0,)]


def test_an_unknown_gl_account_is_refused(ledger: Ledger) -> None:
    lines = (
        JournalLine("1210", Decimal("4180.00"), Decimal("0.00"), "charge 29881"),
        JournalLine("4999", Decimal("0.00"), Decimal("4180.00"), "charge 29881"),
    )
    ack, _ = apply(ledger, knee_charge(lines=lines))
    assert ack.reason == "UNKNOWN_GL_ACCOUNT: line 2: GL account 4999 unknown"


def test_an_unknown_cost_center_is_refused_for_journals_and_operational_documents(
    ledger: Ledger,
) -> None:
    journal = knee_charge(header=header("cmd-charge-2", "PostJournal", cost_center_id="CC-S09"))
    ack, _ = apply(ledger, journal)
    assert ack.reason == "UNKNOWN_COST_CENTER: cost center CC-S09 unknown"
    room = ReserveRoom(
        header("cmd-room-1", "ReserveRoom", cost_center_id="CC-S09"),
        room_id="OR-S01-03",
        reference_id="CASE-S01-250304-000042",
        start=datetime(2025, 3, 4, 14, 0, tzinfo=UTC),
        minutes=95,
    )
    assert apply(ledger, room)[0].reason == "UNKNOWN_COST_CENTER: cost center CC-S09 unknown"


def test_a_journal_in_a_closed_or_unknown_period_is_refused(ledger: Ledger) -> None:
    february = knee_charge(header=header("cmd-feb", "PostJournal", on=date(2025, 2, 27)))
    assert (
        apply(ledger, february)[0].reason == "CLOSED_PERIOD: period 2025-02 is not open for posting"
    )
    june = knee_charge(header=header("cmd-jun", "PostJournal", on=date(2025, 6, 2)))
    assert apply(ledger, june)[0].reason == "CLOSED_PERIOD: period 2025-06 is not open for posting"
    ledger.set_periods(["2025-06"], "open")  # opened later: a new command posts
    june_again = knee_charge(header=header("cmd-jun-2", "PostJournal", on=date(2025, 6, 2)))
    assert apply(ledger, june_again)[0].status == "APPLIED"


def test_a_line_with_both_sides_a_zero_journal_and_a_wrong_control_total_are_refused(
    ledger: Ledger,
) -> None:
    both = (
        JournalLine("1210", Decimal("10.00"), Decimal("10.00"), "charge 29881"),
        JournalLine("4000", Decimal("0.00"), Decimal("0.00"), "charge 29881"),
    )
    assert apply(ledger, knee_charge("cmd-both", lines=both))[0].reason.startswith("BAD_LINE")
    zero = (
        JournalLine("1210", Decimal("0.00"), Decimal("0.00"), "payment 0.00"),
        JournalLine("4000", Decimal("0.00"), Decimal("0.00"), "payment 0.00"),
    )
    zero_payment = knee_charge("cmd-zero", lines=zero, amount=Decimal("0.00"))
    assert apply(ledger, zero_payment)[0].reason == (
        "ZERO_AMOUNT_JOURNAL: a journal of 0.00 posts nothing"
    )
    wrong_total = knee_charge("cmd-total", amount=Decimal("418.00"))
    assert apply(ledger, wrong_total)[0].reason.startswith("CONTROL_TOTAL")


def test_the_same_command_id_is_posted_once_and_answered_the_same_every_time(
    ledger: Ledger,
) -> None:
    first, fresh = apply(ledger, knee_charge())
    again, fresh_again = apply(ledger, knee_charge())
    assert fresh and not fresh_again
    assert again == first  # same document number, same time: the ack is sent again unchanged
    assert ledger.totals() == (Decimal("4180.00"), Decimal("4180.00"))
    assert list(ledger.rows("SELECT COUNT(*) FROM erp_commands")) == [(1,)]


def test_a_refusal_is_kept_too_so_a_redelivery_gets_the_same_answer(ledger: Ledger) -> None:
    february = knee_charge(header=header("cmd-feb", "PostJournal", on=date(2025, 2, 27)))
    refused, _ = apply(ledger, february)
    ledger.set_periods(["2025-02"], "open")
    again, fresh = apply(ledger, february)
    assert not fresh and again == refused


def test_the_database_itself_refuses_a_second_row_for_a_command_id(ledger: Ledger) -> None:
    apply(ledger, knee_charge())
    with pytest.raises((sqlite3.IntegrityError, ledger._integrity_error)):
        list(
            ledger.rows(
                "INSERT INTO erp_commands (command_id, process_id, command_type, status, "
                "acknowledged_at_ms) VALUES ('cmd-charge-1', 'CASE-1', 'PostJournal', "
                "'APPLIED', 0)"
            )
        )


def test_a_reversal_needs_the_reversed_document(ledger: Ledger) -> None:
    lines = (
        JournalLine("1280", Decimal("56.35"), Decimal("0.00"), "expected revenue 99214"),
        JournalLine("4090", Decimal("0.00"), Decimal("56.35"), "expected revenue 99214"),
    )
    accrual = AccrueExpectedRevenue(
        header("cmd-accrual", "AccrueExpectedRevenue"),
        "PAY-MCD",
        ("99214",),
        Decimal("56.35"),
        lines,
    )
    opposite = tuple(replace(line, debit=line.credit, credit=line.debit) for line in lines)
    reversal = ReverseRevenueAccrual(
        header("cmd-reversal", "ReverseRevenueAccrual", reverses_command_id="cmd-accrual"),
        "PAY-MCD",
        Decimal("56.35"),
        opposite,
    )
    orphan = replace(
        reversal,
        header=replace(
            reversal.header, command_id="cmd-orphan", reverses_command_id="cmd-never-seen"
        ),
    )
    assert apply(ledger, orphan)[0].reason == (
        "UNKNOWN_REVERSED_DOCUMENT: reverses command cmd-never-seen, which this ERP did not apply"
    )
    assert apply(ledger, accrual)[0].status == "APPLIED"
    assert apply(ledger, reversal)[0].status == "APPLIED"
    assert ledger.totals() == (Decimal("112.70"), Decimal("112.70"))


def test_operational_documents_are_recorded_by_kind_without_journal_lines(ledger: Ledger) -> None:
    room = ReserveRoom(
        header("cmd-room-1", "ReserveRoom"),
        room_id="OR-S01-03",
        reference_id="CASE-S01-250304-000042",
        start=datetime(2025, 3, 4, 14, 0, tzinfo=UTC),
        minutes=95,
    )
    ack, _ = apply(ledger, room)
    assert ack.erp_document_number is not None and ack.erp_document_number.startswith("RB-")
    assert list(ledger.rows("SELECT kind FROM erp_documents")) == [("ROOM_BOOKING",)]
    assert ledger.totals() == (Decimal(0), Decimal(0))


def test_the_ack_record_encodes_with_the_public_schema(ledger: Ledger) -> None:
    ack, _ = apply(ledger, knee_charge())
    schema = load_catalog().parsed("s2c.erp.CommandAck")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, ack.to_record("s2c-reference-erp"))
    buf.seek(0)
    back = fastavro.schemaless_reader(buf, schema)
    assert back["status"] == "APPLIED" and back["command_id"] == "cmd-charge-1"
    assert back["acknowledged_at"] == NOW


def test_periods_are_months_in_lists_and_ranges() -> None:
    assert parse_periods("2024-11..2025-02, 2025-06") == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
        "2025-06",
    ]
    assert parse_periods("") == []
    for bad in ("2025-13", "March", "2025-05..2025-01"):
        with pytest.raises(ValueError):
            parse_periods(bad)


def test_the_chart_comes_from_the_replay_master_files(tmp_path: Path) -> None:
    (tmp_path / "CostCenter.jsonl").write_text(
        '{"cost_center_id":"CC-S01-ORTH","display_name":"Hospital 01 Orthopedics",'
        '"site_id":"S01","service_line_id":"SL-ORTH"}\n'
    )
    (tmp_path / "GlAccountMap.jsonl").write_text(
        '{"map_id":"GL-PATIENT_AR","purpose":"PATIENT_AR","site_id":null,"carc_group":null,'
        '"gl_account":"1210"}\n'
    )
    assert Chart.from_master_dir(tmp_path) == Chart(frozenset({"1210"}), frozenset({"CC-S01-ORTH"}))


@settings(
    max_examples=int(os.environ.get("S2C_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    amounts=st.lists(st.integers(1, 10**9), min_size=1, max_size=6),
    deliveries=st.lists(st.integers(0, 5), min_size=1, max_size=30),
)
def test_redeliveries_in_any_order_post_each_id_once_and_the_ledger_balances(
    amounts: list[int], deliveries: list[int]
) -> None:
    """Charges of any cents amount, each delivered any number of times in any order: the ledger
    holds each delivered id once, its totals are those ids' amounts, and every answer to an id is
    the first one."""
    book = Ledger.open(":memory:")
    book.set_periods(["2025-03"], "open")
    charges = [
        knee_charge(
            f"cmd-charge-{n}",
            lines=(
                JournalLine("1210", Decimal(cents) / 100, Decimal("0.00"), "charge 29881"),
                JournalLine("4000", Decimal("0.00"), Decimal(cents) / 100, "charge 29881"),
            ),
            amount=Decimal(cents) / 100,
        )
        for n, cents in enumerate(amounts)
    ]
    first: dict[str, object] = {}
    for n in deliveries:
        if n < len(charges):
            ack, _ = apply(book, charges[n])
            assert first.setdefault(ack.command_id, ack) == ack
    posted = {n for n in deliveries if n < len(charges)}
    total = sum((Decimal(amounts[n]) / 100 for n in posted), Decimal(0))
    assert book.totals() == (total, total)
    assert list(book.rows("SELECT COUNT(*) FROM erp_commands")) == [(len(posted),)]


class FakeMessage:
    def __init__(self, value: bytes, offset: int) -> None:
        self._value, self._offset = value, offset

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "s2c.erp.commands"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: object = None) -> None:
        self.sent.append((topic, key, value))


class FakeCodec:
    """Bytes are an index into the records it was given; encoding is repr."""

    def __init__(self, records: list[tuple[str, dict]]) -> None:
        self.records = records

    def decode(self, value: bytes) -> tuple[str, dict]:
        return self.records[int(value)]

    def encode(self, name: str, record: dict) -> bytes:
        return repr((name, record)).encode()


def test_the_sink_answers_a_command_each_time_it_comes_the_same_and_skips_non_commands(
    ledger: Ledger,
) -> None:
    from s2c.streams.erp.sink import ErpSink
    from s2c.streams.settings import Settings

    schema, record = decoded(knee_charge())
    codec = FakeCodec([(f"s2c.commands.{schema}", record), ("s2c.events.ChargePosted", {})])
    sink = ErpSink(Settings.from_env(), ledger, CHART, codec, "erp-reader-s2c", "s2c-reference-erp")
    producer = FakeProducer()
    for offset, value in enumerate((b"0", b"1", b"0")):
        sink._one(producer, FakeMessage(value, offset))
    assert sink.counts == {
        "applied": 1,
        "rejected": 0,
        "resent": 1,
        "unreadable": 1,
        "withheld": 0,
    }
    assert len(producer.sent) == 2 and producer.sent[0] == producer.sent[1]
    topic, key, _ = producer.sent[0]
    assert topic.endswith(".erp.acks") and key == b"CASE-S01-250304-000042"


def test_a_silent_sink_posts_and_answers_nothing_of_its_silent_instances(ledger: Ledger) -> None:
    from s2c.streams.erp.sink import ErpSink
    from s2c.streams.settings import Settings

    schema, record = decoded(knee_charge())
    codec = FakeCodec([(f"s2c.commands.{schema}", record)])
    sink = ErpSink(
        Settings.from_env(),
        ledger,
        CHART,
        codec,
        "erp-reader-s2c",
        "s2c-reference-erp",
        silent=lambda process_id: process_id == "CASE-S01-250304-000042",
    )
    producer = FakeProducer()
    sink._one(producer, FakeMessage(b"0", 0))
    assert sink.counts["withheld"] == 1 and producer.sent == []
    assert list(ledger.rows("SELECT COUNT(*) FROM erp_commands")) == [(0,)]
