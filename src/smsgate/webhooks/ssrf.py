"""Which addresses a callback may reach.

A customer chooses the callback URL, so without a guard smsgate would post to whatever its
own network can see: the database, a metadata service, the admin API on loopback. Two checks:

- at acceptance, without DNS (the hot path stays fast): a literal IP host or ``localhost``
  that is not public is refused (``literal_refusal``);
- at delivery, at the moment of connecting: ``GuardedBackend`` resolves the host itself,
  refuses it if any of its addresses is not public, and connects to an address it checked.
  Checking where the socket is opened (not before the request) leaves no gap for a DNS
  answer that changes between the check and the connection (DNS rebinding), and covers
  every new connection of the shared client.

``SMSGATE_WEBHOOKS_ALLOW_PRIVATE=true`` turns both off (for tests and closed networks).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> its addresses. The system's resolver unless a test maps names of its own.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(Exception):
    """The callback's host is, or resolves to, an address smsgate will not post to."""


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached (a short adjective), or None if it is public."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if mapped is not None:
        address = mapped
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def literal_refusal(host: str) -> str | None:
    """The refusal for a host that needs no DNS: a literal IP, or ``localhost``."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: checked when the delivery connects
    reason = refusal(address)
    return f"{reason} address" if reason else None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _first_refused(host: str, addresses: Iterable[str]) -> str | None:
    for raw in addresses:
        reason = refusal(ipaddress.ip_address(raw.split("%", 1)[0]))  # drop an IPv6 zone id
        if reason is not None:
            return f"{host} resolves to {raw}, a {reason} address"
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check in ``connect_tcp``.

    TLS is set up by httpcore after this returns, with the URL's host name as the server name,
    so certificates are still checked against the name the customer gave.
    """

    def __init__(self, allow_private: bool, resolve: Resolver = system_resolver) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._allow_private:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            with anyio.fail_after(timeout):
                addresses = list(dict.fromkeys(await self._resolve(host, port)))
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        # Every address must be public, not just the first: the resolver's order is not ours.
        refused = _first_refused(host, addresses)
        if refused is not None:
            raise AddressRefused(refused)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the host's next address
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("callbacks never go to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over ``GuardedBackend``; no proxies from the environment (a proxy
    would open the connection on our behalf, out of the guard's sight)."""

    def __init__(
        self, *, allow_private: bool, max_connections: int, resolve: Resolver = system_resolver
    ) -> None:
        super().__init__(verify=_tls(), trust_env=False)
        # httpx has no public parameter for httpcore's network backend, so the pool that
        # its constructor made is replaced by an equivalent one that has ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private, resolve),
        )


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for the process: loading the CA bundle takes about 50 ms,
    which every transport (each server start, in the tests hundreds) paid twice."""
    return httpx.create_ssl_context(trust_env=False)
