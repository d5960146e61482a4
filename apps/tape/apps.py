from django.apps import AppConfig


class TapeConfig(AppConfig):
    name = "apps.tape"
    label = "tape"
    verbose_name = "Tape libraries"
