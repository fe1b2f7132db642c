"""Subprocesses the benchmark measures: `s2c worker`s and the plain-Faust peer, as black boxes.

A process is started in its own session with its own data dir, web port and log file; the
benchmark talks to it only through topics, its /metrics page and /proc (peak memory, VmHWM,
read while it still runs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    """One measured subprocess: command line, environment, log file, web port."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    peak_kib: int = field(default=0)
    errors: list[str] = field(default_factory=list)  # ERROR lines its log gained while measured
    crashed: bool = False  # a service of the Faust worker crashed (the process may linger on)
    _read_to: int = 0

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """Running, and no Faust service has logged a crash since the last look at the log."""
        with open(self.log_path, "rb") as log:
            log.seek(self._read_to)
            fresh = log.read()
        complete = fresh.rfind(b"\n") + 1  # leave a half-written line for the next look
        self._read_to += complete
        for line in fresh[:complete].decode(errors="replace").splitlines():
            if "] [ERROR] " in line:
                self.errors.append(line.strip()[:240])
                self.crashed = self.crashed or "Crashed reason=" in line
        return self.alive and not self.crashed

    def metrics_text(self, timeout: float = 1.0) -> str | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/metrics", timeout=timeout
            ) as page:
                return page.read().decode()
        except OSError:
            return None

    def wait_web(self, timeout: float) -> float:
        """Seconds from start until the web server answers; raises if it dies or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.argv[-1]} exited; read {self.log_path}")
            if self.metrics_text() is not None:
                return time.monotonic() - self.started_at
            time.sleep(0.2)
        raise RuntimeError(f"no answer on port {self.port} within {timeout}s; read {self.log_path}")

    def sample_memory(self) -> int:
        """Peak resident set (VmHWM, KiB) so far; kept as the largest value seen."""
        if self.proc is not None:
            try:
                status = Path(f"/proc/{self.proc.pid}/status").read_text()
            except OSError:
                return self.peak_kib
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kib = max(self.peak_kib, int(line.split()[1]))
        return self.peak_kib

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Faust commits and closes its tables), SIGKILL if it hangs."""
        if not self.alive:
            return
        assert self.proc is not None
        self.sample_memory()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def worker(env_overrides: dict[str, str], run_dir: Path, name: str, loglevel: str = "info") -> Proc:
    """An `s2c worker` with the namespace's prefix/app id and its own data dir and web port."""
    port = free_port()
    env = dict(
        os.environ,
        S2C_WORKER_WEB_PORT=str(port),
        S2C_WORKER_DIR=str(run_dir / f"{name}-data"),
        **env_overrides,
    )
    argv = [sys.executable, "-m", "s2c.streams.cli", "worker", "--loglevel", loglevel]
    return Proc(argv, env, run_dir / f"{name}.log", port)


def peer(
    bootstrap: str,
    app_id: str,
    source: str,
    sink: str,
    partitions: int,
    run_dir: Path,
    name: str = "peer",
) -> Proc:
    """The plain-Faust peer (`s2c.streams.bench.peer`), configured by its command line."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "s2c.streams.bench.peer",
        "--bootstrap",
        bootstrap,
        "--app-id",
        app_id,
        "--source",
        source,
        "--sink",
        sink,
        "--partitions",
        str(partitions),
        "--datadir",
        str(run_dir / f"{name}-data"),
        "--web-port",
        str(port),
    ]
    return Proc(argv, dict(os.environ), run_dir / f"{name}.log", port)
