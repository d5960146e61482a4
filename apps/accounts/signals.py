"""Sign-ins on the admin's login page, audited like the API's (``accounts.user.login``). The API's login view
records its own (with the lock-out reason), so only admin requests are recorded here."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.audit import services as audit
from apps.audit.choices import Outcome

__all__ = ["admin_login", "admin_login_failed"]

LOGIN = "accounts.user.login"


def _admin(request) -> bool:
    return request is not None and request.path.startswith("/admin/")


@receiver(user_logged_in, dispatch_uid="calypso_admin_login")
def admin_login(sender, request, user, **kwargs) -> None:
    if _admin(request):
        audit.record(user, LOGIN, user)


@receiver(user_login_failed, dispatch_uid="calypso_admin_login_failed")
def admin_login_failed(sender, credentials, request=None, **kwargs) -> None:
    if _admin(request):
        audit.record(None, LOGIN, ("accounts.user", "", str(credentials.get("username", ""))),
                     outcome=Outcome.DENIED, message="bad credentials or too many failed sign-ins")
