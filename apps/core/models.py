"""Shared model bases: timestamps and a queryset that restricts itself to what a user may see."""

from __future__ import annotations

from django.db import models

from .permissions import restrict

__all__ = ["CalypsoModel", "RestrictedQuerySet"]


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> RestrictedQuerySet:
        """Only the objects ``user`` may ``action`` (view/change/delete/…), by model or object permission."""
        return restrict(self, user, action)


class CalypsoModel(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    # Field names whose values are secrets: masked in audit changes, never serialized.
    secret_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
