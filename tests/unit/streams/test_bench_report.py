"""`s2c bench` appends its section to BENCHMARKS.md, where notes are also added by hand: a new
section must start as its own heading whatever the file ended with."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2c.streams.bench.report import HEADER, Results, append


@pytest.mark.parametrize("ending", ["notes.", "notes.\n", "notes.\n\n"])
def test_a_new_section_is_separated_from_what_the_file_ended_with(
    tmp_path: Path, ending: str
) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(HEADER + ending, encoding="utf-8")
    results = Results(command="s2c bench --quick", parameters={})
    results.add("R, raw consume+decode", "1 ev/s")
    append(path, results)

    text = path.read_text(encoding="utf-8")
    before, heading, _ = text.rpartition("\n## ")  # the appended section: the last heading
    assert heading and before.endswith("notes.\n")
    assert "\n\n\n" not in text


def test_a_new_file_gets_the_header_first(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    append(path, Results(command="s2c bench", parameters={}))
    assert path.read_text(encoding="utf-8").startswith(HEADER)
