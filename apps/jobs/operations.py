"""What an operator can do to a job: cancel it, or run it again."""

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import services
from .models import Job

__all__ = ["JOB"]

JOB = Operations(
    Job,
    Operation("cancel", services.cancel_job, label=_("Cancel"), bulk=True, when=lambda job: job.is_active,
              help=_("A queued job stops at once; a running one at its next progress report.")),
    Operation("retry", services.retry_job, label=_("Retry"), job=True, bulk=True,
              when=lambda job: job.ended_without_success,
              help=_("Run the same kind with the same parameters again, as a new job.")),
)
