"""Prometheus scrape targets on the real stack: a worker killed with SIGKILL cannot remove its
target, and a forgotten target keeps `S2cWorkerDown` firing (it did after every `make test`).
The next worker to start removes targets whose pid is gone, and the integration kit removes the
targets of the workers it kills."""

from __future__ import annotations

import json
import os
import signal
import urllib.request

import pytest
from stackkit import PipelineEnv, wait_for

from s2c.streams.scrape_targets import target_dir, target_path

pytestmark = pytest.mark.integration


def scraped_instances(env: PipelineEnv) -> set[str]:
    url = f"http://127.0.0.1:{env.settings.prometheus_port}/api/v1/targets?state=active"
    with urllib.request.urlopen(url, timeout=5) as answer:
        active = json.load(answer)["data"]["activeTargets"]
    return {t["labels"]["instance"] for t in active if t["labels"].get("job") == "s2c-worker"}


def test_a_killed_workers_target_is_removed_by_the_next_worker(pipeline_env: PipelineEnv) -> None:
    targets = target_dir(pipeline_env.settings.data_dir)
    victim = pipeline_env.worker("victim").start().wait_ready()
    assert victim.proc is not None
    port = int(victim.env["S2C_WORKER_WEB_PORT"])
    left_behind = target_path(targets, port, victim.proc.pid)
    assert left_behind.exists()
    os.killpg(victim.proc.pid, signal.SIGKILL)  # no exit hook runs
    victim.proc.wait(10)
    assert left_behind.exists(), "a SIGKILLed worker cannot remove its own target"

    successor = pipeline_env.worker("successor").start().wait_ready()
    assert successor.proc is not None
    assert not left_behind.exists()
    own = target_path(targets, int(successor.env["S2C_WORKER_WEB_PORT"]), successor.proc.pid)
    assert own.exists()
    # Prometheus drops the dead instance (file_sd refreshes every 5 s): nothing left to alert on
    wait_for(
        lambda: f"127.0.0.1:{port}" not in scraped_instances(pipeline_env),
        30,
        "Prometheus to drop the killed worker's target",
    )

    successor.kill()  # the kit's SIGKILL removes the target the worker could not
    assert not own.exists()
