"""ProgressReporter: publishes at most every 100 ms, persists at most every second, and always the
last value; raises ``JobCancelled`` when an operator asked to cancel (cooperative cancel)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from .models import Job
from .publish import publish

__all__ = ["JobCancelled", "ProgressReporter"]


class JobCancelled(Exception):
    """The operator cancelled the job; raised at the next progress report or cancel check. A service may
    raise it too, with its own message, when what it followed was stopped elsewhere (``undo=False``: nothing
    left to undo)."""

    def __init__(self, message: str = "", *, undo: bool = True) -> None:
        super().__init__(message)
        self.undo = undo


class ProgressReporter:
    def __init__(self, job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.job = job
        self._clock = clock
        self._publish_every = settings.CALYPSO_PROGRESS_PUBLISH_S
        self._persist_every = settings.CALYPSO_PROGRESS_PERSIST_S
        self._last: tuple[int, str] | None = None
        self._sent_at = self._saved_at = self._checked_at = float("-inf")
        self._dirty_publish = self._dirty_persist = False
        self.percent, self.step = job.progress, job.step

    def __call__(self, percent: float, step: str = "") -> None:
        self.check_cancelled()
        pct = max(0, min(100, int(percent)))
        step = str(step)[:255]
        if (pct, step) == self._last:
            return
        self._last = (pct, step)
        self.percent, self.step = pct, step
        self._dirty_publish = self._dirty_persist = True
        self._maybe_flush()

    def _maybe_flush(self, force: bool = False) -> None:
        now = self._clock()
        if self._dirty_publish and (force or now - self._sent_at >= self._publish_every):
            publish(self.job.pk, {"event": "progress", "state": self.job.state, "progress": self.percent,
                                  "step": self.step})
            self._sent_at, self._dirty_publish = now, False
        if self._dirty_persist and (force or now - self._saved_at >= self._persist_every):
            Job.objects.filter(pk=self.job.pk).update(progress=self.percent, step=self.step,
                                                      heartbeat=timezone.now())
            self._saved_at, self._dirty_persist = now, False

    def flush(self) -> None:
        """Send and save whatever the throttle held back."""
        self._maybe_flush(force=True)

    def check_cancelled(self) -> None:
        """Raise JobCancelled if cancel was requested; reads the database at most twice a second."""
        now = self._clock()
        if now - self._checked_at < 0.5:
            return
        self._checked_at = now
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()
