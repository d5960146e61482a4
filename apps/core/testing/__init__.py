"""Helpers for Calypso's tests: host tool requirements and replay runners."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from apps.core.runner import ReplayRunner

__all__ = ["in_ci", "is_root", "replay_from", "require_root", "require_tools"]


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def is_root() -> bool:
    return os.geteuid() == 0


def require_tools(*names: str) -> None:
    """Skip with a reason when a host tool is missing; in CI a missing tool is a failure."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        message = f"host tools missing: {', '.join(missing)} (install with: make test, or apt-get)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def require_root() -> None:
    if not is_root():
        if in_ci():
            pytest.fail("integration tests must run as root in CI")
        pytest.skip("needs root")


def replay_from(*paths: str | Path) -> ReplayRunner:
    """A ReplayRunner loaded with recording files (first line ``$ command``)."""
    return ReplayRunner().add_files(paths)
