"""Users and API tokens, changed only here: the admin and the API call these through their operations."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from apps.core.resources import ResourceService

from .models import ApiToken, User

__all__ = ["USERS", "UserService", "issue_token", "revoke_token"]


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

    def _excluded_from_validation(self, obj: User, changed: set[str]) -> list[str]:
        return ["password"]


USERS = UserService()


def issue_token(*, actor, name: str, expires=None) -> ApiToken:
    """A new API token of the actor; its ``key`` (set on the returned object) is shown once, never stored."""
    token, key = ApiToken.issue(actor, name, expires)
    token.key = key
    return token


def revoke_token(token: ApiToken, *, actor=None) -> None:
    """Revoke a token; it answers 401 from now on (the row stays for the audit trail)."""
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True
