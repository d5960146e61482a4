"""The disk health backend: services ask ``get_backend(runner)`` and never which tool answers."""

from __future__ import annotations

from apps.core.runner import Runner, get_runner

from .base import DiskBackend, SelfTestEntry, SelfTestState, SmartReport
from .smartctl import SmartctlBackend, check_device_path

__all__ = ["DiskBackend", "SelfTestEntry", "SelfTestState", "SmartReport", "check_device_path", "get_backend"]


def get_backend(runner: Runner | None = None) -> DiskBackend:
    return SmartctlBackend(runner or get_runner())
