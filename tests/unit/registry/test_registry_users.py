"""The registry's users file and password hashing: what `s2c registry add-user` writes and what
the registry checks a basic-auth password against."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from s2c.streams.cli import main
from s2c.streams.registry import users
from s2c.streams.registry.users import UsersFileError


def test_a_hash_checks_its_password_only() -> None:
    encoded = users.hash_password("st-olaf-billing", iterations=1000)
    algorithm, iterations, salt, digest = encoded.split("$")
    assert (algorithm, iterations, len(salt), len(digest)) == ("pbkdf2_sha256", "1000", 32, 64)
    assert users.verify_password("st-olaf-billing", encoded)
    assert not users.verify_password("st-olaf-billinG", encoded)
    assert not users.verify_password("", encoded)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert users.hash_password("remit", iterations=1000) != users.hash_password(
        "remit", iterations=1000
    )


@pytest.mark.parametrize(
    "encoded",
    ["", "pbkdf2_sha256$x$00$00", "md5$1000$00$00", "pbkdf2_sha256$1000$zz$00", "plain"],
)
def test_a_malformed_hash_never_verifies(encoded: str) -> None:
    assert not users.verify_password("remit", encoded)


def test_parse_reads_users_and_skips_comments() -> None:
    found = users.parse(
        "# registry users\n\n"
        f"billing-ops:write:{users.hash_password('a', 1000)}\n"
        f"erp-reader:read:{users.hash_password('b', 1000)}\n"
    )
    assert {n: u.may_write for n, u in found.items()} == {"billing-ops": True, "erp-reader": False}


@pytest.mark.parametrize(
    "line",
    [
        "billing-ops:admin:pbkdf2_sha256$1$00$00",
        "billing-ops:write",
        "billing-ops:write:sha1$1$00$00",
        ":write:pbkdf2_sha256$1$00$00",
    ],
)
def test_parse_refuses_a_bad_line_naming_it(line: str) -> None:
    with pytest.raises(UsersFileError, match="line 2"):
        users.parse(f"# header\n{line}\n")


def test_add_user_adds_replaces_and_keeps_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "registry-users"
    assert users.add_user(path, "billing-ops", "write", "first") is False
    assert users.add_user(path, "erp-reader", "read", "second") is False
    assert users.add_user(path, "billing-ops", "read", "third") is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = users.load(path)
    assert [(u.name, u.role) for u in found.values()] == [
        ("billing-ops", "read"),
        ("erp-reader", "read"),
    ]
    assert users.verify_password("third", found["billing-ops"].password_hash)
    assert "third" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["registry-users"]  # no temporary left


def test_add_user_into_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "registry-users"
    path.touch()
    users.add_user(path, "worker", "read", "pw")
    assert list(users.load(path)) == ["worker"]


def test_add_user_refuses_a_name_with_a_colon(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError):
        users.add_user(tmp_path / "u", "billing:ops", "write", "pw")


def test_the_command_takes_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "registry-users"
    monkeypatch.setattr(users, "ITERATIONS", 1000)
    argv = ["registry", "add-user", "--file", str(path), "--user", "erp-reader", "--role", "read"]
    monkeypatch.delenv("S2C_NEW_PASSWORD", raising=False)
    assert main(argv) == 2
    assert not path.exists()
    monkeypatch.setenv("S2C_NEW_PASSWORD", "remit-2291")
    assert main(argv) == 0
    assert users.verify_password("remit-2291", users.load(path)["erp-reader"].password_hash)
    assert "remit-2291" not in caplog.text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
