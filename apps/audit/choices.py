from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["OUTCOME_COLORS", "AuditSource", "Outcome"]


class AuditSource(models.TextChoices):
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    JOB = "job", _("Job")
    CLI = "cli", _("Command line")
    SYSTEM = "system", _("System")


class Outcome(models.TextChoices):
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")
    DENIED = "denied", _("Denied")
    QUEUED = "queued", _("Queued")  # the request queued a job; the job's own outcome is its own event


OUTCOME_COLORS = {Outcome.OK: "green", Outcome.FAILED: "red", Outcome.DENIED: "orange", Outcome.QUEUED: "blue"}
