"""The Faust application: broker, RocksDB store, web server, metrics endpoint.

`create_app(settings)` builds the app; agents and tables are attached by `s2c.streams.topology`.
The web server serves `/metrics` (Prometheus text format) from the worker's own registry.
"""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry, generate_latest

from s2c.streams.metrics import PipelineMetrics
from s2c.streams.settings import Settings


def create_app(settings: Settings) -> tuple[faust.App, PipelineMetrics]:
    credentials = None
    if settings.kafka_username:
        credentials = faust.SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value(),
            mechanism=settings.sasl_mechanism,
        )
    from s2c.streams.transport import SCHEME

    app = faust.App(
        settings.app_id,
        broker=f"{SCHEME}://{settings.kafka_bootstrap}",
        broker_credentials=credentials,
        store="rocksdb://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        producer_acks=-1,
        web_host=settings.host,
        web_bind=settings.host,  # Faust binds 0.0.0.0 by default; the API is for operators only
        web_port=settings.worker_web_port,
        canonical_url=f"http://{settings.host}:{settings.worker_web_port}",
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A crashed worker's partitions move after 10 s instead of Faust's 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )
    metrics = PipelineMetrics(CollectorRegistry())

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type, so the exposition format's version only.
        return web.bytes(generate_latest(metrics.registry), content_type="text/plain; version=0.0.4")

    return app, metrics


def service_worker(app: faust.App, loglevel: str) -> "faust.Worker":
    """A Faust worker run as a service, without the terminal progress spinner. With the spinner
    (Faust's default at WARNING and above) Faust sets the root logger to DEBUG so that it ticks
    on every record, and every debug call in aiokafka and Faust builds a record the handler then
    drops: 6.5% of a busy worker's samples in a py-spy profile."""
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel)
    worker.spinner = None
    return worker
