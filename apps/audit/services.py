"""``record()``: write one audit event. ``record_operation`` (the receiver of every declared operation)
calls it once per operation; jobs, the inventory sync and sign-in call it for what is not an operation."""

from __future__ import annotations

import logging
import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from rest_framework.exceptions import ValidationError as DRFValidationError

from apps.core.changes import ALWAYS_SECRET, diff, snapshot
from apps.core.crypto import mask
from apps.core.operations import BulkResult, result_type

from . import context
from .choices import Outcome
from .models import AuditEvent

__all__ = ["record", "record_operation"]

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


def _describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "refused: " + "; ".join(error.messages)
    return getattr(error, "message", None) or str(error) or type(error).__name__


def _outcome(error: BaseException | None) -> str:
    if error is None:
        return Outcome.OK
    return Outcome.DENIED if isinstance(error, (PermissionDenied, ValidationError, DRFValidationError)) \
        else Outcome.FAILED


def _target(op, obj, result, data: dict, before: dict):
    """The object the event is about: the operated object, else what the operation created, else a label."""
    if obj is not None:
        meta = obj._meta
        return (f"{meta.app_label}.{meta.model_name}", str(before.get("id") or obj.pk or ""), str(obj))
    if isinstance(result, models.Model) and result_type(result) is None:  # what it created, with its id
        return result
    meta = op.model._meta
    return (f"{meta.app_label}.{meta.model_name}", "", str(data.get("name") or data.get("mountpoint") or ""))


def _plain(value):
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def record_operation(sender, *, actor, obj, data, result, error, duration_ms, before, **kwargs) -> AuditEvent:
    """Receiver of ``operation_performed``: one event per operation call, with its input (secrets
    masked), the object's field changes, the job it queued, and the outcome with the refusal's words."""
    secrets = set(getattr(sender.model, "secret_fields", ())) | ALWAYS_SECRET | {"key"}
    changes = {k: [None, mask(v) if k in secrets else _plain(v)] for k, v in data.items()}
    # A secret given is recorded as set or changed, never with its value (masked, both sides look alike).
    secrets_given = sorted(k for k, v in data.items() if k in secrets and v)
    for name in secrets_given:
        changes[name] = ["********" if obj is not None else None, "(new value, not recorded)"]
    if error is None and obj is not None and before and obj.pk is not None:
        for field, (old, new) in diff(before, snapshot(type(obj).objects.filter(pk=obj.pk).first())).items():
            if field in secrets:
                continue
            # The row's before/after says more than the input when they agree; otherwise keep both.
            same = field not in changes or changes[field][1] == new
            changes[field if same else f"{field} (stored)"] = [old, new]
    if error is None and obj is not None and isinstance(result, models.Model) and not isinstance(result, type(obj)) \
            and result_type(result) is None:  # an object made from this one (a clone): which, by id
        created_type, created_id, created_label = _object_fields(result)
        changes["created"] = [None, {"type": created_type, "id": created_id, "label": created_label}]
    job = result if result_type(result) is not None else None  # a job (a result type the jobs app registered)
    message = _describe(error) if error is not None else (f"queued as job #{job.pk}" if job and sender.job else "")
    outcome = Outcome.QUEUED if error is None and job and sender.job else _outcome(error)
    if isinstance(result, BulkResult):  # one event per object, then the call's own with the count
        _record_items(sender, actor, result)
        message, outcome = result.summary(), Outcome.FAILED if result.failed else outcome
    if error is None and secrets_given and not message:
        message = ", ".join(f"{name} {'changed' if obj is not None else 'set'}" for name in secrets_given)
    return record(actor, sender.audit_action, _target(sender, obj, result, data, before), changes=changes,
                  outcome=outcome, message=message, job=job, duration_ms=duration_ms)


def _record_items(sender, actor, result: BulkResult) -> None:
    meta = sender.model._meta
    action = f"{meta.app_label}.{meta.model_name}.{sender.item_action}" if sender.item_action else sender.audit_action
    for obj, ok, message in result.items:
        record(actor, action, obj, outcome=Outcome.OK if ok else Outcome.FAILED,
               message=f"{message} ({sender.audit_action})" if message else f"part of {sender.audit_action}",
               duration_ms=0)
