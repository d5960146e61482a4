"""Field validators of the Bacula resources: the backend's own checks (what it will refuse to render) raised as
Django validation errors, so a bad value is a 400 naming its field before any file is written."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core.validators import from_backend

from .backends import base

__all__ = ["validate_changer_command", "validate_label_format", "validate_password", "validate_resource_name",
           "validate_schedule_run"]


def validate_resource_name(value: str) -> str:
    return from_backend(base.validate_name, value)


def validate_schedule_run(value: str) -> str:
    """One Run line in Bacula's grammar (the same parse ``bacula-dir -t`` does)."""
    return from_backend(base.validate_schedule_run, value)


def validate_password(value: str) -> str:
    if not isinstance(value, str) or not 8 <= len(value) <= 127 or re.search(r'[\x00-\x1f\x7f"\\]', value):
        raise ValidationError(_("A password of 8 to 127 characters, without quotes, backslashes or control "
                                "characters."), code="invalid")
    return value


def validate_changer_command(value: str) -> str:
    """An absolute program path and arguments of letters, digits and % / . _ = : - (Bacula's %c %o %S %a %d %v)."""
    return from_backend(base.validate_changer_command, value)


def validate_label_format(value: str) -> str:
    return from_backend(base.validate_label_format, value)
