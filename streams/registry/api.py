"""HTTP routes of the Confluent Schema Registry REST API, thin over `rules` and `Registry`.

Requests may be `application/vnd.schemaregistry.v1+json`, `application/vnd.schemaregistry+json`
or `application/json`; answers are `application/vnd.schemaregistry.v1+json` and errors carry
Confluent's `{"error_code", "message"}` bodies. `GET /metrics` serves Prometheus counters from a
registry made by `create_app`, so tests get fresh metrics. Who may call what is `auth`'s; every
write that changes something carries its audit record (`s2c.streams.audit`), naming the user.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from s2c.streams.audit import ANONYMOUS, AuditRecord, now
from s2c.streams.registry import auth, errors, rules
from s2c.streams.registry.kafkalog import LogTimeout
from s2c.streams.registry.service import Registry

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPTED = {
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
    "",
}
REGISTRY = web.AppKey("registry", Registry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": CONTENT_TYPE}
    )


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


async def body_of(request: web.Request) -> Any:
    if request.content_type not in ACCEPTED:
        raise errors.RegistryError(415, 415, "HTTP 415 Unsupported Media Type")
    try:
        return json.loads(await request.text() or "null")
    except json.JSONDecodeError as exc:
        raise errors.bad_request(f"Unexpected character in request body: {exc}") from exc


def audited(
    request: web.Request,
    action: str,
    target: str | None,
    details: Callable[[Any], dict[str, Any]],
) -> Callable[[Any], bytes]:
    """The audit record of this request's write, made from the write's answer."""
    user = request.get(auth.USER_KEY)
    actor = user.name if user is not None else ANONYMOUS

    def record(answer: Any) -> bytes:
        where = target if target is not None else "(global)"
        return AuditRecord(actor, action, where, now(), "registry", details(answer)).to_bytes()

    return record


def create_app(
    registry: Registry,
    metrics: CollectorRegistry | None = None,
    users_file: auth.UsersFile | None = None,
) -> web.Application:
    metrics = metrics or CollectorRegistry()
    requests = Counter(
        "s2c_registry_requests",
        "Registry HTTP requests by route and status",
        ["method", "route", "status"],
        registry=metrics,
    )
    latency = Histogram(
        "s2c_registry_request_seconds",
        "Registry HTTP request latency",
        ["method", "route"],
        registry=metrics,
    )

    @web.middleware
    async def confluent_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        started, status = time.monotonic(), 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except errors.RegistryError as exc:
            status = exc.status
            refused = answer(exc.body(), exc.status)
            if exc.status == 401:
                refused.headers["WWW-Authenticate"] = 'Basic realm="s2c-registry"'
            return refused
        except web.HTTPException as exc:
            status = exc.status
            return answer(
                {"error_code": exc.status, "message": f"HTTP {exc.status} {exc.reason}"}, exc.status
            )
        except LogTimeout as exc:
            log.error("registry log timed out: %s", exc)
            return answer(errors.store_timeout(str(exc)).body(), 500)
        except Exception as exc:  # answer like Confluent, keep the trace in the log
            log.exception("registry request %s %s failed", request.method, request.path)
            return answer(errors.store_error(str(exc)).body(), 500)
        finally:
            requests.labels(request.method, name, str(status)).inc()
            latency.labels(request.method, name).observe(time.monotonic() - started)

    app = web.Application(middlewares=[confluent_errors, auth.middleware(users_file)])
    app[REGISTRY] = registry
    app.router.add_routes(routes(metrics))
    return app


def routes(metrics: CollectorRegistry) -> list[web.RouteDef]:
    r = web.RouteTableDef()

    def reg(request: web.Request) -> Registry:
        return request.app[REGISTRY]

    @r.get("/")
    async def root(request: web.Request) -> web.Response:
        return answer({})

    @r.get("/metrics")
    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @r.get("/schemas/types")
    async def schema_types(request: web.Request) -> web.Response:
        return answer(["AVRO"])

    @r.get(r"/schemas/ids/{id:\d+}")
    async def schema(request: web.Request) -> web.Response:
        return answer(await reg(request).read(rules.schema_by_id, int(request.match_info["id"])))

    @r.get(r"/schemas/ids/{id:\d+}/schema")
    async def raw_schema(request: web.Request) -> web.Response:
        found = await reg(request).read(rules.schema_by_id, int(request.match_info["id"]))
        return answer(json.loads(found["schema"]))

    @r.get(r"/schemas/ids/{id:\d+}/versions")
    async def schema_versions(request: web.Request) -> web.Response:
        found = await reg(request).read(
            rules.schema_users, int(request.match_info["id"]), flag(request, "deleted")
        )
        return answer([{"subject": v.subject, "version": v.version} for v in found])

    @r.get(r"/schemas/ids/{id:\d+}/subjects")
    async def schema_subjects(request: web.Request) -> web.Response:
        found = await reg(request).read(
            rules.schema_users, int(request.match_info["id"]), flag(request, "deleted")
        )
        return answer(sorted({v.subject for v in found}))

    @r.get("/subjects")
    async def subjects(request: web.Request) -> web.Response:
        return answer(reg(request).state.subject_names(flag(request, "deleted")))

    @r.post("/subjects/{subject}/versions")
    async def register(request: web.Request) -> web.Response:
        body = await body_of(request)
        schema = rules.normalize(body)
        schema_id, version = rules.requested_slot(body)  # set only when importing
        subject = request.match_info["subject"]
        trail = audited(
            request,
            "registry.register",
            subject,
            lambda found: {"id": found["id"], **({"imported": True} if schema_id else {})},
        )
        return answer(
            await reg(request).write(
                rules.register, subject, schema, schema_id, version, audit=trail
            )
        )

    @r.post("/subjects/{subject}")
    async def lookup(request: web.Request) -> web.Response:
        return answer(
            await reg(request).read(
                rules.lookup,
                request.match_info["subject"],
                await body_of(request),
                flag(request, "deleted"),
            )
        )

    @r.get("/subjects/{subject}/versions")
    async def versions(request: web.Request) -> web.Response:
        return answer(
            await reg(request).read(
                rules.versions, request.match_info["subject"], flag(request, "deleted")
            )
        )

    @r.get("/subjects/{subject}/versions/{version}")
    async def version(request: web.Request) -> web.Response:
        found = await reg(request).read(
            rules.resolve,
            request.match_info["subject"],
            request.match_info["version"],
            flag(request, "deleted"),
        )
        return answer(rules.version_body(found))

    @r.get("/subjects/{subject}/versions/{version}/schema")
    async def version_schema(request: web.Request) -> web.Response:
        found = await reg(request).read(
            rules.resolve,
            request.match_info["subject"],
            request.match_info["version"],
            flag(request, "deleted"),
        )
        return answer(json.loads(found.schema))

    @r.delete("/subjects/{subject}")
    async def delete_subject(request: web.Request) -> web.Response:
        subject, permanent = request.match_info["subject"], flag(request, "permanent")
        trail = audited(
            request,
            "registry.delete-subject",
            subject,
            lambda gone: {"versions": gone, "permanent": permanent},
        )
        return answer(
            await reg(request).write(rules.delete_subject, subject, permanent, audit=trail)
        )

    @r.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(request: web.Request) -> web.Response:
        subject, permanent = request.match_info["subject"], flag(request, "permanent")
        trail = audited(
            request,
            "registry.delete-version",
            subject,
            lambda gone: {"version": gone, "permanent": permanent},
        )
        return answer(
            await reg(request).write(
                rules.delete_version,
                subject,
                request.match_info["version"],
                permanent,
                audit=trail,
            )
        )

    @r.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatible_with(request: web.Request) -> web.Response:
        return answer(
            await reg(request).read(
                rules.compatibility_report,
                request.match_info["subject"],
                request.match_info["version"],
                await body_of(request),
                flag(request, "verbose"),
            )
        )

    @r.post("/compatibility/subjects/{subject}/versions")
    async def compatible_with_all(request: web.Request) -> web.Response:
        return answer(
            await reg(request).read(
                rules.compatibility_report,
                request.match_info["subject"],
                None,
                await body_of(request),
                flag(request, "verbose"),
            )
        )

    for kind, read, change, drop in (
        ("config", rules.config, rules.set_config, rules.delete_config),
        ("mode", rules.mode, rules.set_mode, rules.delete_mode),
    ):
        _settings_routes(r, kind, read, change, drop, reg)
    return list(r)


def _settings_routes(
    r: web.RouteTableDef,
    kind: str,
    read: Callable[..., Any],
    change: Callable[..., Any],
    drop: Callable[..., Any],
    reg: Callable[[web.Request], Registry],
) -> None:
    """GET/PUT/DELETE /config and /mode, global and per subject (they behave alike)."""

    async def get(request: web.Request) -> web.Response:
        return answer(
            await reg(request).read(
                read, request.match_info.get("subject"), flag(request, "defaultToGlobal")
            )
        )

    action = "registry.compatibility" if kind == "config" else "registry.mode"

    async def put(request: web.Request) -> web.Response:
        force = (flag(request, "force"),) if kind == "mode" else ()  # ?force=true into IMPORT
        subject = request.match_info.get("subject")
        trail = audited(request, action, subject, lambda now_set: dict(now_set))
        return answer(
            await reg(request).write(change, subject, await body_of(request), *force, audit=trail)
        )

    async def delete(request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        trail = audited(
            request, f"{action}-delete", subject, lambda back_to: {"now": dict(back_to)}
        )
        return answer(await reg(request).write(drop, subject, audit=trail))

    for path in (f"/{kind}", f"/{kind}/{{subject}}"):
        r.get(path)(get)
        r.put(path)(put)
        if kind == "config" or path.endswith("}"):
            r.delete(path)(delete)
