"""Who is on the other end of a request: the socket peer, and the client behind it when that
peer is the configured reverse proxy (`[web] trusted_proxy`).

Whether a request came through the proxy is decided from the socket peer alone, never from the
presence of forwarding headers: waitress removes `X-Forwarded-For` and `Forwarded` from peers it
does not trust before the app sees them, so a check on those headers says nothing (issue 14).
The app therefore does the proxy handling itself, around waitress's own header parser, and
keeps the peer: waitress is started without proxy options (`server.py`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import request
from waitress.proxy_headers import proxy_headers_middleware

_KEY = "permit_gateway.connection"
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass(frozen=True)
class Connection:
    peer: str  # the socket's other end, as the WSGI server reports it
    client: str  # the caller: the proxy's X-Forwarded-For when `via_proxy`, else the peer
    via_proxy: bool

    @property
    def direct_loopback(self) -> bool:
        """A caller on this machine that connected itself, not through the trusted proxy."""
        return not self.via_proxy and _loopback(self.peer)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ProxyAware:
    """WSGI middleware: records the peer, then lets waitress's parser take the client's address
    and scheme from the trusted proxy's `X-Forwarded-For`/`-Proto` and drop forwarding headers
    from anyone else."""

    def __init__(self, app: WsgiApp, trusted_proxy: str) -> None:
        self.proxy = str(ipaddress.ip_address(trusted_proxy)) if trusted_proxy else None
        self.inner = proxy_headers_middleware(
            self._tag, trusted_proxy=self.proxy, trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"} if self.proxy
            else None, clear_untrusted=True)
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        environ[_KEY] = peer, self.proxy is not None and peer == self.proxy  # as waitress tests
        return self.inner(environ, start_response)

    def _tag(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        peer, via_proxy = environ.pop(_KEY)
        environ[_KEY] = Connection(peer, environ.get("REMOTE_ADDR", ""), via_proxy)
        return self.app(environ, start_response)


def connection() -> Connection:
    """This request's connection; an app not wrapped in ProxyAware (a bare test app) sees its
    REMOTE_ADDR as a direct peer."""
    found = request.environ.get(_KEY)
    if isinstance(found, Connection):
        return found
    address = request.remote_addr or ""
    return Connection(address, address, via_proxy=False)
