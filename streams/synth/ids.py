"""Identifiers and clock helpers: NPIs with a valid check digit, pseudonymous patient tokens, times.

NPI check digit: Luhn over the constant prefix 80840 plus the first nine digits (CMS, "NPI check
digit"). Patient refs are a keyed permutation of a pool index, so they carry no sequence a reader
could map back to a person, and they are the only patient identifier the generator produces.
Times are epoch milliseconds (int) while planning; records get aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def luhn_check_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # positions that get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_from_number(number: int, entity_type: int = 1) -> str:
    """A syntactically valid 10-digit NPI (first digit 1 = individual, 2 = organisation)."""
    body = f"{entity_type}{(number * 7919 + 1_234_567) % 100_000_000:08d}"  # bijective scramble
    return body + str(luhn_check_digit("80840" + body))


def npi_is_valid(npi: str) -> bool:
    return (
        len(npi) == 10
        and npi.isdigit()
        and npi[0] in "12"
        and luhn_check_digit("80840" + npi[:9]) == int(npi[9])
    )


def patient_ref(seed: int, index: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).hexdigest()
    return f"PT-{digest}"


def day_start_ms(day: date, utc_offset_hours: int) -> int:
    """Local midnight of `day` at a fixed UTC offset, as epoch milliseconds."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(
        hours=utc_offset_hours
    )
    return int(midnight.timestamp()) * 1000


def to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def to_date(ms: int, utc_offset_hours: int) -> date:
    return (_EPOCH + timedelta(milliseconds=ms + utc_offset_hours * HOUR)).date()
