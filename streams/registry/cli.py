"""`s2c registry serve`: run the schema registry service (Confluent REST API) over a Kafka topic.
`s2c registry add-user`: add or replace a user in the registry's users file.

Schemas live in a compacted Kafka topic (default `S2C_REGISTRY_TOPIC`, `_s2c_schemas`), so the
service keeps nothing on disk, survives restarts, and several instances can share one topic.

With S2C_REGISTRY_AUTH_FILE the registry asks for HTTP basic auth: users with role `read` may GET,
`write` may also register, delete and change compatibility or mode. add-user takes the password
from S2C_NEW_PASSWORD (never from the command line, where `ps` would show it):

  S2C_NEW_PASSWORD=... s2c registry add-user --file users --user billing-ops --role write
"""

from __future__ import annotations

import argparse
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s2c.streams.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="serve the Confluent Schema Registry REST API")
    serve.add_argument("--host", help="address to bind (default: S2C_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: S2C_REGISTRY_PORT)")
    serve.add_argument(
        "--topic", help="Kafka topic holding the schemas (default: S2C_REGISTRY_TOPIC)"
    )
    add_user = sub.add_parser(
        "add-user", help="add or replace a registry user (password from S2C_NEW_PASSWORD)"
    )
    add_user.add_argument("--file", required=True, type=Path, help="the users file (made 0600)")
    add_user.add_argument("--user", required=True, help="user name (no ':')")
    add_user.add_argument("--role", required=True, choices=("read", "write"))


def add_user(args: argparse.Namespace) -> int:
    from s2c.streams.registry.users import UsersFileError
    from s2c.streams.registry.users import add_user as add
    from s2c.streams.settings import Settings

    password = Settings.from_env().new_password.get_secret_value()
    if not password:
        log.error("set S2C_NEW_PASSWORD to the new user's password (it is never read from argv)")
        return 2
    try:
        replaced = add(args.file, args.user, args.role, password)
    except (UsersFileError, OSError) as exc:
        log.error("could not add %s to %s: %s", args.user, args.file, exc)
        return 1
    log.info(
        "%s registry user %s (%s) in %s",
        "replaced" if replaced else "added",
        args.user,
        args.role,
        args.file,
    )
    return 0


def server_tls(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context `serve` speaks https with, None (plain http) without a certificate."""
    cert, key = settings.registry_tls_cert, settings.registry_tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SystemExit("s2c registry: set both S2C_REGISTRY_TLS_CERT and S2C_REGISTRY_TLS_KEY")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def run(args: argparse.Namespace) -> int:
    if args.action == "add-user":
        return add_user(args)
    import asyncio
    import signal

    from aiohttp import web

    from s2c.streams.registry.api import create_app
    from s2c.streams.registry.auth import UsersFile
    from s2c.streams.registry.kafkalog import KafkaLog
    from s2c.streams.registry.service import Registry
    from s2c.streams.settings import Settings

    settings = Settings.from_env()
    host = args.host or settings.host
    port = args.port or settings.registry_port
    topic = args.topic or settings.registry_topic

    def make_log(on_record):  # type: ignore[no-untyped-def]
        return KafkaLog(
            settings.confluent_config(),
            topic,
            settings.replication_factor,
            on_record,
            audit_topic=settings.audit_topic,
        )

    users_file = None
    if settings.registry_auth_file is not None:
        try:
            users_file = UsersFile(settings.registry_auth_file)
        except (OSError, ValueError) as exc:
            log.error("cannot read S2C_REGISTRY_AUTH_FILE %s: %s", settings.registry_auth_file, exc)
            return 2
    tls = server_tls(settings)

    async def serve() -> None:
        registry = Registry(make_log)
        await registry.start()
        runner = web.AppRunner(create_app(registry, users_file=users_file), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, ssl_context=tls).start()
        log.info(
            "schema registry on %s://%s:%d over topic %s at %s (audit trail: %s)",
            "https" if tls else "http",
            host,
            port,
            topic,
            settings.kafka_bootstrap,
            settings.audit_topic,
        )
        if users_file is None:
            log.warning(
                "schema registry is unauthenticated: anyone who reaches it may register, delete "
                "and change compatibility; set S2C_REGISTRY_AUTH_FILE (see s2c registry add-user)"
            )
        else:
            log.info("registry users from %s", users_file.path)
        stopped = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopped.set)
        try:
            await stopped.wait()
            log.info("schema registry stopping")
        finally:
            await runner.cleanup()
            await registry.stop()

    asyncio.run(serve())
    return 0
