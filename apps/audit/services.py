"""``record()``: write one audit event. Called by services, base viewsets, admin and jobs."""

from __future__ import annotations

import logging
import time

from django.db import models

from . import context
from .choices import Outcome
from .models import AuditEvent

__all__ = ["record"]

log = logging.getLogger("calypso.audit")


def _object_fields(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    if isinstance(obj, models.Model):
        meta = obj._meta
        return f"{meta.app_label}.{meta.model_name}", str(obj.pk or ""), str(obj)[:255]
    if isinstance(obj, tuple) and len(obj) == 3:  # (type, id, label) for objects outside the database
        return tuple(str(x)[:255] for x in obj)
    return type(obj).__name__.lower(), "", str(obj)[:255]


def record(actor, action: str, obj=None, *, changes: dict | None = None, outcome: str = Outcome.OK,
           message: str = "", source: str | None = None, job=None, duration_ms: float | None = None) -> AuditEvent:
    """Append an audit event for ``action`` by ``actor`` on ``obj``; request details come from the context."""
    ctx = context.current()
    object_type, object_id, label = _object_fields(obj)
    if duration_ms is None:
        duration_ms = round((time.monotonic() - ctx.started) * 1000, 3)
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent.objects.create(
        actor=user, actor_name=getattr(user, "username", "") if user else "", action=action,
        object_type=object_type, object_id=object_id, object_label=label, changes=changes or {},
        source=source or ctx.source, address=ctx.address, user_agent=ctx.user_agent, request_id=ctx.request_id,
        duration_ms=duration_ms, outcome=outcome, message=str(message)[:4000],
        job_id=getattr(job, "pk", job) or ctx.job_id,
    )
    log.info("audit %s %s %s %s", event.actor_name or "system", action, label, outcome)
    return event


