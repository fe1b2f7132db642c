"""FHIR JSON files into units: one resource each, or a rejection naming where in the file.

A file is one JSON resource, a Bundle (one unit per entry) or NDJSON (one unit per line, a line
may itself be a Bundle). What cannot be a resource (a top-level array, a number, a Bundle entry
whose `resource` is null, a line that is not JSON) becomes a unit that carries its rejection, so
the other entries of the file still map and the bad one is dead-lettered with its place. A file
or Bundle that holds nothing is a rejection too: an input never disappears without a word.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from s2c.streams.connectors.events import MappingError


@dataclass(frozen=True)
class FhirUnit:
    """One resource (`doc`) with its original bytes and its place in the file (`where`, '' for
    a file that is the resource), or the rejection of what stood at that place."""

    doc: Any
    original: bytes
    where: str = ""
    error: MappingError | None = None


def _bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def _refused(value: Any, where: str, reason: str, original: bytes | None = None) -> FhirUnit:
    error = MappingError(where, reason, stage="parse", code="102")
    return FhirUnit(None, original if original is not None else _bytes(value), where, error)


def split_resources(raw: bytes) -> list[FhirUnit]:
    """The units of a file; a file that is not JSON (or NDJSON) at all is one rejection."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise MappingError(
            "json", f"not UTF-8 at byte {exc.start}", stage="parse", code="102"
        ) from None
    if not text:
        raise MappingError("json", "file holds no FHIR resource (empty)", stage="parse", code="101")
    try:
        return _units(json.loads(text), raw, "")
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(lines) < 2 or not _is_json(lines[0][1]):
            raise MappingError(
                "json", f"not FHIR JSON: {whole}", stage="parse", code="102"
            ) from None
    units: list[FhirUnit] = []
    for number, line in lines:  # NDJSON: a bad line is rejected alone
        where, original = f"line {number}", line.encode()
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            units.append(_refused(None, where, f"not JSON: {exc}", original))
            continue
        units.extend(_units(doc, original, where))
    return units


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _units(doc: Any, original: bytes, where: str) -> list[FhirUnit]:
    place = where or "$"
    if isinstance(doc, list):
        return [
            _refused(
                doc,
                place,
                "a JSON array is not a FHIR resource (send a resource, a Bundle or NDJSON)",
                original,
            )
        ]
    if not isinstance(doc, dict):
        return [_refused(doc, place, "JSON value is not a FHIR resource object", original)]
    if doc.get("resourceType") != "Bundle":
        return [FhirUnit(doc, original, where)]
    prefix = f"{where}: Bundle" if where else "Bundle"
    entries = doc.get("entry")
    if entries is None or entries == []:
        return [_refused(doc, f"{prefix}.entry", "Bundle holds no entry", original)]
    if not isinstance(entries, list):
        return [_refused(doc, f"{prefix}.entry", "Bundle.entry is not an array", original)]
    units = []
    for index, entry in enumerate(entries):
        at = f"{prefix}.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            units.append(_refused(entry, at, "entry is not a JSON object"))
        elif not isinstance(resource, dict):
            units.append(
                _refused(entry, f"{at}.resource", "entry has no resource (null or missing)")
            )
        else:
            units.append(FhirUnit(resource, _bytes(resource), f"{at}.resource"))
    return units
