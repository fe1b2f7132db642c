"""Who may talk to the MLLP listener: the peer address allowlist and the TLS server context.

The allowlist is checked when a connection is accepted, before a byte is read and before any
TLS handshake, so a refused peer costs one accept and one log line (its address: an address is
not patient data).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from s2c.streams.settings import Settings

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
LOOPBACK: tuple[Network, ...] = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
TLS_HANDSHAKE_SECONDS = 30.0


def parse_allowlist(entries: Iterable[str]) -> tuple[Network, ...]:
    """`10.20.0.15`, `10.30.0.0/24`, `fd00::/8` -> networks; none at all means loopback only."""
    try:
        return tuple(ip_network(entry, strict=False) for entry in entries) or LOOPBACK
    except ValueError as exc:
        raise ValueError(f"S2C_MLLP_ALLOW: {exc}") from None


def peer_address(peername: object) -> Address | None:
    """The address of a socket's peer, an IPv4-mapped IPv6 address as IPv4; None if unknown."""
    if not isinstance(peername, tuple) or not peername:
        return None
    try:
        address = ip_address(str(peername[0]))
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def allowed(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def server_tls_context(cert: Path, key: Path | None, client_ca: Path | None) -> ssl.SSLContext:
    """TLS 1.2 or later with the listener's PEM certificate (chain) and key; with `client_ca`,
    a client must present a certificate that CA signed (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)  # key None: the key is in the certificate's PEM file
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass(frozen=True)
class MllpPolicy:
    """What the listener accepts: TLS (None: plaintext), peers, and the largest message."""

    tls: ssl.SSLContext | None = None
    allow: tuple[Network, ...] = LOOPBACK
    max_bytes: int = 1048576

    @classmethod
    def from_settings(cls, settings: Settings) -> MllpPolicy:
        """Raises ValueError for a bad setting, OSError/ssl.SSLError for unreadable PEM files."""
        if settings.mllp_max_bytes < 1:
            raise ValueError("S2C_MLLP_MAX_BYTES must be a positive number of bytes")
        tls = None
        if settings.mllp_tls_cert is not None:
            files = [settings.mllp_tls_cert, settings.mllp_tls_key, settings.mllp_tls_client_ca]
            try:
                tls = server_tls_context(*files)
            except OSError as exc:  # ssl's own errors do not say which file
                named = ", ".join(str(f) for f in files if f is not None)
                raise ValueError(f"S2C_MLLP_TLS_* ({named}): {exc}") from None
        elif settings.mllp_tls_key is not None or settings.mllp_tls_client_ca is not None:
            raise ValueError("S2C_MLLP_TLS_KEY and S2C_MLLP_TLS_CLIENT_CA need S2C_MLLP_TLS_CERT")
        return cls(tls, parse_allowlist(settings.mllp_allow), settings.mllp_max_bytes)

    def describe(self) -> str:
        tls = "plaintext" if self.tls is None else "TLS"
        if self.tls is not None and self.tls.verify_mode == ssl.CERT_REQUIRED:
            tls = "mutual TLS"
        peers = ", ".join(map(str, self.allow))
        return f"{tls}; peers {peers}; messages up to {self.max_bytes} bytes"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


class GatedProtocol(asyncio.StreamReaderProtocol):
    """Calls `refuse` and closes a peer outside `allow` on accept; otherwise pauses reading
    until `start_reading`, so a TLS handshake reads the ClientHello, not the stream reader."""

    def __init__(
        self,
        allow: tuple[Network, ...],
        refuse: Callable[[Address | None], None],
        serve: Callable[..., Any],
    ) -> None:
        super().__init__(asyncio.StreamReader(), serve)
        self._allow, self._refuse = allow, refuse

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP server's
        peer = peer_address(transport.get_extra_info("peername"))
        if not allowed(peer, self._allow):
            self._refuse(peer)
            transport.abort()
            return
        transport.pause_reading()
        super().connection_made(transport)


async def start_reading(writer: asyncio.StreamWriter, tls: ssl.SSLContext | None) -> None:
    """Plaintext: read from now on. TLS: after the handshake, which raises OSError on failure."""
    if tls is None:
        writer.transport.resume_reading()  # type: ignore[attr-defined]
    else:
        await writer.start_tls(tls, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS)


def tls_summary(writer: asyncio.StreamWriter) -> str:
    """` (TLSv1.3, client certificate CN=...)` for the log line of a TLS connection."""
    tls = writer.get_extra_info("ssl_object")
    if tls is None:
        return ""
    subject = dict(item for rdn in (tls.getpeercert() or {}).get("subject", ()) for item in rdn)
    client = f", client certificate CN={subject['commonName']}" if "commonName" in subject else ""
    return f" ({tls.version()}{client})"
