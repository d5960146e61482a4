"""The admin's sign-in form, behind the same guard as the API (apps.accounts.guard)."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core.clients import client_address

from . import guard

__all__ = ["GuardedAdminAuthenticationForm"]


class GuardedAdminAuthenticationForm(AdminAuthenticationForm):
    """Says how long to wait when this account is locked for this address, instead of "wrong password"."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and self.request is not None:
            wait = guard.wait_seconds(username, client_address(self.request))
            if wait:
                raise ValidationError(_("Too many failed sign-ins for this account from your address: try again "
                                        "in %(wait)s s."), code="sign_in_locked", params={"wait": wait})
        return super().clean()
