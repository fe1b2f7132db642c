"""Who may use the registry: HTTP basic auth against the users file, a role per request.

Confluent's clients send `basic.auth.user.info` (`user:password`) as an `Authorization: Basic`
header. Without S2C_REGISTRY_AUTH_FILE the registry is open, as it always was. With one:

- no or wrong credentials: 401 with `WWW-Authenticate: Basic` (code 40101);
- role `read`: every GET, and the POSTs that change nothing (look a schema up in a subject,
  test compatibility), which is all a producer or consumer that does not register needs;
- role `write`: also register, delete, and set compatibility or mode (incl. READONLY); a `read`
  user asking for one gets 403 (code 40301).

`GET /` (health) and `GET /metrics` stay open so liveness probes and Prometheus need no password;
neither says anything about schemas.

A password is checked with PBKDF2 (slow on purpose) off the event loop, once: the outcome is
remembered under an HMAC of the header with a key made at start (so memory never holds a
password), in a bounded map cleared whenever the users file changes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from s2c.streams.registry import users
from s2c.streams.registry.errors import RegistryError
from s2c.streams.registry.users import User

log = logging.getLogger(__name__)
REMEMBERED = 1024  # distinct credentials remembered; a registry has a handful of clients
OPEN_PATHS = frozenset({"/", "/metrics"})
# POSTs that only read: look a schema up, test compatibility.
READ_POST_ROUTES = frozenset(
    {
        "/subjects/{subject}",
        "/compatibility/subjects/{subject}/versions/{version}",
        "/compatibility/subjects/{subject}/versions",
    }
)
USER_KEY = web.RequestKey("user", User | None)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unauthorized() -> RegistryError:
    return RegistryError(401, 40101, "Unauthorized: send HTTP basic auth (user:password)")


def forbidden(user: str) -> RegistryError:
    return RegistryError(403, 40301, f"User {user} has role read and may not change the registry")


def is_write(request: web.Request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else request.path
    return not (request.method == "POST" and canonical in READ_POST_ROUTES)


def credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if sep else None


class UsersFile:
    """The users file, read again when it changes (so `add-user` takes effect without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self._key = secrets.token_bytes(32)
        self._known: OrderedDict[bytes, User] = OrderedDict()
        self.current()  # a missing or broken file stops the registry at start, not at a request

    def current(self) -> dict[str, User]:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._users = users.load(self.path)
            self._known.clear()
            self._stamp = stamp
        return self._users

    async def authenticate(self, header: str) -> User | None:
        try:
            found = self.current()
        except (OSError, users.UsersFileError) as exc:
            # The file went away or was broken by hand: refuse everyone rather than open up.
            log.error("registry users file %s unreadable, refusing requests: %s", self.path, exc)
            return None
        token = hmac.new(self._key, header.encode(), hashlib.sha256).digest()
        if token in self._known:
            self._known.move_to_end(token)
            return self._known[token]
        given = credentials(header)
        if given is None or given[0] not in found:
            return None
        user = found[given[0]]
        ok = await asyncio.get_running_loop().run_in_executor(
            None, users.verify_password, given[1], user.password_hash
        )
        if not ok:
            log.warning("registry: wrong password for user %s", user.name)
            return None
        self._known[token] = user
        if len(self._known) > REMEMBERED:
            self._known.popitem(last=False)
        return user


def middleware(users_file: UsersFile | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Authenticates and authorizes each request; the user (None when open) is kept on the
    request under USER_KEY for the audit trail. Errors are raised as RegistryError so the API's
    own middleware renders them with Confluent's bodies."""

    @web.middleware
    async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER_KEY] = None
        if users_file is None or (request.method == "GET" and request.path in OPEN_PATHS):
            return await handler(request)
        user = await users_file.authenticate(request.headers.get("Authorization", ""))
        if user is None:
            raise unauthorized()
        if is_write(request) and not user.may_write:
            raise forbidden(user.name)
        request[USER_KEY] = user
        return await handler(request)

    return basic_auth
