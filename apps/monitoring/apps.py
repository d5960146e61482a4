from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_default_rules(sender, **kwargs) -> None:
    from .services.alerts import install_defaults

    install_defaults()


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # The default alert rules exist from the first start on (and come back by name if deleted by hand).
        post_migrate.connect(_install_default_rules, sender=self, dispatch_uid="monitoring.default_rules")
