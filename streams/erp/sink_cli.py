"""`s2c erp-sink`: the reference ERP. Posts `<prefix>.erp.commands` into a general-ledger database
and answers every command on `<prefix>.erp.acks` (`s2c.erp.CommandAck`).

Each command id is answered once, in the database (a UNIQUE command id; the decision, the ERP
document and its journal lines in one transaction): APPLIED with the ERP's document number
(JE-... journal entries, SR/SX supply reservations and releases, GI goods issues, LP/LX labor
plans, RB/RX room bookings), or REJECTED with a reason: CLOSED_PERIOD, UNKNOWN_GL_ACCOUNT,
UNKNOWN_COST_CENTER, UNBALANCED_JOURNAL, BAD_LINE, EMPTY_JOURNAL, ZERO_AMOUNT_JOURNAL,
CONTROL_TOTAL, UNKNOWN_REVERSED_DOCUMENT, UNKNOWN_COMMAND_TYPE. Offsets are committed only after
the database commit and the broker's acknowledgement of the acks, so a killed sink, restarted,
posts nothing twice and sends the same acks again.

GL accounts and cost centers come from master data: --master-data DIR (the files `s2c replay
--master-data` takes), or else the master data topic, read once at start. Periods (months) are
kept in the database: only an open period takes journals; --open-periods / --close-periods
change them before the sink starts.

  s2c erp-sink --db erp.sqlite --master-data data/master --open-periods 2025-01..2025-12
  s2c erp-sink --db postgresql://erp@db.example.org/ledger        # needs psycopg installed

--from-file FILE posts a replay's commands.jsonl instead of the topic, without Kafka (no acks are
sent; the answers are in the ledger). --silent-fraction F withholds every posting and ack of the
instances whose process id hashes below F (a "silent ERP", for reconciliation tests).
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="the ledger: an SQLite file (created if missing) or a postgresql:// URL",
    )
    parser.add_argument(
        "--master-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="<RecordName>.jsonl master data (GlAccountMap, CostCenter); "
        "default: read the master data topic",
    )
    parser.add_argument(
        "--open-periods",
        default="",
        metavar="SPEC",
        help="open these periods first: YYYY-MM, comma separated, or a range YYYY-MM..YYYY-MM",
    )
    parser.add_argument(
        "--close-periods",
        default="",
        metavar="SPEC",
        help="close these periods first (same form); applied after --open-periods",
    )
    parser.add_argument(
        "--group",
        default=None,
        help="consumer group (default erp-reader-<topic prefix>, one per namespace; the secured "
        "stack's erp-reader role reads with groups named erp-reader*)",
    )
    parser.add_argument(
        "--instance-id",
        default=None,
        help="static group membership (group.instance.id): a sink restarted with the same id "
        "gets its partitions back at once instead of after the dead one's session times out "
        "(10 s); give each running sink its own",
    )
    parser.add_argument(
        "--from-file",
        type=Path,
        default=None,
        metavar="COMMANDS_JSONL",
        help="post a replay's commands.jsonl into the ledger, no Kafka (needs --master-data)",
    )
    parser.add_argument(
        "--silent-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="withhold postings and acks of the instances whose process id hashes below F "
        "(default 0: none)",
    )
    parser.add_argument(
        "--silent-seed",
        default="",
        help="seed of the --silent-fraction hash (default empty)",
    )
    parser.add_argument(
        "--erp-system",
        default="s2c-reference-erp",
        help="the name the acks carry in erp_system (default s2c-reference-erp)",
    )


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException

    from s2c.streams.catalog import load_catalog
    from s2c.streams.codec import AvroCodec, registry_client_for
    from s2c.streams.erp.ledger import Ledger
    from s2c.streams.erp.rules import Chart, parse_periods
    from s2c.streams.erp.sink import AcksNotDelivered, ErpSink, chart_from_topic
    from s2c.streams.settings import Settings

    try:
        opening, closing = parse_periods(args.open_periods), parse_periods(args.close_periods)
    except ValueError as exc:
        log.error("s2c erp-sink: %s", exc)
        return 2
    if args.master_data is not None and not args.master_data.is_dir():
        log.error("s2c erp-sink: master data %s is not a directory", args.master_data)
        return 2
    if not 0 <= args.silent_fraction < 1:
        log.error("s2c erp-sink: --silent-fraction must be in [0, 1)")
        return 2
    if args.from_file is not None:
        return _from_file(args, opening, closing)
    settings = Settings.from_env().role_unless_given("erp-reader")
    codec = AvroCodec(
        registry_client_for(settings),
        lambda name: load_catalog().resolved_json(name),
        register=settings.register_schemas,
    )
    if args.master_data is not None:
        chart = Chart.from_master_dir(args.master_data)
    else:
        chart = chart_from_topic(settings, codec)
    ledger = Ledger.open(args.db)
    ledger.set_periods(opening, "open")
    ledger.set_periods(closing, "closed")
    open_now = [p for p, state in ledger.periods().items() if state == "open"]
    log.info(
        "erp sink: %d GL accounts, %d cost centers, open periods: %s",
        len(chart.gl_accounts),
        len(chart.cost_centers),
        ", ".join(open_now) or "none (every journal will be rejected)",
    )
    stop: dict[str, Any] = {"now": False}

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("erp sink: signal %s, stopping after this batch", signum)
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    group = args.group or f"erp-reader-{settings.topic_prefix}"
    sink = ErpSink(
        settings,
        ledger,
        chart,
        codec,
        group,
        args.erp_system,
        args.instance_id,
        silent=_silence(args),
    )
    try:
        sink.run(lambda: bool(stop["now"]))
    except (AcksNotDelivered, KafkaException) as exc:
        # Nothing is lost: the batch's offsets stay uncommitted; a restart answers it again.
        log.error("s2c erp-sink: stopped: %s", exc)
        return 1
    finally:
        ledger.close()
    return 0


def _silence(args: argparse.Namespace) -> Any:
    from s2c.streams.erp.rules import is_silent

    fraction, seed = args.silent_fraction, args.silent_seed
    return lambda process_id: is_silent(process_id, fraction, seed)


def _from_file(args: argparse.Namespace, opening: list[str], closing: list[str]) -> int:
    from datetime import UTC, datetime

    from s2c.streams.erp.from_file import post_file
    from s2c.streams.erp.ledger import Ledger
    from s2c.streams.erp.rules import Chart

    if args.master_data is None or not args.from_file.is_file():
        log.error("s2c erp-sink: --from-file needs an existing file and --master-data DIR")
        return 2
    chart = Chart.from_master_dir(args.master_data)
    ledger = Ledger.open(args.db)
    try:
        ledger.set_periods(opening, "open")
        ledger.set_periods(closing, "closed")
        counts = post_file(ledger, chart, args.from_file, lambda: datetime.now(UTC), _silence(args))
    finally:
        ledger.close()
    print(
        f"s2c erp-sink: {args.from_file}: {counts['applied']} applied, "
        f"{counts['rejected']} rejected, {counts['resent']} answered before, "
        f"{counts['withheld']} withheld (silent)"
    )
    return 0
