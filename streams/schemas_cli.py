"""`s2c schemas`: check the Avro catalogue (parse, compatibility, lint) and record its versions.

`check` is what CI runs: every schema parses with named types resolved across files, every subject
is compatible under its policy with every recorded version in `schemas/history/<full.name>/`, the
current schema is recorded as the newest version, and the lint rules of `schema_lint` hold.
`snapshot` records the current schema as the next version, refusing an incompatible one.
`register` puts every current schema into the registry (what a deploy does before its workers).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s2c.streams.catalog import HISTORY_DIR, Catalog, CatalogError, default_root
from s2c.streams.compat import SchemaParseError, check_compatibility
from s2c.streams.schema_lint import lint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="schemas_action", required=True)
    check_p = actions.add_parser("check", help="parse, compatibility and lint; non-zero on failure")
    snap_p = actions.add_parser("snapshot", help="record changed schemas as their next version")
    snap_p.add_argument("names", nargs="*", help="record names (short or full); default: all")
    reg_p = actions.add_parser(
        "register",
        help="register every schema with the registry (the admin's job on the secured stack)",
    )
    for sub in (check_p, snap_p, reg_p):
        sub.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="schemas tree to use (default: the installed s2c.schemas package)",
        )


def run(args: argparse.Namespace) -> int:
    root = args.dir or default_root()
    if args.schemas_action == "register":
        return register(root)
    if args.schemas_action == "snapshot":
        problems, recorded = snapshot(root, args.names)
        for line in recorded:
            print(f"recorded {line}")
    else:
        problems = check(root)
    for problem in problems:
        print(f"ERROR {problem}")
    if problems:
        print(f"s2c schemas {args.schemas_action}: {len(problems)} problem(s) in {root}")
        return 1
    if args.schemas_action == "check":
        catalog = Catalog.from_dir(root)
        versions = sum(len(catalog.history(n)) for n in catalog.names())
        print(
            f"s2c schemas check: ok: {len(catalog.names())} subjects, "
            f"{len(catalog.names(include_common=True)) - len(catalog.names())} shared types, "
            f"{versions} recorded versions in {root}"
        )
    return 0


def check(root: Path) -> list[str]:
    """Every problem in the tree at `root`, each naming the schema (and field when there is one)."""
    try:
        catalog = Catalog.from_dir(root)
    except CatalogError as exc:
        return list(exc.problems)
    problems = lint(catalog)
    for name in catalog.names():
        problems += _history_problems(catalog, name)
    history = root / HISTORY_DIR
    for folder in sorted(history.iterdir()) if history.is_dir() else []:
        if folder.name not in catalog.raw:
            problems.append(
                f"{HISTORY_DIR}/{folder.name}: recorded versions, no current schema; "
                f"records are retired (no longer produced), never deleted"
            )
    return problems


def _history_problems(catalog: Catalog, name: str) -> list[str]:
    where, level = catalog.files[name], catalog.compatibility(name)
    previous, current = catalog.history(name), catalog.resolved_json(name)
    if not previous:
        return [f"{where}: {name}: no recorded version; run `s2c schemas snapshot {name}`"]
    try:
        messages = check_compatibility(current, previous, level)
    except SchemaParseError as exc:
        return [f"{HISTORY_DIR}/{name}: a recorded version does not parse: {exc}"]
    problems = [f"{where}: {name}: {message}" for message in messages]
    if not problems and json.loads(current) != json.loads(previous[-1]):
        problems.append(
            f"{where}: {name}: changed since v{len(previous)} (compatible, {level}) "
            f"but not recorded; run `s2c schemas snapshot {name}` and commit "
            f"{HISTORY_DIR}/{name}/v{len(previous) + 1}.avsc with the change"
        )
    return problems


def snapshot(root: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """Record each changed, compatible schema as v<N+1>; returns (problems, recorded)."""
    try:
        catalog = Catalog.from_dir(root)
        wanted = [catalog.short(n) for n in names] or catalog.names()
    except (CatalogError, KeyError) as exc:
        return (exc.problems if isinstance(exc, CatalogError) else [str(exc)]), []
    problems: list[str] = []
    recorded: list[str] = []
    for name in wanted:
        previous, current = catalog.history(name), catalog.resolved_json(name)
        if previous and json.loads(current) == json.loads(previous[-1]):
            continue
        messages = check_compatibility(current, previous, catalog.compatibility(name))
        if messages:
            problems += [f"{catalog.files[name]}: {name}: {m}" for m in messages]
            continue
        target = root / HISTORY_DIR / name / f"v{len(previous) + 1}.avsc"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(json.loads(current), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        recorded.append(str(target.relative_to(root)))
    return problems, recorded


def register(root: Path) -> int:
    """Every subject's current schema into the registry at S2C_REGISTRY_URL (idempotent). On the
    secured stack as the admin: workers and ingest may only look schemas up."""
    from s2c.streams.codec import AvroCodec, registry_client_for
    from s2c.streams.settings import Settings

    settings = Settings.from_env().role_unless_given("admin")
    catalog = Catalog.from_dir(root)
    codec = AvroCodec(registry_client_for(settings), catalog.resolved_json)
    for name in catalog.names():
        codec.prepare(name)
    print(f"s2c schemas register: {len(catalog.names())} subjects in {settings.registry_url}")
    return 0
