"""Ingest HL7 v2, X12 or FHIR files (or directories) into canonical events, or listen on MLLP.

  s2c ingest hl7 PATH...     HL7 v2 files (one or many messages each, LF or CR separated)
  s2c ingest x12 PATH...     X12 005010 interchanges (837P/837I, 277CA, 835)
  s2c ingest fhir PATH...    FHIR R4 JSON resources or Bundles
  s2c ingest mllp            an MLLP listener (HL7 v2 over TCP) until interrupted
Events go to the events topic, rejected inputs to the dead-letter topic with the reason.
Exit status: 0 all mapped; 1 some unit was dead-lettered; 2 a path does not exist or cannot be
read, or no file matched. `--dry-run` maps and counts, and publishes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import REGISTRY

from s2c.streams.connectors.events import PatientRefs
from s2c.streams.connectors.ingest import Ingestor, Outcome
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp_access import MllpPolicy
from s2c.streams.connectors.publish import KafkaPublisher, MemoryPublisher, Publisher
from s2c.streams.settings import Settings

log = logging.getLogger(__name__)
SUFFIXES = {
    "hl7": {".hl7", ".txt", ".msg"},
    "x12": {".x12", ".edi", ".835", ".837", ".837i", ".837p", ".277", ".txt"},
    "fhir": {".json", ".ndjson"},
}
PROGRESS_THRESHOLD = 20  # files; smaller batches finish before a bar is worth drawing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=["hl7", "x12", "fhir", "mllp"])
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories")
    parser.add_argument(
        "--dry-run", action="store_true", help="map and report only; publish nothing"
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.add_argument(
        "--host", default=None, help="MLLP listen address (default: S2C_HOST, 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=2575, help="MLLP listen port")


def files_of(paths: list[Path], fmt: str) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUFFIXES[fmt]
            )
        else:
            found.append(path)
    return found


def build_ingestor(settings: Settings, dry_run: bool) -> Ingestor:
    from s2c.streams.topics import declare

    topics = declare(settings)
    publisher: Publisher = (
        MemoryPublisher()
        if dry_run
        else KafkaPublisher(settings, topics.events.name, topics.dlq.name)
    )
    return Ingestor(
        publisher,
        ConnectorMetrics(REGISTRY),
        PatientRefs.from_settings(settings),
        lambda: datetime.now(UTC),
    )


def outcomes(ingestor: Ingestor, fmt: str, path: Path) -> Iterator[Outcome]:
    raw, source = path.read_bytes(), str(path)
    readers = {"hl7": ingestor.hl7_file, "x12": ingestor.x12_file, "fhir": ingestor.fhir_file}
    yield from readers[fmt](raw, source)


def ingest_files(
    ingestor: Ingestor, fmt: str, files: list[Path], show_progress: bool, dry_run: bool = False
) -> int:
    from tqdm import tqdm

    events = rejected = unreadable = 0
    bar = tqdm(files, unit="file", disable=not show_progress or len(files) < PROGRESS_THRESHOLD)
    for path in bar:
        try:
            for outcome in outcomes(ingestor, fmt, path):
                events += outcome.events
                if outcome.error is not None:
                    rejected += 1
        except OSError as exc:  # removed or unreadable after it was listed
            log.error("cannot read %s: %s", path, exc.strerror or exc)
            unreadable += 1
        ingestor.publisher.flush()
    if dry_run:
        log.info(
            "dry run, nothing published: %d file(s), %d event(s) mapped, %d unit(s) "
            "rejected (would be dead-lettered)",
            len(files),
            events,
            rejected,
        )
    else:
        log.info(
            "%d file(s): %d event(s) published, %d unit(s) dead-lettered",
            len(files),
            events,
            rejected,
        )
    return 2 if unreadable else 1 if rejected else 0


def missing_paths(paths: list[Path]) -> list[Path]:
    return [path for path in paths if not path.exists()]


def warn_if_unread(settings: Settings, topic: str) -> None:
    """Say so when no consumer group reads the events topic: the events would sit there."""
    from s2c.streams.topic_readers import groups_reading

    if groups_reading(settings, topic) == set():
        log.warning(
            "no consumer group is subscribed to %s or has committed offsets on it: no "
            "worker reads S2C_TOPIC_PREFIX=%s yet, so these events wait there until one "
            "starts (S2C_APP_ID=%s)",
            topic,
            settings.topic_prefix,
            settings.app_id,
        )


async def listen(ingestor: Ingestor, host: str, port: int, policy: MllpPolicy) -> None:
    from s2c.streams.connectors.mllp import MllpListener

    listener = MllpListener(ingestor, host, port, policy)
    await listener.start()
    try:
        await asyncio.Event().wait()
    finally:
        await listener.stop()


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env().role_unless_given("ingest")
    if args.format != "mllp":
        if not args.paths:
            log.error("s2c ingest %s needs one or more files or directories", args.format)
            return 2
        if missing := missing_paths(args.paths):
            for path in missing:
                log.error("no such file or directory: %s", path)
            return 2
    policy = None
    if args.format == "mllp":
        try:
            policy = MllpPolicy.from_settings(settings)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.error("cannot start the MLLP listener: %s", exc)
            return 2
    ingestor = build_ingestor(settings, args.dry_run)
    if not args.dry_run:
        from s2c.streams.topics import declare

        warn_if_unread(settings, declare(settings).events.name)
    if policy is not None:
        try:
            asyncio.run(listen(ingestor, args.host or settings.host, args.port, policy))
        except KeyboardInterrupt:
            log.info("MLLP listener stopped")
        return 0
    files = files_of(args.paths, args.format)
    if not files:
        log.error("no %s files under %s", args.format, ", ".join(map(str, args.paths)))
        return 2
    show = not args.no_progress and sys.stderr.isatty()
    return ingest_files(ingestor, args.format, files, show, args.dry_run)
