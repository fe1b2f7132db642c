"""The key of the account pseudonyms (`s2c.tables.ids.IdKey`) for a worker, `s2c replay` and
the demo: `S2C_ID_KEY` when set, else a random key kept in `<S2C_DATA_DIR>/id.key` (mode 0600).

Every worker and every replay that must agree on ids needs the same key: set `S2C_ID_KEY` from
one managed secret wherever workers run on more than one host. The file is created once and
atomically (written aside, then linked into place), so workers starting together on one host
read the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from s2c.streams.settings import Settings
from s2c.tables.ids import IdKey


def id_key_of(settings: Settings) -> IdKey:
    configured = settings.id_key.get_secret_value()
    if configured:
        return IdKey(configured.encode())
    return IdKey(_key_file(Path(settings.data_dir) / "id.key"))


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_hex(32).encode())
        try:
            os.link(aside, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_bytes().strip()
