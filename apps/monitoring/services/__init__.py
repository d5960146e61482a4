"""Monitoring operations: validate -> lock -> act -> refresh the rows. Long ones (a disk check, a self-test)
run as jobs; the operation that calls a service writes its audit event (``apps.monitoring.operations``)."""

from __future__ import annotations

from .alerts import RULES, acknowledge, evaluate, install_defaults, resolve, silence, silence_rule
from .channels import CHANNELS, ChannelService, channel_errors
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
from .metrics import chart, chart_query, collect, forecast, forecasts, prune, record, roll_up
from .notify import deliver, dispatch, requeue_stalled, send_test

__all__ = [
    "CHANNELS",
    "CHECK_LOCK",
    "RULES",
    "SAMPLE_EVERY",
    "SELF_TEST_POLL_S",
    "SELF_TEST_PROTOCOLS",
    "ChannelService",
    "acknowledge",
    "channel_errors",
    "chart",
    "chart_query",
    "check_disks",
    "collect",
    "deliver",
    "disk_devices",
    "dispatch",
    "evaluate",
    "forecast",
    "forecasts",
    "install_defaults",
    "prune",
    "record",
    "refresh_device",
    "requeue_stalled",
    "resolve",
    "roll_up",
    "run_check",
    "run_self_test",
    "send_test",
    "silence",
    "silence_rule",
    "start_check",
    "start_self_test",
]
