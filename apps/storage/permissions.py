"""Object actions beyond CRUD, declared in the models' Meta.permissions."""

__all__ = ["CLONE", "EXPORT", "HOLD", "IMPORT", "MAINTAIN", "ROLLBACK", "SCRUB"]

SCRUB = "storage.scrub_pool"
EXPORT = "storage.export_pool"
IMPORT = "storage.import_pool"
MAINTAIN = "storage.maintain_pool"  # members: offline/online/replace/detach, add vdevs
ROLLBACK = "storage.rollback_snapshot"
HOLD = "storage.hold_snapshot"
CLONE = "storage.clone_snapshot"
