"""Repeated broker-connection errors, logged once per interval instead of ~100 times a second.

When the broker is gone (the stack stopped under a running worker), aiokafka retries every 100 ms
and logs each failure at ERROR ("Unable connect to node", "Unable to update metadata", "Group
Coordinator Request failed", "Failed fetch messages"): a hundred lines a second that bury
everything else. The filter lets the first record of each message template through, drops
the repeats for `interval` seconds, and then lets the next one through saying how many it
dropped. Records below WARNING are never held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# The loggers aiokafka logs its connection failures on (a logger's filters see only the records
# logged on that very logger, not those propagated from its children).
BROKER_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.consumer",
    "aiokafka.producer.sender",
    "aiokafka.producer.producer",
)


class ThrottleRepeats(logging.Filter):
    """Passes a WARNING-or-worse record only if its logger and message template have not passed
    within `interval` seconds; the record that passes next carries the count of those dropped."""

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        # one entry per (logger, template): the templates are aiokafka's own, a few dozen at most
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.interval:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        dropped = seen[1] if seen else 0
        self._last[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like it since the last one shown)"
        return True


def install_broker_log_throttle(interval: float = 30.0) -> ThrottleRepeats:
    throttle = ThrottleRepeats(interval)
    for name in BROKER_LOGGERS:
        logging.getLogger(name).addFilter(throttle)
    return throttle
