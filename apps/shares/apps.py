from django.apps import AppConfig


class SharesConfig(AppConfig):
    name = "apps.shares"
    label = "shares"
    verbose_name = "Shares (SMB and NFS)"

    def ready(self):
        from . import services  # noqa: F401 - the dataset users it registers with storage
