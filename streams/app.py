"""The Faust application: broker, RocksDB store, web server, metrics endpoint.

`create_app(settings)` builds the app; agents and tables are attached by `s2c.streams.topology`.
The web server serves `/metrics` (Prometheus text format) from the worker's own registry, open
like `/health/`: its labels are stages, topics, sites, service lines and payer classes, never an
instance or a patient. Faust's own table and router pages are turned off.

Every record a worker consumes (events, link, process, and changelog records while tables
recover) is turned into a Faust event before anything of ours sees it. Two costs of that were
plain overhead, together about 30 % of a restarting worker's record handling in a py-spy
profile: Faust's `create_event` reads `app.conf.Event` through its settings registry per record,
and a topic's schema looks the `raw` codec up in the serializer registry for key and value.
`App` reads the setting once; `RAW` is a schema whose keys and values are the bytes that came
(both in runtime/overrides/app.py, with every other override of Faust).
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from prometheus_client import CollectorRegistry, generate_latest

from s2c.streams.metrics import PipelineMetrics
from s2c.streams.runtime.overrides.app import App
from s2c.streams.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> tuple[faust.App, PipelineMetrics]:
    credentials: Any = None
    if settings.kafka_sasl:
        credentials = faust.SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value(),
            mechanism=settings.sasl_mechanism,
            ssl_context=settings.aiokafka_ssl_context(),  # None: SASL_PLAINTEXT
        )
    elif settings.kafka_tls:
        credentials = faust.SSLCredentials(settings.aiokafka_ssl_context())
    from s2c.streams.runtime.overrides import check_versions
    from s2c.streams.runtime.overrides.recovery import BatchedRecoveryTables
    from s2c.streams.runtime.overrides.store import Table
    from s2c.streams.runtime.overrides.transport import SCHEME

    for mismatch in check_versions():
        log.warning("untested library version: %s", mismatch)

    app = App(
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
        # Faust's own pages are off: `/table/<name>/<key>/` served raw table state (the parked
        # events in it carry account numbers) to anyone, and `/router/`, `/graph/`, the stats
        # index and `/performance/` are not needed. Ours: the experience API and /metrics.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        canonical_url=f"http://{settings.host}:{settings.worker_web_port}",
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A crashed worker's partitions move after 10 s instead of Faust's 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        TableManager=BatchedRecoveryTables,
        Table=Table,
    )
    metrics = PipelineMetrics(CollectorRegistry())

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type, so the exposition format's version only.
        return web.bytes(
            generate_latest(metrics.registry), content_type="text/plain; version=0.0.4"
        )

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
