from django.apps import AppConfig


class BaculaConfig(AppConfig):
    name = "apps.bacula"
    label = "bacula"
    verbose_name = "Bacula backup"
