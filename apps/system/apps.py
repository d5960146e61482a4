from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class SystemConfig(AppConfig):
    name = "apps.system"
    label = "system"
    verbose_name = "System"

    def ready(self):
        autodiscover_modules("panels")  # each app's panels.py registers its dashboard panels
