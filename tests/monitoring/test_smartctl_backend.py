"""The smartctl backend: argv lists, device paths checked before any command, exit-status bits."""

from __future__ import annotations

import json

import pytest

from apps.core.errors import BackendError
from apps.core.runner import ReplayRunner
from apps.monitoring.backends.base import SelfTestEntry, SelfTestState
from apps.monitoring.backends.smart_parse import parse_self_test_state, parse_smartctl
from apps.monitoring.backends.smartctl import SmartctlBackend

from .recordings import recorded, smartctl


@pytest.mark.parametrize("path", ["sda", "/dev/../etc/passwd", "/dev/sda -d", "-a", "/dev/", "/dev/disk/by-id/x",
                                  "/dev/sda;ls", "/tmp/sda"])
def test_a_bad_device_path_runs_nothing(path):
    runner = ReplayRunner()
    backend = SmartctlBackend(runner)
    for call in (backend.read, backend.self_test_state, backend.abort_self_test,
                 lambda p: backend.start_self_test(p, "short")):
        with pytest.raises(BackendError, match="not a disk device path"):
            call(path)
    assert runner.calls == []


def test_an_unknown_self_test_kind_runs_nothing():
    runner = ReplayRunner()
    with pytest.raises(BackendError, match="unknown self-test kind"):
        SmartctlBackend(runner).start_self_test("/dev/sda", "conveyance; rm")
    assert runner.calls == []


def test_read_parses_the_json_whatever_the_exit_status():
    runner = smartctl(ReplayRunner(), "-a", "/dev/sdc", "ata-failing.json")  # exit status 216
    report = SmartctlBackend(runner).read("/dev/sdc")
    assert (report.health, report.exit_status) == ("failed", 216)
    assert runner.calls == [("smartctl", "--json=c", "-a", "/dev/sdc")]


def _answer(status: int) -> str:
    return json.dumps({"smartctl": {"exit_status": status, "messages": [
        {"string": "Warning: ATA error count 5 inconsistent with error log pointer 1", "severity": "warning"}]}})


@pytest.mark.parametrize("status", [0, 64, 192])  # bits 3 and up: the disk's state, the command went through
def test_a_self_test_starts_whatever_the_disk_state_bits(status):
    runner = ReplayRunner().add(["smartctl", "--json=c", "-t", "long", "/dev/sda"], stdout=_answer(status),
                                returncode=status)
    SmartctlBackend(runner).start_self_test("/dev/sda", "long")
    assert runner.calls == [("smartctl", "--json=c", "-t", "long", "/dev/sda")]


@pytest.mark.parametrize("status", [1, 2, 4, 4 + 64])  # command line, open, a SMART command failed
def test_a_refused_self_test_or_abort_is_a_backend_error_with_smartctls_words(status):
    runner = (ReplayRunner().add(["smartctl", "--json=c", "-t", "short", "/dev/sda"], stdout=_answer(status),
                                 returncode=status)
              .add(["smartctl", "--json=c", "-X", "/dev/sda"], stdout=_answer(status), returncode=status))
    with pytest.raises(BackendError, match="ATA error count 5") as refused:
        SmartctlBackend(runner).start_self_test("/dev/sda", "short")
    assert refused.value.returncode == status
    with pytest.raises(BackendError, match="-X /dev/sda"):
        SmartctlBackend(runner).abort_self_test("/dev/sda")


def test_self_test_state_reads_ata_status():
    runner = ReplayRunner().add(["smartctl", "--json=c", "-c", "-l", "selftest", "/dev/sdb"],
                                stdout=recorded("ata-self-test-running.json"))
    assert SmartctlBackend(runner).self_test_state("/dev/sdb") == SelfTestState(
        running=True, remaining_percent=10, status="in progress, 10% remaining")


# smartctl's nvme_self_test_log layout (nvmeprint.cpp; the same fields as Scrutiny's collector reads), grafted
# onto the recorded NVMe drive: a short test 35 % done, and one finished entry in the log.
NVME_LOG = {"current_self_test_operation": {"value": 1, "string": "Short self-test in progress"},
            "current_self_test_completion_percent": 35,
            "table": [{"self_test_code": {"value": 1, "string": "Short"},
                       "self_test_result": {"value": 0, "string": "Completed without error"}, "power_on_hours": 2400}]}


def test_nvme_self_test_state_and_log():
    data = json.loads(recorded("nvme.json"))
    data["nvme_self_test_log"] = NVME_LOG
    assert parse_self_test_state(json.dumps(data)) == SelfTestState(
        running=True, remaining_percent=65, status="Short self-test in progress")
    report = parse_smartctl(json.dumps(data))
    assert report.self_tests == (SelfTestEntry("Short", "Completed without error", True, 2400, None),)
    idle = {**NVME_LOG, "current_self_test_operation": {"value": 0, "string": "No self-test in progress"}}
    data["nvme_self_test_log"] = idle
    assert parse_self_test_state(json.dumps(data)).running is False
