"""smartctl (smartmontools 7.x): reads SMART as JSON, starts and aborts self-tests. Argv lists only; every
device path is checked before it reaches a command line."""

from __future__ import annotations

import re

from apps.core.errors import BackendError
from apps.core.runner import CommandError, CommandResult, Runner

from .base import SelfTestState, SmartReport
from .smart_parse import (
    EXIT_CMDLINE,
    EXIT_OPEN,
    EXIT_SMART_CMD,
    parse_self_test_state,
    parse_smartctl,
    parse_smartctl_messages,
)

__all__ = ["SELF_TEST_KINDS", "SmartctlBackend", "check_device_path"]

DEVICE_RE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SELF_TEST_KINDS = {"short": "short", "long": "long"}


def check_device_path(path: str) -> str:
    """``/dev/<kernel name>`` and nothing else (no option, no ``..``, no sub-directory)."""
    if not isinstance(path, str) or not DEVICE_RE.match(path) or ".." in path:
        raise BackendError(f"not a disk device path: {path!r}")
    return path


class SmartctlBackend:
    def __init__(self, runner: Runner, timeout: float = 60.0) -> None:
        self._runner = runner
        self._timeout = timeout

    def _json(self, *args: str) -> CommandResult:
        argv = ["smartctl", "--json=c", *args]
        try:
            return self._runner.run(argv, timeout=self._timeout, check=False)
        except CommandError as exc:  # not installed, or timed out
            raise BackendError.from_command(exc) from exc

    def read(self, device: str) -> SmartReport:
        """Everything ``smartctl -a`` reports, whatever its exit status (the JSON says what went wrong)."""
        return parse_smartctl(self._json("-a", check_device_path(device)).stdout)

    def self_test_state(self, device: str) -> SelfTestState:
        """The self-test running now and what remains of it: ``-c`` carries an ATA drive's self-test status,
        ``-l selftest`` an NVMe drive's current operation and completion."""
        return parse_self_test_state(self._json("-c", "-l", "selftest", check_device_path(device)).stdout)

    def _command(self, *args: str) -> None:
        result = self._json(*args)
        status, messages = parse_smartctl_messages(result.stdout)
        if status & (EXIT_CMDLINE | EXIT_OPEN | EXIT_SMART_CMD):
            words = "; ".join(messages) or f"smartctl exit status {status}"
            raise BackendError(f"smartctl {' '.join(args)}: {words}", argv=result.argv, returncode=result.returncode,
                               stderr=words)

    def start_self_test(self, device: str, kind: str) -> None:
        """Start a ``short`` or ``long`` self-test; the drive runs it in the background."""
        if kind not in SELF_TEST_KINDS:
            raise BackendError(f"unknown self-test kind: {kind!r}")
        self._command("-t", SELF_TEST_KINDS[kind], check_device_path(device))

    def abort_self_test(self, device: str) -> None:
        """Abort the running self-test (``smartctl -X``)."""
        self._command("-X", check_device_path(device))
