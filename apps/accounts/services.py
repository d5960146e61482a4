"""Users and API tokens, changed only here: the admin and the API call these through their operations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.core.resources import ResourceService

from .models import ApiToken, User

__all__ = ["USERS", "UserService", "end_sessions", "issue_token", "revoke_token"]


class UserService(ResourceService[User]):
    """A password given is validated and stored hashed (none given: the account cannot log in until one
    is set); roles are the user's groups."""

    model = User
    fields = ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser", "groups",
              "user_permissions", "last_login", "date_joined", "password")

    def prepare(self, obj: User, changed: set[str]) -> None:
        if "password" in changed and obj.password:
            try:
                password_validation.validate_password(obj.password, obj)
            except ValidationError as exc:
                raise ValidationError({"password": exc.messages}) from exc
            obj.set_password(obj.password)
        elif obj.pk is None and not obj.password:
            obj.set_unusable_password()

    def apply(self, obj: User) -> None:
        """A disabled account is shut out for good: its sessions end and its tokens are revoked, so
        enabling it again revives neither (the user signs in and issues new tokens)."""
        if not obj.is_active:
            ApiToken.objects.filter(user=obj, revoked=False).update(revoked=True)
            end_sessions(obj)

    def _excluded_from_validation(self, obj: User, changed: set[str]) -> list[str]:
        return ["password"]


USERS = UserService()


def end_sessions(user: User) -> int:
    """Delete every live session of ``user``; returns how many ended."""
    ended = [s.pk for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
             if s.get_decoded().get("_auth_user_id") == str(user.pk)]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def issue_token(*, actor, name: str, expires=None) -> ApiToken:
    """A new API token of the actor; its ``key`` (set on the returned object) is shown once, never stored.
    Without ``expires`` it lives ``CALYPSO_TOKEN_LIFETIME_DAYS``; no token lives longer than
    ``CALYPSO_TOKEN_MAX_LIFETIME_DAYS``."""
    now = timezone.now()
    longest = now + timedelta(days=settings.CALYPSO_TOKEN_MAX_LIFETIME_DAYS)
    if expires is None:
        expires = min(now + timedelta(days=settings.CALYPSO_TOKEN_LIFETIME_DAYS), longest)
    elif expires <= now:
        raise ValidationError({"expires": "An expiry time must be in the future."})
    elif expires > longest:
        raise ValidationError({"expires": f"A token lives at most {settings.CALYPSO_TOKEN_MAX_LIFETIME_DAYS} days: "
                                          f"pick a time before {longest:%Y-%m-%d %H:%M} UTC."})
    token, key = ApiToken.issue(actor, name, expires)
    token.key = key
    return token


def revoke_token(token: ApiToken, *, actor=None) -> None:
    """Revoke a token; it answers 401 from now on (the row stays for the audit trail)."""
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True
