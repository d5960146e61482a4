from django.contrib.admin.apps import AdminConfig

__all__ = ["CalypsoAdminConfig"]


class CalypsoAdminConfig(AdminConfig):
    default_site = "apps.system.admin_site.CalypsoAdminSite"
