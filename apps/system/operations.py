"""What an operator can do with the host inventory."""

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import services
from .api.serializers import HostInventorySerializer
from .models import HostInventory

__all__ = ["INVENTORY"]

INVENTORY = Operations(
    HostInventory,
    Operation("collect", services.start_inventory, detail=False, job=True, label=_("Collect host inventory"),
              help=_("Read CPU, memory, block devices, filesystems and tool versions from the host.")),
    Operation("latest", services.latest_inventory, detail=False, method="get", output=HostInventorySerializer,
              label=_("Latest inventory")),
)
