"""Static checks the suite runs: ruff's pyflakes and import-order rules over every Python file of
the project (unused imports and variables, undefined names, placeholder-less f-strings, syntax
errors, unsorted imports), `ruff format --check` (the layout is ruff's, so diffs show changes, not
taste), and mypy in strict mode over the pure core, tables/ (configured in pyproject's
[tool.mypy]). Each check has a twin showing it fails on a file that breaks it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            *args,
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_ruff_finds_nothing() -> None:
    run = _ruff("check", str(ROOT))
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_file_is_formatted() -> None:
    run = _ruff("format", "--check", str(ROOT))
    assert run.returncode == 0, "run `.venv/bin/ruff format .`\n" + run.stdout + run.stderr


def test_ruff_would_catch_an_unused_import_and_unsorted_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sys\nimport os\n\nprint(sys.argv)\n")
    run = _ruff("check", str(sample))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "F401" in run.stdout and "I001" in run.stdout, run.stdout


def test_format_check_would_catch_a_misformatted_file(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("payers = { 'LAKESHORE':1 }\n")
    run = _ruff("format", "--check", str(sample))
    assert run.returncode == 1 and "would be reformatted" in run.stdout, run.stdout + run.stderr


def _mypy(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_mypy_finds_nothing_in_the_core(tmp_path: Path) -> None:
    run = _mypy(cache=tmp_path / "cache")
    assert run.returncode == 0, run.stdout + run.stderr
    modules = len(list((ROOT / "tables").glob("*.py")))  # every one, found as s2c.tables.*
    assert f"no issues found in {modules} source files" in run.stdout, run.stdout


def test_mypy_would_catch_a_wrong_type_and_an_untyped_def(tmp_path: Path) -> None:
    """Same configuration: `s2c.tables` resolves (a Forward carries an event, not a string) and
    strict mode wants every function annotated."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from s2c.tables.outputs import Forward\n\n"
        "def forward_to_surgery(event):\n"
        '    return Forward("CASE-4711", "CaseScheduled")\n'
    )
    run = _mypy(str(sample), cache=tmp_path / "cache")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[arg-type]" in run.stdout and "[no-untyped-def]" in run.stdout, run.stdout
    assert "import-not-found" not in run.stdout, run.stdout
