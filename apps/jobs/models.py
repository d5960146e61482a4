"""Job: one row for every long operation; JobLogEntry: its log, written line by line as it runs."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError
from apps.core.models import RestrictedQuerySet

from .choices import ACTIVE_STATES, TERMINAL_STATES, TRANSITIONS, JobState, LogLevel

__all__ = ["Job", "JobLocked", "JobLogEntry"]


class JobLocked(ServiceError):
    """Another job holds the same lock key (e.g. a scrub of this pool is already running)."""

    def __init__(self, lock_key: str, running: Job | None) -> None:
        job_id = running.pk if running else None
        super().__init__("job_locked", _("Already running as job #%(id)s (%(key)s).") % {"id": job_id, "key": lock_key},
                         status=409, extra={"job_id": job_id, "lock_key": lock_key})
        self.job = running


class JobQuerySet(RestrictedQuerySet):
    def active(self):
        return self.filter(state__in=ACTIVE_STATES)

    def create_locked(self, **fields) -> Job:
        """Create a job; with a ``lock_key``, refuse while another active job holds that key."""
        try:
            if not transaction.get_connection().in_atomic_block:
                return self.create(**fields)  # autocommit: one INSERT, and a refused one leaves nothing to undo
            with transaction.atomic():  # a savepoint: the caller's transaction survives a refusal
                return self.create(**fields)
        except IntegrityError:
            key = fields.get("lock_key")
            if not key:
                raise
            raise JobLocked(key, self.active().filter(lock_key=key).first()) from None


class Job(models.Model):
    kind = models.CharField(max_length=64, db_index=True,
                            help_text=_("app.model.verb, e.g. storage.pool.scrub (the operation that queued it)."))
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=255, blank=True)
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    target_id = models.CharField(max_length=64, null=True, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    target_label = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="jobs")
    source = models.CharField(max_length=10, default="system")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    lock_key = models.CharField(max_length=255, null=True, blank=True)
    queue = models.CharField(max_length=64, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        permissions = [("cancel_job", "Can cancel a job"), ("retry_job", "Can retry a job")]
        constraints = [
            models.UniqueConstraint(fields=["lock_key"], condition=Q(state__in=ACTIVE_STATES),
                                    name="jobs_one_active_per_lock"),
        ]
        indexes = [models.Index(fields=["state", "heartbeat"]), models.Index(fields=["kind", "-id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.target_label}".strip()

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def ended_without_success(self) -> bool:
        """Failed, cancelled or rolled back: what a retry may run again."""
        return self.is_terminal and self.state != JobState.SUCCEEDED

    @property
    def duration_s(self) -> float | None:
        if not self.started:
            return None
        return round(((self.finished or timezone.now()) - self.started).total_seconds(), 3)

    def transition(self, new_state: str, **fields) -> bool:
        """Move to ``new_state`` if the state machine allows it from the state in the database.

        A conditional UPDATE, so two processes (worker, reaper, cancel) never both win.
        """
        allowed_from = [s for s, targets in TRANSITIONS.items() if new_state in targets]
        if new_state in TERMINAL_STATES:
            fields.setdefault("finished", timezone.now())
        changed = Job.objects.filter(pk=self.pk, state__in=allowed_from).update(state=new_state, **fields)
        if changed:
            self.state = new_state
            for k, v in fields.items():
                setattr(self, k, v)
        return bool(changed)


class JobLogEntry(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_entries")
    time = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=["job", "id"])]
        verbose_name_plural = "job log entries"

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.level} {self.message[:80]}"
