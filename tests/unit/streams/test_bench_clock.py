"""The bench's throughput clock: every event counts once the first downstream record dates the
start, however many events the first source commit already covered."""

from __future__ import annotations

from s2c.streams.bench.offsets import finished


def test_a_late_first_commit_does_not_shrink_the_count_when_downstream_records_date_the_start() -> (
    None
):
    # 20,000 events; ingest had taken 11,000 by the first commit at t=2 s; done at t=8 s; the
    # first link record was sent 1.5 s before the first commit.
    run = finished(
        20_000,
        20_000,
        began=0.0,
        started=2.0,
        first=11_000,
        now=8.0,
        first_ms=100_500.0,
        now_ms=108_000.0,
    )
    assert run.done and run.first_commit == 0
    assert run.seconds == 7.5
    assert round(run.events_per_s) == 2_667  # not (20,000 - 11,000) / 6 s = 1,500


def test_without_downstream_records_the_first_source_commit_starts_the_clock() -> None:
    run = finished(
        20_000,
        20_000,
        began=0.0,
        started=2.0,
        first=4_000,
        now=10.0,
        first_ms=None,
        now_ms=110_000.0,
    )
    assert run.events_per_s == 2_000  # (20,000 - 4,000) / 8 s


def test_a_first_commit_that_covered_everything_falls_back_to_the_start_of_the_watch() -> None:
    run = finished(
        500, 500, began=0.0, started=1.0, first=500, now=2.0, first_ms=None, now_ms=102_000.0
    )
    assert run.events_per_s == 250
