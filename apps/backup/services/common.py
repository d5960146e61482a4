"""What every backup run shares: its reference time, the source's presence, and streaming through
apps.core.pipeline with progress (bytes, rate) in the job, cancellation, and a typed error naming the cause."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.pipeline import PipelineCancelled, PipelineError, PipelineResult, run_pipeline
from apps.jobs.runtime import JobContext

from ..backends.stream_errors import classify
from ..models import BackupTask

__all__ = ["flat_name", "moment", "require_present", "stream"]


def moment(now: str | None = None) -> datetime:
    return (parse_datetime(now) if now else timezone.now()).astimezone(UTC)


def flat_name(task: BackupTask) -> str:
    """The source's name as one path component, one to one: "_" doubled, then "/" as "_" (``tank/home`` ->
    ``tank_home``, ``tank/a_b`` -> ``tank_a__b``, never the same as ``tank/a/b`` -> ``tank_a_b``). Btrfs: the
    subvolume's path under its filesystem."""
    source = task.source
    name = source.relative_path if source.pool.backend == "btrfs" else source.name
    return name.replace("_", "__").replace("/", "_")


def require_present(task: BackupTask) -> None:
    if task.source.gone:
        raise ServiceError("source_gone", _("%(n)s is no longer on the host.") % {"n": task.source.name})
    pool = task.target.pool
    if pool is not None and pool.gone:
        raise ServiceError("target_gone", _("The target pool %(n)s is no longer on the host (exported or lost). "
                                            "Import it, then run again.") % {"n": pool.name})


def stream(ctx: JobContext, producers: Sequence[Sequence[str]], consumers: Sequence[Sequence[str]] = (), *,
           estimate: int | None = None, low: float = 10, high: float = 90, **options) -> PipelineResult:
    """Run the pipeline, reporting "Sent N MiB at R MiB/s" between ``low`` and ``high`` percent (against
    ``estimate`` bytes, when known) and stopping when the job is cancelled; a failed stage becomes its typed
    error (the tool's words and the fix)."""
    started = timezone.now()

    def progress(sent: int) -> None:
        seconds = max((timezone.now() - started).total_seconds(), 1e-3)
        rate = sent / seconds
        percent = low + (high - low) * min(sent / estimate, 1) if estimate else (low + high) / 2
        step = _("%(m).1f MiB at %(r).1f MiB/s") % {"m": sent / 2**20, "r": rate / 2**20}
        if estimate and rate and sent < estimate:  # the estimate is the source's size: an upper bound
            step += _(", at most %(s)d s left") % {"s": (estimate - sent) / rate}
        ctx.progress(percent, step)

    def stop() -> bool:
        ctx.check_cancelled()  # raises JobCancelled: the pipeline kills every stage on the way out
        return False

    try:
        return run_pipeline(producers, consumers, on_progress=progress, should_stop=stop, log=ctx.log.command,
                            **options)
    except PipelineCancelled:
        raise
    except PipelineError as exc:
        failed = exc.failed
        raise classify(" ".join(failed.argv[:2]), failed.stderr, failed.returncode, failed.argv) from exc
