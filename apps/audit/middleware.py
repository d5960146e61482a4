"""Binds each request's address, user agent and request id to the audit context, and records the requests
that were refused (400), denied (403, a CSRF failure, a rejected token) without an audit event of their own.

The address and request id come from ``apps.core.clients`` (the same logic as the throttle): forwarded
headers count only from a trusted proxy. Refusals are rate-limited per address and in total, so a flood of
bad requests cannot fill the disk: past the limit, one event says that further ones are not recorded.
"""

from __future__ import annotations

import json
import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.views.csrf import csrf_failure as django_csrf_failure

from apps.core.clients import client_address, request_id

from . import context
from .choices import Outcome

__all__ = ["AuditContextMiddleware", "csrf_failure"]

log = logging.getLogger("calypso.audit")

_AUDITED_STATUS = {400, 401, 403}


def _context_for(request) -> context.AuditContext:
    source = "admin" if request.path.startswith("/admin/") else "api"
    return context.AuditContext(source=source, address=client_address(request),
                                user_agent=request.headers.get("User-Agent", "")[:255],
                                request_id=request_id(request))


def csrf_failure(request, reason=""):
    """Django's CSRF failure page; the reason is kept for the audit event."""
    request.calypso_csrf_reason = reason
    return django_csrf_failure(request, reason=reason)


def _error_message(response) -> str:
    """The refusal's words from a JSON error body (``{"error": {"message", "fields"}}``), if any."""
    if getattr(response, "streaming", False) or "json" not in response.get("Content-Type", ""):
        return ""
    try:
        body = json.loads(response.content[:65536])
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    fields = error.get("fields") or {}
    named = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())
    return f"{error.get('message', '')} {named}".strip()[:1000]


def _allowed_by_rate(address: str | None) -> tuple[bool, bool]:
    """(record this one?, is it the last one before the limit?) per address and in total, per minute."""
    minute = int(time.time() // 60)
    per_address = settings.CALYPSO_AUDIT_REFUSALS_PER_ADDRESS
    total = settings.CALYPSO_AUDIT_REFUSALS_TOTAL
    counts = []
    for key, limit in ((f"audit:refused:{address}:{minute}", per_address), (f"audit:refused:*:{minute}", total)):
        cache.add(key, 0, 120)
        counts.append((cache.incr(key), limit))
    if any(n > limit + 1 for n, limit in counts):
        return False, False
    return True, any(n == limit + 1 for n, limit in counts)


def _classify(request, response) -> tuple[str, str] | None:
    """(action, message) for a refused or denied request that deserves an event, else None."""
    status = response.status_code
    reason = getattr(request, "calypso_csrf_reason", "")
    message = _error_message(response)
    if reason or message.startswith("CSRF Failed"):
        return "http.request.csrf_failed", f"CSRF check failed: {reason or message}"
    if status == 401:
        # Anonymous calls are answered 401 by design; a credential that was refused is worth a line.
        if not request.headers.get("Authorization"):
            return None
        return "http.request.denied", message or "credentials refused"
    if status == 403:
        return "http.request.denied", message or "permission denied"
    if status == 400:
        return "http.request.refused", message or "bad request"
    return None


def _audit_refusal(request, response, ctx: context.AuditContext) -> None:
    from .models import AuditEvent
    from .services import record

    verdict = _classify(request, response)
    if verdict is None or AuditEvent.objects.filter(request_id=ctx.request_id).exists():
        return  # nothing to say, or the operation/sign-in already recorded its own event
    try:
        allowed, last = _allowed_by_rate(ctx.address)
    except Exception:  # the cache is Redis: without it, record without the limit
        log.warning("audit refusal rate limit unavailable", exc_info=True)
        allowed, last = True, False
    if not allowed:
        return
    action, message = verdict
    if last:
        message += " (limit reached: further refused requests from this address are not recorded this minute)"
    user = getattr(request, "user", None)
    with context.use(ctx):
        record(user, action, ("http.request", "", f"{request.method} {request.path}"[:255]),
               changes={"status": [None, response.status_code]}, outcome=Outcome.DENIED, message=message)


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
        if response.status_code in _AUDITED_STATUS:
            _audit_refusal(request, response, ctx)
        response["X-Request-ID"] = ctx.request_id
        return response

    async def __acall__(self, request):
        ctx = _context_for(request)
        with context.use(ctx):
            response = await self.get_response(request)
        if response.status_code in _AUDITED_STATUS:
            await sync_to_async(_audit_refusal)(request, response, ctx)
        response["X-Request-ID"] = ctx.request_id
        return response
