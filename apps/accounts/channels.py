"""WebSocket authentication: the browser's session cookie, or an API token header; and the origin check
that protects the cookie.

A browser always sends ``Origin`` with a WebSocket handshake, and a page on another site could ride the
portal's session cookie: an ``Origin`` must therefore match exactly (scheme, host and port) the portal's own
address or one of ``CSRF_TRUSTED_ORIGINS``. A client that sends no ``Origin`` is not a browser page: its
cookie is ignored and only a token header can authenticate it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from apps.core.clients import SERVER_SEND

from .models import ApiToken

__all__ = ["OriginValidator", "TokenOrSessionAuthMiddleware", "origin_allowed"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_tuple(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, scope: dict) -> bool:
    """``origin`` is the portal's own (same scheme, host and port as the handshake, on an allowed host) or
    exactly one of ``CSRF_TRUSTED_ORIGINS``."""
    seen = _origin_tuple(origin)
    if seen is None:
        return False
    if any(_origin_tuple(trusted) == seen for trusted in settings.CSRF_TRUSTED_ORIGINS):
        return True
    headers = dict(scope.get("headers") or [])
    host_header = headers.get(b"host", b"").decode("latin-1")
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    own = (scheme, domain.lower(), int(port) if port else _DEFAULT_PORTS[scheme])
    return seen == own


class OriginValidator:
    """Refuse a WebSocket handshake whose ``Origin`` is not the portal's own or a trusted one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if origin is not None and not origin_allowed(origin.decode("latin-1"), scope):
                return await WebsocketDenier()(scope, receive, send)
            scope = dict(scope, **{SERVER_SEND: send})
        return await self.app(scope, receive, send)


@database_sync_to_async
def _user_for_token(key: str):
    token = ApiToken.authenticate(key)
    return token.user if token and token.user.is_active else AnonymousUser()


class _TokenMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode(errors="replace").split()
        if len(auth) == 2 and auth[0].lower() in ("token", "bearer"):
            scope = dict(scope, user=await _user_for_token(auth[1]))
        elif b"origin" not in headers:
            scope = dict(scope, user=AnonymousUser())  # not a browser page: a cookie alone is not enough
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddleware(inner):  # noqa: N802 - used like a class in routing
    """Origin checked first; then session auth; a token header, when present, decides the user."""
    return OriginValidator(AuthMiddlewareStack(_TokenMiddleware(inner)))
