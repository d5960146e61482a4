"""A job kind for the live tests only; the test worker loads it with ``--include tests.jobs.live_tasks``."""

from __future__ import annotations

import time

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

__all__ = ["sleep_job"]


@job_kind("tests.sleep", "Test sleep")
def sleep_job(ctx: JobContext, target=None, steps: int = 10, delay: float = 0.1) -> dict:
    """Report ``steps`` progress steps, sleeping ``delay`` seconds before each."""
    for i in range(steps):
        time.sleep(delay)
        ctx.progress(100 * (i + 1) // steps, f"Step {i + 1}/{steps}")
    return {"steps": steps}
