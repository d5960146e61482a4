"""Tape services: libraries (mhVTL, tgt, physical), their inventory and media moves, labelling and erasing media,
drive status and cleaning. Long operations run as jobs, one at a time per library."""

from __future__ import annotations

from .drives import record_alerts, run_clean, run_drive_status, start_clean, start_drive_status
from .inventory import moved, record_inventory, status_of
from .libraries import LIBRARIES, LibraryService, discover, mhvtl_files, mhvtl_service, preview, spec_of
from .media import MEDIA, POOLS, MediumService, PoolService, label_path, run_erase, run_label, start_erase, start_label
from .moves import (
    run_export,
    run_import,
    run_inventory,
    run_load,
    run_transfer,
    run_unload,
    start_export,
    start_import,
    start_inventory,
    start_load,
    start_transfer,
    start_unload,
)

__all__ = ["LIBRARIES", "MEDIA", "POOLS", "LibraryService", "MediumService", "PoolService", "discover", "label_path",
           "mhvtl_files", "mhvtl_service", "moved", "preview", "record_alerts", "record_inventory", "run_clean", "run_drive_status",
           "run_erase", "run_export", "run_import", "run_inventory", "run_label", "run_load", "run_transfer",
           "run_unload", "spec_of", "start_clean", "start_drive_status", "start_erase", "start_export",
           "start_import", "start_inventory", "start_label", "start_load", "start_transfer", "start_unload",
           "status_of"]
