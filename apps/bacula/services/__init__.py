"""Bacula services: the include files rendered from the resources (config), the resources themselves
(resources) and what goes through the director's console (console)."""

from .config import apply_director, apply_storage, generated
from .console import (
                      browse,
                      job_log,
                      mark_volume,
                      move_volume,
                      purge_volume,
                      refresh_history,
                      refresh_volumes,
                      start_backup,
                      start_label,
                      start_restore,
                      update_slots,
)
from .resources import CLIENTS, FILESETS, JOBS, POOLS, SCHEDULES, STORAGES

__all__ = ["CLIENTS", "FILESETS", "JOBS", "POOLS", "SCHEDULES", "STORAGES", "apply_director", "apply_storage",
           "browse", "generated", "job_log", "mark_volume", "move_volume", "purge_volume", "refresh_history",
           "refresh_volumes", "start_backup", "start_label", "start_restore", "update_slots"]
