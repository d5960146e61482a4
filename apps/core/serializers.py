"""Serializer fields shared by every app's operation inputs."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import relations, serializers

from .permissions import restrict

__all__ = ["MAX_ID", "MIN_INT", "RestrictedRelatedField", "iso_datetime", "json_type_errors"]

# The database's 64-bit integer range; object ids are 1 to MAX_ID.
MAX_ID = 2**63 - 1
MIN_INT = -(2**63)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class RestrictedRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id, among those the requesting user may see and ``action`` (change, delete...): a
    create under a parent declares ``action="change"``, so seeing the parent is not enough to add to it.

    An object the user may not see, or may see but not ``action``, answers exactly like a missing one
    ("does not exist", 400 naming the field), so an input never reveals what exists; an id that is not a
    whole number is refused as such, and one outside 1..2**63-1 as missing, before any query.
    """

    default_error_messages = {"does_not_exist": _("Object {pk_value} does not exist or is not yours to use.")}

    def __init__(self, *, action: str = "view", **kwargs) -> None:
        self.action = action
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        if request is None:
            return queryset
        visible = restrict(queryset, request.user, "view")  # what the user cannot see is missing, whatever else
        return visible if self.action == "view" else restrict(visible, request.user, self.action)

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().isascii() and data.strip().isdigit():
            data = int(data)  # a form posts ids as text
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


def _type_error(field: serializers.Field, value) -> str | dict | None:
    """What is wrong with the JSON type of ``value`` for ``field`` (None: nothing; a dict: per item)."""
    if value is None or field.read_only:
        return None  # DRF itself answers for null where it is not allowed
    if _has_nul(value):  # no text column takes one, nor a host command's argument
        return _("Null characters are not allowed.")
    if isinstance(field, (relations.ManyRelatedField, serializers.ListField)):
        if not isinstance(value, list):
            return _("Must be a list.")
        child = field.child_relation if isinstance(field, relations.ManyRelatedField) else field.child
        items = {i: _type_error(child, item) for i, item in enumerate(value)}
        return {i: [e] if isinstance(e, str) else e for i, e in items.items() if e} or None
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return _("Must be an object.")
        items = {key: _type_error(field.child, item) for key, item in value.items()}
        return {k: [e] if isinstance(e, str) else e for k, e in items.items() if e} or None
    if isinstance(field, serializers.Serializer):
        return (json_type_errors(field.fields, value) or None) if isinstance(value, dict) else _("Must be an object.")
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else _("Must be true or false.")
    if isinstance(field, (serializers.IntegerField, relations.PrimaryKeyRelatedField)):
        return None if isinstance(value, int) and not isinstance(value, bool) else _("Must be a whole number.")
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else _("Must be a number.")
    if isinstance(field, serializers.MultipleChoiceField):
        return None  # DRF refuses what is not a list of its choices
    if isinstance(field, serializers.ChoiceField):
        return None if any(type(choice) is type(value) for choice in field.choices) else _("Not one of the choices.")
    if isinstance(field, (serializers.CharField, serializers.DateTimeField, serializers.DateField,
                          relations.SlugRelatedField)):
        return None if isinstance(value, str) else _("Must be a string.")
    return None


def json_type_errors(fields: dict[str, serializers.Field], data) -> dict:
    """A JSON body's values whose type is not the one the schema declares (DRF itself would take ``0``
    for a string, ``"1"`` for an id or ``1`` for true), or that carry a NUL character anywhere (keys of
    free-form objects included): ``{field: [message]}``, nested per item, for a 400 that names each. Only
    for JSON: a form's values are all text and DRF reads them as such."""
    if not isinstance(data, dict):
        return {}  # DRF answers for a body that is not an object
    errors = {}
    for name, field in fields.items():
        if name in data:
            error = _type_error(field, data[name])
            if error:
                errors[name] = [error] if isinstance(error, str) else error
    return errors


def iso_datetime(value: datetime | None, tz: tzinfo) -> str | None:
    """What DRF's DateTimeField answers (ISO 8601 in ``tz``, ``Z`` for UTC), for lean list rows that look
    the current time zone up once per page rather than once per value."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
