"""The Calypso admin: branded, with a dashboard of panels that the apps declare as its index."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.accounts.forms import GuardedAdminAuthenticationForm

from .dashboard import panels

__all__ = ["CalypsoAdminSite"]


class CalypsoAdminSite(admin.AdminSite):
    site_header = _("Calypso")
    site_title = _("Calypso")
    index_title = _("Dashboard")
    index_template = "admin/calypso_index.html"
    login_form = GuardedAdminAuthenticationForm

    def index(self, request, extra_context=None):
        return super().index(request, {"panels": panels(request), **(extra_context or {})})
