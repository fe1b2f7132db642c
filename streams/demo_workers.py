"""The worker processes of `s2c demo`: start them on free web ports, wait until each answers for
itself, and keep, list and stop the ones `--keep-worker` leaves running.

A kept worker is recorded as `.s2c/pids/demo-worker-<pid>.pid` (the stack's pid folder), so
`s2c demo --stop` and `deploy/local/stack stop` (`make stack-down`) find and stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from s2c.streams.scrape_targets import pid_alive, target_dir
from s2c.streams.settings import Settings

WORKER_ARGV = ("-m", "s2c.streams.cli", "worker")


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the worker's aiohttp
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(
    host: str, first: int, count: int, is_free: Callable[[str, int], bool] = port_free
) -> list[int]:
    """`count` ports from `first` upward that nothing listens on (a kept worker holds its own)."""
    ports: list[int] = []
    port = first
    while len(ports) < count:
        if port > 65535:
            raise SystemExit(f"s2c demo: no free web port from {first} upward")
        if is_free(host, port):
            ports.append(port)
        port += 1
    return ports


def start_worker(
    settings: Settings,
    run_dir: Path,
    index: int,
    port: int,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`extra_env`: more variables for the worker (`s2c verify` passes its allowed lateness)."""
    env = dict(
        os.environ,
        **settings.role_env("worker"),  # the secured stack's worker credentials (else nothing)
        S2C_TOPIC_PREFIX=settings.topic_prefix,
        S2C_APP_ID=settings.app_id,
        S2C_WORKER_DIR=str(run_dir / f"worker-{index}"),
        S2C_WORKER_WEB_PORT=str(port),
        **(extra_env or {}),
    )
    with open(run_dir / f"worker-{index}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, *WORKER_ARGV],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _health(url: str) -> dict[str, Any] | None:
    """The /health/ answer, also while it says 503 (recovering, loading master data)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as err:
        try:
            body = json.load(err)
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def events_waiting(url: str) -> int | None:
    """How many events the worker on `url` (a /health/ address) holds until its watermarks pass
    them; None when it does not answer as ready. Held events are not consumer lag, so a drained
    pipeline needs every worker at 0 too."""
    body = _health(url)
    if body is None or body.get("status") != "ok":
        return None
    waiting = body.get("events_waiting")
    return waiting if isinstance(waiting, int) else None


def wait_own_answer(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Until the web server on `url` (a /health/ address) answers as the process `proc`: an
    answer from any other process (a worker kept by an earlier run) does not count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"s2c demo: the worker exited ({proc.returncode}); read {log}")
        body = _health(url)
        if body is not None and body.get("pid") == proc.pid:
            return
        time.sleep(0.5)
    raise SystemExit(f"s2c demo: the worker (pid {proc.pid}) did not answer on {url}; read {log}")


def pid_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "pids"


def record_kept(settings: Settings, proc: subprocess.Popen[bytes]) -> Path:
    folder = pid_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-worker-{proc.pid}.pid"
    path.write_text(f"{proc.pid}\n")
    return path


def _is_worker(pid: int) -> bool:
    """Guards against a recycled pid: the process must still be an `s2c worker`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return all(part.encode() in argv for part in WORKER_ARGV[1:])


def stop_kept(settings: Settings, wait_seconds: float = 30.0) -> list[int]:
    """Stops every worker a demo kept: SIGTERM to each one's process group, SIGKILL to those still
    running after `wait_seconds` (a worker whose broker is gone does not finish its shutdown),
    then removes their pid files and any Prometheus target they could not remove themselves.
    Returns the pids it stopped."""
    records = {
        path: int(path.read_text().split()[0])
        for path in sorted(pid_dir(settings).glob("demo-worker-*.pid"))
    }
    running = [pid for pid in records.values() if pid_alive(pid) and _is_worker(pid)]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while any(pid_alive(pid) for pid in running) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in running:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for path, pid in records.items():
        for target in target_dir(settings.data_dir).glob(f"worker-*-{pid}.json"):
            target.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    return running
