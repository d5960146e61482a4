"""Users and API tokens. Tokens are shown once and stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import RestrictedQuerySet

__all__ = ["ApiToken", "User"]

TOKEN_PREFIX = "cal_"  # noqa: S105 - a public prefix, not a secret


class User(AbstractUser):
    """A Calypso operator. Roles are groups (Administrator, Operator, Auditor, Viewer)."""

    secret_fields = ("password",)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def roles(self) -> list[str]:
        return [g.name for g in self.groups.all()]


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text=_("What the token is for, e.g. 'monitoring'."))
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    objects = RestrictedQuerySet.as_manager()
    secret_fields = ("key_hash",)

    class Meta:
        ordering = ("-id",)
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.key_id}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, expires=None) -> tuple[ApiToken, str]:
        """Create a token; returns it and the plaintext key, which is never stored or shown again."""
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_id=key_id, key_hash=cls.hash_secret(secret),
                                   expires=expires)
        return token, f"{TOKEN_PREFIX}{key_id}.{secret}"

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        if not key.startswith(TOKEN_PREFIX) or "." not in key:
            return None
        key_id, _, secret = key[len(TOKEN_PREFIX):].partition(".")
        token = cls.objects.select_related("user").filter(key_id=key_id, revoked=False).first()
        if token is None or not hmac.compare_digest(token.key_hash, cls.hash_secret(secret)):
            return None
        if token.expires and token.expires <= timezone.now():
            return None
        return token

    @property
    def is_valid(self) -> bool:
        return not self.revoked and (self.expires is None or self.expires > timezone.now())
