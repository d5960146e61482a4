"""Tape backends: physical changers and drives (mtx, mt, lsscsi, sg_logs), mhVTL's configuration files, and a
virtual library on tgt. They know tools and file formats, not the database.

``get_backend(library, runner)`` is the one factory: a physical and an mhVTL library are both driven through
their SCSI devices (mhVTL presents real ones), a tgt library is built, shown and removed with tgtadm; its media
are moved by the initiator that logs in to it, so a move here raises ``Unsupported``."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.core.errors import Unsupported
from apps.core.runner import Runner, get_runner

from .physical import PhysicalLibraryBackend
from .tgt_vtl import TgtLibraryBackend

__all__ = ["PhysicalLibraryBackend", "TgtChangerBackend", "TgtLibraryBackend", "get_backend"]

MOVES = ("inventory", "scan", "load", "load_medium", "unload", "transfer", "tape_status", "rewind", "eject", "erase",
         "tape_alerts")


class TgtChangerBackend(TgtLibraryBackend):
    """A tgt library: create, show, delete. Its media move when the initiator logged in to it asks."""

    def __getattr__(self, name: str) -> Any:
        if name in MOVES:
            def refuse(*args: Any, **kwargs: Any) -> None:
                raise Unsupported("a tgt library's media are moved by the initiator logged in to it over iSCSI, "
                                  "not from this host")
            return refuse
        raise AttributeError(name)


def get_backend(library: Any, runner: Runner | None = None) -> PhysicalLibraryBackend | TgtChangerBackend:
    """The backend of ``library`` (a Library row, or its kind as text)."""
    runner = runner or get_runner()
    kind = getattr(library, "kind", library)
    if kind == "tgt":
        return TgtChangerBackend(runner, control_port=settings.CALYPSO_TGT_CONTROL_PORT)
    return PhysicalLibraryBackend(runner)
