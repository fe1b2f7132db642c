"""Conversion between the core's frozen dataclasses and plain records.

One converter per dataclass is built from its type hints the first time it is used and cached, so
decoding an event is a loop over precomputed functions, not reflection per record. Two plain forms:

- *native* (Avro-shaped, what fastavro reads and writes): `datetime` for timestamp-millis,
  `datetime.date` for date, `decimal.Decimal` for money, nested records as dicts;
- *JSON* (replay files, stored state): ISO-8601 UTC strings ending in `Z`, `YYYY-MM-DD` dates and
  decimal strings, so nothing is ever a float.

Decoding accepts either form for every field, which is how the same event class is built from a
fastavro dict and from a JSON Lines line.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")
Converter = Callable[[Any], Any]

_DECODERS: dict[type, Callable[[dict[str, Any]], Any]] = {}


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int):  # epoch millis, as Avro stores timestamp-millis
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float; send a decimal string")
    return Decimal(value)


def iso(value: datetime) -> str:
    """Millisecond ISO-8601 in UTC with a `Z`, the one textual form of an instant in s2c files."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _converter(hint: Any) -> Converter:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _converter(next(a for a in typing.get_args(hint) if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        return lambda v: tuple(item(x) for x in v)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        record_type: type = hint
        return lambda v: v if isinstance(v, record_type) else decode(record_type, v)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if hint is datetime:
        return to_datetime
    if hint is date:
        return to_date
    if hint is Decimal:
        return to_decimal
    if hint in (str, int, bool):
        return hint
    raise TypeError(f"no converter for {hint!r}")


def _build_decoder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Converter, bool]] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        missing = dataclasses.MISSING
        optional = f.default is not missing or f.default_factory is not missing
        plan.append((f.name, _converter(hints[f.name]), optional))

    def decoder(data: dict[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        for name, convert, optional in plan:
            if name in data:
                value = data[name]
                kwargs[name] = None if value is None else convert(value)
            elif not optional:
                raise ValueError(f"{cls.__name__}: missing field {name!r}")
        return cls(**kwargs)

    return decoder


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from its native (Avro-decoded) or JSON record."""
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = _build_decoder(cls)
    return decoder(data)  # type: ignore[no-any-return]


def _identity(value: Any) -> Any:
    return value


def _encoder(hint: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _encoder(next(a for a in typing.get_args(hint) if a is not type(None)))
        return _identity if inner is _identity else (lambda v: None if v is None else inner(v))
    if origin is tuple:
        item = _encoder(typing.get_args(hint)[0])
        return list if item is _identity else (lambda v: [item(x) for x in v])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return to_native
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: v.value
    return _identity


def _build_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    plan = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(cls)]

    def encoder(obj: Any) -> dict[str, Any]:
        return {name: encode(getattr(obj, name)) for name, encode in plan}

    return encoder


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def to_native(obj: Any) -> Any:
    """The Avro-shaped record of a dataclass: nested dicts, Decimal, datetime, date, enum names."""
    cls = type(obj)
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _ENCODERS[cls] = _build_encoder(cls)
    return encoder(obj)


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(record: Any) -> str:
    """Compact, stable JSON (field order as declared, no floats): same record -> same bytes."""
    return json.dumps(record, default=json_default, separators=(",", ":"), ensure_ascii=False)
