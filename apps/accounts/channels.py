"""WebSocket authentication: the browser's session cookie, or an API token header."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from .models import ApiToken

__all__ = ["TokenOrSessionAuthMiddleware"]


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
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddleware(inner):  # noqa: N802 - used like a class in routing
    """Session auth first; a token header, when present, decides the user."""
    return AuthMiddlewareStack(_TokenMiddleware(inner))
