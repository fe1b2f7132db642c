"""The registry's users: the password file `S2C_REGISTRY_AUTH_FILE` and how a password is checked.

One user a line, `username:role:<hash>`, role `read` (may GET) or `write` (may also POST, PUT,
DELETE); blank lines and `#` comments are skipped. The hash is salted PBKDF2-SHA256 in the form
`pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`, so the file reveals no password and a stolen
copy costs an attacker `iterations` HMACs a guess. `s2c registry add-user` writes it (mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROLES = ("read", "write")
ALGORITHM = "pbkdf2_sha256"
# OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600 000; the registry checks each password once
# and then remembers the outcome (see `auth`), so the cost is paid per client, not per request.
ITERATIONS = 600_000


class UsersFileError(ValueError):
    """The users file cannot be read as `username:role:hash` lines."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    @property
    def may_write(self) -> bool:
        return self.role == "write"


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        algorithm, iterations, salt, expected = encoded.split("$")
        if algorithm != ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
        )
        return hmac.compare_digest(digest, bytes.fromhex(expected))
    except ValueError:
        return False


def check_name(name: str) -> None:
    if not name or ":" in name or any(c.isspace() for c in name):
        raise UsersFileError(f"user name {name!r} must be non-empty, without ':' or spaces")


def parse(text: str, source: str = "users file") -> dict[str, User]:
    users: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3:
            raise UsersFileError(f"{source} line {number}: expected username:role:hash")
        name, role, password_hash = parts
        try:
            check_name(name)
        except UsersFileError as exc:
            raise UsersFileError(f"{source} line {number}: {exc}") from None
        if role not in ROLES:
            raise UsersFileError(f"{source} line {number}: role {role!r} is not read or write")
        if not password_hash.startswith(f"{ALGORITHM}$") or password_hash.count("$") != 3:
            raise UsersFileError(f"{source} line {number}: hash is not {ALGORITHM}$...")
        users[name] = User(name, role, password_hash)
    return users


def load(path: Path) -> dict[str, User]:
    return parse(path.read_text(), str(path))


def render(users: dict[str, User]) -> str:
    lines = ["# s2c registry users: username:role:hash (made by `s2c registry add-user`)"]
    lines += [f"{u.name}:{u.role}:{u.password_hash}" for u in users.values()]
    return "\n".join(lines) + "\n"


def add_user(path: Path, name: str, role: str, password: str) -> bool:
    """Add `name` or replace its role and password; True when it replaced one. The file is
    rewritten whole through a 0600 temporary file in the same folder, so a reader never sees
    half of it and it is never readable by others, even for a moment."""
    check_name(name)
    if role not in ROLES:
        raise UsersFileError(f"role {role!r} is not read or write")
    if not password:
        raise UsersFileError("the password is empty")
    users = load(path) if path.exists() else {}
    replaced = name in users
    users[name] = User(name, role, hash_password(password))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(render(users))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return replaced
