"""A worker whose broker is gone logs each kind of connection failure once per interval, not
the hundred lines a second aiokafka's 100 ms retries produce."""

from __future__ import annotations

import logging

from s2c.streams.logthrottle import BROKER_LOGGERS, ThrottleRepeats, install_broker_log_throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def aiokafka_logger(
    throttle: logging.Filter, name: str = "aiokafka"
) -> tuple[logging.Logger, Collect]:
    logger = logging.Logger(name)  # private, not in the logging tree
    logger.addFilter(throttle)
    handler = Collect()
    logger.addHandler(handler)
    return logger, handler


def test_a_second_of_refused_connections_gives_one_line_then_one_per_interval_with_a_count():
    clock = Clock()
    logger, out = aiokafka_logger(ThrottleRepeats(30.0, clock))
    for tick in range(100):  # aiokafka retries every 100 ms: 10 s of a dead broker
        clock.now = 1000.0 + tick * 0.1
        logger.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connect call failed")
        logger.error("Unable to update metadata from %s", [1])
    assert out.lines == [
        "Unable connect to node with id 1: [Errno 111] Connect call failed",
        "Unable to update metadata from [1]",
    ]
    clock.now = 1031.0
    logger.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connect call failed")
    assert out.lines[-1] == (
        "Unable connect to node with id 1: [Errno 111] Connect call failed "
        "(99 more like it since the last one shown)"
    )


def test_info_and_debug_records_are_never_held_back():
    clock = Clock()
    logger, out = aiokafka_logger(ThrottleRepeats(30.0, clock))
    logger.setLevel(logging.DEBUG)
    for _ in range(5):
        logger.info("Updating subscribed topics to: %s", "s2c.events")
    assert len(out.lines) == 5


def test_the_worker_installs_it_on_the_loggers_aiokafka_reports_failures_on():
    throttle = install_broker_log_throttle()
    try:
        for name in (
            "aiokafka",
            "aiokafka.consumer.group_coordinator",
            "aiokafka.consumer.fetcher",
        ):
            assert throttle in logging.getLogger(name).filters
    finally:
        for name in BROKER_LOGGERS:
            logging.getLogger(name).removeFilter(throttle)
