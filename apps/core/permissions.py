"""One permission path for the API, the admin and the WebSocket.

``restrict(qs, user, action)``: a superuser or a holder of the model permission sees everything;
anyone else sees the objects django-guardian grants them. Objects outside the restricted queryset
are answered 404, never 403, so their existence is not disclosed. ``allowed(user, perm, obj)`` is
the one test for an action on an object: the model permission, or a grant on that object.
"""

from __future__ import annotations

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user
from rest_framework import permissions

__all__ = ["AUTHENTICATED", "CalypsoObjectPermissions", "allowed", "perm_name", "restrict"]

# The permission of a self-service operation: any signed-in user, on the objects the view shows them
# (their own API tokens).
AUTHENTICATED = "authenticated"
METHOD_ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change",
                  "PATCH": "change", "DELETE": "delete"}


def perm_name(model, action: str) -> str:
    """``storage.scrub_pool`` for (Pool, "scrub")."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def _active(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def allowed(user, perm: str | None, obj=None) -> bool:
    """``user`` holds ``perm`` for the model, or (with ``obj``) as a grant on that object; a self-service
    permission (None or ``AUTHENTICATED``) only needs an active user."""
    if perm in (None, AUTHENTICATED):
        return _active(user)
    return _active(user) and (user.has_perm(perm) or (obj is not None and user.has_perm(perm, obj)))


def restrict(qs: QuerySet, user, action: str = "view") -> QuerySet:
    if not _active(user):
        return qs.none()
    if user.is_superuser:
        return qs
    perm = perm_name(qs.model, action)
    if user.has_perm(perm):
        return qs
    return get_objects_for_user(user, perm, klass=qs, accept_global_perms=False, with_superuser=False)


class CalypsoObjectPermissions(permissions.BasePermission):
    """Authenticated users only. The permission is the view's ``required_permission()`` (an operation's),
    else the model permission for the method. Without the model permission a read or an action on one
    object goes on: the restricted queryset answers 404 for what the user cannot see, and the object
    permission is checked again on the object (403)."""

    def _perm(self, request, view, model) -> str:
        required = getattr(view, "required_permission", None)
        perm = required() if callable(required) else None
        return perm or perm_name(model, METHOD_ACTIONS.get(request.method, "view"))

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not _active(user):
            return False
        model = getattr(getattr(view, "queryset", None), "model", None)
        if model is None or getattr(view, "permission_free", False):
            return True
        perm = self._perm(request, view, model)
        if perm == AUTHENTICATED:
            return True
        return user.has_perm(perm) or perm.split(".")[1].startswith("view_") or bool(getattr(view, "detail", False))

    def has_object_permission(self, request, view, obj) -> bool:
        return allowed(request.user, self._perm(request, view, type(obj)), obj)
