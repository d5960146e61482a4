"""Every tape operation, declared once; the API viewsets and the admin pages point at these sets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.operations import Operation, Operations

from . import inputs, services
from .api import serializers
from .choices import LibraryKind
from .models import Drive, Library, MediaPool, Medium, Slot

__all__ = ["DRIVE", "LIBRARY", "MEDIUM", "POOL", "SLOT"]


def _movable(library: Library) -> bool:
    return library.kind != LibraryKind.TGT and bool(library.changer)


def _in_library(medium: Medium) -> bool:
    return medium.library_id is not None and medium.kind == "data"


def _moves(name, service, input_, label, example, help_text):
    return Operation(name, service, input=input_, job=True, permission="load", when=_movable, label=label,
                     example=example, help=help_text)


LIBRARY = Operations(
    Library,
    Operation("create", services.LIBRARIES.create, input=serializers.TapeLibrarySerializer, detail=False,
              example={"name": "vtl1", "kind": "mhvtl", "slots": 20, "ie_slots": 2, "drive_count": 2,
                       "density": "LTO6", "media": ["CAL001L6", "CAL002L6", "CLN001L1"]},
              help=_("A virtual library is built at once (mhVTL: its files, media and a restart; tgt: its target); "
                     "a physical one is found by Discover.")),
    Operation("update", services.LIBRARIES.update, input=serializers.TapeLibrarySerializer, partial=True,
              example={"description": "backup library"}),
    Operation("delete", services.LIBRARIES.delete, destructive=True, confirm=lambda library: library.name,
              help=_("mhVTL: the library leaves device.conf and mhVTL restarts; tgt: its target goes. Media files "
                     "stay.")),
    Operation("discover", services.discover, detail=False, permission="discover", output=inputs.TapeDiscoverOutput,
              label=_("Discover"), example={},
              help=_("Find the changers and tape drives of this host (lsscsi -g) and add their libraries.")),
    Operation("service", services.mhvtl_service, input=inputs.TapeServiceInput, output=inputs.TapeServiceOutput,
              permission="change", when=lambda library: library.kind == LibraryKind.MHVTL, label=_("mhVTL service"),
              example={"action": "restart"},
              help=_("Start, stop or restart mhVTL through its service (systemd's mhvtl.target, or its init script).")),
    Operation("preview", services.preview, input=inputs.TapePreviewInput, output=inputs.TapePreviewOutput, method="get",
              detail=False, permission="view", label=_("Generated configuration"),
              help=_("What the virtual libraries make the host read and run: mhVTL's device.conf and "
                     "library_contents, the mktape and tgtadm commands.")),
    Operation("inventory", services.start_inventory, job=True, permission="inventory", bulk=True, when=_movable,
              label=_("Inventory"), example={},
              help=_("Read the changer's slots and drives (mtx status); new barcodes become media.")),
    _moves("load", services.start_load, inputs.TapeLoadInput, _("Load"), {"slot": 1, "drive": 0},
           _("Move a medium from its slot into a drive.")),
    _moves("unload", services.start_unload, inputs.TapeUnloadInput, _("Unload"), {"drive": 0},
           _("Put the medium in a drive back into a slot (the one it came from by default).")),
    _moves("transfer", services.start_transfer, inputs.TapeTransferInput, _("Transfer"),
           {"source": 1, "destination": 2}, _("Move a medium from one slot to another.")),
    _moves("import", services.start_import, inputs.TapeImportInput, _("Import"), {"slot": 21},
           _("Take the medium put in an import/export slot into a free storage slot.")),
    _moves("export", services.start_export, inputs.TapeExportInput, _("Export"), {"barcode": "CAL001L6"},
           _("Move a medium to a free import/export slot, to take it out.")),
)

POOL = Operations(
    MediaPool,
    Operation("create", services.POOLS.create, input=serializers.TapeMediaPoolSerializer, detail=False,
              example={"name": "weekly", "retention_days": 28}),
    Operation("update", services.POOLS.update, input=serializers.TapeMediaPoolSerializer, partial=True,
              example={"description": "weekly full backups"}),
    Operation("delete", services.POOLS.delete, help=_("Its media stay, in no pool.")),
)

MEDIUM = Operations(
    Medium,
    Operation("create", services.MEDIA.create, input=serializers.TapeMediumSerializer, detail=False,
              example={"barcode": "SHELF01L6", "kind": "data"},
              help=_("A cartridge outside the libraries; those inside come from an inventory.")),
    Operation("update", services.MEDIA.update, input=serializers.TapeMediumUpdateSerializer, partial=True,
              example={"description": "offsite set A"}),
    Operation("delete", services.MEDIA.delete, help=_("Forget a medium that is not in a library.")),
    Operation("label", services.start_label, input=inputs.TapeMediumLabelInput, job=True, permission="label",
              when=_in_library, label=_("Label"), example={"pool": None},
              help=_("Write an ANSI VOL1 label for the barcode at the start of the tape (loaded and put back if "
                     "needed).")),
    Operation("erase", services.start_erase, input=inputs.TapeMediumEraseInput, job=True, permission="erase",
              destructive=True, confirm=lambda medium: medium.barcode, when=_in_library, label=_("Erase"),
              example={"quick": True}, help=_("Erase the tape (mt erase): everything on it is lost. Type its "
                                              "barcode to confirm.")),
)

DRIVE = Operations(
    Drive,
    Operation("status", services.start_drive_status, job=True, permission="check", bulk=True,
              when=lambda drive: bool(drive.device), label=_("Read status"), example={},
              help=_("mt status and the TapeAlert flags; a new warning or critical flag becomes a storage event.")),
    Operation("clean", services.start_clean, input=inputs.TapeDriveCleanInput, job=True, permission="clean",
              when=lambda drive: _movable(drive.library) and drive.medium_id is None, label=_("Clean"),
              example={}, help=_("Load a cleaning cartridge of the library, wait while the drive cleans, put it "
                                 "back.")),
)

SLOT = Operations(Slot)
