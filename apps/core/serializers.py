"""Serializer fields shared by every app's operation inputs."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .permissions import restrict

__all__ = ["RestrictedRelatedField", "iso_datetime"]

MAX_ID = 2**63 - 1


class RestrictedRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id, among those the requesting user may ``action`` (view, change...).

    An object the user may not see answers exactly like a missing one ("does not exist", 400), so an
    input never reveals what exists; an id too large for the database is refused the same way.
    """

    default_error_messages = {"does_not_exist": _("Object {pk_value} does not exist or is not yours to use.")}

    def __init__(self, *, action: str = "view", **kwargs) -> None:
        self.action = action
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        return restrict(queryset, getattr(request, "user", None), self.action) if request is not None else queryset

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data <= MAX_ID) or \
                (isinstance(data, str) and data.isdigit() and int(data) > MAX_ID):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


def iso_datetime(value: datetime | None, tz: tzinfo) -> str | None:
    """What DRF's DateTimeField answers (ISO 8601 in ``tz``, ``Z`` for UTC), for lean list rows that look
    the current time zone up once per page rather than once per value."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
