from django.apps import AppConfig


class IscsiConfig(AppConfig):
    name = "apps.iscsi"
    label = "iscsi"
    verbose_name = "iSCSI targets"

    def ready(self):
        from . import services  # noqa: F401 - registers the dataset-users provider (LUNs on datasets)
