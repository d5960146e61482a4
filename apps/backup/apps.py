from django.apps import AppConfig


class BackupConfig(AppConfig):
    name = "apps.backup"
    label = "backup"
    verbose_name = "Backup and replication"

    def ready(self):
        from celery.signals import worker_ready

        from . import services  # noqa: F401 - its job kinds and the snapshot protection it registers
        from .keys import sweep_private_directories

        # Key files a killed worker left (they exist only while a job runs): gone before new jobs start.
        worker_ready.connect(lambda **kwargs: sweep_private_directories(), weak=False,
                             dispatch_uid="calypso.backup.sweep_keys")
