"""`s2c demo` without a running stack says so in one line and exits 2, before it creates
anything (it used to retry for 30 s, flood the terminal with librdkafka errors and end in a
traceback)."""

from __future__ import annotations

import argparse
import socket

import pytest

from s2c.streams.demo import first_unreachable, run_demo


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def test_a_listening_broker_is_reachable_and_a_closed_port_is_named() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        dead = closed_port()
        assert first_unreachable(f"127.0.0.1:{port}") is None
        assert first_unreachable(f"127.0.0.1:{port},127.0.0.1:{dead}") == f"127.0.0.1:{dead}"


def test_the_demo_stops_at_once_without_a_broker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("S2C_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port()}")
    args = argparse.Namespace(stop=False, workers=1, seed=7, sites=3, scale=1)
    assert run_demo(args) == 2
    assert "start the local stack first" in capsys.readouterr().out
