"""`s2c verify --poison`'s matching of dead letters to the records it published, on hand-made
coordinates: a stream where a knee replacement's events sit on partition 0 and a walk-in's on
partition 1, with bad records of the generator's kinds between them. Each test changes what the
workers dead-lettered and checks what verify makes of it."""

from __future__ import annotations

from array import array

from s2c.streams.synth.poison import EXPECTED, KINDS
from s2c.streams.verify.compare import judge
from s2c.streams.verify.poisoncheck import Letter, check, figures, render_lines
from s2c.streams.verify.report import figures as report_figures
from s2c.streams.verify.report import render
from s2c.streams.verify.workload import Published

EVENTS = "verify20261205.events"
NOTHING: dict[str, list[dict]] = {"commands": [], "exceptions": [], "breaches": []}


def stream() -> dict[tuple[int, int], str | None]:
    """One bad record of every kind, each after a good event: kinds on partition 0 at odd offsets,
    the good events at even ones, and two more good events of the walk-in on partition 1."""
    published: dict[tuple[int, int], str | None] = {}
    for n, kind in enumerate(KINDS):
        published[(0, 2 * n)] = None
        published[(0, 2 * n + 1)] = kind
    published[(1, 0)] = published[(1, 1)] = None
    return published


def offset_of(kind: str) -> int:
    return 2 * KINDS.index(kind) + 1


def as_the_pipeline_should(published: dict[tuple[int, int], str | None]) -> list[Letter]:
    return [
        Letter(EXPECTED[kind], EVENTS, partition, offset)
        for (partition, offset), kind in published.items()
        if kind is not None and EXPECTED[kind] != "duplicate"
    ]


def test_every_bad_record_dead_lettered_with_its_reason_and_the_duplicate_dropped_passes() -> None:
    published = stream()
    result = check(EVENTS, published, [], as_the_pipeline_should(published))
    assert result.failures == 0
    assert result.kinds_dead_lettered == len(KINDS)
    assert all(row.published == row.as_expected == 1 for row in result.rows.values())
    assert result.unmatched == []


def test_a_bad_record_with_another_reason_or_no_letter_fails_under_its_kind() -> None:
    published = stream()
    dated = offset_of("dated-1970")
    letters = [
        letter if letter.offset != dated else Letter("failed", EVENTS, 0, dated)
        for letter in as_the_pipeline_should(published)
        if letter.offset != offset_of("undecodable-bytes")  # lost
    ]
    result = check(EVENTS, published, [], letters)
    assert result.rows["undecodable-bytes"].missing == 1
    assert result.rows["dated-1970"].other == {"failed": 1}
    assert result.failures == 2
    table = "\n".join(render_lines(result))
    assert "[failed 1]" in table and table.count("<-") == 2


def test_a_good_event_dead_lettered_fails_whatever_its_reason() -> None:
    published = stream()
    letters = [*as_the_pipeline_should(published), Letter("implausible-time", EVENTS, 1, 1)]
    result = check(EVENTS, published, [], letters)
    assert result.good_dead_lettered == {"implausible-time": 1}
    assert result.good_examples == ["1@1"]
    assert result.failures == 1


def test_a_resent_event_id_that_is_dead_lettered_fails() -> None:
    published = stream()
    duplicate = next(where for where, kind in published.items() if kind == "duplicate-event-id")
    letters = [*as_the_pipeline_should(published), Letter("invalid-event", EVENTS, *duplicate)]
    result = check(EVENTS, published, [], letters)
    assert result.rows["duplicate-event-id"].other == {"invalid-event": 1}
    assert result.rows["duplicate-event-id"].as_expected == 0
    assert result.failures == 1


def test_a_record_dead_lettered_twice_after_a_kill_counts_once() -> None:
    published = stream()
    letters = as_the_pipeline_should(published)
    result = check(EVENTS, published, [], [*letters, letters[0]])
    assert result.failures == 0 and result.letters_twice == 1


def test_a_record_refused_by_the_topic_is_no_failure_and_said_apart() -> None:
    published = {where: kind for where, kind in stream().items() if kind != "oversize-5mb"}
    result = check(EVENTS, published, ["oversize-5mb"], as_the_pipeline_should(published))
    assert result.failures == 0
    assert result.rows["oversize-5mb"].refused == 1 and result.rows["oversize-5mb"].published == 0
    assert "(1 refused by the topic)" in "\n".join(render_lines(result))


def test_letters_of_other_topics_go_to_the_comparison_by_reason_with_replay() -> None:
    published = stream()
    stray = Letter("failed", "verify20261205.process", 0, 3)
    result = check(EVENTS, published, [], [*as_the_pipeline_should(published), stray])
    assert result.unmatched == [stray] and result.failures == 0
    verdict = judge(
        NOTHING,
        NOTHING,
        [letter.reason for letter in result.unmatched],
        lambda r: False,
        [],
        result,
    )
    assert verdict.dead_letters == {"failed": (1, 0)}
    assert verdict.failures == 1 and not verdict.equal


def test_the_verdict_fails_on_a_poison_mismatch_and_reports_it() -> None:
    published = stream()
    lost = offset_of("undecodable-bytes")
    letters = [x for x in as_the_pipeline_should(published) if x.offset != lost]
    result = check(EVENTS, published, [], letters)
    verdict = judge(NOTHING, NOTHING, [], lambda r: False, [], result)
    assert verdict.failures == 1 and not verdict.equal
    text = render(verdict)
    assert "poison by kind" in text and "verdict: DIFFERENT" in text
    data = report_figures(verdict)["poison"]
    assert data == figures(result)
    assert data["by_kind"]["undecodable-bytes"] == {
        "expected": "undecodable",
        "published": 1,
        "refused_by_topic": 0,
        "as_expected": 0,
        "other_reason": {},
        "missing": 1,
    }
    assert data["kinds_published"] == len(KINDS) and data["kinds_as_expected"] == len(KINDS) - 1


def test_published_records_name_the_kind_at_each_coordinate_and_skip_what_never_landed() -> None:
    landed = Published(array("b", [0, 0, 1, 0]), array("q", [0, 1, 0, -1]), ["oversize-5mb"])

    class Bad:
        def __init__(self, kind: str) -> None:
            self.kind = kind

    poison = {2: Bad("dated-2999"), 4: Bad("oversize-5mb")}  # by events.jsonl line
    assert landed.records(poison) == {(0, 0): None, (0, 1): "dated-2999", (1, 0): None}


def test_poison_is_refused_with_a_given_events_file(tmp_path, capsys) -> None:
    import argparse

    from s2c.streams import verify_cli

    parser = argparse.ArgumentParser()
    verify_cli.add_arguments(parser)
    given = ["--events", str(tmp_path / "events.jsonl"), "--master-data", str(tmp_path)]
    assert verify_cli.run(parser.parse_args([*given, "--poison", "0.01"])) == 2
    assert "not into --events" in capsys.readouterr().out
    assert verify_cli.run(parser.parse_args(["--poison", "1"])) == 2
    assert "fraction in [0, 1)" in capsys.readouterr().out
