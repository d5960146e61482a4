"""The base of every app's FilterSet: numbers are whole numbers within the database's 64-bit range, and a
related object is filtered by its id without looking it up, so an id the user may not see answers like a
missing one (no rows) and an id out of range answers 400 naming the filter, never a database error.
Booleans are true or false, a typed filter given empty or a filter given twice is a 400 too: a filter
the API cannot read is refused, never silently ignored."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from .serializers import MAX_ID, MIN_INT

__all__ = ["BooleanFilter", "CalypsoFilterBackend", "CalypsoFilterSet", "DateTimeFilter", "IdFilter", "IntegerFilter"]


@extend_schema_field({"type": "integer", "minimum": MIN_INT, "maximum": MAX_ID})
class IntegerFilter(django_filters.NumberFilter):
    """A whole number the database can compare (64-bit); anything else is a 400 naming the filter."""

    field_class = forms.IntegerField
    min_value, max_value = MIN_INT, MAX_ID

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", self.min_value)
        kwargs.setdefault("max_value", self.max_value)
        super().__init__(*args, **kwargs)

    def get_max_validator(self):
        return None  # the form field's own range


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(IntegerFilter):
    """An object's id (1 to 2**63-1), compared as a column value: no lookup of the object itself."""

    min_value = 1


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (``1``, ``0``; any case); anything else is an error, not "no filter"."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(_("Give true or false."), code="invalid") from None


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time, compared in UTC: an offset no database keeps (``+19:03``) or a time that leaves
    the calendar in UTC is a 400 naming the filter, not a database error."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            raise ValidationError(_("Give a time between the years 1 and 9999."), code="invalid") from None


@extend_schema_field({"type": "string", "format": "date-time"})
class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


_ID_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField, models.ForeignKey, models.OneToOneField)
_INTEGER_FIELDS = (models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
                   models.PositiveBigIntegerField, models.PositiveSmallIntegerField)


class CalypsoFilterSet(django_filters.FilterSet):
    """Filters generated from the model take ids for foreign keys (``?pool=3``), whole numbers for integer
    columns, each range-checked, and true/false for booleans; declared ones use ``IdFilter``,
    ``IntegerFilter`` and ``BooleanFilter`` the same way. A filter given twice (unless it takes several
    values) or given empty (unless it is text) is refused."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        **{field: {"filter_class": IntegerFilter} for field in _INTEGER_FIELDS},
        **{field: {"filter_class": IdFilter} for field in _ID_FIELDS},
        models.BooleanField: {"filter_class": BooleanFilter},
        models.DateTimeField: {"filter_class": DateTimeFilter},
    }
    MULTIPLE = (django_filters.MultipleChoiceFilter, django_filters.BaseCSVFilter)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, declared in self.filters.items():
            if name not in self.data or name in self.form.errors:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if len(values) > 1 and not isinstance(declared, self.MULTIPLE):
                self.form.add_error(name, _("Give one value."))
            elif "" in values and not isinstance(declared, django_filters.CharFilter):
                self.form.add_error(name, _("Give a value, or leave the parameter out."))
        return valid and not self.form.errors


class CalypsoFilterBackend(DjangoFilterBackend):
    """A view's ``filterset_fields`` build on ``CalypsoFilterSet`` too."""

    filterset_base = CalypsoFilterSet
