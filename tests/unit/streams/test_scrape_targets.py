"""Prometheus scrape targets of workers: written whole, removed only by their owner, and stale
ones (a worker killed with SIGKILL) cleaned by whoever starts the next worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from s2c.streams import scrape_targets
from s2c.streams.scrape_targets import remove_stale_targets, target_path, write_target


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_target_is_renamed_into_place_from_a_temp_file_prometheus_does_not_read(
    tmp_path: Path, monkeypatch
) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        renames.append((src, dst))
        assert src.read_text() == json.dumps(
            [{"targets": ["127.0.0.1:16066"], "labels": {"app": "s2c"}}]
        )
        assert not dst.exists()  # the reader sees no file, then the whole file
        real_replace(src, dst)

    monkeypatch.setattr(scrape_targets.os, "replace", spy)
    path = write_target(tmp_path, "127.0.0.1", 16066, 4242)
    [(temp, final)] = renames
    assert final == path == tmp_path / "worker-16066-4242.json"
    assert temp.parent == tmp_path and not temp.match("*.json")  # Prometheus globs *.json
    assert [p.name for p in tmp_path.iterdir()] == ["worker-16066-4242.json"]


def test_two_workers_on_one_port_have_their_own_files(tmp_path: Path) -> None:
    # the second one dies on the busy port; removing its file must leave the first one's
    first = write_target(tmp_path, "127.0.0.1", 16066, 4242)
    second = write_target(tmp_path, "127.0.0.1", 16066, 4243)
    second.unlink()
    assert first.exists()


def test_targets_of_dead_workers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    killed = write_target(tmp_path, "127.0.0.1", 16070, dead_pid())
    running = write_target(tmp_path, "127.0.0.1", 16071, os.getpid())
    someone_elses = tmp_path / "node-exporter.json"
    someone_elses.write_text("[]")
    assert remove_stale_targets(tmp_path) == [killed]
    assert not killed.exists() and running.exists() and someone_elses.exists()


def test_an_old_target_without_pid_goes_once_nothing_listens_on_its_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        live_port = listening.getsockname()[1]
        live = tmp_path / f"worker-{live_port}.json"
        live.write_text("[]")
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = tmp_path / f"worker-{closed.getsockname()[1]}.json"
        dead.write_text("[]")
        assert remove_stale_targets(tmp_path) == [dead]
        assert live.exists()


def test_target_path_names_port_and_pid(tmp_path: Path) -> None:
    assert target_path(tmp_path, 16066, 4242).name == "worker-16066-4242.json"
