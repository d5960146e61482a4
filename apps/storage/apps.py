from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "apps.storage"
    label = "storage"
    verbose_name = "Storage"

    def ready(self):
        from . import policies  # noqa: F401 - its job kinds (services' are found by the job registry)
