"""A job kind for the benchmarks only; the benchmark's worker loads it with ``--include benchmarks.bench_tasks``."""

from __future__ import annotations

import time

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

__all__ = ["progress_job"]


@job_kind("bench.progress", "Benchmark progress")
def progress_job(ctx: JobContext, target=None, steps: int = 200, delay: float = 0.02) -> dict:
    """Report ``steps`` progress steps ``delay`` seconds apart, as a long host operation would."""
    for i in range(steps):
        time.sleep(delay)
        ctx.progress(100 * (i + 1) / steps, f"Step {i + 1}/{steps}")
    return {"steps": steps}
