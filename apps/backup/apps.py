from django.apps import AppConfig


class BackupConfig(AppConfig):
    name = "apps.backup"
    label = "backup"
    verbose_name = "Backup and replication"

    def ready(self):
        from . import services  # noqa: F401 - its job kinds and the snapshot protection it registers
