"""Every monitoring operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, services
from .models import Disk

__all__ = ["DISK"]


def _can_self_test(disk: Disk) -> bool:
    return disk.smart_supported and not disk.gone and disk.protocol in services.SELF_TEST_PROTOCOLS


DISK = Operations(
    Disk,
    Operation("check", services.start_check, detail=False, job=True, permission="check",
              label=_("Check disks now"), help=_("Re-read every disk's SMART health, temperature and counters.")),
    Operation("self_test", services.start_self_test, input=inputs.SelfTestInput, job=True, permission="self_test",
              bulk=True, when=_can_self_test, label=_("Run self-test"), example={"kind": "short"},
              help=_("The drive tests itself in the background; the job follows it to the end. Cancelling the "
                     "job aborts the test.")),
)
