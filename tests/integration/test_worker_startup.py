"""A worker refuses to start on topics that break co-partitioning, and says which (issue 6, item 1).

Tables are partitioned like the topics that feed them. A worker configured for three partitions
on topics made with four would put Riverside's instances in the wrong table partitions, so it
must exit at once with status 2 and name the topics, not run with a dead agent.
"""

from __future__ import annotations

import pytest
from stackkit import PipelineEnv

from s2c.streams.topics import declare

pytestmark = pytest.mark.integration


def test_a_partition_count_mismatch_stops_the_worker_with_the_topics_named(
    pipeline_env: PipelineEnv,
) -> None:
    topics = declare(pipeline_env.settings)
    worker = pipeline_env.worker(S2C_PARTITIONS="3").start()
    assert worker.proc is not None
    assert worker.proc.wait(timeout=60) == 2
    log = worker.log_tail()
    assert "co-partitioning broken: tables expect 3 partitions" in log, log
    for name in (topics.events.name, topics.link.name, topics.process.name):
        assert f"{name} has 4" in log, log
