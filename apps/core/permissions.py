"""One permission path for the API, the admin and the WebSocket.

``restrict(qs, user, action)``: a superuser or a holder of the model permission sees everything;
anyone else sees the objects django-guardian grants them. Objects outside the restricted queryset
are answered 404, never 403, so their existence is not disclosed.
"""

from __future__ import annotations

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user
from rest_framework import permissions

__all__ = ["CalypsoObjectPermissions", "perm_name", "restrict"]

METHOD_ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change",
                  "PATCH": "change", "DELETE": "delete"}


def perm_name(model, action: str) -> str:
    """``storage.scrub_pool`` for (Pool, "scrub")."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def restrict(qs: QuerySet, user, action: str = "view") -> QuerySet:
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser:
        return qs
    perm = perm_name(qs.model, action)
    if user.has_perm(perm):
        return qs
    return get_objects_for_user(user, perm, klass=qs, accept_global_perms=False, with_superuser=False)


class CalypsoObjectPermissions(permissions.BasePermission):
    """Authenticated users only; the model permission for the method or the view's ``required_action``,
    or, failing that, an object permission on some object (checked again per object)."""

    def _action(self, request, view) -> str:
        return getattr(view, "required_action", None) or METHOD_ACTIONS.get(request.method, "view")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        model = getattr(getattr(view, "queryset", None), "model", None)
        if model is None or getattr(view, "permission_free", False):
            return True
        action = self._action(request, view)
        if user.has_perm(perm_name(model, action)):
            return True
        # Reads: the restricted queryset decides (unknown or forbidden objects become 404).
        # Actions on one object: object-level grants are checked per object. Anything else: refused.
        return action == "view" or bool(getattr(view, "detail", False))

    def has_object_permission(self, request, view, obj) -> bool:
        user = request.user
        action = self._action(request, view)
        perm = perm_name(type(obj), action)
        return user.has_perm(perm) or user.has_perm(perm, obj)
