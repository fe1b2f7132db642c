"""The plain-Faust peer of issue 8: the least a Faust app does per event, as a yardstick.

One agent on the events topic; per event one RocksDB table update (a count per key) and one send
of the value bytes, untouched, to an output topic. No decoding, no core, no metrics. Same Faust
settings as the s2c worker where they matter (RocksDB, acks=all, 1 s commit interval, earliest
offset reset). Run as its own process, configured by its command line:

    python -m s2c.streams.bench.peer --bootstrap HOST:PORT --app-id ID --source TOPIC \
        --sink TOPIC --partitions 4 --datadir DIR --web-port PORT
"""

from __future__ import annotations

import argparse
from pathlib import Path

import faust


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="rocksdb://",
        datadir=str(args.datadir),
        topic_partitions=args.partitions,
        producer_acks=-1,
        web_host="127.0.0.1",
        web_port=args.web_port,
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(args.source, **raw)
    sink = app.topic(args.sink, **raw)
    counts = app.Table(
        "peer_counts", default=int, partitions=args.partitions, key_type=bytes, value_type=int
    )

    @app.agent(source, concurrency=1)
    async def pass_through(stream: faust.StreamT) -> None:
        async for key, value in stream.items():
            counts[key] += 1
            await sink.send(key=key, value=value)

    @app.page("/metrics")
    async def alive(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.bytes(b"# plain faust peer\n", content_type="text/plain; version=0.0.4")

    return app


def main() -> None:
    from s2c.streams.app import service_worker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("bootstrap", "app-id", "source", "sink"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--web-port", type=int, required=True)
    args = parser.parse_args()
    args.datadir.mkdir(parents=True, exist_ok=True)
    service_worker(build(args), "warning").execute_from_commandline()


if __name__ == "__main__":
    main()
