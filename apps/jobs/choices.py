from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ACTIVE_STATES", "JOB_STATE_COLORS", "TERMINAL_STATES", "TRANSITIONS", "JobState", "LogLevel"]


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    ROLLING_BACK = "rolling_back", _("Rolling back")
    ROLLED_BACK = "rolled_back", _("Rolled back")


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.ROLLING_BACK)
TERMINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.ROLLED_BACK)

# Allowed transitions of the state machine.
TRANSITIONS = {
    JobState.QUEUED: {JobState.RUNNING, JobState.CANCELLED, JobState.FAILED},
    JobState.RUNNING: {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.ROLLING_BACK},
    JobState.ROLLING_BACK: {JobState.ROLLED_BACK, JobState.FAILED},
}

JOB_STATE_COLORS = {
    JobState.QUEUED: "grey", JobState.RUNNING: "blue", JobState.SUCCEEDED: "green", JobState.FAILED: "red",
    JobState.CANCELLED: "orange", JobState.ROLLING_BACK: "orange", JobState.ROLLED_BACK: "orange",
}


class LogLevel(models.TextChoices):
    DEBUG = "debug", _("Debug")
    INFO = "info", _("Info")
    COMMAND = "command", _("Command")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")
