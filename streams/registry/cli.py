"""`s2c registry serve`: run the schema registry service (Confluent REST API) over a Kafka topic.

Schemas live in a compacted Kafka topic (default `S2C_REGISTRY_TOPIC`, `_s2c_schemas`), so the
service keeps nothing on disk, survives restarts, and several instances can share one topic.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="serve the Confluent Schema Registry REST API")
    serve.add_argument("--host", help="address to bind (default: S2C_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: S2C_REGISTRY_PORT)")
    serve.add_argument(
        "--topic", help="Kafka topic holding the schemas (default: S2C_REGISTRY_TOPIC)"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from aiohttp import web

    from s2c.streams.registry.api import create_app
    from s2c.streams.registry.kafkalog import KafkaLog
    from s2c.streams.registry.service import Registry
    from s2c.streams.settings import Settings

    settings = Settings.from_env()
    host = args.host or settings.host
    port = args.port or settings.registry_port
    topic = args.topic or settings.registry_topic

    def make_log(on_record):  # type: ignore[no-untyped-def]
        return KafkaLog(settings.confluent_config(), topic, settings.replication_factor, on_record)

    async def serve() -> None:
        registry = Registry(make_log)
        await registry.start()
        runner = web.AppRunner(create_app(registry), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info(
            "schema registry on http://%s:%d over topic %s at %s",
            host,
            port,
            topic,
            settings.kafka_bootstrap,
        )
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
