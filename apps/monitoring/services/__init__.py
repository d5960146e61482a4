"""Monitoring operations: validate -> lock -> act -> refresh the rows. Long ones (a disk check, a self-test)
run as jobs; the operation that calls a service writes its audit event (``apps.monitoring.operations``)."""

from __future__ import annotations

from .disks import (
    CHECK_LOCK,
    SAMPLE_EVERY,
    SELF_TEST_POLL_S,
    SELF_TEST_PROTOCOLS,
    check_disks,
    disk_devices,
    refresh_device,
    run_check,
    run_self_test,
    start_check,
    start_self_test,
)

__all__ = ["CHECK_LOCK", "SAMPLE_EVERY", "SELF_TEST_POLL_S", "SELF_TEST_PROTOCOLS", "check_disks", "disk_devices", "refresh_device",
           "run_check", "run_self_test", "start_check", "start_self_test"]
