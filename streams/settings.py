"""Typed settings: the only place in s2c that reads the environment.

Every knob is an `S2C_*` environment variable with a default that matches the local stack
(`deploy/local/stack`). Users with their own Kafka or schema registry (Confluent, Karapace,
Apicurio's ccompat API) set `S2C_KAFKA_BOOTSTRAP` / `S2C_REGISTRY_URL` and nothing else changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from s2c.tables.plausible import Limits

REPO_ROOT = Path(__file__).resolve().parent.parent


class SecretStr:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _path(name: str) -> Path | None:
    value = os.environ.get(name, "")
    return Path(value) if value else None


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    kafka_port: int = 19092
    controller_port: int = 19093
    registry_port: int = 18081
    prometheus_port: int = 19090
    worker_web_port: int = 16066
    kafka_bootstrap: str = "127.0.0.1:19092"
    registry_url: str = "http://127.0.0.1:18081"
    registry_topic: str = "_s2c_schemas"
    topic_prefix: str = "s2c"
    partitions: int = 4
    replication_factor: int = 1
    standby_replicas: int = 0
    # Decoded states each stateful agent keeps between batches (least recently used go first).
    # A process state is about 10 KiB decoded, so the default holds up to ~160 MiB per agent.
    state_cache: int = 16384
    # Allowed lateness: deadlines fire once stream time is this far past them, so a fact that
    # happened in time but travelled a slower path (another partition, the link stage) is not
    # reported as a breach. 0 by default: a grace also delays every real breach by as much.
    # Draining a backlog skews partitions by days; raise it for such a replay (see README).
    deadline_grace_hours: float = 0.0
    # Apply the link and process stages in memory for the partitions this worker owns, instead of
    # through their topics (streams/topology/paths.py). Off by default: see README, Fewer hops.
    local_stages: bool = False
    # S2C_ERP_ACK_WAIT (seconds, wall clock): a command the ERP has not acknowledged this long
    # after it was sent raises an ERP_UNSYNCHRONIZED work item. Unset (None): no ERP is
    # connected, and none is raised (streams/topology/erp.py).
    erp_ack_wait_seconds: float | None = None
    app_id: str = "s2c-pipeline"
    data_dir: Path = field(default_factory=lambda: REPO_ROOT / ".s2c")
    worker_dir: Path | None = None
    kafka_username: str = ""
    kafka_password: SecretStr = field(default_factory=lambda: SecretStr(""))
    sasl_mechanism: str = "SCRAM-SHA-512"
    # PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL; unset, SASL_PLAINTEXT when a username is set.
    kafka_security_protocol: str = "PLAINTEXT"
    # PEM file of the CA that signed the broker's certificate (TLS); unset, the system's CAs.
    kafka_ca_file: Path | None = None
    # S2C_SECURE=1: the secured local stack (deploy/local/stack), whose data lives apart from the
    # plain stack's (`<S2C_DATA_DIR>/secure-stack`) and whose clients take a role's credentials
    # from `<S2C_DATA_DIR>/secure/<role>.env` (see `for_role`).
    secure: bool = False
    secure_dir: Path | None = None
    # `user:password` the registry's clients send (HTTP basic auth); unset, none.
    registry_user_info: SecretStr = field(default_factory=lambda: SecretStr(""))
    # PEM CA the registry's clients verify an https registry with; unset, the system's CAs.
    registry_ca_file: Path | None = None
    # The registry server's users file (`s2c registry add-user`); unset, the registry is open.
    registry_auth_file: Path | None = None
    # PEM certificate chain and key: with both, `s2c registry serve` speaks https.
    registry_tls_cert: Path | None = None
    registry_tls_key: Path | None = None
    # Workers register the catalogue's schemas at start; False (S2C_REGISTER_SCHEMAS=0): they
    # only look them up, for a registry they may not write to.
    register_schemas: bool = True
    # The cluster-wide audit trail (`s2c.streams.audit`): registry writes and DLQ replays.
    audit_topic: str = "_s2c_audit"
    # Who the audit trail names for a CLI action (`s2c dlq replay`); unset, `<OS user>@<host>`.
    actor: str = ""
    # The password `s2c registry add-user` hashes: from the environment, never from argv.
    new_password: SecretStr = field(default_factory=lambda: SecretStr(""))
    # Key of the HMAC that turns a medical record number into a pseudonymous patient_ref.
    patient_ref_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    # Key of the HMAC that turns an account number into the pseudonym the pipeline's keys, process
    # ids and work items use (`s2c.streams.idkey`); unset, a key file under the data dir.
    id_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    # Bearer token the worker's experience API (/process/, /exceptions/) asks for; unset, open.
    api_token: SecretStr = field(default_factory=lambda: SecretStr(""))
    # Named API users who may acknowledge and resolve work items: `name:sha256-hex-of-token`
    # per line (streams/topology/workitems.py); unset, nobody may.
    api_users_file: Path | None = None
    # MLLP listener (`s2c ingest mllp`). With a PEM certificate (chain) and key it speaks TLS
    # 1.2+ only; with a client CA too, mutual TLS. Key unset: the key is in the certificate file.
    mllp_tls_cert: Path | None = None
    mllp_tls_key: Path | None = None
    mllp_tls_client_ca: Path | None = None
    # Peer addresses/CIDRs the listener accepts; none given: loopback only.
    mllp_allow: tuple[str, ...] = ()
    # Largest message accepted (bytes between the MLLP markers); a larger one gets an AR.
    mllp_max_bytes: int = 1048576
    # Largest dead letter (key, value and headers) sent whole; a larger record's dead letter
    # carries its size and sha256 instead of its bytes. Keep it under the DLQ topic's
    # max.message.bytes (the broker's default is 1048588) and the producer's message.max.bytes.
    dlq_max_bytes: int = 1000000
    # Plausibility at the door (tables/plausible.py): an event's business time may be at most
    # this many days from its ingest partition's stream time (either way), ahead of the wall
    # clock, and behind it; an amount at most this much in absolute value.
    plausible_stream_days: float = 366.0
    plausible_ahead_days: float = 31.0
    plausible_behind_days: float = 3660.0
    plausible_max_amount: Decimal = Decimal("10000000")

    @property
    def plausibility(self) -> Limits:
        """The limits the ingest stage and `s2c replay` refuse implausible events by."""
        return Limits(
            stream=timedelta(days=self.plausible_stream_days),
            ahead_of_clock=timedelta(days=self.plausible_ahead_days),
            behind_clock=timedelta(days=self.plausible_behind_days),
            max_amount=self.plausible_max_amount,
        )

    @property
    def worker_data_dir(self) -> Path:
        """Where this worker keeps its RocksDB tables (one folder per worker process)."""
        return self.worker_dir or self.data_dir / "worker"

    @classmethod
    def from_env(cls) -> "Settings":
        host = _env("S2C_HOST", "127.0.0.1")
        kafka_port = int(_env("S2C_KAFKA_PORT", "19092"))
        registry_port = int(_env("S2C_REGISTRY_PORT", "18081"))
        username = _env("S2C_KAFKA_USERNAME", "")
        ca_file = _env("S2C_KAFKA_CA_FILE", "")
        secure = _env("S2C_SECURE", "") not in ("", "0")
        data_home = Path(_env("S2C_DATA_DIR", str(REPO_ROOT / ".s2c")))
        return cls(
            host=host,
            kafka_port=kafka_port,
            controller_port=int(_env("S2C_CONTROLLER_PORT", "19093")),
            registry_port=registry_port,
            prometheus_port=int(_env("S2C_PROMETHEUS_PORT", "19090")),
            worker_web_port=int(_env("S2C_WORKER_WEB_PORT", "16066")),
            kafka_bootstrap=_env("S2C_KAFKA_BOOTSTRAP", f"{host}:{kafka_port}"),
            # the secured stack serves the registry over https (its CA in the role env files)
            registry_url=_env(
                "S2C_REGISTRY_URL", f"{'https' if secure else 'http'}://{host}:{registry_port}"
            ),
            registry_topic=_env("S2C_REGISTRY_TOPIC", "_s2c_schemas"),
            topic_prefix=_env("S2C_TOPIC_PREFIX", "s2c"),
            partitions=int(_env("S2C_PARTITIONS", "4")),
            replication_factor=int(_env("S2C_REPLICATION_FACTOR", "1")),
            standby_replicas=int(_env("S2C_STANDBY_REPLICAS", "0")),
            state_cache=int(_env("S2C_STATE_CACHE", "16384")),
            deadline_grace_hours=float(_env("S2C_DEADLINE_GRACE_HOURS", "0")),
            local_stages=_env("S2C_LOCAL_STAGES", "0") in ("1", "true", "yes"),
            erp_ack_wait_seconds=float(wait) if (wait := _env("S2C_ERP_ACK_WAIT", "")) else None,
            app_id=_env("S2C_APP_ID", "s2c-pipeline"),
            data_dir=data_home / "secure-stack" if secure else data_home,
            worker_dir=Path(os.environ["S2C_WORKER_DIR"])
            if "S2C_WORKER_DIR" in os.environ
            else None,
            kafka_username=username,
            kafka_password=SecretStr(_env("S2C_KAFKA_PASSWORD", "")),
            sasl_mechanism=_env("S2C_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            kafka_security_protocol=_env(
                "S2C_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT" if username else "PLAINTEXT"
            ).upper(),
            kafka_ca_file=Path(ca_file) if ca_file else None,
            secure=secure,
            secure_dir=data_home / "secure" if secure else None,
            registry_user_info=SecretStr(_env("S2C_REGISTRY_USER_INFO", "")),
            registry_ca_file=_path("S2C_REGISTRY_CA_FILE"),
            registry_auth_file=_path("S2C_REGISTRY_AUTH_FILE"),
            registry_tls_cert=_path("S2C_REGISTRY_TLS_CERT"),
            registry_tls_key=_path("S2C_REGISTRY_TLS_KEY"),
            register_schemas=_env("S2C_REGISTER_SCHEMAS", "1") not in ("0", "false", "no"),
            audit_topic=_env("S2C_AUDIT_TOPIC", "_s2c_audit"),
            actor=_env("S2C_ACTOR", ""),
            new_password=SecretStr(_env("S2C_NEW_PASSWORD", "")),
            patient_ref_key=SecretStr(_env("S2C_PATIENT_REF_KEY", "")),
            id_key=SecretStr(_env("S2C_ID_KEY", "")),
            api_token=SecretStr(_env("S2C_API_TOKEN", "")),
            api_users_file=Path(users) if (users := _env("S2C_API_USERS_FILE", "")) else None,
            mllp_tls_cert=Path(cert) if (cert := _env("S2C_MLLP_TLS_CERT", "")) else None,
            mllp_tls_key=Path(key) if (key := _env("S2C_MLLP_TLS_KEY", "")) else None,
            mllp_tls_client_ca=Path(ca) if (ca := _env("S2C_MLLP_TLS_CLIENT_CA", "")) else None,
            mllp_allow=tuple(
                entry.strip() for entry in _env("S2C_MLLP_ALLOW", "").split(",") if entry.strip()
            ),
            mllp_max_bytes=int(_env("S2C_MLLP_MAX_BYTES", "1048576")),
            dlq_max_bytes=int(_env("S2C_DLQ_MAX_BYTES", "1000000")),
            plausible_stream_days=float(_env("S2C_PLAUSIBLE_STREAM_DAYS", "366")),
            plausible_ahead_days=float(_env("S2C_PLAUSIBLE_AHEAD_DAYS", "31")),
            plausible_behind_days=float(_env("S2C_PLAUSIBLE_BEHIND_DAYS", "3660")),
            plausible_max_amount=Decimal(_env("S2C_PLAUSIBLE_MAX_AMOUNT", "10000000")),
        )

    @property
    def kafka_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    def confluent_config(self) -> dict[str, str]:
        """librdkafka settings shared by every confluent-kafka client s2c makes."""
        config = {"bootstrap.servers": self.kafka_bootstrap}
        if self.kafka_security_protocol != "PLAINTEXT":
            config["security.protocol"] = self.kafka_security_protocol
        if self.kafka_sasl:
            config.update(
                {
                    "sasl.mechanism": self.sasl_mechanism,
                    "sasl.username": self.kafka_username,
                    "sasl.password": self.kafka_password.get_secret_value(),
                }
            )
        if self.kafka_tls and self.kafka_ca_file is not None:
            config["ssl.ca.location"] = str(self.kafka_ca_file)
        return config

    def aiokafka_ssl_context(self) -> Any:
        """The TLS context aiokafka (Faust's client) verifies the broker with, None without TLS."""
        if not self.kafka_tls:
            return None
        from aiokafka.helpers import create_ssl_context

        return create_ssl_context(cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None)

    def for_role(self, role: str) -> "Settings":
        """These settings with the Kafka and registry credentials of `role` (admin, worker,
        registry, ingest, erp-reader) from the secured stack's `<role>.env`; unchanged when
        not S2C_SECURE."""
        if not self.secure or self.secure_dir is None:
            return self
        env = self.role_env(role)
        ca_file = env.get("S2C_KAFKA_CA_FILE", "")
        return replace(
            self,
            kafka_security_protocol=env.get(
                "S2C_KAFKA_SECURITY_PROTOCOL", self.kafka_security_protocol
            ).upper(),
            kafka_ca_file=Path(ca_file) if ca_file else self.kafka_ca_file,
            kafka_username=env.get("S2C_KAFKA_USERNAME", self.kafka_username),
            kafka_password=SecretStr(
                env.get("S2C_KAFKA_PASSWORD", self.kafka_password.get_secret_value())
            ),
            registry_user_info=SecretStr(
                env.get("S2C_REGISTRY_USER_INFO", self.registry_user_info.get_secret_value())
            ),
            registry_ca_file=Path(env["S2C_REGISTRY_CA_FILE"])
            if env.get("S2C_REGISTRY_CA_FILE")
            else self.registry_ca_file,
        )

    def role_unless_given(self, role: str) -> "Settings":
        """`for_role(role)` unless S2C_KAFKA_USERNAME already names a user (a sourced env file):
        each `s2c` command on the secured stack runs as its own role by default."""
        return self if self.kafka_username else self.for_role(role)

    def role_env(self, role: str) -> dict[str, str]:
        """The variables of the secured stack's `<role>.env` (KEY=VALUE lines), for a child
        process's environment; empty when not S2C_SECURE."""
        if not self.secure or self.secure_dir is None:
            return {}
        path = self.secure_dir / f"{role}.env"
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise SystemExit(
                f"s2c: no credentials for role {role!r} at {path}: "
                "start the secured stack first (S2C_SECURE=1 deploy/local/stack start)"
            ) from None
        env: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip().strip("'\"")
        return env
