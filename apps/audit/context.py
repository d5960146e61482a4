"""Where a mutation came from: set by the HTTP middleware, by a job, or by a management command."""

from __future__ import annotations

import contextvars
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

__all__ = ["AuditContext", "current", "use"]


@dataclass(frozen=True, slots=True)
class AuditContext:
    source: str = "system"
    address: str | None = None
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.monotonic)
    job_id: int | None = None


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("calypso_audit", default=None)


def current() -> AuditContext:
    return _current.get() or AuditContext()


@contextmanager
def use(ctx: AuditContext | None = None, **changes):
    """Run a block with an audit context (a job, a management command)."""
    base = ctx or current()
    token = _current.set(replace(base, **changes) if changes else base)
    try:
        yield _current.get()
    finally:
        _current.reset(token)
