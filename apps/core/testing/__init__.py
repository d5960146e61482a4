"""Helpers for Calypso's tests and benchmarks: host tool requirements, replay runners, a live stack
(``live``) and the contract checks every resource and operation gets (``contracts``). Importing this
package needs no pytest, so benchmarks run from the portal's own virtualenv."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from apps.core.runner import ReplayRunner

__all__ = ["in_ci", "is_root", "replay_from", "require_root", "require_tools"]


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def is_root() -> bool:
    return os.geteuid() == 0


def _skip_or_fail(message: str) -> None:
    import pytest

    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_tools(*names: str) -> None:
    """Skip with a reason when a host tool is missing; in CI a missing tool is a failure."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        _skip_or_fail(f"host tools missing: {', '.join(missing)} (install with: make test, or apt-get)")


def require_root() -> None:
    if not is_root():
        _skip_or_fail("integration tests must run as root" + (" in CI" if in_ci() else ""))


def replay_from(*paths: str | Path) -> ReplayRunner:
    """A ReplayRunner loaded with recording files (first line ``$ command``)."""
    return ReplayRunner().add_files(paths)
