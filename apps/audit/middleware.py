"""Binds each request's address, user agent and request id to the audit context."""

from __future__ import annotations

import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from . import context

__all__ = ["AuditContextMiddleware"]


def _context_for(request) -> context.AuditContext:
    source = "admin" if request.path.startswith("/admin/") else "api"
    request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
    return context.AuditContext(source=source, address=request.META.get("REMOTE_ADDR") or None,
                                user_agent=request.headers.get("User-Agent", "")[:255], request_id=request_id)


class AuditContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        ctx = _context_for(request)
        with context.use(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response

    async def __acall__(self, request):
        ctx = _context_for(request)
        with context.use(ctx):
            response = await self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response
