"""Backup services: targets and tasks (resources), replicas (replication.py), stream files, their
verification and restores (repository.py). Importing this package registers the job kinds."""

from . import drills, files, replication, repository
from .drills import run_due_drills, start_drill
from .files import browse, start_restore_files
from .replication import replica_of
from .repository import start_restore, start_verify
from .resources import (
    RETRY_AFTER,
    TARGETS,
    TASKS,
    TargetService,
    TaskService,
    base_protections,
    flag_overdue,
    in_window,
    retention_dry_run,
    run_backup,
    run_due_tasks,
    start_backup_run,
)

__all__ = ["RETRY_AFTER", "TARGETS", "TASKS", "TargetService", "TaskService", "base_protections", "browse", "drills",
           "files", "flag_overdue", "in_window", "replica_of", "replication", "repository", "retention_dry_run", "run_backup", "run_due_drills",
           "run_due_tasks", "start_backup_run", "start_drill", "start_restore", "start_restore_files", "start_verify"]
