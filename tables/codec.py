"""Conversion between the core's frozen dataclasses and plain records.

One converter per dataclass is built from its type hints the first time it is used and cached, so
decoding an event is one precomputed function, not reflection per record. Two plain forms:

- *native* (Avro-shaped, what fastavro reads and writes): `datetime` for timestamp-millis,
  `datetime.date` for date, `decimal.Decimal` for money, nested records as dicts;
- *JSON* (replay files, stored state): ISO-8601 UTC strings ending in `Z`, `YYYY-MM-DD` dates and
  decimal strings, so nothing is ever a float.

Decoding accepts either form for every field, which is how the same event class is built from a
fastavro dict and from a JSON Lines line.

This is the hot path of replay and of every worker (each event decoded, each state loaded and
saved), so a record's converter is generated source with its fields spelt out (the way
`dataclasses` writes `__init__`): a loop over per-field functions cost about three times as much.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import orjson

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


@lru_cache(maxsize=8192)
def iso(value: datetime) -> str:
    """Millisecond ISO-8601 in UTC with a `Z`, the one textual form of an instant in s2c files.

    Cached (bounded): `isoformat` costs microseconds and the same instants recur (a command's
    `issued_at` is its event's time, a state carries its milestones on every save). Equal
    datetimes are the same instant, so they share one text whatever their time zone."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _converter(hint: Any) -> Converter:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _converter(next(a for a in typing.get_args(hint) if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        return lambda v: tuple([item(x) for x in v])  # a list display beats a generator
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        record_type: type[Any] = hint
        nested = _decoder_of(record_type)
        return lambda v: v if isinstance(v, record_type) else nested(v)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if hint is datetime:
        return to_datetime
    if hint is date:
        return to_date
    if hint is Decimal:
        return to_decimal
    if hint in (str, int, bool):
        return typing.cast(Converter, hint)
    raise TypeError(f"no converter for {hint!r}")


def _build_decoder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Converter, bool]] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        missing = dataclasses.MISSING
        optional = f.default is not missing or f.default_factory is not missing
        plan.append((f.name, _converter(_not_none(hints[f.name])), optional))

    def field_by_field(data: dict[str, Any]) -> T:
        """Any record, also one that leaves out a defaulted field (or is no record at all)."""
        kwargs: dict[str, Any] = {}
        for name, convert, optional in plan:
            if name in data:
                value = data[name]
                kwargs[name] = None if value is None else convert(value)
            elif not optional:
                raise ValueError(f"{cls.__name__}: missing field {name!r}")
        return cls(**kwargs)

    # The usual record has every field: one generated call, `cls(c0(d["a"]), c1(d["b"]), ...)`.
    # Anything else, or anything that fails, goes field by field, which raises what it always did.
    env: dict[str, Any] = {
        "cls": cls,
        "field_by_field": field_by_field,
        "Decimal": Decimal,
        "date": date,
    }
    args = []
    for i, (name, convert, _) in enumerate(plan):
        env[f"c{i}"] = convert
        read = _read(_not_none(hints[name]), f"v{i}", f"c{i}", env)
        args.append(f"None if (v{i} := d[{name!r}]) is None else {read}")
    return compile_function(
        f"decode_{cls.__name__}",
        [
            "try:",
            f"    return cls({', '.join(args)})",
            "except (KeyError, TypeError):",
            "    return field_by_field(d)",
        ],
        env,
    )


def _read(hint: Any, value: str, convert: str, env: dict[str, Any]) -> str:
    """Source converting `value` for the generated decoder: `convert(value)` (the converter
    `field_by_field` uses too), with the common cases spelt out to save a call or three: a JSON
    decimal or date string, a nested record, a tuple of nested records."""
    if hint is Decimal:
        return f"(Decimal({value}) if type({value}) is str else {convert}({value}))"
    if hint is date:
        return f"(date.fromisoformat({value}) if type({value}) is str else {convert}({value}))"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        env[f"R_{hint.__name__}"], env[f"D_{hint.__name__}"] = hint, _decoder_of(hint)
        return (
            f"({value} if isinstance({value}, R_{hint.__name__}) else D_{hint.__name__}({value}))"
        )
    item = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None
    if isinstance(item, type) and dataclasses.is_dataclass(item):
        return f"tuple([{_read(item, 'x', '', env)} for x in {value}])"
    return f"{convert}({value})"


def _not_none(hint: Any) -> Any:
    """`X | None` -> `X`: a decoded None stays None before any converter runs."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def compile_function(name: str, body: list[str], env: dict[str, Any]) -> Callable[[Any], Any]:
    """A one-argument function from generated source, as `dataclasses` builds `__init__`: the
    per-record code of the hot path is then one call with the fields spelt out, no loop."""
    source = "".join(f"    {line}\n" for line in body)
    exec(f"def {name}(d):\n{source}", env)  # noqa: S102 - source built from type hints only
    function: Callable[[Any], Any] = env[name]
    return function


def _decoder_of(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = _build_decoder(cls)
    return decoder


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from its native (Avro-decoded) or JSON record."""
    return _decoder_of(cls)(data)


def _write(hint: Any, value: str, depth: int = 0) -> str:
    """Source of the expression writing `value` (of type `hint`) as a native record value."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _write(_not_none(hint), value, depth)
        return value if inner == value else f"(None if {value} is None else {inner})"
    if origin is tuple:
        item = f"x{depth}"
        inner = _write(typing.get_args(hint)[0], item, depth + 1)
        return f"list({value})" if inner == item else f"[{inner} for {item} in {value}]"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return f"to_native({value})"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"{value}._value_"  # what `.value` returns; `.value` is a slow property
    return value


def _build_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    items = ", ".join(
        f"{f.name!r}: {_write(hints[f.name], f'd.{f.name}')}" for f in dataclasses.fields(cls)
    )
    return compile_function(
        f"encode_{cls.__name__}", [f"return {{{items}}}"], {"to_native": to_native}
    )


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def to_native(obj: Any) -> dict[str, Any]:
    """The Avro-shaped record of a dataclass: nested dicts, Decimal, datetime, date, enum names."""
    cls = type(obj)
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _ENCODERS[cls] = _build_encoder(cls)
    return encoder(obj)


_JSON_OF: dict[type, Converter] = {Decimal: str, datetime: iso, date: date.isoformat}


def json_default(value: Any) -> Any:
    convert = _JSON_OF.get(type(value))
    if convert is not None:
        return convert(value)
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


# orjson writes the text `json.dumps(record, default=json_default, separators=(",", ":"),
# ensure_ascii=False)` writes (tests/unit/core/test_codec_paths.py holds it to that), 2.5x
# faster on a stored process state. Instants are passed through to `json_default`, so they keep
# s2c's millisecond `Z` form. Two differences, neither met in s2c's records: keys must be
# strings, and a float below 1e-4 or from 1e16 on is written 1e-8 where json writes 1e-08.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def dumps_bytes(record: Any) -> bytes:
    """Compact, stable JSON as UTF-8 bytes (field order as declared, no floats for money): same
    record -> same bytes. What states and replay files are written with."""
    return orjson.dumps(record, default=json_default, option=_ORJSON_OPTIONS)


def dumps(record: Any) -> str:
    """`dumps_bytes` as text."""
    return dumps_bytes(record).decode()


def loads(data: bytes | str) -> Any:
    """Parse JSON text (what `dumps` writes, and any other JSON without NaN or ints beyond 64
    bits); raises `ValueError` (`json.JSONDecodeError`) on bad input, as `json.loads` does."""
    return orjson.loads(data)
