"""Job kinds: a service function registered under a dotted name runs as a job.

One generic Celery task (``apps.jobs.tasks.run_job_task``) runs every kind, so retrying a job is
re-enqueuing its kind with its params, and no app needs a task module of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.module_loading import autodiscover_modules

__all__ = ["JobKind", "get_kind", "job_kind", "kinds"]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    func: Callable
    label: str
    retryable: bool = True


_KINDS: dict[str, JobKind] = {}
_discovered = False


def job_kind(name: str, label: str, *, retryable: bool = True) -> Callable[[Callable], Callable]:
    """Register ``func(ctx, target, **params)`` as job kind ``name`` (``app.model.verb``, e.g. ``"storage.pool.scrub"``)."""

    def decorator(func: Callable) -> Callable:
        _KINDS[name] = JobKind(name, func, label, retryable)
        return func

    return decorator


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("services")
        _discovered = True


def get_kind(name: str) -> JobKind:
    if name not in _KINDS:
        _discover()
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


def kinds() -> dict[str, JobKind]:
    _discover()
    return dict(_KINDS)
