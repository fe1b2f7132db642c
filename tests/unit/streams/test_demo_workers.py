"""The demo's worker processes: a second `s2c demo` beside a kept worker takes another port and
never mistakes the kept worker's answer for its own; kept workers are stopped by `s2c demo --stop`
with their pid files and scrape targets; `s2c worker` refuses a busy port before joining."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from s2c.streams.demo_workers import free_ports, record_kept, stop_kept, wait_own_answer
from s2c.streams.scrape_targets import target_dir, write_target
from s2c.streams.settings import Settings
from s2c.streams.worker_cli import web_port_problem


@pytest.fixture
def kept_worker_port():
    """A listening socket, as a worker kept by an earlier demo holds its web port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_skipped_before_anything_is_published(kept_worker_port):
    ports = free_ports("127.0.0.1", kept_worker_port, 2)
    assert kept_worker_port not in ports and len(set(ports)) == 2
    assert all(p > kept_worker_port for p in ports)


def test_the_worker_refuses_a_busy_web_port_before_joining(kept_worker_port):
    problem = web_port_problem("127.0.0.1", kept_worker_port)
    assert problem is not None and str(kept_worker_port) in problem
    assert (
        web_port_problem("127.0.0.1", free_ports("127.0.0.1", kept_worker_port + 1, 1)[0]) is None
    )


def health_server(pid: int) -> ThreadingHTTPServer:
    """A /health/ that answers for process `pid`, as the kept worker's does (503: recovering)."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "recovering", "pid": pid, "app_id": "s2c-demo-1"}).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sleeper(*extra: str) -> subprocess.Popen:
    code = "import time; time.sleep(120)"
    return subprocess.Popen([sys.executable, "-c", code, *extra], start_new_session=True)


def test_another_workers_answer_is_not_readiness(tmp_path: Path):
    ours = sleeper()
    server = health_server(pid=ours.pid + 1)  # the kept worker, on the port we asked
    url = f"http://127.0.0.1:{server.server_address[1]}/health/"
    try:
        with pytest.raises(SystemExit, match="did not answer"):
            wait_own_answer(url, ours, 2.0, tmp_path / "worker-0.log")
    finally:
        server.shutdown()
    mine = health_server(pid=ours.pid)
    try:  # its own answer counts, 503 (still recovering) included
        wait_own_answer(
            f"http://127.0.0.1:{mine.server_address[1]}/health/",
            ours,
            5.0,
            tmp_path / "worker-0.log",
        )
    finally:
        mine.shutdown()
        ours.kill()
        ours.wait()


def test_stop_ends_kept_workers_with_their_pid_files_and_targets_and_nothing_else(tmp_path: Path):
    settings = replace(Settings(), data_dir=tmp_path)
    target_dir(tmp_path).mkdir(parents=True)
    kept = sleeper("-m", "s2c.streams.cli", "worker")  # what a kept worker's command line has
    recycled = sleeper()  # a pid file whose pid now belongs to something else
    reaper = threading.Thread(target=kept.wait, daemon=True)  # no zombie to look alive
    reaper.start()
    try:
        record_kept(settings, kept)
        record_kept(settings, recycled)
        write_target(target_dir(tmp_path), "127.0.0.1", 16066, kept.pid)
        assert stop_kept(settings, wait_seconds=10) == [kept.pid]
        reaper.join(10)
        assert kept.poll() is not None
        assert recycled.poll() is None  # not an s2c worker: left alone
        assert list((tmp_path / "pids").iterdir()) == []
        assert list(target_dir(tmp_path).iterdir()) == []
    finally:
        for proc in (kept, recycled):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
        recycled.wait()


def test_stack_stop_stops_kept_workers_before_kafka(tmp_path: Path):
    """`make stack-down` used to leave a kept worker running, logging refused connections. Run
    on an empty data dir, the script has no service of its own to stop: only the kept worker."""
    from s2c.streams.settings import REPO_ROOT

    settings = replace(Settings(), data_dir=tmp_path)
    target_dir(tmp_path).mkdir(parents=True)
    kept = sleeper("-m", "s2c.streams.cli", "worker")
    reaper = threading.Thread(target=kept.wait, daemon=True)
    reaper.start()
    try:
        record_kept(settings, kept)
        write_target(target_dir(tmp_path), "127.0.0.1", 16066, kept.pid)
        run = subprocess.run(
            [str(REPO_ROOT / "deploy" / "local" / "stack"), "stop"],
            env=dict(os.environ, S2C_DATA_DIR=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert f"demo worker (pid {kept.pid}) stopped" in run.stdout
        reaper.join(10)
        assert kept.poll() is not None
        assert sorted(p.name for p in (tmp_path / "pids").iterdir()) == []
        assert list(target_dir(tmp_path).iterdir()) == []
    finally:
        if kept.poll() is None:
            os.killpg(kept.pid, 9)
