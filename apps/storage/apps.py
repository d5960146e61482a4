from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "apps.storage"
    label = "storage"
    verbose_name = "Storage"

    def ready(self):
        # Job kinds live in services.py (found by the job registry) and policies.py (imported here).
        from . import policies  # noqa: F401
