"""Who is asking: the client's address and the request id, the same for the throttle, the sign-in guard
and the audit trail.

``X-Forwarded-For`` and ``X-Request-ID`` are headers any client can send; they are believed only when
the connection comes from a configured trusted proxy (``CALYPSO_TRUSTED_PROXIES``, none by default).
Behind a chain of trusted proxies the client is the right-most address that is not one of them.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from functools import lru_cache

from django.conf import settings

__all__ = ["SERVER_SEND", "client_address", "from_trusted_proxy", "request_id"]

# A WebSocket scope's entry for the ASGI server's own send (set by the outermost WebSocket middleware): a
# consumer that streams many frames sends them past the session and auth wrappers, which act on the
# handshake only, never on a ``websocket.send``.
SERVER_SEND = "calypso.server_send"

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(addr) -> bool:
    networks = _networks(tuple(getattr(settings, "CALYPSO_TRUSTED_PROXIES", ()) or ()))
    return addr is not None and any(addr in net for net in networks)


def _meta(request) -> dict:
    return getattr(request, "META", None) or {}


def from_trusted_proxy(request) -> bool:
    """True when the TCP peer is a configured trusted proxy."""
    return _trusted(_address(_meta(request).get("REMOTE_ADDR") or ""))


def client_address(request) -> str | None:
    """The client's address: the TCP peer, or, behind trusted proxies, the address they forwarded."""
    meta = _meta(request)
    peer = meta.get("REMOTE_ADDR") or None
    addr = _address(peer or "")
    if not _trusted(addr):
        return peer
    forwarded = [a for a in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if a.strip()]
    for hop in reversed(forwarded):
        candidate = _address(hop)
        if candidate is None:  # garbage in the chain: stop at the last proxy we trust
            break
        addr = candidate
        if not _trusted(candidate):
            break
    return str(addr)


def request_id(request) -> str:
    """A trusted proxy's ``X-Request-ID`` when well formed, else a new one."""
    given = _meta(request).get("HTTP_X_REQUEST_ID") or ""
    if given and from_trusted_proxy(request) and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex
