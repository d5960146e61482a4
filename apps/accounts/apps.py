from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users and access"

    def ready(self):
        from . import roles, schema, signals  # noqa: F401 - the OpenAPI auth extension, the admin sign-in audit

        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="calypso_sync_roles")
