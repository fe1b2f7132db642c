"""The worker's Prometheus scrape target: one file_sd JSON file per worker process.

The local stack's Prometheus reads every `*.json` in `.s2c/prometheus/targets/` (refreshed every
5 s). A file is named after the worker's web port and pid, `worker-<port>-<pid>.json`, so a worker
removes only its own file, and a file whose pid is gone is known to be stale: whoever starts a
worker removes those (a worker killed with SIGKILL never ran its exit hook, and its target would
keep `S2cWorkerDown` firing). Files are written to a dot-named temp file in the same folder, which
the `*.json` glob does not match, then renamed over the target, so Prometheus never reads half a
file.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

_NAME = re.compile(r"worker-(?P<port>\d+)(?:-(?P<pid>\d+))?\.json")


def target_dir(data_dir: Path) -> Path:
    return data_dir / "prometheus" / "targets"


def target_path(directory: Path, port: int, pid: int) -> Path:
    return directory / f"worker-{port}-{pid}.json"


def write_target(directory: Path, host: str, port: int, pid: int) -> Path:
    """Writes (atomically) the target of the worker `pid` listening on `host:port`."""
    path = target_path(directory, port, pid)
    temp = directory / f".{path.name}.{os.getpid()}.tmp"
    temp.write_text(json.dumps([{"targets": [f"{host}:{port}"], "labels": {"app": "s2c"}}]))
    os.replace(temp, path)
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _port_answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def remove_stale_targets(directory: Path, host: str = "127.0.0.1") -> list[Path]:
    """Removes the target files of workers that are gone; returns them. A file with a pid is
    stale when that pid no longer runs; an older file without one (`worker-<port>.json`) when
    nothing listens on its port any more."""
    removed = []
    for path in sorted(directory.glob("worker-*.json")):
        match = _NAME.fullmatch(path.name)
        if match is None:
            continue
        pid = match["pid"]
        gone = not pid_alive(int(pid)) if pid else not _port_answers(host, int(match["port"]))
        if gone:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
