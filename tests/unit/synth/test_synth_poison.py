"""`s2c generate --poison FRACTION`: bad records of 13 kinds, tagged, mixed into the good events.

A checker must be able to tell every bad record and its kind, and the good events must be the ones
the same seed gives without poison, so the pipeline's outputs over a poisoned feed can be held to
its outputs over the clean one. Here the whole file path is checked end to end: `s2c replay` over a
poisoned file writes exactly what it writes over the clean file, and refuses each tagged line with
the reason its kind calls for.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from s2c.streams.cli import main
from s2c.streams.synth import generate
from s2c.streams.synth.poison import EXPECTED_IN_FILES, KINDS, MAX_OVERSIZE, Poison
from s2c.streams.synth.writer import write_events, write_master

OUTPUTS = ("commands", "exceptions", "sla_breaches", "metrics", "processes", "links")


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2C_ID_KEY", "synthetic-poison-test-key-0123456789")


def test_poison_leaves_the_good_events_as_the_seed_makes_them(small_params, small_events) -> None:
    poisoned = list(generate(replace(small_params, poison=0.03)).events())
    good = [item for item in poisoned if not isinstance(item, Poison)]
    bad = [item for item in poisoned if isinstance(item, Poison)]
    assert good == small_events
    assert 0.02 * len(good) < len(bad) < 0.04 * len(good)
    assert set(KINDS) <= {p.kind for p in bad} and len(KINDS) >= 12
    assert sum(p.kind == "oversize-5mb" for p in bad) <= MAX_OVERSIZE
    again = list(generate(replace(small_params, poison=0.03)).events())
    assert again == poisoned  # same seed, same poison


def test_replay_of_a_poisoned_file_equals_the_clean_one_and_refuses_each_bad_line(
    small_params, tmp_path: Path
) -> None:
    params = replace(small_params, sites=1, scale=0.2, days=2)
    outputs = {}
    for name, fraction in (("clean", 0.0), ("poisoned", 0.05)):
        synthesis = generate(replace(params, poison=fraction))
        folder = tmp_path / name
        write_master(folder, synthesis.master())
        write_events(folder, synthesis.events())
        out = tmp_path / f"{name}-out"
        argv = ["replay", str(folder / "events.jsonl"), "--master-data", str(folder / "master")]
        assert main([*argv, "--out", str(out), "--quiet"]) == 0
        outputs[name] = {o: (out / f"{o}.jsonl").read_bytes() for o in OUTPUTS}
    assert outputs["poisoned"] == outputs["clean"]
    assert outputs["clean"]["commands"]  # a run with something to lose

    tags = {
        row["line"]: row["kind"]
        for row in map(
            json.loads, (tmp_path / "poisoned" / "poison.jsonl").read_text().splitlines()
        )
    }
    refused = {
        row["line"]: row["reason"]
        for row in map(
            json.loads, (tmp_path / "poisoned-out" / "dead_letters.jsonl").read_text().splitlines()
        )
    }
    assert set(tags.values()) == set(KINDS)
    expected = {line: EXPECTED_IN_FILES[kind] for line, kind in tags.items()}
    assert refused == {line: reason for line, reason in expected.items() if reason != "duplicate"}
    assert not (tmp_path / "clean" / "poison.jsonl").exists()
